/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.json: the one parser of an OCI bundle's configuration (runtime
 * spec 1.0.2 / 1.1, as runc 1.1 accepts it).  Everything past
 * oci_config_parse() sees these typed, validated structs and never the
 * JSON: names are already mapped to numbers (capabilities, rlimits, mount
 * flags, namespaces, seccomp actions), paths are checked, integers are
 * range-checked.
 *
 * Conventions, everywhere below:
 * - A field kvbox does not model, or a key it does not know, is ignored
 *   (like runc); a known key with a wrong type is an error.  JSON null is
 *   the same as an absent key (Go's encoding/json, which runc uses).
 * - Optional scalars are `struct oci_opt_*` with `set`; optional objects
 *   are pointers (NULL when absent).
 * - Every string is NUL-free (a config with "\u0000" in a string is
 *   rejected) and owned by the config; oci_config_free() releases all.
 * - Errors (kv_err, one line) carry the JSON path of the offending value:
 *   `config.json: mounts[3].destination: must be an absolute path`.
 */
#ifndef KVBOX_OCI_CONFIG_H
#define KVBOX_OCI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/err.h"

/* Largest config.json (or process.json) accepted, in bytes. */
#define OCI_CONFIG_MAX_SIZE (16u << 20)
/* Deepest JSON nesting accepted (real configs need 7). */
#define OCI_CONFIG_MAX_DEPTH 64
/* The spec version `kvbox spec` writes: runc 1.1's. */
#define OCI_SPEC_VERSION "1.0.2-dev"

struct oci_opt_bool {
	bool set;
	bool v;
};
struct oci_opt_u32 {
	bool set;
	uint32_t v;
};
struct oci_opt_i64 {
	bool set;
	int64_t v;
};
struct oci_opt_u64 {
	bool set;
	uint64_t v;
};

/* A list of strings.  When the key was present, v holds n strings and
 * v[n] == NULL (ready for execve); when absent, v == NULL and n == 0. */
struct oci_strv {
	size_t n;
	char **v;
};

/* A string-to-string map in file order (annotations, sysctl, unified). */
struct oci_kv {
	char *key;
	char *value;
};
struct oci_strmap {
	size_t n;
	struct oci_kv *v;
};
const char *oci_strmap_get(const struct oci_strmap *m, const char *key);

/* ---- root, process -------------------------------------------------- */

struct oci_root {
	char *path;	 /* absolute, lexically cleaned, resolved against the bundle */
	char *spec_path; /* as written in config.json */
	bool readonly;
};

struct oci_user {
	uint32_t uid, gid;
	struct oci_opt_u32 umask; /* <= 0777 */
	uint32_t *additional_gids;
	size_t n_additional_gids; /* <= 65536 (NGROUPS_MAX) */
	char *username;		  /* Windows only in the spec; stored */
};

enum oci_cap_set {
	OCI_CAP_BOUNDING,
	OCI_CAP_EFFECTIVE,
	OCI_CAP_INHERITABLE,
	OCI_CAP_PERMITTED,
	OCI_CAP_AMBIENT,
	OCI_CAP_NSETS,
};

/* Bit n of set[] is capability number n (linux/capability.h). */
struct oci_capabilities {
	uint64_t set[OCI_CAP_NSETS];
	bool given[OCI_CAP_NSETS]; /* the list was present in the file */
};

struct oci_rlimit {
	int resource; /* RLIMIT_* */
	uint64_t hard, soft;
};

struct oci_process {
	bool terminal;
	bool has_console_size;
	uint32_t console_height, console_width;
	struct oci_user user;
	struct oci_strv args; /* non-empty */
	struct oci_strv env;  /* each "NAME=value", NAME non-empty */
	char *cwd;	      /* absolute */
	bool has_capabilities;
	struct oci_capabilities caps;
	struct oci_rlimit *rlimits; /* one per resource at most */
	size_t n_rlimits;
	bool no_new_privileges;
	char *apparmor_profile;
	char *selinux_label;
	struct oci_opt_i64 oom_score_adj; /* -1000..1000 */
};

/* ---- mounts, hooks -------------------------------------------------- */

struct oci_mount {
	char *destination; /* absolute */
	char *type;	   /* NULL when absent */
	char *source;	   /* NULL when absent */
	struct oci_strv options;
	/* options classified as runc does (parseMountOptions), in order: */
	unsigned long flags;	    /* MS_* set (ro, nosuid, bind, rbind = MS_BIND|MS_REC, ...) */
	unsigned long clear_flags;  /* MS_* explicitly cleared (rw, suid, dev, exec, ...) */
	unsigned long *propagation; /* MS_PRIVATE|MS_SHARED|MS_SLAVE|MS_UNBINDABLE [|MS_REC] */
	size_t n_propagation;
	uint64_t attr_set, attr_clr; /* MOUNT_ATTR_* from rro, rnosuid, ... (recursive) */
	char *data;		     /* other options joined with ',', NULL when none */
	bool bind;		     /* MS_BIND in flags, or type "bind" */
	bool tmpcopyup;		     /* runc extension */
};

enum oci_hook_kind {
	OCI_HOOK_PRESTART,
	OCI_HOOK_CREATE_RUNTIME,
	OCI_HOOK_CREATE_CONTAINER,
	OCI_HOOK_START_CONTAINER,
	OCI_HOOK_POSTSTART,
	OCI_HOOK_POSTSTOP,
	OCI_HOOK_NKINDS,
};

struct oci_hook {
	char *path; /* absolute */
	struct oci_strv args;
	struct oci_strv env;
	struct oci_opt_i64 timeout; /* seconds, > 0 */
};

struct oci_hooks {
	struct oci_hook *list[OCI_HOOK_NKINDS];
	size_t n[OCI_HOOK_NKINDS];
};

/* "prestart", "createRuntime", ... as spelled in config.json */
const char *oci_hook_kind_name(enum oci_hook_kind k);

/* ---- linux ---------------------------------------------------------- */

enum oci_ns_type {
	OCI_NS_PID,
	OCI_NS_NETWORK,
	OCI_NS_MOUNT,
	OCI_NS_IPC,
	OCI_NS_UTS,
	OCI_NS_USER,
	OCI_NS_CGROUP,
	OCI_NS_TIME,
	OCI_NS_NTYPES,
};

struct oci_namespace {
	enum oci_ns_type type; /* each type at most once */
	char *path;	       /* join this namespace; NULL = create a new one */
};

struct oci_idmap {
	uint32_t container_id, host_id, size;
};

/* linux.devices: nodes to create in the container */
struct oci_device {
	char type;	      /* 'c', 'b', 'u' or 'p' */
	char *path;	      /* absolute */
	int64_t major, minor; /* required for c, b, u */
	struct oci_opt_u32 file_mode, uid, gid;
};

/* linux.resources.devices: the cgroup allow/deny list */
struct oci_dev_rule {
	bool allow;
	char type;			 /* 'a', 'b' or 'c'; 'a' when absent */
	struct oci_opt_i64 major, minor; /* absent = any */
	char access[4];			 /* subset of "rwm"; "rwm" when absent */
};

struct oci_memory {
	struct oci_opt_i64 limit, reservation, swap, kernel, kernel_tcp;
	struct oci_opt_u64 swappiness;
	struct oci_opt_bool disable_oom_killer, use_hierarchy;
};

struct oci_cpu {
	struct oci_opt_u64 shares, period, realtime_period;
	struct oci_opt_i64 quota, realtime_runtime, idle;
	char *cpus, *mems; /* list syntax checked: "0-3,5"; NULL when absent */
};

struct oci_hugepage_limit {
	char *page_size; /* "2MB", "1GB" */
	uint64_t limit;
};

struct oci_resources {
	struct oci_dev_rule *devices;
	size_t n_devices;
	struct oci_memory memory;
	struct oci_cpu cpu;
	struct oci_opt_i64 pids_limit;
	struct oci_opt_u32 blkio_weight, blkio_leaf_weight; /* the rest of blockIO is ignored */
	struct oci_hugepage_limit *hugepage_limits;
	size_t n_hugepage_limits;
	struct oci_strmap unified; /* cgroup v2 files */
};

enum oci_seccomp_action {
	OCI_SCMP_ACT_KILL,
	OCI_SCMP_ACT_KILL_PROCESS,
	OCI_SCMP_ACT_KILL_THREAD,
	OCI_SCMP_ACT_TRAP,
	OCI_SCMP_ACT_ERRNO,
	OCI_SCMP_ACT_TRACE,
	OCI_SCMP_ACT_ALLOW,
	OCI_SCMP_ACT_LOG,
	OCI_SCMP_ACT_NOTIFY, /* named, but refused by the parser (no listener across the VM) */
};

enum oci_seccomp_op {
	OCI_SCMP_CMP_NE,
	OCI_SCMP_CMP_LT,
	OCI_SCMP_CMP_LE,
	OCI_SCMP_CMP_EQ,
	OCI_SCMP_CMP_GE,
	OCI_SCMP_CMP_GT,
	OCI_SCMP_CMP_MASKED_EQ,
};

/* seccomp.flags, as a bit set */
#define OCI_SECCOMP_FLAG_TSYNC		    (1u << 0)
#define OCI_SECCOMP_FLAG_LOG		    (1u << 1)
#define OCI_SECCOMP_FLAG_SPEC_ALLOW	    (1u << 2)
#define OCI_SECCOMP_FLAG_WAIT_KILLABLE_RECV (1u << 3)

struct oci_seccomp_arg {
	uint32_t index; /* 0..5 */
	uint64_t value, value_two;
	enum oci_seccomp_op op;
};

struct oci_seccomp_rule {
	struct oci_strv names; /* non-empty; not checked against a syscall table:
				  unknown names are skipped when applied, as runc does */
	enum oci_seccomp_action action;
	struct oci_opt_u32 errno_ret;
	struct oci_seccomp_arg *args;
	size_t n_args;
};

struct oci_seccomp {
	enum oci_seccomp_action default_action;
	struct oci_opt_u32 default_errno_ret;
	struct oci_strv architectures; /* checked SCMP_ARCH_* names */
	unsigned flags;		       /* OCI_SECCOMP_FLAG_* */
	char *listener_path, *listener_metadata;
	struct oci_seccomp_rule *syscalls;
	size_t n_syscalls;
};

struct oci_linux {
	struct oci_namespace *namespaces;
	size_t n_namespaces;
	struct oci_idmap *uid_mappings, *gid_mappings;
	size_t n_uid_mappings, n_gid_mappings;
	struct oci_device *devices;
	size_t n_devices;
	char *cgroups_path;
	struct oci_resources *resources; /* NULL when absent */
	struct oci_strmap sysctl;
	struct oci_seccomp *seccomp;		      /* NULL when absent */
	struct oci_strv masked_paths, readonly_paths; /* absolute */
	unsigned long rootfs_propagation;	      /* MS_* [|MS_REC]; 0 when absent or "" */
	char *mount_label;
	char *personality_domain; /* "LINUX" or "LINUX32"; NULL when absent */
	bool has_intel_rdt;	  /* accepted, not applied in a VM */
};

/* ---- the whole file ------------------------------------------------- */

struct oci_config {
	char *oci_version;
	char *bundle; /* absolute, cleaned */
	struct oci_root root;
	struct oci_process *process; /* NULL when absent (only `create` needs it) */
	char *hostname, *domainname;
	struct oci_mount *mounts;
	size_t n_mounts;
	struct oci_hooks hooks;
	struct oci_strmap annotations;
	bool has_linux;
	struct oci_linux linux_spec; /* zeroed when absent ("linux" is a macro in gnu11) */
};

/* Reads bundle_dir/config.json (at most OCI_CONFIG_MAX_SIZE bytes) and
 * parses it.  On success *out is the new config (oci_config_free). */
int oci_config_load(const char *bundle_dir, struct oci_config **out, struct kv_err *err);

/* Parses len bytes of JSON (no NUL terminator needed).  bundle_dir
 * (absolute or relative to the cwd; NULL = the cwd) anchors a relative
 * root.path. */
int oci_config_parse(const char *json, size_t len, const char *bundle_dir, struct oci_config **out,
		     struct kv_err *err);

void oci_config_free(struct oci_config *cfg);

/* The namespace of that type in cfg->linux_spec, or NULL. */
const struct oci_namespace *oci_config_namespace(const struct oci_config *cfg,
						 enum oci_ns_type type);

/* A standalone process object (`exec --process FILE`): same rules as
 * config.json's "process"; errors are prefixed with `name` ("process.json"
 * when NULL) and paths are relative to the object (`user.uid: ...`). */
int oci_process_parse(const char *json, size_t len, const char *name, struct oci_process **out,
		      struct kv_err *err);
void oci_process_free(struct oci_process *p);

/* A standalone LinuxResources object (`update --resources FILE|-`). */
int oci_resources_parse(const char *json, size_t len, const char *name, struct oci_resources **out,
			struct kv_err *err);
void oci_resources_free(struct oci_resources *r);

/* ---- names <-> numbers (shared with the CLI: exec --cap, features) -- */

int oci_cap_from_name(const char *name);    /* "CAP_CHOWN" -> 0; -1 if unknown */
const char *oci_cap_name(int cap);	    /* NULL if unknown */
int oci_rlimit_from_name(const char *name); /* "RLIMIT_NOFILE" -> RLIMIT_NOFILE; -1 */
const char *oci_rlimit_name(int resource);
const char *oci_ns_type_name(enum oci_ns_type t);		/* "pid", "network", ... */
const char *oci_seccomp_action_name(enum oci_seccomp_action a); /* "SCMP_ACT_ERRNO" */
const char *oci_seccomp_op_name(enum oci_seccomp_op op);

/* ---- `kvbox spec` --------------------------------------------------- */

/* The config.json `kvbox spec` writes, like `runc spec`: args ["sh"],
 * terminal, runc's default capabilities, the standard mounts, masked and
 * read-only paths, pid/network/ipc/uts/mount namespaces, rootfs "rootfs"
 * read-only.  *out is a new reference the caller may edit and must
 * json_decref(). */
int oci_config_default_spec(json_t **out, struct kv_err *err);

/* The same, as indented text ending in a newline (malloc'd), or NULL. */
char *oci_config_default_spec_text(void);

#endif
