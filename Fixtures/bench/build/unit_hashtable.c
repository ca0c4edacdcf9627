/* Open-addressing hash table (linear probing): insert 30,000 keys, then look up 60,000. */
#include <string.h>
#include "units.h"

enum { slots = 1 << 16 };
static uint64_t keys[slots];
static uint32_t values[slots];

static uint32_t *find(uint64_t key, int insert) {
    uint64_t i = (key * 0x9E3779B97F4A7C15ULL) >> 48;
    for (;; i = (i + 1) & (slots - 1)) {
        if (keys[i] == key) return &values[i];
        if (keys[i] == 0) {
            if (!insert) return 0;
            keys[i] = key;
            return &values[i];
        }
    }
}

uint64_t unit_hashtable(uint64_t seed) {
    memset(keys, 0, sizeof keys);
    uint64_t start = seed;
    for (uint32_t i = 0; i < 30000; i++) *find(next_random(&seed) | 1, 1) = i;
    uint64_t hits = 0, sum = 0;
    seed = start;
    for (int i = 0; i < 60000; i++) {
        uint32_t *v = find(next_random(&seed) | 1, 0);
        if (v) { hits++; sum += *v; }
    }
    return hits << 40 ^ sum;
}
