/* Each unit_*.c computes one checksum from a seed; main.c prints them all. */
#ifndef UNITS_H
#define UNITS_H
#include <stddef.h>
#include <stdint.h>

/* xorshift64*: the one deterministic input source every unit draws from. */
static inline uint64_t next_random(uint64_t *state) {
    uint64_t x = *state;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

uint64_t unit_crc32(uint64_t seed);
uint64_t unit_adler32(uint64_t seed);
uint64_t unit_fnv(uint64_t seed);
uint64_t unit_base64(uint64_t seed);
uint64_t unit_sieve(uint64_t seed);
uint64_t unit_matmul(uint64_t seed);
uint64_t unit_quicksort(uint64_t seed);
uint64_t unit_heapsort(uint64_t seed);
uint64_t unit_lcs(uint64_t seed);
uint64_t unit_levenshtein(uint64_t seed);
uint64_t unit_rle(uint64_t seed);
uint64_t unit_popcount(uint64_t seed);
uint64_t unit_fibmod(uint64_t seed);
uint64_t unit_nqueens(uint64_t seed);
uint64_t unit_collatz(uint64_t seed);
uint64_t unit_hashtable(uint64_t seed);
uint64_t unit_bigfactorial(uint64_t seed);
uint64_t unit_tokenizer(uint64_t seed);

#endif
