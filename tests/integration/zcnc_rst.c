/* SPDX-License-Identifier: MIT */
/*
 * zcnc_rst: a peer that resets the connection, for zcnc's exit-code tests.
 *
 *   zcnc_rst send ADDR PORT BYTES     connect, send BYTES of zcnc_gen's
 *                                     pattern (seed 1), then reset
 *   zcnc_rst recv ADDR PORT BYTES     listen, accept one connection, read
 *                                     BYTES, then reset
 *
 * The reset is close() with SO_LINGER {1, 0}: the kernel sends RST instead
 * of FIN and drops whatever is still queued, so the other end never sees a
 * clean end of stream. Numeric addresses only; the tests pass addresses of
 * the namespaces they created.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static socklen_t parse_addr(const char *addr, const char *port,
			    struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	int p = atoi(port);

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		return sizeof(*s4);
	}
	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		return sizeof(*s6);
	}
	return 0;
}

static void reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static int do_send(int fd, unsigned long long total)
{
	uint8_t buf[4096];
	unsigned long long word = 0;
	size_t i, b, chunk;
	ssize_t n;

	while (total) {
		for (i = 0; i < sizeof(buf); i += 8) {
			uint64_t v = splitmix64(1 + word++);

			for (b = 0; b < 8; b++)
				buf[i + b] = (uint8_t)(v >> (8 * b));
		}
		chunk = total < sizeof(buf) ? total : sizeof(buf);
		for (i = 0; i < chunk; i += (size_t)n) {
			n = send(fd, buf + i, chunk - i, MSG_NOSIGNAL);
			if (n < 0) {
				perror("zcnc_rst: send");
				return 1;
			}
		}
		total -= chunk;
	}
	return 0;
}

static int do_recv(int fd, unsigned long long total)
{
	uint8_t buf[65536];
	ssize_t n;

	while (total) {
		n = recv(fd, buf, total < sizeof(buf) ? total : sizeof(buf), 0);
		if (n <= 0) {
			fprintf(stderr, "zcnc_rst: stream ended early\n");
			return 1;
		}
		total -= (size_t)n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	unsigned long long total;
	int fd, lfd, one = 1, ret;
	socklen_t len;

	if (argc != 5 || (strcmp(argv[1], "send") && strcmp(argv[1], "recv"))) {
		fprintf(stderr, "usage: zcnc_rst send|recv ADDR PORT BYTES\n");
		return 2;
	}
	len = parse_addr(argv[2], argv[3], &ss);
	if (!len) {
		fprintf(stderr, "zcnc_rst: bad address '%s'\n", argv[2]);
		return 2;
	}
	total = strtoull(argv[4], NULL, 0);
	if (!strcmp(argv[1], "send")) {
		fd = socket(ss.ss_family, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len)) {
			perror("zcnc_rst: connect");
			return 1;
		}
		ret = do_send(fd, total);
	} else {
		lfd = socket(ss.ss_family, SOCK_STREAM, 0);
		if (lfd < 0) {
			perror("zcnc_rst: socket");
			return 1;
		}
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(lfd, (struct sockaddr *)&ss, len) || listen(lfd, 1)) {
			perror("zcnc_rst: listen");
			return 1;
		}
		fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			perror("zcnc_rst: accept");
			return 1;
		}
		close(lfd);
		ret = do_recv(fd, total);
	}
	reset(fd);
	return ret;
}
