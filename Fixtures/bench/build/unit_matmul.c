/* 64x64 integer matrix product, naive triple loop. */
#include "units.h"

enum { n = 64 };

uint64_t unit_matmul(uint64_t seed) {
    static uint32_t a[n][n], b[n][n];
    static uint64_t c[n][n];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) { a[i][j] = next_random(&seed) & 0xFFFF; b[i][j] = next_random(&seed) & 0xFFFF; }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            uint64_t s = 0;
            for (int k = 0; k < n; k++) s += (uint64_t)a[i][k] * b[k][j];
            c[i][j] = s;
        }
    uint64_t sum = 0;
    for (int i = 0; i < n; i++) sum = sum * 1099511628211ULL + c[i][(i * 7) % n];
    return sum;
}
