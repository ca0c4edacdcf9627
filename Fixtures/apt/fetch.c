// Attack scenario (Fixtures/apt): a tiny HTTP/1.0 client for the loopback server.
// Usage: fetch http://127.0.0.1:PORT/NAME OUT
//
// Connects to 127.0.0.1:PORT (loopback only: any other host is refused), sends
// "GET /NAME HTTP/1.0\r\n\r\n", reads the whole response until EOF (read(2) into one
// buffer), checks the status line is "HTTP/1.0 200", finds the blank line that ends the
// head, and writes the body (everything after it) to OUT with one write(2), mode 0755 so
// that a fetched program can run. Exit status 0 on success, 1 on a non-200 answer.
//
// True flows (client process):
//   OUT[0, n) <- socket[h, h + n) byte for byte, h = length of the response head -> data
//   the response head's bytes only steer branches (status check, end of head): implicit
//   the request's bytes <- argv (the URL); the URL's bytes also steer the parsing
//   Nothing the client reads besides the socket reaches OUT.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    const char *prefix = "http://127.0.0.1:";
    if (strncmp(argv[1], prefix, strlen(prefix)) != 0) return 2;
    char *rest = argv[1] + strlen(prefix);
    char *slash = strchr(rest, '/');
    if (!slash) return 2;
    int port = atoi(rest);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port),
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (s < 0 || connect(s, (struct sockaddr *)&address, sizeof address)) return 3;
    char request[512];
    size_t path = strlen(slash);
    if (path > sizeof request - 32) return 2;
    memcpy(request, "GET ", 4);
    memcpy(request + 4, slash, path);
    memcpy(request + 4 + path, " HTTP/1.0\r\n\r\n", 13);
    if (write(s, request, 4 + path + 13) != (ssize_t)(4 + path + 13)) return 3;

    size_t capacity = 1 << 16, used = 0;
    char *response = malloc(capacity);
    for (;;) {
        if (capacity - used < 4096) response = realloc(response, capacity *= 2);
        ssize_t n = read(s, response + used, 4096);
        if (n <= 0) break;
        used += (size_t)n;
    }
    close(s);
    if (used < 12 || memcmp(response, "HTTP/1.0 200", 12) != 0) return 1;
    // The end of the head: scan only up to the first blank line (body bytes are never compared).
    size_t head = 0;
    for (size_t k = 0; k + 4 <= used; k++) {
        if (response[k] == '\r' && response[k + 1] == '\n' && response[k + 2] == '\r' && response[k + 3] == '\n') {
            head = k + 4;
            break;
        }
    }
    if (head == 0) return 1;
    int out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (out < 0) return 4;
    ssize_t written = write(out, response + head, used - head);
    close(out);
    return written == (ssize_t)(used - head) ? 0 : 4;
}
