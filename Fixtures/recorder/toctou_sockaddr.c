// Time of check / time of use for a socket address (issue 11, part 2): a sibling process
// flips the last byte of an abstract unix socket name in shared memory between 'a' and 'b'
// while the main process calls OP with it COUNT times: `toctou_sockaddr DIR OP COUNT`, OP
// bind (a new datagram socket each time; getsockname says the name the kernel bound) or
// sendto (a datagram numbered i to one of two bound receivers; the one that has it says
// where the kernel sent it). Appends 'a', 'b' or '?' per call to DIR/truth. The trace must
// record, for each call, the address the kernel used. Each call is a raw `syscall`, so the
// program also checks that its argument registers come back unchanged (exit 4).
#define _GNU_SOURCE
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static long raw6(long n, long a0, long a1, long a2, long a3, long a4, long a5, int *clobbered) {
    long r, s[6] = {a0, a1, a2, a3, a4, a5};
    register long r10 __asm__("r10") = a3;
    register long r8 __asm__("r8") = a4;
    register long r9 __asm__("r9") = a5;
    __asm__ volatile("syscall" : "=a"(r), "+D"(a0), "+S"(a1), "+d"(a2), "+r"(r10), "+r"(r8), "+r"(r9)
                     : "a"(n) : "rcx", "r11", "memory");
    if (a0 != s[0] || a1 != s[1] || a2 != s[2] || r10 != s[3] || r8 != s[4] || r9 != s[5]) *clobbered = 1;
    return r;
}

static socklen_t name(struct sockaddr_un *address, char which) {
    memset(address, 0, sizeof *address);
    address->sun_family = AF_UNIX;
    int n = snprintf(address->sun_path + 1, sizeof address->sun_path - 1, "magprov-flip-%d-%c", (int)getpid(), which);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    const char *op = argv[2];
    int count = atoi(argv[3]);
    if (count < 1 || count > 1000) return 2;
    char *truth = calloc(count + 1, 1);
    struct sockaddr_un *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!truth || shared == MAP_FAILED) return 3;
    volatile int *done = (volatile int *)((char *)shared + 2048), *flips = done + 1;
    socklen_t length = name(shared, 'a');
    volatile char *flip = (volatile char *)shared + length - 1;
    int receivers[2] = {-1, -1};
    if (strcmp(op, "sendto") == 0) {
        for (int k = 0; k < 2; k++) {
            struct sockaddr_un address;
            socklen_t n = name(&address, k ? 'b' : 'a');
            receivers[k] = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
            if (receivers[k] < 0 || bind(receivers[k], (struct sockaddr *)&address, n) != 0) return 3;
        }
    }
    pid_t child = fork();
    if (child == 0) {
        // A yield now and then hands the recorder's scheduling token back without waiting
        // for its watchdog to preempt a task that never makes a syscall.
        while (!*done) {
            *flip = *flip == 'a' ? 'b' : 'a';
            if (++*flips % 4099 == 0) sched_yield();  // odd: either name may be current then
        }
        _exit(0);
    }
    while (*flips < 2) sched_yield();  // the flipping has begun
    int clobbered = 0;
    int sender = socket(AF_UNIX, SOCK_DGRAM, 0);
    for (int i = 0; i < count; i++) {
        char seen = '?';
        if (strcmp(op, "bind") == 0) {
            int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
            if (fd < 0) return 3;
            if (raw6(SYS_bind, fd, (long)shared, length, 0, 0, 0, &clobbered) == 0) {
                struct sockaddr_un bound;
                socklen_t n = sizeof bound;
                if (getsockname(fd, (struct sockaddr *)&bound, &n) == 0 && n == length) seen = ((char *)&bound)[n - 1];
            }
            close(fd);
        } else {
            if (raw6(SYS_sendto, sender, (long)&i, sizeof i, 0, (long)shared, length, &clobbered) == (long)sizeof i) {
                for (int k = 0; k < 2; k++) {
                    int got = -1;
                    if (recv(receivers[k], &got, sizeof got, 0) == (ssize_t)sizeof got && got == i) seen = k ? 'b' : 'a';
                }
            }
        }
        truth[i] = seen;
    }
    *done = 1;
    waitpid(child, NULL, 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/truth", argv[1]);
    FILE *out = fopen(path, "w");
    if (!out || fwrite(truth, 1, count, out) != (size_t)count || fclose(out) != 0) return 5;
    return clobbered ? 4 : 0;
}
