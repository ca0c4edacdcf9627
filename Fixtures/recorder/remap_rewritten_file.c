// Maps a file, rewrites it, and maps it again: same device, inode, offset and length,
// new contents. Both in place (O_TRUNC keeps the inode) and through a lock file renamed
// over it, twice, as git writes its config (the second lock file may reuse the inode the
// first rename freed). Each mapping's bytes are written to stdout.
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void put(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write(fd, text, strlen(text));
    close(fd);
}

static void show(const char *path) {
    int fd = open(path, O_RDONLY);
    struct stat st;
    fstat(fd, &st);
    char *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    write(1, p, (size_t)st.st_size);
    munmap(p, (size_t)st.st_size);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    char file[4096], lock[4096];
    snprintf(file, sizeof file, "%s/config", dir);
    snprintf(lock, sizeof lock, "%s/config.lock", dir);
    put(file, "[core]\n");
    show(file);
    put(file, "[core]\n\tbare = false\n");
    show(file);
    for (int i = 0; i < 3; i++) {
        put(lock, i == 0 ? "[core]\n\tbare = false\n\tfilemode = true\n" : "[core]\n\tbare = false\n\tfilemode = true\n\tlogallrefupdates = true\n");
        rename(lock, file);
        show(file);
    }
    return 0;
}
