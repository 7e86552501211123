/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox's control socket: how later CLI calls (start, kill, exec,
 * ps, pause, resume, events, update) reach the VMM of a container.
 *
 * A SOCK_SEQPACKET unix socket, ROOT/ID/sandbox.sock, owner-only, in the
 * 0700 container directory, bound and served by the sandbox process
 * (vmm/sandbox_ctl.c).  The CLI reaches it by path through its open
 * directory fd (/proc/self/fd/N/sandbox.sock), so an id of any length
 * fits sun_path.  The peer must be root or the sandbox's own uid
 * (SO_PEERCRED).
 *
 * Each packet is one JSON object (<= CTL_MSG_MAX bytes), optionally with
 * up to CTL_MAX_FDS fds as SCM_RIGHTS.  Requests carry "op"; the reply is
 * {"ok": true, ...} or {"error": "message", "errno": N}.  One request per
 * connection, except exec, whose connection stays open: the sandbox sends
 * {"exit": {"code": N, "signal": S}} when the process has ended and its
 * output has been delivered, and the client may send
 * {"op": "signal", "signal": N} to forward a signal to that process.
 *
 *   start                              the init execs
 *   kill    signal, all                signal the init (or every process)
 *   exec    process (OCI process JSON); no terminal: fds 0-2; with a
 *           terminal: one fd, a connection to the console socket the
 *           client made (the jailed sandbox reaches no path), and
 *           console_socket (its path, for messages)
 *                                      -> pid (guest), then exit
 *   ps                                 -> processes [{pid, ppid, uid, cmd}]
 *   stats                              -> stats {...}
 *   pause / resume                     park / release the vCPUs
 *   update  resources (LinuxResources JSON)
 */
#ifndef KVBOX_VMM_CTL_H
#define KVBOX_VMM_CTL_H

#include <jansson.h>
#include <stddef.h>

#include "util/err.h"

#define CTL_SOCKET_NAME "sandbox.sock"
#define CTL_MSG_MAX	(256u * 1024)
#define CTL_MAX_FDS	3

/* Sends obj (and nfds fds) as one packet. */
int ctl_send(int sock, const json_t *obj, const int *fds, unsigned nfds, struct kv_err *err);
/* Receives one packet: *obj (new reference) and up to CTL_MAX_FDS fds
 * (close-on-exec; *nfds says how many).  timeout_ms < 0 waits for ever.
 * -ECONNRESET with a message when the peer closed, -ETIMEDOUT. */
int ctl_recv(int sock, int timeout_ms, json_t **obj, int *fds, unsigned *nfds, struct kv_err *err);

/* Client: connects to dir_fd/CTL_SOCKET_NAME. */
int ctl_connect(int dir_fd, struct kv_err *err);
/* Client: one request and its reply; a reply {"error": ...} becomes the
 * returned -errno with its message. */
int ctl_call(int dir_fd, const json_t *req, const int *fds, unsigned nfds, int timeout_ms,
	     json_t **reply, struct kv_err *err);
/* Same on an already connected socket (exec keeps it). */
int ctl_call_on(int sock, const json_t *req, const int *fds, unsigned nfds, int timeout_ms,
		json_t **reply, struct kv_err *err);

/* Server side: the reply to a failed request. */
json_t *ctl_error_reply(int errnum, const char *msg);

#endif
