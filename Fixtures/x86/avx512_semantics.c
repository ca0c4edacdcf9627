// Differential oracle for AVX512Tests: runs the AVX-512 forms glibc 2.36's EVEX string
// functions use on pseudo-random inputs and prints inputs and results, one case a line:
// NAME PARAM A B C RESULT (vectors as hex bytes, element 0 first; masks as 16 hex digits).
// Built with -mavx512f -mavx512bw -mavx512vl; run only on a CPU that has them.
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>

static uint64_t state = 0x9E3779B97F4A7C15ull;
static uint8_t next(void) { state = state * 6364136223846793005ull + 1442695040888963407ull; return (uint8_t)(state >> 56); }
static void fill(uint8_t *v, const uint8_t *like) {
    for (int i = 0; i < 64; i++) v[i] = (like && next() % 3 == 0) ? like[i] : next();
}
static uint64_t mask(void) { uint64_t m = 0; for (int i = 0; i < 8; i++) m = m << 8 | next(); return m; }
static void hex(const uint8_t *v) { printf(" "); for (int i = 0; i < 64; i++) printf("%02x", v[i]); }
static void line(const char *name, unsigned param, const uint8_t *a, const uint8_t *b, const uint8_t *c, uint64_t k, const uint8_t *r, uint64_t rm) {
    printf("%s %u", name, param); hex(a); hex(b); hex(c); printf(" %016llx", (unsigned long long)k);
    if (r) hex(r); else printf(" %016llx", (unsigned long long)rm);
    printf("\n");
}

#define CMP(P) \
    line("cmpub", P, a, b, c, k, 0, _mm512_mask_cmp_epu8_mask(k, va, vb, P)); \
    line("cmpb", P, a, b, c, k, 0, _mm512_mask_cmp_epi8_mask(k, va, vb, P)); \
    line("cmpud", P, a, b, c, k, 0, _mm512_mask_cmp_epu32_mask((__mmask16)k, va, vb, P)); \
    line("cmpd", P, a, b, c, k, 0, _mm512_mask_cmp_epi32_mask((__mmask16)k, va, vb, P));
#define TERN(I) _mm512_storeu_si512(r, _mm512_ternarylogic_epi32(va, vb, vc, I)); line("ternlogd", I, a, b, c, k, r, 0);

int main(void) {
    uint8_t a[64], b[64], c[64], r[64];
    for (int round = 0; round < 40; round++) {
        fill(a, 0); fill(b, a); fill(c, 0);
        uint64_t k = round % 4 == 0 ? ~0ull : mask();
        __m512i va = _mm512_loadu_si512(a), vb = _mm512_loadu_si512(b), vc = _mm512_loadu_si512(c);
        CMP(0) CMP(1) CMP(2) CMP(3) CMP(4) CMP(5) CMP(6) CMP(7)
        line("testmb", 0, a, b, c, k, 0, _mm512_mask_test_epi8_mask(k, va, vb));
        line("testnmb", 0, a, b, c, k, 0, _mm512_mask_testn_epi8_mask(k, va, vb));
        line("testmd", 0, a, b, c, k, 0, _mm512_mask_test_epi32_mask((__mmask16)k, va, vb));
        line("testnmd", 0, a, b, c, k, 0, _mm512_mask_testn_epi32_mask((__mmask16)k, va, vb));
        _mm512_storeu_si512(r, _mm512_maskz_min_epu8(k, va, vb)); line("minubz", 0, a, b, c, k, r, 0);
        _mm512_storeu_si512(r, _mm512_mask_min_epu32(vc, (__mmask16)k, va, vb)); line("minudm", 0, a, b, c, k, r, 0);
        TERN(0x96) TERN(0xfe) TERN(0x01) TERN(0xde) TERN(0xca)
        uint32_t g; __builtin_memcpy(&g, a, 4);
        _mm512_storeu_si512(r, _mm512_maskz_set1_epi8(k, (char)g)); line("bcastbz", 0, a, b, c, k, r, 0);
        _mm512_storeu_si512(r, _mm512_mask_set1_epi32(vc, (__mmask16)k, (int)g)); line("bcastdm", 0, a, b, c, k, r, 0);
        uint64_t x, y; __builtin_memcpy(&x, a, 8); __builtin_memcpy(&y, b, 8);
        if (round % 5 == 1) y = ~x; if (round % 5 == 2) y = 0, x = 0; if (round % 5 == 3) y = x;
        line("kortestq", (unsigned)(_kortestz_mask64_u8(x, y) | _kortestc_mask64_u8(x, y) << 1), a, b, c, x, 0, y);
        line("kortestd", (unsigned)(_kortestz_mask32_u8((__mmask32)x, (__mmask32)y) | _kortestc_mask32_u8((__mmask32)x, (__mmask32)y) << 1), a, b, c, x, 0, y);
        line("ktestd", (unsigned)(_ktestz_mask32_u8((__mmask32)x, (__mmask32)y) | _ktestc_mask32_u8((__mmask32)x, (__mmask32)y) << 1), a, b, c, x, 0, y);
        line("kunpckbw", (unsigned)_mm512_kunpackb((__mmask16)x, (__mmask16)y), a, b, c, x, 0, y);
        printf("kunpckdq %016llx %016llx %016llx\n", (unsigned long long)x, (unsigned long long)y, (unsigned long long)_mm512_kunpackd(x, y));
    }
    return 0;
}
