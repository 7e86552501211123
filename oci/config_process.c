/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.json "process" (and the standalone process.json of `exec
 * --process`): args, env, cwd, user, capabilities (names -> bit sets),
 * rlimits (names -> RLIMIT_*), terminal, console size, and the security
 * attributes that are only stored (apparmor, selinux).  Called by
 * config.c with the cursor positioned at the object.
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "oci/config_internal.h"
#include "util/cleanup.h"

#define NAME(x)                                                                                    \
	{                                                                                          \
#x, x                                                                              \
	}

/* Every capability of linux/capability.h up to CAP_CHECKPOINT_RESTORE. */
static const struct cfg_name cap_names[] = {
    NAME(CAP_CHOWN),
    NAME(CAP_DAC_OVERRIDE),
    NAME(CAP_DAC_READ_SEARCH),
    NAME(CAP_FOWNER),
    NAME(CAP_FSETID),
    NAME(CAP_KILL),
    NAME(CAP_SETGID),
    NAME(CAP_SETUID),
    NAME(CAP_SETPCAP),
    NAME(CAP_LINUX_IMMUTABLE),
    NAME(CAP_NET_BIND_SERVICE),
    NAME(CAP_NET_BROADCAST),
    NAME(CAP_NET_ADMIN),
    NAME(CAP_NET_RAW),
    NAME(CAP_IPC_LOCK),
    NAME(CAP_IPC_OWNER),
    NAME(CAP_SYS_MODULE),
    NAME(CAP_SYS_RAWIO),
    NAME(CAP_SYS_CHROOT),
    NAME(CAP_SYS_PTRACE),
    NAME(CAP_SYS_PACCT),
    NAME(CAP_SYS_ADMIN),
    NAME(CAP_SYS_BOOT),
    NAME(CAP_SYS_NICE),
    NAME(CAP_SYS_RESOURCE),
    NAME(CAP_SYS_TIME),
    NAME(CAP_SYS_TTY_CONFIG),
    NAME(CAP_MKNOD),
    NAME(CAP_LEASE),
    NAME(CAP_AUDIT_WRITE),
    NAME(CAP_AUDIT_CONTROL),
    NAME(CAP_SETFCAP),
    NAME(CAP_MAC_OVERRIDE),
    NAME(CAP_MAC_ADMIN),
    NAME(CAP_SYSLOG),
    NAME(CAP_WAKE_ALARM),
    NAME(CAP_BLOCK_SUSPEND),
    NAME(CAP_AUDIT_READ),
    NAME(CAP_PERFMON),
    NAME(CAP_BPF),
    NAME(CAP_CHECKPOINT_RESTORE),
};

static const struct cfg_name rlimit_names[] = {
    NAME(RLIMIT_AS),	 NAME(RLIMIT_CORE),   NAME(RLIMIT_CPU),	       NAME(RLIMIT_DATA),
    NAME(RLIMIT_FSIZE),	 NAME(RLIMIT_LOCKS),  NAME(RLIMIT_MEMLOCK),    NAME(RLIMIT_MSGQUEUE),
    NAME(RLIMIT_NICE),	 NAME(RLIMIT_NOFILE), NAME(RLIMIT_NPROC),      NAME(RLIMIT_RSS),
    NAME(RLIMIT_RTPRIO), NAME(RLIMIT_RTTIME), NAME(RLIMIT_SIGPENDING), NAME(RLIMIT_STACK),
};

static const char *const cap_set_keys[OCI_CAP_NSETS] = {
    [OCI_CAP_BOUNDING] = "bounding",	   [OCI_CAP_EFFECTIVE] = "effective",
    [OCI_CAP_INHERITABLE] = "inheritable", [OCI_CAP_PERMITTED] = "permitted",
    [OCI_CAP_AMBIENT] = "ambient",
};

int oci_cap_from_name(const char *name)
{
	return (int)cfg_lookup(cap_names, ARRAY_SIZE(cap_names), name);
}

const char *oci_cap_name(int cap)
{
	return cfg_name_of(cap_names, ARRAY_SIZE(cap_names), cap);
}

int oci_rlimit_from_name(const char *name)
{
	return (int)cfg_lookup(rlimit_names, ARRAY_SIZE(rlimit_names), name);
}

const char *oci_rlimit_name(int resource)
{
	return cfg_name_of(rlimit_names, ARRAY_SIZE(rlimit_names), resource);
}

/* One capability list: names -> bits.  runc 1.1 drops unknown names with
 * a warning; kvbox refuses them, so a typo cannot silently weaken or
 * change the set. */
static int parse_cap_list(struct cfg *c, json_t *caps, enum oci_cap_set which,
			  struct oci_capabilities *out)
{
	struct oci_strv names = {0};
	char q[96];
	if (!cfg_get(caps, cap_set_keys[which]))
		return c->rc;
	if (cfg_strv(c, caps, cap_set_keys[which], &names) == 0) {
		out->given[which] = true;
		size_t m = cfg_push_key(c, cap_set_keys[which]);
		for (size_t i = 0; i < names.n && !c->rc; i++) {
			int cap = oci_cap_from_name(names.v[i]);
			size_t mi = cfg_push_index(c, i);
			if (cap < 0)
				cfg_fail(c, EINVAL, "unknown capability %s",
					 cfg_quote(q, sizeof(q), names.v[i]));
			else
				out->set[which] |= 1ull << cap;
			cfg_pop(c, mi);
		}
		cfg_pop(c, m);
	}
	oci_strv_free(&names);
	return c->rc;
}

static int parse_caps(struct cfg *c, json_t *p, struct oci_process *out)
{
	json_t *caps = cfg_obj(c, p, "capabilities");
	if (!caps)
		return c->rc;
	out->has_capabilities = true;
	size_t m = cfg_push_key(c, "capabilities");
	for (int s = 0; s < OCI_CAP_NSETS; s++)
		parse_cap_list(c, caps, (enum oci_cap_set)s, &out->caps);
	cfg_pop(c, m);
	return c->rc;
}

static int parse_rlimit(struct cfg *c, json_t *o, struct oci_rlimit *out, uint64_t *seen)
{
	cleanup_free char *type = NULL;
	char q[96];
	if (!cfg_val_is_obj(c, o) || cfg_req_str(c, o, "type", &type))
		return c->rc;
	size_t m = cfg_push_key(c, "type");
	out->resource = oci_rlimit_from_name(type);
	if (out->resource < 0)
		cfg_fail(c, EINVAL, "unknown rlimit %s", cfg_quote(q, sizeof(q), type));
	else if (*seen & (1ull << out->resource))
		cfg_fail(c, EINVAL, "duplicate rlimit %s", cfg_quote(q, sizeof(q), type));
	else
		*seen |= 1ull << out->resource;
	cfg_pop(c, m);

	struct oci_opt_u64 hard = {0}, soft = {0};
	cfg_opt_u64(c, o, "hard", &hard);
	cfg_opt_u64(c, o, "soft", &soft);
	out->hard = hard.v;
	out->soft = soft.v;
	/* the kernel refuses soft > hard (EINVAL): say so now, with the path */
	if (!c->rc && out->soft > out->hard) {
		m = cfg_push_key(c, "soft");
		cfg_fail(c, EINVAL, "soft limit %llu is above the hard limit %llu",
			 (unsigned long long)out->soft, (unsigned long long)out->hard);
		cfg_pop(c, m);
	}
	return c->rc;
}

static int parse_rlimits(struct cfg *c, json_t *p, struct oci_process *out)
{
	size_t n;
	uint64_t seen = 0;
	json_t *a = cfg_arr(c, p, "rlimits", &n);
	if (!a || !n)
		return c->rc;
	out->rlimits = cfg_calloc(c, n, sizeof(*out->rlimits));
	if (!out->rlimits)
		return c->rc;
	size_t m = cfg_push_key(c, "rlimits");
	for (size_t i = 0; i < n && !c->rc; i++) {
		size_t mi = cfg_push_index(c, i);
		if (!parse_rlimit(c, json_array_get(a, i), &out->rlimits[i], &seen))
			out->n_rlimits++;
		cfg_pop(c, mi);
	}
	cfg_pop(c, m);
	return c->rc;
}

static int parse_user(struct cfg *c, json_t *p, struct oci_user *u)
{
	size_t n;
	json_t *uo = cfg_obj(c, p, "user");
	if (!uo)
		return c->rc;
	size_t m = cfg_push_key(c, "user");
	cfg_u32(c, uo, "uid", false, &u->uid);
	cfg_u32(c, uo, "gid", false, &u->gid);
	cfg_opt_u32(c, uo, "umask", 0777, &u->umask);
	cfg_str(c, uo, "username", &u->username);
	json_t *a = cfg_arr(c, uo, "additionalGids", &n);
	if (a && n > 65536) {
		size_t mk = cfg_push_key(c, "additionalGids");
		cfg_fail(c, E2BIG, "%zu groups is more than the kernel's 65536", n);
		cfg_pop(c, mk);
	}
	u->additional_gids = cfg_calloc(c, n, sizeof(uint32_t));
	size_t mk = cfg_push_key(c, "additionalGids");
	for (size_t i = 0; i < n && !c->rc; i++) {
		int64_t g;
		size_t mi = cfg_push_index(c, i);
		if (!cfg_val_int(c, json_array_get(a, i), 0, UINT32_MAX, &g))
			u->additional_gids[u->n_additional_gids++] = (uint32_t)g;
		cfg_pop(c, mi);
	}
	cfg_pop(c, mk);
	cfg_pop(c, m);
	return c->rc;
}

/* runc refuses at exec what has no '=' or an empty name; say so early. */
static int check_env(struct cfg *c, const struct oci_strv *env)
{
	char q[96];
	size_t m = cfg_push_key(c, "env");
	for (size_t i = 0; i < env->n && !c->rc; i++) {
		const char *eq = strchr(env->v[i], '=');
		if (eq && eq != env->v[i])
			continue;
		size_t mi = cfg_push_index(c, i);
		cfg_fail(c, EINVAL, "%s is not NAME=value", cfg_quote(q, sizeof(q), env->v[i]));
		cfg_pop(c, mi);
	}
	cfg_pop(c, m);
	return c->rc;
}

static int parse_console_size(struct cfg *c, json_t *p, struct oci_process *out)
{
	json_t *cs = cfg_obj(c, p, "consoleSize");
	if (!cs)
		return c->rc;
	size_t m = cfg_push_key(c, "consoleSize");
	cfg_u32(c, cs, "height", true, &out->console_height);
	cfg_u32(c, cs, "width", true, &out->console_width);
	cfg_pop(c, m);
	out->has_console_size = !c->rc;
	return c->rc;
}

int cfg_parse_process(struct cfg *c, json_t *p, struct oci_process *out)
{
	cfg_bool(c, p, "terminal", &out->terminal);
	parse_console_size(c, p, out);
	parse_user(c, p, &out->user);
	if (!c->rc && !cfg_get(p, "args")) {
		size_t m = cfg_push_key(c, "args");
		cfg_fail(c, EINVAL, "required field is missing");
		cfg_pop(c, m);
	}
	if (!cfg_strv(c, p, "args", &out->args) && out->args.n == 0) {
		size_t m = cfg_push_key(c, "args");
		cfg_fail(c, EINVAL, "must not be empty");
		cfg_pop(c, m);
	}
	if (!cfg_strv(c, p, "env", &out->env))
		check_env(c, &out->env);
	cfg_abspath(c, p, "cwd", true, &out->cwd);
	parse_caps(c, p, out);
	parse_rlimits(c, p, out);
	cfg_bool(c, p, "noNewPrivileges", &out->no_new_privileges);
	cfg_str(c, p, "apparmorProfile", &out->apparmor_profile);
	cfg_str(c, p, "selinuxLabel", &out->selinux_label);
	cfg_opt_i64(c, p, "oomScoreAdj", -1000, 1000, &out->oom_score_adj);
	return c->rc;
}

void cfg_free_process(struct oci_process *p)
{
	free(p->user.additional_gids);
	free(p->user.username);
	oci_strv_free(&p->args);
	oci_strv_free(&p->env);
	free(p->cwd);
	free(p->rlimits);
	free(p->apparmor_profile);
	free(p->selinux_label);
}

void oci_process_free(struct oci_process *p)
{
	if (p) {
		cfg_free_process(p);
		free(p);
	}
}

int oci_process_parse(const char *json, size_t len, const char *name, struct oci_process **out,
		      struct kv_err *err)
{
	struct cfg c;
	cfg_init(&c, name ? name : "process.json", err);
	*out = NULL;
	json_t *root = cfg_load_text(&c, json, len);
	if (!root)
		return c.rc;
	struct oci_process *p = calloc(1, sizeof(*p));
	if (!p)
		cfg_oom(&c);
	else
		cfg_parse_process(&c, root, p);
	json_decref(root);
	if (c.rc) {
		oci_process_free(p);
		return c.rc;
	}
	*out = p;
	return 0;
}
