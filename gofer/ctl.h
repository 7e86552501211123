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
 *   VMM -> gofer
 *   MEM       guest RAM; fd: memfd
 *   ACTIVATE  serve share `dev`'s queue; fds: ioeventfd, irqfd; queue state
 *   RESET     stop using the queue (and forget it)
 *   SAVE      stop serving the queue, keep its 9P session, write the
 *             session (gofer/session.h) into the fd: an empty memfd
 *   LOAD      re-create share `dev`'s session from the fd (a memfd):
 *             mem_size bytes (1..GOFER_SAVE_MAX) from offset 0
 *   SHUTDOWN  exit
 *
 *   gofer -> VMM
 *   REPLY        status, same seq; + queue state after RESET and SAVE,
 *                + mem_size after SAVE
 *   QUEUE_ERROR  the guest broke share `dev`'s queue; the gofer stopped it
 *
 * SAVE (checkpoint): if the queue is active its state is exported and the
 * gofer stops serving it, without virtq_reset and without touching the
 * fids.  The REPLY carries the status, the queue state (all zero if it was
 * not active) and in mem_size the bytes written at offset 0 (on -E2BIG:
 * the bytes the session would take).  Failures: -ESTALE (a fid's file was
 * deleted or is no longer at its path), -EOPNOTSUPP (an xattr fid: a
 * Txattrwalk/Txattrcreate in progress), -E2BIG (over GOFER_SAVE_MAX).  On
 * success or failure alike the queue is stopped and resumable: ACTIVATE
 * with the returned state continues serving it (checkpoint that leaves
 * the container running).
 * LOAD (restore), before the ACTIVATE with the saved state; only while
 * the queue is not active and the session has no fids (else -EBUSY):
 * 0, -EINVAL (a malformed session), -ENOENT (a path is gone), -ESTALE (a
 * different kind of file there); on failure nothing stays loaded and the
 * gofer prints the share, fid and path on its stderr.
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
#define GOFER_CTL_VERSION 3u
#define GOFER_MAX_SHARES  8 /* one virtio-9p device each (VM_VIRTIO_MAX slots) */
#define GOFER_MSG_MAX_FDS 2
/* Largest saved session (SAVE, LOAD): the VMM keeps it in one snapshot
 * section of 1 MiB, with room to spare. */
#define GOFER_SAVE_MAX ((1u << 20) - 4096)
/* A refused LOAD: the gofer writes why (a NUL-terminated line naming the
 * fid and its path) into the memfd right after the session, at most this
 * many bytes; the VMM reads it as untrusted text. */
#define GOFER_LOAD_WHY_MAX 256

enum gofer_msg_type {
	GOFER_MSG_MEM = 1,
	GOFER_MSG_ACTIVATE,
	GOFER_MSG_RESET,
	GOFER_MSG_SHUTDOWN,
	GOFER_MSG_REPLY,
	GOFER_MSG_QUEUE_ERROR,
	GOFER_MSG_SAVE,
	GOFER_MSG_LOAD,
	GOFER_MSG_FAULTS,
	GOFER_MSG_END
};

/* Which types a side accepts (gofer_msg_recv's `accept` mask). */
#define GOFER_MSG_BIT(t) (1u << (t))
#define GOFER_ACCEPT_GOFER                                                                         \
	(GOFER_MSG_BIT(GOFER_MSG_MEM) | GOFER_MSG_BIT(GOFER_MSG_ACTIVATE) |                        \
	 GOFER_MSG_BIT(GOFER_MSG_RESET) | GOFER_MSG_BIT(GOFER_MSG_SHUTDOWN) |                      \
	 GOFER_MSG_BIT(GOFER_MSG_SAVE) | GOFER_MSG_BIT(GOFER_MSG_LOAD))
#define GOFER_ACCEPT_VMM                                                                           \
	(GOFER_MSG_BIT(GOFER_MSG_REPLY) | GOFER_MSG_BIT(GOFER_MSG_QUEUE_ERROR) |                   \
	 GOFER_MSG_BIT(GOFER_MSG_FAULTS))

struct gofer_msg {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t seq;
	uint32_t dev;	   /* share index: ACTIVATE, RESET, SAVE, LOAD, QUEUE_ERROR */
	int32_t status;	   /* REPLY: 0 or -errno/-VQ_E_*; QUEUE_ERROR: < 0 */
	uint32_t nregions; /* MEM: 1..GUEST_MEM_MAX_REGIONS */
	/* MEM: bytes of the memfd mapped; LOAD: bytes of the saved session
	 * (1..GOFER_SAVE_MAX); REPLY to SAVE: bytes written (-E2BIG: needed);
	 * FAULTS: where the gofer mapped the memfd (page-aligned, non-zero) */
	uint64_t mem_size;
	struct guest_region regions[GUEST_MEM_MAX_REGIONS];
	struct virtq_state vq; /* ACTIVATE; REPLY to RESET and SAVE */
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
