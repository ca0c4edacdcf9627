/* Longest Collatz chain among starting values below 100,000. */
#include "units.h"

uint64_t unit_collatz(uint64_t seed) {
    uint64_t best = 0, best_start = 0;
    for (uint64_t start = 1; start < 100000; start++) {
        uint64_t x = start, steps = 0;
        while (x != 1) { x = x & 1 ? 3 * x + 1 : x / 2; steps++; }
        if (steps > best) { best = steps; best_start = start; }
    }
    return best_start << 16 | best | (seed & 0);
}
