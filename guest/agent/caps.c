/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Identity and capabilities of a container process, applied by the child
 * just before it execs, in the order runc uses: drop the bounding set
 * (needs CAP_SETPCAP, so first), keep capabilities across the uid change
 * (PR_SET_KEEPCAPS), set groups, gid and uid, then set the effective,
 * permitted and inheritable sets with capset(2) and raise the ambient set.
 * No libcap: the two 32-bit halves of each set are filled directly.
 * Bits above the kernel's cap_last_cap are ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include "guest/agent/agent.h"

unsigned caps_last_cap(void)
{
	char buf[16] = {0};
	int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	unsigned long v = n > 0 ? strtoul(buf, NULL, 10) : 40;
	return v < 63 ? (unsigned)v : 63;
}

static int drop_bounding(uint64_t keep, unsigned last, struct kv_err *err)
{
	for (unsigned cap = 0; cap <= last; cap++) {
		if (keep & (1ull << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return kv_err_sys(err, errno,
					  "dropping capability %u from the bounding set", cap);
	}
	return 0;
}

static int set_ids(const struct agent_process *p, struct kv_err *err)
{
	if (setgroups(p->ngroups, (const gid_t *)p->groups) < 0)
		return kv_err_sys(err, errno, "setgroups (%u groups)", p->ngroups);
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		return kv_err_sys(err, errno, "setresgid %u", p->gid);
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		return kv_err_sys(err, errno, "setresuid %u", p->uid);
	return 0;
}

static int set_sets(const struct agent_process *p, uint64_t mask, struct kv_err *err)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	uint64_t e = p->cap_effective & mask, pm = p->cap_permitted & mask;
	uint64_t in = p->cap_inheritable & mask;
	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(e >> (32 * i));
		data[i].permitted = (uint32_t)(pm >> (32 * i));
		data[i].inheritable = (uint32_t)(in >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		return kv_err_sys(
		    err, errno, "capset (effective %#llx permitted %#llx inheritable %#llx)",
		    (unsigned long long)e, (unsigned long long)pm, (unsigned long long)in);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return kv_err_sys(err, errno, "clearing the ambient set");
	for (unsigned cap = 0; cap < 64; cap++) {
		if (!(p->cap_ambient & mask & (1ull << cap)))
			continue;
		/* as runc: a capability the inheritable set lacks cannot be
		 * ambient (EPERM); that is the config's choice, not an error
		 * (runc's default spec asks for exactly that) */
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 && errno != EPERM)
			return kv_err_sys(err, errno, "raising ambient capability %u", cap);
	}
	return 0;
}

int caps_apply(const struct agent_process *p, unsigned cap_last, struct kv_err *err)
{
	uint64_t mask = cap_last >= 63 ? ~0ull : (1ull << (cap_last + 1)) - 1;
	int r = drop_bounding(p->cap_bounding, cap_last, err);
	if (r < 0)
		return r;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return kv_err_sys(err, errno, "PR_SET_KEEPCAPS");
	r = set_ids(p, err);
	if (r < 0)
		return r;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return kv_err_sys(err, errno, "PR_SET_KEEPCAPS");
	return set_sets(p, mask, err);
}
