/* Syscall storm for the benchmark harness (Benchmarks/run, workload "storm").
 *
 * Does N one-byte read(2)s from /dev/zero, default 1,000,000: the worst case for a
 * recorder that stops on every syscall, since each call does almost no work in the
 * kernel.  Prints the count and the byte sum so the harness can check the output. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long count = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    int fd = open("/dev/zero", O_RDONLY);
    if (fd < 0) { perror("storm: /dev/zero"); return 1; }
    unsigned long sum = 0, done = 0;
    for (long i = 0; i < count; i++) {
        unsigned char byte = 1;
        if (read(fd, &byte, 1) != 1) { perror("storm: read"); return 1; }
        sum += byte;
        done++;
    }
    close(fd);
    printf("%lu reads, byte sum %lu\n", done, sum);
    return 0;
}
