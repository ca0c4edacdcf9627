// Attack scenario (Fixtures/apt): a tiny HTTP/1.0 file server on loopback.
// Usage: httpd ROOT REQUESTS PORTFILE
//
// Binds 127.0.0.1 on an ephemeral port, listens, then forks: the child serves, the parent
// writes the port (decimal, newline) to PORTFILE and exits. A caller that runs `httpd` in
// the foreground therefore finds the server listening and PORTFILE complete the moment
// `httpd` returns (a readiness protocol without polling or sleeps). The child serves
// exactly REQUESTS connections, one request each, then exits; it never touches anything
// but loopback and files under ROOT.
//
// One request: read the request head until "\r\n\r\n" (at most 1 KB), take the path of
// "GET /NAME HTTP/1.0" (NAME: letters, digits, '.', '_', '-'; no '/', so nothing outside
// ROOT), open ROOT/NAME, send "HTTP/1.0 200 OK\r\n\r\n" then the file's bytes as read(2)
// delivered them (4 KB chunks), close. A bad request or a missing file gets
// "HTTP/1.0 404 Not Found\r\n\r\n" and no body. No Content-Length: HTTP/1.0 ends the body
// at EOF.
//
// True flows (server process):
//   socket[response, from offset 19] <- ROOT/NAME[0, size) byte for byte       -> data
//   socket[0, 19) (the status line): a constant, chosen by branches on the request bytes
//   the request's NAME bytes name the file opened (a path built from input bytes)
//   PORTFILE <- the port the kernel chose (getsockname), no file's bytes
//   Nothing else the server reads reaches a socket.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char OK[] = "HTTP/1.0 200 OK\r\n\r\n";
static const char MISSING[] = "HTTP/1.0 404 Not Found\r\n\r\n";

static int send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static void serve(int client, const char *root) {
    char head[1024];
    size_t used = 0;
    // Read until the blank line that ends the request head.
    while (used < sizeof head - 1) {
        ssize_t n = read(client, head + used, sizeof head - 1 - used);
        if (n <= 0) break;
        used += (size_t)n;
        head[used] = 0;
        if (strstr(head, "\r\n\r\n")) break;
    }
    head[used] = 0;
    char name[256];
    size_t k = 0;
    int ok = strncmp(head, "GET /", 5) == 0;
    for (const char *p = head + 5; ok && *p != ' '; p++) {
        char c = *p;
        int allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
        if (!allowed || k == sizeof name - 1) ok = 0;
        else name[k++] = c;
    }
    name[k] = 0;
    int fd = -1;
    if (ok && k > 0 && name[0] != '.') {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", root, name);
        fd = open(path, O_RDONLY);
    }
    if (fd < 0) {
        send_all(client, MISSING, sizeof MISSING - 1);
        return;
    }
    if (send_all(client, OK, sizeof OK - 1) == 0) {
        char buffer[4096];
        ssize_t n;
        while ((n = read(fd, buffer, sizeof buffer)) > 0)
            if (send_all(client, buffer, (size_t)n)) break;
    }
    close(fd);
}

int main(int argc, char **argv) {
    if (argc != 4) return 2;
    int requests = atoi(argv[2]);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t length = sizeof address;
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 8) ||
        getsockname(listener, (struct sockaddr *)&address, &length))
        return 3;
    pid_t child = fork();
    if (child < 0) return 4;
    if (child > 0) {
        // The parent: announce the port, then return to the caller (the server is ready).
        FILE *f = fopen(argv[3], "w");
        if (!f) return 5;
        fprintf(f, "%d\n", ntohs(address.sin_port));
        return fclose(f) ? 5 : 0;
    }
    // The child: stdout and stderr must not keep a caller's $(...) open.
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    close(null);
    for (int i = 0; i < requests; i++) {
        int client = accept(listener, NULL, NULL);
        if (client < 0) return 6;
        serve(client, argv[1]);
        close(client);
    }
    close(listener);
    return 0;
}
