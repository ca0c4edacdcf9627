// Time of check / time of use, the filesystem half, for calls that return no descriptor
// (issue 11, part 2): a sibling process swaps the directory symlink DIR/d between DIR/da
// and DIR/db (symlink to a temporary name, then an atomic rename over the link) in a tight
// loop while the main process calls OP on DIR/d/f COUNT times; OP is chmod, truncate,
// unlink or rename (to DIR/d/g). Before each call both DIR/da/f and DIR/db/f are reset,
// after it the program looks which one changed and appends 'a', 'b' or '?' to DIR/truth.
// Then, with the sibling gone, it chmods DIR/d/f ten times more: calls no namespace change
// overlapped. The trace must name, for every call, the file the kernel acted on, or flag
// the call as raced.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char da[4096], db[4096], fa[4096], fb[4096], ga[4096], gb[4096];

static int reset(void) {
    const char *files[2] = {fa, fb};
    unlink(ga);
    unlink(gb);
    for (int k = 0; k < 2; k++) {
        int fd = open(files[k], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, "x", 1) != 1 || fchmod(fd, 0644) != 0) return -1;
        close(fd);
    }
    return 0;
}

/// Whether OP changed the file of directory k (0: da, 1: db).
static int changed(const char *op, int k) {
    struct stat st;
    const char *f = k ? fb : fa, *g = k ? gb : ga;
    if (strcmp(op, "chmod") == 0) return stat(f, &st) == 0 && (st.st_mode & 0777) == 0600;
    if (strcmp(op, "truncate") == 0) return stat(f, &st) == 0 && st.st_size == 0;
    if (strcmp(op, "unlink") == 0) return stat(f, &st) != 0;
    return stat(g, &st) == 0;  // rename
}

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    const char *op = argv[2];
    int rounds = atoi(argv[3]);
    char link[4096], temporary[4096], target[4096], renamed[4096], name[4096];
    char *truth = calloc(rounds + 1, 1);
    snprintf(da, sizeof da, "%s/da", argv[1]);
    snprintf(db, sizeof db, "%s/db", argv[1]);
    snprintf(fa, sizeof fa, "%s/f", da);
    snprintf(fb, sizeof fb, "%s/f", db);
    snprintf(ga, sizeof ga, "%s/g", da);
    snprintf(gb, sizeof gb, "%s/g", db);
    snprintf(link, sizeof link, "%s/d", argv[1]);
    snprintf(temporary, sizeof temporary, "%s/d.new", argv[1]);
    snprintf(target, sizeof target, "%s/f", link);
    snprintf(renamed, sizeof renamed, "%s/g", link);
    if (!truth || mkdir(da, 0755) != 0 || mkdir(db, 0755) != 0 || symlink(da, link) != 0 || reset() != 0) return 3;
    volatile int *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) return 3;
    volatile int *done = shared, *flips = shared + 1;
    pid_t child = fork();
    if (child == 0) {
        for (int k = 0; !*done; k ^= 1) {
            unlink(temporary);
            if (symlink(k ? db : da, temporary) == 0 && rename(temporary, link) == 0) ++*flips;
        }
        _exit(0);
    }
    while (*flips < 2) sched_yield();  // the swapping has begun
    for (int i = 0; i < rounds; i++) {
        if (reset() != 0) return 4;
        sched_yield();
        if (strcmp(op, "chmod") == 0) chmod(target, 0600);
        else if (strcmp(op, "truncate") == 0) truncate(target, 0);
        else if (strcmp(op, "unlink") == 0) unlink(target);
        else rename(target, renamed);
        int a = changed(op, 0), b = changed(op, 1);
        truth[i] = a && !b ? 'a' : b && !a ? 'b' : '?';
    }
    *done = 1;
    waitpid(child, NULL, 0);
    if (reset() != 0) return 4;
    for (int i = 0; i < 10; i++) chmod(target, 0600);
    snprintf(name, sizeof name, "%s/truth", argv[1]);
    int out = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || write(out, truth, rounds) != rounds) return 5;
    return 0;
}
