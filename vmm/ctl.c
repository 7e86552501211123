/* SPDX-License-Identifier: Apache-2.0 */
/* The control socket's wire: see vmm/ctl.h. */
#include "vmm/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/cleanup.h"

int ctl_send(int sock, const json_t *obj, const int *fds, unsigned nfds, struct kv_err *err)
{
	cleanup_free char *text = json_dumps(obj, JSON_COMPACT);
	if (!text)
		return kv_err_set(err, ENOMEM, "control message: out of memory");
	size_t len = strlen(text);
	if (len > CTL_MSG_MAX)
		return kv_err_set(err, EMSGSIZE, "control message of %zu bytes (at most %u)", len,
				  CTL_MSG_MAX);
	if (nfds > CTL_MAX_FDS)
		return kv_err_set(err, EINVAL, "control message with %u fds", nfds);
	struct iovec iov = {.iov_base = text, .iov_len = len};
	union {
		char buf[CMSG_SPACE(sizeof(int) * CTL_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	ssize_t n;
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return kv_err_sys(err, errno, "control socket: send");
	return 0;
}

int ctl_recv(int sock, int timeout_ms, json_t **obj, int *fds, unsigned *nfds, struct kv_err *err)
{
	*obj = NULL;
	if (nfds)
		*nfds = 0;
	if (timeout_ms >= 0) {
		struct pollfd p = {.fd = sock, .events = POLLIN};
		int r;
		do
			r = poll(&p, 1, timeout_ms);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return kv_err_sys(err, errno, "control socket: poll");
		if (r == 0)
			return kv_err_set(err, ETIMEDOUT, "the sandbox did not answer within %d ms",
					  timeout_ms);
	}
	cleanup_free char *buf = malloc(CTL_MSG_MAX + 1);
	if (!buf)
		return kv_err_set(err, ENOMEM, "control message: out of memory");
	struct iovec iov = {.iov_base = buf, .iov_len = CTL_MSG_MAX};
	union {
		char b[CMSG_SPACE(sizeof(int) * CTL_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b)};
	ssize_t n;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return kv_err_sys(err, errno, "control socket: receive");
	unsigned got = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int tmp[16];
		if (k > 16)
			k = 16;
		memcpy(tmp, CMSG_DATA(c), k * sizeof(int));
		for (unsigned i = 0; i < k; i++) {
			if (fds && nfds && got < CTL_MAX_FDS)
				fds[got++] = tmp[i];
			else
				close(tmp[i]);
		}
	}
	if (nfds)
		*nfds = got;
	if (n == 0)
		return kv_err_set(err, ECONNRESET, "the sandbox closed the control connection");
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return kv_err_set(err, EMSGSIZE, "control message truncated");
	buf[n] = 0;
	json_error_t je;
	*obj = json_loadb(buf, (size_t)n, 0, &je);
	if (!*obj || !json_is_object(*obj)) {
		json_decref(*obj);
		*obj = NULL;
		return kv_err_set(err, EBADMSG, "control message is not a JSON object");
	}
	return 0;
}

int ctl_connect(int dir_fd, struct kv_err *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dir_fd, CTL_SOCKET_NAME);
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return kv_err_sys(err, errno, "control socket");
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(s);
		if (e == ENOENT || e == ECONNREFUSED)
			return kv_err_set(err, e, "the sandbox is not running (no control socket)");
		return kv_err_sys(err, e, "connecting to the sandbox");
	}
	return s;
}

int ctl_call_on(int sock, const json_t *req, const int *fds, unsigned nfds, int timeout_ms,
		json_t **reply, struct kv_err *err)
{
	*reply = NULL;
	int r = ctl_send(sock, req, fds, nfds, err);
	if (r < 0)
		return r;
	json_t *rep = NULL;
	if ((r = ctl_recv(sock, timeout_ms, &rep, NULL, NULL, err)) < 0)
		return r;
	json_t *e = json_object_get(rep, "error");
	if (e) {
		int errnum = (int)json_integer_value(json_object_get(rep, "errno"));
		kv_err_set(err, errnum > 0 ? errnum : EIO, "%s",
			   json_is_string(e) ? json_string_value(e) : "the sandbox failed");
		json_decref(rep);
		return -(errnum > 0 ? errnum : EIO);
	}
	*reply = rep;
	return 0;
}

int ctl_call(int dir_fd, const json_t *req, const int *fds, unsigned nfds, int timeout_ms,
	     json_t **reply, struct kv_err *err)
{
	int s = ctl_connect(dir_fd, err);
	if (s < 0)
		return s;
	int r = ctl_call_on(s, req, fds, nfds, timeout_ms, reply, err);
	close(s);
	return r;
}

json_t *ctl_error_reply(int errnum, const char *msg)
{
	return json_pack("{s:s, s:i}", "error", msg && *msg ? msg : strerror(errnum), "errno",
			 errnum);
}
