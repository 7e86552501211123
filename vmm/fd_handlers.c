/* SPDX-License-Identifier: Apache-2.0 */
/* fd -> handler registry for the main-thread event loop; see vmm/fd_handlers.h. */
#include "vmm/fd_handlers.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

void fd_handlers_init(struct fd_handlers *t)
{
	memset(t, 0, sizeof(*t));
	t->epfd = -1;
	for (unsigned i = 0; i < FD_HANDLERS_MAX; i++)
		t->h[i].fd = -1;
}

static int epoll_add_entry(const struct fd_handlers *t, unsigned i)
{
	struct epoll_event ev = {.events = t->h[i].events, .data.u64 = t->token_base + i};
	return epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->h[i].fd, &ev) < 0 ? -errno : 0;
}

int fd_handlers_add(struct fd_handlers *t, int fd, uint32_t events, fd_handler_fn fn, void *ctx,
		    const char *name, struct kv_err *err)
{
	if (fd < 0 || !fn)
		return kv_err_set(err, EINVAL, "event loop: bad handler for %s", name);
	for (unsigned i = 0; i < t->n; i++)
		if (t->h[i].fd == fd)
			return kv_err_set(err, EEXIST, "event loop: fd %d (%s) already registered",
					  fd, name);
	/* a removed slot is reused: an event for its old fd still queued in
	 * the loop's current batch then reaches the new handler, which, like
	 * every handler, must take a spurious wake-up (EAGAIN) in its stride */
	unsigned i = 0;
	while (i < t->n && t->h[i].fd >= 0)
		i++;
	if (i == FD_HANDLERS_MAX)
		return kv_err_set(err, ENOSPC, "event loop: no room for %s (%u handlers)", name,
				  FD_HANDLERS_MAX);
	t->h[i] = (struct fd_handler){fd, events, fn, ctx, name, 0};
	if (t->epfd >= 0) {
		int r = epoll_add_entry(t, i);
		if (r < 0) {
			t->h[i].fd = -1;
			t->h[i].fn = NULL;
			return kv_err_sys(err, -r, "event loop: adding %s", name);
		}
	}
	if (i == t->n)
		t->n++;
	return 0;
}

int fd_handlers_set_events(struct fd_handlers *t, int fd, uint32_t events)
{
	for (unsigned i = 0; i < t->n; i++) {
		if (fd < 0 || t->h[i].fd != fd)
			continue;
		if (t->h[i].events == events)
			return 0;
		t->h[i].events = events;
		if (t->epfd < 0)
			return 0;
		struct epoll_event ev = {.events = events, .data.u64 = t->token_base + i};
		return epoll_ctl(t->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
	}
	return -ENOENT;
}

int fd_handlers_remove(struct fd_handlers *t, int fd)
{
	for (unsigned i = 0; i < t->n; i++) {
		if (fd < 0 || t->h[i].fd != fd)
			continue;
		if (t->epfd >= 0)
			epoll_ctl(t->epfd, EPOLL_CTL_DEL, fd, NULL);
		t->h[i].fd = -1;
		t->h[i].fn = NULL;
		return 0;
	}
	return -ENOENT;
}

int fd_handlers_attach(struct fd_handlers *t, int epfd, uint64_t token_base, struct kv_err *err)
{
	t->epfd = epfd;
	t->token_base = token_base;
	for (unsigned i = 0; i < t->n; i++) {
		if (t->h[i].fd < 0)
			continue;
		int r = epoll_add_entry(t, i);
		if (r < 0) {
			/* Leave nothing half-attached: the caller gives up. */
			for (unsigned j = 0; j < i; j++)
				if (t->h[j].fd >= 0)
					epoll_ctl(epfd, EPOLL_CTL_DEL, t->h[j].fd, NULL);
			t->epfd = -1;
			return kv_err_sys(err, -r, "event loop: adding %s", t->h[i].name);
		}
	}
	return 0;
}

void fd_handlers_detach(struct fd_handlers *t)
{
	t->epfd = -1;
}

bool fd_handlers_dispatch(struct fd_handlers *t, uint64_t token, uint32_t events)
{
	if (token < t->token_base || token - t->token_base >= t->n)
		return false;
	struct fd_handler *h = &t->h[token - t->token_base];
	if (h->fd < 0 || !h->fn)
		return false;
	h->calls++;
	h->fn(h->ctx, h->fd, events);
	return true;
}
