/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-9p device front: feature VIRTIO_9P_MOUNT_TAG, the tag in config
 * space, one queue, and virtio_p9_serve() (the queue -> 9P server loop the
 * gofer runs).  See p9.h for the two backends.
 *
 * Request flow, external backend (kvbox boot, sandbox):
 *   guest QueueNotify -> ioeventfd (KVM) -> gofer's epoll -> virtio_p9_serve:
 *   virtq_pop -> p9_server_handle(readable iovs, writable iovs) -> file data
 *   read/written straight into guest RAM -> virtq_push -> irqfd.
 *   The VMM only sees register accesses, DRIVER_OK (hand over the queue)
 *   and reset (take it back).
 * In-process backend (tests): the same serve loop on the notifying thread.
 */
#include "virtio/p9.h"

#include <stdlib.h>
#include <string.h>

#include <linux/virtio_9p.h>
#include <linux/virtio_ids.h>

#include "util/cleanup.h"

#define CONFIG_LEN (2 + VIRTIO_P9_TAG_MAX)

static struct virtio_p9 *to_p9(struct virtio_dev *dev)
{
	return container_of(dev, struct virtio_p9, vdev);
}

int virtio_p9_check_tag(const char *tag, struct kv_err *err)
{
	size_t n = strlen(tag);

	if (n == 0 || n > VIRTIO_P9_TAG_MAX)
		return kv_err_set(err, EINVAL, "mount tag '%s' must be 1 to %d characters", tag,
				  VIRTIO_P9_TAG_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = tag[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		if (!ok)
			return kv_err_set(err, EINVAL,
					  "mount tag '%s' may only hold letters, digits, '.', '_' "
					  "and '-'",
					  tag);
	}
	return 0;
}

/* ---- the serve loop (gofer and in-process) ---- */

int virtio_p9_serve(struct virtq *q, struct p9_server *s, struct vq_chain *c, unsigned budget,
		    bool *pushed_any)
{
	int r = 0;
	bool pushed = false;

	while (budget && (r = virtq_pop(q, c)) > 0) {
		budget--;
		const struct iovec *req = c->iov, *resp = c->iov + c->nr_read;
		size_t len = p9_server_handle(s, req, c->nr_read, resp, c->nr_write);
		if (len == 0) {
			/* No room for even an Rlerror: the driver is broken.
			 * Return the buffers, then stop the queue. */
			virtq_push(q, c, 0);
			virtq_stop(q);
			r = -VIRTIO_P9_E_NO_ROOM;
			pushed = true;
			break;
		}
		/* len <= write_len: the server only writes inside resp */
		virtq_push(q, c, (uint32_t)len);
		pushed = true;
	}
	*pushed_any = pushed;
	if (r < 0)
		return r;
	/* Out of budget before the ring said empty: with EVENT_IDX only a
	 * pop that finds nothing re-arms avail_event, so come back. */
	return budget == 0 ? 1 : 0;
}

const char *virtio_p9_strerror(int err)
{
	if (err == -VIRTIO_P9_E_NO_ROOM || err == VIRTIO_P9_E_NO_ROOM)
		return "request has no room for a response";
	return vq_strerror(err);
}

/* ---- device ops ---- */

static uint64_t p9_features(struct virtio_dev *dev)
{
	(void)dev;
	return 1ULL << VIRTIO_9P_MOUNT_TAG;
}

static void p9_config_read(struct virtio_dev *dev, uint32_t off, void *data, unsigned len)
{
	struct virtio_p9 *p = to_p9(dev);
	uint8_t cfg[CONFIG_LEN] = {0};
	uint16_t tl = htole16(p->tag_len);

	memcpy(cfg, &tl, 2);
	memcpy(cfg + 2, p->tag, p->tag_len);
	/* the transport checked off + len <= CONFIG_LEN */
	memcpy(data, cfg + off, len);
}

static void p9_process(struct virtio_p9 *p)
{
	bool pushed = false;
	int r = virtio_p9_serve(&p->vq, p->server, p->chain, ~0u, &pushed);

	if (pushed) /* interrupts if the guest wants one */
		virtio_dev_signal(&p->vdev, &p->vq);
	if (r < 0)
		virtio_dev_fail(&p->vdev, "queue 0: %s", virtio_p9_strerror(r));
}

static void p9_queue_notify(struct virtio_dev *dev, unsigned q)
{
	struct virtio_p9 *p = to_p9(dev);

	(void)q;
	if (dev->external_backend) {
		if (p->backend.kick)
			p->backend.kick(p->backend.ctx, p->backend.idx);
		return;
	}
	if (p->server)
		p9_process(p);
}

static int p9_activate(struct virtio_dev *dev)
{
	struct virtio_p9 *p = to_p9(dev);

	if (dev->external_backend) {
		struct virtq_state st;
		if (!p->vq.enabled)
			return -VQ_E_SIZE; /* DRIVER_OK without the request queue */
		virtq_export(&p->vq, &st);
		return p->backend.activate(p->backend.ctx, p->backend.idx, &st);
	}
	if (!p->server)
		return -ENODEV;
	p9_process(p);
	return 0;
}

static void p9_reset(struct virtio_dev *dev)
{
	struct virtio_p9 *p = to_p9(dev);

	/* In-process work runs under the device lock, so it has stopped;
	 * an external backend must confirm before the rings are forgotten. */
	if (dev->external_backend && p->backend.reset)
		p->backend.reset(p->backend.ctx, p->backend.idx);
}

static const struct virtio_dev_ops p9_ops = {
    .features = p9_features,
    .config_read = p9_config_read,
    .queue_notify = p9_queue_notify,
    .activate = p9_activate,
    .reset = p9_reset,
};

static const struct virtio_dev_info p9_info = {
    .name = "9p",
    .device_id = VIRTIO_ID_9P,
    .config_len = CONFIG_LEN,
    .nqueues = 1,
    .queue_max = VIRTIO_P9_QUEUE_SIZE,
};

int virtio_p9_init(struct virtio_p9 *p, const char *tag, const struct guest_mem *mem,
		   struct kv_err *err)
{
	memset(p, 0, sizeof(*p));
	int r = virtio_p9_check_tag(tag, err);
	if (r)
		return r;
	p->tag_len = (uint16_t)strlen(tag);
	memcpy(p->tag, tag, p->tag_len);
	return virtio_dev_init(&p->vdev, &p9_info, &p9_ops, &p->vq, mem, err);
}

void virtio_p9_destroy(struct virtio_p9 *p)
{
	virtio_dev_destroy(&p->vdev);
	free(p->chain);
	p->chain = NULL;
}

int virtio_p9_set_server(struct virtio_p9 *p, struct p9_server *s, struct kv_err *err)
{
	if (!p->chain && !(p->chain = malloc(sizeof(*p->chain))))
		return kv_err_set(err, ENOMEM, "virtio-9p: out of memory");
	p->server = s;
	p->vdev.external_backend = false;
	return 0;
}

void virtio_p9_set_backend(struct virtio_p9 *p, const struct virtio_p9_backend *b)
{
	p->backend = *b;
	p->vdev.external_backend = true;
}
