// Two processes sharing a page (one shared-memory group, so one of them runs user code at a
// time). The child spins without a syscall until the parent sets a flag; the parent can set
// it only once the watchdog has preempted the child. A preemption whose interrupt was lost
// and never sent again would stall both for good (issue 11, the watchdog).
// argv[1]: a file the process writes its pid (its process group's id) to, for the test's
// deadline to kill the recording by.
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    FILE *pidFile = fopen(argv[1], "w");
    if (!pidFile) return 3;
    fprintf(pidFile, "%d\n", (int)getpid());
    fclose(pidFile);
    atomic_int *flags = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (flags == MAP_FAILED) return 4;
    pid_t child = fork();
    if (child < 0) return 5;
    if (child == 0) {
        atomic_store(&flags[1], 1);                   // spinning from here on
        while (atomic_load(&flags[0]) == 0) { }       // no syscall: only the watchdog stops it
        _exit(0);
    }
    while (atomic_load(&flags[1]) == 0) usleep(1000);  // the child holds the token now
    atomic_store(&flags[0], 1);                        // needs the token back
    int status = 0;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 6;
    return 0;
}
