/*
 * noopd: the runtime benchmark's backend, a minimal keep-alive HTTP
 * server that answers every request with a successful Link Loom result
 * and does nothing else, so that the benchmark measures Link Loom and not
 * its backend.  One thread, epoll, non-blocking sockets; a request ends
 * after its headers and Content-Length bytes of body (no chunked bodies:
 * loom-exec always sends a length).
 *
 *   noopd [-p PORT]    listens on 127.0.0.1 (0: any free port) and prints
 *                      "port N" on standard output once it listens
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ 65536

struct conn {
	int fd;
	size_t len;
	char buf[BUFSZ];
};

static const char answer[] = "HTTP/1.1 200 OK\r\n"
			     "Content-Type: application/json\r\n"
			     "Content-Length: 33\r\n"
			     "\r\n"
			     "{\"status\":\"SUCCESS\",\"output\":{}}\n";

/* The length of the first whole request in c->buf, or 0. */
static size_t
request_len(const struct conn *c)
{
	const char *end = memmem(c->buf, c->len, "\r\n\r\n", 4), *p;
	size_t head, body = 0;

	if (end == NULL)
		return 0;
	head = (size_t)(end - c->buf) + 4;
	for (p = c->buf; p < end; p++) {
		if ((p == c->buf || p[-1] == '\n') &&
		    strncasecmp(p, "content-length:", 15) == 0) {
			body = strtoul(p + 15, NULL, 10);
			break;
		}
	}
	return c->len >= head + body ? head + body : 0;
}

static void
drop(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

/* Reads what is there and answers every whole request; -1: closed. */
static int
serve(struct conn *c)
{
	for (;;) {
		ssize_t n;
		size_t k;

		if (c->len == sizeof(c->buf))
			return -1; /* a request larger than we take */
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->len += (size_t)n;
		while ((k = request_len(c)) > 0) {
			if (write(c->fd, answer, sizeof(answer) - 1) !=
			    (ssize_t)sizeof(answer) - 1)
				return -1;
			memmove(c->buf, c->buf + k, c->len - k);
			c->len -= k;
		}
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	struct epoll_event ev, evs[64];
	int ls, ep, one = 1, port = 0, ch;

	while ((ch = getopt(argc, argv, "p:")) != -1) {
		if (ch != 'p') {
			fprintf(stderr, "usage: noopd [-p port]\n");
			return 2;
		}
		port = atoi(optarg);
	}
	signal(SIGPIPE, SIG_IGN);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(ls, 4096) < 0 ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl) < 0) {
		perror("noopd: listen");
		return 1;
	}
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		perror("noopd: epoll");
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	printf("port %d\n", ntohs(sa.sin_port));
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(ep, evs, 64, -1);

		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c == NULL) {
				int fd;

				while (
				    (fd = accept4(ls, NULL, NULL,
					 SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
					    &one, sizeof(one));
					c = calloc(1, sizeof(*c));
					if (c == NULL) {
						close(fd);
						continue;
					}
					c->fd = fd;
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			if (serve(c) < 0)
				drop(ep, c);
		}
		if (n < 0 && errno != EINTR) {
			perror("noopd: epoll_wait");
			return 1;
		}
	}
}
