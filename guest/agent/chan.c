/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control channel to the host: a non-blocking vsock stream.  Input is
 * reassembled into whole frames (header first, then the length it
 * announces, never more than AGENT_MAX_FRAME buffered) and each frame is
 * handed to the caller, which decodes it with guest/protocol.c.  A header
 * announcing more than the protocol allows means the stream cannot be
 * resynchronised: that, and EOF, end the channel.  Output goes through a
 * queue bounded by CHAN_WMAX, flushed as the socket accepts it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest/agent/agent.h"

#define CHAN_WMAX (16u << 20)

int chan_open(struct chan *c, uint32_t cid, uint32_t port, unsigned timeout_ms, struct kv_err *err)
{
	int fd = net_vsock_connect(cid, port, timeout_ms, err);
	if (fd < 0)
		return kv_err_wrap(err, fd, "control channel");
	return chan_adopt(c, fd, err);
}

int chan_adopt(struct chan *c, int fd, struct kv_err *err)
{
	c->fd = -1;
	c->rbuf = malloc(AGENT_MAX_FRAME);
	if (!c->rbuf) {
		close(fd);
		return kv_err_set(err, ENOMEM, "control channel buffer");
	}
	c->rlen = c->wlen = c->wcap = 0;
	c->wbuf = NULL;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		close(fd);
		return kv_err_sys(err, errno, "control channel: O_NONBLOCK");
	}
	c->fd = fd;
	return 0;
}

void chan_close(struct chan *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->rbuf);
	free(c->wbuf);
	c->rbuf = c->wbuf = NULL;
	c->rlen = c->wlen = c->wcap = 0;
}

/* Hands every complete frame in the buffer to fn; -EMSGSIZE when a header
 * announces an impossible length. */
static int deliver(struct chan *c, chan_frame_fn fn, void *ctx, struct kv_err *err)
{
	size_t off = 0;
	while (c->rlen - off >= AGENT_HDR_SIZE) {
		struct agent_hdr h;
		int r = agent_hdr_decode(c->rbuf + off, c->rlen - off, &h);
		if (r == -EMSGSIZE)
			return kv_err_set(err, EMSGSIZE,
					  "control channel: frame of %u bytes announced (max %u)",
					  h.len, AGENT_MAX_PAYLOAD);
		size_t flen = AGENT_HDR_SIZE + (size_t)h.len;
		if (c->rlen - off < flen)
			break;
		/* an unknown type still has a trustworthy length: the
		 * handler answers it with an ERROR */
		fn(ctx, c->rbuf + off, flen);
		off += flen;
	}
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
	return 0;
}

int chan_read(struct chan *c, chan_frame_fn fn, void *ctx, struct kv_err *err)
{
	for (;;) {
		ssize_t n = read(c->fd, c->rbuf + c->rlen, AGENT_MAX_FRAME - c->rlen);
		if (n == 0)
			return kv_err_set(err, EPIPE, "control channel closed by the host");
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return kv_err_sys(err, errno, "control channel read");
		}
		c->rlen += (size_t)n;
		int r = deliver(c, fn, ctx, err);
		if (r < 0)
			return r;
	}
}

int chan_flush(struct chan *c)
{
	size_t off = 0;
	while (off < c->wlen) {
		ssize_t n = write(c->fd, c->wbuf + off, c->wlen - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			c->wlen = 0;
			return -errno;
		}
		off += (size_t)n;
	}
	memmove(c->wbuf, c->wbuf + off, c->wlen - off);
	c->wlen -= off;
	return 0;
}

int chan_queue(struct chan *c, const uint8_t *frame, size_t len)
{
	if (c->fd < 0)
		return -ENOTCONN;
	if (len > CHAN_WMAX - c->wlen)
		return -ENOBUFS;
	if (c->wlen + len > c->wcap) {
		size_t cap = c->wcap ? c->wcap : 65536;
		while (cap < c->wlen + len)
			cap *= 2;
		uint8_t *b = realloc(c->wbuf, cap);
		if (!b)
			return -ENOMEM;
		c->wbuf = b;
		c->wcap = cap;
	}
	memcpy(c->wbuf + c->wlen, frame, len);
	c->wlen += len;
	return chan_flush(c);
}

int chan_drain(struct chan *c, int timeout_ms)
{
	while (c->fd >= 0 && c->wlen) {
		struct pollfd p = {.fd = c->fd, .events = POLLOUT};
		if (poll(&p, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		int r = chan_flush(c);
		if (r < 0)
			return r;
	}
	return 0;
}
