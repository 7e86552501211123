/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox control socket's wire (vmm/ctl.h): one JSON object per
 * SOCK_SEQPACKET packet, fds as SCM_RIGHTS, error replies, limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/ctl.h"

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

static void test_round_trip_with_fds(void **state)
{
	(void)state;
	int sv[2], p[2];
	pair(sv);
	assert_int_equal(pipe(p), 0);
	json_t *req = json_pack("{s:s, s:i}", "op", "exec", "n", 42);
	struct kv_err err = {0};
	int fds[2] = {p[0], p[1]};
	assert_int_equal(ctl_send(sv[0], req, fds, 2, &err), 0);
	json_t *got = NULL;
	int rfds[CTL_MAX_FDS];
	unsigned n = 0;
	assert_int_equal(ctl_recv(sv[1], 1000, &got, rfds, &n, &err), 0);
	assert_string_equal(json_string_value(json_object_get(got, "op")), "exec");
	assert_int_equal(json_integer_value(json_object_get(got, "n")), 42);
	assert_int_equal(n, 2);
	/* the received write end reaches the original read end */
	assert_int_equal(write(rfds[1], "x", 1), 1);
	char c = 0;
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'x');
	assert_true(fcntl(rfds[0], F_GETFD) & FD_CLOEXEC);
	close(rfds[0]);
	close(rfds[1]);
	json_decref(req);
	json_decref(got);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

static void test_error_reply_becomes_errno(void **state)
{
	(void)state;
	int sv[2];
	pair(sv);
	json_t *rep = ctl_error_reply(EBUSY, "busy right now");
	struct kv_err err = {0};
	assert_int_equal(ctl_send(sv[1], rep, NULL, 0, &err), 0);
	json_t *req = json_pack("{s:s}", "op", "start");
	json_t *reply = (json_t *)1;
	assert_int_equal(ctl_call_on(sv[0], req, NULL, 0, 1000, &reply, &err), -EBUSY);
	assert_null(reply);
	assert_string_equal(err.msg, "busy right now");
	json_decref(req);
	json_decref(rep);
	close(sv[0]);
	close(sv[1]);
}

static void test_timeout_and_hangup(void **state)
{
	(void)state;
	int sv[2];
	pair(sv);
	json_t *got = NULL;
	struct kv_err err = {0};
	assert_int_equal(ctl_recv(sv[0], 50, &got, NULL, NULL, &err), -ETIMEDOUT);
	close(sv[1]);
	assert_int_equal(ctl_recv(sv[0], 1000, &got, NULL, NULL, &err), -ECONNRESET);
	assert_null(got);
	close(sv[0]);
}

static void test_malformed_and_oversized(void **state)
{
	(void)state;
	int sv[2];
	pair(sv);
	struct kv_err err = {0};
	json_t *got = NULL;
	assert_int_equal(send(sv[1], "not json", 8, 0), 8);
	assert_int_equal(ctl_recv(sv[0], 1000, &got, NULL, NULL, &err), -EBADMSG);
	assert_int_equal(send(sv[1], "[1,2]", 5, 0), 5); /* JSON, not an object */
	assert_int_equal(ctl_recv(sv[0], 1000, &got, NULL, NULL, &err), -EBADMSG);
	/* a string bigger than a packet may be is refused by the sender */
	char *big = malloc(CTL_MSG_MAX + 16);
	memset(big, 'a', CTL_MSG_MAX + 15);
	big[CTL_MSG_MAX + 15] = 0;
	json_t *o = json_pack("{s:s}", "x", big);
	assert_int_equal(ctl_send(sv[1], o, NULL, 0, &err), -EMSGSIZE);
	json_decref(o);
	free(big);
	int fds[CTL_MAX_FDS + 1] = {0, 0, 0, 0};
	o = json_object();
	assert_int_equal(ctl_send(sv[1], o, fds, CTL_MAX_FDS + 1, &err), -EINVAL);
	json_decref(o);
	close(sv[0]);
	close(sv[1]);
}

static void test_connect_to_missing_socket(void **state)
{
	(void)state;
	char dir[] = "/tmp/kvbox-ctl-test-XXXXXX";
	assert_non_null(mkdtemp(dir));
	int dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	struct kv_err err = {0};
	assert_true(ctl_connect(dfd, &err) < 0);
	assert_non_null(strstr(err.msg, "not running"));
	close(dfd);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_with_fds),
	    cmocka_unit_test(test_error_reply_becomes_errno),
	    cmocka_unit_test(test_timeout_and_hangup),
	    cmocka_unit_test(test_malformed_and_oversized),
	    cmocka_unit_test(test_connect_to_missing_socket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
