/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `kvbox update`: what a request to change a running container's resources
 * means for a VM.  The request comes either as a LinuxResources JSON
 * (`--resources FILE|-`, parsed by oci_resources_parse(), so errors carry
 * the JSON path) or as runc's individual flags (`--cpu-quota 50000`, ...),
 * which are turned into the same JSON and go through the same parser; as
 * in runc, with --resources the flags are not looked at.
 *
 * The result is classified:
 *   live       cpu.shares, cpu.period, cpu.quota, cpu.cpus, pids.limit: the
 *              caller applies them in the guest (cgroup of the container)
 *   refused    memory.limit: the VM's RAM is fixed at boot, so a value that
 *              differs from the current limit is -EOPNOTSUPP (the same value
 *              again is fine: clients send the whole object back)
 *   ignored    everything else a client may send back unchanged (memory
 *              reservation/swap/kernel, cpu.mems, realtime, idle, blockIO,
 *              hugepages, devices, unified): listed by JSON path so the
 *              caller can warn; refusing them would break `docker update
 *              --cpus`, which sends them all
 * A zero (or "") means "unchanged", as in runc: `"limit": 0` is not a
 * change.
 */
#ifndef KVBOX_OCI_UPDATE_H
#define KVBOX_OCI_UPDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oci/config.h"
#include "util/err.h"

/* Largest --resources JSON accepted, in bytes. */
#define OCI_UPDATE_MAX_SIZE (1u << 20)
/* How many ignored fields can be named (one per kind of field). */
#define OCI_UPDATE_MAX_IGNORED 16

struct oci_update {
	/* what changes live; not set = unchanged */
	struct oci_opt_u64 cpu_shares, cpu_period; /* > 0 when set */
	struct oci_opt_i64 cpu_quota;		   /* microseconds per period; -1 = no limit */
	char *cpu_cpus;				   /* "0-3,5" (syntax checked); NULL = unchanged */
	struct oci_opt_i64 pids_limit;		   /* -1 = no limit */
	/* given, not applicable in a VM: static JSON paths ("memory.swap") */
	const char *ignored[OCI_UPDATE_MAX_IGNORED];
	size_t n_ignored;
};

/* True when any live field is set. */
bool oci_update_changes(const struct oci_update *u);

/* Classifies a parsed LinuxResources against the VM.  current_mem_limit is
 * the VM's memory limit in bytes, or 0 when unknown (then any memory.limit
 * is refused).  On -EOPNOTSUPP the message is
 * `memory.limit: changing the memory of a running VM is not supported
 * (restart the container)`.  *out is filled on success (oci_update_fini). */
int oci_update_from_resources(const struct oci_resources *r, int64_t current_mem_limit,
			      struct oci_update *out, struct kv_err *err);

/* Parses len bytes of LinuxResources JSON (errors prefixed with name,
 * "resources" when NULL: `resources: cpu.quota: expected an integer, got a
 * string`) and classifies it. */
int oci_update_parse(const char *json, size_t len, const char *name, int64_t current_mem_limit,
		     struct oci_update *out, struct kv_err *err);

/* Reads the JSON from fd to EOF (at most OCI_UPDATE_MAX_SIZE bytes; more
 * is -EFBIG) and oci_update_parse()s it.  fd stays open. */
int oci_update_read(int fd, const char *name, int64_t current_mem_limit, struct oci_update *out,
		    struct kv_err *err);

/* One of runc update's resource flags, name without the dashes. */
struct oci_update_flag {
	const char *name;  /* "cpu-quota" */
	const char *value; /* "50000" */
};

/* True for the flags oci_update_from_flags() knows: blkio-weight,
 * cpu-period, cpu-quota, cpu-rt-period, cpu-rt-runtime, cpu-share,
 * cpu-idle, cpuset-cpus, cpuset-mems, memory, memory-reservation,
 * memory-swap, kernel-memory, kernel-memory-tcp, pids-limit. */
bool oci_update_is_flag(const char *name);

/* Builds the LinuxResources runc would from these flags (numbers checked
 * here: `--cpu-quota: "x" is not an integer`; memory sizes as runc takes
 * them: "-1" or a number with an optional b/k/m/g/t/p unit, binary; the
 * last of a repeated flag wins) and classifies it like the JSON. */
int oci_update_from_flags(const struct oci_update_flag *flags, size_t n, int64_t current_mem_limit,
			  struct oci_update *out, struct kv_err *err);

void oci_update_fini(struct oci_update *u);

#endif
