// A single-threaded process that spins in user code (no syscalls) until SIGALRM's handler
// sets a flag. An asynchronous signal held for the next syscall would never arrive: the
// supervisor must interrupt the spinner and deliver it where it is (issue 11, part 3).
// The loop counts in a register, so the delivery point is unique for replay.
#include <signal.h>
#include <stdio.h>
#include <sys/time.h>

static volatile sig_atomic_t stop;

static void on_alarm(int signal) { (void)signal; stop = 1; }

int main(void) {
    signal(SIGALRM, on_alarm);
    struct itimerval timer = { { 0, 0 }, { 0, 2000 } };
    setitimer(ITIMER_REAL, &timer, 0);
    unsigned long spins = 0;
    while (!stop) spins++;
    printf("stopped after spinning: %s\n", spins > 0 ? "yes" : "no");
    return 0;
}
