/*
 * The blocking socket client of the seed text, for the socket_server
 * example: connects to 127.0.0.1, sends "Hello, Server!", waits for the
 * reply and prints it. The port is argv[1] (default 8080).
 *
 * Build and run:  gcc -o seed_client examples/seed_client.c && ./seed_client 8080
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long port = 8080;
    if (argc > 1) {
        char *end = NULL;
        port = strtol(argv[1], &end, 10);
        if (*argv[1] == '\0' || *end != '\0' || port < 1 || port > 65535) {
            fprintf(stderr, "usage: %s [PORT]  (PORT in 1..65535, default 8080)\n", argv[0]);
            return 2;
        }
    }

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("socket");
        return 1;
    }

    struct sockaddr_in server;
    memset(&server, 0, sizeof(server));
    server.sin_family = AF_INET;
    server.sin_port = htons((unsigned short)port);
    server.sin_addr.s_addr = inet_addr("127.0.0.1");

    if (connect(fd, (struct sockaddr *)&server, sizeof(server)) < 0) {
        perror("connect");
        close(fd);
        return 1;
    }

    /* Blocking send: returns once the kernel has taken the bytes. */
    const char *message = "Hello, Server!";
    if (send(fd, message, strlen(message), 0) < 0) {
        perror("send");
        close(fd);
        return 1;
    }

    /* Blocking receive: the client waits here for the server's reply. */
    char buffer[1024];
    ssize_t n = recv(fd, buffer, sizeof(buffer) - 1, 0);
    if (n < 0) {
        perror("recv");
        close(fd);
        return 1;
    }
    buffer[n] = '\0';
    /* Drop a trailing newline so the output is one line. */
    while (n > 0 && (buffer[n - 1] == '\n' || buffer[n - 1] == '\r')) {
        buffer[--n] = '\0';
    }
    printf("Received: %s\n", buffer);

    close(fd);
    return 0;
}
