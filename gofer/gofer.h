/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gofer process (`kvbox gofer`): the virtio-9p backend for every share
 * of one VM, in its own jailed process.
 *
 *   kvbox gofer --control-fd N --share PATH:TAG[:ro] [--share ...]
 *
 * Started by the VMM (gofer/client.c) with one end of a private
 * SOCK_SEQPACKET socketpair as fd N.  Start-up (gofer/main.c): close every
 * other fd, parse the shares, open each share directory and /proc/self/fd,
 * enter the jail (gofer/jail.c), then run the loop (gofer/process.c):
 * one epoll set over the control socket, a signalfd and each active
 * queue's ioeventfd; a kick pops the queue, calls the share's p9_server and
 * raises the queue's irqfd.  Control messages: gofer/ctl.h.
 */
#ifndef KVBOX_GOFER_GOFER_H
#define KVBOX_GOFER_GOFER_H

#include <stdbool.h>

#include "gofer/ctl.h"
#include "util/err.h"

struct gofer_share {
	const char *path; /* host directory */
	char tag[32];	  /* mount tag (VIRTIO_P9_TAG_MAX + 1) */
	bool readonly;
};

/* Parses "HOST_DIR:TAG[:ro]".  The path is `spec` up to the last ':' that
 * is followed by a tag (so a path may hold ':'); spec must outlive out.
 * Checks the tag (virtio_p9_check_tag) but not the directory. */
int gofer_share_parse(char *spec, struct gofer_share *out, struct kv_err *err);

/* Checks a whole share list: 1..GOFER_MAX_SHARES, each path an existing
 * directory, tags unique. */
int gofer_shares_check(const struct gofer_share *sh, unsigned n, struct kv_err *err);

struct gofer_opts {
	int ctl; /* control socket */
	const struct gofer_share *shares;
	unsigned nshares;
	int share_fds[GOFER_MAX_SHARES]; /* opened share dirs (O_PATH), or -1 */
	int proc_fd;			 /* /proc/self/fd (O_PATH), or -1 */
	int uffd;			 /* --lazy-mem: for the VMM (FAULTS), or -1 */
	bool no_openat2;		 /* tests */
};

/* The process body after the jail: serves until SHUTDOWN, EOF on the
 * control socket, or SIGTERM/SIGINT.  Returns the exit status (0, or 1
 * after a host-side failure). */
int gofer_run(const struct gofer_opts *o, struct kv_err *err);

/* Jail (gofer/jail.c): a private mount namespace whose root is an empty,
 * read-only tmpfs holding only a bind mount of each share at /N (the share
 * fds are reopened from there), no_new_privs, death with the parent.
 * parent: the pid that must still be our parent (-1: skip the check). */
int gofer_jail(struct gofer_opts *o, pid_t parent, struct kv_err *err);

/* `kvbox gofer ...` (internal). */
int cmd_gofer(int argc, char **argv);

#endif
