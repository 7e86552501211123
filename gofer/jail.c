/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gofer's jail (first layer; seccomp and capability dropping come with
 * the defence-in-depth work).  In order:
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
 *      from the bind mounts, and the tmpfs is remounted read-only.  /proc/self/fd stays reachable
 *      only through the fd opened before (the 9P server's proc_fd).
 *   4. no_new_privs, no core dumps (guest RAM is mapped).
 * The 9P server never leaves its attach fds anyway (RESOLVE_BENEATH, one
 * component at a time); the jail is what holds if that code has a bug.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gofer/gofer.h"
#include "util/cleanup.h"
#include "util/sanitizer.h"

static int write_file(const char *path, const char *s)
{
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, s, strlen(s));
	return n == (ssize_t)strlen(s) ? 0 : -(n < 0 ? errno : EIO);
}

/* A mount namespace of our own; a user namespace too when we lack the
 * privilege for a bare one. */
static int new_mount_ns(struct kv_err *err)
{
	if (unshare(CLONE_NEWNS) == 0)
		return 0;
	if (errno != EPERM)
		return kv_err_sys(err, errno, "unshare(CLONE_NEWNS)");
	uid_t uid = geteuid();
	gid_t gid = getegid();
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return kv_err_sys(err, errno, "unshare(CLONE_NEWUSER|CLONE_NEWNS)");
	char map[64];
	int r = write_file("/proc/self/setgroups", "deny");
	if (r == 0) {
		snprintf(map, sizeof(map), "%u %u 1", gid, gid);
		r = write_file("/proc/self/gid_map", map);
	}
	if (r == 0) {
		snprintf(map, sizeof(map), "%u %u 1", uid, uid);
		r = write_file("/proc/self/uid_map", map);
	}
	return r ? kv_err_sys(err, -r, "user namespace id maps") : 0;
}

/* Sets attributes on a whole mount tree (mount_setattr, Linux 5.12);
 * falls back to remounting the top mount only. */
static int tree_setattr(const char *path, uint64_t attr, unsigned long fallback)
{
	struct mount_attr a = {.attr_set = attr};
	if (syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &a, sizeof(a)) == 0)
		return 0;
	if (errno != ENOSYS)
		return -errno;
	return mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | fallback, NULL) ? -errno : 0;
}

/* The share fds were opened in the host's mount namespace, and a mount of
 * another namespace cannot be bind-mounted: open each share again here
 * and check it is the same directory (same device and inode) as the fd
 * opened before, so a path swapped in between is refused. */
static int reopen_in_ns(struct gofer_opts *o, unsigned i, struct kv_err *err)
{
	struct stat want, got;
	int fd = open(o->shares[i].path, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return kv_err_sys(err, errno, "jail: reopen share '%s'", o->shares[i].tag);
	if (fstat(o->share_fds[i], &want) < 0 || fstat(fd, &got) < 0 || want.st_dev != got.st_dev ||
	    want.st_ino != got.st_ino) {
		close(fd);
		return kv_err_set(err, ESTALE, "jail: share '%s' changed while starting",
				  o->shares[i].tag);
	}
	close(o->share_fds[i]);
	o->share_fds[i] = fd;
	return 0;
}

/* Binds share i at <root>/<i> from its open fd. */
static int bind_share(struct gofer_opts *o, unsigned i, struct kv_err *err)
{
	char src[64], dst[32];
	int r;

	snprintf(src, sizeof(src), "/proc/self/fd/%d", o->share_fds[i]);
	snprintf(dst, sizeof(dst), "%u", i);
	if (mkdir(dst, 0700) < 0)
		return kv_err_sys(err, errno, "jail: mkdir for share '%s'", o->shares[i].tag);
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		return kv_err_sys(err, errno, "jail: bind share '%s'", o->shares[i].tag);
	uint64_t attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
	unsigned long fb = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	if (o->shares[i].readonly) {
		attr |= MOUNT_ATTR_RDONLY;
		fb |= MS_RDONLY;
	}
	r = tree_setattr(dst, attr, fb);
	return r ? kv_err_sys(err, -r, "jail: restrict share '%s'", o->shares[i].tag) : 0;
}

/* The empty root: a tmpfs mounted somewhere in our private namespace
 * (where does not matter: nobody else sees it), entered with pivot_root. */
static int enter_root(struct gofer_opts *o, struct kv_err *err)
{
	const char *at = "/tmp";
	struct stat st;

	/* first: the tmpfs may hide a share's path */
	for (unsigned i = 0; i < o->nshares; i++) {
		int r = reopen_in_ns(o, i, err);
		if (r)
			return r;
	}
	if (stat(at, &st) < 0 || !S_ISDIR(st.st_mode))
		at = "/proc"; /* exists wherever the gofer can work at all */
	if (mount("kvbox-gofer", at, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=64k,nr_inodes=64,mode=0755") < 0)
		return kv_err_sys(err, errno, "jail: tmpfs on %s", at);
	if (chdir(at) < 0)
		return kv_err_sys(err, errno, "jail: chdir %s", at);
	for (unsigned i = 0; i < o->nshares; i++) {
		int r = bind_share(o, i, err);
		if (r)
			return r;
	}
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return kv_err_sys(err, errno, "jail: pivot_root");
	/* The old root is stacked on the new one at "/": detach it. */
	if (umount2(".", MNT_DETACH) < 0)
		return kv_err_sys(err, errno, "jail: detach the old root");
	if (chdir("/") < 0)
		return kv_err_sys(err, errno, "jail: chdir /");
	for (unsigned i = 0; i < o->nshares; i++) {
		char name[32];
		snprintf(name, sizeof(name), "/%u", i);
		int fd = open(name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return kv_err_sys(err, errno, "jail: reopen share '%s'", o->shares[i].tag);
		close(o->share_fds[i]);
		o->share_fds[i] = fd;
	}
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0)
		return kv_err_sys(err, errno, "jail: read-only root");
	return 0;
}

int gofer_jail(struct gofer_opts *o, pid_t parent, struct kv_err *err)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return kv_err_sys(err, errno, "jail: PR_SET_PDEATHSIG");
	if (parent > 0 && getppid() != parent)
		return kv_err_set(err, ESRCH, "jail: the VMM (pid %d) is gone", (int)parent);
	int r = new_mount_ns(err);
	if (r)
		return kv_err_wrap(err, r, "jail");
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return kv_err_sys(err, errno, "jail: make / rslave");
	kv_sanitizer_jailed(); /* sanitizer builds: no /proc, no log file from here on */
	if ((r = enter_root(o, err)))
		return r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return kv_err_sys(err, errno, "jail: PR_SET_NO_NEW_PRIVS");
	struct rlimit no_core = {0, 0};
	if (setrlimit(RLIMIT_CORE, &no_core) < 0)
		return kv_err_sys(err, errno, "jail: RLIMIT_CORE");
	/* A credential change (the user namespace) can clear the death
	 * signal: set it again, and look at the parent again. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return kv_err_sys(err, errno, "jail: PR_SET_PDEATHSIG");
	if (parent > 0 && getppid() != parent)
		return kv_err_set(err, ESRCH, "jail: the VMM (pid %d) is gone", (int)parent);
	return 0;
}
