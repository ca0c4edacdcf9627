/* Fibonacci numbers modulo a prime by 2x2 matrix exponentiation. */
#include "units.h"

static const uint64_t prime = 1000000007ULL;

static void multiply(uint64_t m[2][2], uint64_t k[2][2]) {
    uint64_t r[2][2];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) r[i][j] = (m[i][0] * k[0][j] + m[i][1] * k[1][j]) % prime;
    for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) m[i][j] = r[i][j];
}

static uint64_t fibonacci(uint64_t n) {
    uint64_t result[2][2] = {{1, 0}, {0, 1}}, base[2][2] = {{1, 1}, {1, 0}};
    while (n) {
        if (n & 1) multiply(result, base);
        multiply(base, base);
        n >>= 1;
    }
    return result[0][1];
}

uint64_t unit_fibmod(uint64_t seed) {
    uint64_t sum = 0;
    for (int i = 0; i < 2000; i++) sum = (sum * 7 + fibonacci(next_random(&seed) >> 4)) % prime;
    return sum;
}
