// Time of check / time of use (issue 11, part 2): a sibling process flips a path in shared
// memory (MAP_SHARED) between DIR/a and DIR/b while the main process makes a path syscall
// with it 40 times: `toctou_flip DIR OP [COUNT]`, OP one of truncate, chmod, fchmodat,
// unlink, unlinkat, rename, renameat2, link, mkdir, rmdir, symlink, execve. After each call
// the program learns which file the kernel really acted on from what it can see without the
// flipped string (descriptors opened beforehand, or its own private copies of the names),
// and appends 'a' or 'b' to DIR/truth ('?' when it cannot tell). The trace must name that
// same file for every call. Each call is a raw `syscall`, so the program also checks that
// its argument registers come back unchanged, as the syscall ABI promises (exit 4).
// `toctou_flip DIR probe` is what execve runs: it exits 10 as DIR/a, 11 as DIR/b.
// The program's own calls spell the names DIR/./a and DIR/./b, so that only the flipped
// calls name exactly DIR/a or DIR/b in the trace.
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct shared { volatile int done; char path[4096]; };

static char a_name[4096], b_name[4096], c_name[4096];

// A raw syscall with four arguments (the fifth is 0); sets *clobbered when an argument
// register changed across it.
static long raw(long n, long a0, long a1, long a2, long a3, int *clobbered) {
    long r, s0 = a0, s1 = a1, s2 = a2, s3 = a3;
    register long r10 __asm__("r10") = a3;
    register long r8 __asm__("r8") = 0;
    __asm__ volatile("syscall" : "=a"(r), "+D"(a0), "+S"(a1), "+d"(a2), "+r"(r10), "+r"(r8)
                     : "a"(n) : "rcx", "r11", "memory");
    if (a0 != s0 || a1 != s1 || a2 != s2 || r10 != s3 || r8 != 0) *clobbered = 1;
    return r;
}

static int exists(const char *name) { struct stat st; return lstat(name, &st) == 0; }
static void make_file(const char *name) { int fd = open(name, O_WRONLY | O_CREAT, 0644); if (fd >= 0) close(fd); }
static void clear(const char *name) { if (unlink(name) != 0) rmdir(name); }

// Copies this program to DIR/a and DIR/b, for execve.
static int copy_self(void) {
    char buffer[65536];
    for (int k = 0; k < 2; k++) {
        int in = open("/proc/self/exe", O_RDONLY), out = open(k ? b_name : a_name, O_WRONLY | O_CREAT | O_TRUNC, 0755);
        if (in < 0 || out < 0) return -1;
        ssize_t n;
        while ((n = read(in, buffer, sizeof buffer)) > 0) if (write(out, buffer, n) != n) return -1;
        close(in);
        close(out);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    const char *op = argv[2];
    if (strcmp(op, "probe") == 0) {
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        return n > 0 && self[n - 1] == 'a' ? 10 : n > 0 && self[n - 1] == 'b' ? 11 : 12;
    }
    int count = argc > 3 ? atoi(argv[3]) : 40;
    if (count < 1 || count > 200) return 2;
    snprintf(a_name, sizeof a_name, "%s/./a", argv[1]);
    snprintf(b_name, sizeof b_name, "%s/./b", argv[1]);
    snprintf(c_name, sizeof c_name, "%s/c", argv[1]);
    int is_exec = strcmp(op, "execve") == 0;
    if (is_exec && copy_self() != 0) return 3;

    struct shared *shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) return 3;
    char *path = shared->path;
    snprintf(path, sizeof shared->path, "%s/a", argv[1]);
    size_t flip_at = strlen(path) - 1;
    pid_t child = fork();
    if (child == 0) {
        while (!shared->done) path[flip_at] = path[flip_at] == 'a' ? 'b' : 'a';
        _exit(0);
    }
    char truth[201] = {0};
    int clobbered = 0;
    for (int i = 0; i < count; i++) {
        char seen = '?';
        if (strcmp(op, "truncate") == 0 || strcmp(op, "chmod") == 0 || strcmp(op, "fchmodat") == 0) {
            int fa = open(a_name, O_RDWR | O_CREAT, 0644), fb = open(b_name, O_RDWR | O_CREAT, 0644);
            if (fa < 0 || fb < 0) return 3;
            fchmod(fa, 0644), fchmod(fb, 0644), ftruncate(fa, 1), ftruncate(fb, 1);
            if (op[0] == 't') raw(SYS_truncate, (long)path, 0, 0, 0, &clobbered);
            else if (op[1] == 'h') raw(SYS_chmod, (long)path, 0600, 0, 0, &clobbered);
            else raw(SYS_fchmodat, AT_FDCWD, (long)path, 0600, 0, &clobbered);
            struct stat sa, sb;
            fstat(fa, &sa), fstat(fb, &sb);
            int ha = op[0] == 't' ? sa.st_size == 0 : (sa.st_mode & 0777) == 0600;
            int hb = op[0] == 't' ? sb.st_size == 0 : (sb.st_mode & 0777) == 0600;
            seen = ha && !hb ? 'a' : hb && !ha ? 'b' : '?';
            close(fa), close(fb);
        } else if (strcmp(op, "unlink") == 0 || strcmp(op, "unlinkat") == 0 || strcmp(op, "rename") == 0 ||
                   strcmp(op, "renameat2") == 0 || strcmp(op, "link") == 0) {
            make_file(a_name), make_file(b_name), clear(c_name);
            if (strcmp(op, "unlink") == 0) raw(SYS_unlink, (long)path, 0, 0, 0, &clobbered);
            else if (strcmp(op, "unlinkat") == 0) raw(SYS_unlinkat, AT_FDCWD, (long)path, 0, 0, &clobbered);
            else if (strcmp(op, "rename") == 0) raw(SYS_rename, (long)path, (long)c_name, 0, 0, &clobbered);
            else if (strcmp(op, "renameat2") == 0) raw(SYS_renameat2, AT_FDCWD, (long)path, AT_FDCWD, (long)c_name, &clobbered);
            else raw(SYS_link, (long)path, (long)c_name, 0, 0, &clobbered);
            if (op[0] == 'l') {
                struct stat sa, sb;
                lstat(a_name, &sa), lstat(b_name, &sb);
                seen = sa.st_nlink == 2 && sb.st_nlink == 1 ? 'a' : sb.st_nlink == 2 && sa.st_nlink == 1 ? 'b' : '?';
            } else {
                int ga = !exists(a_name), gb = !exists(b_name);
                seen = ga && !gb ? 'a' : gb && !ga ? 'b' : '?';
            }
        } else if (strcmp(op, "mkdir") == 0 || strcmp(op, "symlink") == 0) {
            clear(a_name), clear(b_name);
            if (op[0] == 'm') raw(SYS_mkdir, (long)path, 0700, 0, 0, &clobbered);
            else raw(SYS_symlink, (long)"target", (long)path, 0, 0, &clobbered);
            int ea = exists(a_name), eb = exists(b_name);
            seen = ea && !eb ? 'a' : eb && !ea ? 'b' : '?';
        } else if (strcmp(op, "rmdir") == 0) {
            clear(a_name), clear(b_name);
            mkdir(a_name, 0700), mkdir(b_name, 0700);
            raw(SYS_rmdir, (long)path, 0, 0, 0, &clobbered);
            int ga = !exists(a_name), gb = !exists(b_name);
            seen = ga && !gb ? 'a' : gb && !ga ? 'b' : '?';
        } else if (is_exec) {
            pid_t runner = fork();
            if (runner == 0) {
                char *args[] = {"probe", argv[1], "probe", NULL};
                int ignored = 0;
                raw(SYS_execve, (long)path, (long)args, (long)environ, 0, &ignored);
                _exit(13);
            }
            int status = 0;
            waitpid(runner, &status, 0);
            int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            seen = code == 10 ? 'a' : code == 11 ? 'b' : '?';
        } else {
            return 2;
        }
        truth[i] = seen;
    }
    shared->done = 1;
    waitpid(child, NULL, 0);
    if (clobbered) return 4;  // an argument register was not the program's own again
    char name[4096];
    snprintf(name, sizeof name, "%s/truth", argv[1]);
    int out = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || write(out, truth, count) != count) return 5;
    return 0;
}
