/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The machine's virtio-9p devices: one per share of vm_config.shares, in
 * consecutive virtio-mmio slots after the rng, all served by one gofer
 * process (gofer/client.h).  An entry of the device table in
 * vmm/virtio_devs.c:
 *
 *   create (first share)  start `kvbox gofer` with every share, hand it
 *                         guest RAM, watch its control socket in the event
 *                         loop (QUEUE_ERROR -> NEEDS_RESET; its death ->
 *                         every 9p device fails, the VM goes on);
 *   create (each share)   a virtio_p9 with the share's tag, external backend;
 *   wire (each share)     take the queue's ioeventfd out of the event loop
 *                         (or make an eventfd the register path kicks when
 *                         KVM gave none) and bind it and the slot's irqfd;
 *   destroy               SHUTDOWN, wait, SIGKILL after 2 s, reap.
 */
#ifndef KVBOX_VMM_P9_DEVS_H
#define KVBOX_VMM_P9_DEVS_H

#include <stdbool.h>
#include <stdio.h>

#include "gofer/client.h"
#include "util/err.h"
#include "virtio/p9.h"

struct vm;
struct vm_config;
struct vm_virtio;
struct vm_virtio_slot;

struct vm_p9 {
	unsigned n;
	struct virtio_p9 dev[GOFER_MAX_SHARES];
	int own_kick[GOFER_MAX_SHARES]; /* eventfd made here when KVM gave none, else -1 */
	struct gofer_client gofer;
	bool gofer_live;
	bool watching; /* the gofer's socket is in vm->handlers */
};

unsigned vm_p9_count(const struct vm_config *cfg);
int vm_p9_create(struct vm *vm, unsigned i, struct virtio_dev **dev, struct kv_err *err);
int vm_p9_wire(struct vm *vm, unsigned i, struct vm_virtio_slot *s, struct kv_err *err);
void vm_p9_destroy(struct vm *vm);
void vm_p9_report(const struct vm_virtio *v, FILE *f);

#endif
