/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-rng device.  Request flow:
 *   guest kicks queue 0 -> transport -> rng_notify() (vCPU thread, or the
 *   event loop through virtio_dev_kick() when an ioeventfd is wired)
 *   -> virtq_pop() until empty: each validated chain gets a vq_writer,
 *   getrandom() fills the writable iovecs in place (no bounce buffer),
 *   virtq_push(head, bytes) -> virtio_dev_signal() interrupts if the
 *   guest asked for it.  A broken chain -> virtio_dev_fail() (NEEDS_RESET).
 */
#include "virtio/rng.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <linux/virtio_ids.h>

#include "util/cleanup.h"

#define RNG_QUEUE_SIZE 256
#define RNG_IOV_BATCH  16

static struct virtio_rng *to_rng(struct virtio_dev *dev)
{
	return container_of(dev, struct virtio_rng, vdev);
}

/* Fills one iovec from getrandom; returns bytes written (short on error). */
static size_t fill_random(void *p, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = getrandom((uint8_t *)p + done, len - done, GRND_NONBLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	return done;
}

/* Serves one request: as many random bytes as the chain can take, up to
 * VIRTIO_RNG_MAX_REQUEST.  Returns the bytes written. */
static uint32_t rng_serve(const struct vq_chain *c)
{
	struct vq_writer w;
	struct iovec iov[RNG_IOV_BATCH];

	vq_writer_init(&w, c);
	size_t want = vq_writer_remaining(&w);
	if (want > VIRTIO_RNG_MAX_REQUEST)
		want = VIRTIO_RNG_MAX_REQUEST;
	while (want) {
		/* Take what RNG_IOV_BATCH iovecs cover, at most `want`. */
		size_t chunk = want;
		int n;
		while ((n = vq_writer_iov(&w, chunk, iov, RNG_IOV_BATCH)) == -ENOBUFS)
			chunk /= 2;
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			size_t got = fill_random(iov[i].iov_base, iov[i].iov_len);
			vq_writer_skip(&w, got);
			if (got < iov[i].iov_len)
				return (uint32_t)vq_writer_written(&w);
		}
		want -= chunk;
	}
	return (uint32_t)vq_writer_written(&w);
}

static void rng_process(struct virtio_rng *rng)
{
	struct virtio_dev *dev = &rng->vdev;
	struct vq_chain *c = &rng->chain;
	int r;

	while ((r = virtq_pop(&rng->vq, c)) > 0) {
		uint32_t n = rng_serve(c);
		virtq_push(&rng->vq, c, n);
		rng->bytes_served += n;
		rng->requests++;
	}
	if (r < 0) {
		virtio_dev_fail(dev, "queue 0: %s", vq_strerror(r));
		return;
	}
	virtio_dev_signal(dev, &rng->vq);
}

static void rng_queue_notify(struct virtio_dev *dev, unsigned q)
{
	(void)q;
	rng_process(to_rng(dev));
}

static int rng_activate(struct virtio_dev *dev)
{
	/* Buffers queued before DRIVER_OK were not served: do it now. */
	rng_process(to_rng(dev));
	return 0;
}

static const struct virtio_dev_ops rng_ops = {
    .queue_notify = rng_queue_notify, .activate = rng_activate,
    /* no features, no config space, nothing to stop on reset: all work
     * happens synchronously under the device lock */
};

static const struct virtio_dev_info rng_info = {
    .name = "rng",
    .device_id = VIRTIO_ID_RNG,
    .config_len = 0,
    .nqueues = 1,
    .queue_max = RNG_QUEUE_SIZE,
};

int virtio_rng_init(struct virtio_rng *rng, const struct guest_mem *mem, struct kv_err *err)
{
	memset(rng, 0, sizeof(*rng));
	return virtio_dev_init(&rng->vdev, &rng_info, &rng_ops, &rng->vq, mem, err);
}

void virtio_rng_destroy(struct virtio_rng *rng)
{
	virtio_dev_destroy(&rng->vdev);
}
