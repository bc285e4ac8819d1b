#ifndef CZLIB_H
#define CZLIB_H

/// The system zlib, for permessage-deflate (RFC 7692). zlib's init functions are macros, which Swift cannot
/// call; these wrappers make them functions. Raw deflate streams (negative window bits) are what
/// permessage-deflate carries: no zlib header, no checksum.
#include <zlib.h>

static inline int CZlib_deflateInitRaw(z_streamp strm, int level, int windowBits, int memLevel, int strategy) {
    return deflateInit2(strm, level, Z_DEFLATED, -windowBits, memLevel, strategy);
}

static inline int CZlib_inflateInitRaw(z_streamp strm, int windowBits) {
    return inflateInit2(strm, -windowBits);
}

#endif
