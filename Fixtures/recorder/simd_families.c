// The MMX and AVX2 instruction families of issue 9 through their intrinsics: the results
// are printed (the replay test records this program and replays it with zero divergence).
// Built with gcc -O1 -mavx2 -mfma -mmmx -mssse3; inputs come through volatile arrays so
// the compiler cannot fold the instructions away.
#include <immintrin.h>
#include <mmintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static volatile int32_t input[64];
static volatile float floats[16];
static int32_t table[256];
static uint64_t digest = 1469598103934665603ULL;

static void mix(const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) { digest ^= b[i]; digest *= 1099511628211ULL; }
}

// gcc emulates the MMX intrinsics with SSE registers when SSE2 is on: the MMX forms are
// written as instructions on "y" (MMX register) operands.
#define MMX2(insn, a, b) ({ __m64 r_ = (a); __asm__(insn " %1, %0" : "+y"(r_) : "y"(b)); r_; })
#define MMXI(insn, imm, a, b) ({ __m64 r_ = (a); __asm__(insn " $" #imm ", %1, %0" : "+y"(r_) : "y"(b)); r_; })

__attribute__((noinline)) static void mmx_family(void) {
    __m64 a = _mm_set_pi32(input[0], input[1]), b = _mm_set_pi32(input[2], input[3]);
    __m64 r[22];
    r[0] = MMX2("phaddw", a, b);
    r[1] = MMX2("phsubd", a, b);
    r[2] = MMX2("phaddsw", a, b);
    r[3] = MMX2("psignb", a, b);
    r[4] = MMX2("pmulhrsw", a, b);
    r[5] = MMX2("pmaddubsw", a, b);
    r[6] = MMX2("pshufb", a, b);
    r[7] = MMXI("palignr", 3, a, b);
    r[8] = MMX2("pabsw", a, b);
    r[9] = MMX2("pavgb", a, b);
    r[10] = MMX2("psadbw", a, b);
    r[11] = MMX2("pmulhuw", a, b);
    r[12] = MMX2("pminsw", a, b);
    r[13] = MMX2("pmaxub", a, b);
    r[14] = MMX2("pmuludq", a, b);
    r[15] = MMXI("pshufw", 0x1b, a, b);
    r[16] = MMX2("phsubw", a, b);
    r[17] = MMX2("psignd", a, b);
    r[18] = a;
    __asm__("pinsrw $2, %1, %0" : "+y"(r[18]) : "r"(input[4]));
    __m128 f = _mm_set_ps(floats[0], floats[1], floats[2], floats[3]);
    __m128d d = _mm_set_pd(floats[4] * 1e9, floats[5]);
    __asm__("cvtps2pi %1, %0" : "=y"(r[19]) : "x"(f));
    __asm__("cvttpd2pi %1, %0" : "=y"(r[20]) : "x"(d));
    __asm__("cvtpd2pi %1, %0" : "=y"(r[21]) : "x"(d));
    int extracted, mask;
    __asm__("pextrw $3, %1, %0" : "=r"(extracted) : "y"(b));
    __asm__("pmovmskb %1, %0" : "=r"(mask) : "y"(a));
    __m128 converted = _mm_setzero_ps();
    __m128d widened;
    __asm__("cvtpi2ps %1, %0" : "+x"(converted) : "y"(a));
    __asm__("cvtpi2pd %1, %0" : "=x"(widened) : "y"(b));
    char masked[8] = {0};
    __asm__ volatile("maskmovq %1, %0" : : "y"(a), "y"(b), "D"(masked) : "memory");
    __m64 streamed;
    __asm__("movntq %1, %0" : "=m"(streamed) : "y"(b));
    _mm_empty();
    mix(r, sizeof r);
    mix(&extracted, sizeof extracted);
    mix(&mask, sizeof mask);
    mix(&converted, sizeof converted);
    mix(&widened, sizeof widened);
    mix(masked, sizeof masked);
    mix(&streamed, sizeof streamed);
    printf("mmx %d %d %08x\n", extracted, mask, (unsigned)(digest >> 32));
}

__attribute__((noinline)) static void avx2_family(void) {
    int32_t in[16];
    float f[16];
    for (int i = 0; i < 16; i++) { in[i] = input[i]; f[i] = floats[i]; }
    __m256i a = _mm256_loadu_si256((const __m256i *)in), b = _mm256_loadu_si256((const __m256i *)(in + 8));
    __m256 x = _mm256_loadu_ps(f), y = _mm256_loadu_ps(f + 8);
    __m256i ri[10];
    __m256 rf[10];
    ri[0] = _mm256_permutevar8x32_epi32(a, b);
    ri[1] = _mm256_permute4x64_epi64(a, 0x4e);
    ri[2] = _mm256_sllv_epi32(a, _mm256_and_si256(b, _mm256_set1_epi32(31)));
    ri[3] = _mm256_srav_epi32(a, b);
    ri[4] = _mm256_srlv_epi64(a, b);
    ri[5] = _mm256_i32gather_epi32(table, _mm256_and_si256(a, _mm256_set1_epi32(255)), 4);
    ri[6] = _mm256_mask_i64gather_epi64(b, (const long long *)table, _mm256_and_si256(b, _mm256_set1_epi64x(127)), a, 8);
    ri[7] = _mm256_maskload_epi32(in, b);
    ri[8] = _mm256_hadd_epi16(a, b);
    ri[9] = _mm256_sign_epi8(a, b);
    rf[0] = _mm256_hadd_ps(x, y);
    rf[1] = _mm256_castpd_ps(_mm256_hsub_pd(_mm256_castps_pd(x), _mm256_castps_pd(y)));
    rf[2] = _mm256_dp_ps(x, y, 0xf1);
    rf[3] = _mm256_permute_ps(x, 0x1b);
    rf[4] = _mm256_permutevar_ps(x, b);
    rf[5] = _mm256_movehdup_ps(x);
    rf[6] = _mm256_castpd_ps(_mm256_movedup_pd(_mm256_castps_pd(y)));
    rf[7] = _mm256_rcp_ps(y);
    rf[8] = _mm256_fmadd_ps(x, y, x);
    rf[9] = _mm256_i32gather_ps((const float *)table, _mm256_and_si256(b, _mm256_set1_epi32(63)), 4);
    float stored[8] = {0};
    _mm256_maskstore_ps(stored, a, y);
    int tests = _mm256_testz_ps(x, y) + 2 * _mm256_testc_pd(_mm256_castps_pd(x), _mm256_castps_pd(y));
    mix(ri, sizeof ri);
    mix(rf, sizeof rf);
    mix(stored, sizeof stored);
    printf("avx2 %d %08x\n", tests, (unsigned)(digest >> 32));
}

int main(void) {
    for (int i = 0; i < 64; i++) input[i] = (int32_t)(0x9E3779B9u * (unsigned)(i + 1)) >> (i % 7);
    for (int i = 0; i < 16; i++) floats[i] = (float)(i * 1.37 - 7.5);
    for (int i = 0; i < 256; i++) table[i] = i * 2654435761u;
    for (int round = 0; round < 3; round++) {
        mmx_family();
        avx2_family();
        input[round] ^= 0x5A5A5A5A;
    }
    return 0;
}
