// Time of check / time of use, the filesystem half (issue 11, part 2): a sibling process
// swaps the symlink DIR/link between DIR/a and DIR/b (symlink to a temporary name, then an
// atomic rename over the link) in a tight loop while the main process opens DIR/link and
// reads one byte 200 times. Each file holds its own name as its only byte, so the byte
// read says which file the kernel really opened; the program appends it to DIR/truth.
// The trace must name that same file for every open, whatever the supervisor resolved
// when it looked at the path first.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

enum { rounds = 200 };

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    char a[4096], b[4096], link[4096], temporary[4096], name[4096], truth[rounds] = {0};
    snprintf(a, sizeof a, "%s/a", argv[1]);
    snprintf(b, sizeof b, "%s/b", argv[1]);
    snprintf(link, sizeof link, "%s/link", argv[1]);
    snprintf(temporary, sizeof temporary, "%s/link.new", argv[1]);
    for (int k = 0; k < 2; k++) {
        int fd = open(k ? b : a, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, k ? "b" : "a", 1) != 1) return 3;
        close(fd);
    }
    if (symlink(a, link) != 0) return 3;
    volatile int *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) return 3;
    volatile int *done = shared, *flips = shared + 1;
    pid_t child = fork();
    if (child == 0) {
        for (int k = 0; !*done; k ^= 1) {
            unlink(temporary);
            if (symlink(k ? b : a, temporary) == 0 && rename(temporary, link) == 0) ++*flips;
        }
        _exit(0);
    }
    while (*flips < 2) sched_yield();  // the swapping has begun
    for (int i = 0; i < rounds; i++) {
        sched_yield();
        int fd = open(link, O_RDONLY);
        char c = '?';
        if (fd >= 0) {
            if (read(fd, &c, 1) != 1) c = '?';
            close(fd);
        }
        truth[i] = c;
    }
    *done = 1;
    waitpid(child, NULL, 0);
    snprintf(name, sizeof name, "%s/truth", argv[1]);
    int out = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || write(out, truth, rounds) != rounds) return 5;
    return 0;
}
