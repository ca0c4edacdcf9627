// One writev of 1,024 iovecs that all point at the same 16 MB buffer (issue 11, "Big
// inputs"): `writev_repeated FILE [MB]`. The kernel takes at most MAX_RW_COUNT (just under
// 2 GiB) from the array, so it writes that much to FILE; the recorder must digest what the
// kernel consumed once, not 16 GiB. Prints the writev result.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    size_t size = (size_t)(argc > 2 ? atoi(argv[2]) : 16) << 20;
    char *buffer = malloc(size);
    if (!buffer) return 3;
    for (size_t i = 0; i < size; i++) buffer[i] = (char)('a' + i % 26);
    static struct iovec iov[1024];
    for (int i = 0; i < 1024; i++) { iov[i].iov_base = buffer; iov[i].iov_len = size; }
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return 3;
    ssize_t n = writev(fd, iov, 1024);
    printf("%zd\n", n);
    return n > 0 ? 0 : 4;
}
