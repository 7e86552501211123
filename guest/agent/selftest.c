/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvbox.agent_test=1: a stand-in for the host, forked by the agent before
 * it connects, that drives the agent through the real protocol over vsock
 * loopback (CID 1): HELLO, CREATE of a built-in container spec (uid 1000,
 * groups, hostname, capabilities with an ambient set, no_new_privs,
 * rlimits, umask, proc/tmpfs/devpts/mqueue/sysfs mounts, a 9p bind mount,
 * masked and read-only paths, a sysctl, a read-only rootfs), START, EXEC
 * (plain, with a terminal and RESIZE, failing), PS, STATS, WAIT, SIGNAL
 * (one process, all), stdin EOF, exit codes, error replies, SHUTDOWN.
 *
 * Rootfs: the 9p share named by kvbox.agent_test_root= (prepared by the
 * test on the host), else a tmpfs filled from the initramfs's busybox.
 * Every check prints one console line, "AGENT-TEST <name> ok" or
 * "AGENT-TEST <name> FAIL <why>", then "AGENT-TEST-DONE passed=N failed=M";
 * tests/integration/nested/agent.bats reads them.
 *
 * This file is the harness (listeners, framing, request/reply, checks);
 * the container spec and the checks themselves are in selftest_cases.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "guest/agent/selftest.h"

void say(const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDOUT_FILENO, line, (size_t)n) < 0)
		return;
}

bool check(struct host *h, const char *name, bool ok, const char *fmt, ...)
{
	char why[1024] = "";
	if (!ok && fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
	}
	say("AGENT-TEST %s %s%s%s", name, ok ? "ok" : "FAIL", ok ? "" : " ", why);
	if (ok)
		h->pass++;
	else
		h->fail++;
	return ok;
}

/* ---- transport ---- */

static int listen_on(uint32_t port)
{
	int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_vm sa = {
	    .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port};
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 8) < 0)
		return -1;
	return s;
}

int accept_within(int lfd, int ms)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	if (poll(&p, 1, ms) <= 0)
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

static bool read_full(int fd, void *buf, size_t len, int ms)
{
	size_t off = 0;
	while (off < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, ms) <= 0)
			return false;
		ssize_t n = read(fd, (char *)buf + off, len - off);
		if (n <= 0)
			return false;
		off += (size_t)n;
	}
	return true;
}

void send_frame(struct host *h, const uint8_t *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(h->ctl, buf + off, len - off);
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

/* Next message from the agent into m (free with agent_msg_free). */
bool read_msg(struct host *h, struct agent_msg *m, int ms)
{
	uint8_t hdr[AGENT_HDR_SIZE];
	struct agent_hdr hd;
	memset(m, 0, sizeof(*m));
	if (!read_full(h->ctl, hdr, sizeof(hdr), ms) || agent_hdr_decode(hdr, sizeof(hdr), &hd) < 0)
		return false;
	uint8_t *buf = malloc(AGENT_HDR_SIZE + hd.len);
	if (!buf)
		return false;
	memcpy(buf, hdr, sizeof(hdr));
	bool ok = read_full(h->ctl, buf + AGENT_HDR_SIZE, hd.len, ms) &&
		  agent_msg_decode(buf, AGENT_HDR_SIZE + hd.len, m) == 0;
	free(buf);
	return ok;
}

void keep_exit(struct host *h, const struct agent_exit *e)
{
	if (h->nexits < sizeof(h->exits) / sizeof(h->exits[0]))
		h->exits[h->nexits++] = *e;
}

/* Sends m as a request and reads until its reply (ERROR included),
 * keeping EXIT events that come first.  false on a broken channel. */
bool request(struct host *h, struct agent_msg *m, struct agent_msg *reply)
{
	uint8_t *buf = NULL;
	m->hdr.id = ++h->next_id;
	long n = agent_msg_encode_alloc(m, &buf);
	if (n < 0) {
		say("AGENT-TEST-HOST cannot encode %s: %ld", agent_type_name(m->hdr.type), n);
		return false;
	}
	send_frame(h, buf, (size_t)n);
	free(buf);
	for (;;) {
		if (!read_msg(h, reply, TIMEOUT_MS))
			return false;
		if (reply->hdr.type == AGENT_EXIT) {
			keep_exit(h, &reply->u.exit);
			agent_msg_free(reply);
			continue;
		}
		if (reply->hdr.id == m->hdr.id)
			return true;
		agent_msg_free(reply);
	}
}

/* A request whose reply is only checked for success. */
bool simple(struct host *h, struct agent_msg *m, const char *name, int want_err)
{
	struct agent_msg r;
	bool got = request(h, m, &r);
	int e = got && r.hdr.type == AGENT_ERROR ? r.u.error.errnum : 0;
	bool ok = got && e == want_err;
	check(h, name, ok, "%s: errno %d (%s), wanted %d", got ? "reply" : "no reply", e,
	      got && e ? r.u.error.message : "", want_err);
	agent_msg_free(&r);
	return ok;
}

bool wait_exit(struct host *h, uint32_t pid, struct agent_exit *out)
{
	for (;;) {
		for (unsigned i = 0; i < h->nexits; i++) {
			if (h->exits[i].pid == pid) {
				*out = h->exits[i];
				h->exits[i] = h->exits[--h->nexits];
				return true;
			}
		}
		struct agent_msg m;
		if (!read_msg(h, &m, TIMEOUT_MS))
			return false;
		if (m.hdr.type == AGENT_EXIT)
			keep_exit(h, &m.u.exit);
		agent_msg_free(&m);
	}
}

/* Reads fd into buf until needle shows up (or EOF when needle is NULL). */
size_t read_until(int fd, char *buf, size_t size, const char *needle, int ms)
{
	size_t len = 0;
	buf[0] = '\0';
	while (len < size - 1 && !(needle && strstr(buf, needle))) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, ms) <= 0)
			break;
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return len;
}

/* The value of "key=" at a line start in out, up to the line end. */
const char *value_of(const char *out, const char *key, char *val, size_t size)
{
	size_t kl = strlen(key);
	for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, key, kl) && l[kl] == '=') {
			snprintf(val, size, "%.*s", (int)strcspn(l + kl + 1, "\r\n"), l + kl + 1);
			return val;
		}
	}
	snprintf(val, size, "<missing>");
	return val;
}

void expect(struct host *h, const char *out, const char *key, const char *want)
{
	char name[64], val[1024];
	snprintf(name, sizeof(name), "ct-%s", key);
	value_of(out, key, val, sizeof(val));
	check(h, name, !strcmp(val, want), "got \"%s\" want \"%s\"", val, want);
}

/* Check "ct-KEY" (or "ct-KEY:PART" for a mount) that KEY's value holds part. */
void expect_has(struct host *h, const char *out, const char *key, const char *part)
{
	char name[128], val[2048];
	if (!strcmp(key, "mounts"))
		snprintf(name, sizeof(name), "ct-mount:%.*s", (int)strcspn(part, ","), part);
	else
		snprintf(name, sizeof(name), "ct-%s", key);
	value_of(out, key, val, sizeof(val));
	check(h, name, strstr(val, part) != NULL, "\"%s\" lacks \"%s\"", val, part);
}

__attribute__((noreturn)) static void selftest_main(const struct agent_config *cfg)
{
	struct host h = {.cfg = cfg, .ctl = -1, .in = -1, .out = -1, .err = -1};
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int i = 0; i < L_COUNT; i++)
		h.lis[i] = listen_on(cfg->port + (uint32_t)i);
	say("AGENT-TEST-HOST rootfs %s, data %s", cfg->test_root[0] ? cfg->test_root : "tmpfs",
	    cfg->test_data[0] ? cfg->test_data : "none");
	if (!cfg->test_root[0] && selftest_tmpfs_rootfs() < 0)
		check(&h, "tmpfs-rootfs", false, "%s", strerror(errno));
	else if (h.lis[L_CTL] < 0 || h.lis[L_CON] < 0)
		check(&h, "listen", false, "vsock loopback: %s", strerror(errno));
	else
		selftest_run(&h);
	say("AGENT-TEST-DONE passed=%u failed=%u", h.pass, h.fail);
	struct agent_msg m, r;
	agent_msg_init(&m, AGENT_SHUTDOWN, 0, 0);
	if (h.ctl >= 0 && request(&h, &m, &r))
		agent_msg_free(&r);
	_exit(h.fail ? 1 : 0);
}

pid_t selftest_spawn(struct agent *a)
{
	pid_t pid = fork();
	if (pid == 0)
		selftest_main(&a->cfg);
	if (pid < 0)
		agent_log("self-test: fork: %s", strerror(errno));
	return pid < 0 ? 0 : pid;
}
