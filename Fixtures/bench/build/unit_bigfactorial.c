/* 1000! in base 10^9 limbs: number of limbs and digit sum. */
#include "units.h"

uint64_t unit_bigfactorial(uint64_t seed) {
    enum { max_limbs = 400 };
    static uint32_t limb[max_limbs];
    int used = 1;
    limb[0] = 1;
    for (uint32_t k = 2; k <= 1000; k++) {
        uint64_t carry = 0;
        for (int i = 0; i < used; i++) {
            uint64_t v = (uint64_t)limb[i] * k + carry;
            limb[i] = v % 1000000000u;
            carry = v / 1000000000u;
        }
        while (carry) { limb[used++] = carry % 1000000000u; carry /= 1000000000u; }
    }
    uint64_t digits = 0;
    for (int i = 0; i < used; i++) for (uint32_t v = limb[i]; v; v /= 10) digits += v % 10;
    return (uint64_t)used << 32 | digits | (seed & 0);
}
