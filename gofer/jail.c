/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gofer's jail (its seccomp filter follows, gofer/main.c).  In order:
 *   1. PR_SET_PDEATHSIG(SIGKILL), then check the parent is still the VMM
 *      (it may have died before the prctl).
 *   2. A private mount namespace (unshare CLONE_NEWNS; without
 *      CAP_SYS_ADMIN, a user namespace mapping only our own uid/gid), with
 *      / made recursively slave: host mount changes still reach us, ours
 *      never reach the host.
 *   3. A fresh tmpfs becomes the root (pivot_root; the old root is
 *      detached).  It holds one directory per share, /0, /1, ..., each a
 *      recursive bind mount of the share made from its already-open fd
 *      (never by path after start-up), set nosuid,nodev,noexec, and
 *      read-only for ":ro" shares (the fd is first reopened inside the
 *      new namespace and checked to be the same directory: mounts of
 *      another namespace cannot be bound).  The share fds are reopened
 *      from the bind mounts, and the tmpfs is remounted read-only.
 *      /proc/self/fd stays reachable only through the fd opened before (the 9P server's proc_fd).
 *   4. no_new_privs, no core dumps (guest RAM is mapped).
 *   5. Capabilities: every one dropped from the bounding, ambient,
 *      inheritable, effective and permitted sets but GOFER_CAPS, what
 *      serving a tree of files of any owner takes (below).
 * Steps 2 and 3 are util/jail.c's, shared with the sandbox's jail
 * (vmm/sandbox_jail.c).
 * The 9P server never leaves its attach fds anyway (RESOLVE_BENEATH, one
 * component at a time); the jail is what holds if that code has a bug.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "gofer/gofer.h"
#include "util/caps.h"
#include "util/cleanup.h"
#include "util/jail.h"
#include "util/sanitizer.h"

/* What the 9P server needs as root to serve files of any owner as the
 * guest asks: read, write and search regardless of mode (DAC_OVERRIDE,
 * DAC_READ_SEARCH: also linkat(AT_EMPTY_PATH)), chmod/utimes/xattrs of
 * files it does not own (FOWNER), chown to the guest's ids (CHOWN),
 * setuid/setgid bits kept across writes and chown (FSETID), device
 * nodes the guest makes (MKNOD; they cannot be opened as devices: the
 * shares are nodev), file capabilities a container image sets with
 * setcap (SETFCAP).  Everything else goes, CAP_SYS_ADMIN first. */
#define GOFER_CAPS                                                                                 \
	((1ull << CAP_CHOWN) | (1ull << CAP_DAC_OVERRIDE) | (1ull << CAP_DAC_READ_SEARCH) |        \
	 (1ull << CAP_FOWNER) | (1ull << CAP_FSETID) | (1ull << CAP_MKNOD) |                       \
	 (1ull << CAP_SETFCAP))

/* Step 5.  The bounding set needs CAP_SETPCAP, which goes last (with
 * the permitted set); without it (an unprivileged gofer) there is
 * nothing to drop from. */
static int drop_caps(struct kv_err *err)
{
	uint64_t have;
	int r = caps_get_permitted(&have, err);
	if (r == 0 && (have & (1ull << CAP_SETPCAP)))
		r = caps_drop_bounding(GOFER_CAPS, caps_last_cap(), err);
	if (r == 0)
		r = caps_clear_ambient(err);
	if (r == 0)
		r = caps_set(have & GOFER_CAPS, have & GOFER_CAPS, 0, err);
	return r < 0 ? kv_err_wrap(err, r, "jail: capabilities") : 0;
}

/* The empty root: a tmpfs in our private namespace holding a bind mount
 * of each share, entered with pivot_root. */
static int enter_root(struct gofer_opts *o, struct kv_err *err)
{
	char what[64]; /* "share 'TAG'" */
	int r;

	/* first: the tmpfs may hide a share's path */
	for (unsigned i = 0; i < o->nshares; i++) {
		snprintf(what, sizeof(what), "share '%s'", o->shares[i].tag);
		if ((r = jail_reopen_dir(&o->share_fds[i], o->shares[i].path, what, err)))
			return r;
	}
	if ((r = jail_root_begin("kvbox-gofer", 64, err)))
		return r;
	for (unsigned i = 0; i < o->nshares; i++) {
		char dst[32];
		snprintf(dst, sizeof(dst), "%u", i);
		snprintf(what, sizeof(what), "share '%s'", o->shares[i].tag);
		r = jail_bind_fd(o->share_fds[i], dst, o->shares[i].readonly, what, err);
		if (r)
			return r;
	}
	if ((r = jail_root_enter(err)))
		return r;
	for (unsigned i = 0; i < o->nshares; i++) {
		char name[32];
		snprintf(name, sizeof(name), "/%u", i);
		int fd = open(name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return kv_err_sys(err, errno, "jail: reopen share '%s'", o->shares[i].tag);
		close(o->share_fds[i]);
		o->share_fds[i] = fd;
	}
	return jail_root_seal(err);
}

int gofer_jail(struct gofer_opts *o, pid_t parent, struct kv_err *err)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return kv_err_sys(err, errno, "jail: PR_SET_PDEATHSIG");
	if (parent > 0 && getppid() != parent)
		return kv_err_set(err, ESRCH, "jail: the VMM (pid %d) is gone", (int)parent);
	int r = jail_mount_ns(err);
	if (r)
		return r;
	kv_sanitizer_jailed(); /* sanitizer builds: no /proc, no log file from here on */
	if ((r = enter_root(o, err)))
		return r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return kv_err_sys(err, errno, "jail: PR_SET_NO_NEW_PRIVS");
	struct rlimit no_core = {0, 0};
	if (setrlimit(RLIMIT_CORE, &no_core) < 0)
		return kv_err_sys(err, errno, "jail: RLIMIT_CORE");
	if ((r = drop_caps(err)))
		return r;
	/* A credential change (the user namespace) can clear the death
	 * signal: set it again, and look at the parent again. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return kv_err_sys(err, errno, "jail: PR_SET_PDEATHSIG");
	if (parent > 0 && getppid() != parent)
		return kv_err_set(err, ESRCH, "jail: the VMM (pid %d) is gone", (int)parent);
	return 0;
}
