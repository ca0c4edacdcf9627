/* CRC-32 (IEEE 802.3, reflected, table-driven) of 64 KiB of pseudo-random bytes. */
#include "units.h"

static uint32_t table[256];

static void build_table(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[n] = c;
    }
}

uint64_t unit_crc32(uint64_t seed) {
    build_table();
    uint32_t crc = 0xFFFFFFFFu;
    for (int i = 0; i < 65536; i++) {
        uint8_t byte = (uint8_t)next_random(&seed);
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8);
    }
    return crc ^ 0xFFFFFFFFu;
}
