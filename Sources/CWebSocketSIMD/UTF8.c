// Validation of complete UTF-8 spans, after Keiser and Lemire, "Validating UTF-8 In Less Than One
// Instruction Per Byte" (Software: Practice and Experience, 2021), the "lookup" algorithm.
//
// Every byte is checked together with the one before it (prev1): three 16-entry tables, indexed by the high
// and low nibble of prev1 and the high nibble of the byte, each give the set of errors (one bit per kind,
// below) that the pair could be part of; the AND of the three is the set of errors the pair actually is.
// That decides everything but the third and fourth bytes of 3- and 4-byte sequences, which the pair check
// flags as "two continuations in a row": they are allowed exactly where the byte two back is a 3/4-byte lead
// (prev2 >= 0xE0) or the byte three back a 4-byte lead (prev3 >= 0xF0), which saturating subtractions turn
// into the high bit that cancels the flag (XOR). A span that ends inside a sequence is caught by comparing
// its last three bytes against the largest bytes allowed there.
//
// Blocks carry their last bytes to the next block (prev1..prev3 of its first bytes); an all-ASCII block is
// skipped after checking that the block before it did not end inside a sequence. The span starts on a
// character boundary (the bytes before it count as ASCII). A partial last block is the span's last full
// block width again, overlapping bytes already checked (harmless: they are checked again with the same bytes
// before them); in spans shorter than two blocks it is the rest padded with zeros, which are ASCII and so
// make a cut-off sequence an error.

#include "CWebSocketSIMD.h"

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#define WSG_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

// MARK: - The error bits and tables

// An error kind is a bit; the tables below list, per nibble, the kinds that nibble is consistent with.
enum {
    TOO_SHORT = 1 << 0,      // a lead byte not followed by a continuation byte: 11______ 0_______ or 11______ 11______
    TOO_LONG = 1 << 1,       // a continuation byte after ASCII: 0_______ 10______
    OVERLONG_3 = 1 << 2,     // 11100000 100_____ (a 2-byte character in three bytes)
    TOO_LARGE = 1 << 3,      // 11110100 1001____, 11110100 101_____, 11110101+ 1001____ / 101_____ (> U+10FFFF)
    SURROGATE = 1 << 4,      // 11101101 101_____ (U+D800–U+DFFF)
    OVERLONG_2 = 1 << 5,     // 1100000_ 10______ (C0, C1)
    TOO_LARGE_1000 = 1 << 6, // 11110101+ 1000____ (> U+10FFFF; the 1001+ cases are TOO_LARGE)
    OVERLONG_4 = 1 << 6,     // 11110000 1000____ (shares the bit: it needs low nibble 0, TOO_LARGE_1000 5 and up)
    TWO_CONTINUATIONS = 1 << 7, // 10______ 10______: an error unless it is the 3rd/4th byte of a sequence
    CARRY = TOO_SHORT | TOO_LONG | TWO_CONTINUATIONS, // the kinds that do not depend on prev1's low nibble
};

// Indexed by prev1 >> 4.
static const uint8_t prev1_high_nibble[16] = {
    TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, /* 0___: ASCII */
    TWO_CONTINUATIONS, TWO_CONTINUATIONS, TWO_CONTINUATIONS, TWO_CONTINUATIONS,     /* 10__: continuation */
    TOO_SHORT | OVERLONG_2,                                                         /* 1100 */
    TOO_SHORT,                                                                      /* 1101 */
    TOO_SHORT | OVERLONG_3 | SURROGATE,                                             /* 1110 */
    TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4                             /* 1111 */
};

// Indexed by prev1 & 0x0F.
static const uint8_t prev1_low_nibble[16] = {
    CARRY | OVERLONG_2 | OVERLONG_3 | OVERLONG_4,   /* 0: C0, E0, F0 */
    CARRY | OVERLONG_2,                             /* 1: C1 */
    CARRY,                                          /* 2 */
    CARRY,                                          /* 3 */
    CARRY | TOO_LARGE,                              /* 4: F4 */
    CARRY | TOO_LARGE | TOO_LARGE_1000,             /* 5: F5 */
    CARRY | TOO_LARGE | TOO_LARGE_1000,             /* 6: F6 */
    CARRY | TOO_LARGE | TOO_LARGE_1000,             /* 7: F7 */
    CARRY | TOO_LARGE | TOO_LARGE_1000,             /* 8: F8 */
    CARRY | TOO_LARGE | TOO_LARGE_1000,             /* 9: F9 */
    CARRY | TOO_LARGE | TOO_LARGE_1000,             /* A: FA */
    CARRY | TOO_LARGE | TOO_LARGE_1000,             /* B: FB */
    CARRY | TOO_LARGE | TOO_LARGE_1000,             /* C: FC */
    CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE, /* D: ED, FD */
    CARRY | TOO_LARGE | TOO_LARGE_1000,             /* E: FE */
    CARRY | TOO_LARGE | TOO_LARGE_1000,             /* F: FF */
};

// Indexed by byte >> 4.
static const uint8_t byte_high_nibble[16] = {
    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, /* 0___ */
    TOO_LONG | OVERLONG_2 | TWO_CONTINUATIONS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4,   /* 1000 */
    TOO_LONG | OVERLONG_2 | TWO_CONTINUATIONS | OVERLONG_3 | TOO_LARGE,                     /* 1001 */
    TOO_LONG | OVERLONG_2 | TWO_CONTINUATIONS | SURROGATE | TOO_LARGE,                      /* 1010 */
    TOO_LONG | OVERLONG_2 | TWO_CONTINUATIONS | SURROGATE | TOO_LARGE,                      /* 1011 */
    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT                                              /* 11__ */
};

// MARK: - Portable

static bool valid_scalar(const void *bytes, size_t count) {
    const uint8_t *s = (const uint8_t *)bytes;
    size_t i = 0;
    while (i < count) {
        if (i + 8 <= count) {
            uint64_t word;
            memcpy(&word, s + i, 8);
            if ((word & UINT64_C(0x8080808080808080)) == 0) {
                i += 8;
                continue;
            }
        }
        uint8_t lead = s[i];
        if (lead < 0x80) {
            i += 1;
            continue;
        }
        // The second byte's range depends on the lead (RFC 3629 §4); later bytes are any continuation.
        uint8_t low = 0x80, high = 0xBF;
        size_t length;
        if (lead < 0xC2) {
            return false; // a continuation byte, or the overlong C0/C1
        } else if (lead < 0xE0) {
            length = 2;
        } else if (lead < 0xF0) {
            length = 3;
            if (lead == 0xE0) low = 0xA0;
            if (lead == 0xED) high = 0x9F;
        } else if (lead < 0xF5) {
            length = 4;
            if (lead == 0xF0) low = 0x90;
            if (lead == 0xF4) high = 0x8F;
        } else {
            return false;
        }
        if (count - i < length) return false;
        if (s[i + 1] < low || s[i + 1] > high) return false;
        for (size_t k = 2; k < length; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
        }
        i += length;
    }
    return true;
}

#if WSG_X86

// Inlined even in debug builds, where the tests run these kernels a few million times.
#define WSG_INLINE __attribute__((always_inline))

// MARK: - SSSE3 (16 bytes per step)

#define WSG_SSSE3 __attribute__((target("ssse3")))

#define SSE_TABLE(table) _mm_loadu_si128((const __m128i *)(table))

/// The error bits of `input`, given the 16 bytes before it.
WSG_SSSE3 WSG_INLINE static inline __m128i sse_block_errors(__m128i input, __m128i previous) {
    const __m128i nibble = _mm_set1_epi8(0x0F);
    __m128i prev1 = _mm_alignr_epi8(input, previous, 15);
    __m128i prev2 = _mm_alignr_epi8(input, previous, 14);
    __m128i prev3 = _mm_alignr_epi8(input, previous, 13);
    __m128i a = _mm_shuffle_epi8(SSE_TABLE(prev1_high_nibble), _mm_and_si128(_mm_srli_epi16(prev1, 4), nibble));
    __m128i b = _mm_shuffle_epi8(SSE_TABLE(prev1_low_nibble), _mm_and_si128(prev1, nibble));
    __m128i c = _mm_shuffle_epi8(SSE_TABLE(byte_high_nibble), _mm_and_si128(_mm_srli_epi16(input, 4), nibble));
    __m128i pair = _mm_and_si128(_mm_and_si128(a, b), c);
    // High bit set where prev2 >= 0xE0 or prev3 >= 0xF0: this byte must be a 3rd/4th-byte continuation.
    __m128i third = _mm_subs_epu8(prev2, _mm_set1_epi8((char)(0xE0 - 0x80)));
    __m128i fourth = _mm_subs_epu8(prev3, _mm_set1_epi8((char)(0xF0 - 0x80)));
    __m128i must_continue = _mm_and_si128(_mm_or_si128(third, fourth), _mm_set1_epi8((char)0x80));
    return _mm_xor_si128(must_continue, pair);
}

/// Non-zero where the block ends inside a sequence: a lead byte in the last byte, a 3/4-byte lead in the
/// second to last, a 4-byte lead in the third to last.
WSG_SSSE3 WSG_INLINE static inline __m128i sse_incomplete(__m128i input) {
    const __m128i largest = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                          (char)0xEF, (char)0xDF, (char)0xBF);
    return _mm_subs_epu8(input, largest);
}

WSG_SSSE3 static bool valid_ssse3(const void *bytes, size_t count) {
    const uint8_t *s = (const uint8_t *)bytes;
    __m128i previous = _mm_setzero_si128(), incomplete = _mm_setzero_si128(), error = _mm_setzero_si128();
    size_t i = 0;
    for (; i + 32 <= count; i += 32) {
        __m128i x = _mm_loadu_si128((const __m128i *)(s + i));
        __m128i y = _mm_loadu_si128((const __m128i *)(s + i + 16));
        if (_mm_movemask_epi8(_mm_or_si128(x, y)) == 0) {
            error = _mm_or_si128(error, incomplete);
            incomplete = _mm_setzero_si128();
        } else {
            error = _mm_or_si128(error, sse_block_errors(x, previous));
            error = _mm_or_si128(error, sse_block_errors(y, x));
            incomplete = sse_incomplete(y);
        }
        previous = y;
    }
    if (i + 16 <= count) {
        __m128i x = _mm_loadu_si128((const __m128i *)(s + i));
        error = _mm_or_si128(error, sse_block_errors(x, previous));
        incomplete = sse_incomplete(x);
        previous = x;
        i += 16;
    }
    if (i < count) {
        __m128i x;
        if (count >= 32) {
            // Check the last 16 bytes again, overlapping bytes already checked, with the 16 before them.
            previous = _mm_loadu_si128((const __m128i *)(s + count - 32));
            x = _mm_loadu_si128((const __m128i *)(s + count - 16));
        } else {
            uint8_t padded[16] = {0};
            memcpy(padded, s + i, count - i);
            x = _mm_loadu_si128((const __m128i *)padded);
        }
        error = _mm_or_si128(error, sse_block_errors(x, previous));
        incomplete = sse_incomplete(x);
    }
    error = _mm_or_si128(error, incomplete);
    return _mm_movemask_epi8(_mm_cmpeq_epi8(error, _mm_setzero_si128())) == 0xFFFF;
}

// MARK: - AVX2 (32 bytes per step)

#define WSG_AVX2 __attribute__((target("avx2")))

#define AVX_TABLE(table) _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(table)))

/// The error bits of `input`, given the 32 bytes before it.
WSG_AVX2 WSG_INLINE static inline __m256i avx_block_errors(__m256i input, __m256i previous) {
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    // alignr shifts within 128-bit lanes: pair each lane with the 16 bytes before it.
    __m256i before = _mm256_permute2x128_si256(previous, input, 0x21);
    __m256i prev1 = _mm256_alignr_epi8(input, before, 15);
    __m256i prev2 = _mm256_alignr_epi8(input, before, 14);
    __m256i prev3 = _mm256_alignr_epi8(input, before, 13);
    __m256i a = _mm256_shuffle_epi8(AVX_TABLE(prev1_high_nibble), _mm256_and_si256(_mm256_srli_epi16(prev1, 4), nibble));
    __m256i b = _mm256_shuffle_epi8(AVX_TABLE(prev1_low_nibble), _mm256_and_si256(prev1, nibble));
    __m256i c = _mm256_shuffle_epi8(AVX_TABLE(byte_high_nibble), _mm256_and_si256(_mm256_srli_epi16(input, 4), nibble));
    __m256i pair = _mm256_and_si256(_mm256_and_si256(a, b), c);
    __m256i third = _mm256_subs_epu8(prev2, _mm256_set1_epi8((char)(0xE0 - 0x80)));
    __m256i fourth = _mm256_subs_epu8(prev3, _mm256_set1_epi8((char)(0xF0 - 0x80)));
    __m256i must_continue = _mm256_and_si256(_mm256_or_si256(third, fourth), _mm256_set1_epi8((char)0x80));
    return _mm256_xor_si256(must_continue, pair);
}

WSG_AVX2 WSG_INLINE static inline __m256i avx_incomplete(__m256i input) {
    const __m256i largest = _mm256_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                             -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                             (char)0xEF, (char)0xDF, (char)0xBF);
    return _mm256_subs_epu8(input, largest);
}

WSG_AVX2 static bool valid_avx2(const void *bytes, size_t count) {
    const uint8_t *s = (const uint8_t *)bytes;
    __m256i previous = _mm256_setzero_si256(), incomplete = _mm256_setzero_si256(), error = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 64 <= count; i += 64) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(s + i));
        __m256i y = _mm256_loadu_si256((const __m256i *)(s + i + 32));
        if (_mm256_movemask_epi8(_mm256_or_si256(x, y)) == 0) {
            error = _mm256_or_si256(error, incomplete);
            incomplete = _mm256_setzero_si256();
        } else {
            error = _mm256_or_si256(error, avx_block_errors(x, previous));
            error = _mm256_or_si256(error, avx_block_errors(y, x));
            incomplete = avx_incomplete(y);
        }
        previous = y;
    }
    if (i + 32 <= count) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(s + i));
        error = _mm256_or_si256(error, avx_block_errors(x, previous));
        incomplete = avx_incomplete(x);
        previous = x;
        i += 32;
    }
    if (i < count) {
        __m256i x;
        if (count >= 64) {
            // Check the last 32 bytes again, overlapping bytes already checked, with the 32 before them.
            previous = _mm256_loadu_si256((const __m256i *)(s + count - 64));
            x = _mm256_loadu_si256((const __m256i *)(s + count - 32));
        } else {
            uint8_t padded[32] = {0};
            memcpy(padded, s + i, count - i);
            x = _mm256_loadu_si256((const __m256i *)padded);
        }
        error = _mm256_or_si256(error, avx_block_errors(x, previous));
        incomplete = avx_incomplete(x);
    }
    error = _mm256_or_si256(error, incomplete);
    return _mm256_testz_si256(error, error);
}

// MARK: - CPU features

/// Bit 0: SSSE3, bit 1: AVX2. Reads CPUID (slow: a VM may trap it), so callers cache the answer.
static unsigned read_cpu_features(void) {
    unsigned eax, ebx, ecx, edx, features = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    if (ecx & bit_SSSE3) features |= 1;
    // AVX2 needs the CPU's support and the OS saving the YMM registers (OSXSAVE, then XCR0 bits 1 and 2).
    if ((ecx & bit_OSXSAVE) == 0 || (ecx & bit_AVX) == 0) return features;
    unsigned xcr0_low, xcr0_high;
    __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    if ((xcr0_low & 0x6) != 0x6) return features;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return features;
    if (ebx & bit_AVX2) features |= 2;
    return features;
}

/// `read_cpu_features()`, read once. 0 means "not read yet" (the answer is stored with bit 31 set).
static unsigned cpu_features(void) {
    static unsigned cached = 0;
    unsigned features = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (features == 0) {
        features = read_cpu_features() | 0x80000000u;
        __atomic_store_n(&cached, features, __ATOMIC_RELAXED);
    }
    return features;
}

#endif // WSG_X86

// MARK: - Dispatch

bool wsg_utf8_implementation_available(wsg_utf8_implementation implementation) {
    switch (implementation) {
    case WSG_UTF8_SCALAR:
        return true;
#if WSG_X86
    case WSG_UTF8_SSSE3:
        return (cpu_features() & 1) != 0;
    case WSG_UTF8_AVX2:
        return (cpu_features() & 2) != 0;
#endif
    default:
        return false;
    }
}

typedef bool (*validator_function)(const void *, size_t);

static validator_function function_for(wsg_utf8_implementation implementation) {
    switch (implementation) {
#if WSG_X86
    case WSG_UTF8_AVX2:
        return valid_avx2;
    case WSG_UTF8_SSSE3:
        return valid_ssse3;
#endif
    default:
        return valid_scalar;
    }
}

wsg_utf8_implementation wsg_utf8_selected_implementation(void) {
    for (int i = WSG_UTF8_IMPLEMENTATION_COUNT - 1; i > 0; i--) {
        if (wsg_utf8_implementation_available((wsg_utf8_implementation)i)) return (wsg_utf8_implementation)i;
    }
    return WSG_UTF8_SCALAR;
}

static bool resolve_and_validate(const void *bytes, size_t count);

// Starts as the resolver, which replaces itself with the chosen implementation. Threads racing on the first
// call all store the same value.
static validator_function selected = resolve_and_validate;

static bool resolve_and_validate(const void *bytes, size_t count) {
    validator_function chosen = function_for(wsg_utf8_selected_implementation());
    __atomic_store_n(&selected, chosen, __ATOMIC_RELAXED);
    return chosen(bytes, count);
}

bool wsg_utf8_valid(const void *bytes, size_t count) {
    return __atomic_load_n(&selected, __ATOMIC_RELAXED)(bytes, count);
}

bool wsg_utf8_valid_using(wsg_utf8_implementation implementation, const void *bytes, size_t count) {
    if (!wsg_utf8_implementation_available(implementation)) implementation = WSG_UTF8_SCALAR;
    return function_for(implementation)(bytes, count);
}
