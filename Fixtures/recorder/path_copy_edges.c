// The path copy's edge cases (issue 11, part 2; Sources/Recorder/ScratchArguments.swift),
// each answered as the kernel would answer it, on DIR/f (mode 0644):
// 1. chmod of PATH_MAX bytes with no NUL among them: ENAMETOOLONG.
// 2. chmod of a string running into a PROT_NONE page before its NUL, and of address 1:
//    EFAULT.
// 3. a new thread's first path call with the address space limit (RLIMIT_AS) at one byte,
//    so the scratch area cannot be mapped: ENOMEM, the file unchanged; with the limit back,
//    the same call succeeds (mode 0600).
// 4. a CLONE_VM child (another process in the same address space) tries to make every
//    scratch-sized read-only anonymous mapping writable, to unmap it, and to write it
//    through /proc/self/mem (pwrite; the open for writing may be refused already): all
//    refused with EPERM, while the parent keeps chmodding.
// Exits 0 when every answer is the expected one, else the number of the failed check.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char file[4096];
static int threadResult;

static void *limited(void *unused) {
    (void)unused;
    struct rlimit saved, tiny;
    if (getrlimit(RLIMIT_AS, &saved) != 0) { threadResult = 30; return NULL; }
    tiny = saved;
    tiny.rlim_cur = 1;
    if (setrlimit(RLIMIT_AS, &tiny) != 0) { threadResult = 31; return NULL; }
    long r = syscall(SYS_chmod, file, 0600);
    int e = errno;
    setrlimit(RLIMIT_AS, &saved);
    struct stat st;
    if (r != -1 || e != ENOMEM) { threadResult = 32; return NULL; }
    if (stat(file, &st) != 0 || (st.st_mode & 0777) != 0644) { threadResult = 33; return NULL; }
    if (syscall(SYS_chmod, file, 0600) != 0 || stat(file, &st) != 0 || (st.st_mode & 0777) != 0600) threadResult = 34;
    return NULL;
}

static volatile int childResult = -1;

static int attacker(void *unused) {
    (void)unused;
    FILE *maps = fopen("/proc/self/maps", "r");
    if (!maps) { childResult = 40; return 0; }
    char line[512];
    int tried = 0, failures = 0;
    unsigned long areas[16];
    while (fgets(line, sizeof line, maps)) {
        unsigned long start, end, offset;
        char perms[8];
        unsigned inode;
        int major, minor, n = 0;
        if (sscanf(line, "%lx-%lx %7s %lx %x:%x %u %n", &start, &end, perms, &offset, &major, &minor, &inode, &n) < 7) continue;
        // Three path slots and the 64 KiB data region (ScratchArea.length).
        if (end - start != 3 * 4096 + 65536 || strcmp(perms, "r--p") != 0 || inode != 0 || line[n] != 0) continue;  // no name
        if (tried < 16) areas[tried] = start;
        tried++;
        if (mprotect((void *)start, end - start, PROT_READ | PROT_WRITE) == 0 || errno != EPERM) failures++;
        if (munmap((void *)start, end - start) == 0 || errno != EPERM) failures++;
    }
    fclose(maps);
    int mem = open("/proc/self/mem", O_RDWR);
    if (mem >= 0) {
        for (int i = 0; i < tried && i < 16; i++) {
            if (pwrite(mem, "\0", 1, (off_t)areas[i]) != -1 || errno != EPERM) failures++;
        }
        close(mem);
    } else if (errno != EPERM) {
        failures++;
    }
    childResult = tried < 2 ? 41 : failures ? 42 : 0;  // the parent's area and the child's own
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    snprintf(file, sizeof file, "%s/f", argv[1]);
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return 3;
    close(fd);
    if (chmod(file, 0644) != 0) return 3;

    // 1. PATH_MAX bytes, no NUL: the kernel reads them all and gives up.
    char *overlong = malloc(8192);
    memset(overlong, 'a', 8192);
    overlong[8191] = 0;
    if (syscall(SYS_chmod, overlong, 0600) != -1 || errno != ENAMETOOLONG) return 11;

    // 2. A string that runs into an inaccessible page, and a pointer to nothing.
    char *pages = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED || mprotect(pages + 4096, 4096, PROT_NONE) != 0) return 3;
    memset(pages + 4096 - 16, 'b', 16);
    if (syscall(SYS_chmod, pages + 4096 - 16, 0600) != -1 || errno != EFAULT) return 21;
    if (syscall(SYS_chmod, (char *)1, 0600) != -1 || errno != EFAULT) return 22;

    // 3. No scratch area.
    pthread_t thread;
    if (pthread_create(&thread, NULL, limited, NULL) != 0 || pthread_join(thread, NULL) != 0) return 3;
    if (threadResult) return threadResult;

    // 4. A CLONE_VM child against the scratch areas of its address space.
    char *stack = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) return 3;
    pid_t child = clone(attacker, stack + (1 << 16), CLONE_VM | SIGCHLD, NULL);
    if (child < 0) return 3;
    for (int i = 0; i < 20; i++) chmod(file, i % 2 ? 0600 : 0644);
    if (waitpid(child, NULL, 0) != child) return 3;
    return childResult;
}
