/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio-mmio devices of one machine: which exist (a const table of
 * device kinds in vmm/virtio_devs.c, in slot order), where each sits
 * (virtio_mmio_slot(): slot i is the 4 KiB window at 0xd0000000 + i*4K and
 * IOAPIC pin 5 + i), how the guest learns of them (one
 * `virtio_mmio.device=4K@0x<base>:<irq>` per slot appended to the kernel
 * command line) and how each is wired to KVM:
 *
 *   registers      the window on vm->mmio; the vCPU thread that takes the
 *                  MMIO exit calls virtio_mmio_read/write (device lock).
 *   notifications  one ioeventfd per queue on base+0x50 (4 bytes,
 *                  datamatch = queue index).  KVM completes the guest's
 *                  write in the kernel and signals the eventfd; the main
 *                  thread's event loop (vm->handlers) reads it and calls
 *                  virtio_dev_kick().  A QueueNotify write KVM does not
 *                  match, or every one when ioeventfd is off or refused,
 *                  exits to the vCPU thread and reaches the device through
 *                  the register path instead: same result, slower.
 *   interrupts     an irqfd bound to GSI n (with the in-kernel irqchip,
 *                  GSI n = IOAPIC pin n): a write of 1 is one edge.  When
 *                  irqfd is off or refused, the line is pulsed with
 *                  KVM_IRQ_LINE.
 *
 * A queue served by another process (the gofer for virtio-9p) takes its
 * notify fd out of vm->handlers (vm_virtio_external_fds) and passes it,
 * the interrupt eventfd and the RAM memfd over a socket; see
 * docs/architecture.md.
 *
 * All state hangs off struct vm (vm->virtio); nothing is global.
 */
#ifndef KVBOX_VMM_VIRTIO_DEVS_H
#define KVBOX_VMM_VIRTIO_DEVS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/err.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio/vsock.h"
#include "vmm/fd_handlers.h"
#include "vmm/p9_devs.h"

#define VM_VIRTIO_MAX	     8 /* slots: windows 0xd0000000..0xd0007fff, IRQs 5..12 */
#define VM_VIRTIO_MAX_QUEUES 4 /* queues per device given an ioeventfd; others exit */
#define VM_VSOCK_GUEST_CID   3 /* the guest's vsock address (the host is 2) */
#define VM_NET_MAX	     4 /* virtio-net devices (vm_config.nets) */

struct vm;
struct vm_virtio_slot;

/* One queue's ioeventfd: the event-loop handler's context. */
struct vm_virtio_notify {
	struct vm_virtio_slot *slot;
	unsigned q;
	int fd;		   /* -1: notifications for this queue take the MMIO exit */
	uint64_t wakeups;  /* times the loop found the eventfd readable */
	uint64_t notifies; /* guest writes those wakeups coalesced */
};

struct vm_virtio_slot {
	struct vm *vm;
	const char *name; /* "virtio-rng": bus name and log prefix */
	struct virtio_dev *dev;
	uint64_t base;
	unsigned gsi;
	/* An eventfd that raises this slot's interrupt when written: bound
	 * by KVM_IRQFD, or (irqfd_off) relayed by the event loop with
	 * KVM_IRQ_LINE.  In-VMM devices use the irqfd or KVM_IRQ_LINE
	 * directly; the eventfd is what an external backend is given. */
	int irqfd;
	unsigned nnotify;
	struct vm_virtio_notify notify[VM_VIRTIO_MAX_QUEUES];
	const char *ioeventfd_off; /* why not, for --debug; NULL when in use */
	const char *irqfd_off;
};

struct vm_virtio {
	unsigned n;
	struct vm_virtio_slot slot[VM_VIRTIO_MAX];
	/* The devices themselves. */
	struct virtio_rng rng;
	bool rng_live;
	struct vm_p9 p9; /* one virtio-9p per share, and their gofer */
	/* virtio-vsock (vm_config.vsock): guest CID VM_VSOCK_GUEST_CID; its
	 * virtio_vsock_fd() is served by the event loop (vm->handlers). */
	struct virtio_vsock vsock;
	bool vsock_live;
	bool vsock_watched;
	/* virtio-net (vm_config.nets), heap-allocated; each one's
	 * virtio_net_fd() is served by the event loop (vm->handlers). */
	struct virtio_net *net[VM_NET_MAX];
	bool net_watched[VM_NET_MAX];
};

/* Builds every device the config asks for, in table order, registers its
 * window on vm->mmio and wires irqfd/ioeventfd.  Needs RAM, the irqchip and
 * vm->handlers; call before any vCPU runs. */
int vm_virtio_create(struct vm *vm, struct kv_err *err);
/* After the vCPUs and the event loop have stopped. */
void vm_virtio_destroy(struct vm *vm);

/* Writes `user`, then " virtio_mmio.device=4K@0x<base>:<irq>" per device
 * (no leading space when user is empty), into buf.  Returns the length, or
 * -ENOSPC when it does not fit in size bytes (NUL included). */
int vm_virtio_cmdline(const struct vm_virtio *v, const char *user, char *buf, size_t size);
/* Bytes vm_virtio_cmdline() needs for `user`, NUL included. */
size_t vm_virtio_cmdline_size(const struct vm_virtio *v, const char *user);

/*
 * For a queue another process serves: takes queue q's ioeventfd out of the
 * event loop and returns the fds to pass it (SCM_RIGHTS).  The slot keeps
 * owning both, so they can be sent again after a device reset.
 * *ioeventfd is -1 when notifications arrive by MMIO exits: the device's
 * queue_notify op must then forward them.  *irqfd always works.
 */
int vm_virtio_external_fds(struct fd_handlers *handlers, struct vm_virtio_slot *s, unsigned q,
			   int *ioeventfd, int *irqfd);

/* fd_handlers callback for a queue's ioeventfd (ctx: struct vm_virtio_notify). */
void vm_virtio_notify_ready(void *ctx, int fd, uint32_t events);

/* fd_handlers callback for virtio_vsock_fd() (ctx: struct virtio_vsock):
 * calls virtio_vsock_poll(). */
void vm_vsock_ready(void *ctx, int fd, uint32_t events);

/* fd_handlers callback for virtio_net_fd() (ctx: struct virtio_net):
 * calls virtio_net_poll(). */
void vm_net_ready(void *ctx, int fd, uint32_t events);

/* --debug lines: where each device is and how it is wired (at start), and
 * what it did (at the end). */
void vm_virtio_describe(const struct vm_virtio *v, FILE *f);
void vm_virtio_report(const struct vm_virtio *v, FILE *f);

#endif
