// A program that renames argv[1] to argv[2], then creates argv[3] to say so, then waits
// (30 s, or until killed). A recorder killed from outside while it waits must already hold
// the rename's event: the program completed it and went on.
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    if (rename(argv[1], argv[2]) != 0) return 3;
    int fd = open(argv[3], O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) return 4;
    close(fd);
    sleep(30);
    return 0;
}
