/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the VMM's virtio plumbing that needs no /dev/kvm: the
 * event loop's fd -> handler registry (vmm/fd_handlers.c), kernel command
 * line assembly for the virtio-mmio slots, the ioeventfd handler driving a
 * real virtio-rng over fake guest memory (an eventfd stands in for KVM's
 * ioeventfd), taking a queue's fds for an external backend, and the
 * agent channel's HELLO check and ready line (vmm/agent_chan.c).
 */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/agent_chan.h"
#include "vmm/fd_handlers.h"
#include "vmm/virtio_devs.h"

#include "test_virtio_regs.h"

/* ---- fd_handlers ---- */

struct calls {
	int n;
	int last_fd;
	uint32_t last_events;
	struct fd_handlers *t; /* for the handler that removes itself */
};

static void count_call(void *ctx, int fd, uint32_t events)
{
	struct calls *c = ctx;
	c->n++;
	c->last_fd = fd;
	c->last_events = events;
	uint64_t v;
	(void)!read(fd, &v, sizeof(v));
}

static void remove_self(void *ctx, int fd, uint32_t events)
{
	struct calls *c = ctx;
	count_call(ctx, fd, events);
	assert_int_equal(fd_handlers_remove(c->t, fd), 0);
}

static void kick(int fd)
{
	uint64_t one = 1;
	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
}

/* One epoll_wait round, dispatched the way vm_run() does. */
static int poll_dispatch(int epfd, struct fd_handlers *t, int *foreign)
{
	struct epoll_event evs[8];
	int n = epoll_wait(epfd, evs, 8, 0);
	int mine = 0;
	for (int i = 0; i < n; i++) {
		if (fd_handlers_dispatch(t, evs[i].data.u64, evs[i].events))
			mine++;
		else if (foreign)
			(*foreign)++;
	}
	return mine;
}

static void test_fd_handlers_register_and_dispatch(void **state)
{
	struct fd_handlers t;
	struct calls a = {0}, b = {0};
	struct kv_err err = {0};
	fd_handlers_init(&t);
	int fa = eventfd(0, EFD_NONBLOCK), fb = eventfd(0, EFD_NONBLOCK);
	int epfd = epoll_create1(0);
	assert_true(fa >= 0 && fb >= 0 && epfd >= 0);

	assert_int_equal(fd_handlers_add(&t, fa, EPOLLIN, count_call, &a, "a", &err), 0);
	assert_int_equal(fd_handlers_add(&t, fa, EPOLLIN, count_call, &b, "dup", &err), -EEXIST);
	assert_int_equal(fd_handlers_add(&t, -1, EPOLLIN, count_call, &b, "neg", &err), -EINVAL);
	assert_int_equal(fd_handlers_add(&t, fb, EPOLLIN, NULL, &b, "nofn", &err), -EINVAL);

	/* The loop's own fd (token 1) is not ours; handler tokens start at 16. */
	int own = eventfd(0, EFD_NONBLOCK);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
	assert_int_equal(epoll_ctl(epfd, EPOLL_CTL_ADD, own, &ev), 0);
	assert_int_equal(fd_handlers_attach(&t, epfd, 16, &err), 0);
	/* Added while attached: joins the epoll set at once. */
	assert_int_equal(fd_handlers_add(&t, fb, EPOLLIN, count_call, &b, "b", &err), 0);

	kick(fa);
	kick(own);
	int foreign = 0;
	assert_int_equal(poll_dispatch(epfd, &t, &foreign), 1);
	assert_int_equal(foreign, 1);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.last_fd, fa);
	assert_true(a.last_events & EPOLLIN);
	assert_int_equal(t.h[0].calls, 1);
	kick(fb);
	assert_int_equal(poll_dispatch(epfd, &t, NULL), 1);
	assert_int_equal(b.n, 1);

	/* Tokens outside the table, or of removed entries, are refused. */
	assert_false(fd_handlers_dispatch(&t, 15, EPOLLIN));
	assert_false(fd_handlers_dispatch(&t, 16 + 2, EPOLLIN));
	assert_int_equal(fd_handlers_remove(&t, fa), 0);
	assert_int_equal(fd_handlers_remove(&t, fa), -ENOENT);
	assert_false(fd_handlers_dispatch(&t, 16, EPOLLIN));
	kick(fa); /* removed from the epoll set too */
	assert_int_equal(poll_dispatch(epfd, &t, NULL), 0);
	/* Tokens never move: b keeps token 17. */
	kick(fb);
	assert_int_equal(poll_dispatch(epfd, &t, NULL), 1);
	assert_int_equal(b.n, 2);

	fd_handlers_detach(&t);
	assert_int_equal(t.epfd, -1);
	close(fa);
	close(fb);
	close(own);
	close(epfd);
}

static void test_fd_handlers_remove_in_handler(void **state)
{
	struct fd_handlers t;
	struct calls a = {.t = &t};
	fd_handlers_init(&t);
	int fa = eventfd(0, EFD_NONBLOCK), epfd = epoll_create1(0);
	assert_int_equal(fd_handlers_add(&t, fa, EPOLLIN, remove_self, &a, "a", NULL), 0);
	assert_int_equal(fd_handlers_attach(&t, epfd, 100, NULL), 0);
	kick(fa);
	assert_int_equal(poll_dispatch(epfd, &t, NULL), 1);
	kick(fa);
	assert_int_equal(poll_dispatch(epfd, &t, NULL), 0);
	assert_int_equal(a.n, 1);
	close(fa);
	close(epfd);
}

static void test_fd_handlers_full_and_bad_attach(void **state)
{
	struct fd_handlers t;
	struct calls c = {0};
	struct kv_err err = {0};
	fd_handlers_init(&t);
	int fds[FD_HANDLERS_MAX + 1];
	for (int i = 0; i <= FD_HANDLERS_MAX; i++)
		fds[i] = eventfd(0, 0);
	for (int i = 0; i < FD_HANDLERS_MAX; i++)
		assert_int_equal(fd_handlers_add(&t, fds[i], EPOLLIN, count_call, &c, "x", &err),
				 0);
	assert_int_equal(
	    fd_handlers_add(&t, fds[FD_HANDLERS_MAX], EPOLLIN, count_call, &c, "x", &err), -ENOSPC);
	assert_non_null(strstr(err.msg, "no room"));
	/* An fd epoll refuses (a closed one) fails the attach, all of it. */
	close(fds[3]);
	int epfd = epoll_create1(0);
	assert_true(fd_handlers_attach(&t, epfd, 16, &err) < 0);
	assert_int_equal(t.epfd, -1);
	struct epoll_event evs[4];
	kick(fds[0]);
	assert_int_equal(epoll_wait(epfd, evs, 4, 0), 0);
	for (int i = 0; i <= FD_HANDLERS_MAX; i++)
		if (i != 3)
			close(fds[i]);
	close(epfd);
}

/* ---- command line ---- */

static void slots(struct vm_virtio *v, unsigned n)
{
	memset(v, 0, sizeof(*v));
	v->n = n;
	for (unsigned i = 0; i < n; i++)
		virtio_mmio_slot(i, &v->slot[i].base, &v->slot[i].gsi);
}

static void test_cmdline_append(void **state)
{
	static struct vm_virtio v;
	char buf[512];
	slots(&v, 0);
	assert_int_equal(vm_virtio_cmdline(&v, "console=ttyS0", buf, sizeof(buf)), 13);
	assert_string_equal(buf, "console=ttyS0");

	slots(&v, 1);
	assert_int_equal(vm_virtio_cmdline(&v, "a b", buf, sizeof(buf)), 38);
	assert_string_equal(buf, "a b virtio_mmio.device=4K@0xd0000000:5");
	/* empty user line: no leading space; trailing space: no double one */
	vm_virtio_cmdline(&v, "", buf, sizeof(buf));
	assert_string_equal(buf, "virtio_mmio.device=4K@0xd0000000:5");
	vm_virtio_cmdline(&v, "quiet ", buf, sizeof(buf));
	assert_string_equal(buf, "quiet virtio_mmio.device=4K@0xd0000000:5");

	slots(&v, 3);
	vm_virtio_cmdline(&v, "x", buf, sizeof(buf));
	assert_string_equal(buf, "x virtio_mmio.device=4K@0xd0000000:5"
				 " virtio_mmio.device=4K@0xd0001000:6"
				 " virtio_mmio.device=4K@0xd0002000:7");
	/* The size helper covers every slot, however long the addresses. */
	slots(&v, VM_VIRTIO_MAX);
	for (unsigned i = 0; i < VM_VIRTIO_MAX; i++) {
		v.slot[i].base = UINT64_MAX;
		v.slot[i].gsi = UINT32_MAX;
	}
	size_t need = vm_virtio_cmdline_size(&v, "user");
	char *big = malloc(need);
	assert_true(vm_virtio_cmdline(&v, "user", big, need) > 0);
	free(big);
}

static void test_cmdline_no_room(void **state)
{
	static struct vm_virtio v;
	char buf[64];
	slots(&v, 1);
	const char *want = "a virtio_mmio.device=4K@0xd0000000:5";
	size_t len = strlen(want);
	assert_int_equal(vm_virtio_cmdline(&v, "a", buf, len + 1), (int)len);
	assert_string_equal(buf, want);
	assert_int_equal(vm_virtio_cmdline(&v, "a", buf, len), -ENOSPC);
	assert_int_equal(vm_virtio_cmdline(&v, "a", buf, 2), -ENOSPC); /* no room for ' ' */
	assert_int_equal(vm_virtio_cmdline(&v, "abc", buf, 3), -ENOSPC);
	slots(&v, 0);
	assert_int_equal(vm_virtio_cmdline(&v, "abc", buf, 4), 3);
}

/* ---- ioeventfd handler over a real device ---- */

struct notify_fx {
	struct virtio_rng rng;
	uint8_t *ram;
	struct guest_mem mem;
	struct irq_count irq;
	struct vm_virtio_slot slot;
	struct fd_handlers handlers;
};

static void notify_fx_init(struct notify_fx *f)
{
	memset(f, 0, sizeof(*f));
	f->ram = aligned_alloc(4096, MEM_SIZE);
	memset(f->ram, 0, MEM_SIZE);
	guest_mem_fake(&f->mem, f->ram, MEM_SIZE);
	assert_int_equal(virtio_rng_init(&f->rng, &f->mem, NULL), 0);
	struct virtio_irq irq = {.irqfd = -1, .raise = count_irq, .ctx = &f->irq, .gsi = 5};
	virtio_dev_set_irq(&f->rng.vdev, &irq);
	f->slot.name = "virtio-rng";
	f->slot.dev = &f->rng.vdev;
	f->slot.nnotify = 1;
	f->slot.irqfd = eventfd(0, EFD_NONBLOCK);
	f->slot.notify[0] = (struct vm_virtio_notify){&f->slot, 0, eventfd(0, EFD_NONBLOCK), 0, 0};
	fd_handlers_init(&f->handlers);
	assert_int_equal(fd_handlers_add(&f->handlers, f->slot.notify[0].fd, EPOLLIN,
					 vm_virtio_notify_ready, &f->slot.notify[0], "q0", NULL),
			 0);
	/* the driver side, as Linux does it */
	struct virtio_dev *d = &f->rng.vdev;
	w32(d, VIRTIO_MMIO_STATUS, A);
	w32(d, VIRTIO_MMIO_STATUS, A | D);
	set_driver_features(d, F_VERSION_1);
	w32(d, VIRTIO_MMIO_STATUS, A | D | FOK);
	setup_queue(d, 0, 8, DESC_GPA, AVAIL_GPA, USED_GPA);
	w32(d, VIRTIO_MMIO_STATUS, A | D | FOK | OK);
}

static void notify_fx_fini(struct notify_fx *f)
{
	close(f->slot.notify[0].fd);
	close(f->slot.irqfd);
	virtio_rng_destroy(&f->rng);
	free(f->ram);
}

static void post(struct notify_fx *f, uint16_t idx, uint32_t len)
{
	struct vring_desc desc = {.addr = DATA_GPA, .len = len, .flags = VRING_DESC_F_WRITE};
	memcpy(f->ram + DESC_GPA, &desc, sizeof(desc));
	uint16_t *avail = (uint16_t *)(f->ram + AVAIL_GPA);
	avail[2 + idx % 8] = 0;
	avail[1] = idx + 1;
}

static uint16_t used_idx(const struct notify_fx *f)
{
	return *(const uint16_t *)(f->ram + USED_GPA + 2);
}

static void test_ioeventfd_kicks_device(void **state)
{
	static struct notify_fx f;
	notify_fx_init(&f);
	int fd = f.slot.notify[0].fd;

	/* Nothing pending: a spurious wakeup kicks nothing. */
	vm_virtio_notify_ready(&f.slot.notify[0], fd, EPOLLIN);
	assert_int_equal(f.slot.notify[0].wakeups, 0);

	/* What KVM does on the guest's QueueNotify write: the eventfd counts
	 * up; three writes before the loop wakes are served by one kick. */
	int pulses = f.irq.pulses;
	post(&f, 0, 16);
	kick(fd);
	kick(fd);
	kick(fd);
	assert_true(fd_handlers_dispatch(&f.handlers, 0, EPOLLIN));
	assert_int_equal(used_idx(&f), 1);
	assert_int_equal(f.slot.notify[0].wakeups, 1);
	assert_int_equal(f.slot.notify[0].notifies, 3);
	assert_int_equal(f.rng.requests, 1);
	assert_int_equal(f.irq.pulses, pulses + 1);

	/* A broken chain behind the eventfd sets NEEDS_RESET; later kicks are
	 * ignored and the handler keeps working. */
	post(&f, 1, 0);
	kick(fd);
	assert_true(fd_handlers_dispatch(&f.handlers, 0, EPOLLIN));
	assert_true(r32(&f.rng.vdev, VIRTIO_MMIO_STATUS) & NR);
	kick(fd);
	assert_true(fd_handlers_dispatch(&f.handlers, 0, EPOLLIN));
	assert_int_equal(f.rng.requests, 1);
	notify_fx_fini(&f);
}

static void test_external_fds(void **state)
{
	static struct notify_fx f;
	notify_fx_init(&f);
	int io = -2, irq = -2;
	assert_int_equal(vm_virtio_external_fds(&f.handlers, &f.slot, 1, &io, &irq), -EINVAL);
	assert_int_equal(vm_virtio_external_fds(&f.handlers, &f.slot, 0, &io, &irq), 0);
	assert_int_equal(io, f.slot.notify[0].fd);
	assert_int_equal(irq, f.slot.irqfd);
	/* The loop no longer serves the queue: the other process does. */
	assert_false(fd_handlers_dispatch(&f.handlers, 0, EPOLLIN));
	/* Again after a device reset: same fds, still owned by the slot. */
	assert_int_equal(vm_virtio_external_fds(&f.handlers, &f.slot, 0, &io, &irq), 0);
	assert_int_equal(io, f.slot.notify[0].fd);
	/* Without an ioeventfd the backend is told so. */
	int saved = f.slot.notify[0].fd;
	f.slot.notify[0].fd = -1;
	assert_int_equal(vm_virtio_external_fds(&f.handlers, &f.slot, 0, &io, &irq), 0);
	assert_int_equal(io, -1);
	f.slot.notify[0].fd = saved;
	notify_fx_fini(&f);
}

/* ---- agent channel (vmm/agent_chan.c) ---- */

static long encode_hello(uint8_t **out)
{
	struct agent_msg m;
	agent_msg_init(&m, AGENT_HELLO, AGENT_F_EVENT, 0);
	m.u.hello = (struct agent_hello){AGENT_PROTO_VERSION, "0.1.0", "6.1.0-kvbox", 2500000000ull,
					 1250000000ull};
	long n = agent_msg_encode_alloc(&m, out);
	assert_true(n > (long)AGENT_HDR_SIZE);
	return n;
}

static void test_agent_hello_parse(void **state)
{
	(void)state;
	uint8_t *frame;
	long n = encode_hello(&frame);
	struct agent_msg msg;
	struct kv_err err = {0};
	size_t used = 0;
	/* Any prefix: wait for more. */
	for (long i = 0; i < n; i++) {
		assert_int_equal(vm_agent_hello_parse(frame, (size_t)i, &msg, &used, &err),
				 -EAGAIN);
		agent_msg_free(&msg);
	}
	/* The whole frame, and bytes after it (SHUTDOWN's reply...) left alone. */
	uint8_t *more = malloc((size_t)n + 7);
	memcpy(more, frame, (size_t)n);
	memset(more + n, 0xee, 7);
	assert_int_equal(vm_agent_hello_parse(more, (size_t)n + 7, &msg, &used, &err), 0);
	assert_int_equal(used, n);
	assert_string_equal(msg.u.hello.kernel, "6.1.0-kvbox");
	char line[256];
	vm_agent_ready_line(&msg.u.hello, line, sizeof(line));
	assert_string_equal(line, "protocol 1, agent 0.1.0, kernel 6.1.0-kvbox, agent started "
				  "1.250 s after boot, HELLO at 2.500 s");
	agent_msg_free(&msg);
	/* A payload the decoder refuses: the last byte cut off, length kept
	 * consistent by shrinking the header's len. */
	uint32_t len;
	memcpy(&len, more, 4);
	len = le32toh(len) - 1;
	uint32_t le = htole32(len);
	memcpy(more, &le, 4);
	err.msg[0] = '\0';
	int r = vm_agent_hello_parse(more, (size_t)n - 1, &msg, &used, &err);
	assert_true(r < 0 && r != -EAGAIN);
	assert_non_null(strstr(err.msg, "malformed HELLO"));
	agent_msg_free(&msg);
	free(more);
	free(frame);
}

static void test_agent_hello_refused(void **state)
{
	(void)state;
	struct agent_msg m, msg;
	struct kv_err err = {0};
	size_t used;
	uint8_t buf[64];
	/* Another message first. */
	agent_msg_init(&m, AGENT_SHUTDOWN, 0, 1);
	long n = agent_msg_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(vm_agent_hello_parse(buf, (size_t)n, &msg, &used, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "expected HELLO"));
	agent_msg_free(&msg);
	/* Garbage header: unknown type. */
	memset(buf, 0xff, sizeof(buf));
	int r = vm_agent_hello_parse(buf, sizeof(buf), &msg, &used, &err);
	assert_true(r < 0 && r != -EAGAIN);
	agent_msg_free(&msg);
	/* A HELLO claiming a huge payload: refused from the header alone. */
	uint8_t *frame;
	n = encode_hello(&frame);
	uint32_t le = htole32(VM_AGENT_HELLO_MAX);
	memcpy(frame, &le, 4);
	r = vm_agent_hello_parse(frame, AGENT_HDR_SIZE, &msg, &used, &err);
	assert_int_equal(r, -EMSGSIZE);
	agent_msg_free(&msg);
	free(frame);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fd_handlers_register_and_dispatch),
	    cmocka_unit_test(test_fd_handlers_remove_in_handler),
	    cmocka_unit_test(test_fd_handlers_full_and_bad_attach),
	    cmocka_unit_test(test_cmdline_append),
	    cmocka_unit_test(test_cmdline_no_room),
	    cmocka_unit_test(test_ioeventfd_kicks_device),
	    cmocka_unit_test(test_external_fds),
	    cmocka_unit_test(test_agent_hello_parse),
	    cmocka_unit_test(test_agent_hello_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
