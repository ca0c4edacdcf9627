/* Driver of the make-build fixture: runs every unit and prints its checksum.
 *
 * The units are weak references, so a build of a subset (`make UNITS="unit_crc32.c"`, as
 * the harness's --quick mode does) links and prints only the units it has. */
#include <inttypes.h>
#include <stdio.h>
#include "units.h"

#pragma weak unit_crc32
#pragma weak unit_adler32
#pragma weak unit_fnv
#pragma weak unit_base64
#pragma weak unit_sieve
#pragma weak unit_matmul
#pragma weak unit_quicksort
#pragma weak unit_heapsort
#pragma weak unit_lcs
#pragma weak unit_levenshtein
#pragma weak unit_rle
#pragma weak unit_popcount
#pragma weak unit_fibmod
#pragma weak unit_nqueens
#pragma weak unit_collatz
#pragma weak unit_hashtable
#pragma weak unit_bigfactorial
#pragma weak unit_tokenizer

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
        if (units[i].run)
            printf("%-12s %016" PRIx64 "\n", units[i].name, units[i].run(42 + i));
    return 0;
}
