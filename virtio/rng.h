/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-rng (device id 4): one queue of device-writable buffers that the
 * device fills from getrandom(2).  The smallest complete device, and the
 * reference for how a device sits on the queue and the mmio transport.
 */
#ifndef KVBOX_VIRTIO_RNG_H
#define KVBOX_VIRTIO_RNG_H

#include <stdint.h>

#include "virtio/mmio.h"

/* Bytes served per request at most; a bigger buffer gets a short fill. */
#define VIRTIO_RNG_MAX_REQUEST 65536u

struct virtio_rng {
	struct virtio_dev vdev;
	struct virtq vq;
	struct vq_chain chain; /* scratch for the request in progress (device lock) */
	uint64_t bytes_served; /* statistics */
	uint64_t requests;
};

/* Register the result on the MMIO bus with &rng->vdev as opaque. */
int virtio_rng_init(struct virtio_rng *rng, const struct guest_mem *mem, struct kv_err *err);
void virtio_rng_destroy(struct virtio_rng *rng);

#endif
