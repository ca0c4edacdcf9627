/* Run-length encoding of 64 KiB of bytes with long runs, and its decoding. */
#include "units.h"

uint64_t unit_rle(uint64_t seed) {
    enum { n = 65536 };
    static uint8_t data[n], encoded[2 * n], decoded[n];
    for (int i = 0; i < n;) {
        int run = 1 + next_random(&seed) % 40;
        uint8_t value = (uint8_t)next_random(&seed);
        while (run-- && i < n) data[i++] = value;
    }
    int e = 0;
    for (int i = 0; i < n;) {
        int run = 1;
        while (i + run < n && run < 255 && data[i + run] == data[i]) run++;
        encoded[e++] = (uint8_t)run; encoded[e++] = data[i];
        i += run;
    }
    int d = 0;
    for (int i = 0; i < e; i += 2)
        for (int k = 0; k < encoded[i]; k++) decoded[d++] = encoded[i + 1];
    uint64_t sum = (uint64_t)e << 32 | (uint64_t)d;
    for (int i = 0; i < d; i += 97) sum = sum * 131 + decoded[i];
    return sum;
}
