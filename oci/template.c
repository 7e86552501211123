/* SPDX-License-Identifier: Apache-2.0 */
/* The template cache and `kvbox template`; see oci/template.h. */
#include "oci/template.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <xxhash.h>

#include "guest/initramfs.h"
#include "oci/cli.h"
#include "oci/spec_agent.h"
#include "util/cleanup.h"
#include "vmm/kvm.h"
#include "vmm/template.h"

const char *template_root(void)
{
	const char *r = getenv("KVBOX_TEMPLATE_DIR");
	return r && *r ? r : TEMPLATE_ROOT_DEFAULT;
}

int template_params_init(struct template_params *p, uint64_t mem_bytes, unsigned ncpus,
			 struct kv_err *err)
{
	memset(p, 0, sizeof(*p));
	p->mem_bytes = mem_bytes;
	p->ncpus = ncpus;
	p->kernel = oci_default_kernel();
	return agent_binary_path(p->agent, sizeof(p->agent), err);
}

static int file_ident(const char *path, char *buf, size_t size, struct kv_err *err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return kv_err_sys(err, errno, "%s", path);
	snprintf(buf, size, "%s %llu:%llu %lld %lld.%09ld", path, (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
		 st.st_mtim.tv_nsec);
	return 0;
}

int template_key(const struct template_params *p, char key[TEMPLATE_KEY_LEN + 1],
		 struct kv_err *err)
{
	char kernel[PATH_MAX + 128], agent[PATH_MAX + 128], cmdline[256], text[3 * PATH_MAX];
	int r;
	if ((r = file_ident(p->kernel, kernel, sizeof(kernel), err)) < 0 ||
	    (r = file_ident(p->agent, agent, sizeof(agent), err)) < 0)
		return r;
	sandbox_cmdline(cmdline, sizeof(cmdline), false);
	int n = snprintf(text, sizeof(text),
			 "kvbox %s\nformat %u\nkernel %s\nagent %s\nmemory %" PRIu64
			 "\ncpus %u\nshares %u\ncmdline %s\nkvm %s\n",
			 KVBOX_VERSION, SNAP_FORMAT_VERSION, kernel, agent, p->mem_bytes, p->ncpus,
			 TEMPLATE_SHARES, cmdline, kvm_flavour_name(kvm_detect_flavour()));
	if (n < 0 || (size_t)n >= sizeof(text))
		return kv_err_set(err, ENAMETOOLONG, "template key: paths too long");
	/* a name, not a secret: XXH3 (OpenSSL's first digest costs ~0.1 s of
	 * initialisation under emulation, on every create) */
	XXH128_canonical_t can;
	XXH128_canonicalFromHash(&can, XXH3_128bits(text, (size_t)n));
	for (unsigned i = 0; i < TEMPLATE_KEY_LEN / 2; i++)
		snprintf(key + 2 * i, 3, "%02x", can.digest[i]);
	return 0;
}

/* ---- removing a template directory (known names only) ---- */

static void remove_template_dir(int rootfd, const char *name)
{
	int d = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d >= 0) {
		int img = openat(d, "image", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (img >= 0) {
			unlinkat(img, "state", 0);
			unlinkat(img, "memory", 0);
			close(img);
		}
		unlinkat(d, "image", AT_REMOVEDIR);
		unlinkat(d, "empty", AT_REMOVEDIR);
		unlinkat(d, TEMPLATE_WS, 0);
		unlinkat(d, "info.json", 0);
		unlinkat(d, "console.log", 0);
		close(d);
	}
	unlinkat(rootfd, name, AT_REMOVEDIR);
}

void template_ws_adopt(struct oci_cli *cli, const char *dir, int dirfd, uint64_t mem_bytes)
{
	size_t max = template_ws_max(mem_bytes), len = 0;
	cleanup_free uint8_t *buf = malloc(max + 1);
	cleanup_free uint32_t *blocks = NULL;
	unsigned n = 0;
	struct kv_err err = {0};
	int fd = openat(dirfd, TEMPLATE_WS_RECORD, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t got = buf ? read(fd, buf, max + 1) : -1;
	close(fd);
	unlinkat(dirfd, TEMPLATE_WS_RECORD, 0);
	if (got < 0 || (size_t)got > max) {
		oci_cli_debug(cli, "working set not kept: %s", got < 0 ? "unreadable" : "too long");
		return;
	}
	len = (size_t)got;
	if (template_ws_parse(buf, len, mem_bytes, &blocks, &n, &err) < 0) {
		oci_cli_debug(cli, "working set not kept: %s", err.msg);
		return;
	}
	cleanup_close int d = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d < 0 || faccessat(d, TEMPLATE_WS, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return; /* gone, or it has one */
	char tmp[64];
	snprintf(tmp, sizeof(tmp), ".%s.%d", TEMPLATE_WS, (int)getpid());
	int w = openat(d, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	bool ok = w >= 0 && write(w, buf, len) == (ssize_t)len && fsync(w) == 0;
	if (w >= 0)
		close(w);
	if (!ok || renameat(d, tmp, d, TEMPLATE_WS) < 0) {
		unlinkat(d, tmp, 0);
		oci_cli_debug(cli, "working set not kept: %s", strerror(errno));
		return;
	}
	oci_cli_debug(cli, "working set of %u block(s) kept for template %s", n, dir);
}

/* Under the lock: builds of processes that are gone (with all, failure
 * records too). */
static void remove_stale_builds(int rootfd, bool all)
{
	int fd = dup(rootfd);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(dir))) {
		const char *dot = strrchr(e->d_name, '.');
		if (!strncmp(e->d_name, ".failed-", 8)) {
			if (all)
				unlinkat(rootfd, e->d_name, 0);
			continue;
		}
		if (strncmp(e->d_name, ".build-", 7) && strncmp(e->d_name, ".drop-", 6))
			continue;
		pid_t pid = dot ? (pid_t)atoi(dot + 1) : 0;
		if (pid > 0 && pid != getpid() && kill(pid, 0) == 0)
			continue;
		remove_template_dir(rootfd, e->d_name);
	}
	closedir(dir);
}

static int open_root(bool create, struct kv_err *err)
{
	const char *root = template_root();
	if (create) {
		/* the parents as mkdir -p would, then ROOT itself 0700 */
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s", root);
		for (char *s = path + 1; *s; s++) {
			if (*s != '/')
				continue;
			*s = 0;
			mkdir(path, 0755);
			*s = '/';
		}
		if (mkdir(root, 0700) < 0 && errno != EEXIST)
			return kv_err_sys(err, errno, "template directory %s", root);
	}
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kv_err_sys(err, errno, "template directory %s", root);
	return fd;
}

static int lock_root(int rootfd, struct kv_err *err)
{
	int fd = openat(rootfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return kv_err_sys(err, errno, "%s/.lock", template_root());
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int e = errno;
			close(fd);
			return kv_err_sys(err, e, "%s/.lock", template_root());
		}
	}
	return fd;
}

/* ---- build ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int write_info(int dirfd, const char *key, const struct template_params *p,
		      uint64_t build_ms, const struct snapshot_stats *st, struct kv_err *err)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:i, s:I, s:I, s:I}", "key", key,
			      "kvbox_version", KVBOX_VERSION, "kernel", p->kernel, "agent",
			      p->agent, "memory_bytes", (json_int_t)p->mem_bytes, "cpus",
			      (int)p->ncpus, "created", (json_int_t)time(NULL), "build_ms",
			      (json_int_t)build_ms, "memory_data_bytes", (json_int_t)st->mem_data);
	char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
	json_decref(o);
	if (!s)
		return kv_err_set(err, ENOMEM, "template info");
	int fd = openat(dirfd, "info.json", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	size_t len = strlen(s);
	int r = 0;
	if (fd < 0 || write(fd, s, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) < 0)
		r = kv_err_sys(err, errno, "template info.json");
	if (fd >= 0)
		close(fd);
	free(s);
	return r;
}

/* The child: runs the template VM, reports on `report`, exits. */
__attribute__((noreturn)) static void build_child(const struct template_params *p, const char *tmp,
						  bool debug, int report)
{
	/* a create killed while it waits takes its build with it (the next
	 * builder removes the directory) */
	pid_t parent = getppid();
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	char empty[PATH_MAX + 16], image[PATH_MAX + 16], console[PATH_MAX + 16];
	snprintf(empty, sizeof(empty), "%s/empty", tmp);
	snprintf(image, sizeof(image), "%s/image", tmp);
	snprintf(console, sizeof(console), "%s/console.log", tmp);
	int cfd = debug ? open(console, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)
			: open("/dev/null", O_WRONLY | O_CLOEXEC);
	/* the caller's stdio may be a container's (create): nothing of the
	 * build goes there, its result goes to `report` */
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		close(null);
	}
	struct template_build b = {
	    .mem_bytes = p->mem_bytes,
	    .ncpus = p->ncpus,
	    .kernel = p->kernel,
	    .agent = p->agent,
	    .empty = empty,
	    .console_fd = cfd,
	    .debug = debug,
	};
	struct kv_err err = {0};
	struct snapshot_stats st = {0};
	int r = template_vm_build(&b, image, &st, &err);
	char line[KV_ERR_MSG_MAX + 64];
	int n = r == 0 ? snprintf(line, sizeof(line), "ok %" PRIu64 "\n", st.mem_data)
		       : snprintf(line, sizeof(line), "error %s\n", err.msg);
	(void)!write(report, line, (size_t)n);
	_exit(r == 0 ? 0 : 1);
}

static int build(struct oci_cli *cli, int rootfd, const char *key, const struct template_params *p,
		 struct kv_err *err)
{
	char name[64], tmp[PATH_MAX];
	snprintf(name, sizeof(name), ".build-%s.%d", key, (int)getpid());
	snprintf(tmp, sizeof(tmp), "%s/%s", template_root(), name);
	remove_template_dir(rootfd, name);
	if (mkdirat(rootfd, name, 0700) < 0)
		return kv_err_sys(err, errno, "%s", tmp);
	int dfd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || mkdirat(dfd, "empty", 0555) < 0) {
		int r = kv_err_sys(err, errno, "%s/empty", tmp);
		if (dfd >= 0)
			close(dfd);
		remove_template_dir(rootfd, name);
		return r;
	}
	oci_cli_debug(cli, "template %s: building (%" PRIu64 " MiB, %u vCPU(s), kernel %s)", key,
		      p->mem_bytes >> 20, p->ncpus, p->kernel);
	uint64_t t0 = now_ms();
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		close(dfd);
		remove_template_dir(rootfd, name);
		return kv_err_sys(err, errno, "pipe");
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		build_child(p, tmp, cli->debug, pfd[1]);
	}
	close(pfd[1]);
	char line[KV_ERR_MSG_MAX + 64] = "";
	size_t len = 0;
	ssize_t n;
	while (pid > 0 && len < sizeof(line) - 1 &&
	       ((n = read(pfd[0], line + len, sizeof(line) - 1 - len)) > 0 ||
		(n < 0 && errno == EINTR)))
		len += n > 0 ? (size_t)n : 0;
	line[len] = 0;
	close(pfd[0]);
	int status = 0;
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	int r = 0;
	struct snapshot_stats st = {0};
	if (pid < 0)
		r = kv_err_sys(err, errno, "fork");
	else if (!strncmp(line, "ok ", 3) && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		st.mem_data = strtoull(line + 3, NULL, 10);
	else if (!strncmp(line, "error ", 6))
		r = kv_err_set(err, EIO, "template %s: %.*s", key, (int)strcspn(line + 6, "\n"),
			       line + 6);
	else if (WIFSIGNALED(status))
		r = kv_err_set(err, EIO, "template %s: the builder died of signal %d (%s)", key,
			       WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		r = kv_err_set(err, EIO, "template %s: the builder exited with status %d", key,
			       WEXITSTATUS(status));
	uint64_t ms = now_ms() - t0;
	if (r == 0)
		r = write_info(dfd, key, p, ms, &st, err);
	if (r == 0 && fsync(dfd) < 0)
		r = kv_err_sys(err, errno, "%s", tmp);
	close(dfd);
	if (r == 0 && renameat(rootfd, name, rootfd, key) < 0)
		r = kv_err_sys(err, errno, "%s/%s", template_root(), key);
	if (r < 0) {
		remove_template_dir(rootfd, name);
		return r;
	}
	fsync(rootfd);
	oci_cli_debug(cli, "template %s: built in %" PRIu64 " ms (%" PRIu64 " KiB of memory data)",
		      key, ms, st.mem_data >> 10);
	return 0;
}

/* A build that failed leaves ROOT/.failed-KEY with its message: creates
 * do not try again (each would pay a boot for nothing) until `kvbox
 * template build` or `drop --all`. */
static int failed_before(int rootfd, const char *key, struct kv_err *err)
{
	char name[64], msg[KV_ERR_MSG_MAX] = "";
	snprintf(name, sizeof(name), ".failed-%s", key);
	int fd = openat(rootfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, msg, sizeof(msg) - 1);
	close(fd);
	msg[n > 0 ? n : 0] = 0;
	return kv_err_set(err, EIO, "%s (failed before; kvbox template build tries again)", msg);
}

static void record_failure(int rootfd, const char *key, const struct kv_err *err)
{
	char name[64];
	snprintf(name, sizeof(name), ".failed-%s", key);
	int fd = openat(rootfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	(void)!write(fd, err->msg, strlen(err->msg));
	close(fd);
}

int template_ensure(struct oci_cli *cli, const struct template_params *p, bool retry, char *dir,
		    size_t size, bool *built, struct kv_err *err)
{
	char key[TEMPLATE_KEY_LEN + 1];
	int r = template_key(p, key, err);
	if (r < 0)
		return r;
	snprintf(dir, size, "%s/%s", template_root(), key);
	*built = false;
	struct stat st;
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	int rootfd = open_root(true, err);
	if (rootfd < 0)
		return rootfd;
	int lock = lock_root(rootfd, err);
	if (lock < 0) {
		close(rootfd);
		return lock;
	}
	char failed[64];
	snprintf(failed, sizeof(failed), ".failed-%s", key);
	if (retry)
		unlinkat(rootfd, failed, 0);
	if (fstatat(rootfd, key, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
		r = 0; /* another create built it while we waited */
	} else if ((r = failed_before(rootfd, key, err)) == 0) {
		remove_stale_builds(rootfd, false);
		r = build(cli, rootfd, key, p, err);
		*built = r == 0;
		if (r < 0)
			record_failure(rootfd, key, err);
	}
	close(lock);
	close(rootfd);
	return r;
}

/* ---- kvbox template ---- */

static int parse_size(struct oci_cli *cli, const char *flag, const char *v, uint64_t lo,
		      uint64_t hi, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || *end || end == v || n < lo || n > hi)
		return oci_cli_fail(cli, 1, "%s %s: expected a number from %llu to %llu", flag, v,
				    (unsigned long long)lo, (unsigned long long)hi);
	*out = n;
	return 0;
}

static int cmd_build(struct oci_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"memory", required_argument, NULL, 'm'},
	    {"cpus", required_argument, NULL, 'c'},
	    {0},
	};
	uint64_t mib = OCI_VM_MEM_DEFAULT >> 20, cpus = 1;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'm' && parse_size(cli, "--memory", optarg, 64, 1u << 20, &mib))
			return 1;
		if (ch == 'c' && parse_size(cli, "--cpus", optarg, 1, 64, &cpus))
			return 1;
		if (ch != 'm' && ch != 'c')
			return oci_cli_bad_option(cli, argv, optind, optopt);
	}
	if (oci_cli_nargs(cli, argc, optind, 0, 0, ""))
		return 1;
	struct kv_err err = {0};
	struct template_params p;
	char dir[PATH_MAX];
	bool built = false;
	if (template_params_init(&p, mib << 20, (unsigned)cpus, &err) < 0 ||
	    template_ensure(cli, &p, true, dir, sizeof(dir), &built, &err) < 0)
		return oci_cli_fail_err(cli, &err);
	printf("%s%s\n", dir, built ? "" : " (already built)");
	return 0;
}

static int cmd_list(struct oci_cli *cli, int argc, char **argv)
{
	bool quiet = argc > 1 && (!strcmp(argv[1], "-q") || !strcmp(argv[1], "--quiet"));
	if (oci_cli_nargs(cli, argc, 1 + quiet, 0, 0, ""))
		return 1;
	struct kv_err err = {0};
	int rootfd = open_root(false, &err);
	if (rootfd < 0)
		return err.code == ENOENT ? 0 : oci_cli_fail_err(cli, &err);
	DIR *d = fdopendir(rootfd);
	if (!d) {
		close(rootfd);
		return oci_cli_fail(cli, 1, "%s: %s", template_root(), strerror(errno));
	}
	if (!quiet)
		printf("%-16s  %8s  %4s  %10s  %8s  %-20s  %s\n", "KEY", "MEMORY", "CPUS", "DATA",
		       "BUILD", "CREATED", "KERNEL");
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (quiet) {
			printf("%s\n", e->d_name);
			continue;
		}
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s/info.json", template_root(), e->d_name);
		json_t *o = json_load_file(path, 0, NULL);
		json_int_t mem = 0, data = 0, ms = 0, created = 0;
		int cpus = 0;
		const char *kernel = "?";
		if (o)
			json_unpack(o, "{s?I, s?i, s?I, s?I, s?I, s?s}", "memory_bytes", &mem,
				    "cpus", &cpus, "memory_data_bytes", &data, "build_ms", &ms,
				    "created", &created, "kernel", &kernel);
		char when[32] = "?";
		time_t t = (time_t)created;
		struct tm tm;
		if (created && gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("%-16s  %5lld MiB  %4d  %6lld KiB  %6lld ms  %-20s  %s\n", e->d_name,
		       (long long)(mem >> 20), cpus, (long long)(data >> 10), (long long)ms, when,
		       kernel);
		json_decref(o);
	}
	closedir(d);
	return 0;
}

static int cmd_drop(struct oci_cli *cli, int argc, char **argv)
{
	bool all = argc == 2 && !strcmp(argv[1], "--all");
	if (!all && argc < 2)
		return oci_cli_fail(cli, 1, "template drop: name templates (KEY...) or --all");
	struct kv_err err = {0};
	int rootfd = open_root(false, &err);
	if (rootfd < 0)
		return all && err.code == ENOENT ? 0 : oci_cli_fail_err(cli, &err);
	int lock = lock_root(rootfd, &err);
	if (lock < 0) {
		close(rootfd);
		return oci_cli_fail_err(cli, &err);
	}
	int rc = 0;
	if (all) {
		int fd = dup(rootfd);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *e;
		while (d && (e = readdir(d)))
			if (e->d_name[0] != '.')
				remove_template_dir(rootfd, e->d_name);
		if (d)
			closedir(d);
		remove_stale_builds(rootfd, true);
	}
	for (int i = 1; !all && i < argc; i++) {
		const char *k = argv[i];
		struct stat st;
		if (strlen(k) != TEMPLATE_KEY_LEN ||
		    strspn(k, "0123456789abcdef") != TEMPLATE_KEY_LEN ||
		    fstatat(rootfd, k, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
			rc = oci_cli_fail(cli, 1, "template %s: no such template in %s", k,
					  template_root());
			continue;
		}
		/* out of the way first: a create that looks now builds anew,
		 * one that restores has its files open already */
		char name[64];
		snprintf(name, sizeof(name), ".drop-%s.%d", k, (int)getpid());
		if (renameat(rootfd, k, rootfd, name) < 0) {
			rc = oci_cli_fail(cli, 1, "template %s: %s", k, strerror(errno));
			continue;
		}
		remove_template_dir(rootfd, name);
	}
	close(lock);
	close(rootfd);
	return rc;
}

int oci_cmd_template(struct oci_cli *cli, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	if (!strcmp(sub, "build"))
		return cmd_build(cli, argc - 1, argv + 1);
	if (!strcmp(sub, "list") || !strcmp(sub, "ls"))
		return cmd_list(cli, argc - 1, argv + 1);
	if (!strcmp(sub, "drop") || !strcmp(sub, "rm"))
		return cmd_drop(cli, argc - 1, argv + 1);
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		printf("usage: kvbox template build [--memory MiB] [--cpus N]\n"
		       "       kvbox template list [-q]\n"
		       "       kvbox template drop KEY... | --all\n"
		       "templates live in %s (KVBOX_TEMPLATE_DIR)\n",
		       template_root());
		return 0;
	}
	return oci_cli_fail(cli, 1, "template %s: expected build, list or drop", sub);
}
