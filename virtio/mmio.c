/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-mmio version 2 register window (virtio 1.x, 4.2.2) over a
 * struct virtio_dev; see mmio.h for the request flow and locking.
 *
 * Everything the guest writes here is checked at the register: wrong-size
 * or misaligned accesses are dropped (reads give 0), queue registers only
 * take effect between FEATURES_OK and DRIVER_OK on a queue that is not
 * ready, rings are validated when QueueReady goes to 1, and Status only
 * moves along the edges in status_edges[].  Bad guest input is logged
 * (rate-limited) and ignored, or sets NEEDS_RESET; it never stops the VMM.
 */
#include "virtio/mmio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "boot/x86_layout.h"
#include "util/cleanup.h"

#define S_ACK  VIRTIO_CONFIG_S_ACKNOWLEDGE
#define S_DRV  VIRTIO_CONFIG_S_DRIVER
#define S_FEAT VIRTIO_CONFIG_S_FEATURES_OK
#define S_OK   VIRTIO_CONFIG_S_DRIVER_OK
#define S_FAIL VIRTIO_CONFIG_S_FAILED
#define S_NR   VIRTIO_CONFIG_S_NEEDS_RESET

#define MMIO_MAGIC 0x74726976u /* "virt" */

/* Feature bits the transport and struct virtq implement for every device. */
#define TRANSPORT_FEATURES                                                                         \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX) |                        \
	 (1ULL << VIRTIO_RING_F_INDIRECT_DESC))

/* ---- status state machine ---- */

enum status_action {
	ST_NONE,
	ST_FEATURES_OK, /* check the driver's features before accepting */
	ST_DRIVER_OK,	/* activate the device after accepting */
};

/* Every allowed driver write (NEEDS_RESET masked off both sides), besides
 * writing 0 (reset, from anywhere) and rewriting the current value. */
static const struct status_edge {
	uint8_t from, to;
	enum status_action action;
} status_edges[] = {
    {0, S_ACK, ST_NONE},
    {S_ACK, S_ACK | S_DRV, ST_NONE},
    {S_ACK | S_DRV, S_ACK | S_DRV | S_FEAT, ST_FEATURES_OK},
    {S_ACK | S_DRV | S_FEAT, S_ACK | S_DRV | S_FEAT | S_OK, ST_DRIVER_OK},
    /* FAILED may be added at any stage. */
    {0, S_FAIL, ST_NONE},
    {S_ACK, S_ACK | S_FAIL, ST_NONE},
    {S_ACK | S_DRV, S_ACK | S_DRV | S_FAIL, ST_NONE},
    {S_ACK | S_DRV | S_FEAT, S_ACK | S_DRV | S_FEAT | S_FAIL, ST_NONE},
    {S_ACK | S_DRV | S_FEAT | S_OK, S_ACK | S_DRV | S_FEAT | S_OK | S_FAIL, ST_NONE},
};

static const struct status_edge *status_find(uint32_t from, uint32_t to)
{
	for (size_t i = 0; i < ARRAY_SIZE(status_edges); i++)
		if (status_edges[i].from == from && status_edges[i].to == to)
			return &status_edges[i];
	return NULL;
}

static uint32_t status_get(const struct virtio_dev *dev)
{
	return __atomic_load_n(&dev->status, __ATOMIC_ACQUIRE);
}

/* Replaces the driver-owned bits, keeping a NEEDS_RESET set concurrently. */
static void status_set_driver_bits(struct virtio_dev *dev, uint32_t to)
{
	uint32_t old = status_get(dev);
	while (!__atomic_compare_exchange_n(&dev->status, &old, to | (old & S_NR), false,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
}

bool virtio_dev_driver_ok(const struct virtio_dev *dev)
{
	uint32_t s = status_get(dev);
	return (s & S_OK) && !(s & (S_NR | S_FAIL));
}

bool virtio_dev_has_feature(const struct virtio_dev *dev, unsigned bit)
{
	return bit < 64 && (dev->features & (1ULL << bit));
}

/* ---- logging ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#define RL_WINDOW_NS (5ULL * 1000000000ULL)
#define RL_BURST     10

__attribute__((format(printf, 2, 0))) static void virtio_dev_vlog(struct virtio_dev *dev,
								  const char *fmt, va_list ap)
{
	struct virtio_ratelimit *rl = &dev->rl;
	uint64_t t = now_ns();
	unsigned dropped = 0;
	bool print;

	pthread_mutex_lock(&rl->lock);
	if (t - rl->window_ns >= RL_WINDOW_NS) {
		dropped = rl->dropped;
		rl->window_ns = t;
		rl->count = 0;
		rl->dropped = 0;
	}
	print = rl->count < RL_BURST;
	if (print)
		rl->count++;
	else
		rl->dropped++;
	pthread_mutex_unlock(&rl->lock);

	if (dropped)
		fprintf(stderr, "kvbox: virtio-%s: %u messages suppressed\n", dev->info->name,
			dropped);
	if (!print)
		return;
	char line[256];
	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "kvbox: virtio-%s: %s\n", dev->info->name, line);
}

void virtio_dev_log(struct virtio_dev *dev, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	virtio_dev_vlog(dev, fmt, ap);
	va_end(ap);
}

/* ---- interrupts and failure ---- */

static void raise_irq(struct virtio_dev *dev)
{
	if (dev->irq.irqfd >= 0) {
		uint64_t one = 1;
		/* EAGAIN means the counter is already pending: fine. */
		(void)!write(dev->irq.irqfd, &one, sizeof(one));
	} else if (dev->irq.raise) {
		dev->irq.raise(dev->irq.ctx, dev->irq.gsi);
	}
}

void virtio_dev_signal(struct virtio_dev *dev, struct virtq *q)
{
	if (!virtq_should_notify(q))
		return;
	__atomic_fetch_or(&dev->isr, VIRTIO_MMIO_INT_VRING, __ATOMIC_RELEASE);
	raise_irq(dev);
}

void virtio_dev_config_changed(struct virtio_dev *dev)
{
	__atomic_fetch_add(&dev->config_generation, 1, __ATOMIC_RELEASE);
	__atomic_fetch_or(&dev->isr, VIRTIO_MMIO_INT_CONFIG, __ATOMIC_RELEASE);
	raise_irq(dev);
}

void virtio_dev_fail(struct virtio_dev *dev, const char *fmt, ...)
{
	uint32_t old = __atomic_fetch_or(&dev->status, S_NR, __ATOMIC_ACQ_REL);

	for (unsigned i = 0; i < dev->info->nqueues; i++)
		virtq_stop(&dev->queues[i]);
	if (old & S_NR)
		return; /* already failed: one report per reset */
	va_list ap;
	va_start(ap, fmt);
	virtio_dev_vlog(dev, fmt, ap);
	va_end(ap);
	/* Spec 2.1.2: after DRIVER_OK, NEEDS_RESET comes with a config
	 * change notification. */
	if (old & S_OK) {
		__atomic_fetch_or(&dev->isr, VIRTIO_MMIO_INT_CONFIG, __ATOMIC_RELEASE);
		raise_irq(dev);
	}
}

/* ---- lifecycle ---- */

int virtio_dev_init(struct virtio_dev *dev, const struct virtio_dev_info *info,
		    const struct virtio_dev_ops *ops, struct virtq *queues,
		    const struct guest_mem *mem, struct kv_err *err)
{
	memset(dev, 0, sizeof(*dev));
	if (!info || !ops || !mem || (info->nqueues && !queues))
		return kv_err_set(err, EINVAL, "virtio device: missing info, ops or memory");
	if (info->queue_max == 0 || info->queue_max > VQ_SIZE_MAX ||
	    (info->queue_max & (info->queue_max - 1)))
		return kv_err_set(err, EINVAL, "virtio-%s: queue size %u not a power of two <= %u",
				  info->name, info->queue_max, VQ_SIZE_MAX);
	if (info->config_len > VIRTIO_MMIO_WINDOW - VIRTIO_MMIO_CONFIG)
		return kv_err_set(err, EINVAL, "virtio-%s: config space too large", info->name);
	int r = pthread_mutex_init(&dev->lock, NULL);
	if (r)
		return kv_err_sys(err, r, "virtio-%s: mutex", info->name);
	r = pthread_mutex_init(&dev->rl.lock, NULL);
	if (r) {
		pthread_mutex_destroy(&dev->lock);
		return kv_err_sys(err, r, "virtio-%s: mutex", info->name);
	}
	dev->ops = ops;
	dev->info = info;
	dev->mem = mem;
	dev->queues = queues;
	dev->irq.irqfd = -1;
	for (unsigned i = 0; i < info->nqueues; i++)
		virtq_init(&queues[i], info->queue_max);
	dev->offered = (ops->features ? ops->features(dev) : 0) | TRANSPORT_FEATURES;
	return 0;
}

void virtio_dev_destroy(struct virtio_dev *dev)
{
	if (dev->info) {
		pthread_mutex_destroy(&dev->lock);
		pthread_mutex_destroy(&dev->rl.lock);
	}
	dev->info = NULL;
}

void virtio_dev_set_irq(struct virtio_dev *dev, const struct virtio_irq *irq)
{
	dev->irq = *irq;
}

static void dev_reset(struct virtio_dev *dev)
{
	if (dev->ops->reset)
		dev->ops->reset(dev);
	for (unsigned i = 0; i < dev->info->nqueues; i++)
		virtq_reset(&dev->queues[i]);
	dev->features = 0;
	dev->features_beyond_64 = false;
	dev->dev_features_sel = 0;
	dev->drv_features_sel = 0;
	dev->queue_sel = 0;
	__atomic_store_n(&dev->isr, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&dev->status, 0, __ATOMIC_RELEASE);
}

/* FEATURES_OK is accepted only for a subset of what we offered that
 * includes VERSION_1 (no legacy interface on mmio v2). */
static bool features_acceptable(struct virtio_dev *dev)
{
	uint64_t unknown = dev->features & ~dev->offered;

	if (unknown || dev->features_beyond_64) {
		virtio_dev_log(dev, "driver accepted features 0x%llx not offered",
			       (unsigned long long)unknown);
		return false;
	}
	if (!(dev->features & (1ULL << VIRTIO_F_VERSION_1))) {
		virtio_dev_log(dev, "driver did not accept VIRTIO_F_VERSION_1");
		return false;
	}
	return true;
}

static void status_write(struct virtio_dev *dev, uint32_t val)
{
	uint32_t from = status_get(dev) & ~S_NR, to = val & ~S_NR;

	if (to == 0) {
		dev_reset(dev);
		return;
	}
	if (to == from)
		return;
	const struct status_edge *e = status_find(from, to);
	if (!e) {
		virtio_dev_log(dev, "ignored status change 0x%x -> 0x%x", from, to);
		return;
	}
	if (e->action == ST_FEATURES_OK && !features_acceptable(dev))
		return; /* the driver reads FEATURES_OK back and gives up */
	status_set_driver_bits(dev, to);
	if (e->action != ST_DRIVER_OK || (status_get(dev) & S_NR))
		return;
	int r = dev->ops->activate ? dev->ops->activate(dev) : 0;
	if (r < 0)
		virtio_dev_fail(dev, "activation failed: %s", vq_strerror(r));
}

/* ---- registers ---- */

static struct virtq *sel_queue(struct virtio_dev *dev)
{
	return dev->queue_sel < dev->info->nqueues ? &dev->queues[dev->queue_sel] : NULL;
}

/* Queue configuration is writable after FEATURES_OK, before DRIVER_OK,
 * while the selected queue is not ready. */
static struct virtq *queue_config_target(struct virtio_dev *dev, uint64_t reg)
{
	uint32_t s = status_get(dev);
	struct virtq *q = sel_queue(dev);

	if (!(s & S_FEAT) || (s & (S_OK | S_FAIL)) || !q || q->enabled) {
		virtio_dev_log(dev,
			       "ignored write to queue register 0x%03llx (status 0x%x, queue %u)",
			       (unsigned long long)reg, s, dev->queue_sel);
		return NULL;
	}
	return q;
}

static void set_half(uint64_t *v, bool high, uint32_t val)
{
	if (high)
		*v = (*v & 0xffffffffULL) | ((uint64_t)val << 32);
	else
		*v = (*v & ~0xffffffffULL) | val;
}

static uint32_t reg_read(struct virtio_dev *dev, uint64_t off)
{
	struct virtq *q = sel_queue(dev);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return 2;
	case VIRTIO_MMIO_DEVICE_ID:
		return dev->info->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return dev->dev_features_sel < 2
			   ? (uint32_t)(dev->offered >> (32 * dev->dev_features_sel))
			   : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return q ? q->max_size : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return q ? q->enabled : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS: {
		uint32_t isr = __atomic_load_n(&dev->isr, __ATOMIC_ACQUIRE);
		if (dev->external_backend && (status_get(dev) & S_OK))
			isr |= VIRTIO_MMIO_INT_VRING;
		return isr;
	}
	case VIRTIO_MMIO_STATUS:
		return status_get(dev);
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return __atomic_load_n(&dev->config_generation, __ATOMIC_ACQUIRE);
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		return 0xffffffffu; /* no shared memory regions (spec 4.2.2) */
	default:
		return 0; /* write-only or reserved */
	}
}

static void notify_locked(struct virtio_dev *dev, uint32_t qi)
{
	if (!virtio_dev_driver_ok(dev) || qi >= dev->info->nqueues || !dev->queues[qi].enabled ||
	    !dev->ops->queue_notify)
		return;
	dev->ops->queue_notify(dev, qi);
}

static void queue_ready_write(struct virtio_dev *dev, uint32_t val)
{
	if (val == 0) {
		struct virtq *q = sel_queue(dev);
		if (q && !(status_get(dev) & S_OK))
			virtq_disable(q);
		return;
	}
	struct virtq *q = queue_config_target(dev, VIRTIO_MMIO_QUEUE_READY);
	if (!q || val != 1)
		return;
	int r = virtq_enable(q, dev->mem, dev->features);
	if (r < 0)
		virtio_dev_fail(dev, "queue %u: %s", dev->queue_sel, vq_strerror(r));
}

static void queue_reg_write(struct virtio_dev *dev, uint64_t off, uint32_t val)
{
	struct virtq *q = queue_config_target(dev, off);

	if (!q)
		return;
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM:
		/* Out-of-range sizes become 0 so enabling fails cleanly. */
		q->size = val <= q->max_size ? (uint16_t)val : 0;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		set_half(&q->desc_gpa, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		set_half(&q->avail_gpa, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		set_half(&q->used_gpa, off == VIRTIO_MMIO_QUEUE_USED_HIGH, val);
		break;
	}
}

static void driver_features_write(struct virtio_dev *dev, uint32_t val)
{
	if ((status_get(dev) & ~S_NR) != (S_ACK | S_DRV)) {
		virtio_dev_log(dev, "ignored DriverFeatures write in status 0x%x", status_get(dev));
		return;
	}
	if (dev->drv_features_sel < 2)
		set_half(&dev->features, dev->drv_features_sel == 1, val);
	else if (val)
		dev->features_beyond_64 = true; /* nothing we offer: FEATURES_OK fails */
}

static void reg_write(struct virtio_dev *dev, uint64_t off, uint32_t val)
{
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		dev->dev_features_sel = val;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		dev->drv_features_sel = val;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		driver_features_write(dev, val);
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		dev->queue_sel = val;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		queue_reg_write(dev, off, val);
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		queue_ready_write(dev, val);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		notify_locked(dev, val);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		__atomic_fetch_and(&dev->isr, ~val, __ATOMIC_ACQ_REL);
		break;
	case VIRTIO_MMIO_STATUS:
		status_write(dev, val);
		break;
	default:
		virtio_dev_log(dev, "ignored write to register 0x%03llx", (unsigned long long)off);
	}
}

/* Config space: 1/2/4/8-byte naturally aligned (8 on 4) accesses inside
 * config_len; returns the offset into config space or -1. */
static int64_t config_offset(const struct virtio_dev *dev, uint64_t offset, unsigned len)
{
	if (offset < VIRTIO_MMIO_CONFIG || offset >= VIRTIO_MMIO_WINDOW)
		return -1;
	uint64_t off = offset - VIRTIO_MMIO_CONFIG;
	if ((len != 1 && len != 2 && len != 4 && len != 8) || off % (len > 4 ? 4 : len))
		return -1;
	if (off > dev->info->config_len || len > dev->info->config_len - off)
		return -1;
	return (int64_t)off;
}

void virtio_mmio_read(struct virtio_dev *dev, uint64_t offset, void *data, unsigned len)
{
	memset(data, 0, len);
	pthread_mutex_lock(&dev->lock);
	if (offset < VIRTIO_MMIO_CONFIG) {
		if (len == 4 && offset % 4 == 0) {
			uint32_t v = htole32(reg_read(dev, offset));
			memcpy(data, &v, 4);
		}
	} else {
		int64_t off = config_offset(dev, offset, len);
		if (off >= 0 && dev->ops->config_read)
			dev->ops->config_read(dev, (uint32_t)off, data, len);
	}
	pthread_mutex_unlock(&dev->lock);
}

void virtio_mmio_write(struct virtio_dev *dev, uint64_t offset, const void *data, unsigned len)
{
	pthread_mutex_lock(&dev->lock);
	if (offset < VIRTIO_MMIO_CONFIG) {
		if (len == 4 && offset % 4 == 0) {
			uint32_t v;
			memcpy(&v, data, 4);
			reg_write(dev, offset, le32toh(v));
		} else {
			virtio_dev_log(dev, "ignored %u-byte access at 0x%03llx", len,
				       (unsigned long long)offset);
		}
	} else {
		int64_t off = config_offset(dev, offset, len);
		if (off >= 0 && dev->ops->config_write)
			dev->ops->config_write(dev, (uint32_t)off, data, len);
	}
	pthread_mutex_unlock(&dev->lock);
}

void virtio_mmio_bus_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	virtio_mmio_read(opaque, offset, data, len);
}

void virtio_mmio_bus_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	virtio_mmio_write(opaque, offset, data, len);
}

void virtio_dev_kick(struct virtio_dev *dev, unsigned q)
{
	pthread_mutex_lock(&dev->lock);
	notify_locked(dev, q);
	pthread_mutex_unlock(&dev->lock);
}

/* ---- machine description ---- */

void virtio_mmio_slot(unsigned index, uint64_t *base, unsigned *irq)
{
	*base = X86_VIRTIO_MMIO_BASE + (uint64_t)index * X86_VIRTIO_MMIO_SIZE;
	*irq = X86_IRQ_VIRTIO_FIRST + index;
}

int virtio_mmio_cmdline(char *buf, size_t size, uint64_t base, unsigned irq)
{
	int n =
	    snprintf(buf, size, "virtio_mmio.device=4K@0x%llx:%u", (unsigned long long)base, irq);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}
