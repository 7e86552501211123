/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.json "linux.seccomp": the container's seccomp profile, checked
 * and turned into enums here; the guest agent builds the filter from it.
 * Action, operator, architecture and flag names are checked against the
 * spec's lists (as runc does: an unknown one is an error).  Syscall names
 * are only checked to be non-empty strings: a profile names syscalls this
 * kernel or libseccomp may not know, and runc skips those.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "oci/config_internal.h"
#include "util/cleanup.h"

static const struct cfg_name actions[] = {
    {"SCMP_ACT_KILL", OCI_SCMP_ACT_KILL},
    {"SCMP_ACT_KILL_PROCESS", OCI_SCMP_ACT_KILL_PROCESS},
    {"SCMP_ACT_KILL_THREAD", OCI_SCMP_ACT_KILL_THREAD},
    {"SCMP_ACT_TRAP", OCI_SCMP_ACT_TRAP},
    {"SCMP_ACT_ERRNO", OCI_SCMP_ACT_ERRNO},
    {"SCMP_ACT_TRACE", OCI_SCMP_ACT_TRACE},
    {"SCMP_ACT_ALLOW", OCI_SCMP_ACT_ALLOW},
    {"SCMP_ACT_LOG", OCI_SCMP_ACT_LOG},
    {"SCMP_ACT_NOTIFY", OCI_SCMP_ACT_NOTIFY},
};

static const struct cfg_name ops[] = {
    {"SCMP_CMP_NE", OCI_SCMP_CMP_NE},
    {"SCMP_CMP_LT", OCI_SCMP_CMP_LT},
    {"SCMP_CMP_LE", OCI_SCMP_CMP_LE},
    {"SCMP_CMP_EQ", OCI_SCMP_CMP_EQ},
    {"SCMP_CMP_GE", OCI_SCMP_CMP_GE},
    {"SCMP_CMP_GT", OCI_SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", OCI_SCMP_CMP_MASKED_EQ},
};

static const struct cfg_name flags[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", OCI_SECCOMP_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", OCI_SECCOMP_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", OCI_SECCOMP_FLAG_SPEC_ALLOW},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", OCI_SECCOMP_FLAG_WAIT_KILLABLE_RECV},
};

/* the spec's list, plus what libseccomp 2.5 added since */
static const char *const arches[] = {
    "SCMP_ARCH_X86",	 "SCMP_ARCH_X86_64",   "SCMP_ARCH_X32",		"SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",     "SCMP_ARCH_MIPS64",	"SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",	 "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",	 "SCMP_ARCH_PPC64LE",  "SCMP_ARCH_S390",	"SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",	 "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",	"SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",	 "SCMP_ARCH_SH",       "SCMP_ARCH_SHEB",
};

const char *oci_seccomp_action_name(enum oci_seccomp_action a)
{
	return cfg_name_of(actions, ARRAY_SIZE(actions), a);
}

const char *oci_seccomp_op_name(enum oci_seccomp_op op)
{
	return cfg_name_of(ops, ARRAY_SIZE(ops), op);
}

/* obj[key] looked up in table t (what = "action", ...) */
static int named(struct cfg *c, json_t *obj, const char *key, const struct cfg_name *t, size_t n,
		 const char *what, long *out)
{
	cleanup_free char *s = NULL;
	char q[96];
	if (cfg_req_str(c, obj, key, &s))
		return c->rc;
	*out = cfg_lookup(t, n, s);
	if (*out < 0) {
		size_t m = cfg_push_key(c, key);
		cfg_fail(c, EINVAL, "unknown %s %s", what, cfg_quote(q, sizeof(q), s));
		cfg_pop(c, m);
	}
	return c->rc;
}

/* The notify listener is a host process reading a seccomp fd; the filter
 * lives in the guest kernel, so there is no fd to pass it.  Refused with
 * the path rather than silently never notifying. */
static int no_notify(struct cfg *c, const char *key)
{
	return cfg_fail_key(c, key, ENOTSUP,
			    "SCMP_ACT_NOTIFY is not supported: the filter runs in the VM's "
			    "kernel, no listener can reach it");
}

static int parse_arg(struct cfg *c, json_t *o, struct oci_seccomp_arg *arg)
{
	struct oci_opt_u32 index = {0};
	struct oci_opt_u64 value = {0}, value_two = {0};
	long op;
	if (!cfg_val_is_obj(c, o))
		return c->rc;
	if (!cfg_get(o, "index") || !cfg_get(o, "value"))
		return cfg_fail_key(c, cfg_get(o, "index") ? "value" : "index", EINVAL,
				    "required field is missing");
	cfg_opt_u32(c, o, "index", 5, &index); /* six syscall arguments */
	cfg_opt_u64(c, o, "value", &value);
	cfg_opt_u64(c, o, "valueTwo", &value_two);
	if (named(c, o, "op", ops, ARRAY_SIZE(ops), "operator", &op))
		return c->rc;
	arg->index = index.v;
	arg->value = value.v;
	arg->value_two = value_two.v;
	arg->op = (enum oci_seccomp_op)op;
	return 0;
}

static int parse_names(struct cfg *c, json_t *o, struct oci_strv *names)
{
	if (!c->rc && !cfg_get(o, "names"))
		return cfg_fail_key(c, "names", EINVAL, "required field is missing");
	if (cfg_strv(c, o, "names", names))
		return c->rc;
	if (names->n == 0)
		return cfg_fail_key(c, "names", EINVAL, "must not be empty");
	for (size_t i = 0; i < names->n; i++)
		if (!names->v[i][0])
			return cfg_fail_elem(c, "names", i, EINVAL, "empty syscall name");
	return 0;
}

static int parse_rule(struct cfg *c, json_t *o, struct oci_seccomp_rule *r)
{
	long action;
	size_t n;
	if (!cfg_val_is_obj(c, o) || parse_names(c, o, &r->names))
		return c->rc;
	if (named(c, o, "action", actions, ARRAY_SIZE(actions), "action", &action))
		return c->rc;
	r->action = (enum oci_seccomp_action)action;
	if (r->action == OCI_SCMP_ACT_NOTIFY)
		return no_notify(c, "action");
	cfg_opt_u32(c, o, "errnoRet", UINT32_MAX, &r->errno_ret);
	json_t *a = cfg_arr(c, o, "args", &n);
	if (!a || !(r->args = cfg_calloc(c, n, sizeof(*r->args))))
		return c->rc;
	size_t m = cfg_push_key(c, "args");
	for (size_t i = 0; i < n && !c->rc; i++) {
		size_t mi = cfg_push_index(c, i);
		if (!parse_arg(c, json_array_get(a, i), &r->args[i]))
			r->n_args++;
		cfg_pop(c, mi);
	}
	cfg_pop(c, m);
	return c->rc;
}

static int parse_arches_flags(struct cfg *c, json_t *o, struct oci_seccomp *s)
{
	struct oci_strv fl = {0};
	char q[96];
	cfg_strv(c, o, "architectures", &s->architectures);
	for (size_t i = 0; i < s->architectures.n && !c->rc; i++) {
		size_t k = 0;
		while (k < ARRAY_SIZE(arches) && strcmp(arches[k], s->architectures.v[i]))
			k++;
		if (k == ARRAY_SIZE(arches))
			cfg_fail_elem(c, "architectures", i, EINVAL, "unknown architecture %s",
				      cfg_quote(q, sizeof(q), s->architectures.v[i]));
	}
	cfg_strv(c, o, "flags", &fl);
	for (size_t i = 0; i < fl.n && !c->rc; i++) {
		long f = cfg_lookup(flags, ARRAY_SIZE(flags), fl.v[i]);
		if (f < 0)
			cfg_fail_elem(c, "flags", i, EINVAL, "unknown flag %s",
				      cfg_quote(q, sizeof(q), fl.v[i]));
		else
			s->flags |= (unsigned)f;
	}
	oci_strv_free(&fl);
	return c->rc;
}

int cfg_parse_seccomp(struct cfg *c, json_t *o, struct oci_seccomp *s)
{
	long action;
	size_t n;
	if (named(c, o, "defaultAction", actions, ARRAY_SIZE(actions), "action", &action))
		return c->rc;
	s->default_action = (enum oci_seccomp_action)action;
	if (s->default_action == OCI_SCMP_ACT_NOTIFY)
		return no_notify(c, "defaultAction");
	cfg_opt_u32(c, o, "defaultErrnoRet", UINT32_MAX, &s->default_errno_ret);
	parse_arches_flags(c, o, s);
	cfg_str(c, o, "listenerPath", &s->listener_path);
	cfg_str(c, o, "listenerMetadata", &s->listener_metadata);
	json_t *a = cfg_arr(c, o, "syscalls", &n);
	if (!a || !(s->syscalls = cfg_calloc(c, n, sizeof(*s->syscalls))))
		return c->rc;
	size_t m = cfg_push_key(c, "syscalls");
	for (size_t i = 0; i < n && !c->rc; i++) {
		size_t mi = cfg_push_index(c, i);
		s->n_syscalls++;
		parse_rule(c, json_array_get(a, i), &s->syscalls[i]);
		cfg_pop(c, mi);
	}
	cfg_pop(c, m);
	return c->rc;
}

void cfg_free_seccomp(struct oci_seccomp *s)
{
	oci_strv_free(&s->architectures);
	free(s->listener_path);
	free(s->listener_metadata);
	for (size_t i = 0; i < s->n_syscalls; i++) {
		oci_strv_free(&s->syscalls[i].names);
		free(s->syscalls[i].args);
	}
	free(s->syscalls);
}
