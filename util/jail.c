/* SPDX-License-Identifier: Apache-2.0 */
/* Steps shared by the gofer's and the sandbox's jails; see util/jail.h. */
#include "util/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"

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

int jail_mount_ns(struct kv_err *err)
{
	int r = new_mount_ns(err);
	if (r)
		return kv_err_wrap(err, r, "jail");
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return kv_err_sys(err, errno, "jail: make / rslave");
	return 0;
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

int jail_reopen_dir(int *fd, const char *path, const char *what, struct kv_err *err)
{
	struct stat want, got;
	int nfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (nfd < 0)
		return kv_err_sys(err, errno, "jail: reopen %s", what);
	if (fstat(*fd, &want) < 0 || fstat(nfd, &got) < 0 || want.st_dev != got.st_dev ||
	    want.st_ino != got.st_ino) {
		close(nfd);
		return kv_err_set(err, ESTALE, "jail: %s changed while starting", what);
	}
	close(*fd);
	*fd = nfd;
	return 0;
}

int jail_root_begin(const char *fsname, unsigned size_kib, struct kv_err *err)
{
	const char *at = "/tmp";
	struct stat st;
	char opts[64];

	if (stat(at, &st) < 0 || !S_ISDIR(st.st_mode))
		at = "/proc"; /* exists wherever we can work at all */
	snprintf(opts, sizeof(opts), "size=%uk,nr_inodes=64,mode=0755", size_kib);
	if (mount(fsname, at, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
		return kv_err_sys(err, errno, "jail: tmpfs on %s", at);
	if (chdir(at) < 0)
		return kv_err_sys(err, errno, "jail: chdir %s", at);
	return 0;
}

int jail_bind_fd(int fd, const char *dst, bool readonly, const char *what, struct kv_err *err)
{
	char src[64];
	int r;

	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	if (mkdir(dst, 0700) < 0)
		return kv_err_sys(err, errno, "jail: mkdir for %s", what);
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		return kv_err_sys(err, errno, "jail: bind %s", what);
	uint64_t attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
	unsigned long fb = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	if (readonly) {
		attr |= MOUNT_ATTR_RDONLY;
		fb |= MS_RDONLY;
	}
	r = tree_setattr(dst, attr, fb);
	return r ? kv_err_sys(err, -r, "jail: restrict %s", what) : 0;
}

int jail_root_enter(struct kv_err *err)
{
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return kv_err_sys(err, errno, "jail: pivot_root");
	/* The old root is stacked on the new one at "/": detach it. */
	if (umount2(".", MNT_DETACH) < 0)
		return kv_err_sys(err, errno, "jail: detach the old root");
	if (chdir("/") < 0)
		return kv_err_sys(err, errno, "jail: chdir /");
	return 0;
}

int jail_root_seal(struct kv_err *err)
{
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0)
		return kv_err_sys(err, errno, "jail: read-only root");
	return 0;
}

int jail_close_fds(int keep, struct kv_err *err)
{
	if (keep > 3 && syscall(SYS_close_range, 3u, (unsigned)keep - 1, 0u) < 0)
		return kv_err_sys(err, errno, "close_range");
	unsigned from = keep >= 3 ? (unsigned)keep + 1 : 3u;
	if (syscall(SYS_close_range, from, ~0u, 0u) < 0)
		return kv_err_sys(err, errno, "close_range");
	return 0;
}
