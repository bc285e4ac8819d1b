#ifndef CZLIB_H
#define CZLIB_H

/// The system zlib, for permessage-deflate (RFC 7692). zlib's init functions are macros, which Swift cannot
/// call; these wrappers make them functions. Raw deflate streams (negative window bits) are what
/// permessage-deflate carries: no zlib header, no checksum.
#include <zlib.h>

/// zlib's allocator for the gateway's streams: its large buffers (windows, hash tables, the stream states) are
/// mapped pages of their own, so a stream that is ended gives its memory back to the system at once. With malloc,
/// the buffers of thousands of connections that rest at about the same time stay in the heap as free chunks —
/// interleaved with live allocations, which malloc cannot return — and the process's memory never goes down.
voidpf CZlib_alloc(voidpf opaque, uInt items, uInt size);
void CZlib_free(voidpf opaque, voidpf address);

static inline int CZlib_deflateInitRaw(z_streamp strm, int level, int windowBits, int memLevel, int strategy) {
    strm->zalloc = CZlib_alloc;
    strm->zfree = CZlib_free;
    return deflateInit2(strm, level, Z_DEFLATED, -windowBits, memLevel, strategy);
}

static inline int CZlib_inflateInitRaw(z_streamp strm, int windowBits) {
    strm->zalloc = CZlib_alloc;
    strm->zfree = CZlib_free;
    return inflateInit2(strm, -windowBits);
}

#endif
