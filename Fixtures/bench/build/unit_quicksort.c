/* Hoare-partition quicksort of 20,000 integers; checksum of the sorted order. */
#include "units.h"

static void quicksort(uint32_t *v, long lo, long hi) {
    while (lo < hi) {
        uint32_t pivot = v[lo + (hi - lo) / 2];
        long i = lo - 1, j = hi + 1;
        for (;;) {
            do i++; while (v[i] < pivot);
            do j--; while (v[j] > pivot);
            if (i >= j) break;
            uint32_t t = v[i]; v[i] = v[j]; v[j] = t;
        }
        if (j - lo < hi - j) { quicksort(v, lo, j); lo = j + 1; }
        else { quicksort(v, j + 1, hi); hi = j; }
    }
}

uint64_t unit_quicksort(uint64_t seed) {
    enum { count = 20000 };
    static uint32_t v[count];
    for (int i = 0; i < count; i++) v[i] = (uint32_t)next_random(&seed);
    quicksort(v, 0, count - 1);
    uint64_t sum = 0;
    for (int i = 0; i < count; i++) sum = sum * 31 + v[i];
    return sum;
}
