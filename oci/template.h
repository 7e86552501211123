/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The template cache (vmm/template.h is the VMM side): one template per
 * (kvbox version, guest kernel, agent, VM size), kept in
 * KVBOX_TEMPLATE_DIR (default TEMPLATE_ROOT_DEFAULT):
 *
 *   ROOT/.lock             flock: one builder or dropper at a time
 *   ROOT/.build-KEY.PID/   a build in progress (removed by the next
 *                          builder when its process is gone)
 *   ROOT/.failed-KEY       the message of a build that failed: creates
 *                          boot cold without trying again until `kvbox
 *                          template build` (or `drop --all`)
 *   ROOT/KEY/image/        the snapshot (vmm/snapshot.h: state, memory)
 *   ROOT/KEY/empty/        the empty read-only directory the unused 9p
 *                          devices are served from
 *   ROOT/KEY/info.json     what it was built from, when, how long it took
 *
 * KEY is the first 16 hex digits of XXH3-128 over the kvbox version, the
 * kernel's and the agent's path, device, inode, size and mtime, the RAM
 * size, the vCPU count, the share count and the guest command line: any
 * change to them names another template, so a stale one is never used
 * (and `kvbox template drop` removes old ones).  A build renames its
 * directory into place when complete, so ROOT/KEY exists whole or not at
 * all.
 */
#ifndef KVBOX_OCI_TEMPLATE_H
#define KVBOX_OCI_TEMPLATE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

#define TEMPLATE_ROOT_DEFAULT "/var/cache/kvbox/templates"
#define TEMPLATE_KEY_LEN      16

struct oci_cli;

struct template_params {
	uint64_t mem_bytes;
	unsigned ncpus;
	const char *kernel;
	char agent[PATH_MAX];
};

/* KVBOX_TEMPLATE_DIR or the default. */
const char *template_root(void);
/* kernel = oci_default_kernel(), the agent next to kvbox. */
int template_params_init(struct template_params *p, uint64_t mem_bytes, unsigned ncpus,
			 struct kv_err *err);
int template_key(const struct template_params *p, char key[TEMPLATE_KEY_LEN + 1],
		 struct kv_err *err);
/* ROOT/KEY for p, built first (in a child process, under the lock) when
 * missing; *built says whether it was.  dir gets ROOT/KEY.  A failed
 * build is recorded (ROOT/.failed-KEY) and not tried again unless retry. */
int template_ensure(struct oci_cli *cli, const struct template_params *p, bool retry, char *dir,
		    size_t size, bool *built, struct kv_err *err);

/* After a lazy template start: the working set the sandbox recorded in
 * its state directory (dirfd, TEMPLATE_WS_RECORD, vmm/template.h), checked
 * for a guest of mem_bytes, becomes the template's at dir if it has none
 * (written aside and renamed: a concurrent adopter or reader sees a whole
 * file).  The record is removed either way; failures are debug lines. */
void template_ws_adopt(struct oci_cli *cli, const char *dir, int dirfd, uint64_t mem_bytes);

int oci_cmd_template(struct oci_cli *cli, int argc, char **argv);

#endif
