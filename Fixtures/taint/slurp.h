// Shared by the taint ground-truth fixtures: read a whole file with read(2).
//
// slurp() branches only on what read(2) returns (how many bytes), never on the bytes
// themselves, so a file read with it is no control source by itself. Chunks are 4096
// bytes, so a file of more than 4096 bytes arrives in several read events at increasing
// file offsets. Files here stay far below malloc's mmap threshold: realloc copies with
// memcpy, and nothing is ever mremap'ed.
#ifndef SLURP_H
#define SLURP_H
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static unsigned char *slurp(const char *path, size_t *size) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return NULL;
    size_t capacity = 8192, used = 0;
    unsigned char *buffer = malloc(capacity);
    for (;;) {
        if (capacity - used < 4096) {
            capacity *= 2;
            buffer = realloc(buffer, capacity);
        }
        ssize_t n = read(fd, buffer + used, 4096);
        if (n <= 0) break;
        used += (size_t)n;
    }
    close(fd);
    *size = used;
    return buffer;
}

/// Creates (truncating) PATH and writes N bytes of BUFFER to it with one write(2).
static int spill(const char *path, const void *buffer, size_t n) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    ssize_t written = write(fd, buffer, n);
    close(fd);
    return written == (ssize_t)n ? 0 : -1;
}
#endif
