// Reads the file named by argv[1] with read(2) and copies it to stdout.
// Exercises: openat, read (bytes the kernel wrote into our buffer), write, close.
#include <fcntl.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) return 1;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) write(1, buf, (size_t)n);
    close(fd);
    return 0;
}
