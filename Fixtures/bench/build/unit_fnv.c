/* FNV-1a 64-bit over generated decimal strings. */
#include <stdio.h>
#include "units.h"

uint64_t unit_fnv(uint64_t seed) {
    uint64_t hash = 0xcbf29ce484222325ULL;
    char text[32];
    for (int i = 0; i < 4096; i++) {
        int n = snprintf(text, sizeof text, "%llu", (unsigned long long)(next_random(&seed) % 1000000007));
        for (int k = 0; k < n; k++) { hash ^= (uint8_t)text[k]; hash *= 0x100000001b3ULL; }
    }
    return hash;
}
