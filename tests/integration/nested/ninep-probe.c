/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ninep-probe: the checks of tests/integration/nested/ninep.bats that
 * busybox sh cannot express, run inside the guest on the 9p mount.
 * Built static by the bats file into its test initramfs.
 *
 *   ninep-probe unlink-open FILE   open, unlink, then write/read/truncate/
 *                                  fstat through the open fd
 *   ninep-probe append FILE        O_APPEND: pwrite at 0 still appends,
 *                                  two appenders interleave whole writes
 *   ninep-probe flock FILE         flock LOCK_EX held by another process
 *                                  blocks LOCK_NB, then is released
 *   ninep-probe fcntl-lock FILE    the same with fcntl byte-range locks
 *   ninep-probe fsync FILE         write + fsync + fdatasync succeed
 *   ninep-probe xattr FILE         user.* set/get/list/remove; reads the
 *                                  host's user.kvbox.host; trusted.* refused
 *   ninep-probe socket FILE        bind a unix socket there: a socket node
 *   ninep-probe mmap FILE          MAP_SHARED write at 4096 + msync (needs a
 *                                  cache=mmap mount: cache=none maps read-only)
 *
 * Prints nothing and exits 0 on success; one line and exit 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static int fail(const char *what)
{
	printf("%s: %s\n", what, strerror(errno));
	return 1;
}

static int failx(const char *what)
{
	printf("%s\n", what);
	return 1;
}

static int unlink_open(const char *path)
{
	char buf[16] = {0};
	struct stat st;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return fail("open");
	if (write(fd, "abc", 3) != 3)
		return fail("write");
	if (unlink(path) < 0)
		return fail("unlink");
	if (access(path, F_OK) == 0)
		return failx("still there after unlink");
	if (pwrite(fd, "def", 3, 3) != 3)
		return fail("pwrite after unlink");
	if (pread(fd, buf, sizeof(buf), 0) != 6 || memcmp(buf, "abcdef", 6))
		return failx("pread after unlink: wrong data");
	if (ftruncate(fd, 2) < 0)
		return fail("ftruncate after unlink");
	if (fstat(fd, &st) < 0)
		return fail("fstat after unlink");
	if (st.st_size != 2 || st.st_nlink != 0)
		return failx("fstat after unlink: wrong size or link count");
	return close(fd) < 0 ? fail("close") : 0;
}

static int append(const char *path)
{
	char buf[32] = {0};
	int a = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	int b = open(path, O_WRONLY | O_APPEND);
	int r = open(path, O_RDONLY);

	if (a < 0 || b < 0 || r < 0)
		return fail("open");
	if (write(a, "one.", 4) != 4 || pwrite(b, "two.", 4, 0) != 4 || write(a, "three.", 6) != 6)
		return fail("write");
	if (pread(r, buf, sizeof(buf), 0) != 14 || memcmp(buf, "one.two.three.", 14))
		return failx("O_APPEND: writes did not all land at the end");
	close(a);
	close(b);
	close(r);
	return 0;
}

/* A child takes the lock and holds it until we write to its pipe. */
static int lock_test(const char *path, int use_flock)
{
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	int ready[2], go[2];
	char c;

	if (fd < 0 || pipe(ready) < 0 || pipe(go) < 0)
		return fail("setup");
	pid_t pid = fork();
	if (pid < 0)
		return fail("fork");
	if (pid == 0) {
		int cfd = open(path, O_RDWR);
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 10};
		int r = use_flock ? flock(cfd, LOCK_EX) : fcntl(cfd, F_SETLKW, &fl);
		c = r == 0 ? 'y' : 'n';
		(void)!write(ready[1], &c, 1);
		(void)!read(go[0], &c, 1);
		_exit(0); /* closing releases the lock */
	}
	if (read(ready[0], &c, 1) != 1 || c != 'y')
		return failx("the other process could not take the lock");
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 10};
	int r = use_flock ? flock(fd, LOCK_EX | LOCK_NB) : fcntl(fd, F_SETLK, &fl);
	if (r == 0)
		return failx("took a lock another process holds");
	if (errno != EWOULDBLOCK && errno != EAGAIN && errno != EACCES)
		return fail("conflicting lock");
	if (!use_flock) {
		struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 0};
		if (fcntl(fd, F_GETLK, &q) < 0)
			return fail("F_GETLK");
		if (q.l_type == F_UNLCK)
			return failx("F_GETLK did not see the other process's lock");
	}
	(void)!write(go[1], "x", 1);
	waitpid(pid, NULL, 0);
	r = use_flock ? flock(fd, LOCK_EX | LOCK_NB) : fcntl(fd, F_SETLK, &fl);
	if (r < 0)
		return fail("lock after the holder exited");
	return 0;
}

static int do_fsync(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return fail("open");
	if (write(fd, "synced\n", 7) != 7)
		return fail("write");
	if (fsync(fd) < 0)
		return fail("fsync");
	if (fdatasync(fd) < 0)
		return fail("fdatasync");
	return close(fd) < 0 ? fail("close") : 0;
}

/* Leaves user.kvbox.a=alpha on FILE for the host's getfattr; user.kvbox.b
 * was set and removed. */
static int xattr_test(const char *path)
{
	char buf[256], list[1024];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return fail("open");
	close(fd);
	if (setxattr(path, "user.kvbox.a", "alpha", 5, XATTR_CREATE) < 0)
		return fail("setxattr user.kvbox.a");
	if (setxattr(path, "user.kvbox.b", "beta", 4, 0) < 0)
		return fail("setxattr user.kvbox.b");
	if (setxattr(path, "user.kvbox.a", "again", 5, XATTR_CREATE) == 0 || errno != EEXIST)
		return failx("XATTR_CREATE over an existing name did not fail with EEXIST");
	ssize_t n = getxattr(path, "user.kvbox.a", buf, sizeof(buf));
	if (n != 5 || memcmp(buf, "alpha", 5))
		return failx("getxattr user.kvbox.a: wrong value");
	n = listxattr(path, list, sizeof(list));
	if (n < 0)
		return fail("listxattr");
	int seen = 0;
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1)
		seen |= (!strcmp(list + i, "user.kvbox.a") ? 1 : 0) |
			(!strcmp(list + i, "user.kvbox.b") ? 2 : 0);
	if (seen != 3)
		return failx("listxattr does not name both attributes");
	if (removexattr(path, "user.kvbox.b") < 0)
		return fail("removexattr user.kvbox.b");
	if (getxattr(path, "user.kvbox.b", buf, sizeof(buf)) >= 0 || errno != ENODATA)
		return failx("user.kvbox.b still readable after removexattr");
	/* the host set this one on the share's directory before boot */
	char dir[512];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	n = getxattr(dir, "user.kvbox.host", buf, sizeof(buf));
	if (n != 9 || memcmp(buf, "from-host", 9))
		return failx("the host's user.kvbox.host is not visible");
	if (setxattr(path, "trusted.kvbox", "x", 1, 0) == 0)
		return failx("trusted.* accepted");
	return 0;
}

static int socket_test(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0)
		return fail("socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return fail("bind");
	if (lstat(path, &st) < 0)
		return fail("lstat");
	if (!S_ISSOCK(st.st_mode))
		return failx("bound name is not a socket");
	return close(fd) < 0 ? fail("close") : 0;
}

static int mmap_test(const char *path)
{
	static const char msg[] = "mmap-shared-bytes";
	char buf[sizeof(msg)] = {0};
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return fail("open");
	if (ftruncate(fd, 8192) < 0)
		return fail("ftruncate");
	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail("mmap MAP_SHARED");
	memcpy(p + 4096, msg, sizeof(msg) - 1);
	if (msync(p, 8192, MS_SYNC) < 0)
		return fail("msync");
	if (munmap(p, 8192) < 0)
		return fail("munmap");
	close(fd);
	fd = open(path, O_RDONLY);
	if (fd < 0 || pread(fd, buf, sizeof(msg) - 1, 4096) != sizeof(msg) - 1)
		return fail("read back");
	if (memcmp(buf, msg, sizeof(msg) - 1))
		return failx("read back: wrong bytes");
	return close(fd) < 0 ? fail("close") : 0;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return failx("usage: ninep-probe CHECK FILE");
	const char *c = argv[1], *p = argv[2];
	if (!strcmp(c, "unlink-open"))
		return unlink_open(p);
	if (!strcmp(c, "append"))
		return append(p);
	if (!strcmp(c, "flock"))
		return lock_test(p, 1);
	if (!strcmp(c, "fcntl-lock"))
		return lock_test(p, 0);
	if (!strcmp(c, "fsync"))
		return do_fsync(p);
	if (!strcmp(c, "xattr"))
		return xattr_test(p);
	if (!strcmp(c, "socket"))
		return socket_test(p);
	if (!strcmp(c, "mmap"))
		return mmap_test(p);
	return failx("unknown check");
}
