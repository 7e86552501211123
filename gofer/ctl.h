/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control protocol between the VMM and its gofer process, over one
 * private SOCK_SEQPACKET socketpair (vhost-user in miniature).  Every
 * message is one fixed-size struct gofer_msg; file descriptors ride along
 * as SCM_RIGHTS.  gofer_msg_recv() is the only place either side reads the
 * socket, and gofer_msg_parse() the only place message bytes are checked:
 * size, magic, version, type (each side accepts only the types meant for
 * it), exactly the fds that type carries, share index, memory layout.
 * Anything else is -EPROTO and every fd that came with it is closed.
 *
 *   VMM -> gofer                       gofer -> VMM
 *   MEM       guest RAM; fd: memfd     REPLY        status (+ queue state
 *   ACTIVATE  serve share `dev`'s                   after RESET), same seq
 *             queue; fds: ioeventfd,   QUEUE_ERROR  the guest broke share
 *             irqfd; queue state                    `dev`'s queue; the
 *   RESET     stop using the queue                  gofer stopped it
 *   SHUTDOWN  exit
 *
 * Each request gets exactly one REPLY with its seq; QUEUE_ERROR may arrive
 * at any time, including while the VMM waits for a REPLY.  The VMM trusts
 * the gofer less than the gofer trusts the VMM: the gofer is jailed and
 * faces the guest's 9P traffic, so the VMM never accepts an fd from it.
 */
#ifndef KVBOX_GOFER_CTL_H
#define KVBOX_GOFER_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/queue.h"
#include "vmm/memory.h"

#define GOFER_CTL_MAGIC	  0x4c54434bu /* "KCTL" read as a little-endian u32 */
#define GOFER_CTL_VERSION 1u
#define GOFER_MAX_SHARES  8 /* one virtio-9p device each (VM_VIRTIO_MAX slots) */
#define GOFER_MSG_MAX_FDS 2

enum gofer_msg_type {
	GOFER_MSG_MEM = 1,
	GOFER_MSG_ACTIVATE,
	GOFER_MSG_RESET,
	GOFER_MSG_SHUTDOWN,
	GOFER_MSG_REPLY,
	GOFER_MSG_QUEUE_ERROR,
	GOFER_MSG_END
};

/* Which types a side accepts (gofer_msg_recv's `accept` mask). */
#define GOFER_MSG_BIT(t) (1u << (t))
#define GOFER_ACCEPT_GOFER                                                                         \
	(GOFER_MSG_BIT(GOFER_MSG_MEM) | GOFER_MSG_BIT(GOFER_MSG_ACTIVATE) |                        \
	 GOFER_MSG_BIT(GOFER_MSG_RESET) | GOFER_MSG_BIT(GOFER_MSG_SHUTDOWN))
#define GOFER_ACCEPT_VMM (GOFER_MSG_BIT(GOFER_MSG_REPLY) | GOFER_MSG_BIT(GOFER_MSG_QUEUE_ERROR))

struct gofer_msg {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t seq;
	uint32_t dev;	   /* share index: ACTIVATE, RESET, QUEUE_ERROR */
	int32_t status;	   /* REPLY: 0 or -errno/-VQ_E_*; QUEUE_ERROR: < 0 */
	uint32_t nregions; /* MEM: 1..GUEST_MEM_MAX_REGIONS */
	uint64_t mem_size; /* MEM: bytes of the memfd mapped */
	struct guest_region regions[GUEST_MEM_MAX_REGIONS];
	struct virtq_state vq; /* ACTIVATE; REPLY to RESET */
};

/* Fills the header of a message of `type` (everything else zero). */
void gofer_msg_init(struct gofer_msg *m, enum gofer_msg_type type, uint32_t seq, uint32_t dev);

/* Checks `len` bytes received with `nfds` fds.  accept: GOFER_ACCEPT_*;
 * ndev: shares configured (dev must be below it).  0 or -EPROTO. */
int gofer_msg_parse(const void *buf, size_t len, unsigned nfds, uint32_t accept, unsigned ndev,
		    struct gofer_msg *out);
/* fds a message of this type carries. */
unsigned gofer_msg_nfds(enum gofer_msg_type type);

/* Sends m with nfds fds (not closed).  0 or -errno. */
int gofer_msg_send(int sock, const struct gofer_msg *m, const int *fds, unsigned nfds);
/* Receives one message.  Returns 1 with *m and fds[0..gofer_msg_nfds)
 * (close-on-exec, owned by the caller), 0 on EOF, -EAGAIN when
 * `nonblock` and nothing is queued, -EPROTO for a bad message (its fds
 * already closed), or another -errno. */
int gofer_msg_recv(int sock, bool nonblock, uint32_t accept, unsigned ndev, struct gofer_msg *m,
		   int fds[GOFER_MSG_MAX_FDS]);

const char *gofer_msg_type_name(unsigned type);

#endif
