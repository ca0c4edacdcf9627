#include <stdio.h>
#include "util.h"
#include "version.h"
int main(void) {
    printf("app %s: %d %ld\n", APP_VERSION, clamp(42, 0, 10), sum_of_squares(10));
    return 0;
}
