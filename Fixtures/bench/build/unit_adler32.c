/* Adler-32 (RFC 1950) of 64 KiB of pseudo-random bytes. */
#include "units.h"

uint64_t unit_adler32(uint64_t seed) {
    uint32_t a = 1, b = 0;
    for (int i = 0; i < 65536; i++) {
        a = (a + (uint8_t)next_random(&seed)) % 65521;
        b = (b + a) % 65521;
    }
    return ((uint64_t)b << 16) | a;
}
