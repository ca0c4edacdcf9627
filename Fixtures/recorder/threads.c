// Four worker threads hand a counter around under a mutex and condition variable,
// then the main thread joins them and prints the total.
// Exercises: clone(CLONE_THREAD), futex waits, serialized thread scheduling.
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn = PTHREAD_COND_INITIALIZER;
static int counter = 0, next_worker = 0;
enum { WORKERS = 4, ROUNDS = 50 };

static void *worker(void *arg) {
    int me = (int)(long)arg;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_mutex_lock(&lock);
        while (next_worker != me) pthread_cond_wait(&turn, &lock);
        counter++;
        next_worker = (me + 1) % WORKERS;
        pthread_cond_broadcast(&turn);
        pthread_mutex_unlock(&lock);
    }
    return 0;
}

int main(void) {
    pthread_t threads[WORKERS];
    for (long i = 0; i < WORKERS; i++) pthread_create(&threads[i], 0, worker, (void *)i);
    for (int i = 0; i < WORKERS; i++) pthread_join(threads[i], 0);
    printf("counter=%d\n", counter);
    return counter == WORKERS * ROUNDS ? 0 : 1;
}
