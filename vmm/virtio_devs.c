/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Building and wiring the machine's virtio-mmio devices; see
 * vmm/virtio_devs.h for the slot layout and the notification and
 * interrupt paths.  A new device kind is one entry in virtio_kinds[]
 * (create/destroy/report) plus its storage in struct vm_virtio.
 */
#include "vmm/virtio_devs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "util/cleanup.h"
#include "vmm/vm.h"

/* ---- the device table ---- */

struct virtio_kind {
	const char *name; /* bus name and log prefix */
	/* how many devices of this kind the config asks for */
	unsigned (*count)(const struct vm_config *cfg);
	/* instance i (0..count-1) */
	int (*create)(struct vm *vm, unsigned i, struct virtio_dev **dev, struct kv_err *err);
	/* optional: after the slot is wired (irqfd, ioeventfds) */
	int (*wire)(struct vm *vm, unsigned i, struct vm_virtio_slot *s, struct kv_err *err);
	void (*destroy)(struct vm *vm);
	void (*report)(const struct vm_virtio *v, FILE *f);
};

static unsigned rng_count(const struct vm_config *cfg)
{
	return cfg->no_rng ? 0 : 1;
}

static int rng_create(struct vm *vm, unsigned i, struct virtio_dev **dev, struct kv_err *err)
{
	(void)i;
	int r = virtio_rng_init(&vm->virtio.rng, &vm->mem, err);
	if (r < 0)
		return r;
	vm->virtio.rng_live = true;
	*dev = &vm->virtio.rng.vdev;
	return 0;
}

static void rng_destroy(struct vm *vm)
{
	if (vm->virtio.rng_live)
		virtio_rng_destroy(&vm->virtio.rng);
	vm->virtio.rng_live = false;
}

static void rng_report(const struct vm_virtio *v, FILE *f)
{
	if (!v->rng_live)
		return;
	fprintf(f, "kvbox: virtio-rng: %" PRIu64 " requests, %" PRIu64 " bytes\n", v->rng.requests,
		v->rng.bytes_served);
}

static unsigned vsock_count(const struct vm_config *cfg)
{
	return cfg->vsock ? 1 : 0;
}

static int vsock_create(struct vm *vm, unsigned i, struct virtio_dev **dev, struct kv_err *err)
{
	(void)i;
	int r = virtio_vsock_init(&vm->virtio.vsock, &vm->mem, VM_VSOCK_GUEST_CID, 0, err);
	if (r < 0)
		return r;
	vm->virtio.vsock_live = true;
	*dev = &vm->virtio.vsock.vdev;
	return 0;
}

/* The device's own epoll set is readable: move bytes, run callbacks. */
void vm_vsock_ready(void *ctx, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	virtio_vsock_poll(ctx);
}

static int vsock_wire(struct vm *vm, unsigned i, struct vm_virtio_slot *s, struct kv_err *err)
{
	(void)i;
	struct virtio_vsock *vs = &vm->virtio.vsock;
	int r = fd_handlers_add(&vm->handlers, virtio_vsock_fd(vs), EPOLLIN, vm_vsock_ready, vs,
				s->name, err);
	if (r < 0)
		return r;
	vm->virtio.vsock_watched = true;
	return 0;
}

static void vsock_destroy(struct vm *vm)
{
	struct vm_virtio *v = &vm->virtio;
	if (v->vsock_watched)
		fd_handlers_remove(&vm->handlers, virtio_vsock_fd(&v->vsock));
	v->vsock_watched = false;
	if (v->vsock_live)
		virtio_vsock_destroy(&v->vsock);
	v->vsock_live = false;
}

static void vsock_report(const struct vm_virtio *v, FILE *f)
{
	if (!v->vsock_live)
		return;
	const struct vsock_stats *st = &v->vsock.stats;
	fprintf(f,
		"kvbox: virtio-vsock: %" PRIu64 " connections, %" PRIu64 " packets in, %" PRIu64
		" out, %" PRIu64 " bytes to host, %" PRIu64 " to guest, %" PRIu64 " bad\n",
		st->conns_opened, st->tx_packets, st->rx_packets, st->bytes_to_host,
		st->bytes_to_guest, st->bad_packets);
}

static unsigned net_count(const struct vm_config *cfg)
{
	return cfg->nnets;
}

static int net_create(struct vm *vm, unsigned i, struct virtio_dev **dev, struct kv_err *err)
{
	if (i >= VM_NET_MAX)
		return kv_err_set(err, ENOSPC, "%u NICs asked for, at most %u", vm->cfg.nnets,
				  VM_NET_MAX);
	cleanup_free struct virtio_net *n = malloc(sizeof(*n));
	if (!n)
		return kv_err_set(err, ENOMEM, "out of memory");
	int r = virtio_net_init(n, &vm->mem, &vm->cfg.nets[i], err);
	if (r < 0)
		return kv_err_wrap(err, r, "NIC %u", i);
	*dev = &n->vdev;
	vm->virtio.net[i] = take_ptr(n);
	return 0;
}

/* The device's epoll set is readable: tap frames, or tx left over. */
void vm_net_ready(void *ctx, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	virtio_net_poll(ctx);
}

static int net_wire(struct vm *vm, unsigned i, struct vm_virtio_slot *s, struct kv_err *err)
{
	struct virtio_net *n = vm->virtio.net[i];
	int r = fd_handlers_add(&vm->handlers, virtio_net_fd(n), EPOLLIN, vm_net_ready, n, s->name,
				err);
	if (r < 0)
		return r;
	vm->virtio.net_watched[i] = true;
	return 0;
}

static void net_destroy(struct vm *vm)
{
	struct vm_virtio *v = &vm->virtio;
	for (unsigned i = 0; i < VM_NET_MAX; i++) {
		if (v->net_watched[i])
			fd_handlers_remove(&vm->handlers, virtio_net_fd(v->net[i]));
		v->net_watched[i] = false;
		if (v->net[i]) {
			virtio_net_destroy(v->net[i]);
			free(v->net[i]);
		}
		v->net[i] = NULL;
	}
}

static void net_report(const struct vm_virtio *v, FILE *f)
{
	for (unsigned i = 0; i < VM_NET_MAX; i++) {
		if (!v->net[i])
			continue;
		const struct net_stats *st = &v->net[i]->stats;
		fprintf(f,
			"kvbox: virtio-net %u: tx %" PRIu64 " frames %" PRIu64 " bytes %" PRIu64
			" dropped; rx %" PRIu64 " frames %" PRIu64 " bytes %" PRIu64
			" dropped %" PRIu64 " buffers %" PRIu64 " stalls\n",
			i, st->tx_frames, st->tx_bytes, st->tx_dropped, st->rx_frames, st->rx_bytes,
			st->rx_dropped, st->rx_buffers, st->rx_stalls);
	}
}

/* Slot order: rng first, so a lone rng is always at 0xd0000000 IRQ 5;
 * then one virtio-9p per share (vmm/p9_devs.c), in --share order; then
 * the vsock (the agent channel); then the NICs, in vm_config.nets order. */
static const struct virtio_kind virtio_kinds[] = {
    {"virtio-rng", rng_count, rng_create, NULL, rng_destroy, rng_report},
    {"virtio-9p", vm_p9_count, vm_p9_create, vm_p9_wire, vm_p9_destroy, vm_p9_report},
    {"virtio-vsock", vsock_count, vsock_create, vsock_wire, vsock_destroy, vsock_report},
    {"virtio-net", net_count, net_create, net_wire, net_destroy, net_report},
};

static const struct bus_dev_ops virtio_bus_ops = {virtio_mmio_bus_read, virtio_mmio_bus_write};

/* ---- interrupts ---- */

/* Fallback without irqfd: one edge on the IOAPIC pin (what irqfd does in
 * the kernel).  Any thread: KVM_IRQ_LINE is a VM ioctl. */
static void pulse_irq(void *ctx, unsigned gsi)
{
	const struct vm *vm = ctx;
	vm->hooks.irq_line(vm->hooks.ctx, gsi, 1);
	vm->hooks.irq_line(vm->hooks.ctx, gsi, 0);
}

/* The event-loop side of an interrupt eventfd KVM would not bind: read
 * the count, pulse the line once (edges coalesce like irqfd's do). */
static void irq_relay_ready(void *ctx, int fd, uint32_t events)
{
	struct vm_virtio_slot *s = ctx;
	uint64_t count;
	(void)events;
	if (read(fd, &count, sizeof(count)) == (ssize_t)sizeof(count))
		pulse_irq(s->vm, s->gsi);
}

/*
 * s->irqfd always ends up an eventfd that raises the slot's interrupt
 * when written: bound in the kernel with KVM_IRQFD, or else relayed by the
 * event loop.  In-VMM devices raise the line directly in the fallback case
 * (no loop round trip); the eventfd is what an external backend gets.
 */
static int slot_wire_irq(struct vm *vm, struct vm_virtio_slot *s, struct kv_err *err)
{
	struct virtio_irq irq = {.irqfd = -1, .raise = pulse_irq, .ctx = vm, .gsi = s->gsi};
	cleanup_close int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return kv_err_sys(err, errno, "%s: eventfd", s->name);
	struct kvm_irqfd req = {.fd = (uint32_t)fd, .gsi = s->gsi};
	if (vm->cfg.no_irqfd)
		s->irqfd_off = "disabled (KVBOX_NO_IRQFD)";
	else if (ioctl(vm->fd, KVM_IRQFD, &req) < 0)
		s->irqfd_off = "KVM_IRQFD refused";
	if (s->irqfd_off) {
		int r =
		    fd_handlers_add(&vm->handlers, fd, EPOLLIN, irq_relay_ready, s, s->name, err);
		if (r < 0)
			return r;
	} else {
		irq.irqfd = fd;
	}
	s->irqfd = take_fd(fd);
	virtio_dev_set_irq(s->dev, &irq);
	return 0;
}

/* ---- queue notifications ---- */

void vm_virtio_notify_ready(void *ctx, int fd, uint32_t events)
{
	struct vm_virtio_notify *n = ctx;
	uint64_t count;
	(void)events;
	/* Reading resets the counter: every write since the last wakeup is
	 * served by this one kick, which pops until the ring is empty. */
	if (read(fd, &count, sizeof(count)) != (ssize_t)sizeof(count))
		return; /* EAGAIN: already drained */
	n->wakeups++;
	n->notifies += count;
	virtio_dev_kick(n->slot->dev, n->q);
}

/* Binds an ioeventfd to queue q's QueueNotify value.  > 0: not usable here
 * (the register path stays), < 0: host error. */
static int notify_assign(struct vm *vm, struct vm_virtio_slot *s, unsigned q, struct kv_err *err)
{
	cleanup_close int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return kv_err_sys(err, errno, "%s: eventfd", s->name);
	struct kvm_ioeventfd io = {
	    .datamatch = q,
	    .addr = s->base + VIRTIO_MMIO_NOTIFY_OFFSET,
	    .len = 4,
	    .fd = fd,
	    .flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};
	if (ioctl(vm->fd, KVM_IOEVENTFD, &io) < 0) {
		s->ioeventfd_off = "KVM_IOEVENTFD refused";
		return 1;
	}
	int r = fd_handlers_add(&vm->handlers, fd, EPOLLIN, vm_virtio_notify_ready, &s->notify[q],
				s->name, err);
	if (r < 0)
		return r; /* KVM keeps its own reference; closing ours is safe */
	s->notify[q].fd = take_fd(fd);
	return 0;
}

static int slot_wire_notify(struct vm *vm, struct vm_virtio_slot *s, struct kv_err *err)
{
	unsigned nq = s->dev->info->nqueues;
	s->nnotify = nq < VM_VIRTIO_MAX_QUEUES ? nq : VM_VIRTIO_MAX_QUEUES;
	for (unsigned q = 0; q < s->nnotify; q++)
		s->notify[q] = (struct vm_virtio_notify){.slot = s, .q = q, .fd = -1};
	if (vm->cfg.no_ioeventfd) {
		s->ioeventfd_off = "disabled (KVBOX_NO_IOEVENTFD)";
		return 0;
	}
	for (unsigned q = 0; q < s->nnotify; q++) {
		int r = notify_assign(vm, s, q, err);
		if (r < 0)
			return r;
		if (r > 0)
			break; /* the rest use the register path */
	}
	return 0;
}

/* ---- building ---- */

static int slot_add(struct vm *vm, const struct virtio_kind *k, unsigned i, struct kv_err *err)
{
	struct vm_virtio *v = &vm->virtio;
	if (v->n == VM_VIRTIO_MAX)
		return kv_err_set(err, ENOSPC, "%s: all %u virtio-mmio slots are taken", k->name,
				  VM_VIRTIO_MAX);
	struct vm_virtio_slot *s = &v->slot[v->n];
	*s = (struct vm_virtio_slot){.vm = vm, .name = k->name, .irqfd = -1};
	virtio_mmio_slot(v->n, &s->base, &s->gsi);
	int r = k->create(vm, i, &s->dev, err);
	if (r < 0)
		return kv_err_wrap(err, r, "%s", k->name);
	v->n++; /* from here vm_virtio_destroy() cleans it up */
	if ((r = bus_register(&vm->mmio, s->base, VIRTIO_MMIO_WINDOW, &virtio_bus_ops, s->dev,
			      s->name, err)) < 0)
		return r;
	if ((r = slot_wire_irq(vm, s, err)) < 0 || (r = slot_wire_notify(vm, s, err)) < 0)
		return r;
	return k->wire ? k->wire(vm, i, s, err) : 0;
}

int vm_virtio_create(struct vm *vm, struct kv_err *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(virtio_kinds); i++) {
		const struct virtio_kind *k = &virtio_kinds[i];
		unsigned n = k->count(&vm->cfg);
		for (unsigned j = 0; j < n; j++) {
			int r = slot_add(vm, k, j, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

void vm_virtio_destroy(struct vm *vm)
{
	struct vm_virtio *v = &vm->virtio;
	for (unsigned i = 0; i < v->n; i++) {
		struct vm_virtio_slot *s = &v->slot[i];
		for (unsigned q = 0; q < s->nnotify; q++) {
			if (s->notify[q].fd < 0)
				continue;
			fd_handlers_remove(&vm->handlers, s->notify[q].fd);
			close(s->notify[q].fd);
			s->notify[q].fd = -1;
		}
		if (s->irqfd >= 0) {
			fd_handlers_remove(&vm->handlers, s->irqfd);
			close(s->irqfd);
		}
		s->irqfd = -1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(virtio_kinds); i++)
		virtio_kinds[i].destroy(vm);
	v->n = 0;
}

int vm_virtio_external_fds(struct fd_handlers *handlers, struct vm_virtio_slot *s, unsigned q,
			   int *ioeventfd, int *irqfd)
{
	if (q >= s->nnotify)
		return -EINVAL;
	if (s->notify[q].fd >= 0)
		fd_handlers_remove(handlers, s->notify[q].fd); /* -ENOENT: already taken */
	*ioeventfd = s->notify[q].fd;
	*irqfd = s->irqfd;
	return 0;
}

/* ---- command line and reports ---- */

/* " virtio_mmio.device=4K@0x" + 16 hex digits + ":" + 10 digits */
#define CMDLINE_ENTRY_MAX 64

size_t vm_virtio_cmdline_size(const struct vm_virtio *v, const char *user)
{
	return strlen(user) + (size_t)v->n * CMDLINE_ENTRY_MAX + 1;
}

int vm_virtio_cmdline(const struct vm_virtio *v, const char *user, char *buf, size_t size)
{
	size_t len = strlen(user);
	if (len >= size)
		return -ENOSPC;
	memcpy(buf, user, len + 1);
	for (unsigned i = 0; i < v->n; i++) {
		if (len > 0 && buf[len - 1] != ' ') {
			if (len + 1 >= size)
				return -ENOSPC;
			buf[len++] = ' ';
			buf[len] = '\0';
		}
		int n = virtio_mmio_cmdline(buf + len, size - len, v->slot[i].base, v->slot[i].gsi);
		if (n < 0)
			return n;
		len += (size_t)n;
	}
	return len > INT32_MAX ? -ENOSPC : (int)len;
}

void vm_virtio_describe(const struct vm_virtio *v, FILE *f)
{
	for (unsigned i = 0; i < v->n; i++) {
		const struct vm_virtio_slot *s = &v->slot[i];
		bool ioeventfd = s->nnotify && s->notify[0].fd >= 0;
		fprintf(
		    f, "kvbox: %s at 0x%" PRIx64 " irq %u: interrupts by %s, notifications by %s\n",
		    s->name, s->base, s->gsi, s->irqfd_off ? "KVM_IRQ_LINE" : "irqfd",
		    ioeventfd ? "ioeventfd" : "MMIO exits");
		if (s->irqfd_off)
			fprintf(f, "kvbox: %s: irqfd not used: %s\n", s->name, s->irqfd_off);
		if (s->ioeventfd_off)
			fprintf(f, "kvbox: %s: ioeventfd not used: %s\n", s->name,
				s->ioeventfd_off);
	}
}

void vm_virtio_report(const struct vm_virtio *v, FILE *f)
{
	for (unsigned i = 0; i < v->n; i++) {
		const struct vm_virtio_slot *s = &v->slot[i];
		uint64_t wakeups = 0, notifies = 0;
		for (unsigned q = 0; q < s->nnotify; q++) {
			wakeups += s->notify[q].wakeups;
			notifies += s->notify[q].notifies;
		}
		fprintf(f,
			"kvbox: %s: ioeventfd: %" PRIu64 " wakeups for %" PRIu64 " notifications\n",
			s->name, wakeups, notifies);
	}
	for (size_t i = 0; i < ARRAY_SIZE(virtio_kinds); i++)
		if (virtio_kinds[i].report)
			virtio_kinds[i].report(v, f);
}
