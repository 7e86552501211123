/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The messages of the host <-> agent protocol: one const schema per
 * payload struct of guest/protocol.h (tag, kind, limit of every field) and
 * the checks of what the fields mean (absolute paths, ranges, names that
 * stay inside /proc/sys or a share), run after decoding and before
 * encoding.  Which payload each (type, flags) pair carries is the table at
 * the end.  The codec that walks these is guest/protocol.c.
 */
#include "guest/protocol_internal.h"

#include <errno.h>
#include <string.h>

static int path_ok(const char *p)
{
	return p && p[0] == '/' && strlen(p) < AGENT_PATH_MAX;
}

/* A relative path below a share: no "..", no leading "/". */
static int subpath_ok(const char *p)
{
	if (!p || !*p)
		return 1;
	if (p[0] == '/' || strlen(p) >= AGENT_PATH_MAX)
		return 0;
	for (const char *c = p; *c;) {
		size_t n = strcspn(c, "/");
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return 0;
		c += n;
		c += *c == '/';
	}
	return 1;
}

static int check_rlimit(const void *v)
{
	const struct agent_rlimit *r = v;
	return r->type < AGENT_MAX_RLIMITS && r->soft <= r->hard ? 0 : -EINVAL;
}

static const struct field rlimit_f[] = {
    FLD(1, F_U32, struct agent_rlimit, type),
    FLD(2, F_U64, struct agent_rlimit, soft),
    FLD(3, F_U64, struct agent_rlimit, hard),
};
SCHEMA(rlimit, struct agent_rlimit, check_rlimit);

static int check_process(const void *v)
{
	const struct agent_process *p = v;
	if (p->nargs < 1 || !p->args[0][0] || !path_ok(p->cwd) || p->umask > 0777)
		return -EINVAL;
	for (uint32_t i = 0; i < p->nenv; i++)
		if (!strchr(p->env[i], '=') || p->env[i][0] == '=')
			return -EINVAL;
	uint32_t seen = 0;
	for (uint32_t i = 0; i < p->nrlimits; i++) {
		if (seen & (1u << p->rlimits[i].type))
			return -EINVAL;
		seen |= 1u << p->rlimits[i].type;
	}
	if (p->seccomp_len % 8 || p->console_rows > 0xffff || p->console_cols > 0xffff)
		return -EINVAL;
	return 0;
}

static const struct field process_f[] = {
    LST(1, F_STRV, struct agent_process, args, nargs, AGENT_MAX_ARGS),
    LST(2, F_STRV, struct agent_process, env, nenv, AGENT_MAX_ENV),
    STR(3, struct agent_process, cwd, AGENT_PATH_MAX, 1),
    FLD(4, F_U32, struct agent_process, uid),
    FLD(5, F_U32, struct agent_process, gid),
    LST(6, F_U32V, struct agent_process, groups, ngroups, AGENT_MAX_GROUPS),
    FLD(7, F_U32, struct agent_process, umask),
    SUBV(8, struct agent_process, rlimits, nrlimits, AGENT_MAX_RLIMITS, &rlimit_s),
    FLD(9, F_U64, struct agent_process, cap_bounding),
    FLD(10, F_U64, struct agent_process, cap_effective),
    FLD(11, F_U64, struct agent_process, cap_inheritable),
    FLD(12, F_U64, struct agent_process, cap_permitted),
    FLD(13, F_U64, struct agent_process, cap_ambient),
    FLD(14, F_BOOL, struct agent_process, no_new_privs),
    FLD(15, F_BOOL, struct agent_process, terminal),
    FLD(16, F_U32, struct agent_process, stdin_port),
    FLD(17, F_U32, struct agent_process, stdout_port),
    FLD(18, F_U32, struct agent_process, stderr_port),
    FLD(19, F_U32, struct agent_process, console_port),
    FLD(20, F_U32, struct agent_process, console_rows),
    FLD(21, F_U32, struct agent_process, console_cols),
    LST(22, F_BYTES, struct agent_process, seccomp_bpf, seccomp_len, AGENT_MAX_BPF_INSNS * 8),
    FLD(23, F_U32, struct agent_process, seccomp_flags),
};
SCHEMA(process, struct agent_process, check_process);

static int check_mount(const void *v)
{
	const struct agent_mount *m = v;
	if (!path_ok(m->destination) || !m->type[0] || !subpath_ok(m->subpath))
		return -EINVAL;
	if (!strcmp(m->type, "bind") && (!m->source || !m->source[0]))
		return -EINVAL;
	return 0;
}

static const struct field mount_f[] = {
    STR(1, struct agent_mount, destination, AGENT_PATH_MAX, 1),
    STR(2, struct agent_mount, type, 64, 1),
    STR(3, struct agent_mount, source, AGENT_PATH_MAX, 0),
    STR(4, struct agent_mount, subpath, AGENT_PATH_MAX, 0),
    FLD(5, F_U64, struct agent_mount, flags),
    FLD(6, F_U64, struct agent_mount, propagation),
    STR(7, struct agent_mount, data, AGENT_PATH_MAX, 0),
};
SCHEMA(mount, struct agent_mount, check_mount);

/* A sysctl key names a file under /proc/sys: [A-Za-z0-9_-] words joined
 * by '.' or '/', no empty word, so never ".." or an absolute path. */
static int check_sysctl(const void *v)
{
	const struct agent_sysctl *s = v;
	const char *k = s->key;
	int word = 0;
	for (; *k; k++) {
		if (*k == '.' || *k == '/') {
			if (!word)
				return -EINVAL;
			word = 0;
		} else if ((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
			   (*k >= '0' && *k <= '9') || *k == '_' || *k == '-') {
			word++;
		} else {
			return -EINVAL;
		}
	}
	return word ? 0 : -EINVAL;
}

static const struct field sysctl_f[] = {
    STR(1, struct agent_sysctl, key, 256, 1),
    STR(2, struct agent_sysctl, value, 4096, 0),
};
SCHEMA(sysctl, struct agent_sysctl, check_sysctl);

static int check_device(const void *v)
{
	const struct agent_device *d = v;
	if (!path_ok(d->path) || d->mode > 07777)
		return -EINVAL;
	return d->type == 'c' || d->type == 'b' || d->type == 'p' ? 0 : -EINVAL;
}

static const struct field device_f[] = {
    STR(1, struct agent_device, path, AGENT_PATH_MAX, 1),
    FLD(2, F_U32, struct agent_device, type),
    FLD(3, F_U32, struct agent_device, major),
    FLD(4, F_U32, struct agent_device, minor),
    FLD(5, F_U32, struct agent_device, mode),
    FLD(6, F_U32, struct agent_device, uid),
    FLD(7, F_U32, struct agent_device, gid),
};
SCHEMA(device, struct agent_device, check_device);

static int family_len(uint32_t family)
{
	return family == 2 /* AF_INET */ ? 4 : family == 10 /* AF_INET6 */ ? 16 : -1;
}

static int check_ip_addr(const void *v)
{
	const struct agent_ip_addr *a = v;
	int len = family_len(a->family);
	if (len < 0 || a->addr_len != (uint32_t)len || a->prefix > (uint32_t)len * 8)
		return -EINVAL;
	return 0;
}

static const struct field ip_addr_f[] = {
    FLD(1, F_U32, struct agent_ip_addr, family),
    LST(2, F_BYTES, struct agent_ip_addr, addr, addr_len, 16),
    FLD(3, F_U32, struct agent_ip_addr, prefix),
};
SCHEMA(ip_addr, struct agent_ip_addr, check_ip_addr);

static int check_route(const void *v)
{
	const struct agent_route *r = v;
	int len = family_len(r->family);
	if (len < 0 || r->prefix > (uint32_t)len * 8)
		return -EINVAL;
	if (r->dst_len ? r->dst_len != (uint32_t)len : r->prefix != 0)
		return -EINVAL;
	if (r->gateway_len && r->gateway_len != (uint32_t)len)
		return -EINVAL;
	return 0;
}

static const struct field route_f[] = {
    FLD(1, F_U32, struct agent_route, family),
    LST(2, F_BYTES, struct agent_route, dst, dst_len, 16),
    FLD(3, F_U32, struct agent_route, prefix),
    LST(4, F_BYTES, struct agent_route, gateway, gateway_len, 16),
    FLD(5, F_U32, struct agent_route, metric),
};
SCHEMA(route, struct agent_route, check_route);

/* An interface name the kernel takes: 1..15 bytes, none of '/', ':' or
 * white space, not "." or "..". */
static int ifname_ok(const char *n)
{
	size_t len = strlen(n);
	if (!len || len > AGENT_IFNAME_MAX || !strcmp(n, ".") || !strcmp(n, ".."))
		return 0;
	for (; *n; n++)
		if (*n == '/' || *n == ':' || *n == ' ' || (*n >= '\t' && *n <= '\r'))
			return 0;
	return 1;
}

static int check_net_if(const void *v)
{
	const struct agent_net_if *n = v;
	if (!ifname_ok(n->name) || n->mac_len != 6 || (n->mac[0] & 1))
		return -EINVAL;
	if (n->mtu && (n->mtu < 68 || n->mtu > 65535))
		return -EINVAL;
	return 0;
}

static const struct field net_if_f[] = {
    STR(1, struct agent_net_if, name, AGENT_IFNAME_MAX, 1),
    LST(2, F_BYTES, struct agent_net_if, mac, mac_len, 6),
    FLD(3, F_U32, struct agent_net_if, mtu),
    SUBV(4, struct agent_net_if, addrs, naddrs, AGENT_MAX_ADDRS, &ip_addr_s),
    SUBV(5, struct agent_net_if, routes, nroutes, AGENT_MAX_ADDRS, &route_s),
};
SCHEMA(net_if, struct agent_net_if, check_net_if);

/* CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET */
#define NS_ALLOWED 0x7e020000u

static int check_create(const void *v)
{
	const struct agent_create *c = v;
	if (!c->container_id[0] || (!c->rootfs_tag) == (!c->rootfs_path))
		return -EINVAL;
	if ((c->rootfs_tag && !c->rootfs_tag[0]) || (c->rootfs_path && !path_ok(c->rootfs_path)))
		return -EINVAL;
	if (c->namespaces & ~NS_ALLOWED)
		return -EINVAL;
	for (uint32_t i = 0; i < c->nmasked_paths; i++)
		if (!path_ok(c->masked_paths[i]))
			return -EINVAL;
	for (uint32_t i = 0; i < c->nreadonly_paths; i++)
		if (!path_ok(c->readonly_paths[i]))
			return -EINVAL;
	for (uint32_t i = 0; i < c->nnets; i++)
		for (uint32_t j = 0; j < i; j++)
			if (!strcmp(c->nets[i].name, c->nets[j].name) ||
			    !memcmp(c->nets[i].mac, c->nets[j].mac, 6))
				return -EINVAL;
	return 0;
}

static const struct field create_f[] = {
    STR(1, struct agent_create, container_id, 1024, 1),
    {2, F_STRUCT, 1, offsetof(struct agent_create, process), 0, 0, &process_s},
    STR(3, struct agent_create, rootfs_tag, 64, 0),
    STR(4, struct agent_create, rootfs_path, AGENT_PATH_MAX, 0),
    FLD(5, F_U32, struct agent_create, msize),
    FLD(6, F_BOOL, struct agent_create, rootfs_readonly),
    STR(7, struct agent_create, hostname, 64, 0),
    STR(8, struct agent_create, domainname, 64, 0),
    SUBV(9, struct agent_create, mounts, nmounts, AGENT_MAX_MOUNTS, &mount_s),
    LST(10, F_STRV, struct agent_create, masked_paths, nmasked_paths, AGENT_MAX_PATHS),
    LST(11, F_STRV, struct agent_create, readonly_paths, nreadonly_paths, AGENT_MAX_PATHS),
    SUBV(12, struct agent_create, sysctls, nsysctls, AGENT_MAX_SYSCTLS, &sysctl_s),
    SUBV(13, struct agent_create, devices, ndevices, AGENT_MAX_DEVICES, &device_s),
    FLD(14, F_U32, struct agent_create, namespaces),
    /* optional: an agent older than networking skips it */
    SUBV(AGENT_TAG_OPTIONAL | 15, struct agent_create, nets, nnets, AGENT_MAX_NETS, &net_if_s),
};
SCHEMA(create, struct agent_create, check_create);

static const struct field exec_f[] = {
    {1, F_STRUCT, 1, offsetof(struct agent_exec, process), 0, 0, &process_s},
};
SCHEMA(exec, struct agent_exec, NULL);

static const struct field hello_f[] = {
    FLD(1, F_U32, struct agent_hello, version),
    STR(2, struct agent_hello, agent_version, 256, 0),
    STR(3, struct agent_hello, kernel, 256, 0),
    FLD(4, F_U64, struct agent_hello, boot_ns),
    FLD(5, F_U64, struct agent_hello, agent_start_ns),
};
SCHEMA(hello, struct agent_hello, NULL);

static const struct field pid_f[] = {
    FLD(1, F_U32, struct agent_pid, pid),
};
SCHEMA(pid, struct agent_pid, NULL);

static int check_signal(const void *v)
{
	const struct agent_signal *s = v;
	return s->signo >= 1 && s->signo <= AGENT_MAX_SIGNAL ? 0 : -EINVAL;
}

static const struct field signal_f[] = {
    FLD(1, F_U32, struct agent_signal, pid),
    FLD(2, F_U32, struct agent_signal, signo),
    FLD(3, F_BOOL, struct agent_signal, all),
};
SCHEMA(signal, struct agent_signal, check_signal);

static const struct field wait_f[] = {
    FLD(1, F_U32, struct agent_wait, pid),
};
SCHEMA(wait, struct agent_wait, NULL);

static int check_exit(const void *v)
{
	const struct agent_exit *e = v;
	return e->code <= 255 && e->signal <= AGENT_MAX_SIGNAL ? 0 : -EINVAL;
}

static const struct field exit_f[] = {
    FLD(1, F_U32, struct agent_exit, pid),
    FLD(2, F_U32, struct agent_exit, code),
    FLD(3, F_U32, struct agent_exit, signal),
    FLD(4, F_BOOL, struct agent_exit, core),
};
SCHEMA(exit, struct agent_exit, check_exit);

static const struct field proc_info_f[] = {
    FLD(1, F_U32, struct agent_proc_info, pid),
    FLD(2, F_U32, struct agent_proc_info, ppid),
    FLD(3, F_U32, struct agent_proc_info, uid),
    STR(4, struct agent_proc_info, cmd, 4096, 0),
};
SCHEMA(proc_info, struct agent_proc_info, NULL);

static const struct field ps_f[] = {
    SUBV(1, struct agent_ps, procs, nprocs, AGENT_MAX_PROCS, &proc_info_s),
};
SCHEMA(ps, struct agent_ps, NULL);

static int check_resize(const void *v)
{
	const struct agent_resize *r = v;
	return r->rows <= 0xffff && r->cols <= 0xffff ? 0 : -EINVAL;
}

static const struct field resize_f[] = {
    FLD(1, F_U32, struct agent_resize, pid),
    FLD(2, F_U32, struct agent_resize, rows),
    FLD(3, F_U32, struct agent_resize, cols),
};
SCHEMA(resize, struct agent_resize, check_resize);

static const struct field stats_f[] = {
    FLD(1, F_U64, struct agent_stats, mem_total),
    FLD(2, F_U64, struct agent_stats, mem_available),
    FLD(3, F_U64, struct agent_stats, mem_usage),
    FLD(4, F_U64, struct agent_stats, cpu_usage_ns),
    FLD(5, F_U64, struct agent_stats, cpu_user_ns),
    FLD(6, F_U64, struct agent_stats, cpu_system_ns),
    FLD(7, F_U32, struct agent_stats, pids),
};
SCHEMA(stats, struct agent_stats, NULL);

static int check_update(const void *v)
{
	const struct agent_update *u = v;
	if (u->cpu_weight > 10000)
		return -EINVAL;
	if (u->cpu_period && u->cpu_period != AGENT_UNLIMITED &&
	    (u->cpu_period < 1000 || u->cpu_period > 1000000))
		return -EINVAL;
	return 0;
}

static const struct field update_f[] = {
    FLD(1, F_U64, struct agent_update, cpu_quota),
    FLD(2, F_U64, struct agent_update, cpu_period),
    FLD(3, F_U64, struct agent_update, cpu_weight),
    FLD(4, F_U64, struct agent_update, pids_max),
    STR(5, struct agent_update, cpuset_cpus, 1024, 0),
};
SCHEMA(update, struct agent_update, check_update);

static int check_resume(const void *v)
{
	const struct agent_resume *r = v;
	return r->seed_len == AGENT_SEED_BYTES && r->realtime_ns ? 0 : -EINVAL;
}

static const struct field resume_f[] = {
    LST(1, F_BYTES, struct agent_resume, seed, seed_len, AGENT_SEED_BYTES),
    FLD(2, F_U64, struct agent_resume, realtime_ns),
};
SCHEMA(resume, struct agent_resume, check_resume);

static int check_parked(const void *v)
{
	const struct agent_parked *p = v;
	uint64_t end = 0;
	if (p->nkernel_ro % 2)
		return -EINVAL;
	for (uint32_t i = 0; i < p->nkernel_ro; i += 2) {
		uint64_t first = p->kernel_ro[i], n = p->kernel_ro[i + 1];
		if (n == 0 || first < end)
			return -EINVAL;
		end = first + n;
	}
	return 0;
}

static const struct field parked_f[] = {
    LST(1, F_U32V, struct agent_parked, kernel_ro, nkernel_ro, 2 * AGENT_MAX_RO_RANGES),
};
SCHEMA(parked, struct agent_parked, check_parked);

static int check_error(const void *v)
{
	const struct agent_error *e = v;
	return e->errnum > 0 && e->errnum < 4096 ? 0 : -EINVAL;
}

static const struct field error_f[] = {
    FLD(1, F_I32, struct agent_error, errnum),
    STR(2, struct agent_error, message, 4096, 0),
};
SCHEMA(error, struct agent_error, check_error);

static const struct schema empty_s = {NULL, 0, 0, NULL};

/* Payload by type: request (flags 0), reply (AGENT_F_REPLY), event
 * (AGENT_F_EVENT); NULL where the combination does not exist. */
static const struct {
	const char *name;
	const struct schema *req, *reply, *event;
} types[AGENT_TYPE_COUNT] = {
    [AGENT_HELLO] = {"HELLO", NULL, NULL, &hello_s},
    [AGENT_CREATE] = {"CREATE", &create_s, &pid_s, NULL},
    [AGENT_START] = {"START", &empty_s, &empty_s, NULL},
    [AGENT_EXEC] = {"EXEC", &exec_s, &pid_s, NULL},
    [AGENT_SIGNAL] = {"SIGNAL", &signal_s, &empty_s, NULL},
    [AGENT_WAIT] = {"WAIT", &wait_s, &exit_s, NULL},
    [AGENT_EXIT] = {"EXIT", NULL, NULL, &exit_s},
    [AGENT_PS] = {"PS", &empty_s, &ps_s, NULL},
    [AGENT_RESIZE] = {"RESIZE", &resize_s, &empty_s, NULL},
    [AGENT_STATS] = {"STATS", &empty_s, &stats_s, NULL},
    [AGENT_SHUTDOWN] = {"SHUTDOWN", &empty_s, &empty_s, NULL},
    [AGENT_ERROR] = {"ERROR", NULL, &error_s, NULL},
    [AGENT_UPDATE] = {"UPDATE", &update_s, &empty_s, NULL},
    [AGENT_PARK] = {"PARK", &empty_s, &parked_s, NULL},
    [AGENT_RESUME] = {"RESUME", &resume_s, &empty_s, NULL},
};

const char *agent_type_name(unsigned type)
{
	return type && type < AGENT_TYPE_COUNT ? types[type].name : "UNKNOWN";
}

const struct schema *agent_payload_schema(const struct agent_hdr *h)
{
	if (!h->type || h->type >= AGENT_TYPE_COUNT)
		return NULL;
	switch (h->flags) {
	case 0:
		return types[h->type].req;
	case AGENT_F_REPLY:
		return types[h->type].reply;
	case AGENT_F_EVENT:
		return types[h->type].event;
	default:
		return NULL;
	}
}
