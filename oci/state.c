/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The state directory (see oci/state.h for the layout and the rules):
 * ROOT and per-container directories, their locks, and the life of a
 * container's directory: create (under ROOT's global lock, so a directory
 * appears complete or not at all), load, save (atomic replace), refresh,
 * destroy, list.  state.json's format is in oci/state_json.c; process
 * identity and signals in oci/state_proc.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci/state.h"
#include "oci/state_json.h"
#include "util/cleanup.h"

#define GLOBAL_LOCK  "@global.lock" /* '@' is not allowed in ids */
#define LOCK_FILE    "lock"
#define STATE_FILE   "state.json"
#define STATE_TMP    "state.json.tmp" /* only written under the lock */
#define REMOVE_DEPTH 16
#define LOCK_RETRIES 3

static const char *const status_names[] = {
    [OCI_STATUS_CREATING] = "creating", [OCI_STATUS_CREATED] = "created",
    [OCI_STATUS_RUNNING] = "running",	[OCI_STATUS_STOPPED] = "stopped",
    [OCI_STATUS_PAUSED] = "paused",
};

const char *oci_status_name(enum oci_status s)
{
	if ((unsigned)s >= ARRAY_SIZE(status_names))
		return "unknown";
	return status_names[s];
}

int oci_status_parse(const char *name, enum oci_status *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(status_names); i++) {
		if (!strcmp(name, status_names[i])) {
			*out = (enum oci_status)i;
			return 0;
		}
	}
	return -EINVAL;
}

int oci_id_validate(const char *id, struct kv_err *err)
{
	size_t len = strlen(id);

	if (len == 0)
		return kv_err_set(err, EINVAL, "container id is empty");
	if (len > OCI_ID_MAX)
		return kv_err_set(err, EINVAL, "container id is longer than %d bytes", OCI_ID_MAX);
	if (!strcmp(id, ".") || !strcmp(id, ".."))
		return kv_err_set(err, EINVAL, "invalid container id \"%s\"", id);
	for (const char *p = id; *p; p++) {
		char c = *p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '.' || c == '+' || c == '-')
			continue;
		return kv_err_set(err, EINVAL,
				  "invalid container id \"%.64s%s\": only letters, digits and "
				  "'_', '.', '+', '-' are allowed",
				  id, len > 64 ? "..." : "");
	}
	return 0;
}

void oci_time_rfc3339(const struct timespec *ts, char buf[OCI_TIME_RFC3339_MAX])
{
	struct tm tm;
	time_t secs = ts->tv_sec;
	gmtime_r(&secs, &tm);
	size_t n = strftime(buf, OCI_TIME_RFC3339_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
	if (ts->tv_nsec > 0) {
		char frac[16];
		snprintf(frac, sizeof(frac), ".%09ld", ts->tv_nsec);
		size_t f = strlen(frac);
		while (frac[f - 1] == '0')
			frac[--f] = '\0';
		snprintf(buf + n, OCI_TIME_RFC3339_MAX - n, "%s", frac);
		n += f;
	}
	snprintf(buf + n, OCI_TIME_RFC3339_MAX - n, "Z");
}

/* ---- ROOT ---- */

/* path made absolute against the cwd, without resolving symlinks. */
static char *absolute(const char *path)
{
	char cwd[PATH_MAX], *out;

	if (path[0] == '/')
		return strdup(path);
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	if (asprintf(&out, "%s/%s", strcmp(cwd, "/") ? cwd : "", path) < 0)
		return NULL;
	return out;
}

static int mkdir_parents(char *path, mode_t mode)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int r = mkdir(path, mode);
		*p = '/';
		if (r < 0 && errno != EEXIST)
			return -errno;
	}
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int oci_statedir_open(struct oci_statedir *r, const char *path, bool create, struct kv_err *err)
{
	r->fd = -1;
	r->path = absolute(path);
	if (!r->path)
		return kv_err_sys(err, errno ? errno : ENOMEM, "state directory %s", path);
	if (create) {
		int e = mkdir_parents(r->path, 0700);
		if (e < 0) {
			int ret = kv_err_sys(err, -e, "cannot make state directory %s", r->path);
			oci_statedir_close(r);
			return ret;
		}
	}
	r->fd = open(r->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->fd < 0) {
		int e = errno;
		int ret = e == ENOENT
			      ? -ENOENT
			      : kv_err_sys(err, e, "cannot open state directory %s", r->path);
		if (e == ENOENT)
			kv_err_set(err, ENOENT, "state directory %s does not exist", r->path);
		oci_statedir_close(r);
		return ret;
	}
	return 0;
}

void oci_statedir_close(struct oci_statedir *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	free(r->path);
	r->path = NULL;
}

/* ---- locks ---- */

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* flock(LOCK_EX) with a deadline: retries LOCK_NB with a growing sleep,
 * so no signal (alarm) is needed to bound the wait. */
static int flock_timeout(int fd, int timeout_ms)
{
	long long deadline = mono_ms() + timeout_ms;
	useconds_t nap = 1000;

	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (mono_ms() >= deadline)
			return -EWOULDBLOCK;
		usleep(nap);
		if (nap < 50000)
			nap *= 2;
	}
}

static int global_lock(struct oci_statedir *r, struct kv_err *err)
{
	int fd = openat(r->fd, GLOBAL_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return kv_err_sys(err, errno, "%s/%s", r->path, GLOBAL_LOCK);
	int e = flock_timeout(fd, OCI_LOCK_TIMEOUT_MS);
	if (e < 0) {
		close(fd);
		if (e == -EWOULDBLOCK)
			return kv_err_set(
			    err, EWOULDBLOCK,
			    "%s is locked by another kvbox command for more than %d s", r->path,
			    OCI_LOCK_TIMEOUT_MS / 1000);
		return kv_err_sys(err, -e, "lock %s/%s", r->path, GLOBAL_LOCK);
	}
	return fd; /* closing it releases the lock */
}

int oci_container_lock(struct oci_container *c, int timeout_ms, struct kv_err *err)
{
	struct stat st;

	if (c->locked)
		return 0;
	int e = flock_timeout(c->lockfd, timeout_ms);
	if (e == -EWOULDBLOCK)
		return kv_err_set(err, EWOULDBLOCK,
				  "container \"%s\" is busy: another kvbox command has held its "
				  "lock for more than %d ms",
				  c->st.id, timeout_ms);
	if (e < 0)
		return kv_err_sys(err, -e, "lock %s/%s", c->dir, LOCK_FILE);
	/* deleted while we waited: the lock file is no longer linked */
	if (fstat(c->lockfd, &st) < 0 || st.st_nlink == 0) {
		flock(c->lockfd, LOCK_UN);
		return kv_err_set(err, ENOENT, "container \"%s\" does not exist", c->st.id);
	}
	c->locked = true;
	return 0;
}

void oci_container_unlock(struct oci_container *c)
{
	if (c->locked)
		flock(c->lockfd, LOCK_UN);
	c->locked = false;
}

/* ---- removal ---- */

/* Empties the directory dirfd (on device dev): never follows a symlink,
 * refuses to descend into another filesystem (a mount left inside). */
static int empty_dir(int dirfd, dev_t dev, int depth, const char *shown, struct kv_err *err)
{
	int dup_fd = dup(dirfd);
	if (dup_fd < 0)
		return kv_err_sys(err, errno, "%s", shown);
	DIR *d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return kv_err_sys(err, errno, "%s", shown);
	}
	struct dirent *de;
	int r = 0;
	while (r == 0 && (de = readdir(d))) {
		struct stat st;
		const char *n = de->d_name;
		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		if (fstatat(dirfd, n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = errno == ENOENT ? 0 : kv_err_sys(err, errno, "%s/%s", shown, n);
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (unlinkat(dirfd, n, 0) < 0 && errno != ENOENT)
				r = kv_err_sys(err, errno, "remove %s/%s", shown, n);
			continue;
		}
		if (st.st_dev != dev)
			r = kv_err_set(err, EBUSY, "%s/%s is a mount point: not removing", shown,
				       n);
		else if (depth >= REMOVE_DEPTH)
			r = kv_err_set(err, ELOOP, "%s/%s: nested too deep", shown, n);
		if (r < 0)
			break;
		int sub = openat(dirfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			r = kv_err_sys(err, errno, "open %s/%s", shown, n);
			break;
		}
		r = empty_dir(sub, dev, depth + 1, shown, err);
		close(sub);
		if (r == 0 && unlinkat(dirfd, n, AT_REMOVEDIR) < 0)
			r = kv_err_sys(err, errno, "remove %s/%s", shown, n);
	}
	closedir(d);
	return r;
}

/* Removes ROOT/id whose open directory is dirfd. */
static int remove_container_dir(struct oci_statedir *r, const char *id, int dirfd,
				const char *shown, struct kv_err *err)
{
	struct stat st;

	if (fstat(dirfd, &st) < 0)
		return kv_err_sys(err, errno, "%s", shown);
	int ret = empty_dir(dirfd, st.st_dev, 0, shown, err);
	if (ret < 0)
		return ret;
	if (unlinkat(r->fd, id, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return kv_err_sys(err, errno, "remove %s", shown);
	return 0;
}

/* ---- containers ---- */

static struct oci_container *container_new(struct oci_statedir *r, const char *id)
{
	struct oci_container *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->root = r;
	c->dirfd = -1;
	c->lockfd = -1;
	c->st.id = strdup(id);
	if (!c->st.id || asprintf(&c->dir, "%s/%s", r->path, id) < 0) {
		c->dir = NULL;
		oci_container_free(c);
		return NULL;
	}
	return c;
}

void oci_state_fini(struct oci_state *st)
{
	free(st->oci_version);
	free(st->id);
	free(st->bundle);
	free(st->rootfs);
	free(st->owner);
	free(st->control_socket);
	json_decref(st->annotations);
	memset(st, 0, sizeof(*st));
}

void oci_container_free(struct oci_container *c)
{
	if (!c)
		return;
	oci_container_unlock(c);
	if (c->lockfd >= 0)
		close(c->lockfd);
	if (c->dirfd >= 0)
		close(c->dirfd);
	free(c->dir);
	oci_state_fini(&c->st);
	free(c);
}

/* The owner's name for `list`, from /etc/passwd as runc reads it (no NSS:
 * the binary is static), else "#UID". */
static char *owner_name(void)
{
	char buf[4096];
	struct passwd pw, *res = NULL;
	char *out = NULL;

	uid_t uid = geteuid();
	FILE *f = fopen("/etc/passwd", "re");
	if (f) {
		while (!out && fgetpwent_r(f, &pw, buf, sizeof(buf), &res) == 0 && res)
			if (res->pw_uid == uid)
				out = strdup(res->pw_name);
		fclose(f);
	}
	if (!out && asprintf(&out, "#%u", (unsigned)uid) < 0)
		return NULL;
	return out;
}

/* Fills the state of a new container. */
static int state_init(struct oci_state *st, const char *bundle, struct kv_err *err)
{
	char real[PATH_MAX];
	struct stat sb;
	struct timespec now;

	if (!realpath(bundle, real))
		return kv_err_sys(err, errno, "bundle %s", bundle);
	if (stat(real, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return kv_err_set(err, ENOTDIR, "bundle %s is not a directory", bundle);
	clock_gettime(CLOCK_REALTIME, &now);
	oci_time_rfc3339(&now, st->created);
	st->status = OCI_STATUS_CREATING;
	st->oci_version = strdup(OCI_STATE_SPEC);
	st->bundle = strdup(real);
	st->owner = owner_name();
	st->annotations = json_object();
	if (!st->oci_version || !st->bundle || !st->owner || !st->annotations)
		return kv_err_set(err, ENOMEM, "out of memory");
	return oci_proc_identify(getpid(), &st->creator, err);
}

/* The part of create that runs under the global lock, after mkdir. */
static int create_locked(struct oci_container *c, struct kv_err *err)
{
	if (fchmod(c->dirfd, 0700) < 0)
		return kv_err_sys(err, errno, "chmod %s", c->dir);
	c->lockfd =
	    openat(c->dirfd, LOCK_FILE, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (c->lockfd < 0)
		return kv_err_sys(err, errno, "create %s/%s", c->dir, LOCK_FILE);
	int r = oci_container_lock(c, 0, err);
	if (r < 0)
		return r;
	return oci_state_save(c, err);
}

/* mkdir ROOT/ID and make it complete, all under ROOT's global lock. */
static int create_dir(struct oci_statedir *r, struct oci_container *c, struct kv_err *err)
{
	cleanup_close int gl = global_lock(r, err);
	if (gl < 0)
		return gl;
	if (mkdirat(r->fd, c->st.id, 0700) < 0)
		return errno == EEXIST
			   ? kv_err_set(err, EEXIST, "container \"%s\" already exists", c->st.id)
			   : kv_err_sys(err, errno, "mkdir %s", c->dir);
	c->dirfd = openat(r->fd, c->st.id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->dirfd < 0) {
		int ret = kv_err_sys(err, errno, "open %s", c->dir);
		unlinkat(r->fd, c->st.id, AT_REMOVEDIR);
		return ret;
	}
	int ret = create_locked(c, err);
	if (ret < 0) {
		oci_container_unlock(c);
		remove_container_dir(r, c->st.id, c->dirfd, c->dir, NULL);
	}
	return ret;
}

int oci_state_create(struct oci_statedir *r, const char *id, const char *bundle,
		     struct oci_container **out, struct kv_err *err)
{
	int ret = oci_id_validate(id, err);
	if (ret < 0)
		return ret;
	struct oci_container *c = container_new(r, id);
	if (!c)
		return kv_err_set(err, ENOMEM, "out of memory");
	ret = state_init(&c->st, bundle, err);
	if (ret == 0)
		ret = create_dir(r, c, err);
	if (ret < 0) {
		oci_container_free(c);
		return ret;
	}
	*out = c;
	return 0;
}

static int not_exist(struct kv_err *err, const char *id)
{
	return kv_err_set(err, ENOENT, "container \"%s\" does not exist", id);
}

/* Opens ROOT/ID and its lock file (not locking it). */
static int container_open(struct oci_container *c, struct kv_err *err)
{
	c->dirfd = openat(c->root->fd, c->st.id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->dirfd < 0)
		return errno == ENOENT || errno == ENOTDIR
			   ? not_exist(err, c->st.id)
			   : kv_err_sys(err, errno, "open %s", c->dir);
	c->lockfd = openat(c->dirfd, LOCK_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (c->lockfd < 0)
		return errno == ENOENT ? not_exist(err, c->st.id)
				       : kv_err_sys(err, errno, "open %s/%s", c->dir, LOCK_FILE);
	return 0;
}

static int read_state_file(struct oci_container *c, struct kv_err *err)
{
	cleanup_close int fd = openat(c->dirfd, STATE_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? not_exist(err, c->st.id)
				       : kv_err_sys(err, errno, "open %s/%s", c->dir, STATE_FILE);
	cleanup_free char *buf = malloc(OCI_STATE_MAX_BYTES + 1);
	size_t len = 0;
	if (!buf)
		return kv_err_set(err, ENOMEM, "out of memory");
	for (;;) {
		ssize_t n = read(fd, buf + len, OCI_STATE_MAX_BYTES + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kv_err_sys(err, errno, "read %s/%s", c->dir, STATE_FILE);
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > OCI_STATE_MAX_BYTES)
			return kv_err_set(err, EFBIG, "%s/%s: larger than %u bytes", c->dir,
					  STATE_FILE, OCI_STATE_MAX_BYTES);
	}
	struct oci_state st = {0};
	int r = oci_state_parse(buf, len, &st, err);
	if (r == 0 && strcmp(st.id, c->st.id))
		r = kv_err_set(err, EINVAL, "holds id \"%.64s\"", st.id);
	if (r < 0) {
		oci_state_fini(&st);
		return kv_err_wrap(err, r, "%s/%s", c->dir, STATE_FILE);
	}
	oci_state_fini(&c->st);
	c->st = st;
	return 0;
}

int oci_state_load(struct oci_statedir *r, const char *id, unsigned flags,
		   struct oci_container **out, struct kv_err *err)
{
	int ret = oci_id_validate(id, err);
	if (ret < 0)
		return ret;
	if (!r || r->fd < 0)
		return not_exist(err, id);
	/* a container deleted and made again while we waited for its lock is
	 * a new directory: open again */
	for (int tries = 0;; tries++) {
		struct oci_container *c = container_new(r, id);
		if (!c)
			return kv_err_set(err, ENOMEM, "out of memory");
		ret = container_open(c, err);
		if (ret == 0 && (flags & OCI_LOAD_LOCK))
			ret = oci_container_lock(c, OCI_LOCK_TIMEOUT_MS, err);
		if (ret == 0)
			ret = read_state_file(c, err);
		if (ret == 0) {
			*out = c;
			return 0;
		}
		oci_container_free(c);
		if (ret != -ENOENT || !(flags & OCI_LOAD_LOCK) || tries == LOCK_RETRIES)
			return ret;
	}
}

int oci_state_save(struct oci_container *c, struct kv_err *err)
{
	if (!c->locked)
		return kv_err_set(err, ENOLCK, "container \"%s\": saving state without its lock",
				  c->st.id);
	cleanup_free char *text = oci_state_format(&c->st);
	if (!text)
		return kv_err_set(err, ENOMEM, "out of memory");
	cleanup_close int fd = openat(c->dirfd, STATE_TMP,
				      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return kv_err_sys(err, errno, "create %s/%s", c->dir, STATE_TMP);
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kv_err_sys(err, errno, "write %s/%s", c->dir, STATE_TMP);
		off += (size_t)n;
	}
	if (fsync(fd) < 0)
		return kv_err_sys(err, errno, "fsync %s/%s", c->dir, STATE_TMP);
	if (renameat(c->dirfd, STATE_TMP, c->dirfd, STATE_FILE) < 0)
		return kv_err_sys(err, errno, "rename %s/%s", c->dir, STATE_TMP);
	if (fsync(c->dirfd) < 0)
		return kv_err_sys(err, errno, "fsync %s", c->dir);
	return 0;
}

bool oci_state_refresh(struct oci_container *c)
{
	struct oci_state *st = &c->st;
	bool dead;

	switch (st->status) {
	case OCI_STATUS_STOPPED:
		return false;
	case OCI_STATUS_CREATING:
		dead = !oci_proc_alive(&st->creator) && !oci_proc_alive(&st->sandbox);
		break;
	default:
		dead = !oci_proc_alive(&st->sandbox);
		break;
	}
	if (dead)
		st->status = OCI_STATUS_STOPPED;
	return dead;
}

int oci_state_destroy(struct oci_container *c, struct kv_err *err)
{
	if (!c->locked)
		return kv_err_set(err, ENOLCK, "container \"%s\": removing it without its lock",
				  c->st.id);
	return remove_container_dir(c->root, c->st.id, c->dirfd, c->dir, err);
}

int oci_state_remove_stale(struct oci_statedir *r, const char *id, struct kv_err *err)
{
	int ret = oci_id_validate(id, err);
	if (ret < 0)
		return ret;
	cleanup_close int gl = global_lock(r, err);
	if (gl < 0)
		return gl;
	/* under the global lock no create is half-way: a directory without
	 * state.json was abandoned */
	cleanup_close int dfd = openat(r->fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? -ENOENT
				       : kv_err_sys(err, errno, "open %s/%s", r->path, id);
	if (faccessat(dfd, STATE_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST;
	cleanup_free char *shown = NULL;
	if (asprintf(&shown, "%s/%s", r->path, id) < 0)
		return kv_err_set(err, ENOMEM, "out of memory");
	return remove_container_dir(r, id, dfd, shown, err);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void oci_ids_free(char **ids, size_t n)
{
	for (size_t i = 0; ids && i < n; i++)
		free(ids[i]);
	free(ids);
}

static bool is_dir_at(int dirfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	return fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

int oci_state_list(struct oci_statedir *r, char ***ids, size_t *n, struct kv_err *err)
{
	*ids = NULL;
	*n = 0;
	if (!r || r->fd < 0)
		return 0;
	int dfd = dup(r->fd);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return kv_err_sys(err, errno, "read %s", r->path);
	}
	rewinddir(d);
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (oci_id_validate(de->d_name, NULL) < 0 || !is_dir_at(r->fd, de))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			char **grown = realloc(*ids, cap * sizeof(**ids));
			if (!grown)
				goto oom;
			*ids = grown;
		}
		if (!((*ids)[*n] = strdup(de->d_name)))
			goto oom;
		(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(*ids, *n, sizeof(**ids), cmp_str);
	return 0;
oom:
	closedir(d);
	oci_ids_free(*ids, *n);
	*ids = NULL;
	*n = 0;
	return kv_err_set(err, ENOMEM, "out of memory");
}
