/* SPDX-License-Identifier: Apache-2.0 */
/*
 * linux.seccomp -> the classic BPF program the guest agent installs with
 * seccomp(SECCOMP_SET_MODE_FILTER, flags, prog) just before execve
 * (guest/agent/child.c).  The profile is compiled on the host with
 * libseccomp, the way runc builds its filter:
 *
 *   seccomp_init(default action) -> x86-64 plus the listed x86 / x32
 *   architectures (any other can never match in an x86-64 guest: skipped)
 *   -> one rule per syscall name, skipping names libseccomp does not know
 *   and rules whose action is the default's (runc does both) -> export
 *   into a memfd, read back.
 *
 * Arguments follow runc: all conditions of a rule in one libseccomp rule
 * (AND), unless two of them test the same argument, in which case each
 * condition is a rule of its own (OR), which is what profiles that list
 * several allowed values for one argument mean.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/seccomp.h>
#include <seccomp.h>

#include "oci/spec_agent.h"
#include "util/cleanup.h"

#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1UL << 2)
#endif

static void scmp_releasep(scmp_filter_ctx *c)
{
	if (*c)
		seccomp_release(*c);
}
#define cleanup_scmp __attribute__((cleanup(scmp_releasep)))

/* OCI action (+ errnoRet) -> libseccomp action; -EINVAL for NOTIFY. */
static int scmp_action(enum oci_seccomp_action a, const struct oci_opt_u32 *ret, uint32_t *out)
{
	uint32_t e = ret && ret->set ? ret->v : EPERM;
	if (e > 0xffff) /* SECCOMP_RET_DATA */
		return -ERANGE;
	switch (a) {
	case OCI_SCMP_ACT_KILL:
	case OCI_SCMP_ACT_KILL_THREAD:
		*out = SCMP_ACT_KILL_THREAD;
		return 0;
	case OCI_SCMP_ACT_KILL_PROCESS:
		*out = SCMP_ACT_KILL_PROCESS;
		return 0;
	case OCI_SCMP_ACT_TRAP:
		*out = SCMP_ACT_TRAP;
		return 0;
	case OCI_SCMP_ACT_ERRNO:
		*out = SCMP_ACT_ERRNO(e);
		return 0;
	case OCI_SCMP_ACT_TRACE:
		*out = SCMP_ACT_TRACE(e);
		return 0;
	case OCI_SCMP_ACT_ALLOW:
		*out = SCMP_ACT_ALLOW;
		return 0;
	case OCI_SCMP_ACT_LOG:
		*out = SCMP_ACT_LOG;
		return 0;
	case OCI_SCMP_ACT_NOTIFY:
		break;
	}
	return -EINVAL;
}

static int add_arches(scmp_filter_ctx ctx, const struct oci_seccomp *s, struct kv_err *err)
{
	static const struct {
		const char *name;
		uint32_t arch;
	} known[] = {
	    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
	    {"SCMP_ARCH_X86", SCMP_ARCH_X86},
	    {"SCMP_ARCH_X32", SCMP_ARCH_X32},
	};
	int r;
	/* the guest is x86-64 whatever the build's native arch says */
	if (seccomp_arch_exist(ctx, SCMP_ARCH_X86_64) == -EEXIST) {
		r = seccomp_arch_add(ctx, SCMP_ARCH_X86_64);
		if (r == 0)
			r = seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE);
		if (r < 0)
			return kv_err_set(err, -r, "linux.seccomp: adding x86_64: %s",
					  strerror(-r));
	}
	for (size_t i = 0; i < s->architectures.n; i++) {
		for (size_t k = 0; k < ARRAY_SIZE(known); k++) {
			if (strcmp(s->architectures.v[i], known[k].name))
				continue;
			r = seccomp_arch_add(ctx, known[k].arch);
			if (r < 0 && r != -EEXIST)
				return kv_err_set(err, -r,
						  "linux.seccomp.architectures[%zu]: %s: %s", i,
						  known[k].name, strerror(-r));
		}
	}
	return 0;
}

static bool same_index_twice(const struct oci_seccomp_rule *rule)
{
	for (size_t i = 0; i < rule->n_args; i++)
		for (size_t j = i + 1; j < rule->n_args; j++)
			if (rule->args[i].index == rule->args[j].index)
				return true;
	return false;
}

static struct scmp_arg_cmp to_cmp(const struct oci_seccomp_arg *a)
{
	static const enum scmp_compare ops[] = {
	    [OCI_SCMP_CMP_NE] = SCMP_CMP_NE,
	    [OCI_SCMP_CMP_LT] = SCMP_CMP_LT,
	    [OCI_SCMP_CMP_LE] = SCMP_CMP_LE,
	    [OCI_SCMP_CMP_EQ] = SCMP_CMP_EQ,
	    [OCI_SCMP_CMP_GE] = SCMP_CMP_GE,
	    [OCI_SCMP_CMP_GT] = SCMP_CMP_GT,
	    [OCI_SCMP_CMP_MASKED_EQ] = SCMP_CMP_MASKED_EQ,
	};
	return (struct scmp_arg_cmp){a->index, ops[a->op], a->value, a->value_two};
}

/* One syscall of one rule.  Distinct indices are 0..5 (the parser checks
 * the range), so an AND rule has at most six conditions. */
static int add_syscall(scmp_filter_ctx ctx, uint32_t action, int nr,
		       const struct oci_seccomp_rule *rule)
{
	struct scmp_arg_cmp cmp[6];
	if (!rule->n_args)
		return seccomp_rule_add_array(ctx, action, nr, 0, NULL);
	if (same_index_twice(rule)) {
		for (size_t i = 0; i < rule->n_args; i++) {
			struct scmp_arg_cmp one = to_cmp(&rule->args[i]);
			int r = seccomp_rule_add_array(ctx, action, nr, 1, &one);
			if (r < 0)
				return r;
		}
		return 0;
	}
	for (size_t i = 0; i < rule->n_args; i++)
		cmp[i] = to_cmp(&rule->args[i]);
	return seccomp_rule_add_array(ctx, action, nr, (unsigned)rule->n_args, cmp);
}

static int add_rules(scmp_filter_ctx ctx, const struct oci_seccomp *s, uint32_t def,
		     struct kv_err *err)
{
	for (size_t i = 0; i < s->n_syscalls; i++) {
		const struct oci_seccomp_rule *rule = &s->syscalls[i];
		uint32_t action;
		int r = scmp_action(rule->action, &rule->errno_ret, &action);
		if (r < 0)
			return kv_err_set(err, -r, "linux.seccomp.syscalls[%zu]: action %s %s", i,
					  oci_seccomp_action_name(rule->action),
					  r == -ERANGE ? "with errnoRet above 65535"
						       : "is not supported in a VM");
		if (action == def)
			continue; /* runc: a rule that does what the default does */
		for (size_t n = 0; n < rule->names.n; n++) {
			const char *name = rule->names.v[n];
			int nr = seccomp_syscall_resolve_name(name);
			if (nr == __NR_SCMP_ERROR)
				continue; /* unknown to libseccomp: skipped, as runc does */
			r = add_syscall(ctx, action, nr, rule);
			if (r < 0)
				return kv_err_set(err, -r, "linux.seccomp.syscalls[%zu]: %s: %s", i,
						  name, strerror(-r));
		}
	}
	return 0;
}

static uint32_t filter_flags(unsigned oci)
{
	uint32_t f = 0;
	f |= oci & OCI_SECCOMP_FLAG_TSYNC ? SECCOMP_FILTER_FLAG_TSYNC : 0;
	f |= oci & OCI_SECCOMP_FLAG_LOG ? SECCOMP_FILTER_FLAG_LOG : 0;
	f |= oci & OCI_SECCOMP_FLAG_SPEC_ALLOW ? SECCOMP_FILTER_FLAG_SPEC_ALLOW : 0;
	/* WAIT_KILLABLE_RECV only means something with a notify listener,
	 * which cannot reach across the VM (the parser refuses NOTIFY), and
	 * the kernel refuses it without one: dropped */
	return f;
}

static int export_bpf(scmp_filter_ctx ctx, uint8_t **bpf, uint32_t *len, struct kv_err *err)
{
	cleanup_close int fd = memfd_create("kvbox-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return kv_err_sys(err, errno, "linux.seccomp: memfd_create");
	int r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return kv_err_set(err, -r, "linux.seccomp: exporting the filter: %s", strerror(-r));
	struct stat st;
	if (fstat(fd, &st) < 0)
		return kv_err_sys(err, errno, "linux.seccomp: fstat memfd");
	size_t n = (size_t)st.st_size;
	if (n == 0 || n % 8)
		return kv_err_set(err, EPROTO, "linux.seccomp: libseccomp wrote %zu bytes", n);
	if (n > AGENT_MAX_BPF_INSNS * 8)
		return kv_err_set(err, E2BIG,
				  "linux.seccomp: the filter has %zu instructions, more than %u",
				  n / 8, AGENT_MAX_BPF_INSNS);
	cleanup_free uint8_t *buf = malloc(n);
	if (!buf)
		return kv_err_set(err, ENOMEM, "linux.seccomp: out of memory");
	for (size_t off = 0; off < n;) {
		ssize_t got = pread(fd, buf + off, n - off, (off_t)off);
		if (got <= 0)
			return kv_err_sys(err, got < 0 ? errno : EIO, "linux.seccomp: reading BPF");
		off += (size_t)got;
	}
	*bpf = take_ptr(buf);
	*len = (uint32_t)n;
	return 0;
}

int oci_seccomp_compile(const struct oci_seccomp *s, uint8_t **bpf, uint32_t *len, uint32_t *flags,
			struct kv_err *err)
{
	uint32_t def;
	*bpf = NULL;
	*len = *flags = 0;
	int r = scmp_action(s->default_action, &s->default_errno_ret, &def);
	if (r < 0)
		return kv_err_set(err, -r, "linux.seccomp.defaultAction: %s %s",
				  oci_seccomp_action_name(s->default_action),
				  r == -ERANGE ? "with defaultErrnoRet above 65535"
					       : "is not supported in a VM");
	cleanup_scmp scmp_filter_ctx ctx = seccomp_init(def);
	if (!ctx)
		return kv_err_set(err, EINVAL, "linux.seccomp: seccomp_init failed");
	/* a bigger profile stays well under BPF_MAXINSNS as a binary tree */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	r = add_arches(ctx, s, err);
	if (r >= 0)
		r = add_rules(ctx, s, def, err);
	if (r >= 0)
		r = export_bpf(ctx, bpf, len, err);
	if (r >= 0)
		*flags = filter_flags(s->flags);
	return r;
}
