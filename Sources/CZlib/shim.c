#include "CZlib.h"
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

/// Allocations from this size up are mapped; smaller ones (zlib makes none on its streams' paths) use malloc.
#define CZLIB_MAP_THRESHOLD 4096
/// Room before the block for its mapped length (and the alignment zlib may expect of it).
#define CZLIB_HEADER 16

voidpf CZlib_alloc(voidpf opaque, uInt items, uInt size) {
    (void)opaque;
    size_t bytes = (size_t)items * (size_t)size;
    if (size != 0 && bytes / size != items) return Z_NULL;
    size_t total = bytes + CZLIB_HEADER;
    if (total < CZLIB_MAP_THRESHOLD) {
        unsigned char *block = malloc(total);
        if (block == NULL) return Z_NULL;
        *(size_t *)block = 0; // 0: from malloc
        return block + CZLIB_HEADER;
    }
    void *block = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (block == MAP_FAILED) return Z_NULL;
    *(size_t *)block = total;
    return (unsigned char *)block + CZLIB_HEADER;
}

void CZlib_free(voidpf opaque, voidpf address) {
    (void)opaque;
    if (address == Z_NULL) return;
    unsigned char *block = (unsigned char *)address - CZLIB_HEADER;
    size_t total = *(size_t *)block;
    if (total == 0) {
        free(block);
    } else {
        munmap(block, total);
    }
}
