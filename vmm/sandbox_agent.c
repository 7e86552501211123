/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox's end of the agent channel (guest/protocol.h): one vsock
 * stream the agent opens to VM_AGENT_PORT.  Frames are reassembled in a
 * buffer of AGENT_MAX_FRAME and decoded by guest/protocol.c; requests go
 * out through a bounded queue drained on EPOLLOUT.  Each request carries
 * a fresh id and a completion callback, called once with the reply or an
 * error (an ERROR frame, or the channel ending).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "vmm/agent_chan.h"
#include "vmm/sandbox.h"

#define WBUF_MAX (4u * AGENT_MAX_FRAME)

void sb_on_hello(struct sandbox *sb, const struct agent_hello *h);
void sb_on_exit_event(struct sandbox *sb, const struct agent_exit *e);

static void chan_interest(struct sandbox *sb)
{
	if (sb->agent_fd >= 0)
		fd_handlers_set_events(&sb->vm->handlers, sb->agent_fd,
				       EPOLLIN | (sb->wlen ? EPOLLOUT : 0));
}

static void fail_pending(struct sandbox *sb, const char *why)
{
	struct kv_err err = {0};
	kv_err_set(&err, EPIPE, "%s", why);
	for (unsigned i = 0; i < SANDBOX_MAX_PENDING; i++) {
		struct sb_pending *p = &sb->pending[i];
		if (!p->used)
			continue;
		p->used = false;
		if (p->fn)
			p->fn(sb, p->ctx, NULL, &err);
	}
}

static void chan_broken(struct sandbox *sb, const char *why)
{
	if (sb->agent_fd >= 0) {
		fd_handlers_remove(&sb->vm->handlers, sb->agent_fd);
		close(sb->agent_fd);
		sb->agent_fd = -1;
	}
	fail_pending(sb, why);
	if (sb->phase < SB_CREATED) {
		sb_fail_startup(sb, why);
		return;
	}
	if (!sb->shutdown_sent)
		sb_stop_vm(sb, why);
}

static void flush(struct sandbox *sb)
{
	while (sb->wlen) {
		ssize_t n = write(sb->agent_fd, sb->wbuf, sb->wlen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			chan_broken(sb, "agent channel: write failed");
			return;
		}
		memmove(sb->wbuf, sb->wbuf + n, sb->wlen - (size_t)n);
		sb->wlen -= (size_t)n;
	}
	chan_interest(sb);
}

static int queue(struct sandbox *sb, const uint8_t *frame, size_t len, struct kv_err *err)
{
	if (sb->agent_fd < 0)
		return kv_err_set(err, EPIPE, "the guest agent is not connected");
	if (sb->wlen + len > WBUF_MAX)
		return kv_err_set(err, ENOBUFS, "agent channel: output queue full");
	if (sb->wlen + len > sb->wcap) {
		size_t cap = sb->wcap ? sb->wcap : 65536;
		while (cap < sb->wlen + len)
			cap *= 2;
		uint8_t *nb = realloc(sb->wbuf, cap);
		if (!nb)
			return kv_err_set(err, ENOMEM, "agent channel: out of memory");
		sb->wbuf = nb;
		sb->wcap = cap;
	}
	memcpy(sb->wbuf + sb->wlen, frame, len);
	sb->wlen += len;
	flush(sb);
	return 0;
}

int sb_agent_request(struct sandbox *sb, struct agent_msg *m, agent_done_fn fn, void *ctx,
		     struct kv_err *err)
{
	struct sb_pending *slot = NULL;
	for (unsigned i = 0; i < SANDBOX_MAX_PENDING && !slot; i++)
		if (!sb->pending[i].used)
			slot = &sb->pending[i];
	if (!slot)
		return kv_err_set(err, EBUSY, "too many requests in flight to the agent");
	m->hdr.id = ++sb->next_id ? sb->next_id : ++sb->next_id;
	m->hdr.flags = 0;
	uint8_t *buf = NULL;
	long n = agent_msg_encode_alloc(m, &buf);
	if (n < 0)
		return kv_err_set(err, (int)-n, "encoding %s for the agent: %s",
				  agent_type_name(m->hdr.type), strerror((int)-n));
	int r = queue(sb, buf, (size_t)n, err);
	free(buf);
	if (r < 0)
		return r;
	*slot = (struct sb_pending){
	    .used = true, .id = m->hdr.id, .type = m->hdr.type, .fn = fn, .ctx = ctx, .client = -1};
	if (sb->debug)
		sb_log(sb, "debug", "agent request %s id %" PRIu32, agent_type_name(m->hdr.type),
		       m->hdr.id);
	return 0;
}

/* The agent answers SHUTDOWN once the container is gone and synced: the
 * guest kernel's own power-off path adds nothing we need. */
static void shutdown_done(struct sandbox *sb, void *ctx, const struct agent_msg *reply,
			  const struct kv_err *err)
{
	(void)ctx;
	(void)reply;
	if (!err)
		sb_stop_vm(sb, "the agent shut the container down");
}

void sb_agent_shutdown(struct sandbox *sb)
{
	struct agent_msg m;
	struct kv_err err = {0};
	agent_msg_init(&m, AGENT_SHUTDOWN, 0, 0);
	if (sb_agent_request(sb, &m, shutdown_done, NULL, &err) < 0)
		sb_stop_vm(sb, err.msg);
	sb->shutdown_sent = true;
}

static void on_reply(struct sandbox *sb, struct agent_msg *m)
{
	for (unsigned i = 0; i < SANDBOX_MAX_PENDING; i++) {
		struct sb_pending *p = &sb->pending[i];
		if (!p->used || p->id != m->hdr.id)
			continue;
		p->used = false;
		if (!p->fn)
			return;
		if (m->hdr.type == AGENT_ERROR) {
			struct kv_err err = {0};
			kv_err_set(&err, m->u.error.errnum > 0 ? m->u.error.errnum : EIO, "%s",
				   m->u.error.message ? m->u.error.message : "agent error");
			p->fn(sb, p->ctx, NULL, &err);
		} else if (m->hdr.type != p->type) {
			struct kv_err err = {0};
			kv_err_set(&err, EPROTO, "agent answered %s with %s",
				   agent_type_name(p->type), agent_type_name(m->hdr.type));
			p->fn(sb, p->ctx, NULL, &err);
		} else {
			p->fn(sb, p->ctx, m, NULL);
		}
		return;
	}
	sb_log(sb, "warning", "agent: reply %s to unknown request id %" PRIu32,
	       agent_type_name(m->hdr.type), m->hdr.id);
}

static void on_frame(struct sandbox *sb, const uint8_t *frame, size_t len)
{
	struct agent_msg m;
	int r = agent_msg_decode(frame, len, &m);
	if (r < 0) {
		char why[128];
		snprintf(why, sizeof(why), "agent channel: malformed %s frame: %s",
			 agent_type_name(m.hdr.type), strerror(-r));
		agent_msg_free(&m);
		chan_broken(sb, why);
		return;
	}
	if (m.hdr.flags & AGENT_F_REPLY) {
		on_reply(sb, &m);
	} else if (m.hdr.type == AGENT_HELLO) {
		if (m.u.hello.version != AGENT_PROTO_VERSION) {
			char why[128];
			snprintf(why, sizeof(why), "agent protocol version %" PRIu32 ", want %u",
				 m.u.hello.version, AGENT_PROTO_VERSION);
			agent_msg_free(&m);
			chan_broken(sb, why);
			return;
		}
		sb_on_hello(sb, &m.u.hello);
	} else if (m.hdr.type == AGENT_EXIT) {
		sb_on_exit_event(sb, &m.u.exit);
	}
	agent_msg_free(&m);
}

static void chan_readable(void *ctx, int fd, uint32_t events)
{
	struct sandbox *sb = ctx;
	if (events & EPOLLOUT) {
		flush(sb);
		if (sb->agent_fd < 0)
			return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	ssize_t n = read(fd, sb->rbuf + sb->rlen, AGENT_MAX_FRAME - sb->rlen);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		chan_broken(sb, "agent channel: read failed");
		return;
	}
	if (n == 0 && sb->ckpt.parking) {
		/* PARK answered: the agent waits for the next host */
		fd_handlers_remove(&sb->vm->handlers, sb->agent_fd);
		close(sb->agent_fd);
		sb->agent_fd = -1;
		sb->rlen = sb->wlen = 0;
		fail_pending(sb, "the agent parked");
		sb_ckpt_channel_closed(sb);
		return;
	}
	if (n == 0) {
		chan_broken(sb, sb->shutdown_sent ? "the agent closed the channel (shutdown)"
						  : "the agent closed the channel");
		return;
	}
	sb->rlen += (size_t)n;
	size_t off = 0;
	while (sb->rlen - off >= AGENT_HDR_SIZE) {
		struct agent_hdr h;
		int r = agent_hdr_decode(sb->rbuf + off, sb->rlen - off, &h);
		if (r < 0) {
			chan_broken(sb, "agent channel: bad frame header");
			return;
		}
		size_t total = AGENT_HDR_SIZE + (size_t)h.len;
		if (sb->rlen - off < total)
			break;
		on_frame(sb, sb->rbuf + off, total);
		if (sb->agent_fd < 0)
			return;
		off += total;
	}
	memmove(sb->rbuf, sb->rbuf + off, sb->rlen - off);
	sb->rlen -= off;
}

static void agent_accept(void *ctx, int fd, uint32_t host_port, uint32_t guest_port)
{
	struct sandbox *sb = ctx;
	struct kv_err err = {0};
	(void)host_port;
	(void)guest_port;
	if (sb->agent_fd >= 0 || sb->phase != SB_BOOTING) {
		close(fd); /* one agent connection per boot */
		return;
	}
	if (fd_handlers_add(&sb->vm->handlers, fd, EPOLLIN, chan_readable, sb, "agent", &err) < 0) {
		close(fd);
		sb_fail_startup(sb, err.msg);
		return;
	}
	sb->agent_fd = fd;
}

/* The restored (or parked) agent refused the connection, or the device
 * reset. */
static void agent_connected(void *ctx, int result)
{
	struct sandbox *sb = ctx;
	if (result < 0 && (sb->phase == SB_BOOTING || sb->reconnecting)) {
		char why[160];
		snprintf(why, sizeof(why), "the parked agent did not take the connection: %s",
			 strerror(-result));
		chan_broken(sb, why);
	}
}

int sb_agent_connect(struct sandbox *sb, struct kv_err *err)
{
	if (!sb->rbuf)
		sb->rbuf = malloc(AGENT_MAX_FRAME);
	if (!sb->rbuf)
		return kv_err_set(err, ENOMEM, "agent channel: out of memory");
	int fd =
	    virtio_vsock_connect(&sb->vm->virtio.vsock, VM_AGENT_PORT, agent_connected, sb, err);
	if (fd < 0)
		return fd;
	int r = fd_handlers_add(&sb->vm->handlers, fd, EPOLLIN, chan_readable, sb, "agent", err);
	if (r < 0) {
		close(fd);
		return r;
	}
	sb->agent_fd = fd;
	return 0;
}

int sb_agent_listen(struct sandbox *sb, struct kv_err *err)
{
	sb->rbuf = malloc(AGENT_MAX_FRAME);
	if (!sb->rbuf)
		return kv_err_set(err, ENOMEM, "agent channel: out of memory");
	return virtio_vsock_listen(&sb->vm->virtio.vsock, VM_AGENT_PORT, agent_accept, sb, err);
}
