/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the lifecycle commands (create, run, start, kill, exec, ps, pause,
 * resume, events, update) share: opening a container, talking to its
 * sandbox (vmm/ctl.h), and the create sequence itself.
 */
#ifndef KVBOX_OCI_LIFECYCLE_H
#define KVBOX_OCI_LIFECYCLE_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "oci/cli.h"
#include "oci/config.h"

#define OCI_CTL_TIMEOUT_MS   30000
#define OCI_START_TIMEOUT_MS 60000
#define OCI_CREATE_TIMEOUT_S 300 /* boot + agent + CREATE; TCG nested hosts are slow */

/* Opens --root and loads id (refreshed), with its lock when lock. */
int oci_container_open(struct oci_cli *cli, const char *id, bool lock, struct oci_statedir *root,
		       struct oci_container **out, struct kv_err *err);

/* One request to the container's sandbox. */
int oci_container_call(struct oci_container *c, const json_t *req, int timeout_ms, json_t **reply,
		       struct kv_err *err);

/* -EINVAL "container ID is not running (status S)" unless the status is
 * one of the mask's (1 << OCI_STATUS_*). */
int oci_container_require(const struct oci_container *c, unsigned mask, struct kv_err *err);

struct oci_create_opts {
	const char *bundle;
	const char *pid_file;
	const char *console_socket;
	int preserve_fds;
	bool run; /* `run`: the sandbox stays our child */
	/* `restore`: the sandbox starts from this checkpoint (absolute path);
	 * the container is "running" once it is ready */
	const char *restore_dir;
};

/* Waits for the sandbox (our child: `run`, `restore` without -d),
 * forwarding SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1/2 to the container.
 * Returns the wait status. */
int oci_wait_forwarding(struct oci_cli *cli, const char *id, pid_t child);

/* create: validates the bundle, starts the sandbox, waits for the
 * container to be prepared, saves the state, runs prestart,
 * createRuntime and createContainer hooks, writes the pid file.  Nothing
 * is left behind on failure.  *sandbox is the sandbox's pid. */
int oci_create(struct oci_cli *cli, const char *id, const struct oci_create_opts *o, pid_t *sandbox,
	       struct kv_err *err);

/* start of a created container (hooks, START, poststart); with the lock. */
int oci_start_locked(struct oci_cli *cli, struct oci_container *c, struct kv_err *err);

/* Writes pid to path atomically (temp file + rename), as runc. */
int oci_write_pid_file(const char *path, pid_t pid, struct kv_err *err);

/* Runs a kind of hook from the bundle's config.json with c's state. */
int oci_container_hooks(struct oci_cli *cli, struct oci_container *c, int kind, struct kv_err *err);

#endif
