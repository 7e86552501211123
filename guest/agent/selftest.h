/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The self-test host (kvbox.agent_test=1), split in two: selftest.c is the
 * harness (vsock listeners, framing, requests and replies, one console
 * line per check), selftest_cases.c the container spec and the checks.
 * Only these two files include this header.
 */
#ifndef KVBOX_GUEST_AGENT_SELFTEST_H
#define KVBOX_GUEST_AGENT_SELFTEST_H

#include "guest/agent/agent.h"

#define TIMEOUT_MS  120000
#define TEST_ROOT   "/run/kvbox-test-root"
#define OUT_MAX	    16384
#define CAP_CHOWN_B (1ull << 0)
#define CAP_KILL_B  (1ull << 5)
#define CAP_NBS_B   (1ull << 10)

enum { L_CTL, L_IN, L_OUT, L_ERR, L_CON, L_COUNT };

struct host {
	const struct agent_config *cfg;
	int ctl;
	int lis[L_COUNT];
	uint32_t next_id;
	struct agent_exit exits[64];
	unsigned nexits;
	unsigned pass, fail;
	uint32_t init_pid;
	int in, out, err; /* the init's stdio streams */
};

void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool check(struct host *h, const char *name, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int accept_within(int lfd, int ms);
void send_frame(struct host *h, const uint8_t *buf, size_t len);
bool read_msg(struct host *h, struct agent_msg *m, int ms);
void keep_exit(struct host *h, const struct agent_exit *e);
bool request(struct host *h, struct agent_msg *m, struct agent_msg *reply);
bool simple(struct host *h, struct agent_msg *m, const char *name, int want_err);
bool wait_exit(struct host *h, uint32_t pid, struct agent_exit *out);
size_t read_until(int fd, char *buf, size_t size, const char *needle, int ms);
const char *value_of(const char *out, const char *key, char *val, size_t size);
void expect(struct host *h, const char *out, const char *key, const char *want);
void expect_has(struct host *h, const char *out, const char *key, const char *part);

/* selftest_cases.c */
int selftest_tmpfs_rootfs(void);
void selftest_run(struct host *h);

#endif
