/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gofer against a hostile guest: escape attempts ("..", names with
 * "/", symlinks to /etc and "../../..", a symlink swapped in for a
 * directory under an open fid, a directory moved out of the share),
 * read-only attach points, malformed and random requests, fid and
 * response-size limits, qids across devices.  The escape tests run twice:
 * with openat2 and with the O_NOFOLLOW fallback walk.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/p9client.h"

#define OK(x) assert_int_equal((x), 0)

static int setup(void **state)
{
	return p9fx_setup((struct p9_fixture **)state, false);
}

static int setup_no_openat2(void **state)
{
	return p9fx_setup((struct p9_fixture **)state, true);
}

static int teardown(void **state)
{
	p9fx_teardown(*state);
	return 0;
}

static void assert_qid_eq(const struct p9_qid *a, const struct p9_qid *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->path, b->path);
}

static void test_escape_dotdot(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	struct p9_qid q[P9_MAXWELEM];
	struct p9_getattr a;

	/* ".." at the root stays at the root, however many */
	assert_int_equal(p9c_walk(c, 0, 1, "..", q), 1);
	assert_qid_eq(q, &fx->rootqid);
	assert_int_equal(p9c_walk(c, 0, 2, "../../..", q), 3);
	assert_qid_eq(q, &fx->rootqid);
	OK(p9c_mkdir(c, 0, "d", 0755, NULL));
	assert_int_equal(p9c_walk(c, 0, 3, "d/../..", q), 3);
	assert_qid_eq(q, &fx->rootqid);
	/* the sibling "outside" is not reachable through ".." */
	const char *up_out[] = {"..", "outside", "secret"};
	assert_int_equal(p9c_walkv(c, 0, 4, 3, up_out, q), 1);
	assert_int_equal(p9c_getattr(c, 4, &a), -EBADF); /* partial: no newfid */
	/* names the protocol forbids */
	const char *bad[] = {"", ".", "a/b", "/", "../outside"};
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(p9c_walkv(c, 0, 5, 1, &bad[i], q), -EINVAL);
	assert_int_equal(p9c_mkdir(c, 0, "..", 0755, NULL), -EINVAL);
	assert_int_equal(p9c_mkdir(c, 0, "x/y", 0755, NULL), -EINVAL);
	assert_int_equal(p9c_unlinkat(c, 0, ".", P9_AT_REMOVEDIR), -EINVAL);
	assert_int_equal(p9c_renameat(c, 0, "d", 0, "../escaped"), -EINVAL);
	/* a directory moved out of the share behind an open fid: ".." from
	 * it goes to the share's root, never to the host's parent */
	OK(p9c_mkdir(c, 0, "m", 0755, NULL));
	assert_int_equal(p9c_walk(c, 0, 6, "m", NULL), 1);
	OK(rename(p9fx_path(fx, "root/m"), p9fx_path(fx, "outside/m")));
	assert_int_equal(p9c_walk(c, 6, 7, "..", q), 1);
	assert_qid_eq(q, &fx->rootqid);
	const char *up_secret[] = {"..", "secret"};
	assert_int_equal(p9c_walkv(c, 6, 8, 2, up_secret, q), 1);
}

static void test_escape_symlinks(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	struct p9_qid q;
	struct p9_getattr a;
	struct stat before, after;

	OK(symlink("/etc", p9fx_path(fx, "root/etc")));
	OK(symlink("../../..", p9fx_path(fx, "root/up")));
	OK(symlink("/etc/passwd", p9fx_path(fx, "root/pw")));
	OK(symlink("../outside/secret", p9fx_path(fx, "root/rel")));
	/* walking onto a symlink gives the symlink; through it, nothing */
	assert_int_equal(p9c_walk(c, 0, 1, "etc", &q), 1);
	assert_int_equal(q.type, P9_QTSYMLINK);
	assert_int_equal(p9c_walk(c, 0, 2, "etc/passwd", &q), 1);
	assert_int_equal(p9c_getattr(c, 2, &a), -EBADF);
	assert_int_equal(p9c_walk(c, 0, 3, "up/tmp", NULL), 1);
	assert_int_equal(p9c_walk(c, 0, 3, "rel/x", NULL), 1);
	/* opening a symlink fails with ELOOP */
	assert_int_equal(p9c_walk(c, 0, 4, "pw", NULL), 1);
	assert_int_equal(p9c_lopen(c, 4, 0, NULL), -ELOOP);
	assert_int_equal(p9c_lopen(c, 4, P9_DOTL_RDWR, NULL), -ELOOP);
	assert_int_equal(p9c_walk(c, 0, 5, "rel", NULL), 1);
	assert_int_equal(p9c_lopen(c, 5, 0, NULL), -ELOOP);
	/* creating over a symlink never writes through it */
	OK(stat(p9fx_path(fx, "outside/secret"), &before));
	assert_int_equal(p9c_walk(c, 0, 6, "", NULL), 0);
	assert_int_equal(p9c_lcreate(c, 6, "rel", P9_DOTL_RDWR | P9_DOTL_TRUNC, 0644, NULL),
			 -EEXIST);
	/* attribute changes on the symlink fid touch the link, not its target */
	struct p9_setattr sa = {.fid = 5, .valid = P9_SETATTR_MODE, .mode = 0};
	assert_int_equal(p9c_setattr(c, &sa), -EOPNOTSUPP);
	sa.valid = P9_SETATTR_SIZE;
	assert_int_equal(p9c_setattr(c, &sa), -EINVAL);
	sa.valid = P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET;
	sa.mtime_sec = 12345;
	OK(p9c_setattr(c, &sa));
	if (geteuid() == 0) {
		sa.valid = P9_SETATTR_UID;
		sa.uid = 4321;
		OK(p9c_setattr(c, &sa));
	}
	char buf[64];
	assert_int_equal(p9c_getxattr(c, 5, 9, "user.x", buf, sizeof(buf)), -EOPNOTSUPP);
	OK(stat(p9fx_path(fx, "outside/secret"), &after));
	assert_int_equal(after.st_mtime, before.st_mtime);
	assert_int_equal(after.st_uid, before.st_uid);
	assert_int_equal(after.st_mode, before.st_mode);
	assert_int_equal(after.st_size, 6);
	/* a hard link of the symlink is another symlink, inside */
	OK(p9c_link(c, 0, 5, "rel2"));
	assert_int_equal(p9c_walk(c, 0, 7, "rel2", &q), 1);
	assert_int_equal(q.type, P9_QTSYMLINK);
	assert_int_equal(p9c_mkdir(c, 5, "sub", 0755, NULL), -ENOTDIR);
}

static void count_not_secret(const struct p9_dirent *d, void *arg)
{
	assert_string_not_equal(d->name, "secret");
	(*(int *)arg)++;
}

static void test_escape_swapped_dir(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	struct p9_qid q;
	char buf[64];

	OK(p9c_mkdir(c, 0, "d", 0755, NULL));
	OK(p9fx_write(fx, "root/d/inside", "in"));
	assert_int_equal(p9c_walk(c, 0, 1, "d", NULL), 1);
	assert_int_equal(p9c_walk(c, 0, 2, "d", NULL), 1);
	OK(p9c_lopen(c, 2, 0, NULL));
	/* swap the directory for a symlink to a directory outside */
	OK(rename(p9fx_path(fx, "root/d"), p9fx_path(fx, "root/d.old")));
	OK(symlink(p9fx_path(fx, "outside"), p9fx_path(fx, "root/d")));
	/* the fids still name the original directory */
	assert_int_equal(p9c_walk(c, 1, 3, "secret", NULL), -ENOENT);
	assert_int_equal(p9c_walk(c, 1, 3, "inside", NULL), 1);
	OK(p9c_lopen(c, 3, 0, NULL));
	assert_int_equal(p9c_read(c, 3, 0, buf, sizeof(buf)), 2);
	/* a fresh walk through the name stops at the symlink */
	assert_int_equal(p9c_walk(c, 0, 4, "d/secret", &q), 1);
	assert_int_equal(q.type, P9_QTSYMLINK);
	/* creating through the old fid lands in the original directory */
	assert_int_equal(p9c_walk(c, 1, 5, "", NULL), 0);
	OK(p9c_lcreate(c, 5, "new", P9_DOTL_WRONLY, 0644, NULL));
	assert_int_equal(access(p9fx_path(fx, "root/d.old/new"), F_OK), 0);
	assert_int_equal(access(p9fx_path(fx, "outside/new"), F_OK), -1);
	OK(p9c_unlinkat(c, 1, "inside", 0));
	assert_int_equal(access(p9fx_path(fx, "outside/secret"), F_OK), 0);
	/* path-based removal notices the name no longer holds its file */
	assert_int_equal(p9c_walk(c, 1, 6, "", NULL), 0);
	struct p9_msg tx = {.type = P9_TREMOVE, .u.fid.fid = 6};
	assert_int_equal(p9c_rpc(c, &tx, &c->rx), -ESTALE);
	assert_int_equal(access(p9fx_path(fx, "outside"), F_OK), 0);
	/* the directory reopened for reading lists the original entries */
	uint64_t next;
	int n = 0;
	assert_true(p9c_readdir(c, 2, 0, 8192, count_not_secret, &n, &next) >= 0);
	assert_int_equal(n, 3); /* ".", "..", "new" */
}

static void test_readonly(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	char buf[64];
	struct p9_msg tx;

	OK(p9c_attach(c, 10, "ro", 0, NULL));
	assert_int_equal(p9c_walk(c, 10, 11, "file", NULL), 1);
	assert_int_equal(p9c_lopen(c, 11, P9_DOTL_WRONLY, NULL), -EROFS);
	assert_int_equal(p9c_lopen(c, 11, P9_DOTL_RDWR, NULL), -EROFS);
	assert_int_equal(p9c_lopen(c, 11, P9_DOTL_TRUNC, NULL), -EROFS);
	assert_int_equal(p9c_lopen(c, 11, P9_DOTL_APPEND, NULL), -EROFS);
	struct p9_setattr sa = {.fid = 11, .valid = P9_SETATTR_MODE, .mode = 0777};
	assert_int_equal(p9c_setattr(c, &sa), -EROFS);
	sa.valid = P9_SETATTR_MTIME;
	assert_int_equal(p9c_setattr(c, &sa), -EROFS);
	assert_int_equal(p9c_setxattr(c, 11, 12, "user.x", "v", 1, 0), -EROFS);
	assert_int_equal(p9c_walk(c, 10, 12, "", NULL), 0);
	assert_int_equal(p9c_lcreate(c, 12, "new", P9_DOTL_WRONLY, 0644, NULL), -EROFS);
	assert_int_equal(p9c_mkdir(c, 10, "d", 0755, NULL), -EROFS);
	assert_int_equal(p9c_symlink(c, 10, "s", "t", NULL), -EROFS);
	assert_int_equal(p9c_mknod(c, 10, "p", S_IFIFO | 0644, 0, 0, NULL), -EROFS);
	assert_int_equal(p9c_unlinkat(c, 10, "file", 0), -EROFS);
	assert_int_equal(p9c_renameat(c, 10, "file", 10, "moved"), -EROFS);
	assert_int_equal(p9c_link(c, 10, 11, "hard"), -EROFS);
	/* across attach points: refused too */
	assert_int_equal(p9c_link(c, 0, 11, "hard"), -EXDEV);
	assert_int_equal(p9c_renameat(c, 10, "file", 0, "stolen"), -EXDEV);
	tx = (struct p9_msg){.type = P9_TRENAME, .u.rename = {.fid = 11, .dfid = 10}};
	strcpy(tx.u.rename.name, "moved");
	assert_int_equal(p9c_rpc(c, &tx, &c->rx), -EROFS);
	tx = (struct p9_msg){.type = P9_TREMOVE, .u.fid.fid = 12};
	assert_int_equal(p9c_rpc(c, &tx, &c->rx), -EROFS);
	/* reading works, and the host file is untouched */
	OK(p9c_lopen(c, 11, 0, NULL));
	assert_int_equal(p9c_read(c, 11, 0, buf, sizeof(buf)), 7);
	assert_int_equal(p9c_write(c, 11, 0, "x", 1), -EBADF);
	assert_int_equal(p9fx_read(fx, "ro/file", buf, sizeof(buf)), 7);
	assert_string_equal(buf, "ro data");
	struct stat st;
	OK(stat(p9fx_path(fx, "ro/file"), &st));
	assert_int_equal(st.st_mode & 07777, 0644);
}

/* Raw bytes, answered with an Rlerror (never a crash, never silence). */
static int raw(struct p9c *c, const void *bytes, size_t len, uint16_t *tag)
{
	int r = p9c_raw(c, bytes, len, &c->rx);
	*tag = c->rx.tag;
	assert_true(p9c_last_len(c) >= P9_HDR_SIZE);
	return r;
}

static void test_malformed(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	uint16_t tag;

	static const unsigned char tiny[] = {9, 0, 0};
	assert_int_equal(raw(c, tiny, sizeof(tiny), &tag), -EPROTO);
	assert_int_equal(c->rx.type, P9_RLERROR);
	assert_int_equal(tag, P9_NOTAG);
	/* size field beyond the buffers */
	static const unsigned char longer[] = {100, 0, 0, 0, P9_TCLUNK, 7, 0, 0, 0, 0, 0};
	assert_int_equal(raw(c, longer, sizeof(longer), &tag), -EPROTO);
	assert_int_equal(tag, 7);
	/* unknown type, and a response type sent as a request */
	static const unsigned char unknown[] = {7, 0, 0, 0, 200, 8, 0};
	assert_int_equal(raw(c, unknown, sizeof(unknown), &tag), -EOPNOTSUPP);
	assert_int_equal(tag, 8);
	static const unsigned char rmsg[] = {11, 0, 0, 0, P9_RCLUNK + 0, 9, 0, 0, 0, 0, 0};
	assert_int_equal(raw(c, rmsg, 7, &tag), -EPROTO); /* size 11 > 7 */
	static const unsigned char rclunk[] = {7, 0, 0, 0, P9_RCLUNK, 9, 0};
	assert_int_equal(raw(c, rclunk, sizeof(rclunk), &tag), -EOPNOTSUPP);
	static const unsigned char lerr[] = {11, 0, 0, 0, P9_RLERROR, 9, 0, 1, 0, 0, 0};
	assert_int_equal(raw(c, lerr, sizeof(lerr), &tag), -EOPNOTSUPP);
	/* Twalk with 17 names */
	unsigned char walk[64] = {17, 0, 0, 0, P9_TWALK, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 17, 0};
	assert_int_equal(raw(c, walk, 17, &tag), -EINVAL);
	/* Twalk announcing 2 names and carrying none */
	walk[15] = 2;
	assert_int_equal(raw(c, walk, 17, &tag), -EPROTO);
	/* a response area smaller than an Rlerror gets nothing at all */
	c->resp_limit = P9_IOHDR_SIZE - 1;
	assert_int_equal(p9c_raw(c, unknown, sizeof(unknown), &c->rx), -EPROTO);
	assert_int_equal(p9c_last_len(c), 0);
	/* a response that does not fit becomes an Rlerror that does */
	OK(symlink("a-long-target-that-will-not-fit-in-40-bytes", p9fx_path(fx, "root/s")));
	c->resp_limit = 0;
	assert_int_equal(p9c_walk(c, 0, 1, "s", NULL), 1);
	c->resp_limit = 40;
	char buf[64];
	assert_int_equal(p9c_readlink(c, 1, buf, sizeof(buf)), -EMSGSIZE);
	c->resp_limit = 0;
	OK(p9c_readlink(c, 1, buf, sizeof(buf)));
}

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Random requests, and valid requests with random bytes flipped: every one
 * gets a well-formed response. */
static void test_random_requests(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	unsigned char msg[512];
	uint32_t seed = 0x9e3779b9;

	OK(p9fx_write(fx, "root/f", "content"));
	c->resp_limit = 8192;
	for (int i = 0; i < 20000; i++) {
		size_t len = 7 + xorshift(&seed) % 120;
		for (size_t j = 0; j < len; j++)
			msg[j] = (unsigned char)xorshift(&seed);
		uint32_t size = (xorshift(&seed) & 1) ? (uint32_t)len : msg[0];
		msg[0] = (unsigned char)size, msg[1] = msg[2] = msg[3] = 0;
		/* a known request type most of the time */
		if (xorshift(&seed) % 4)
			msg[4] = (unsigned char)((xorshift(&seed) % 60) * 2 + 6);
		c->req_split = xorshift(&seed) % 9;
		c->resp_split = xorshift(&seed) % 50;
		p9c_raw(c, msg, len, &c->rx);
		assert_true(p9c_last_len(c) >= P9_HDR_SIZE);
		/* the client decoded the answer (size field checked there) */
		if (!p9_server_msize(fx->s)) {
			c->req_split = c->resp_split = 0;
			OK(p9c_version(c, 65536, "9P2000.L", NULL, NULL));
			p9c_attach(c, 0, "", 0, NULL);
		}
	}
	c->req_split = c->resp_split = c->resp_limit = 0;
	/* the server is still fine */
	OK(p9c_version(c, 65536, "9P2000.L", NULL, NULL));
	OK(p9c_attach(c, 0, "", 0, NULL));
	assert_int_equal(p9c_walk(c, 0, 1, "f", NULL), 1);
}

static void test_fid_limit(void **state)
{
	struct p9_fixture *fx = *state;
	const struct p9_attach_point ap = {.aname = "/", .path = fx->root, .fd = -1};
	const struct p9_server_config cfg = {
	    .attach = &ap, .nattach = 1, .max_fids = 4, .proc_fd = -1};
	struct p9_server *s;
	struct p9c c;

	OK(p9_server_new(&cfg, &s, NULL));
	OK(p9c_init(&c, s));
	OK(p9c_version(&c, 8192, "9P2000.L", NULL, NULL));
	OK(p9c_attach(&c, 0, "", 0, NULL));
	for (uint32_t i = 1; i < 4; i++)
		assert_int_equal(p9c_walk(&c, 0, i, "", NULL), 0);
	assert_int_equal(p9c_walk(&c, 0, 4, "", NULL), -EMFILE);
	OK(p9c_clunk(&c, 3));
	assert_int_equal(p9c_walk(&c, 0, 4, "", NULL), 0);
	p9c_fini(&c);
	p9_server_free(s);
	/* bad configurations are refused with a message */
	struct kv_err err = {0};
	const struct p9_attach_point bad = {.aname = "/", .path = "/nonexistent/dir", .fd = -1};
	const struct p9_server_config bcfg = {.attach = &bad, .nattach = 1, .proc_fd = -1};
	assert_int_equal(p9_server_new(&bcfg, &s, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent/dir"));
	const struct p9_server_config none = {.proc_fd = -1};
	assert_int_equal(p9_server_new(&none, &s, &err), -EINVAL);
}

static void test_qids_across_devices(void **state)
{
	struct p9_fixture *fx = *state;
	struct stat a, b;

	if (stat("/dev/shm", &b) != 0 || stat(fx->root, &a) != 0 || a.st_dev == b.st_dev) {
		skip();
		return;
	}
	int fd = open("/dev/shm", O_PATH | O_DIRECTORY);
	const struct p9_attach_point ap[] = {
	    {.aname = "/", .path = fx->root, .fd = -1},
	    {.aname = "shm", .fd = fd, .readonly = true},
	};
	const struct p9_server_config cfg = {.attach = ap, .nattach = 2, .proc_fd = -1};
	struct p9_server *s;
	struct p9c c;
	struct p9_qid q1, q2;

	OK(p9_server_new(&cfg, &s, NULL));
	close(fd);
	OK(p9c_init(&c, s));
	OK(p9c_version(&c, 8192, "9P2000.L", NULL, NULL));
	OK(p9c_attach(&c, 0, "", 0, &q1));
	OK(p9c_attach(&c, 1, "shm", 0, &q2));
	assert_int_not_equal(q1.path >> 48, q2.path >> 48);
	assert_int_equal(q1.path & ((1ULL << 48) - 1), (uint64_t)a.st_ino);
	p9c_fini(&c);
	p9_server_free(s);
}

int main(void)
{
	umask(0);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_escape_dotdot, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_escape_dotdot, setup_no_openat2, teardown),
	    cmocka_unit_test_setup_teardown(test_escape_symlinks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_escape_symlinks, setup_no_openat2, teardown),
	    cmocka_unit_test_setup_teardown(test_escape_swapped_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_escape_swapped_dir, setup_no_openat2, teardown),
	    cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_random_requests, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fid_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_qids_across_devices, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
