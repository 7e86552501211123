/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.json "process" -> struct agent_process (guest/protocol.h), for
 * CREATE and EXEC.  The parser already checked and resolved names
 * (capabilities, rlimits); what is left is copying into malloc'ed storage
 * the codec can send, checking the protocol's own limits with an error
 * naming the JSON path, and compiling seccomp (spec_seccomp.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "oci/spec_agent.h"
#include "util/cleanup.h"

#define DEFAULT_UMASK 022

static int oom(struct kv_err *err)
{
	return kv_err_set(err, ENOMEM, "out of memory");
}

/* A NULL-terminated copy of v; each string at most max bytes. */
static int copy_strv(const struct oci_strv *v, size_t limit, const char *what, char ***out,
		     uint32_t *n, struct kv_err *err)
{
	if (v->n > limit)
		return kv_err_set(err, E2BIG, "%s: %zu entries, more than the %zu a VM takes", what,
				  v->n, limit);
	char **a = calloc(v->n + 1, sizeof(*a));
	if (!a)
		return oom(err);
	*out = a;
	*n = (uint32_t)v->n;
	for (size_t i = 0; i < v->n; i++) {
		if (strlen(v->v[i]) > AGENT_STR_MAX)
			return kv_err_set(err, E2BIG, "%s[%zu]: longer than %u bytes", what, i,
					  AGENT_STR_MAX);
		if (!(a[i] = strdup(v->v[i])))
			return oom(err);
	}
	return 0;
}

static void free_strv(char **v, uint32_t n)
{
	for (uint32_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static int copy_user(const struct oci_user *u, struct agent_process *out, struct kv_err *err)
{
	out->uid = u->uid;
	out->gid = u->gid;
	out->umask = u->umask.set ? u->umask.v : DEFAULT_UMASK;
	if (u->n_additional_gids > AGENT_MAX_GROUPS)
		return kv_err_set(err, E2BIG,
				  "process.user.additionalGids: %zu groups, more than the %u a VM "
				  "takes",
				  u->n_additional_gids, AGENT_MAX_GROUPS);
	if (!u->n_additional_gids)
		return 0;
	out->groups = calloc(u->n_additional_gids, sizeof(*out->groups));
	if (!out->groups)
		return oom(err);
	memcpy(out->groups, u->additional_gids, u->n_additional_gids * sizeof(*out->groups));
	out->ngroups = (uint32_t)u->n_additional_gids;
	return 0;
}

static int copy_rlimits(const struct oci_process *p, struct agent_process *out, struct kv_err *err)
{
	if (p->n_rlimits > AGENT_MAX_RLIMITS)
		return kv_err_set(err, E2BIG, "process.rlimits: %zu entries, more than %u",
				  p->n_rlimits, AGENT_MAX_RLIMITS);
	if (!p->n_rlimits)
		return 0;
	out->rlimits = calloc(p->n_rlimits, sizeof(*out->rlimits));
	if (!out->rlimits)
		return oom(err);
	for (size_t i = 0; i < p->n_rlimits; i++) {
		const struct oci_rlimit *l = &p->rlimits[i];
		if (l->resource < 0 || (unsigned)l->resource >= AGENT_MAX_RLIMITS)
			return kv_err_set(err, EINVAL, "process.rlimits[%zu]: resource %d", i,
					  l->resource);
		out->rlimits[i] = (struct agent_rlimit){(uint32_t)l->resource, l->soft, l->hard};
	}
	out->nrlimits = (uint32_t)p->n_rlimits;
	return 0;
}

static void copy_caps(const struct oci_process *p, struct agent_process *out)
{
	/* no "capabilities" object: empty sets, as runc does */
	if (!p->has_capabilities)
		return;
	out->cap_bounding = p->caps.set[OCI_CAP_BOUNDING];
	out->cap_effective = p->caps.set[OCI_CAP_EFFECTIVE];
	out->cap_inheritable = p->caps.set[OCI_CAP_INHERITABLE];
	out->cap_permitted = p->caps.set[OCI_CAP_PERMITTED];
	out->cap_ambient = p->caps.set[OCI_CAP_AMBIENT];
}

static int copy_process(const struct oci_process *p, const struct oci_seccomp *seccomp,
			struct agent_process *out, struct kv_err *err)
{
	if (!p->args.n || !p->args.v[0][0])
		return kv_err_set(err, EINVAL, "process.args: must not be empty");
	int r = copy_strv(&p->args, AGENT_MAX_ARGS, "process.args", &out->args, &out->nargs, err);
	if (r >= 0)
		r = copy_strv(&p->env, AGENT_MAX_ENV, "process.env", &out->env, &out->nenv, err);
	if (r < 0)
		return r;
	const char *cwd = p->cwd ? p->cwd : "/";
	if (cwd[0] != '/' || strlen(cwd) >= AGENT_PATH_MAX)
		return kv_err_set(err, EINVAL,
				  "process.cwd: \"%.64s\" is not an absolute path of "
				  "at most %u bytes",
				  cwd, AGENT_PATH_MAX - 1);
	if (!(out->cwd = strdup(cwd)))
		return oom(err);
	r = copy_user(&p->user, out, err);
	if (r >= 0)
		r = copy_rlimits(p, out, err);
	if (r < 0)
		return r;
	copy_caps(p, out);
	out->no_new_privs = p->no_new_privileges;
	out->terminal = p->terminal;
	if (p->has_console_size) {
		if (p->console_height > 0xffff || p->console_width > 0xffff)
			return kv_err_set(err, ERANGE,
					  "process.consoleSize: %ux%u is larger than 65535x65535",
					  p->console_height, p->console_width);
		out->console_rows = p->console_height;
		out->console_cols = p->console_width;
	}
	if (!seccomp)
		return 0;
	return oci_seccomp_compile(seccomp, &out->seccomp_bpf, &out->seccomp_len,
				   &out->seccomp_flags, err);
}

int oci_process_to_agent(const struct oci_process *p, const struct oci_seccomp *seccomp,
			 struct agent_process *out, struct kv_err *err)
{
	memset(out, 0, sizeof(*out));
	int r = copy_process(p, seccomp, out, err);
	if (r < 0)
		oci_agent_process_free(out);
	return r;
}

void oci_agent_process_free(struct agent_process *p)
{
	if (!p)
		return;
	free_strv(p->args, p->nargs);
	free_strv(p->env, p->nenv);
	free(p->cwd);
	free(p->groups);
	free(p->rlimits);
	free(p->seccomp_bpf);
	memset(p, 0, sizeof(*p));
}
