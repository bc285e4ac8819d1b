#ifndef WSGATE_C_WEBSOCKET_SIMD_H
#define WSGATE_C_WEBSOCKET_SIMD_H

// SIMD kernels of the WebSocket engine, in C because Swift's SIMD types have no variable byte shuffle.

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Whether the `count` bytes at `bytes` are complete, valid UTF-8 (RFC 3629: no overlong forms, no
/// surrogates, nothing above U+10FFFF, no sequence cut off at either end). Uses the fastest implementation
/// this CPU supports (chosen on the first call).
bool wsg_utf8_valid(const void *bytes, size_t count);

/// The implementations, fastest last.
typedef enum {
    WSG_UTF8_SCALAR = 0, ///< portable C, eight ASCII bytes at a time
    WSG_UTF8_SSSE3 = 1,  ///< x86-64 with SSSE3, 16 bytes per step
    WSG_UTF8_AVX2 = 2,   ///< x86-64 with AVX2, 32 bytes per step
    WSG_UTF8_IMPLEMENTATION_COUNT = 3
} wsg_utf8_implementation;

/// Whether this CPU (and build) can run `implementation`.
bool wsg_utf8_implementation_available(wsg_utf8_implementation implementation);

/// The implementation `wsg_utf8_valid` uses.
wsg_utf8_implementation wsg_utf8_selected_implementation(void);

/// `wsg_utf8_valid` with a chosen implementation (for tests and benchmarks); the scalar one if
/// `implementation` is not available.
bool wsg_utf8_valid_using(wsg_utf8_implementation implementation, const void *bytes, size_t count);

#ifdef __cplusplus
}
#endif

#endif
