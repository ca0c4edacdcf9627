// Thread B spins without syscalls until thread A (which first sleeps in nanosleep) sets
// a flag. Serialized threads would deadlock here without the supervisor's watchdog,
// which preempts the spinner and records where.
#include <pthread.h>
#include <stdio.h>
#include <time.h>

static volatile int flag = 0;

static void *setter(void *arg) {
    (void)arg;
    struct timespec ts = { 0, 5000000 };
    nanosleep(&ts, 0);
    flag = 1;
    return 0;
}

static void *spinner(void *arg) {
    (void)arg;
    while (!flag) { }
    return 0;
}

int main(void) {
    pthread_t a, b;
    pthread_create(&b, 0, spinner, 0);
    pthread_create(&a, 0, setter, 0);
    pthread_join(a, 0);
    pthread_join(b, 0);
    puts("done");
    return 0;
}
