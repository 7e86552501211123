/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small registry of file descriptors -> handler callbacks for the
 * VMM's main-thread event loop (vmm/runloop.c).  Devices register the fds
 * they want served (a virtio queue's ioeventfd today; vsock, net and
 * timers later) while the machine is built; the loop attaches the whole
 * table to its epoll set with one token per entry and calls the handler
 * when its fd is ready.  The loop itself never learns about devices.
 *
 * Tokens: entry i gets token base + i, so the loop's own enum tokens stay
 * below base.  Entries never move.  A removed entry's token is ignored
 * until a later add reuses its slot; an event for the old fd still queued
 * in the current epoll_wait batch may then reach the new handler, so every
 * handler must take a spurious wake-up (EAGAIN) in its stride.
 *
 * Threading: the table is built before the loop runs and then touched only
 * by the loop's thread (handlers may remove entries, including their own).
 */
#ifndef KVBOX_VMM_FD_HANDLERS_H
#define KVBOX_VMM_FD_HANDLERS_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

#define FD_HANDLERS_MAX 256

/* Called on the loop's thread with the epoll events that fired. */
typedef void (*fd_handler_fn)(void *ctx, int fd, uint32_t events);

struct fd_handler {
	int fd; /* -1: free or removed */
	uint32_t events;
	fd_handler_fn fn;
	void *ctx;
	const char *name; /* for messages */
	uint64_t calls;	  /* statistics */
};

struct fd_handlers {
	unsigned n; /* slots used, including removed ones */
	struct fd_handler h[FD_HANDLERS_MAX];
	int epfd; /* the loop's epoll set while attached, else -1 */
	uint64_t token_base;
};

void fd_handlers_init(struct fd_handlers *t);

/* Registers fd (not owned) for `events` (EPOLLIN...).  If the table is
 * attached to a loop, the fd joins its epoll set at once. */
int fd_handlers_add(struct fd_handlers *t, int fd, uint32_t events, fd_handler_fn fn, void *ctx,
		    const char *name, struct kv_err *err);
/* Changes the events fd is watched for.  -ENOENT if absent. */
int fd_handlers_set_events(struct fd_handlers *t, int fd, uint32_t events);
/* Unregisters fd (from the epoll set too, if attached).  -ENOENT if absent. */
int fd_handlers_remove(struct fd_handlers *t, int fd);

/* Adds every entry to epfd with data.u64 = token_base + index. */
int fd_handlers_attach(struct fd_handlers *t, int epfd, uint64_t token_base, struct kv_err *err);
/* Forgets the epoll set (the loop closes it). */
void fd_handlers_detach(struct fd_handlers *t);

/* Calls the handler behind token; false when the token is not one of
 * ours (below the base, past the table, or a removed entry). */
bool fd_handlers_dispatch(struct fd_handlers *t, uint64_t token, uint32_t events);

#endif
