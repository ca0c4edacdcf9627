/* Number of solutions of the 9-queens problem, by bitmask backtracking. */
#include "units.h"

static uint64_t solve(int n, uint32_t columns, uint32_t left, uint32_t right) {
    uint32_t all = (1u << n) - 1;
    if (columns == all) return 1;
    uint64_t count = 0;
    for (uint32_t free = all & ~(columns | left | right); free; free &= free - 1) {
        uint32_t bit = free & -free;
        count += solve(n, columns | bit, (left | bit) << 1, (right | bit) >> 1);
    }
    return count;
}

uint64_t unit_nqueens(uint64_t seed) {
    return solve(9, 0, 0, 0) * 1000 + seed % 1000;
}
