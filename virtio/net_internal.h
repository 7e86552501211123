/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared between the virtio-net sources, not an interface: net.c (device
 * ops, lifecycle, poll, the tx queue and its parser, the tap helper) and
 * net_rx.c (the rx queue).  Everything here runs with n->vdev.lock held.
 */
#ifndef KVBOX_VIRTIO_NET_INTERNAL_H
#define KVBOX_VIRTIO_NET_INTERNAL_H

#include "util/cleanup.h"
#include "virtio/net.h"

/* epoll tokens in the device's private set */
#define NET_TOKEN_WAKE 0u
#define NET_TOKEN_TAP  1u

static inline struct virtio_net *to_net(struct virtio_dev *dev)
{
	return container_of(dev, struct virtio_net, vdev);
}

static inline bool net_has(const struct virtio_net *n, unsigned bit)
{
	return virtio_dev_has_feature(&n->vdev, bit);
}

/* Frames from the tap into rx buffers, up to NET_RX_BUDGET; leaves the
 * tap in the epoll set only while there is room for a frame. */
void net_rx_process(struct virtio_net *n);
/* Forgets held rx chains (device reset: the rings are gone) and takes the
 * tap out of the epoll set. */
void net_rx_reset(struct virtio_net *n);
/* Puts the tap in (on) or takes it out of the private epoll set. */
void net_rx_arm(struct virtio_net *n, bool on);
/* Bytes of buffer one frame may need, from the negotiated offloads. */
uint32_t net_rx_need(const struct virtio_net *n);

#endif
