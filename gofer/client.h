/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM's side of the gofer: starts `kvbox gofer` (fork + exec of
 * /proc/self/exe with one end of a SOCK_SEQPACKET socketpair), hands it
 * guest RAM once, and acts as the external backend of each virtio-9p
 * device (virtio/p9.h): activate = ACTIVATE with the queue's ioeventfd and
 * irqfd, reset = RESET and wait for the ack, kick = write the ioeventfd.
 * Checkpoint/restore: gofer_client_save (SAVE: the queue set aside, its
 * 9P session as bytes), gofer_client_resume (ACTIVATE it again),
 * gofer_client_load (LOAD into a new gofer before the queue is resumed).
 *
 * Threads: requests are made from vCPU threads (under a device lock) and
 * the set-up thread; the event loop calls gofer_client_ready() when the
 * socket is readable.  One mutex serialises the socket: a request sends
 * and reads until its REPLY, handling any QUEUE_ERROR that arrives first;
 * the event loop reads only with MSG_DONTWAIT.  A QUEUE_ERROR sets
 * NEEDS_RESET on that device (virtio_dev_fail, atomics only).
 *
 * The gofer is treated as less trusted than the VMM: its messages go
 * through gofer_msg_recv's checks, and one that is malformed, a REPLY
 * that answers nothing, or no REPLY within the timeout gets the gofer
 * killed and every 9p device failed, never a VMM crash or hang.  A SAVE
 * reply's length and queue state are checked before they are returned.
 */
#ifndef KVBOX_GOFER_CLIENT_H
#define KVBOX_GOFER_CLIENT_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "gofer/gofer.h"
#include "virtio/p9.h"

struct gofer_client_dev {
	struct virtio_dev *dev; /* failed when the gofer reports or dies */
	int kick_fd;		/* ioeventfd (not owned), -1 until bound */
	int irq_fd;		/* irqfd (not owned) */
	bool active;		/* handed to the gofer */
	char tag[32];		/* the share's mount tag, for messages */
};

struct gofer_client {
	pid_t pid; /* -1 once reaped */
	int sock;
	pthread_mutex_t lock;
	uint32_t seq;
	unsigned nshares;
	bool dead;	     /* no more requests: the gofer exited or was killed */
	int timeout_ms;	     /* per request */
	int exit_status;     /* wait status once reaped */
	bool lazy_mem;	     /* started with --lazy-mem: a FAULTS may come */
	int fault_fd;	     /* the gofer's userfaultfd (FAULTS), or -1 */
	uint64_t fault_base; /* where the gofer mapped guest RAM */
	struct gofer_client_dev devs[GOFER_MAX_SHARES];
};

struct gofer_client_config {
	const char *exe; /* NULL: /proc/self/exe */
	const struct gofer_share *shares;
	unsigned nshares;
	int timeout_ms; /* 0: 10 s */
	/* guest RAM will be loaded lazily (vmm/lazy_mem.h): the gofer makes a
	 * userfaultfd before its jail and sends it (FAULTS) when it maps RAM */
	bool lazy_mem;
};

/* Starts the gofer.  Shares must have passed gofer_shares_check(). */
int gofer_client_start(struct gofer_client *c, const struct gofer_client_config *cfg,
		       struct kv_err *err);
/* Hands guest RAM over (once, before the guest runs). */
int gofer_client_set_mem(struct gofer_client *c, const struct guest_mem *m, struct kv_err *err);
/* After gofer_client_set_mem of a lazy_mem client: the gofer's
 * userfaultfd (the caller owns it) and where its mapping of RAM is; -1 if
 * it sent none (it could not make one: RAM must be copied then). */
int gofer_client_take_faults(struct gofer_client *c, uint64_t *base);
/* Wires share idx to its device and the queue's eventfds (not owned; they
 * must outlive the client or be unbound with dev NULL). */
void gofer_client_bind(struct gofer_client *c, unsigned idx, struct virtio_dev *dev, int kick_fd,
		       int irq_fd);
/* The virtio_p9_backend for share idx. */
void gofer_client_backend(struct gofer_client *c, unsigned idx, struct virtio_p9_backend *out);

/* The fd the event loop watches (EPOLLIN). */
int gofer_client_fd(const struct gofer_client *c);
/* The socket is readable: handle what the gofer sent.  Returns 0, or
 * -EPIPE once the gofer is gone (stop watching the fd). */
int gofer_client_ready(struct gofer_client *c);

/* Asks the gofer to exit, waits up to timeout_ms, then SIGKILLs it; reaps
 * it.  Returns its wait status, or -1 if it was never started. */
int gofer_client_stop(struct gofer_client *c, int timeout_ms);
/* Stops it (if running) and frees the client. */
void gofer_client_destroy(struct gofer_client *c);

/*
 * Checkpoint (the vCPUs stopped): the gofer stops serving share idx's
 * queue but keeps its fids, and writes the share's 9P session into memfd
 * (empty, writable) from offset 0.  0 with *len bytes written (<=
 * GOFER_SAVE_MAX and <= the memfd's size, both checked).  Whenever the
 * gofer answered, also on failure, *st is the queue's state (all zero if
 * it was not active) and the queue waits, resumable with
 * gofer_client_resume().  Failures, each one err line naming the share:
 * -ESTALE (a file the container has open was deleted), -EOPNOTSUPP (an
 * extended attribute is being read or written), -E2BIG (too many open
 * files), -EPROTO (a reply that lies: the gofer is killed), -EPIPE /
 * -ETIMEDOUT (the gofer is gone).
 */
int gofer_client_save(struct gofer_client *c, unsigned idx, struct virtq_state *st, int memfd,
		      uint64_t *len, struct kv_err *err);
/* Restore: gives a new gofer (before the queue is resumed) the len bytes
 * (1..GOFER_SAVE_MAX) at the start of memfd that gofer_client_save wrote.
 * -EINVAL (malformed), -ENOENT (a file the container had open is gone),
 * -ESTALE (it is another kind of file now), -EBUSY; the gofer's log line
 * names the fid and path. */
int gofer_client_load(struct gofer_client *c, unsigned idx, int memfd, uint64_t len,
		      struct kv_err *err);
/* Hands the queue back to the gofer with the state from
 * gofer_client_save (the same gofer, or a new one after
 * gofer_client_load).  A zero state (the queue was not active) does
 * nothing.  The state is validated again by the gofer (virtq_import). */
int gofer_client_resume(struct gofer_client *c, unsigned idx, const struct virtq_state *st,
			struct kv_err *err);

/* Plain request/response, for tests and start-up: sends m (with fds),
 * waits for its REPLY; returns the reply status or -errno. */
int gofer_client_request(struct gofer_client *c, struct gofer_msg *m, const int *fds, unsigned nfds,
			 struct gofer_msg *reply);

#endif
