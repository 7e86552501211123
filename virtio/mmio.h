/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-mmio (version 2) transport and the device model behind it.
 *
 * A device (rng, 9p, net, vsock) embeds a struct virtio_dev, fills a const
 * struct virtio_dev_info and struct virtio_dev_ops, and gets its own state
 * back in the ops with container_of().  There are no globals: every device
 * is a value, so tests can make as many as they like.
 *
 * Request flow:
 *   guest MMIO access -> VMM MMIO bus (vCPU thread) -> virtio_mmio_read/
 *   virtio_mmio_write (registers, under dev->lock) -> the status state
 *   machine, queue setup (virtq_enable validates rings at QueueReady=1) and
 *   ops->config_read/config_write.
 *   QueueNotify: either a register write (-> ops->queue_notify) or, when
 *   the VMM registered an ioeventfd on the notify register, the eventfd
 *   becomes readable and its owner calls virtio_dev_kick() (or, for a queue
 *   handed to another process, that process pops the queue itself).
 *   Completion: the device pushes used buffers, then virtio_dev_signal()
 *   sets InterruptStatus and pulses the interrupt (irqfd, or a raise
 *   callback).
 *   Guest error: virtio_dev_fail() sets NEEDS_RESET, stops every queue and
 *   raises a config-change interrupt; the VMM keeps running.
 *
 * Locking: dev->lock serialises register accesses from several vCPUs and
 * every ops call made by the transport.  ops are called with it held.
 * virtio_dev_signal/config_changed/fail use only atomics, so a device may
 * call them from any thread, with or without the lock.
 */
#ifndef KVBOX_VIRTIO_MMIO_H
#define KVBOX_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "virtio/queue.h"
#include "vmm/memory.h"

/* Size of one device's register window. */
#define VIRTIO_MMIO_WINDOW 0x1000u
/* VendorID register value: "KVBX" read as a little-endian u32. */
#define VIRTIO_MMIO_VENDOR 0x5842564bu

struct virtio_dev;

struct virtio_dev_ops {
	/* Device-specific feature bits.  The transport adds VIRTIO_F_VERSION_1
	 * and the ring features it implements (EVENT_IDX, INDIRECT_DESC). */
	uint64_t (*features)(struct virtio_dev *dev);
	/* Config space accesses, already checked to lie within config_len
	 * (off + len <= config_len, len 1, 2, 4 or 8). */
	void (*config_read)(struct virtio_dev *dev, uint32_t off, void *data, unsigned len);
	void (*config_write)(struct virtio_dev *dev, uint32_t off, const void *data, unsigned len);
	/* The guest kicked queue q (enabled, DRIVER_OK, not NEEDS_RESET). */
	void (*queue_notify)(struct virtio_dev *dev, unsigned q);
	/* DRIVER_OK: features are in dev->features, ready queues enabled.
	 * Process anything already queued.  < 0 sets NEEDS_RESET. */
	int (*activate)(struct virtio_dev *dev);
	/* Guest wrote 0 to Status.  Stop all queue processing (join workers,
	 * tell an external backend) before returning: the transport then
	 * forgets the queues. */
	void (*reset)(struct virtio_dev *dev);
};

/* What kind of device this is; const, one per device type. */
struct virtio_dev_info {
	const char *name;    /* "rng", "9p": log prefix */
	uint32_t device_id;  /* VIRTIO_ID_* from <linux/virtio_ids.h> */
	uint32_t config_len; /* bytes of config space at 0x100 */
	unsigned nqueues;
	uint16_t queue_max; /* QueueNumMax for every queue, <= VQ_SIZE_MAX */
};

/*
 * How the device interrupts the guest.  irqfd >= 0: an eventfd the VMM
 * bound to the GSI with KVM_IRQFD (write 1 = one edge).  Otherwise
 * raise(ctx, gsi) is called to pulse the line (tests, or a VMM without
 * irqfd, e.g. through machine_hooks.irq_line 1 then 0).  Both may be
 * absent: interrupts are then dropped (fuzzing).
 */
struct virtio_irq {
	int irqfd;
	void (*raise)(void *ctx, unsigned gsi);
	void *ctx;
	unsigned gsi;
};

struct virtio_ratelimit {
	pthread_mutex_t lock; /* logging may come from any thread */
	uint64_t window_ns;   /* start of the current window */
	unsigned count;	      /* lines printed in it */
	unsigned dropped;     /* lines suppressed in it */
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	const struct virtio_dev_info *info;
	const struct guest_mem *mem;
	struct virtq *queues; /* info->nqueues, owned by the device */
	struct virtio_irq irq;
	/* The queues are served by another process that raises the irqfd
	 * itself and cannot set InterruptStatus: report the used-buffer bit
	 * as always set so the guest's handler scans its rings. */
	bool external_backend;

	pthread_mutex_t lock;
	uint32_t status;	 /* VIRTIO_CONFIG_S_*, atomic */
	uint32_t isr;		 /* VIRTIO_MMIO_INT_*, atomic */
	uint64_t offered;	 /* device features incl. transport bits */
	uint64_t features;	 /* driver features (accepted at FEATURES_OK) */
	bool features_beyond_64; /* driver set a bit we cannot offer */
	uint32_t dev_features_sel;
	uint32_t drv_features_sel;
	uint32_t queue_sel;
	uint32_t config_generation; /* atomic */
	struct virtio_ratelimit rl;
};

/* Sets up the transport state; queues must point at info->nqueues queues.
 * The irq starts unwired (irqfd -1). */
int virtio_dev_init(struct virtio_dev *dev, const struct virtio_dev_info *info,
		    const struct virtio_dev_ops *ops, struct virtq *queues,
		    const struct guest_mem *mem, struct kv_err *err);
void virtio_dev_destroy(struct virtio_dev *dev);

/* Wiring, before the guest runs. */
void virtio_dev_set_irq(struct virtio_dev *dev, const struct virtio_irq *irq);

/* Register window entry points (offset relative to the window base). */
void virtio_mmio_read(struct virtio_dev *dev, uint64_t offset, void *data, unsigned len);
void virtio_mmio_write(struct virtio_dev *dev, uint64_t offset, const void *data, unsigned len);
/* The same with an opaque pointer (= the struct virtio_dev), matching the
 * VMM bus callback signature (struct bus_dev_ops in devices/devices.h). */
void virtio_mmio_bus_read(void *opaque, uint64_t offset, void *data, unsigned len);
void virtio_mmio_bus_write(void *opaque, uint64_t offset, const void *data, unsigned len);

/* The register an ioeventfd should watch (4 bytes, datamatch = queue index). */
#define VIRTIO_MMIO_NOTIFY_OFFSET 0x050u

/* An ioeventfd for queue q fired: same as a QueueNotify write of q. */
void virtio_dev_kick(struct virtio_dev *dev, unsigned q);

/* After pushing used buffers on queue q: interrupt if the queue wants it. */
void virtio_dev_signal(struct virtio_dev *dev, struct virtq *q);
/* Config space changed: bump ConfigGeneration and interrupt. */
void virtio_dev_config_changed(struct virtio_dev *dev);
/* The guest broke the protocol: NEEDS_RESET, stop queues, log (rate-limited).
 * Safe from any thread. */
void virtio_dev_fail(struct virtio_dev *dev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool virtio_dev_driver_ok(const struct virtio_dev *dev);
bool virtio_dev_has_feature(const struct virtio_dev *dev, unsigned bit);

/* Rate-limited log line "kvbox: virtio-<name>: ..." on stderr. */
void virtio_dev_log(struct virtio_dev *dev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Window and IRQ of the index-th virtio-mmio slot on x86 (boot/x86_layout.h). */
void virtio_mmio_slot(unsigned index, uint64_t *base, unsigned *irq);
/* Writes "virtio_mmio.device=4K@0x<base>:<irq>" into buf; returns its length,
 * or -ENOSPC if it does not fit. */
int virtio_mmio_cmdline(char *buf, size_t size, uint64_t base, unsigned irq);

#endif
