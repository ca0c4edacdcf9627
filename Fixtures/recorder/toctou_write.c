// Time of check / time of use for a write's data (issue 11, part 2): a sibling process
// rewrites a 256-byte buffer in shared memory, all 'a' then all 'b', over and over, while
// the main process writes it COUNT times to DIR/out: `toctou_write DIR COUNT [writev]`
// (writev: as two iovecs, of its first 100 and last 156 bytes). The file
// then holds, in 256-byte pieces, what the kernel wrote for each call; the trace's digest
// of each call's buffer must be that piece's. Each call is a raw `syscall`, so the program
// also checks that its argument registers come back unchanged (exit 4).
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

enum { length = 256 };

static long raw3(long n, long a0, long a1, long a2, int *clobbered) {
    long r, s[3] = {a0, a1, a2};
    __asm__ volatile("syscall" : "=a"(r), "+D"(a0), "+S"(a1), "+d"(a2) : "a"(n) : "rcx", "r11", "memory");
    if (a0 != s[0] || a1 != s[1] || a2 != s[2]) *clobbered = 1;
    return r;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    int count = atoi(argv[2]), vectored = argc > 3 && strcmp(argv[3], "writev") == 0;
    if (count < 1 || count > 10000) return 2;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/out", argv[1]) >= (int)sizeof path) return 2;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (fd < 0 || shared == MAP_FAILED) return 3;
    volatile int *done = (volatile int *)(shared + 2048), *flips = done + 1;
    memset(shared, 'a', length);
    pid_t child = fork();
    if (child == 0) {
        // A yield now and then hands the recorder's scheduling token back without waiting
        // for its watchdog to preempt a task that never makes a syscall.
        while (!*done) {
            memset(shared, (*flips & 1) ? 'a' : 'b', length);
            if (++*flips % 4099 == 0) sched_yield();
        }
        _exit(0);
    }
    while (*flips < 2) sched_yield();  // the flipping has begun
    int clobbered = 0;
    for (int i = 0; i < count; i++) {
        if (vectored) {
            struct iovec iov[2] = {{shared, 100}, {shared + 100, length - 100}};
            if (raw3(SYS_writev, fd, (long)iov, 2, &clobbered) != length) return 5;
        } else if (raw3(SYS_write, fd, (long)shared, length, &clobbered) != length) {
            return 5;
        }
    }
    *done = 1;
    int status;
    waitpid(child, &status, 0);
    close(fd);
    return clobbered ? 4 : 0;
}
