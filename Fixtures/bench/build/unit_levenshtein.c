/* Levenshtein edit distance between pairs of 200-letter strings. */
#include "units.h"

static int distance(const char *a, int n, const char *b, int m) {
    int row[201];
    for (int j = 0; j <= m; j++) row[j] = j;
    for (int i = 1; i <= n; i++) {
        int diagonal = row[0];
        row[0] = i;
        for (int j = 1; j <= m; j++) {
            int above = row[j];
            int best = diagonal + (a[i - 1] != b[j - 1]);
            if (above + 1 < best) best = above + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diagonal = above;
        }
    }
    return row[m];
}

uint64_t unit_levenshtein(uint64_t seed) {
    char a[200], b[200];
    uint64_t sum = 0;
    for (int pair = 0; pair < 20; pair++) {
        for (int i = 0; i < 200; i++) { a[i] = 'a' + next_random(&seed) % 6; b[i] = 'a' + next_random(&seed) % 6; }
        sum = sum * 211 + distance(a, 200, b, 200);
    }
    return sum;
}
