// A nanosleep interrupted by SIGCHLD (default disposition). Natively an ignored signal
// never wakes the sleeper; under ptrace it does, the call ends with
// ERESTART_RESTARTBLOCK, and the kernel resumes it with restart_syscall. Then the parent
// reaps the child with wait4.
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(void) {
    pid_t child = fork();
    if (child == 0) {
        struct timespec brief = { 0, 20 * 1000 * 1000 };
        nanosleep(&brief, NULL);
        _exit(3);
    }
    struct timespec wait = { 0, 300 * 1000 * 1000 };
    int r = nanosleep(&wait, NULL);
    int status = 0;
    waitpid(child, &status, 0);
    printf("nanosleep %d, child status %d\n", r, WEXITSTATUS(status));
    return 0;
}
