// Job control inside a recording (issue 11): stopping signals of the recorded tree must stop
// only the tasks they target, never the recorder, and the recording must go on after each
// SIGCONT.
//   1. The parent stops its child with SIGSTOP (and then SIGTSTP), sees it stopped through
//      waitpid(WUNTRACED), continues it (WCONTINUED) and lets it finish.
//   2. A child stops itself (raise(SIGSTOP)); once the parent has seen it stopped
//      (waitpid(WUNTRACED)) its sibling sends SIGCONT, and the stopped one exits 9.
// Exit 0 when every step behaved as it does without a recorder; otherwise the number of
// the check that failed.
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms) {
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };
    nanosleep(&t, NULL);
}

int main(void) {
    // 1. The parent stops and continues its child.
    pid_t child = fork();
    if (child == 0) {
        // Busy for a while in short syscalls, then exit 7.
        for (int i = 0; i < 60; i++) nap(5);
        _exit(7);
    }
    int status = 0;
    for (int round = 0; round < 2; round++) {
        kill(child, round == 0 ? SIGSTOP : SIGTSTP);
        if (waitpid(child, &status, WUNTRACED) != child || !WIFSTOPPED(status)) return 1;
        if (WSTOPSIG(status) != (round == 0 ? SIGSTOP : SIGTSTP)) return 2;
        kill(child, SIGCONT);
        if (waitpid(child, &status, WCONTINUED) != child || !WIFCONTINUED(status)) return 3;
    }
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 7) return 4;

    // 2. A child stops itself; once the parent has seen it stopped, its sibling continues it.
    int go[2];
    if (pipe(go) != 0) return 10;
    pid_t sleeper = fork();
    if (sleeper == 0) {
        raise(SIGSTOP);
        _exit(9);  // only after the sibling's SIGCONT
    }
    pid_t waker = fork();
    if (waker == 0) {
        close(go[1]);
        char c;
        if (read(go[0], &c, 1) != 1) _exit(1);
        _exit(kill(sleeper, SIGCONT) == 0 ? 0 : 2);
    }
    close(go[0]);
    if (waitpid(sleeper, &status, WUNTRACED) != sleeper || !WIFSTOPPED(status)) return 5;
    if (write(go[1], "c", 1) != 1) return 10;
    if (waitpid(waker, &status, 0) != waker || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 6;
    if (waitpid(sleeper, &status, 0) != sleeper || !WIFEXITED(status) || WEXITSTATUS(status) != 9) return 7;
    printf("job control ok\n");
    return 0;
}
