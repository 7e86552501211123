/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host cgroups of a container's sandbox and gofer; see oci/cgroup.h.
 *
 * create:  oci_cg_path() -> oci_cg_create(): per hierarchy mkdir down the
 *          path (remembering what was new), v1 cpuset copies cpus/mems
 *          into new directories, v2 enables its controllers in each
 *          parent; then oci_cg_set() -> oci_cg_save(); the CLI forks the
 *          sandbox, oci_cg_enter()s it, only then lets it exec.
 * update:  oci_cg_load() -> oci_cg_set() with the CPU fields.
 * delete:  oci_cg_teardown(): load, kill leftovers, rmdir (retried).
 */
#include "oci/cgroup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "vmm/sandbox.h"

#define RMDIR_WAIT_MS 2000

static const struct {
	const char *name;
	unsigned bit;
} ctrl_names[] = {
    {"cpu", OCI_CG_CPU},       {"cpuacct", OCI_CG_CPUACCT}, {"cpuset", OCI_CG_CPUSET},
    {"memory", OCI_CG_MEMORY}, {"pids", OCI_CG_PIDS},
};

static unsigned ctrl_bit(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(ctrl_names); i++)
		if (strlen(ctrl_names[i].name) == len && !strncmp(ctrl_names[i].name, name, len))
			return ctrl_names[i].bit;
	return 0;
}

/* ---- layout ---- */

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
}

/* True when every comma-separated item of list is among opts' items. */
static bool opts_have_all(const char *opts, const char *list)
{
	const char *p = list;
	while (*p) {
		size_t n = strcspn(p, ",");
		bool found = false;
		for (const char *q = opts; *q;) {
			size_t m = strcspn(q, ",");
			if (m == n && !strncmp(p, q, n))
				found = true;
			q += m + (q[m] == ',');
		}
		if (!found)
			return false;
		p += n + (p[n] == ',');
	}
	return true;
}

/* The mount point of the hierarchy named by a /proc/self/cgroup line's
 * controller list ("" = cgroup2) in mountinfo's text, or NULL. */
static char *find_mount(const char *text, const char *list, struct kv_err *err, int *r)
{
	for (const char *p = text; *p;) {
		size_t len = strcspn(p, "\n");
		cleanup_free char *line = strndup(p, len);
		p += len + (p[len] == '\n');
		if (!line) {
			*r = kv_err_set(err, ENOMEM, "cgroup mount");
			return NULL;
		}
		char *sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = 0;
		char *fields[6] = {0}, *save = NULL, *tok = strtok_r(line, " ", &save);
		for (int i = 0; tok && i < 6; i++, tok = strtok_r(NULL, " ", &save))
			fields[i] = tok;
		char *fstype = strtok_r(sep + 3, " ", &save);
		strtok_r(NULL, " ", &save); /* source */
		char *super = strtok_r(NULL, " ", &save);
		if (!fields[4] || !fstype || !super)
			continue;
		bool v2 = !strcmp(fstype, "cgroup2");
		if (!(v2 && !*list) &&
		    !(!v2 && *list && !strcmp(fstype, "cgroup") && opts_have_all(super, list)))
			continue;
		unescape(fields[4]);
		char *mnt = strdup(fields[4]);
		if (!mnt)
			*r = kv_err_set(err, ENOMEM, "cgroup mount");
		return mnt;
	}
	return NULL;
}

/* All of mountinfo, read once (the kernel writes it out afresh on every
 * read: a dozen hierarchies were a dozen passes over every mount). */
static char *read_mountinfo(const char *path, struct kv_err *err, int *r)
{
	cleanup_fclose FILE *f = fopen(path, "re");
	if (!f) {
		*r = kv_err_sys(err, errno, "%s", path);
		return NULL;
	}
	char *buf = NULL;
	size_t cap = 0;
	/* no NUL in mountinfo: one getdelim() takes all of it */
	if (getdelim(&buf, &cap, '\0', f) < 0) {
		free(buf);
		buf = ferror(f) ? NULL : strdup("");
		if (!buf)
			*r = kv_err_set(err, ferror(f) ? EIO : ENOMEM, "reading %s", path);
	}
	return buf;
}

static unsigned v2_controllers(const char *mnt)
{
	char path[PATH_MAX], buf[512];
	snprintf(path, sizeof(path), "%s/cgroup.controllers", mnt);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (n <= 0)
		return 0;
	buf[n] = 0;
	unsigned bits = 0;
	char *save = NULL;
	for (char *t = strtok_r(buf, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
		bits |= ctrl_bit(t, strlen(t));
	return bits;
}

static unsigned v1_controllers(const char *list)
{
	unsigned bits = 0;
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		bits |= ctrl_bit(p, n);
		p += n + (p[n] == ',');
	}
	return bits;
}

int oci_cg_layout_read(const char *mountinfo, const char *self_cgroup, struct oci_cg_layout *out,
		       struct kv_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!mountinfo)
		mountinfo = "/proc/self/mountinfo";
	if (!self_cgroup)
		self_cgroup = "/proc/self/cgroup";
	cleanup_fclose FILE *f = fopen(self_cgroup, "re");
	if (!f)
		return kv_err_sys(err, errno, "%s", self_cgroup);
	int r = 0;
	cleanup_free char *mounts = read_mountinfo(mountinfo, err, &r);
	if (!mounts)
		return r;
	cleanup_free char *line = NULL;
	size_t cap = 0;
	while (r == 0 && getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = 0;
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2 || c2[1] != '/')
			continue;
		*c2 = 0;
		const char *list = c1 + 1, *own = c2 + 1;
		char *mnt = find_mount(mounts, list, err, &r);
		if (!mnt)
			continue;
		if (out->n == OCI_CG_MAX) {
			free(mnt);
			break;
		}
		struct oci_cg_hier *h = &out->h[out->n++];
		h->mnt = mnt;
		h->v2 = !*list;
		h->ctrls = h->v2 ? v2_controllers(mnt) : v1_controllers(list);
		if (!(h->own = strdup(own)))
			r = kv_err_set(err, ENOMEM, "cgroup layout");
	}
	if (r == 0 && out->n == 0)
		r = kv_err_set(err, ENOENT, "no cgroup hierarchy is mounted (see %s)", self_cgroup);
	if (r < 0)
		oci_cg_layout_fini(out);
	return r;
}

void oci_cg_layout_fini(struct oci_cg_layout *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->h[i].mnt);
		free(l->h[i].own);
	}
	l->n = 0;
}

/* ---- the path ---- */

/* "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" -> "" */
static int expand_slice(const char *slice, char *out, size_t size, struct kv_err *err)
{
	size_t len = strlen(slice);
	out[0] = 0;
	if (len < 6 || strcmp(slice + len - 6, ".slice") || strchr(slice, '/'))
		return kv_err_set(err, EINVAL,
				  "linux.cgroupsPath: \"%s\" is not a slice name (NAME.slice)",
				  slice);
	if (!strcmp(slice, "-.slice"))
		return 0;
	size_t base = len - 6, o = 0;
	for (size_t i = 0; i <= base; i++) {
		if (i < base && slice[i] != '-')
			continue;
		if (i == 0 || slice[i - 1] == '-' || (i == base && slice[i - 1] == '-'))
			return kv_err_set(err, EINVAL, "linux.cgroupsPath: bad slice name \"%s\"",
					  slice);
		int n = snprintf(out + o, size - o, "/%.*s.slice", (int)i, slice);
		if (n < 0 || (size_t)n >= size - o)
			return kv_err_set(err, ENAMETOOLONG, "linux.cgroupsPath: too long");
		o += (size_t)n;
	}
	return 0;
}

static int systemd_path(const char *spec, char *out, size_t size, struct kv_err *err)
{
	const char *c1 = strchr(spec, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c2 || strchr(c2 + 1, ':'))
		return kv_err_set(err, EINVAL,
				  "linux.cgroupsPath: \"%s\": expected \"slice:prefix:name\" with "
				  "--systemd-cgroup",
				  spec);
	char slice[256], prefix[256];
	const char *name = c2 + 1;
	if ((size_t)(c1 - spec) >= sizeof(slice) || (size_t)(c2 - c1 - 1) >= sizeof(prefix))
		return kv_err_set(err, ENAMETOOLONG, "linux.cgroupsPath: too long");
	snprintf(slice, sizeof(slice), "%.*s", (int)(c1 - spec), spec);
	snprintf(prefix, sizeof(prefix), "%.*s", (int)(c2 - c1 - 1), c1 + 1);
	if (!*name || strchr(name, '/') || strchr(prefix, '/'))
		return kv_err_set(err, EINVAL, "linux.cgroupsPath: \"%s\": bad unit name", spec);
	int r = expand_slice(*slice ? slice : "system.slice", out, size, err);
	if (r < 0)
		return r;
	size_t o = strlen(out), nl = strlen(name);
	int n;
	if (nl > 6 && !strcmp(name + nl - 6, ".slice"))
		n = snprintf(out + o, size - o, "/%s", name);
	else if (*prefix)
		n = snprintf(out + o, size - o, "/%s-%s.scope", prefix, name);
	else
		n = snprintf(out + o, size - o, "/%s.scope", name);
	if (n < 0 || (size_t)n >= size - o)
		return kv_err_set(err, ENAMETOOLONG, "linux.cgroupsPath: too long");
	return 0;
}

/* A cgroupfs path: no "..", "." or empty components kept; "/" alone is the
 * root, which cannot take a container's limits. */
static int plain_path(const char *spec, char *out, size_t size, struct kv_err *err)
{
	bool abs = spec[0] == '/';
	size_t o = 0;
	out[0] = 0;
	for (const char *p = spec; *p;) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if (!n)
			break;
		if (n == 2 && !strncmp(p, "..", 2))
			return kv_err_set(err, EINVAL,
					  "linux.cgroupsPath: \"%s\": \"..\" is not allowed", spec);
		if (!(n == 1 && *p == '.')) {
			int w =
			    snprintf(out + o, size - o, "%s%.*s", (o || abs) ? "/" : "", (int)n, p);
			if (w < 0 || (size_t)w >= size - o)
				return kv_err_set(err, ENAMETOOLONG, "linux.cgroupsPath: too long");
			o += (size_t)w;
		}
		p += n;
	}
	if (!o)
		return kv_err_set(
		    err, EINVAL,
		    "linux.cgroupsPath: \"%s\": names the root cgroup, not one for the "
		    "container",
		    spec);
	return 0;
}

int oci_cg_path(const char *cgroups_path, bool systemd, const char *id, char *out, size_t size,
		struct kv_err *err)
{
	char def[OCI_CG_PATH_MAX];
	if (!cgroups_path || !*cgroups_path) {
		if (systemd)
			snprintf(def, sizeof(def), "system.slice:%s:%s", OCI_CG_DEFAULT, id);
		else
			snprintf(def, sizeof(def), "/%s/%s", OCI_CG_DEFAULT, id);
		cgroups_path = def;
	}
	/* the systemd form is recognised without the flag too: a directory
	 * named "machine.slice:libpod:ID" is never what was meant */
	const char *c1 = strchr(cgroups_path, ':');
	if (systemd || (c1 && !strchr(cgroups_path, '/') && strchr(c1 + 1, ':')))
		return systemd_path(cgroups_path, out, size, err);
	return plain_path(cgroups_path, out, size, err);
}

/* ---- limits ---- */

uint64_t oci_cg_pids(unsigned ncpus)
{
	return OCI_CG_PIDS_BASE + ncpus + 3ull * SANDBOX_MAX_PROCS;
}

void oci_cg_limits_from(const struct oci_resources *r, uint64_t ram, unsigned ncpus,
			struct oci_cg_limits *out)
{
	memset(out, 0, sizeof(*out));
	out->mem_max = ram + OCI_CG_MEM_OVERHEAD(ram);
	out->pids_max = oci_cg_pids(ncpus);
	if (!r)
		return;
	if (r->cpu.quota.set && r->cpu.quota.v != 0)
		out->cpu_quota = r->cpu.quota.v < 0 ? -1 : r->cpu.quota.v;
	if (r->cpu.period.set)
		out->cpu_period = r->cpu.period.v;
	if (r->cpu.shares.set)
		out->cpu_shares = r->cpu.shares.v;
	out->cpus = r->cpu.cpus && *r->cpu.cpus ? r->cpu.cpus : NULL;
	out->mems = r->cpu.mems && *r->cpu.mems ? r->cpu.mems : NULL;
}

/* ---- files ---- */

static int write_file(const char *dir, const char *file, const char *val, bool fake,
		      struct kv_err *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC | (fake ? O_CREAT | O_TRUNC : 0), 0644);
	if (fd < 0)
		return kv_err_sys(err, errno, "cgroup %s", path);
	size_t len = strlen(val);
	ssize_t n = write(fd, val, len);
	int e = n < 0 ? errno : EIO;
	close(fd);
	if (n != (ssize_t)len)
		return kv_err_sys(err, e, "cgroup %s: writing \"%s\"", path, val);
	return 0;
}

/* The file's content without trailing whitespace; "" when unreadable. */
static void read_file(const char *dir, const char *file, char *buf, size_t size)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	buf[0] = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		n = 0;
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		n--;
	buf[n] = 0;
}

static int write_u64(const char *dir, const char *file, uint64_t v, bool fake, struct kv_err *err)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return write_file(dir, file, buf, fake, err);
}

/* runc's cgroup v1 shares -> v2 weight conversion. */
static uint64_t shares_to_weight(uint64_t shares)
{
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return 1 + ((shares - 2) * 9999) / 262142;
}

static int set_cpu(const struct oci_cg_dir *d, const struct oci_cg_limits *l, bool fake,
		   struct kv_err *err)
{
	int r = 0;
	if (d->v2) {
		if (l->cpu_quota || l->cpu_period) {
			char buf[64], q[24] = "max";
			if (l->cpu_quota > 0)
				snprintf(q, sizeof(q), "%" PRId64, l->cpu_quota);
			snprintf(buf, sizeof(buf), "%s %" PRIu64, q,
				 l->cpu_period ? l->cpu_period : 100000);
			r = write_file(d->dir, "cpu.max", buf, fake, err);
		}
		if (r == 0 && l->cpu_shares)
			r = write_u64(d->dir, "cpu.weight", shares_to_weight(l->cpu_shares), fake,
				      err);
		return r;
	}
	if (l->cpu_period)
		r = write_u64(d->dir, "cpu.cfs_period_us", l->cpu_period, fake, err);
	if (r == 0 && l->cpu_quota) {
		char buf[24];
		snprintf(buf, sizeof(buf), "%" PRId64, l->cpu_quota < 0 ? -1 : l->cpu_quota);
		r = write_file(d->dir, "cpu.cfs_quota_us", buf, fake, err);
	}
	if (r == 0 && l->cpu_shares)
		r = write_u64(d->dir, "cpu.shares", l->cpu_shares, fake, err);
	return r;
}

static int set_one(const struct oci_cg_dir *d, const struct oci_cg_limits *l, bool fake,
		   struct kv_err *err)
{
	int r = 0;
	if (d->ctrls & OCI_CG_MEMORY && l->mem_max)
		r = write_u64(d->dir, d->v2 ? "memory.max" : "memory.limit_in_bytes", l->mem_max,
			      fake, err);
	if (r == 0 && d->ctrls & OCI_CG_CPU)
		r = set_cpu(d, l, fake, err);
	if (r == 0 && d->ctrls & OCI_CG_CPUSET && l->cpus)
		r = write_file(d->dir, "cpuset.cpus", l->cpus, fake, err);
	if (r == 0 && d->ctrls & OCI_CG_CPUSET && l->mems)
		r = write_file(d->dir, "cpuset.mems", l->mems, fake, err);
	if (r == 0 && d->ctrls & OCI_CG_PIDS && l->pids_max)
		r = write_u64(d->dir, "pids.max", l->pids_max, fake, err);
	return r;
}

/* A limit no hierarchy can take is an error, not a silent no-op. */
static int check_ctrls(const struct oci_cgroup *cg, const struct oci_cg_limits *l,
		       struct kv_err *err)
{
	unsigned have = 0, need = 0;
	for (size_t i = 0; i < cg->n; i++)
		have |= cg->d[i].ctrls;
	if (l->mem_max)
		need |= OCI_CG_MEMORY;
	if (l->cpu_quota || l->cpu_period || l->cpu_shares)
		need |= OCI_CG_CPU;
	if (l->cpus || l->mems)
		need |= OCI_CG_CPUSET;
	if (l->pids_max)
		need |= OCI_CG_PIDS;
	for (size_t i = 0; i < ARRAY_SIZE(ctrl_names); i++)
		if (need & ~have & ctrl_names[i].bit)
			return kv_err_set(err, ENOTSUP,
					  "cgroup: no mounted hierarchy has the %s controller",
					  ctrl_names[i].name);
	return 0;
}

int oci_cg_set(const struct oci_cgroup *cg, const struct oci_cg_limits *lim, struct kv_err *err)
{
	int r = check_ctrls(cg, lim, err);
	for (size_t i = 0; r == 0 && i < cg->n; i++)
		r = set_one(&cg->d[i], lim, cg->fake, err);
	return r;
}

int oci_cg_enter(const struct oci_cgroup *cg, pid_t pid, struct kv_err *err)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	for (size_t i = 0; i < cg->n; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/cgroup.procs", cg->d[i].dir);
		int fd =
		    open(path, O_WRONLY | O_CLOEXEC | O_APPEND | (cg->fake ? O_CREAT : 0), 0644);
		if (fd < 0)
			return kv_err_sys(err, errno, "cgroup %s", path);
		if (cg->fake)
			strcat(buf, "\n");
		ssize_t n = write(fd, buf, strlen(buf));
		int e = errno;
		close(fd);
		if (cg->fake)
			buf[strlen(buf) - 1] = 0;
		if (n < 0)
			return kv_err_sys(err, e, "cgroup %s: moving pid %d", path, (int)pid);
	}
	return 0;
}

/* ---- create / destroy ---- */

/* v1 cpuset: a new directory starts with empty cpus and mems, and a task
 * cannot join it (ENOSPC) until both are set; copy the parent's. */
static int cpuset_init(const char *dir, bool fake, struct kv_err *err)
{
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", dir);
	*strrchr(parent, '/') = 0;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char cur[4096], up[4096];
		read_file(dir, files[i], cur, sizeof(cur));
		if (*cur)
			continue;
		read_file(parent, files[i], up, sizeof(up));
		int r = write_file(dir, files[i], up, fake, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* v2: the parent must delegate our controllers to its children. */
static int v2_enable(const char *parent, unsigned ctrls, bool fake, struct kv_err *err)
{
	char buf[128] = "";
	for (size_t i = 0; i < ARRAY_SIZE(ctrl_names); i++)
		if (ctrls & ctrl_names[i].bit && ctrl_names[i].bit != OCI_CG_CPUACCT)
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s+%s",
				 *buf ? " " : "", ctrl_names[i].name);
	return *buf ? write_file(parent, "cgroup.subtree_control", buf, fake, err) : 0;
}

/* The removal of one directory; in a fake tree its files go first. */
static int remove_dir(const char *dir, bool fake)
{
	if (fake) {
		DIR *d = opendir(dir);
		struct dirent *e;
		while (d && (e = readdir(d)))
			if (e->d_type == DT_REG)
				unlinkat(dirfd(d), e->d_name, 0);
		if (d)
			closedir(d);
	}
	return rmdir(dir) < 0 && errno != ENOENT ? -errno : 0;
}

/* Makes mnt + base + path; the new directories' count into *made, the
 * deepest last, so a failure can remove them in reverse. */
static int make_dirs(const struct oci_cg_hier *h, const char *base, const char *path, bool fake,
		     char *dir, size_t size, char **made, size_t *nmade, size_t cap,
		     struct kv_err *err)
{
	int n = snprintf(dir, size, "%s%s", h->mnt, strcmp(base, "/") ? base : "");
	if (n < 0 || (size_t)n >= size)
		return kv_err_set(err, ENAMETOOLONG, "cgroup path too long");
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		size_t len = strcspn(p, "/");
		if (!len)
			break;
		char parent[PATH_MAX];
		snprintf(parent, sizeof(parent), "%s", dir);
		size_t o = strlen(dir);
		if (o + 1 + len >= size)
			return kv_err_set(err, ENAMETOOLONG, "cgroup path too long");
		snprintf(dir + o, size - o, "/%.*s", (int)len, p);
		p += len;
		if (h->v2) {
			int r = v2_enable(parent, h->ctrls, fake, err);
			if (r < 0)
				return r;
		}
		if (*nmade == cap)
			return kv_err_set(err, ENAMETOOLONG, "cgroup %s: too deep", dir);
		if (mkdir(dir, 0755) < 0) {
			if (errno != EEXIST)
				return kv_err_sys(err, errno, "cgroup %s", dir);
		} else if (!(made[*nmade] = strdup(dir))) {
			rmdir(dir);
			return kv_err_set(err, ENOMEM, "cgroup");
		} else {
			(*nmade)++;
		}
		if (!h->v2 && h->ctrls & OCI_CG_CPUSET) {
			int r = cpuset_init(dir, fake, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int oci_cg_create(const struct oci_cg_layout *l, const char *path, const struct oci_cg_limits *lim,
		  struct oci_cgroup *out, struct kv_err *err)
{
	memset(out, 0, sizeof(*out));
	out->fake = l->fake;
	char *made[OCI_CG_MAX * 64];
	size_t nmade = 0;
	int r = 0;
	bool rel = path[0] != '/';
	for (size_t i = 0; r == 0 && i < l->n; i++) {
		const struct oci_cg_hier *h = &l->h[i];
		char dir[PATH_MAX];
		r = make_dirs(h, rel ? h->own : "/", path, l->fake, dir, sizeof(dir), made, &nmade,
			      ARRAY_SIZE(made), err);
		if (r == 0) {
			out->d[out->n].dir = strdup(dir);
			out->d[out->n].v2 = h->v2;
			out->d[out->n++].ctrls = h->ctrls;
			if (!out->d[out->n - 1].dir)
				r = kv_err_set(err, ENOMEM, "cgroup");
		}
	}
	if (r == 0)
		r = oci_cg_set(out, lim, err);
	if (r < 0) {
		for (size_t i = nmade; i-- > 0;)
			remove_dir(made[i], l->fake);
		oci_cg_fini(out);
	}
	for (size_t i = 0; i < nmade; i++)
		free(made[i]);
	return r;
}

/* SIGKILLs every process listed in dir/cgroup.procs; how many there were. */
static int kill_procs(const char *dir)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	cleanup_fclose FILE *f = fopen(path, "re");
	int pid, n = 0;
	while (f && fscanf(f, "%d", &pid) == 1)
		if (pid > 0 && pid != getpid() && kill(pid, SIGKILL) == 0)
			n++;
	return n;
}

int oci_cg_destroy(const struct oci_cgroup *cg, struct kv_err *err)
{
	struct timespec pause = {.tv_nsec = 20 * 1000 * 1000};
	for (size_t i = cg->n; i-- > 0;) {
		const char *dir = cg->d[i].dir;
		int r = 0;
		for (int ms = 0; ms <= RMDIR_WAIT_MS; ms += 20) {
			if (!cg->fake)
				kill_procs(dir);
			if ((r = remove_dir(dir, cg->fake)) != -EBUSY)
				break;
			nanosleep(&pause, NULL);
		}
		if (r < 0)
			return kv_err_sys(err, -r, "cgroup %s: removing it", dir);
	}
	return 0;
}

void oci_cg_fini(struct oci_cgroup *cg)
{
	for (size_t i = 0; i < cg->n; i++)
		free(cg->d[i].dir);
	cg->n = 0;
}

/* ---- stats ---- */

/* A number from dir/file ("max" is -1); -1 when absent.  With key, the
 * value on the line "key N" of a flat-keyed file. */
static int64_t read_num(const char *dir, const char *file, const char *key)
{
	char buf[4096];
	read_file(dir, file, buf, sizeof(buf));
	const char *p = buf;
	if (key) {
		size_t kl = strlen(key);
		for (p = buf; p && (strncmp(p, key, kl) || p[kl] != ' ');)
			if ((p = strchr(p, '\n')))
				p++;
		if (!p)
			return -1;
		p += kl + 1;
	}
	if (!strncmp(p, "max", 3))
		return -1;
	char *end;
	long long v = strtoll(p, &end, 10);
	return end == p ? -1 : v;
}

void oci_cg_stats(const struct oci_cgroup *cg, struct oci_cg_stats *out)
{
	*out = (struct oci_cg_stats){-1, -1, -1, -1, -1};
	for (size_t i = 0; i < cg->n; i++) {
		const struct oci_cg_dir *d = &cg->d[i];
		if (d->ctrls & OCI_CG_MEMORY) {
			out->mem_bytes = read_num(
			    d->dir, d->v2 ? "memory.current" : "memory.usage_in_bytes", NULL);
			out->mem_limit =
			    read_num(d->dir, d->v2 ? "memory.max" : "memory.limit_in_bytes", NULL);
		}
		if (d->ctrls & OCI_CG_PIDS) {
			out->pids = read_num(d->dir, "pids.current", NULL);
			out->pids_limit = read_num(d->dir, "pids.max", NULL);
		}
		if (d->v2 && d->ctrls & OCI_CG_CPU) {
			int64_t us = read_num(d->dir, "cpu.stat", "usage_usec");
			out->cpu_ns = us < 0 ? -1 : us * 1000;
		} else if (!d->v2 && d->ctrls & OCI_CG_CPUACCT) {
			out->cpu_ns = read_num(d->dir, "cpuacct.usage", NULL);
		}
	}
}

/* ---- ROOT/ID/cgroup ---- */

int oci_cg_save(int dirfd, const struct oci_cgroup *cg, struct kv_err *err)
{
	int fd = openat(dirfd, OCI_CG_FILE ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return kv_err_sys(err, errno, "saving the cgroup path");
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return kv_err_sys(err, errno, "saving the cgroup path");
	}
	for (size_t i = 0; i < cg->n; i++)
		fprintf(f, "%s %x %s\n", cg->d[i].v2 ? "v2" : "v1", cg->d[i].ctrls, cg->d[i].dir);
	bool ok = fflush(f) == 0 && !ferror(f);
	ok = fclose(f) == 0 && ok;
	if (!ok || renameat(dirfd, OCI_CG_FILE ".tmp", dirfd, OCI_CG_FILE) < 0) {
		int e = errno ? errno : EIO;
		unlinkat(dirfd, OCI_CG_FILE ".tmp", 0);
		return kv_err_sys(err, e, "saving the cgroup path");
	}
	return 0;
}

int oci_cg_load(int dirfd, struct oci_cgroup *cg, struct kv_err *err)
{
	memset(cg, 0, sizeof(*cg));
	int fd = openat(dirfd, OCI_CG_FILE, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : kv_err_sys(err, errno, "the cgroup file");
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return kv_err_sys(err, errno, "the cgroup file");
	}
	char line[PATH_MAX + 32], ver[4];
	unsigned ctrls;
	int pos, r = 0;
	while (r == 0 && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (cg->n == OCI_CG_MAX || sscanf(line, "%3s %x %n", ver, &ctrls, &pos) != 2 ||
		    line[pos] != '/') {
			r = kv_err_set(err, EINVAL, "the cgroup file: bad line \"%s\"", line);
			break;
		}
		cg->d[cg->n].v2 = !strcmp(ver, "v2");
		cg->d[cg->n].ctrls = ctrls;
		if (!(cg->d[cg->n++].dir = strdup(line + pos)))
			r = kv_err_set(err, ENOMEM, "the cgroup file");
	}
	fclose(f);
	if (r < 0)
		oci_cg_fini(cg);
	return r;
}

int oci_cg_teardown(int dirfd, struct kv_err *err)
{
	struct oci_cgroup cg;
	int r = oci_cg_load(dirfd, &cg, err);
	if (r == -ENOENT)
		return 0;
	if (r == 0)
		r = oci_cg_destroy(&cg, err);
	if (r == 0 && unlinkat(dirfd, OCI_CG_FILE, 0) < 0 && errno != ENOENT)
		r = kv_err_sys(err, errno, "removing the cgroup file");
	oci_cg_fini(&cg);
	return r;
}
