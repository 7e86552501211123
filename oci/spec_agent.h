/* SPDX-License-Identifier: Apache-2.0 */
/*
 * From a parsed config.json (oci/config.h) to what the VM needs: the guest
 * agent's CREATE request (guest/protocol.h) and the VM plan (9p shares for
 * the gofer, guest RAM and vCPUs).  Everything here runs on the host,
 * before the VM exists, so every error names the JSON path it comes from
 * (`mounts[3].source: "/x" does not exist`); the caller adds the file name.
 *
 * What a config becomes in the guest:
 * - root.path is share 0 (tag OCI_ROOTFS_TAG); each distinct host directory
 *   a bind mount needs is one more share (tags kvb1, kvb2, ...): a file
 *   source shares its parent directory and binds the file as a subpath.
 *   The agent mounts a tag once and binds subpaths of it.
 * - other mounts pass through; "cgroup" (v1) becomes "cgroup2": the guest
 *   kernel is cgroup v2 only, and podman/docker add a cgroup v1 mount.
 * - namespaces: pid, mount, ipc, uts and cgroup are created in the guest;
 *   a mount namespace always (the agent needs one for the rootfs).
 *   network, user and time are not: the VM is the container's own machine
 *   (its network stack, its uid space, its clocks), so they add nothing.
 *   A namespace "path" (joining an existing one) cannot be honoured in a
 *   VM and is an error, except for network (the sandbox enters it: oci/net.h).
 * - process: capability bit sets as given (no "capabilities": empty sets,
 *   as runc); the seccomp profile compiled with libseccomp to classic BPF
 *   for x86-64 guests (spec_seccomp.c).
 */
#ifndef KVBOX_OCI_SPEC_AGENT_H
#define KVBOX_OCI_SPEC_AGENT_H

#include <stdint.h>

#include "gofer/gofer.h"
#include "guest/protocol.h"
#include "oci/config.h"
#include "util/err.h"

#define OCI_ROOTFS_TAG "kvboxroot"

/* VM size bounds and defaults */
#define OCI_VM_MEM_MIN	   (128ull << 20)
#define OCI_VM_MEM_DEFAULT (256ull << 20)
#define OCI_VM_CPUS_MAX	   64u
#define OCI_ANN_VM_MEMORY  "io.kvbox.vm.memory"
#define OCI_ANN_VM_CPUS	   "io.kvbox.vm.cpus"

struct oci_vm_plan {
	/* [0] = the rootfs (tag OCI_ROOTFS_TAG, readonly = root.readonly), then
	 * one per distinct bind-mount source directory, tags "kvb1", ... */
	struct gofer_share shares[GOFER_MAX_SHARES];
	char *share_path[GOFER_MAX_SHARES]; /* owned storage for shares[i].path */
	unsigned nshares;
	uint64_t mem_bytes; /* guest RAM */
	unsigned ncpus;
};

/* Fills *out (strings and arrays malloc'ed: oci_agent_create_free) and
 * *plan (oci_vm_plan_free); both are zeroed first and released again on
 * failure.  cfg->process must be set.  max_shares: how many 9p devices the
 * VM can take (1..GOFER_MAX_SHARES).  Process stdio ports are left 0. */
int oci_spec_to_agent(const struct oci_config *cfg, const char *id, unsigned max_shares,
		      struct agent_create *out, struct oci_vm_plan *plan, struct kv_err *err);
void oci_agent_create_free(struct agent_create *c);
void oci_vm_plan_free(struct oci_vm_plan *p);

/* The process alone (CREATE's, and EXEC's): args, env, cwd, ids, umask
 * (0022 by default), rlimits, capabilities, noNewPrivileges, terminal and
 * console size; seccomp (may be NULL) compiled to BPF.  Ports are left 0.
 * *out is zeroed first and released again on failure. */
int oci_process_to_agent(const struct oci_process *p, const struct oci_seccomp *seccomp,
			 struct agent_process *out, struct kv_err *err);
void oci_agent_process_free(struct agent_process *p);

/* Compiles an OCI seccomp profile to classic BPF for an x86-64 guest
 * (spec_seccomp.c): *bpf (malloc'ed, *len bytes, a multiple of 8) and
 * *flags (SECCOMP_FILTER_FLAG_*).  Errors name linux.seccomp.* paths. */
int oci_seccomp_compile(const struct oci_seccomp *s, uint8_t **bpf, uint32_t *len, uint32_t *flags,
			struct kv_err *err);

/* The VM size: memory from linux.resources.memory.limit (rounded up to a
 * MiB, at least OCI_VM_MEM_MIN; OCI_VM_MEM_DEFAULT when absent or <= 0);
 * vCPUs = ceil(cpu.quota / cpu.period) when both are set and quota > 0, at
 * least 1 and at most the host's online CPUs; 1 by default.  Annotations
 * override: io.kvbox.vm.memory (a size, K/M/G/T suffix, plain = MiB, at
 * least OCI_VM_MEM_MIN) and io.kvbox.vm.cpus (1..OCI_VM_CPUS_MAX); a bad
 * value is an error naming the annotation. */
int oci_vm_size(const struct oci_config *cfg, uint64_t *mem_bytes, unsigned *ncpus,
		struct kv_err *err);

#endif
