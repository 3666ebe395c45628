/* A UDP relay that adds a fixed latency to every DNS query before passing it to a real server, and
 * counts the queries by type. Used by bench/mx-check.sh in front of dnsmasq, which has no latency
 * option.
 *
 *   latency-shim LISTEN_PORT UPSTREAM_PORT DELAY_MS STATS_FILE
 *
 * Listens on 127.0.0.1:LISTEN_PORT (then creates STATS_FILE.ready), forwards each query DELAY_MS later to 127.0.0.1:UPSTREAM_PORT and
 * relays the reply to the client at once (so a query's round trip grows by DELAY_MS). Queries wait in
 * a FIFO (they all get the same delay), so many are in flight together, as they would be on a real
 * network. On SIGTERM or SIGINT it writes "TYPE COUNT" lines (A, AAAA, MX, other, total) to STATS_FILE.
 * Replies are matched to clients by DNS id and question, enough for one client at a time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define QUEUE 65536

struct pending {
    double due;
    int len;
    unsigned char bytes[512];
    struct sockaddr_in from;
};

static struct pending *queue;
static int head, tail;
static struct sockaddr_in client_of[65536];
static volatile sig_atomic_t stop;
static long count_a, count_aaaa, count_mx, count_other;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void on_signal(int s) { (void)s; stop = 1; }

static int udp_socket(int port) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int size = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "latency-shim: bind 127.0.0.1:%d: %s\n", port, strerror(errno));
        exit(1);
    }
    return fd;
}

/* The QTYPE after the question name, or -1. */
static int qtype(const unsigned char *b, int len) {
    int at = 12;
    while (at < len && b[at] != 0) at += b[at] + 1;
    return at + 3 <= len ? (b[at + 1] << 8 | b[at + 2]) : -1;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: latency-shim LISTEN_PORT UPSTREAM_PORT DELAY_MS STATS_FILE\n");
        return 64;
    }
    double delay = atof(argv[3]) / 1000.0;
    queue = calloc(QUEUE, sizeof *queue);
    int front = udp_socket(atoi(argv[1]));
    int back = udp_socket(0);
    struct sockaddr_in upstream = {0};
    upstream.sin_family = AF_INET;
    upstream.sin_port = htons(atoi(argv[2]));
    upstream.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    char ready[4096];
    snprintf(ready, sizeof ready, "%s.ready", argv[4]);
    FILE *r = fopen(ready, "w");
    if (r) fclose(r);
    unsigned char buf[4096];
    while (!stop) {
        int timeout = -1;
        if (head != tail) {
            double wait = queue[head].due - now();
            timeout = wait <= 0 ? 0 : (int)(wait * 1000) + 1;
        }
        struct pollfd p[2] = {{front, POLLIN, 0}, {back, POLLIN, 0}};
        if (poll(p, 2, timeout) < 0 && errno != EINTR) break;
        if (p[0].revents & POLLIN) {
            for (;;) {
                struct pending *q = &queue[tail];
                socklen_t fl = sizeof q->from;
                int n = recvfrom(front, q->bytes, sizeof q->bytes, MSG_DONTWAIT, (struct sockaddr *)&q->from, &fl);
                if (n < 12) break;
                if ((tail + 1) % QUEUE == head) continue; /* full: drop, like a congested link */
                q->len = n;
                q->due = now() + delay;
                int t = qtype(q->bytes, n);
                if (t == 1) count_a++; else if (t == 28) count_aaaa++; else if (t == 15) count_mx++; else count_other++;
                tail = (tail + 1) % QUEUE;
            }
        }
        double t = now();
        while (head != tail && queue[head].due <= t) {
            struct pending *q = &queue[head];
            client_of[q->bytes[0] << 8 | q->bytes[1]] = q->from;
            sendto(back, q->bytes, q->len, 0, (struct sockaddr *)&upstream, sizeof upstream);
            head = (head + 1) % QUEUE;
        }
        if (p[1].revents & POLLIN) {
            for (;;) {
                int n = recv(back, buf, sizeof buf, MSG_DONTWAIT);
                if (n < 12) break;
                struct sockaddr_in *to = &client_of[buf[0] << 8 | buf[1]];
                sendto(front, buf, n, 0, (struct sockaddr *)to, sizeof *to);
            }
        }
    }
    FILE *f = fopen(argv[4], "w");
    if (f) {
        fprintf(f, "A %ld\nAAAA %ld\nMX %ld\nother %ld\ntotal %ld\n", count_a, count_aaaa, count_mx, count_other,
                count_a + count_aaaa + count_mx + count_other);
        fclose(f);
    }
    return 0;
}
