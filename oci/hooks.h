/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI hooks (runtime-spec config.md "POSIX-platform Hooks"): running the
 * hooks of one kind, in order, each with the container's state JSON on its
 * stdin.  Which kinds abort the operation is the caller's business; the
 * spec's rule is oci_hook_kind_fatal():
 *
 *   prestart, createRuntime, createContainer, startContainer
 *       the first failing hook stops the list; the operation fails (the
 *       caller then runs poststop and removes the container)
 *   poststart, poststop
 *       every hook runs; a failure is only a warning: the caller logs the
 *       message and carries on
 *
 * Each hook runs with argv = args (or {path} when args is empty), env
 * exactly as given (empty when absent), cwd = the bundle, all signals at
 * their default and unblocked, in its own process group (so a timeout kills
 * the shell script's children too), and no fds but 0, 1, 2:
 *   stdin   a pipe carrying the state JSON, then EOF.  Written non-blocking
 *           while waiting for the hook, so a hook that never reads it cannot
 *           hang us; SIGPIPE is blocked in the calling thread meanwhile.
 *   stdout  out_fd (or /dev/null)
 *   stderr  a pipe: copied to out_fd as it comes, and its last 4 KiB kept
 *           for the error message.  We stop reading once the hook has
 *           exited, even if a child of it still holds the pipe.
 */
#ifndef KVBOX_OCI_HOOKS_H
#define KVBOX_OCI_HOOKS_H

#include <stdbool.h>

#include <jansson.h>

#include "oci/config.h"
#include "util/err.h"

/* How much of a hook's stderr is kept for the error message. */
#define OCI_HOOK_STDERR_TAIL 4096

/* True for the kinds whose failure aborts the operation (prestart,
 * createRuntime, createContainer, startContainer); false for poststart and
 * poststop, whose failures are warnings. */
bool oci_hook_kind_fatal(enum oci_hook_kind kind);

/* Runs every hook of `kind` in h (NULL or none: returns 0 at once) with
 * the state JSON on stdin and cwd = bundle; the hooks' stdout and stderr go
 * to out_fd (-1: /dev/null; the stderr tail is captured either way).
 *
 * Errors, each naming the hook by kind, path and 1-based index:
 *   -ECANCELED  `createRuntime hook /usr/bin/x (#1) exited with status 3: <last
 *               line of its stderr>` (or `was killed by signal 9 (SIGKILL)`)
 *   -ETIMEDOUT  `... (#1) timed out after 5 s (killed)`: the hook's process
 *               group got SIGKILL when its timeout ran out
 *   -ENOENT, -EACCES, ...  `... (#1): cannot execute /usr/bin/x: <strerror>`
 *   other       the bundle cannot be opened, pipes, memory
 * For a fatal kind the first failure stops the list.  For poststart and
 * poststop all hooks run and the first failure is returned, with
 * `(and N more failed)` appended when there were more. */
int oci_hooks_run_to(const struct oci_hooks *h, enum oci_hook_kind kind, const json_t *state,
		     const char *bundle, int out_fd, struct kv_err *err);

/* oci_hooks_run_to() with out_fd = our stderr (never our stdout, which may
 * be the container's). */
int oci_hooks_run(const struct oci_hooks *h, enum oci_hook_kind kind, const json_t *state,
		  const char *bundle, struct kv_err *err);

#endif
