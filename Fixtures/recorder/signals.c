// Installs a SIGUSR1 handler, raises the signal, and prints what the handler saw.
// Exercises: a signal the task sends itself, delivered at a syscall boundary into a
// handler, whose frame and registers are recorded; rt_sigreturn afterwards.
#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t seen = 0;
static void on_usr1(int sig) { seen = sig; }

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, 0);
    raise(SIGUSR1);
    printf("seen=%d\n", (int)seen);
    return seen == SIGUSR1 ? 0 : 1;
}
