/* SPDX-License-Identifier: Apache-2.0 */
/* The agent channel of `kvbox boot --agent`; see vmm/agent_chan.h. */
#include "vmm/agent_chan.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "vmm/vm.h"

int vm_agent_hello_parse(const uint8_t *buf, size_t len, struct agent_msg *msg, size_t *used,
			 struct kv_err *err)
{
	struct agent_hdr h;
	memset(msg, 0, sizeof(*msg));
	int r = agent_hdr_decode(buf, len, &h);
	if (r == -EAGAIN)
		return r;
	if (r < 0)
		return kv_err_set(err, -r, "agent: bad frame header: %s", strerror(-r));
	if (h.type != AGENT_HELLO || h.flags != AGENT_F_EVENT)
		return kv_err_set(err, EPROTO, "agent: expected HELLO first, got %s (flags 0x%x)",
				  agent_type_name(h.type), h.flags);
	if (h.len > VM_AGENT_HELLO_MAX - AGENT_HDR_SIZE)
		return kv_err_set(err, EMSGSIZE, "agent: HELLO of %" PRIu32 " bytes", h.len);
	size_t total = AGENT_HDR_SIZE + (size_t)h.len;
	if (len < total)
		return -EAGAIN;
	if ((r = agent_msg_decode(buf, total, msg)) < 0)
		return kv_err_set(err, -r, "agent: malformed HELLO: %s", strerror(-r));
	if (msg->u.hello.version != AGENT_PROTO_VERSION)
		return kv_err_set(err, EPROTO, "agent: protocol version %" PRIu32 ", want %u",
				  msg->u.hello.version, AGENT_PROTO_VERSION);
	*used = total;
	return 0;
}

int vm_agent_ready_line(const struct agent_hello *h, char *buf, size_t size)
{
	return snprintf(buf, size,
			"protocol %" PRIu32 ", agent %s, kernel %s, agent started %" PRIu64
			".%03" PRIu64 " s after boot, HELLO at %" PRIu64 ".%03" PRIu64 " s",
			h->version, h->agent_version ? h->agent_version : "?",
			h->kernel ? h->kernel : "?", h->agent_start_ns / 1000000000u,
			h->agent_start_ns / 1000000u % 1000u, h->boot_ns / 1000000000u,
			h->boot_ns / 1000000u % 1000u);
}

static void agent_fail(struct vm_agent *a, const char *msg)
{
	vm_request_exit(a->vm, VM_EXIT_ERROR, "%s", msg);
}

static void agent_close(struct vm_agent *a)
{
	if (a->fd < 0)
		return;
	fd_handlers_remove(&a->vm->handlers, a->fd);
	close(a->fd);
	a->fd = -1;
}

static void agent_shutdown(struct vm_agent *a)
{
	struct agent_msg m;
	uint8_t frame[64];
	agent_msg_init(&m, AGENT_SHUTDOWN, 0, 1);
	long n = agent_msg_encode(&m, frame, sizeof(frame));
	if (n < 0 || write(a->fd, frame, (size_t)n) != n) {
		agent_fail(a, "agent: could not send SHUTDOWN");
		return;
	}
	a->shutdown_sent = true;
}

static void agent_park(struct vm_agent *a)
{
	struct agent_msg m;
	uint8_t frame[64];
	agent_msg_init(&m, AGENT_PARK, 0, 1);
	long n = agent_msg_encode(&m, frame, sizeof(frame));
	if (n < 0 || write(a->fd, frame, (size_t)n) != n)
		agent_fail(a, "agent: could not send PARK");
}

/* After PARK: its reply (or an ERROR), then the agent's close. */
static void park_readable(struct vm_agent *a, int fd)
{
	ssize_t n = read(fd, a->buf + a->len, sizeof(a->buf) - a->len);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR) {
			agent_fail(a, "agent: reading the channel failed after PARK");
			agent_close(a);
		}
		return;
	}
	if (n == 0) {
		agent_close(a);
		if (!a->park_acked)
			agent_fail(a, "agent: the channel closed before PARK was answered");
		else
			a->on_parked(a, a->parked_ctx);
		return;
	}
	a->len += (size_t)n;
	struct agent_hdr h;
	while (!a->park_acked && agent_hdr_decode(a->buf, a->len, &h) == 0 &&
	       a->len >= AGENT_HDR_SIZE + (size_t)h.len) {
		struct agent_msg m;
		size_t flen = AGENT_HDR_SIZE + (size_t)h.len;
		int r = agent_msg_decode(a->buf, flen, &m);
		if (r == 0 && m.hdr.type == AGENT_PARK && m.hdr.flags == AGENT_F_REPLY) {
			a->park_acked = true;
			a->nkernel_ro = m.u.parked.nkernel_ro; /* <= 2 * AGENT_MAX_RO_RANGES */
			memcpy(a->kernel_ro, m.u.parked.kernel_ro,
			       a->nkernel_ro * sizeof(a->kernel_ro[0]));
		} else if (r == 0 && m.hdr.type == AGENT_ERROR) {
			char msg[512];
			snprintf(msg, sizeof(msg), "agent: PARK refused: %s",
				 m.u.error.message ? m.u.error.message : "?");
			agent_fail(a, msg);
		} else if (r < 0 || m.hdr.flags != AGENT_F_EVENT) {
			agent_fail(a, "agent: unexpected frame after PARK");
		}
		agent_msg_free(&m);
		memmove(a->buf, a->buf + flen, a->len - flen);
		a->len -= flen;
	}
	if (a->len == sizeof(a->buf)) {
		agent_fail(a, "agent: too much unread data after PARK");
		agent_close(a);
	}
}

static void agent_readable(void *ctx, int fd, uint32_t events)
{
	struct vm_agent *a = ctx;
	(void)events;
	if (a->hello_seen && a->on_parked) {
		park_readable(a, fd);
		return;
	}
	if (a->hello_seen) {
		/* SHUTDOWN's reply and the close: drain, the power-off ends it */
		uint8_t sink[4096];
		ssize_t n = read(fd, sink, sizeof(sink));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			agent_close(a);
		return;
	}
	ssize_t n = read(fd, a->buf + a->len, sizeof(a->buf) - a->len);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		agent_fail(a, "agent: reading the channel failed before HELLO");
		agent_close(a);
		return;
	}
	if (n == 0) {
		agent_fail(a, "agent: the channel closed before HELLO");
		agent_close(a);
		return;
	}
	a->len += (size_t)n;
	struct agent_msg msg;
	struct kv_err err = {0};
	size_t used = 0;
	int r = vm_agent_hello_parse(a->buf, a->len, &msg, &used, &err);
	if (r == -EAGAIN && a->len == sizeof(a->buf))
		r = kv_err_set(&err, EMSGSIZE, "agent: HELLO larger than %u bytes",
			       VM_AGENT_HELLO_MAX);
	if (r == 0) {
		char line[512];
		vm_agent_ready_line(&msg.u.hello, line, sizeof(line));
		if (!a->on_parked) /* a template build reports on its own */
			fprintf(stderr, "kvbox: agent ready: %s\n", line);
		a->hello_seen = true;
		memmove(a->buf, a->buf + used, a->len - used);
		a->len -= used;
		if (a->on_parked)
			agent_park(a);
		else
			agent_shutdown(a);
	} else if (r != -EAGAIN) {
		agent_fail(a, err.msg);
		agent_close(a);
	}
	agent_msg_free(&msg);
}

/* Runs inside virtio_vsock_poll() on the loop's thread. */
static void agent_accept(void *ctx, int fd, uint32_t host_port, uint32_t guest_port)
{
	struct vm_agent *a = ctx;
	struct kv_err err = {0};
	(void)host_port;
	(void)guest_port;
	if (a->fd >= 0 ||
	    fd_handlers_add(&a->vm->handlers, fd, EPOLLIN, agent_readable, a, "agent", &err) < 0) {
		close(fd); /* one agent connection */
		return;
	}
	a->fd = fd;
}

static void agent_timeout(void *ctx, int fd, uint32_t events)
{
	struct vm_agent *a = ctx;
	uint64_t n;
	(void)events;
	if (read(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return;
	char msg[160];
	snprintf(msg, sizeof(msg), "agent: %s within %u s (see --agent-timeout)",
		 !a->hello_seen ? "no HELLO"
		 : a->on_parked ? "the agent did not park"
				: "the guest did not power off",
		 a->timeout_s);
	agent_fail(a, msg);
}

int vm_agent_start(struct vm_agent *a, struct vm *vm, unsigned timeout_s, struct kv_err *err)
{
	void (*on_parked)(struct vm_agent *, void *) = a->on_parked;
	void *parked_ctx = a->parked_ctx;
	memset(a, 0, sizeof(*a) - sizeof(a->buf));
	a->on_parked = on_parked;
	a->parked_ctx = parked_ctx;
	a->vm = vm;
	a->fd = a->timer_fd = -1;
	a->timeout_s = timeout_s;
	if (!vm->virtio.vsock_live)
		return kv_err_set(err, ENODEV, "agent: the machine has no virtio-vsock");
	a->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (a->timer_fd < 0)
		return kv_err_sys(err, errno, "agent: timerfd_create");
	struct itimerspec its = {.it_value = {.tv_sec = timeout_s}};
	if (timerfd_settime(a->timer_fd, 0, &its, NULL) < 0)
		return kv_err_sys(err, errno, "agent: timerfd_settime");
	int r = fd_handlers_add(&vm->handlers, a->timer_fd, EPOLLIN, agent_timeout, a,
				"agent timer", err);
	if (r < 0)
		return r;
	return virtio_vsock_listen(&vm->virtio.vsock, VM_AGENT_PORT, agent_accept, a, err);
}

void vm_agent_stop(struct vm_agent *a)
{
	if (!a->vm)
		return;
	agent_close(a);
	if (a->timer_fd >= 0) {
		fd_handlers_remove(&a->vm->handlers, a->timer_fd);
		close(a->timer_fd);
		a->timer_fd = -1;
	}
}
