/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest agent's initramfs, built in memory by the VMM (host side):
 * a newc cpio (boot/cpio.h) holding the static kvbox-agent as /init,
 * /dev/console (c 5 1, so the kernel gives init a console on fds 0-2),
 * /dev/null, and the empty mount points the agent uses (/proc, /sys, /dev,
 * /run, /tmp).  Nothing is written to disk.
 *
 * Where the agent binary is: agent_binary_path() looks at $KVBOX_AGENT,
 * then next to the running kvbox (build tree: <dir>/guest/kvbox-agent),
 * then <prefix>/libexec/kvbox/kvbox-agent.
 */
#ifndef KVBOX_GUEST_INITRAMFS_H
#define KVBOX_GUEST_INITRAMFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

#define AGENT_INITRAMFS_MAX	 (256u << 20)
#define AGENT_INITRAMFS_FILE_MAX (128u << 20)

/* An extra host file to put in the archive (tests: busybox); missing
 * parent directories are added (mode 0755). */
struct initramfs_file {
	const char *host_path;
	const char *guest_path;
	mode_t mode;
};

int agent_initramfs_build(const char *agent_path, uint8_t **out, size_t *len, struct kv_err *err);

int agent_initramfs_build_with(const char *agent_path, const struct initramfs_file *extra,
			       size_t nextra, uint8_t **out, size_t *len, struct kv_err *err);

/* Finds the agent binary (see above) into buf. */
int agent_binary_path(char *buf, size_t size, struct kv_err *err);

#endif
