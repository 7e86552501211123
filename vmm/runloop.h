/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM's main-thread event loop for `kvbox boot`: one epoll set with
 * enum tokens for the stop eventfd, a signalfd (SIGINT, SIGTERM, SIGHUP)
 * and console input, plus every fd devices registered in vm->handlers
 * (vmm/fd_handlers.h: virtio queue ioeventfds today), each dispatched to
 * its callback on this thread.  When stdin is a terminal it is put in raw mode and
 * Ctrl-A x quits (Ctrl-A Ctrl-A sends a literal Ctrl-A); the terminal is
 * restored on every way out.
 */
#ifndef KVBOX_VMM_RUNLOOP_H
#define KVBOX_VMM_RUNLOOP_H

#include "vmm/vm.h"

#define CONSOLE_ESCAPE_CHAR 0x01 /* Ctrl-A */

/* Runs the started VM until it ends; returns the exit kind. */
enum vm_exit_kind vm_run(struct vm *vm, int console_in);

/* Console escape state machine, exposed for tests: feeds one input byte,
 * returns 1 to quit, 0 to pass `*out_len` bytes of `out` to the guest. */
struct console_escape {
	int armed;
};
int console_escape_feed(struct console_escape *e, unsigned char c, unsigned char out[2],
			unsigned *out_len);

#endif
