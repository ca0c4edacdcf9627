/* Tokenize generated arithmetic text into numbers, names and operators. */
#include <ctype.h>
#include <stdio.h>
#include "units.h"

uint64_t unit_tokenizer(uint64_t seed) {
    static char text[65536];
    size_t n = 0;
    while (n + 32 < sizeof text) {
        switch (next_random(&seed) % 4) {
        case 0: n += snprintf(text + n, 32, "%u ", (unsigned)(next_random(&seed) % 100000)); break;
        case 1: n += snprintf(text + n, 32, "x%u ", (unsigned)(next_random(&seed) % 100)); break;
        case 2: text[n++] = "+-*/()"[next_random(&seed) % 6]; break;
        default: text[n++] = ' ';
        }
    }
    uint64_t numbers = 0, names = 0, operators = 0, value_sum = 0;
    for (size_t i = 0; i < n;) {
        if (isdigit((unsigned char)text[i])) {
            uint64_t v = 0;
            while (i < n && isdigit((unsigned char)text[i])) v = v * 10 + (uint64_t)(text[i++] - '0');
            numbers++; value_sum += v;
        } else if (isalpha((unsigned char)text[i])) {
            while (i < n && isalnum((unsigned char)text[i])) i++;
            names++;
        } else {
            if (text[i] != ' ') operators++;
            i++;
        }
    }
    return numbers << 48 ^ names << 32 ^ operators << 16 ^ value_sum;
}
