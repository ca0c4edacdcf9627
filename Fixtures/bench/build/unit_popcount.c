/* Population counts by Kernighan's loop and by the SWAR method, which must agree. */
#include "units.h"

static int kernighan(uint64_t x) { int c = 0; while (x) { x &= x - 1; c++; } return c; }

static int swar(uint64_t x) {
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
    return (int)((x * 0x0101010101010101ULL) >> 56);
}

uint64_t unit_popcount(uint64_t seed) {
    uint64_t total = 0, disagreements = 0;
    for (int i = 0; i < 50000; i++) {
        uint64_t x = next_random(&seed);
        int k = kernighan(x), s = swar(x);
        total += k;
        disagreements += k != s;
    }
    return total << 8 | disagreements;
}
