/* Binary-heap sort of 20,000 integers; checksum of the sorted order. */
#include "units.h"

static void sift_down(uint32_t *v, long start, long end) {
    long root = start;
    while (2 * root + 1 <= end) {
        long child = 2 * root + 1;
        if (child + 1 <= end && v[child] < v[child + 1]) child++;
        if (v[root] >= v[child]) return;
        uint32_t t = v[root]; v[root] = v[child]; v[child] = t;
        root = child;
    }
}

uint64_t unit_heapsort(uint64_t seed) {
    enum { count = 20000 };
    static uint32_t v[count];
    for (int i = 0; i < count; i++) v[i] = (uint32_t)next_random(&seed);
    for (long start = count / 2 - 1; start >= 0; start--) sift_down(v, start, count - 1);
    for (long end = count - 1; end > 0; end--) {
        uint32_t t = v[0]; v[0] = v[end]; v[end] = t;
        sift_down(v, 0, end - 1);
    }
    uint64_t sum = 0;
    for (int i = 0; i < count; i++) sum = sum * 37 + v[i];
    return sum;
}
