// Time of check / time of use, the filesystem half, for calls that return no descriptor
// (issue 11, part 2): a sibling process swaps the directory symlink DIR/d between DIR/da
// and DIR/db (symlink to a temporary name, then an atomic rename over the link) in a tight
// loop while the main process calls OP COUNT times, as a raw syscall of that name, on
// DIR/d/f (chmod, fchmodat, truncate, utimensat, unlink, unlinkat, rename and renameat2 to
// DIR/d/g), DIR/d/h (rmdir) or DIR/d/g (created: link and linkat from DIR/d/f, mkdir,
// mkdirat, mknod of a FIFO, symlink, openat with O_CREAT|O_EXCL), or newfstatat of DIR/d/f
// (the inode it reports says which file the kernel looked at). Before each call both directories are reset, after
// it the program looks which one changed and appends 'a', 'b' or '?' to DIR/truth (for
// rename, the directory that lost f; for a created name, the one that has it).
// Then, with the sibling gone, it chmods DIR/d/f ten times more: calls no namespace change
// overlapped. The trace must name, for every call, the file the kernel acted on, or flag
// the call as raced.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char da[4096], db[4096], fa[4096], fb[4096], ga[4096], gb[4096], ha[4096], hb[4096];

static int reset(void) {
    const char *files[2] = {fa, fb}, *created[2] = {ga, gb}, *directories[2] = {ha, hb};
    for (int k = 0; k < 2; k++) {
        if (unlink(created[k]) != 0) rmdir(created[k]);
        unlink(files[k]);  // a new file: a new modification time
        int fd = open(files[k], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, "x", 1) != 1 || fchmod(fd, 0644) != 0) return -1;
        close(fd);
        if (mkdir(directories[k], 0755) != 0 && errno != EEXIST) return -1;
    }
    return 0;
}

/// Whether OP changed the file of directory k (0: da, 1: db).
static int changed(const char *op, int k) {
    struct stat st;
    const char *f = k ? fb : fa, *g = k ? gb : ga, *h = k ? hb : ha;
    if (strcmp(op, "chmod") == 0 || strcmp(op, "fchmodat") == 0) return stat(f, &st) == 0 && (st.st_mode & 0777) == 0600;
    if (strcmp(op, "truncate") == 0) return stat(f, &st) == 0 && st.st_size == 0;
    if (strcmp(op, "utimensat") == 0) return stat(f, &st) == 0 && st.st_mtime == 1;
    if (strncmp(op, "unlink", 6) == 0 || strncmp(op, "rename", 6) == 0) return lstat(f, &st) != 0;
    if (strcmp(op, "rmdir") == 0) return lstat(h, &st) != 0;
    return lstat(g, &st) == 0;  // a created name
}

static void call(const char *op, const char *target, const char *renamed, const char *directory) {
    static const struct timespec times[2] = {{1, 0}, {1, 0}};
    if (strcmp(op, "chmod") == 0) syscall(SYS_chmod, target, 0600);
    else if (strcmp(op, "fchmodat") == 0) syscall(SYS_fchmodat, AT_FDCWD, target, 0600, 0);
    else if (strcmp(op, "truncate") == 0) syscall(SYS_truncate, target, 0);
    else if (strcmp(op, "utimensat") == 0) syscall(SYS_utimensat, AT_FDCWD, target, times, 0);
    else if (strcmp(op, "unlink") == 0) syscall(SYS_unlink, target);
    else if (strcmp(op, "unlinkat") == 0) syscall(SYS_unlinkat, AT_FDCWD, target, 0);
    else if (strcmp(op, "rmdir") == 0) syscall(SYS_rmdir, directory);
    else if (strcmp(op, "rename") == 0) syscall(SYS_rename, target, renamed);
    else if (strcmp(op, "renameat2") == 0) syscall(SYS_renameat2, AT_FDCWD, target, AT_FDCWD, renamed, 0);
    else if (strcmp(op, "link") == 0) syscall(SYS_link, target, renamed);
    else if (strcmp(op, "linkat") == 0) syscall(SYS_linkat, AT_FDCWD, target, AT_FDCWD, renamed, 0);
    else if (strcmp(op, "mkdir") == 0) syscall(SYS_mkdir, renamed, 0755);
    else if (strcmp(op, "mkdirat") == 0) syscall(SYS_mkdirat, AT_FDCWD, renamed, 0755);
    else if (strcmp(op, "mknod") == 0) syscall(SYS_mknod, renamed, S_IFIFO | 0600, 0);
    else if (strcmp(op, "symlink") == 0) syscall(SYS_symlink, "x", renamed);
    else if (strcmp(op, "openat") == 0) {
        long fd = syscall(SYS_openat, AT_FDCWD, renamed, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) close((int)fd);
    }
}

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    const char *op = argv[2];
    int rounds = atoi(argv[3]);
    char link[4096], temporary[4096], target[4096], renamed[4096], directory[4096], name[4096];
    char *truth = calloc(rounds + 1, 1);
    snprintf(da, sizeof da, "%s/da", argv[1]);
    snprintf(db, sizeof db, "%s/db", argv[1]);
    snprintf(fa, sizeof fa, "%s/f", da);
    snprintf(fb, sizeof fb, "%s/f", db);
    snprintf(ga, sizeof ga, "%s/g", da);
    snprintf(gb, sizeof gb, "%s/g", db);
    snprintf(ha, sizeof ha, "%s/h", da);
    snprintf(hb, sizeof hb, "%s/h", db);
    snprintf(link, sizeof link, "%s/d", argv[1]);
    snprintf(temporary, sizeof temporary, "%s/d.new", argv[1]);
    snprintf(target, sizeof target, "%s/f", link);
    snprintf(renamed, sizeof renamed, "%s/g", link);
    snprintf(directory, sizeof directory, "%s/h", link);
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
        if (strcmp(op, "newfstatat") == 0) {
            // Reads nothing changes: the inode the kernel reported says which file it was.
            struct stat seen, sa, sb;
            long r = syscall(SYS_newfstatat, AT_FDCWD, target, &seen, 0);
            if (stat(fa, &sa) != 0 || stat(fb, &sb) != 0) return 4;
            truth[i] = r != 0 ? '?' : seen.st_ino == sa.st_ino ? 'a' : seen.st_ino == sb.st_ino ? 'b' : '?';
            continue;
        }
        call(op, target, renamed, directory);
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
