/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox's jail.  sandbox.c enters it once the machine is built and
 * before any vCPU thread exists: by then the network is set up in the
 * container's namespace, /dev/kvm, the taps and the RAM memfd are open,
 * the gofer runs, the control socket listens and the init's
 * --console-socket is connected (sandbox_stdio.c).  Nothing after this
 * point opens a path outside the jail.  In order:
 *   1. Checks the process has one thread: namespaces and capabilities
 *      belong to a thread, and a thread left outside would keep both.
 *   2. Keeps by fd what it still reads by path: /proc/self/status (the
 *      VMM's RSS for `events --stats`).  Every fd above 2 gets
 *      close-on-exec (one that lacked it is named with --debug).
 *   3. A private mount namespace, / recursively slave (util/jail.c;
 *      without CAP_SYS_ADMIN, with a user namespace).
 *   4. A 64 KiB tmpfs becomes the root (pivot_root, the old root
 *      detached), read-only, holding:
 *        /state     ROOT/ID bound from the fd opened at start-up
 *                   (nosuid, nodev, noexec): the control socket and the
 *                   network record are removed from it at exit.  The
 *                   sandbox's dir fd is reopened from it, so ".." ends at
 *                   the jail's root, not in the other containers' ROOT.
 *        /dev/pts   a new devpts instance (ptmx 0666, at most
 *                   SANDBOX_MAX_PROCS ptys): the host pty of each process
 *                   with a terminal; the host's ptys are not visible.
 *        /dev/ptmx  a symlink to pts/ptmx, for posix_openpt().
 *   5. Capabilities: the bounding, inheritable and ambient sets emptied;
 *      permitted and effective keep CAP_NET_ADMIN when interfaces were
 *      mirrored (at exit the sandbox gives them back over rtnetlink:
 *      qdiscs deleted, the tap's link removed, addresses and routes
 *      re-added), and nothing otherwise.
 *   6. no_new_privs; not dumpable and RLIMIT_CORE 0 (guest RAM is mapped
 *      into this process); RLIMIT_NOFILE at most SANDBOX_NOFILE.
 * Not set: RLIMIT_NPROC (uid 0 is exempt, and it counts all of a uid's
 * processes, not ours; the sandbox starts threads after the jail) and
 * RLIMIT_FSIZE (a container's stdout may be a regular file of any size).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/caps.h"
#include "util/jail.h"
#include "util/sanitizer.h"
#include "vmm/sandbox.h"

long sb_status_value(int status_fd, const char *key)
{
	char buf[4096], pat[40];
	ssize_t n = status_fd >= 0 ? pread(status_fd, buf, sizeof(buf) - 1, 0) : -1;
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	snprintf(pat, sizeof(pat), "\n%s:", key);
	const char *p = strstr(buf, pat);
	return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

/* Step 2: close-on-exec on every fd above 2. */
static int cloexec_all(struct sandbox *sb, struct kv_err *err)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return kv_err_sys(err, errno, "jail: /proc/self/fd");
	struct dirent *e;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (fd <= 2 || fd == dirfd(d))
			continue;
		int fl = fcntl(fd, F_GETFD);
		if (fl < 0 || (fl & FD_CLOEXEC))
			continue;
		fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
		if (sb->debug) {
			char link[64], target[256] = "?";
			snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
			ssize_t n = readlink(link, target, sizeof(target) - 1);
			target[n > 0 ? n : 1] = '\0';
			sb_log(sb, "debug", "jail: fd %d (%s) lacked close-on-exec", fd, target);
		}
	}
	closedir(d);
	return 0;
}

/* Step 4: the tmpfs root with /state and /dev/pts. */
static int enter_root(struct sandbox *sb, struct kv_err *err)
{
	char path[PATH_MAX], opts[96];
	int r;

	snprintf(path, sizeof(path), "%s/%s", sb->root, sb->id);
	/* first: the tmpfs may hide the state directory's path */
	if ((r = jail_reopen_dir(&sb->dir_fd, path, "the state directory", err)) ||
	    (r = jail_root_begin("kvbox-sandbox", 64, err)) ||
	    (r = jail_bind_fd(sb->dir_fd, "state", false, "the state directory", err)))
		return r;
	if (mkdir("dev", 0755) < 0 || mkdir("dev/pts", 0755) < 0)
		return kv_err_sys(err, errno, "jail: mkdir dev/pts");
	snprintf(opts, sizeof(opts), "newinstance,ptmxmode=0666,mode=0620,max=%d",
		 SANDBOX_MAX_PROCS);
	if (mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, opts) < 0)
		return kv_err_sys(err, errno, "jail: devpts on /dev/pts");
	if (symlink("pts/ptmx", "dev/ptmx") < 0)
		return kv_err_sys(err, errno, "jail: /dev/ptmx");
	if ((r = jail_root_enter(err)))
		return r;
	int fd = open("/state", O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return kv_err_sys(err, errno, "jail: reopen the state directory");
	close(sb->dir_fd);
	sb->dir_fd = fd;
	return jail_root_seal(err);
}

/* Step 5. */
static int drop_caps(uint64_t keep, struct kv_err *err)
{
	int r = caps_drop_bounding(0, caps_last_cap(), err);
	if (r == 0)
		r = caps_clear_ambient(err);
	if (r == 0)
		r = caps_set(keep, keep, 0, err);
	return r < 0 ? kv_err_wrap(err, r, "jail") : 0;
}

/* Step 6. */
static int limit(struct kv_err *err)
{
	struct rlimit no_core = {0, 0}, nofile;
	if (setrlimit(RLIMIT_CORE, &no_core) < 0)
		return kv_err_sys(err, errno, "jail: RLIMIT_CORE");
	if (getrlimit(RLIMIT_NOFILE, &nofile) < 0)
		return kv_err_sys(err, errno, "jail: RLIMIT_NOFILE");
	/* only lowering: this host's root may lack CAP_SYS_RESOURCE */
	if (nofile.rlim_max > SANDBOX_NOFILE)
		nofile.rlim_max = SANDBOX_NOFILE;
	nofile.rlim_cur = nofile.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0)
		return kv_err_sys(err, errno, "jail: RLIMIT_NOFILE %llu",
				  (unsigned long long)nofile.rlim_max);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return kv_err_sys(err, errno, "jail: PR_SET_NO_NEW_PRIVS");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return kv_err_sys(err, errno, "jail: PR_SET_DUMPABLE");
	return 0;
}

int sb_jail(struct sandbox *sb, struct kv_err *err)
{
	sb->status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (sb->status_fd < 0)
		return kv_err_sys(err, errno, "jail: /proc/self/status");
	long threads = sb_status_value(sb->status_fd, "Threads");
	/* ... but for a template's lazy-RAM thread, which must serve faults
	 * from the restore on: it dropped every capability of its own and
	 * runs under a filter with no call that takes a path or makes an fd
	 * (security/seccomp_uffd.c), so the namespace and root it keeps are
	 * of no use to it */
	long allowed = 1 + (sb->vm && sb->vm->lazy ? 1 : 0);
	if (threads != allowed)
		return kv_err_set(err, EBUSY,
				  "jail: %ld threads run; the jail is entered with %ld only",
				  threads, allowed);
	uint64_t keep = sb->net.nlinks ? 1ull << CAP_NET_ADMIN : 0;
	int r;
	if ((r = cloexec_all(sb, err)) || (r = jail_mount_ns(err)))
		return r;
	kv_sanitizer_jailed(); /* sanitizer builds: no /proc, no log file from here on */
	if ((r = enter_root(sb, err)) || (r = drop_caps(keep, err)) || (r = limit(err)))
		return r;
	if (sb->debug)
		sb_log(sb, "debug",
		       "jailed: root a read-only tmpfs (/state, /dev/pts), capabilities %#" PRIx64
		       ", RLIMIT_NOFILE %d",
		       keep, SANDBOX_NOFILE);
	return 0;
}
