/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container stdio.  Without a terminal the process's fds 0-2 *are* vsock
 * streams to the host ports named in the request (or /dev/null for port
 * 0): the agent connects them before fork and never touches the bytes, so
 * back-pressure is vsock's own credit flow, and the host closing its side
 * of stdin is EOF in the container.
 *
 * With a terminal, the child makes a pty in the container's devpts and
 * passes the master back; the agent relays master <-> one vsock stream
 * (the console port) through two bounded buffers, reading a side only
 * while there is room for what it would read.  When the pty's last user
 * is gone (EIO on the master) the remaining output is flushed and the
 * stream is shut down for writing, which the host sees as EOF.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest/agent/agent.h"

int stdio_connect(struct agent *a, const struct agent_process *p, int fds[3], int *console,
		  struct kv_err *err)
{
	const uint32_t ports[3] = {p->stdin_port, p->stdout_port, p->stderr_port};
	fds[0] = fds[1] = fds[2] = a->devnull;
	*console = -1;
	if (p->terminal) {
		if (!p->console_port)
			return kv_err_set(err, EINVAL, "terminal without a console port");
		*console = net_vsock_connect(a->cfg.cid, p->console_port, 5000, err);
		return *console < 0 ? kv_err_wrap(err, *console, "console stream") : 0;
	}
	for (int i = 0; i < 3; i++) {
		if (!ports[i])
			continue;
		int fd = net_vsock_connect(a->cfg.cid, ports[i], 5000, err);
		if (fd < 0) {
			for (int j = 0; j < i; j++)
				if (fds[j] != a->devnull)
					close(fds[j]);
			return kv_err_wrap(err, fd, "stdio stream %d", i);
		}
		fds[i] = fd;
	}
	return 0;
}

static void relay_interest(struct agent *a, unsigned idx, struct relay *r)
{
	uint32_t m = 0, s = 0;
	if (!r->master_eof && r->to_sock_len < RELAY_BUF)
		m |= EPOLLIN;
	if (r->to_pty_len)
		m |= EPOLLOUT;
	if (!r->sock_eof && r->to_pty_len < RELAY_BUF)
		s |= EPOLLIN;
	if (r->to_sock_len)
		s |= EPOLLOUT;
	if (r->master >= 0)
		agent_epoll_set(a, r->master, m, TOKEN(TOK_PTY, idx), false);
	if (r->sock >= 0)
		agent_epoll_set(a, r->sock, s, TOKEN(TOK_PTYSOCK, idx), false);
}

int relay_start(struct agent *a, unsigned idx, int master, int sock)
{
	struct relay *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->master = master;
	r->sock = sock;
	fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
	fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);
	if (agent_epoll_set(a, master, EPOLLIN, TOKEN(TOK_PTY, idx), true) < 0 ||
	    agent_epoll_set(a, sock, EPOLLIN, TOKEN(TOK_PTYSOCK, idx), true) < 0) {
		free(r);
		return -EIO;
	}
	a->procs[idx].relay = r;
	return 0;
}

void relay_free(struct agent *a, struct proc *p)
{
	struct relay *r = p->relay;
	if (!r)
		return;
	if (r->master >= 0)
		close(r->master);
	if (r->sock >= 0)
		close(r->sock);
	free(r);
	p->relay = NULL;
}

/* Moves what fits from fd into buf; true at EOF (or a dead pty). */
static bool fill(int fd, uint8_t *buf, size_t *len)
{
	while (*len < RELAY_BUF) {
		ssize_t n = read(fd, buf + *len, RELAY_BUF - *len);
		if (n > 0) {
			*len += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n == 0 || errno != EAGAIN;
	}
	return false;
}

/* Writes what fd takes from buf; false when fd is broken. */
static bool drain(int fd, uint8_t *buf, size_t *len)
{
	size_t off = 0;
	while (off < *len) {
		ssize_t n = write(fd, buf + off, *len - off);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		*len = 0;
		return false;
	}
	memmove(buf, buf + off, *len - off);
	*len -= off;
	return true;
}

void relay_event(struct agent *a, unsigned idx, bool pty_side, uint32_t events)
{
	if (idx >= AGENT_PROC_SLOTS || !a->procs[idx].relay)
		return;
	struct relay *r = a->procs[idx].relay;
	(void)pty_side;
	(void)events;
	if (!r->master_eof)
		r->master_eof = fill(r->master, r->to_sock, &r->to_sock_len);
	if (!r->sock_eof)
		r->sock_eof = fill(r->sock, r->to_pty, &r->to_pty_len);
	if (!drain(r->sock, r->to_sock, &r->to_sock_len))
		r->master_eof = true; /* the host is gone: nowhere to send output */
	if (!drain(r->master, r->to_pty, &r->to_pty_len))
		r->sock_eof = true;
	if (r->master_eof && !r->to_sock_len) {
		shutdown(r->sock, SHUT_WR);
		relay_free(a, &a->procs[idx]);
		return;
	}
	relay_interest(a, idx, r);
}
