/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mounts: the agent's own at boot (mount_agent_base), and the container's
 * root filesystem, built by the container's init in its new mount
 * namespace before it execs (mount_container):
 *
 *   / made private -> rootfs (9p tag, or a guest directory) at
 *   /run/kvbox/rootfs -> each mount of CREATE in order -> default /dev
 *   nodes when /dev is a tmpfs, then CREATE's devices -> masked paths ->
 *   read-only paths -> pivot_root -> the root remounted read-only.
 *
 * Every path inside the rootfs is resolved with openat2(RESOLVE_IN_ROOT),
 * one component at a time when directories must be made, and mounted on
 * through /proc/self/fd/N, so a symlink in the image (say /proc -> /) can
 * never put a mount outside the container's root.  Bind mounts of host
 * paths arrive as extra 9p shares: each tag is mounted once under
 * /run/kvbox/shares/TAG and its subpath bound to the destination.
 *
 * pivot_root(2) refuses to move the initramfs (it is the namespace's root
 * mount, with no parent), so at boot the agent makes "/" a bind mount of
 * itself on top of the initramfs (MS_MOVE + chroot, what switch_root does
 * with a real root): from then on the container's pivot_root works.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "guest/agent/agent.h"
#include "util/cleanup.h"

#define MAX_SHARES 64
#define NINEP_OPTS "trans=virtio,version=9p2000.L,cache=mmap,access=client,msize=%u"

struct mount_ctx {
	int rootfd;
	uint32_t msize;
	char shares[MAX_SHARES][64];
	unsigned nshares;
};

enum mk { MK_NONE, MK_DIR, MK_FILE };

int mount_make_dirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int do_mount(const char *src, const char *dst, const char *type, unsigned long flags,
		    const char *data, struct kv_err *err)
{
	if (mount(src, dst, type, flags, data) < 0)
		return kv_err_sys(err, errno, "mount %s on %s (%s)", src ? src : "none", dst,
				  type ? type : "remount");
	return 0;
}

/* "/" becomes a mount with a parent, so pivot_root works later. */
static int root_remount(struct kv_err *err)
{
	int r = do_mount("/", "/run", NULL, MS_BIND, NULL, err);
	if (r < 0)
		return r;
	if (chdir("/run") < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
	    chdir("/") < 0)
		return kv_err_sys(err, errno, "making / a movable mount");
	return 0;
}

static void enable_cgroup(void)
{
	if (mkdir(AGENT_CGROUP, 0755) < 0 && errno != EEXIST)
		return;
	int fd = open("/sys/fs/cgroup/cgroup.subtree_control", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	/* one by one: a controller the kernel lacks must not block the rest */
	const char *ctl[] = {"+memory", "+pids", "+cpu", "+cpuset"};
	for (size_t i = 0; i < sizeof(ctl) / sizeof(ctl[0]); i++)
		if (write(fd, ctl[i], strlen(ctl[i])) < 0 && errno != EINVAL && errno != ENOENT)
			agent_log("cgroup %s: %s", ctl[i], strerror(errno));
	close(fd);
}

int mount_agent_base(struct kv_err *err)
{
	struct kv_err ignored;
	if (root_remount(&ignored) < 0)
		agent_log("%s: containers will use chroot", ignored.msg);
	static const struct {
		const char *src, *dst, *type;
		unsigned long flags;
		const char *data;
	} m[] = {
	    {"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
	    {"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
	    {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755"},
	    {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=620,ptmxmode=666"},
	    {"tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"},
	    {"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"},
	    {"cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		mount_make_dirs(m[i].dst, 0755);
		int r = do_mount(m[i].src, m[i].dst, m[i].type, m[i].flags, m[i].data, err);
		if (r < 0 && !strcmp(m[i].type, "cgroup2")) {
			agent_log("%s (no STATS from cgroups)", err->msg);
			continue;
		}
		if (r < 0 && r != -EBUSY)
			return r;
	}
	enable_cgroup();
	if (mount_make_dirs(AGENT_SHARES_DIR, 0700) < 0 || mount_make_dirs(AGENT_ROOTFS_DIR, 0700))
		return kv_err_sys(err, errno, "mkdir %s", AGENT_RUN_DIR);
	return 0;
}

static int openat2_in_root(int rootfd, const char *path, int flags)
{
	struct open_how how = {
	    .flags = (uint64_t)flags | O_CLOEXEC,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	while (*path == '/')
		path++;
	int fd = (int)syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

static int make_entry(int parent, const char *name, bool file)
{
	if (!file)
		return mkdirat(parent, name, 0755) < 0 ? -errno : 0;
	int fd = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* Opens path (inside rootfd) as O_PATH, making the missing directories and,
 * with MK_FILE, an empty file as the last component. */
static int open_in_root(int rootfd, const char *path, enum mk mk, struct kv_err *err)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return kv_err_set(err, ENAMETOOLONG, "%s: path too long", path);
	int fd = openat2_in_root(rootfd, buf, O_PATH);
	if (fd >= 0 || fd != -ENOENT || mk == MK_NONE)
		return fd >= 0 ? fd
			       : kv_err_set(err, -fd, "%s in the rootfs: %s", path, strerror(-fd));
	/* walk: each parent resolved in the root, the next name made in it */
	char *slash = buf;
	for (;;) {
		while (*slash == '/')
			slash++;
		char *next = strchr(slash, '/');
		bool last = !next || !next[strspn(next, "/")];
		if (next)
			*next = '\0';
		int dirfd = openat2_in_root(rootfd, buf, O_PATH);
		if (dirfd == -ENOENT) {
			char *base = strrchr(buf, '/');
			*base = '\0';
			cleanup_close int parent =
			    openat2_in_root(rootfd, buf, O_PATH | O_DIRECTORY);
			*base = '/';
			if (parent < 0)
				return kv_err_set(err, -parent, "%s: %s", path, strerror(-parent));
			int r = make_entry(parent, base + 1, last && mk == MK_FILE);
			if (r < 0 && r != -EEXIST)
				return kv_err_set(err, -r, "creating %s in the rootfs: %s", buf,
						  strerror(-r));
			dirfd = openat2_in_root(rootfd, buf, O_PATH);
		}
		if (dirfd < 0)
			return kv_err_set(err, -dirfd, "%s in the rootfs: %s", buf,
					  strerror(-dirfd));
		if (last)
			return dirfd;
		close(dirfd);
		*next = '/';
		slash = next;
	}
}

static void fd_path(char *buf, size_t size, int fd)
{
	snprintf(buf, size, "/proc/self/fd/%d", fd);
}

/* The mount flags a bind remount must keep (statvfs -> MS_*). */
static unsigned long kept_flags(const char *path)
{
	struct statvfs st;
	unsigned long f = 0;
	if (statvfs(path, &st) < 0)
		return 0;
	f |= st.f_flag & ST_NOSUID ? MS_NOSUID : 0;
	f |= st.f_flag & ST_NODEV ? MS_NODEV : 0;
	f |= st.f_flag & ST_NOEXEC ? MS_NOEXEC : 0;
	f |= st.f_flag & ST_NOATIME ? MS_NOATIME : 0;
	f |= st.f_flag & ST_NODIRATIME ? MS_NODIRATIME : 0;
	f |= st.f_flag & ST_RELATIME ? MS_RELATIME : 0;
	return f;
}

static int remount_bind(const char *path, unsigned long flags, struct kv_err *err)
{
	flags &= MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME |
		 MS_RELATIME | MS_STRICTATIME;
	return do_mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | flags | kept_flags(path), NULL,
			err);
}

static int tag_ok(const char *t)
{
	return t[0] && strlen(t) < 64 && !strchr(t, '/') && strcmp(t, ".") && strcmp(t, "..");
}

/* Mounts 9p share tag under /run/kvbox/shares once; its directory into buf. */
static int share_dir(struct mount_ctx *m, const char *tag, char *buf, size_t size,
		     struct kv_err *err)
{
	if (!tag_ok(tag))
		return kv_err_set(err, EINVAL, "bad 9p tag \"%s\"", tag);
	snprintf(buf, size, AGENT_SHARES_DIR "/%s", tag);
	for (unsigned i = 0; i < m->nshares; i++)
		if (!strcmp(m->shares[i], tag))
			return 0;
	if (m->nshares == MAX_SHARES)
		return kv_err_set(err, E2BIG, "more than %d 9p shares", MAX_SHARES);
	char opts[128];
	snprintf(opts, sizeof(opts), NINEP_OPTS, m->msize);
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return kv_err_sys(err, errno, "mkdir %s", buf);
	int r = do_mount(tag, buf, "9p", MS_NOSUID | MS_NODEV, opts, err);
	if (r < 0)
		return r;
	snprintf(m->shares[m->nshares++], sizeof(m->shares[0]), "%s", tag);
	return 0;
}

static int bind_from_share(struct mount_ctx *m, const struct agent_mount *mt, struct kv_err *err)
{
	char dir[PATH_MAX], sp[64], dp[64];
	int r = share_dir(m, mt->source, dir, sizeof(dir), err);
	if (r < 0)
		return r;
	cleanup_close int sharefd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sharefd < 0)
		return kv_err_sys(err, errno, "open %s", dir);
	cleanup_close int src = openat2_in_root(sharefd, mt->subpath ? mt->subpath : "", O_PATH);
	if (src < 0)
		return kv_err_set(err, -src, "bind source %s:%s: %s", mt->source,
				  mt->subpath ? mt->subpath : "", strerror(-src));
	struct stat st;
	if (fstat(src, &st) < 0)
		return kv_err_sys(err, errno, "stat bind source");
	cleanup_close int dst =
	    open_in_root(m->rootfd, mt->destination, S_ISDIR(st.st_mode) ? MK_DIR : MK_FILE, err);
	if (dst < 0)
		return dst;
	fd_path(sp, sizeof(sp), src);
	fd_path(dp, sizeof(dp), dst);
	r = do_mount(sp, dp, NULL, MS_BIND | MS_REC, NULL, err);
	if (r < 0 || !(mt->flags & ~(unsigned long)(MS_BIND | MS_REC)))
		return r;
	cleanup_close int top = open_in_root(m->rootfd, mt->destination, MK_NONE, err);
	if (top < 0)
		return top;
	fd_path(dp, sizeof(dp), top);
	return remount_bind(dp, mt->flags, err);
}

static int mount_one(struct mount_ctx *m, const struct agent_mount *mt, struct kv_err *err)
{
	char dp[64];
	int r;
	if (!strcmp(mt->type, "bind") || (mt->flags & MS_BIND)) {
		r = bind_from_share(m, mt, err);
	} else {
		const char *type = strcmp(mt->type, "cgroup") ? mt->type : "cgroup2";
		cleanup_close int dst = open_in_root(m->rootfd, mt->destination, MK_DIR, err);
		if (dst < 0)
			return dst;
		fd_path(dp, sizeof(dp), dst);
		r = do_mount(mt->source ? mt->source : type, dp, type, mt->flags, mt->data, err);
	}
	if (r < 0 || !mt->propagation)
		return r;
	cleanup_close int top = open_in_root(m->rootfd, mt->destination, MK_NONE, err);
	if (top < 0)
		return top;
	fd_path(dp, sizeof(dp), top);
	return do_mount(NULL, dp, NULL, mt->propagation, NULL, err);
}

static bool has_mount(const struct agent_create *c, const char *dst, const char *type)
{
	for (uint32_t i = 0; i < c->nmounts; i++)
		if (!strcmp(c->mounts[i].destination, dst) && !strcmp(c->mounts[i].type, type))
			return true;
	return false;
}

/* mknod inside the root; where that is refused, bind the agent's node. */
static int make_device(struct mount_ctx *m, const struct agent_device *d, struct kv_err *err)
{
	const char *slash = strrchr(d->path, '/');
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%.*s", (int)(slash - d->path), d->path);
	cleanup_close int dir = open_in_root(m->rootfd, parent[0] ? parent : "/", MK_DIR, err);
	if (dir < 0)
		return dir;
	char dp[64];
	fd_path(dp, sizeof(dp), dir);
	cleanup_close int dirfd = open(dp, O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return kv_err_sys(err, errno, "open %s", parent);
	mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
	unlinkat(dirfd, slash + 1, 0);
	if (mknodat(dirfd, slash + 1, type | (d->mode & 07777), makedev(d->major, d->minor)) == 0) {
		if (fchownat(dirfd, slash + 1, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
			return kv_err_sys(err, errno, "chown %s", d->path);
		return 0;
	}
	if (errno != EPERM && errno != EOPNOTSUPP)
		return kv_err_sys(err, errno, "mknod %s", d->path);
	char host[PATH_MAX];
	snprintf(host, sizeof(host), "/dev%s", slash);
	cleanup_close int dst = open_in_root(m->rootfd, d->path, MK_FILE, err);
	if (dst < 0)
		return dst;
	fd_path(dp, sizeof(dp), dst);
	return do_mount(host, dp, NULL, MS_BIND, NULL, err);
}

static int default_dev(struct mount_ctx *m, const struct agent_create *c, struct kv_err *err)
{
	static const struct agent_device devs[] = {
	    {"/dev/null", 'c', 1, 3, 0666, 0, 0},    {"/dev/zero", 'c', 1, 5, 0666, 0, 0},
	    {"/dev/full", 'c', 1, 7, 0666, 0, 0},    {"/dev/random", 'c', 1, 8, 0666, 0, 0},
	    {"/dev/urandom", 'c', 1, 9, 0666, 0, 0}, {"/dev/tty", 'c', 5, 0, 0666, 0, 0},
	};
	static const char *links[][2] = {{"/proc/self/fd", "fd"},
					 {"/proc/self/fd/0", "stdin"},
					 {"/proc/self/fd/1", "stdout"},
					 {"/proc/self/fd/2", "stderr"},
					 {"/proc/kcore", "core"}};
	if (!has_mount(c, "/dev", "tmpfs"))
		return 0;
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		int r = make_device(m, &devs[i], err);
		if (r < 0)
			return r;
	}
	cleanup_close int dev = open_in_root(m->rootfd, "/dev", MK_NONE, err);
	if (dev < 0)
		return dev;
	char dp[64];
	fd_path(dp, sizeof(dp), dev);
	cleanup_close int devfd = open(dp, O_DIRECTORY | O_CLOEXEC);
	if (devfd < 0)
		return kv_err_sys(err, errno, "open /dev in the rootfs");
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		symlinkat(links[i][0], devfd, links[i][1]);
	if (has_mount(c, "/dev/pts", "devpts"))
		symlinkat("pts/ptmx", devfd, "ptmx");
	return 0;
}

static int mask_path(struct mount_ctx *m, const char *path, struct kv_err *err)
{
	cleanup_close int fd = openat2_in_root(m->rootfd, path, O_PATH);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return kv_err_set(err, -fd, "masked path %s: %s", path, strerror(-fd));
	struct stat st;
	char dp[64];
	fd_path(dp, sizeof(dp), fd);
	if (fstat(fd, &st) < 0)
		return kv_err_sys(err, errno, "masked path %s", path);
	if (S_ISDIR(st.st_mode))
		return do_mount("tmpfs", dp, "tmpfs", MS_RDONLY, NULL, err);
	return do_mount("/dev/null", dp, NULL, MS_BIND, NULL, err);
}

static int readonly_path(struct mount_ctx *m, const char *path, struct kv_err *err)
{
	cleanup_close int fd = openat2_in_root(m->rootfd, path, O_PATH);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return kv_err_set(err, -fd, "read-only path %s: %s", path, strerror(-fd));
	char dp[64];
	fd_path(dp, sizeof(dp), fd);
	int r = do_mount(dp, dp, NULL, MS_BIND | MS_REC, NULL, err);
	if (r < 0)
		return r;
	cleanup_close int top = openat2_in_root(m->rootfd, path, O_PATH);
	if (top < 0)
		return kv_err_set(err, -top, "read-only path %s: %s", path, strerror(-top));
	fd_path(dp, sizeof(dp), top);
	return remount_bind(dp, MS_RDONLY, err);
}

static int enter_root(int rootfd, struct kv_err *err)
{
	if (fchdir(rootfd) < 0)
		return kv_err_sys(err, errno, "fchdir rootfs");
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		/* the old root is now under "."; detach it */
		if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0 ||
		    umount2(".", MNT_DETACH) < 0)
			return kv_err_sys(err, errno, "detaching the old root");
	} else if (errno == EINVAL) {
		agent_log("pivot_root refused; using MS_MOVE + chroot");
		if (mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0)
			return kv_err_sys(err, errno, "entering the rootfs");
	} else {
		return kv_err_sys(err, errno, "pivot_root");
	}
	if (chdir("/") < 0)
		return kv_err_sys(err, errno, "chdir /");
	return 0;
}

static int mount_rootfs(const struct agent_create *c, struct mount_ctx *m, struct kv_err *err)
{
	char opts[128];
	if (c->rootfs_tag) {
		if (!tag_ok(c->rootfs_tag))
			return kv_err_set(err, EINVAL, "bad rootfs 9p tag \"%s\"", c->rootfs_tag);
		snprintf(opts, sizeof(opts), NINEP_OPTS, m->msize);
		return do_mount(c->rootfs_tag, AGENT_ROOTFS_DIR, "9p", 0, opts, err);
	}
	return do_mount(c->rootfs_path, AGENT_ROOTFS_DIR, NULL, MS_BIND | MS_REC, NULL, err);
}

int mount_container(const struct agent_create *c, struct kv_err *err)
{
	struct mount_ctx m = {.rootfd = -1, .msize = c->msize ? c->msize : AGENT_DEFAULT_MSIZE};
	int r = do_mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL, err);
	if (r >= 0)
		r = mount_rootfs(c, &m, err);
	if (r < 0)
		return kv_err_wrap(err, r, "rootfs");
	cleanup_close int rootfd = open(AGENT_ROOTFS_DIR, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return kv_err_sys(err, errno, "open %s", AGENT_ROOTFS_DIR);
	m.rootfd = rootfd;
	for (uint32_t i = 0; i < c->nmounts; i++) {
		r = mount_one(&m, &c->mounts[i], err);
		if (r < 0)
			return kv_err_wrap(err, r, "mounts[%u] %s", i, c->mounts[i].destination);
	}
	r = default_dev(&m, c, err);
	for (uint32_t i = 0; r >= 0 && i < c->ndevices; i++)
		r = make_device(&m, &c->devices[i], err);
	for (uint32_t i = 0; r >= 0 && i < c->nmasked_paths; i++)
		r = mask_path(&m, c->masked_paths[i], err);
	for (uint32_t i = 0; r >= 0 && i < c->nreadonly_paths; i++)
		r = readonly_path(&m, c->readonly_paths[i], err);
	if (r >= 0)
		r = enter_root(rootfd, err);
	if (r >= 0 && c->rootfs_readonly)
		r = remount_bind("/", MS_RDONLY, err);
	return r;
}
