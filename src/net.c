/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

static socklen_t loopback(struct sockaddr_storage *ss, int family)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof(*s4);
}

/* Binds fd to an ephemeral loopback port and stores the address in *ss. */
static int bind_loopback(int fd, int family, struct sockaddr_storage *ss,
			 socklen_t *len)
{
	*len = loopback(ss, family);
	if (bind(fd, (struct sockaddr *)ss, *len) ||
	    getsockname(fd, (struct sockaddr *)ss, len))
		return -errno;
	return 0;
}

int zc__tcp_pair(int fds[2], int family)
{
	struct sockaddr_storage ss;
	int lfd, cfd = -1, afd = -1, ret;
	socklen_t len;

	lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	ret = bind_loopback(lfd, family, &ss, &len);
	if (ret)
		goto out;
	ret = -errno;
	if (listen(lfd, 1))
		goto out;
	cfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&ss, len))
		goto out_err;
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (afd < 0)
		goto out_err;
	fds[0] = afd;
	fds[1] = cfd;
	close(lfd);
	return 0;
out_err:
	ret = -errno;
	if (cfd >= 0)
		close(cfd);
out:
	close(lfd);
	return ret;
}

int zc__udp_pair(int fds[2], int family)
{
	struct sockaddr_storage a, b;
	socklen_t alen, blen;
	int ret;

	fds[0] = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	fds[1] = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fds[0] < 0 || fds[1] < 0) {
		ret = -errno;
		goto out;
	}
	ret = bind_loopback(fds[0], family, &a, &alen);
	if (!ret)
		ret = bind_loopback(fds[1], family, &b, &blen);
	if (ret)
		goto out;
	if (connect(fds[0], (struct sockaddr *)&b, blen) ||
	    connect(fds[1], (struct sockaddr *)&a, alen)) {
		ret = -errno;
		goto out;
	}
	return 0;
out:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	return ret;
}
