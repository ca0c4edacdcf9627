/* Driver of the make-build fixture: runs every unit and prints its checksum. */
#include <inttypes.h>
#include <stdio.h>
#include "units.h"

static const struct { const char *name; uint64_t (*run)(uint64_t); } units[] = {
    {"crc32", unit_crc32}, {"adler32", unit_adler32}, {"fnv", unit_fnv},
    {"base64", unit_base64}, {"sieve", unit_sieve}, {"matmul", unit_matmul},
    {"quicksort", unit_quicksort}, {"heapsort", unit_heapsort}, {"lcs", unit_lcs},
    {"levenshtein", unit_levenshtein}, {"rle", unit_rle}, {"popcount", unit_popcount},
    {"fibmod", unit_fibmod}, {"nqueens", unit_nqueens}, {"collatz", unit_collatz},
    {"hashtable", unit_hashtable}, {"bigfactorial", unit_bigfactorial},
    {"tokenizer", unit_tokenizer},
};

int main(void) {
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        printf("%-12s %016" PRIx64 "\n", units[i].name, units[i].run(42 + i));
    return 0;
}
