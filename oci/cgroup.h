/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host cgroups for a container's sandbox (the VMM with its vCPU and relay
 * threads) and the gofer it forks.  `create` makes the cgroup, writes the
 * limits, and moves the sandbox into it before it execs (so before any
 * guest code runs; the gofer inherits it); `update` changes the CPU limits
 * live; `delete` kills whatever is still inside and removes it.
 *
 * Hierarchies are found from /proc/self/mountinfo and /proc/self/cgroup:
 * every mounted hierarchy this process belongs to is used, so on a hybrid
 * host the container's directory exists in each v1 hierarchy (cpu, memory,
 * pids, cpuset, but also devices, freezer, name=systemd, ...) and in the
 * controller-less cgroup2 `unified` mount; on a pure v2 host it is one
 * directory.  A limit goes to the hierarchy that has its controller.
 *
 * Path (oci_cg_path(), runc's rules):
 *   linux.cgroupsPath absolute    relative to the hierarchy's root
 *   linux.cgroupsPath relative    relative to this process's cgroup in it
 *   "slice:prefix:name"           (--systemd-cgroup, or any path of that
 *                                 form) as systemd would lay it out, there
 *                                 being no systemd to ask:
 *                                 /a.slice/a-b.slice/prefix-name.scope
 *   absent                        /kvbox/ID (--systemd-cgroup:
 *                                 /system.slice/kvbox-ID.scope)
 * A ".." component is refused.
 *
 * Limits (oci_cg_limits_from()):
 *   memory   guest RAM + OCI_CG_MEM_OVERHEAD(RAM), always: the VMM can only
 *            be OOM-killed for memory of its own, never for the guest's
 *   cpu      cpu.quota/period as given (the VMM's own threads count
 *            against the container's CPU); shares (v2: weight, runc's
 *            conversion); cpus/mems as given
 *   pids     OCI_CG_PIDS(vCPUs), always: every thread the sandbox can have
 *            plus the gofer; the container's pids.limit applies in the
 *            guest only
 *
 * The directories made are listed in ROOT/ID/cgroup (oci_cg_save()), so
 * `update` and `delete` never depend on config.json or the mounts again.
 * For tests the layout can be read from other files and marked `fake`:
 * then files are created as written, and removed before rmdir.
 */
#ifndef KVBOX_OCI_CGROUP_H
#define KVBOX_OCI_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "oci/config.h"
#include "util/err.h"

#define OCI_CG_MAX	16 /* hierarchies */
#define OCI_CG_FILE	"cgroup"
#define OCI_CG_PATH_MAX 1024
#define OCI_CG_DEFAULT	"kvbox"
/* What the VMM and the gofer may use besides guest RAM: the binary and
 * heap of both, relay buffers (64 KiB per stdio thread), thread stacks,
 * KVM's per-vCPU and page-table memory (kernel memory is charged), and the
 * gofer's page cache (reclaimable).  64 MiB + 1/16 of RAM. */
#define OCI_CG_MEM_OVERHEAD(ram) ((64ull << 20) + (ram) / 16)
/* Threads and processes: the main thread, the PIT set-up thread, one per
 * vCPU, up to 3 stdio relays for each of SANDBOX_MAX_PROCS processes, the
 * gofer (and the fork that becomes it), 4 spare. */
#define OCI_CG_PIDS_BASE 8u

enum {
	OCI_CG_CPU = 1u << 0,
	OCI_CG_CPUACCT = 1u << 1,
	OCI_CG_CPUSET = 1u << 2,
	OCI_CG_MEMORY = 1u << 3,
	OCI_CG_PIDS = 1u << 4,
};

struct oci_cg_hier {
	char *mnt; /* mount point */
	char *own; /* this process's cgroup in it, "/..." */
	bool v2;
	unsigned ctrls; /* OCI_CG_* it controls */
};

struct oci_cg_layout {
	struct oci_cg_hier h[OCI_CG_MAX];
	size_t n;
	bool fake; /* tests: a plain directory tree stands in for cgroupfs */
};

/* Reads the hierarchies from a mountinfo and a /proc/PID/cgroup file
 * (NULL: this process's).  No hierarchy is -ENOENT ("no cgroup hierarchy
 * is mounted").  oci_cg_layout_fini() releases. */
int oci_cg_layout_read(const char *mountinfo, const char *self_cgroup, struct oci_cg_layout *out,
		       struct kv_err *err);
void oci_cg_layout_fini(struct oci_cg_layout *l);

/* The cgroup path for a container (see above) into out: "/a/b" absolute,
 * "a/b" relative.  Errors name linux.cgroupsPath. */
int oci_cg_path(const char *cgroups_path, bool systemd, const char *id, char *out, size_t size,
		struct kv_err *err);

struct oci_cg_limits {
	uint64_t mem_max;	 /* bytes; 0 = not set */
	int64_t cpu_quota;	 /* us per period; 0 = not set, -1 = no limit */
	uint64_t cpu_period;	 /* us; 0 = not set */
	uint64_t cpu_shares;	 /* v1 shares; 0 = not set */
	uint64_t pids_max;	 /* 0 = not set */
	const char *cpus, *mems; /* NULL = not set */
};

/* The limits for a VM of ram bytes and ncpus vCPUs (r may be NULL);
 * strings point into r. */
void oci_cg_limits_from(const struct oci_resources *r, uint64_t ram, unsigned ncpus,
			struct oci_cg_limits *out);
/* OCI_CG_PIDS(ncpus): the fixed pids.max. */
uint64_t oci_cg_pids(unsigned ncpus);

struct oci_cg_dir {
	char *dir; /* absolute directory */
	bool v2;
	unsigned ctrls;
};

struct oci_cgroup {
	struct oci_cg_dir d[OCI_CG_MAX];
	size_t n;
	bool fake;
};

/* Makes path (oci_cg_path()'s) in every hierarchy, parents included (v1
 * cpuset: cpus/mems copied down into new directories; v2: the controllers
 * enabled in each parent's cgroup.subtree_control) and writes lim.  A
 * directory that exists already is used (runc does the same).  On failure
 * what was made is removed again.  oci_cg_fini() releases *out. */
int oci_cg_create(const struct oci_cg_layout *l, const char *path, const struct oci_cg_limits *lim,
		  struct oci_cgroup *out, struct kv_err *err);
/* Writes the limits that are set (also `update`). */
int oci_cg_set(const struct oci_cgroup *cg, const struct oci_cg_limits *lim, struct kv_err *err);
/* Moves process pid into the cgroup in every hierarchy. */
int oci_cg_enter(const struct oci_cgroup *cg, pid_t pid, struct kv_err *err);
/* SIGKILLs what is still inside (not in a fake tree), then removes each
 * directory, retrying for up to 2 s while the kernel still counts exiting
 * tasks.  Directories already gone are fine: safe to run twice. */
int oci_cg_destroy(const struct oci_cgroup *cg, struct kv_err *err);
void oci_cg_fini(struct oci_cgroup *cg);

/* What the host cgroup has used (events --stats); a value the hierarchies
 * do not offer is -1.  cpu_ns: v2 cpu.stat usage_usec * 1000, v1
 * cpuacct.usage. */
struct oci_cg_stats {
	int64_t mem_bytes, mem_limit, pids, pids_limit, cpu_ns;
};
void oci_cg_stats(const struct oci_cgroup *cg, struct oci_cg_stats *out);

/* ROOT/ID/cgroup: one "v1|v2 CTRLS DIR" line per directory. */
int oci_cg_save(int dirfd, const struct oci_cgroup *cg, struct kv_err *err);
/* -ENOENT (no message) when the container has no cgroup file. */
int oci_cg_load(int dirfd, struct oci_cgroup *cg, struct kv_err *err);
/* Loads ROOT/ID/cgroup, destroys the cgroup, removes the file. */
int oci_cg_teardown(int dirfd, struct kv_err *err);

#endif
