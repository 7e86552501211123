/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host end of the agent channel for `kvbox boot --agent`: the VMM
 * listens on vsock port VM_AGENT_PORT (the guest learns it from
 * kvbox.agent_port= on the command line), takes the agent's connection,
 * reads HELLO with guest/protocol.c's decoder, prints
 *   kvbox: agent ready: protocol V, agent VERSION, kernel REL, ...
 * to stderr and sends SHUTDOWN, after which the agent powers the guest off
 * (or, with on_parked, PARK: `kvbox template build`, oci/template.c).
 * A malformed frame, another message first, the channel closing before
 * HELLO, or no power-off within the timeout (a timerfd in vm->handlers)
 * stops the VM with VM_EXIT_ERROR and a message.
 */
#ifndef KVBOX_VMM_AGENT_CHAN_H
#define KVBOX_VMM_AGENT_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest/protocol.h"
#include "util/err.h"

#define VM_AGENT_PORT		 1024u
#define VM_AGENT_TIMEOUT_DEFAULT 120u /* seconds; TCG boots are slow */
#define VM_AGENT_HELLO_MAX	 (64u * 1024)

struct vm;

struct vm_agent {
	struct vm *vm;
	unsigned timeout_s;
	int fd;	      /* the accepted connection, -1 before */
	int timer_fd; /* timerfd: the whole exchange's deadline */
	bool hello_seen, shutdown_sent;
	/* Set before vm_agent_start: PARK instead of SHUTDOWN.  Called once
	 * the agent answered and closed the channel (it then waits for a
	 * host on its port): the moment to save a template. */
	void (*on_parked)(struct vm_agent *a, void *ctx);
	void *parked_ctx;
	bool park_acked;
	/* its reply: the kernel's read-only pages (struct agent_parked) */
	uint32_t kernel_ro[2 * AGENT_MAX_RO_RANGES];
	uint32_t nkernel_ro;
	size_t len;
	uint8_t buf[VM_AGENT_HELLO_MAX];
};

/* Pure: looks at the first len bytes the agent sent.  -EAGAIN: need more;
 * 0: *msg holds a decoded HELLO of *used bytes; other < 0: the channel is
 * broken, err says why.  msg is released by the caller (agent_msg_free)
 * whatever the result. */
int vm_agent_hello_parse(const uint8_t *buf, size_t len, struct agent_msg *msg, size_t *used,
			 struct kv_err *err);
/* Pure: the text after "kvbox: agent ready: ". */
int vm_agent_ready_line(const struct agent_hello *h, char *buf, size_t size);

/* After vm_create() with cfg.vsock: listen and arm the timer (on_parked
 * and parked_ctx are kept). */
int vm_agent_start(struct vm_agent *a, struct vm *vm, unsigned timeout_s, struct kv_err *err);
void vm_agent_stop(struct vm_agent *a);

#endif
