/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The state directory: where kvbox remembers its containers between CLI
 * calls.  ROOT (default /run/kvbox, `--root`) holds one 0700 directory per
 * container id, and in it:
 *
 *   lock        flock()ed by every command that changes the container
 *   state.json  this file's struct oci_state, replaced atomically (temp
 *               file + fsync + rename), so readers never need the lock
 *
 * plus whatever later code keeps there (the control socket, ...).  ROOT's
 * own "@global.lock" ('@' cannot appear in an id) serialises only the
 * creation of a new id and the removal of a half-created one, so a
 * directory is seen either complete (lock file + state.json) or not at all.
 *
 * A process is identified by pid and start time (/proc/PID/stat field 22),
 * never by a bare pid: a sandbox whose pid was reused reads as dead.
 * oci_state_refresh() turns a dead sandbox into "stopped".
 *
 * Typical mutating command:
 *   oci_statedir_open(&root, path, false, err);
 *   oci_state_load(&root, id, OCI_LOAD_LOCK, &c, err);   // lock held
 *   oci_state_refresh(c);  ... change c->st ...  oci_state_save(c, err);
 *   oci_container_free(c);                               // lock released
 */
#ifndef KVBOX_OCI_STATE_H
#define KVBOX_OCI_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "util/err.h"

#define OCI_STATEDIR_DEFAULT "/run/kvbox"
#define OCI_ID_MAX	     1024
#define OCI_LOCK_TIMEOUT_MS  30000 /* mutating commands wait this long for the lock */
#define OCI_STATE_MAX_BYTES  (4u << 20)
#define OCI_STATE_SPEC	     "1.0.2-dev" /* runtime-spec version of the state JSON, as runc */
#define OCI_TIME_RFC3339_MAX 40

enum oci_status {
	OCI_STATUS_CREATING,
	OCI_STATUS_CREATED,
	OCI_STATUS_RUNNING,
	OCI_STATUS_STOPPED,
	OCI_STATUS_PAUSED,
};

const char *oci_status_name(enum oci_status s);
/* Returns 0, or -EINVAL for a name that is not one of the five. */
int oci_status_parse(const char *name, enum oci_status *out);

/* A process that survives pid reuse: pid 0 means "none". */
struct oci_proc {
	pid_t pid;
	unsigned long long start_time; /* /proc/PID/stat field 22, clock ticks since boot */
};

/* Reads the start time of the live process `pid` into out; -ESRCH (with a
 * message) when there is no such process or it is a zombie. */
int oci_proc_identify(pid_t pid, struct oci_proc *out, struct kv_err *err);
/* True when p names a running, non-zombie process with the same start time. */
bool oci_proc_alive(const struct oci_proc *p);
/* Sends sig to p through a pidfd opened and then checked against the start
 * time (so a reused pid is never signalled).  0 when sent, -ESRCH when p is
 * already gone (no message: callers usually treat it as success). */
int oci_proc_signal(const struct oci_proc *p, int sig, struct kv_err *err);
/* SIGKILLs p and waits (poll on the pidfd, no reaping: the process need not
 * be our child) up to timeout_ms for it to end.  0 also when p was gone. */
int oci_proc_kill_wait(const struct oci_proc *p, int timeout_ms, struct kv_err *err);

/* What state.json holds.  Strings are owned (free with the container). */
struct oci_state {
	char *oci_version;
	char *id;
	enum oci_status status;
	struct oci_proc sandbox; /* the VMM; its pid is the container pid */
	char *bundle;		 /* absolute */
	char *rootfs;		 /* absolute, or NULL while unknown */
	json_t *annotations;	 /* an object (never NULL once loaded or created) */
	char created[OCI_TIME_RFC3339_MAX];
	char *owner;
	/* kvbox's own */
	struct oci_proc creator; /* the `kvbox create` that made it, while "creating" */
	struct oci_proc gofer;
	char *control_socket; /* absolute path of the VMM's control socket, or NULL */
};

/* Frees the strings and annotations and zeroes st. */
void oci_state_fini(struct oci_state *st);

/* An open ROOT.  fd is an O_PATH-less directory fd used for every *at() call. */
struct oci_statedir {
	char *path; /* absolute */
	int fd;
};

/* Opens ROOT (made absolute against the cwd).  With create, makes it (and
 * missing parents) 0700 first; without, a missing ROOT is -ENOENT, which
 * list/state/delete read as "no containers". */
int oci_statedir_open(struct oci_statedir *r, const char *path, bool create, struct kv_err *err);
void oci_statedir_close(struct oci_statedir *r);

struct oci_container {
	struct oci_statedir *root; /* borrowed */
	char *dir;		   /* ROOT/ID */
	int dirfd;
	int lockfd; /* O_CLOEXEC: a child forked without exec must close it */
	bool locked;
	struct oci_state st;
};

/* Validates an id like runc: 1..OCI_ID_MAX of [A-Za-z0-9_.+-], not "." or "..". */
int oci_id_validate(const char *id, struct kv_err *err);

/* Makes ROOT/ID (0700) with its lock held and a state.json saying
 * "creating", bundle (made absolute; must be a directory), created = now,
 * owner = this user.  -EEXIST when the id is taken.  Nothing is left behind
 * on error.  On success the caller fills in the rest and oci_state_save()s;
 * if create fails later, oci_state_destroy() removes it again. */
int oci_state_create(struct oci_statedir *r, const char *id, const char *bundle,
		     struct oci_container **out, struct kv_err *err);

enum {
	OCI_LOAD_LOCK = 1 << 0, /* take the container lock, waiting OCI_LOCK_TIMEOUT_MS */
};

/* Loads ROOT/ID/state.json.  -ENOENT with `container "ID" does not exist`
 * for an unknown id (also when ROOT is missing); -EINVAL with a message
 * naming the file for a corrupt state.json. */
int oci_state_load(struct oci_statedir *r, const char *id, unsigned flags,
		   struct oci_container **out, struct kv_err *err);
/* Writes c->st to state.json atomically.  Needs the lock (-ENOLCK if not held). */
int oci_state_save(struct oci_container *c, struct kv_err *err);
/* If the sandbox is dead (pid gone, zombie, or another start time), or a
 * "creating" container has neither its creator nor a sandbox alive, sets
 * status to stopped in memory (save it if you hold the lock and care).
 * Returns true when the status changed. */
bool oci_state_refresh(struct oci_container *c);
/* Removes ROOT/ID and everything in it (never following symlinks or
 * crossing into another filesystem), nothing else.  Needs the lock. */
int oci_state_destroy(struct oci_container *c, struct kv_err *err);
/* Removes ROOT/ID if it has no state.json (left by a create that crashed
 * before writing one).  0 when removed, -ENOENT when there is no such
 * directory, -EEXIST when it is a complete container. */
int oci_state_remove_stale(struct oci_statedir *r, const char *id, struct kv_err *err);
/* Releases the lock, closes, frees.  NULL is fine. */
void oci_container_free(struct oci_container *c);

/* Takes / drops the container lock; waits up to timeout_ms (0: try once).
 * -EWOULDBLOCK with `container "ID" is busy ...` on timeout, -ENOENT if the
 * container was deleted while waiting. */
int oci_container_lock(struct oci_container *c, int timeout_ms, struct kv_err *err);
void oci_container_unlock(struct oci_container *c);

/* The ids in ROOT (valid ids only, sorted).  A missing ROOT is an empty
 * list.  Free with oci_ids_free. */
int oci_state_list(struct oci_statedir *r, char ***ids, size_t *n, struct kv_err *err);
void oci_ids_free(char **ids, size_t n);

/* runc's container state JSON: the OCI state (ociVersion, id, status, pid,
 * bundle, annotations) plus runc's rootfs, created, owner.  pid is 0 unless
 * the container is created, running or paused.  This is also what hooks get
 * on stdin.  New reference, NULL only when out of memory. */
json_t *oci_state_json(const struct oci_state *st);

/* `ts` as RFC 3339 in UTC with nanoseconds, trailing zeros trimmed like Go's
 * RFC3339Nano: 2024-01-02T03:04:05.12345Z. */
void oci_time_rfc3339(const struct timespec *ts, char buf[OCI_TIME_RFC3339_MAX]);

#endif
