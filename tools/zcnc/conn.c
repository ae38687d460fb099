/* SPDX-License-Identifier: MIT */
/* zcnc: listening for one connection, or connecting, like nc does. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zcnc.h"

/* "addr port", numeric, for messages and the summary. */
static void format_addr(const struct sockaddr *sa, socklen_t len, char *buf,
			size_t size)
{
	/* Numeric: an IPv6 address with a scope name fits in 64. */
	char host[72], serv[8];
	struct sockaddr_in s4;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

	/* An IPv4 peer of the dual-stack listener shows as ::ffff:a.b.c.d;
	 * print it the way the peer knows itself. */
	if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		memset(&s4, 0, sizeof(s4));
		s4.sin_family = AF_INET;
		s4.sin_port = s6->sin6_port;
		memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
		sa = (const struct sockaddr *)&s4;
		len = sizeof(s4);
	}
	if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV)) {
		snprintf(buf, size, "?");
		return;
	}
	snprintf(buf, size, "%s %s", host, serv);
}

static void record_ends(int fd, struct zcnc_result *res)
{
	/* Zeroed: clang-analyzer does not see getsockname() fill it. */
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);

	if (!getsockname(fd, (struct sockaddr *)&ss, &len))
		format_addr((struct sockaddr *)&ss, len, res->local,
			    sizeof(res->local));
	len = sizeof(ss);
	if (!getpeername(fd, (struct sockaddr *)&ss, &len))
		format_addr((struct sockaddr *)&ss, len, res->peer,
			    sizeof(res->peer));
}

/* getaddrinfo's errors are not errnos: word them ourselves. */
static int resolve(const struct zcnc_cfg *cfg, const char *host,
		   const char *port, int flags, struct addrinfo **out,
		   struct zcnc_result *res)
{
	struct addrinfo hints;
	int ret;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = cfg->family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = flags | AI_ADDRCONFIG;
	ret = getaddrinfo(host, port, &hints, out);
	/* AI_ADDRCONFIG hides ::1 and 127.0.0.1 in a namespace whose only
	 * interface is lo: try again without it. */
	if (ret == EAI_NONAME || ret == EAI_ADDRFAMILY || ret == EAI_NODATA) {
		hints.ai_flags &= ~AI_ADDRCONFIG;
		ret = getaddrinfo(host, port, &hints, out);
	}
	if (!ret)
		return 0;
	snprintf(res->error, sizeof(res->error), "resolve %.100s: %s",
		 host ? host : "(any)",
		 ret == EAI_SYSTEM ? strerror(errno) : gai_strerror(ret));
	res->exit_code = ZCNC_EXIT_ERROR;
	return -1;
}

static int bind_source(int fd, const struct zcnc_cfg *cfg, int family,
		       struct zcnc_result *res)
{
	struct addrinfo *ai, *a;
	int ret = -EAFNOSUPPORT;

	if (resolve(cfg, cfg->source, NULL, AI_PASSIVE, &ai, res))
		return -1;
	for (a = ai; a; a = a->ai_next) {
		if (a->ai_family != family)
			continue;
		ret = bind(fd, a->ai_addr, a->ai_addrlen) ? -errno : 0;
		break;
	}
	freeaddrinfo(ai);
	if (ret) {
		char ctx[200];

		snprintf(ctx, sizeof(ctx), "bind %s", cfg->source);
		zcnc_fail(res, ZCNC_EXIT_ERROR, ctx, -ret);
		return -1;
	}
	return 0;
}

int zcnc_connect(const struct zcnc_cfg *cfg, struct zcnc_result *res)
{
	struct addrinfo *ai, *a;
	int fd = -1, err = 0;
	char ctx[200];

	if (resolve(cfg, cfg->host, cfg->port, 0, &ai, res))
		return -1;
	/* Every address the name has, in order, like nc. */
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (cfg->source && bind_source(fd, cfg, a->ai_family, res)) {
			close(fd);
			freeaddrinfo(ai);
			return -1;
		}
		while (connect(fd, a->ai_addr, a->ai_addrlen)) {
			err = errno;
			if (err == EINTR && !zcnc_interrupted)
				continue;
			close(fd);
			fd = -1;
			break;
		}
		if (fd >= 0 || zcnc_interrupted)
			break;
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		snprintf(ctx, sizeof(ctx), "connect %s port %s", cfg->host,
			 cfg->port);
		if (zcnc_interrupted)
			return -1;
		zcnc_fail(res, ZCNC_EXIT_ERROR, ctx, err);
		return -1;
	}
	record_ends(fd, res);
	return fd;
}

/* Binds and listens on one address; returns the fd or -errno. */
static int try_listen(const struct zcnc_cfg *cfg, const struct addrinfo *a)
{
	int fd, one = 1, zero = 0, err;

	fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* No address and no -4/-6: one IPv6 socket that takes IPv4 too, as
	 * nc does, whatever net.ipv6.bindv6only says. */
	if (a->ai_family == AF_INET6 && !cfg->host && cfg->family == AF_UNSPEC)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, a->ai_addr, a->ai_addrlen) || listen(fd, 1)) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

/* The wildcard address prefers IPv6 (it covers both families); other
 * addresses are tried in resolver order while the family is missing. */
static int listen_socket(const struct zcnc_cfg *cfg, struct zcnc_result *res)
{
	struct addrinfo *ai, *a, *pick = NULL;
	char ctx[300];
	int fd;

	if (resolve(cfg, cfg->host, cfg->port, AI_PASSIVE, &ai, res))
		return -1;
	for (a = ai; a && !cfg->host; a = a->ai_next)
		if (a->ai_family == AF_INET6) {
			pick = a;
			break;
		}
	fd = pick ? try_listen(cfg, pick) : -EAFNOSUPPORT;
	for (a = ai; a && fd == -EAFNOSUPPORT; a = a->ai_next)
		if (a != pick)
			fd = try_listen(cfg, a);
	freeaddrinfo(ai);
	if (fd >= 0)
		return fd;
	snprintf(ctx, sizeof(ctx), "listen %s port %s",
		 cfg->host ? cfg->host : "(any)", cfg->port);
	zcnc_fail(res, ZCNC_EXIT_ERROR, ctx, -fd);
	return -1;
}

int zcnc_accept(const struct zcnc_cfg *cfg, struct zcnc_result *res)
{
	int lfd, fd;

	lfd = listen_socket(cfg, res);
	if (lfd < 0)
		return -1;
	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			break;
		if (errno == EINTR && !zcnc_interrupted)
			continue;
		/* Errors of the pending connection, not of the listener:
		 * accept(2) says to retry. */
		if (errno == ECONNABORTED || errno == EPROTO)
			continue;
		if (!zcnc_interrupted)
			zcnc_fail(res, ZCNC_EXIT_ERROR, "accept", errno);
		close(lfd);
		return -1;
	}
	/* One connection, like nc without -k. */
	close(lfd);
	record_ends(fd, res);
	return fd;
}
