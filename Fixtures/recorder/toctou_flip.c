// Time of check / time of use (issue 11, part 2): a sibling process flips a path in shared
// memory (MAP_SHARED) between DIR/a and DIR/b while the main thread chmods it 40 times. After each
// call the program learns from descriptors opened beforehand (no path involved) which file
// the kernel really changed, and appends 'a' or 'b' to DIR/truth. The trace must name that
// same file for every call. The chmod is a raw `syscall` so the program can also check
// that its argument register (rdi) comes back unchanged, as the syscall ABI promises.
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct shared { volatile int done; char path[4096]; };

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    char name[4096], truth[41] = {0};
    snprintf(name, sizeof name, "%s/a", argv[1]);
    int fa = open(name, O_RDONLY | O_CREAT, 0644);
    snprintf(name, sizeof name, "%s/b", argv[1]);
    int fb = open(name, O_RDONLY | O_CREAT, 0644);
    if (fa < 0 || fb < 0) return 3;
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
    for (int i = 0; i < 40; i++) {
        fchmod(fa, 0644);
        fchmod(fb, 0644);
        long r;
        char *argument = path;
        __asm__ volatile("syscall" : "=a"(r), "+D"(argument) : "a"((long)SYS_chmod), "S"((long)0600) : "rcx", "r11", "memory");
        if (argument != path) return 4;  // the register must be the program's own again
        struct stat sa, sb;
        fstat(fa, &sa);
        fstat(fb, &sb);
        truth[i] = (sa.st_mode & 0777) == 0600 ? 'a' : (sb.st_mode & 0777) == 0600 ? 'b' : '?';
    }
    shared->done = 1;
    waitpid(child, NULL, 0);
    snprintf(name, sizeof name, "%s/truth", argv[1]);
    int out = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || write(out, truth, 40) != 40) return 5;
    return 0;
}
