/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Identity and capabilities of a container process, applied by the child
 * just before it execs, in the order runc uses: drop the bounding set
 * (needs CAP_SETPCAP, so first), keep capabilities across the uid change
 * (PR_SET_KEEPCAPS), set groups, gid and uid, then set the effective,
 * permitted and inheritable sets with capset(2) and raise the ambient set.
 * The set primitives are util/caps.c's (no libcap).
 * Bits above the kernel's cap_last_cap are ignored.
 */
#include <errno.h>
#include <grp.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "guest/agent/agent.h"
#include "util/caps.h"

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
	int r = caps_set(p->cap_effective & mask, p->cap_permitted & mask,
			 p->cap_inheritable & mask, err);
	if (r == 0)
		r = caps_clear_ambient(err);
	if (r < 0)
		return r;
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
	int r = caps_drop_bounding(p->cap_bounding, cap_last, err);
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
