// A SIGALRM timer fires while the program computes in user mode; the handler sets a flag
// the loop polls between getppid() calls. The recorder must hold the signal and deliver
// it at a syscall boundary (recorded as asynchronous, handled).
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t fired = 0;
static void on_alarm(int sig) { (void)sig; fired = 1; }

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, 0);
    struct itimerval t = { { 0, 0 }, { 0, 20000 } };
    setitimer(ITIMER_REAL, &t, 0);
    volatile unsigned long spin = 0;
    while (!fired) {
        for (int i = 0; i < 100000; i++) spin++;
        getppid();
    }
    printf("fired after %lu\n", spin);
    return 0;
}
