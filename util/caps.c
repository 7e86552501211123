/* SPDX-License-Identifier: Apache-2.0 */
/* Capability sets without libcap; see util/caps.h. */
#include "util/caps.h"

#include <errno.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

unsigned caps_last_cap(void)
{
	unsigned cap = 0;
	while (cap < 63 && prctl(PR_CAPBSET_READ, cap + 1, 0, 0, 0) >= 0)
		cap++;
	return cap;
}

int caps_drop_bounding(uint64_t keep, unsigned last, struct kv_err *err)
{
	for (unsigned cap = 0; cap <= last && cap < 64; cap++) {
		/* one already gone needs no CAP_SETPCAP to stay gone */
		if ((keep & (1ull << cap)) || prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 0)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return kv_err_sys(err, errno,
					  "dropping capability %u from the bounding set", cap);
	}
	return 0;
}

int caps_set(uint64_t effective, uint64_t permitted, uint64_t inheritable, struct kv_err *err)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(effective >> (32 * i));
		data[i].permitted = (uint32_t)(permitted >> (32 * i));
		data[i].inheritable = (uint32_t)(inheritable >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		return kv_err_sys(err, errno,
				  "capset (effective %#llx permitted %#llx inheritable %#llx)",
				  (unsigned long long)effective, (unsigned long long)permitted,
				  (unsigned long long)inheritable);
	return 0;
}

int caps_clear_ambient(struct kv_err *err)
{
	/* EINVAL: a kernel before ambient capabilities (4.3) has none */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return kv_err_sys(err, errno, "clearing the ambient set");
	return 0;
}

int caps_get_permitted(uint64_t *permitted, struct kv_err *err)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) < 0)
		return kv_err_sys(err, errno, "capget");
	*permitted = (uint64_t)data[0].permitted | (uint64_t)data[1].permitted << 32;
	return 0;
}
