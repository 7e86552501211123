/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.json -> the agent's CREATE request and the VM plan (see
 * spec_agent.h for what each part becomes in the guest).  Flow of
 * oci_spec_to_agent(): the rootfs (share 0) -> the process
 * (spec_process.c) -> mounts, each bind source resolved on the host and
 * given a share -> hostname, paths, sysctls, devices, namespaces -> the
 * VM size -> a trial encode, so anything the agent's decoder would refuse
 * is caught here, on the host, with a message.
 *
 * Bind sources are resolved with realpath() (a bind mount follows
 * symlinks too) and deduplicated on the result.  A file is bound through
 * its parent directory: the guest (not the container, which only sees the
 * subpath) can read that directory's other entries, read-only unless some
 * mount of it is writable.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/mount.h>
#include <sched.h>

#include "oci/spec_agent.h"
#include "util/cleanup.h"
#include "util/file.h"

/* recursive mount attributes (rro, rnosuid, ...) -> MS_* */
static const struct {
	uint64_t attr;
	unsigned long ms;
} attr_flags[] = {
    {MOUNT_ATTR_RDONLY, MS_RDONLY},   {MOUNT_ATTR_NOSUID, MS_NOSUID},
    {MOUNT_ATTR_NODEV, MS_NODEV},     {MOUNT_ATTR_NOEXEC, MS_NOEXEC},
    {MOUNT_ATTR_NOATIME, MS_NOATIME}, {MOUNT_ATTR_NODIRATIME, MS_NODIRATIME},
};

static int oom(struct kv_err *err)
{
	return kv_err_set(err, ENOMEM, "out of memory");
}

static int dup_opt(const char *s, char **out, struct kv_err *err)
{
	*out = NULL;
	if (s && !(*out = strdup(s)))
		return oom(err);
	return 0;
}

/* ---- shares --------------------------------------------------------- */

static int add_share(struct oci_vm_plan *plan, const char *tag, const char *path, bool ro,
		     struct kv_err *err)
{
	unsigned i = plan->nshares;
	if (!(plan->share_path[i] = strdup(path)))
		return oom(err);
	plan->shares[i].path = plan->share_path[i];
	snprintf(plan->shares[i].tag, sizeof(plan->shares[i].tag), "%s", tag);
	plan->shares[i].readonly = ro;
	plan->nshares++;
	return (int)i;
}

static int plan_rootfs(const struct oci_config *cfg, struct oci_vm_plan *plan, struct kv_err *err)
{
	struct stat st;
	const char *path = cfg->root.path;
	if (!path || stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return kv_err_set(err, ENOTDIR, "root.path: \"%s\" is not a directory",
				  path ? path : "");
	int r = add_share(plan, OCI_ROOTFS_TAG, path, cfg->root.readonly, err);
	return r < 0 ? r : 0;
}

/* The share for host directory dir (made if new); its index. */
static int share_for(struct oci_vm_plan *plan, unsigned max, const char *dir, bool ro, size_t i,
		     const char *source, struct kv_err *err)
{
	for (unsigned s = 1; s < plan->nshares; s++) {
		if (strcmp(plan->share_path[s], dir))
			continue;
		plan->shares[s].readonly &= ro; /* read-only only if every user is */
		return (int)s;
	}
	if (plan->nshares >= max)
		return kv_err_set(err, ENOSPC,
				  "mounts[%zu].source: \"%s\" needs a 9p share, and the VM takes "
				  "%u (the rootfs and %u bind directories)",
				  i, source, max, max - 1);
	char tag[32];
	snprintf(tag, sizeof(tag), "kvb%u", plan->nshares);
	return add_share(plan, tag, dir, ro, err);
}

/* realpath of the bind source: a directory is shared itself, a file
 * through its parent with subpath = its name. */
static int resolve_bind(const struct oci_config *cfg, const struct oci_mount *m, size_t i,
			char dir[PATH_MAX], char **subpath, struct kv_err *err)
{
	char joined[PATH_MAX];
	const char *src = m->source;
	if (!src || !src[0])
		return kv_err_set(err, EINVAL, "mounts[%zu].source: required for a bind mount", i);
	if (src[0] != '/') { /* as runc: relative to the bundle */
		if (snprintf(joined, sizeof(joined), "%s/%s", cfg->bundle ? cfg->bundle : ".",
			     src) >= (int)sizeof(joined))
			return kv_err_set(err, ENAMETOOLONG, "mounts[%zu].source: too long", i);
		src = joined;
	}
	struct stat st;
	if (!realpath(src, dir)) {
		if (errno == ENOENT || errno == ENOTDIR)
			return kv_err_set(err, ENOENT, "mounts[%zu].source: \"%s\" does not exist",
					  i, m->source);
		return kv_err_sys(err, errno, "mounts[%zu].source: \"%s\"", i, m->source);
	}
	if (stat(dir, &st) < 0)
		return kv_err_sys(err, errno, "mounts[%zu].source: \"%s\"", i, m->source);
	if (S_ISDIR(st.st_mode))
		return 0;
	if (!S_ISREG(st.st_mode))
		return kv_err_set(err, EOPNOTSUPP,
				  "mounts[%zu].source: \"%s\" is not a directory or a regular file "
				  "(only those can be shared over 9p)",
				  i, m->source);
	char *slash = strrchr(dir, '/');
	if (!(*subpath = strdup(slash + 1)))
		return oom(err);
	if (slash == dir)
		slash[1] = '\0'; /* a file in / */
	else
		*slash = '\0';
	return 0;
}

/* ---- mounts --------------------------------------------------------- */

static uint64_t mount_flags(const struct oci_mount *m)
{
	uint64_t f = m->flags & ~(unsigned long)(MS_BIND | MS_REC);
	/* one 9p share or a fresh mount has no submounts, so a recursive
	 * attribute is the plain flag */
	for (size_t k = 0; k < ARRAY_SIZE(attr_flags); k++)
		if (m->attr_set & attr_flags[k].attr)
			f |= attr_flags[k].ms;
	return f;
}

static int conv_bind(const struct oci_config *cfg, size_t i, unsigned max, struct agent_mount *am,
		     struct oci_vm_plan *plan, struct kv_err *err)
{
	const struct oci_mount *m = &cfg->mounts[i];
	char dir[PATH_MAX];
	int r = resolve_bind(cfg, m, i, dir, &am->subpath, err);
	if (r < 0)
		return r;
	int s = share_for(plan, max, dir, am->flags & MS_RDONLY, i, m->source, err);
	if (s < 0)
		return s;
	am->type = strdup("bind");
	am->source = strdup(plan->shares[s].tag);
	return am->type && am->source ? 0 : oom(err);
}

static int conv_mount(const struct oci_config *cfg, size_t i, unsigned max, struct agent_mount *am,
		      struct oci_vm_plan *plan, struct kv_err *err)
{
	const struct oci_mount *m = &cfg->mounts[i];
	if (strlen(m->destination) >= AGENT_PATH_MAX)
		return kv_err_set(err, ENAMETOOLONG, "mounts[%zu].destination: too long", i);
	if (!(am->destination = strdup(m->destination)))
		return oom(err);
	am->flags = mount_flags(m);
	if (m->n_propagation) /* applied in order: the last one is what stays */
		am->propagation = m->propagation[m->n_propagation - 1];
	if (m->bind)
		return conv_bind(cfg, i, max, am, plan, err);
	if (!m->type || !m->type[0])
		return kv_err_set(err, EINVAL, "mounts[%zu].type: required for a %s mount", i,
				  "non-bind");
	if (strlen(m->type) > 64)
		return kv_err_set(err, EINVAL, "mounts[%zu].type: longer than 64 bytes", i);
	if (m->data && strlen(m->data) > AGENT_PATH_MAX)
		return kv_err_set(err, E2BIG, "mounts[%zu].options: longer than %u bytes", i,
				  AGENT_PATH_MAX);
	if (m->source && strlen(m->source) > AGENT_PATH_MAX)
		return kv_err_set(err, E2BIG, "mounts[%zu].source: longer than %u bytes", i,
				  AGENT_PATH_MAX);
	/* the guest kernel is cgroup v2 only: a v1 "cgroup" mount (podman and
	 * docker add one at /sys/fs/cgroup) becomes the v2 hierarchy, and
	 * its v1 options (controller names) mean nothing there */
	bool v1 = !strcmp(m->type, "cgroup");
	int r = dup_opt(v1 ? "cgroup2" : m->type, &am->type, err);
	if (r >= 0)
		r = dup_opt(v1 ? "cgroup2" : m->source, &am->source, err);
	if (r >= 0 && !v1)
		r = dup_opt(m->data, &am->data, err);
	return r;
}

static int conv_mounts(const struct oci_config *cfg, unsigned max, struct agent_create *c,
		       struct oci_vm_plan *plan, struct kv_err *err)
{
	if (cfg->n_mounts > AGENT_MAX_MOUNTS)
		return kv_err_set(err, E2BIG, "mounts: %zu entries, more than the %u a VM takes",
				  cfg->n_mounts, AGENT_MAX_MOUNTS);
	if (!cfg->n_mounts)
		return 0;
	if (!(c->mounts = calloc(cfg->n_mounts, sizeof(*c->mounts))))
		return oom(err);
	for (size_t i = 0; i < cfg->n_mounts; i++) {
		c->nmounts = (uint32_t)i + 1;
		int r = conv_mount(cfg, i, max, &c->mounts[i], plan, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- the rest of CREATE -------------------------------------------- */

static int copy_paths(const struct oci_strv *v, const char *what, char ***out, uint32_t *n,
		      struct kv_err *err)
{
	if (v->n > AGENT_MAX_PATHS)
		return kv_err_set(err, E2BIG, "linux.%s: %zu entries, more than the %u a VM takes",
				  what, v->n, AGENT_MAX_PATHS);
	if (!v->n)
		return 0;
	if (!(*out = calloc(v->n + 1, sizeof(**out))))
		return oom(err);
	for (size_t i = 0; i < v->n; i++) {
		*n = (uint32_t)i + 1;
		if (strlen(v->v[i]) >= AGENT_PATH_MAX)
			return kv_err_set(err, ENAMETOOLONG, "linux.%s[%zu]: too long", what, i);
		if (!((*out)[i] = strdup(v->v[i])))
			return oom(err);
	}
	return 0;
}

/* The agent's rule (guest/protocol_msgs.c): [A-Za-z0-9_-] words joined by
 * '.' or '/', so a key always stays under /proc/sys. */
static bool sysctl_key_ok(const char *k)
{
	size_t word = 0, len = strlen(k);
	if (len == 0 || len > 256)
		return false;
	for (; *k; k++) {
		if (*k == '.' || *k == '/') {
			if (!word)
				return false;
			word = 0;
		} else if (strchr(
			       "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-",
			       *k)) {
			word++;
		} else {
			return false;
		}
	}
	return word > 0;
}

static int conv_sysctls(const struct oci_strmap *m, struct agent_create *c, struct kv_err *err)
{
	if (m->n > AGENT_MAX_SYSCTLS)
		return kv_err_set(err, E2BIG,
				  "linux.sysctl: %zu entries, more than the %u a VM "
				  "takes",
				  m->n, AGENT_MAX_SYSCTLS);
	if (!m->n)
		return 0;
	if (!(c->sysctls = calloc(m->n, sizeof(*c->sysctls))))
		return oom(err);
	for (size_t i = 0; i < m->n; i++) {
		c->nsysctls = (uint32_t)i + 1;
		if (!sysctl_key_ok(m->v[i].key))
			return kv_err_set(err, EINVAL, "linux.sysctl: bad key \"%.64s\"",
					  m->v[i].key);
		if (m->v[i].value && strlen(m->v[i].value) > 4096)
			return kv_err_set(err, E2BIG,
					  "linux.sysctl.%s: value longer than 4096 bytes",
					  m->v[i].key);
		int r = dup_opt(m->v[i].key, &c->sysctls[i].key, err);
		if (r >= 0)
			r = dup_opt(m->v[i].value, &c->sysctls[i].value, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int conv_devices(const struct oci_linux *lx, struct agent_create *c, struct kv_err *err)
{
	if (lx->n_devices > AGENT_MAX_DEVICES)
		return kv_err_set(err, E2BIG,
				  "linux.devices: %zu entries, more than the %u a VM "
				  "takes",
				  lx->n_devices, AGENT_MAX_DEVICES);
	if (!lx->n_devices)
		return 0;
	if (!(c->devices = calloc(lx->n_devices, sizeof(*c->devices))))
		return oom(err);
	for (size_t i = 0; i < lx->n_devices; i++) {
		const struct oci_device *d = &lx->devices[i];
		struct agent_device *ad = &c->devices[i];
		c->ndevices = (uint32_t)i + 1;
		if (d->major < 0 || d->major > UINT32_MAX || d->minor < 0 || d->minor > UINT32_MAX)
			return kv_err_set(err, ERANGE,
					  "linux.devices[%zu]: major/minor out of range", i);
		if (strlen(d->path) >= AGENT_PATH_MAX)
			return kv_err_set(err, ENAMETOOLONG, "linux.devices[%zu].path: too long",
					  i);
		if (!(ad->path = strdup(d->path)))
			return oom(err);
		ad->type = d->type == 'u' ? 'c' : (uint32_t)d->type; /* unbuffered = char */
		ad->major = (uint32_t)d->major;
		ad->minor = (uint32_t)d->minor;
		ad->mode = d->file_mode.set ? d->file_mode.v & 07777 : 0666; /* runc's default */
		ad->uid = d->uid.set ? d->uid.v : 0;
		ad->gid = d->gid.set ? d->gid.v : 0;
	}
	return 0;
}

static int conv_namespaces(const struct oci_linux *lx, uint32_t *out, struct kv_err *err)
{
	static const uint32_t flag[OCI_NS_NTYPES] = {
	    [OCI_NS_PID] = CLONE_NEWPID,       [OCI_NS_MOUNT] = CLONE_NEWNS,
	    [OCI_NS_IPC] = CLONE_NEWIPC,       [OCI_NS_UTS] = CLONE_NEWUTS,
	    [OCI_NS_CGROUP] = CLONE_NEWCGROUP,
	    /* network, user, time: 0, the VM is already the container's own */
	};
	uint32_t ns = CLONE_NEWNS; /* the agent builds the rootfs in one */
	for (size_t i = 0; i < lx->n_namespaces; i++) {
		const struct oci_namespace *n = &lx->namespaces[i];
		if (n->path && n->type != OCI_NS_NETWORK && flag[n->type])
			return kv_err_set(err, EOPNOTSUPP,
					  "linux.namespaces[%zu].path: joining an existing %s "
					  "namespace is not possible from inside a VM",
					  i, oci_ns_type_name(n->type));
		ns |= flag[n->type];
	}
	*out = ns;
	return 0;
}

static int conv_names(const struct oci_config *cfg, struct agent_create *c, struct kv_err *err)
{
	if (cfg->hostname && strlen(cfg->hostname) > 64)
		return kv_err_set(err, EINVAL, "hostname: longer than 64 bytes");
	if (cfg->domainname && strlen(cfg->domainname) > 64)
		return kv_err_set(err, EINVAL, "domainname: longer than 64 bytes");
	int r = dup_opt(cfg->hostname, &c->hostname, err);
	if (r >= 0)
		r = dup_opt(cfg->domainname, &c->domainname, err);
	return r;
}

/* Everything the agent's decoder checks, checked now: encode once. */
static int trial_encode(const struct agent_create *c, struct kv_err *err)
{
	struct agent_msg m;
	agent_msg_init(&m, AGENT_CREATE, 0, 1);
	m.u.create = *c;
	uint8_t *buf = NULL;
	long n = agent_msg_encode_alloc(&m, &buf);
	free(buf);
	if (n == -EMSGSIZE)
		return kv_err_set(err, EMSGSIZE,
				  "the container's CREATE request is larger than "
				  "%u bytes",
				  AGENT_MAX_PAYLOAD);
	if (n < 0)
		return kv_err_set(err, (int)-n,
				  "the container's CREATE request would be refused "
				  "by the guest agent: %s",
				  strerror((int)-n));
	return 0;
}

static int build(const struct oci_config *cfg, const char *id, unsigned max, struct agent_create *c,
		 struct oci_vm_plan *plan, struct kv_err *err)
{
	const struct oci_linux *lx = &cfg->linux_spec;
	if (!cfg->process)
		return kv_err_set(err, EINVAL, "process: required to create a container");
	if (!id || !id[0] || strlen(id) > 1024)
		return kv_err_set(err, EINVAL, "container id: must be 1..1024 bytes");
	if (max < 1 || max > GOFER_MAX_SHARES)
		return kv_err_set(err, EINVAL, "the VM takes %u 9p shares: must be 1..%u", max,
				  GOFER_MAX_SHARES);
	int r = plan_rootfs(cfg, plan, err);
	if (r < 0)
		return r;
	if (!(c->container_id = strdup(id)) || !(c->rootfs_tag = strdup(OCI_ROOTFS_TAG)))
		return oom(err);
	c->rootfs_readonly = cfg->root.readonly;
	r = oci_process_to_agent(cfg->process, lx->seccomp, &c->process, err);
	if (r >= 0)
		r = conv_mounts(cfg, max, c, plan, err);
	if (r >= 0)
		r = conv_names(cfg, c, err);
	if (r >= 0)
		r = copy_paths(&lx->masked_paths, "maskedPaths", &c->masked_paths,
			       &c->nmasked_paths, err);
	if (r >= 0)
		r = copy_paths(&lx->readonly_paths, "readonlyPaths", &c->readonly_paths,
			       &c->nreadonly_paths, err);
	if (r >= 0)
		r = conv_sysctls(&lx->sysctl, c, err);
	if (r >= 0)
		r = conv_devices(lx, c, err);
	if (r >= 0)
		r = conv_namespaces(lx, &c->namespaces, err);
	if (r >= 0)
		r = oci_vm_size(cfg, &plan->mem_bytes, &plan->ncpus, err);
	if (r >= 0)
		r = trial_encode(c, err);
	return r;
}

int oci_spec_to_agent(const struct oci_config *cfg, const char *id, unsigned max_shares,
		      struct agent_create *out, struct oci_vm_plan *plan, struct kv_err *err)
{
	memset(out, 0, sizeof(*out));
	memset(plan, 0, sizeof(*plan));
	int r = build(cfg, id, max_shares, out, plan, err);
	if (r < 0) {
		oci_agent_create_free(out);
		oci_vm_plan_free(plan);
	}
	return r;
}

static void free_strv(char **v, uint32_t n)
{
	for (uint32_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void oci_agent_create_free(struct agent_create *c)
{
	if (!c)
		return;
	free(c->container_id);
	oci_agent_process_free(&c->process);
	free(c->rootfs_tag);
	free(c->rootfs_path);
	free(c->hostname);
	free(c->domainname);
	for (uint32_t i = 0; c->mounts && i < c->nmounts; i++) {
		struct agent_mount *m = &c->mounts[i];
		free(m->destination);
		free(m->type);
		free(m->source);
		free(m->subpath);
		free(m->data);
	}
	free(c->mounts);
	free_strv(c->masked_paths, c->nmasked_paths);
	free_strv(c->readonly_paths, c->nreadonly_paths);
	for (uint32_t i = 0; c->sysctls && i < c->nsysctls; i++) {
		free(c->sysctls[i].key);
		free(c->sysctls[i].value);
	}
	free(c->sysctls);
	for (uint32_t i = 0; c->devices && i < c->ndevices; i++)
		free(c->devices[i].path);
	free(c->devices);
	memset(c, 0, sizeof(*c));
}

void oci_vm_plan_free(struct oci_vm_plan *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < GOFER_MAX_SHARES; i++)
		free(p->share_path[i]);
	memset(p, 0, sizeof(*p));
}

/* ---- VM size -------------------------------------------------------- */

static int ann_memory(const char *v, uint64_t *mem, struct kv_err *err)
{
	uint64_t b;
	if (parse_size_mib_default(v, &b) < 0 || b < OCI_VM_MEM_MIN || b > UINT64_MAX - (1u << 20))
		return kv_err_set(err, EINVAL,
				  "annotations.\"" OCI_ANN_VM_MEMORY
				  "\": \"%.64s\" is not a size of "
				  "at least %llu MiB (e.g. 512M, 2G)",
				  v, OCI_VM_MEM_MIN >> 20);
	*mem = (b + (1u << 20) - 1) & ~((uint64_t)(1u << 20) - 1);
	return 0;
}

static int ann_cpus(const char *v, unsigned *ncpus, struct kv_err *err)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || *end || errno || n < 1 || n > OCI_VM_CPUS_MAX)
		return kv_err_set(err, EINVAL,
				  "annotations.\"" OCI_ANN_VM_CPUS
				  "\": \"%.64s\" is not an integer "
				  "in 1..%u",
				  v, OCI_VM_CPUS_MAX);
	*ncpus = (unsigned)n;
	return 0;
}

static unsigned cpus_from_quota(const struct oci_cpu *cpu)
{
	if (!cpu->quota.set || !cpu->period.set || cpu->quota.v <= 0 || !cpu->period.v)
		return 1;
	uint64_t q = (uint64_t)cpu->quota.v, n = q / cpu->period.v + (q % cpu->period.v != 0);
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t cap = online > 0 ? (uint64_t)online : 1;
	if (cap > OCI_VM_CPUS_MAX)
		cap = OCI_VM_CPUS_MAX;
	return (unsigned)(n < 1 ? 1 : n > cap ? cap : n);
}

int oci_vm_size(const struct oci_config *cfg, uint64_t *mem_bytes, unsigned *ncpus,
		struct kv_err *err)
{
	const struct oci_resources *res = cfg->linux_spec.resources;
	uint64_t mem = OCI_VM_MEM_DEFAULT;
	unsigned n = 1;
	if (res && res->memory.limit.set && res->memory.limit.v > 0) {
		uint64_t l = (uint64_t)res->memory.limit.v;
		l = l > UINT64_MAX - (1u << 20)
			? UINT64_MAX & ~((uint64_t)(1u << 20) - 1)
			: (l + (1u << 20) - 1) & ~((uint64_t)(1u << 20) - 1);
		mem = l < OCI_VM_MEM_MIN ? OCI_VM_MEM_MIN : l;
	}
	if (res)
		n = cpus_from_quota(&res->cpu);
	const char *a = oci_strmap_get(&cfg->annotations, OCI_ANN_VM_MEMORY);
	int r = a ? ann_memory(a, &mem, err) : 0;
	if (r < 0)
		return r;
	a = oci_strmap_get(&cfg->annotations, OCI_ANN_VM_CPUS);
	r = a ? ann_cpus(a, &n, err) : 0;
	if (r < 0)
		return r;
	*mem_bytes = mem;
	*ncpus = n;
	return 0;
}
