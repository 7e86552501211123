/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-9p device (VIRTIO_ID_9P): the guest-facing front of one share.
 * Config space is the mount tag (u16 length + bytes, VIRTIO_9P_MOUNT_TAG);
 * one request queue.  Each request is one 9P message in the chain's
 * readable part; the response goes into its writable part.
 *
 * Two backends:
 *   external    (the VMM): the queue belongs to the gofer process.  On
 *               DRIVER_OK the device exports the queue state and calls
 *               backend->activate(); on reset backend->reset() must return
 *               only once the gofer no longer touches the queue; a
 *               QueueNotify that reached the VMM by an MMIO exit (no
 *               ioeventfd) is forwarded with backend->kick().  The gofer
 *               serves the queue with virtio_p9_serve().
 *   in-process  (tests, and a fallback): a struct p9_server is called on
 *               the queue directly, on the notifying thread.
 *
 * Every 9P session is per device: a p9_server serves exactly one
 * virtio-9p device, so fids of two shares never mix.
 */
#ifndef KVBOX_VIRTIO_P9_H
#define KVBOX_VIRTIO_P9_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "gofer/server.h"
#include "virtio/mmio.h"

/* Longest mount tag kvbox accepts (the guest's mount source string). */
#define VIRTIO_P9_TAG_MAX    31
#define VIRTIO_P9_QUEUE_SIZE 128 /* Linux's 9p transport uses 128 entries */

/* A chain whose writable part cannot hold even an Rlerror (returned
 * negated, like the -VQ_E_* codes).  The device needs a reset. */
#define VIRTIO_P9_E_NO_ROOM EMSGSIZE

struct virtio_p9_backend {
	/* Called under the device lock.  <0 fails activation (NEEDS_RESET). */
	int (*activate)(void *ctx, unsigned idx, const struct virtq_state *st);
	void (*reset)(void *ctx, unsigned idx);
	void (*kick)(void *ctx, unsigned idx);
	void *ctx;
	unsigned idx; /* the backend's number for this device */
};

struct virtio_p9 {
	struct virtio_dev vdev;
	struct virtq vq;
	uint16_t tag_len;
	char tag[VIRTIO_P9_TAG_MAX + 1];
	/* in-process backend */
	struct p9_server *server;
	struct vq_chain *chain;
	/* external backend (vdev.external_backend set) */
	struct virtio_p9_backend backend;
	uint64_t requests; /* served in-process */
};

/* Checks a mount tag: 1..VIRTIO_P9_TAG_MAX bytes, printable ASCII, no
 * space, ':' or ','.  0 or -EINVAL with err filled. */
int virtio_p9_check_tag(const char *tag, struct kv_err *err);

int virtio_p9_init(struct virtio_p9 *p, const char *tag, const struct guest_mem *mem,
		   struct kv_err *err);
void virtio_p9_destroy(struct virtio_p9 *p);
/* Before the guest runs: serve in-process with s (not owned) ... */
int virtio_p9_set_server(struct virtio_p9 *p, struct p9_server *s, struct kv_err *err);
/* ... or hand the queue to an external backend. */
void virtio_p9_set_backend(struct virtio_p9 *p, const struct virtio_p9_backend *b);

/*
 * Serves up to `budget` chains from q with s: pop, p9_server_handle(),
 * push.  Sets *pushed when it returned buffers: the caller then asks
 * virtq_should_notify() (once: it tracks what was signalled) and raises
 * the interrupt.  Returns 0 when the queue is empty, 1 when
 * the budget ran out first (call again), or a negated VQ_E_* /
 * VIRTIO_P9_E_NO_ROOM when the guest broke the queue (it is then stopped).
 */
int virtio_p9_serve(struct virtq *q, struct p9_server *s, struct vq_chain *c, unsigned budget,
		    bool *pushed);
/* Names a serve error (a VQ_E_* code or VIRTIO_P9_E_NO_ROOM, negated). */
const char *virtio_p9_strerror(int err);

#endif
