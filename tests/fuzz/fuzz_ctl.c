/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the control socket (vmm/ctl.c), as the sandbox
 * reads it (vmm/sandbox_ctl.c): the input is one SOCK_SEQPACKET packet,
 * sent over a socketpair and received with ctl_recv().  A packet that is
 * not one JSON object must fail with EBADMSG (or EMSGSIZE) and a one-line
 * message; an object goes through what the sandbox does with each op's
 * values before anything reaches the agent: "op" a string, "signal" 1..64,
 * the update integers, and for "exec" the process object through
 * oci_process_parse() -> oci_process_to_agent() -> the agent protocol
 * encoder, whose output must decode again.  The reply the sandbox would
 * send (ctl_error_reply) is built from the message.
 *
 * Seed corpus: tests/fuzz/corpus/ctl/ (one request of each op the CLI
 * sends, an exec with a full process, and broken packets).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest/protocol.h"
#include "oci/config.h"
#include "oci/spec_agent.h"
#include "vmm/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(const struct kv_err *err)
{
	if (err->msg[0] == '\0' || strchr(err->msg, '\n'))
		__builtin_trap();
}

static void exec_process(json_t *req)
{
	json_t *pj = json_object_get(req, "process");
	char *text = pj ? json_dumps(pj, JSON_COMPACT) : NULL;
	if (!text)
		return;
	struct kv_err err = {0};
	struct oci_process *proc = NULL;
	struct agent_msg m, d;
	agent_msg_init(&m, AGENT_EXEC, 0, 7);
	if (oci_process_parse(text, strlen(text), "process", &proc, &err) < 0) {
		check_err(&err);
		goto out;
	}
	if (oci_process_to_agent(proc, NULL, &m.u.exec.process, &err) < 0) {
		check_err(&err);
		goto out;
	}
	uint8_t *buf = NULL;
	long n = agent_msg_encode_alloc(&m, &buf);
	if (n >= 0) {
		/* what the sandbox sends, the agent must be able to read */
		if (agent_msg_decode(buf, (size_t)n, &d) != 0)
			__builtin_trap();
		agent_msg_free(&d);
	} else if (n != -EMSGSIZE && n != -E2BIG && n != -EINVAL) {
		__builtin_trap();
	}
	free(buf);
out:
	oci_agent_process_free(&m.u.exec.process);
	oci_process_free(proc);
	free(text);
}

static void request(json_t *req)
{
	const char *op = json_string_value(json_object_get(req, "op"));
	if (!op)
		return;
	json_int_t sig = json_integer_value(json_object_get(req, "signal"));
	(void)(sig >= 1 && sig <= AGENT_MAX_SIGNAL);
	(void)json_is_true(json_object_get(req, "all"));
	static const char *const ints[] = {"cpu_quota", "cpu_period", "cpu_weight", "pids_max"};
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		json_t *v = json_object_get(req, ints[i]);
		if (json_is_integer(v))
			(void)json_integer_value(v);
	}
	(void)json_string_value(json_object_get(req, "cpuset_cpus"));
	(void)json_string_value(json_object_get(req, "console_socket"));
	if (!strcmp(op, "exec"))
		exec_process(req);
	json_t *reply = ctl_error_reply(EOPNOTSUPP, op);
	json_decref(reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int sv[2] = {-1, -1};
	if (size > CTL_MSG_MAX + 16)
		return 0;
	if (sv[0] < 0) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
			abort();
		int sz = 4 << 20;
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	if (size == 0)
		return 0; /* a zero-length packet reads as EOF on SEQPACKET */
	if (send(sv[0], data, size, MSG_NOSIGNAL) != (ssize_t)size)
		return 0;
	json_t *req = NULL;
	int fds[CTL_MAX_FDS];
	unsigned nfds = 0;
	struct kv_err err = {0};
	int r = ctl_recv(sv[1], 0, &req, fds, &nfds, &err);
	if (nfds)
		__builtin_trap(); /* nothing was sent with it */
	if (r < 0) {
		check_err(&err);
		if (req || (r != -EBADMSG && r != -EMSGSIZE))
			__builtin_trap();
		return 0;
	}
	if (!json_is_object(req))
		__builtin_trap();
	request(req);
	json_decref(req);
	return 0;
}
