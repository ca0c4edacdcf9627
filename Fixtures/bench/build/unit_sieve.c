/* Sieve of Eratosthenes below 200,000: count and sum of primes. */
#include <string.h>
#include "units.h"

uint64_t unit_sieve(uint64_t seed) {
    enum { limit = 200000 };
    static uint8_t composite[limit];
    memset(composite, 0, sizeof composite);
    uint64_t count = 0, sum = seed;
    for (uint64_t i = 2; i < limit; i++) {
        if (composite[i]) continue;
        count++; sum += i;
        for (uint64_t j = i * i; j < limit; j += i) composite[j] = 1;
    }
    return count << 40 ^ sum;
}
