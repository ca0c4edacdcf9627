// Fixture for the replay test of the model-specific floating-point instructions: glibc's
// long double functions run x87 fyl2x (log10l, log2l, logl), f2xm1 (expl, exp2l, powl),
// fpatan (atan2l, atanl), fsin/fcos/fptan (through its own reductions) and the compiler's
// fsincos, and SSE rcpps/rsqrtps estimates through intrinsics. Each result is printed in
// full (21 digits, hex for the singles): a replay that computed one of them differently
// would write other bytes and diverge. log10l(1e5L) is exactly 5 on the CPU.
// Build: gcc -O1 -o long_double_math long_double_math.c -lm
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    printf("log10l(1e5L) = %.21Lg\n", log10l(1e5L));
    volatile long double x = 0.7L, y = 3.25L, big = 1e30L;
    long double s, c, t;
    __asm__("fsincos" : "=t"(c), "=u"(s) : "0"(x));
    __asm__("fptan\n\tfstp %%st(0)" : "=t"(t) : "0"(x));
    long double r2;
    __asm__("fsin" : "=t"(r2) : "0"(big));  // out of range: C2 = 1, ST(0) unchanged
    printf("%.21Lg %.21Lg %.21Lg %.21Lg %.21Lg\n", logl(y), log2l(x), expl(x), exp2l(-x), powl(y, x));
    printf("%.21Lg %.21Lg %.21Lg %.21Lg\n", atan2l(y, x), atanl(y), log1pl(x / 1000), s);
    printf("%.21Lg %.21Lg %.21Lg\n", c, t, r2);
    float in[4] = {3.0f, 0.1f, 1e-3f, 7.5f}, out[4], out2[4];
    _mm_storeu_ps(out, _mm_rcp_ps(_mm_loadu_ps(in)));
    _mm_storeu_ps(out2, _mm_rsqrt_ps(_mm_loadu_ps(in)));
    unsigned bits[8];
    memcpy(bits, out, 16);
    memcpy(bits + 4, out2, 16);
    for (int i = 0; i < 8; i++) printf("%08x%c", bits[i], i == 7 ? '\n' : ' ');
    return 0;
}
