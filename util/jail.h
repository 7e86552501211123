/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The steps the gofer's jail (gofer/jail.c) and the sandbox's
 * (vmm/sandbox_jail.c) share.  A jail is built in this order:
 *
 *   jail_mount_ns()      a private mount namespace, / recursively slave
 *   jail_reopen_dir()    each directory to keep, opened again by path in
 *                        that namespace and checked against the fd opened
 *                        before (same device and inode)
 *   jail_root_begin()    an empty tmpfs, which becomes the working directory
 *   jail_bind_fd()       each kept directory bound into it from its fd
 *   jail_root_enter()    pivot_root into the tmpfs, the old root detached
 *   jail_root_seal()     the tmpfs remounted read-only
 *
 * Between begin and enter a jail may add anything else it needs to the
 * tmpfs (the sandbox: a devpts instance).
 */
#ifndef KVBOX_UTIL_JAIL_H
#define KVBOX_UTIL_JAIL_H

#include <stdbool.h>

#include "util/err.h"

/* unshare(CLONE_NEWNS), or CLONE_NEWUSER|CLONE_NEWNS mapping only our own
 * uid and gid when we lack CAP_SYS_ADMIN; then / made recursively slave:
 * host mount changes still reach us, ours never reach the host.  The
 * process must be single-threaded (namespaces and credentials are per
 * thread). */
int jail_mount_ns(struct kv_err *err);

/* *fd was opened in the old mount namespace, whose mounts cannot be bound
 * here: opens `path` again (O_PATH) and checks it is the same directory,
 * so a path swapped in between is refused.  Replaces *fd.  `what` names
 * it in errors ("share 'tag'"). */
int jail_reopen_dir(int *fd, const char *path, const char *what, struct kv_err *err);

/* Mounts a tmpfs of `size_kib` KiB (nosuid, nodev, noexec, 0755) over /tmp
 * (or /proc where there is no /tmp) and chdirs into it. */
int jail_root_begin(const char *fsname, unsigned size_kib, struct kv_err *err);

/* Binds the directory of `fd` (recursively) at `dst`, relative to the
 * working directory (made here, 0700), nosuid, nodev, noexec, and
 * read-only when asked. */
int jail_bind_fd(int fd, const char *dst, bool readonly, const char *what, struct kv_err *err);

/* pivot_root into the working directory; the old root is detached. */
int jail_root_enter(struct kv_err *err);

/* The new root (the tmpfs) read-only. */
int jail_root_seal(struct kv_err *err);

/* Closes every fd above 2 but `keep` (-1: none). */
int jail_close_fds(int keep, struct kv_err *err);

#endif
