/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gofer's 9P server against a temp directory, driven by the test
 * client: the POSIX checklist at the 9P level (create/read/write, append,
 * truncate, rename over existing, fids following a renamed directory,
 * hard links, symlinks, chmod/chown,
 * utimes, mkdir/rmdir, readdir of 10,000 entries, xattrs, fifo/socket
 * nodes, unlink-while-open, locks, statfs, fsync), session rules and
 * scatter-gather shapes.  Escapes and hostile input: test_gofer_escape.c.
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
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/p9client.h"

#define OK(x) assert_int_equal((x), 0)

static int setup(void **state)
{
	return p9fx_setup((struct p9_fixture **)state, false);
}

static int teardown(void **state)
{
	p9fx_teardown(*state);
	return 0;
}

static void test_version_session(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	struct p9_getattr a;
	char ver[P9_NAME_MAX + 1];
	uint32_t msize;

	OK(p9c_version(c, 8192, "9P2000.u", &msize, ver));
	assert_string_equal(ver, "unknown");
	assert_int_equal(p9_server_msize(fx->s), 0);
	/* nothing but Tversion before a session */
	assert_int_equal(p9c_attach(c, 0, "", 0, NULL), -EPROTO);
	assert_int_equal(p9c_version(c, 1024, "9P2000.L", NULL, NULL), -EINVAL);
	OK(p9c_version(c, 8192, "9P2000.L", &msize, ver));
	assert_int_equal(msize, 8192);
	assert_string_equal(ver, "9P2000.L");
	/* a new session dropped the old fids */
	assert_int_equal(p9c_getattr(c, 0, &a), -EBADF);
	OK(p9c_attach(c, 0, "", 0, NULL));
	/* a read larger than msize is clamped to msize - 11 */
	OK(p9fx_write(fx, "root/big", ""));
	assert_int_equal(truncate(p9fx_path(fx, "root/big"), 100000), 0);
	assert_int_equal(p9c_walk(c, 0, 1, "big", NULL), 1);
	OK(p9c_lopen(c, 1, 0, NULL));
	char buf[65536];
	assert_int_equal(p9c_read(c, 1, 0, buf, sizeof(buf)), 8192 - 11);
}

static void test_attach(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	struct p9_qid q;
	struct p9_msg tx = {.type = P9_TATTACH};

	OK(p9c_attach(c, 1, "ro", 0, &q));
	assert_int_equal(q.type, P9_QTDIR);
	OK(p9c_attach(c, 2, "/", 0, &q));
	assert_memory_equal(&q, &fx->rootqid, sizeof(q));
	assert_int_equal(p9c_attach(c, 3, "nope", 0, NULL), -ENOENT);
	assert_int_equal(p9c_attach(c, 0, "", 0, NULL), -EEXIST);
	tx.u.attach.fid = 4;
	tx.u.attach.afid = 7;
	assert_int_equal(p9c_rpc(c, &tx, &c->rx), -EINVAL);
	tx.type = P9_TAUTH;
	tx.u.auth.afid = 7;
	assert_int_equal(p9c_rpc(c, &tx, &c->rx), -EOPNOTSUPP);
	tx = (struct p9_msg){.type = P9_TFLUSH, .u.flush.oldtag = 3};
	OK(p9c_rpc(c, &tx, &c->rx));
}

static void test_create_read_write(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	struct p9_getattr a;
	struct p9_qid q;
	char buf[100];

	assert_int_equal(p9c_walk(c, 0, 1, "", NULL), 0);
	OK(p9c_lcreate(c, 1, "f", P9_DOTL_RDWR, 0640, &q));
	assert_int_equal(q.type, P9_QTFILE);
	/* iounit: whole pages that fit after Linux's 24-byte Twrite header */
	assert_int_equal(c->rx.u.ropen.iounit, (P9_MAX_MSIZE - 24) / 4096 * 4096);
	assert_int_equal(p9c_write(c, 1, 0, "hello world", 11), 11);
	assert_int_equal(p9c_read(c, 1, 6, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "world", 5);
	assert_int_equal(p9fx_read(fx, "root/f", buf, sizeof(buf)), 11);
	assert_string_equal(buf, "hello world");
	OK(p9c_getattr(c, 1, &a));
	assert_int_equal(a.size, 11);
	assert_int_equal(a.mode, S_IFREG | 0640);
	/* the same file through a fresh walk and a read-only open */
	assert_int_equal(p9c_walk(c, 0, 2, "f", &q), 1);
	OK(p9c_lopen(c, 2, 0, NULL));
	assert_int_equal(c->rx.u.ropen.iounit, (P9_MAX_MSIZE - 24) / 4096 * 4096);
	assert_int_equal(p9c_read(c, 2, 0, buf, 5), 5);
	assert_int_equal(p9c_write(c, 2, 0, "x", 1), -EBADF);
	assert_int_equal(p9c_lopen(c, 2, 0, NULL), -EBUSY);
	/* reading past the end gives 0 bytes */
	assert_int_equal(p9c_read(c, 2, 1000, buf, 5), 0);
	/* lcreate never opens an existing file */
	assert_int_equal(p9c_walk(c, 0, 3, "", NULL), 0);
	assert_int_equal(p9c_lcreate(c, 3, "f", P9_DOTL_RDWR, 0644, NULL), -EEXIST);
	OK(p9c_clunk(c, 1));
	OK(p9c_clunk(c, 2));
	assert_int_equal(p9c_clunk(c, 2), -EBADF);
	/* I/O on fids that were never opened */
	assert_int_equal(p9c_walk(c, 0, 4, "f", NULL), 1);
	assert_int_equal(p9c_read(c, 4, 0, buf, 5), -EBADF);
	assert_int_equal(p9c_read(c, 99, 0, buf, 5), -EBADF);
}

static void test_append_truncate(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	struct p9_setattr sa = {.fid = 1, .valid = P9_SETATTR_SIZE, .size = 4};
	char buf[100];

	OK(p9fx_write(fx, "root/a", "abc"));
	assert_int_equal(p9c_walk(c, 0, 1, "a", NULL), 1);
	OK(p9c_lopen(c, 1, P9_DOTL_WRONLY | P9_DOTL_APPEND, NULL));
	assert_int_equal(p9c_write(c, 1, 0, "def", 3), 3);
	assert_int_equal(p9fx_read(fx, "root/a", buf, sizeof(buf)), 6);
	assert_string_equal(buf, "abcdef");
	/* truncate through the opened (writable) fd */
	OK(p9c_setattr(c, &sa));
	assert_int_equal(p9fx_read(fx, "root/a", buf, sizeof(buf)), 4);
	/* truncate a fid that is not open (reopened for writing) */
	OK(p9fx_write(fx, "root/t", "0123456789"));
	assert_int_equal(p9c_walk(c, 0, 2, "t", NULL), 1);
	sa.fid = 2;
	sa.size = 3;
	OK(p9c_setattr(c, &sa));
	assert_int_equal(p9fx_read(fx, "root/t", buf, sizeof(buf)), 3);
	/* grow (sparse) */
	sa.size = 1 << 20;
	OK(p9c_setattr(c, &sa));
	struct stat st;
	OK(stat(p9fx_path(fx, "root/t"), &st));
	assert_int_equal(st.st_size, 1 << 20);
	/* O_TRUNC on open */
	OK(p9c_lopen(c, 2, P9_DOTL_WRONLY | P9_DOTL_TRUNC, NULL));
	OK(stat(p9fx_path(fx, "root/t"), &st));
	assert_int_equal(st.st_size, 0);
	/* a directory cannot be truncated or opened for writing */
	assert_int_equal(p9c_walk(c, 0, 3, "", NULL), 0);
	sa.fid = 3;
	assert_int_equal(p9c_setattr(c, &sa), -EISDIR);
	assert_int_equal(p9c_lopen(c, 3, P9_DOTL_RDWR, NULL), -EISDIR);
}

static void test_rename(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	struct p9_msg tx = {.type = P9_TRENAME};
	char buf[100];

	OK(p9fx_write(fx, "root/a", "A"));
	OK(p9fx_write(fx, "root/b", "B"));
	OK(p9c_renameat(c, 0, "a", 0, "b"));
	assert_int_equal(p9fx_read(fx, "root/b", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "A");
	assert_int_equal(p9c_walk(c, 0, 1, "a", NULL), -ENOENT);
	assert_int_equal(p9c_renameat(c, 0, "a", 0, "b"), -ENOENT);
	/* Trename moves the file a fid names, and the fid follows it */
	OK(p9c_mkdir(c, 0, "d", 0755, NULL));
	assert_int_equal(p9c_walk(c, 0, 2, "b", NULL), 1);
	assert_int_equal(p9c_walk(c, 0, 3, "d", NULL), 1);
	tx.u.rename.fid = 2;
	tx.u.rename.dfid = 3;
	strcpy(tx.u.rename.name, "moved");
	OK(p9c_rpc(c, &tx, &c->rx));
	assert_int_equal(p9fx_read(fx, "root/d/moved", buf, sizeof(buf)), 1);
	tx = (struct p9_msg){.type = P9_TREMOVE, .u.fid.fid = 2};
	OK(p9c_rpc(c, &tx, &c->rx));
	assert_int_equal(access(p9fx_path(fx, "root/d/moved"), F_OK), -1);
	assert_int_equal(p9c_clunk(c, 2), -EBADF); /* Tremove clunked it */
	/* renaming the root is refused */
	assert_int_equal(p9c_walk(c, 0, 4, "", NULL), 0);
	tx = (struct p9_msg){.type = P9_TRENAME, .u.rename = {.fid = 4, .dfid = 3}};
	strcpy(tx.u.rename.name, "root");
	assert_int_equal(p9c_rpc(c, &tx, &c->rx), -EBUSY);
	tx = (struct p9_msg){.type = P9_TREMOVE, .u.fid.fid = 4};
	assert_int_equal(p9c_rpc(c, &tx, &c->rx), -EBUSY);
	assert_int_equal(p9c_clunk(c, 4), -EBADF);
}

/* Fids at or below a renamed name follow it (their recorded path is what
 * ".." , Tremove and a saved session use), whichever fid did the rename. */
static void test_rename_moves_fids(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	struct p9_qid q, z;
	struct p9_msg tx;

	OK(p9c_mkdir(c, 0, "a", 0755, NULL));
	OK(mkdir(p9fx_path(fx, "root/a/b"), 0755));
	OK(p9fx_write(fx, "root/a/b/c", "C"));
	assert_int_equal(p9c_walk(c, 0, 1, "a/b/c", NULL), 3);
	assert_int_equal(p9c_walk(c, 0, 2, "a/b", NULL), 2);
	/* Trenameat through another fid (the root) */
	OK(p9c_renameat(c, 0, "a", 0, "z"));
	assert_int_equal(p9c_walk(c, 0, 3, "z", &z), 1);
	assert_int_equal(p9c_walk(c, 2, 4, "..", &q), 1);
	assert_int_equal(q.path, z.path);
	tx = (struct p9_msg){.type = P9_TREMOVE, .u.fid.fid = 1};
	OK(p9c_rpc(c, &tx, &c->rx));
	assert_int_equal(access(p9fx_path(fx, "root/z/b/c"), F_OK), -1);
	/* Trename of a directory fid: the fids below follow as well */
	OK(p9fx_write(fx, "root/z/b/d", "D"));
	assert_int_equal(p9c_walk(c, 2, 5, "d", NULL), 1);
	tx = (struct p9_msg){.type = P9_TRENAME, .u.rename = {.fid = 2, .dfid = 0}};
	strcpy(tx.u.rename.name, "y");
	OK(p9c_rpc(c, &tx, &c->rx));
	tx = (struct p9_msg){.type = P9_TREMOVE, .u.fid.fid = 5};
	OK(p9c_rpc(c, &tx, &c->rx));
	assert_int_equal(access(p9fx_path(fx, "root/y/d"), F_OK), -1);
	/* a fid whose own file another fid renamed; "ab" is not below "a" */
	OK(p9fx_write(fx, "root/e", "E"));
	OK(p9fx_write(fx, "root/ea", "EA"));
	assert_int_equal(p9c_walk(c, 0, 6, "e", NULL), 1);
	assert_int_equal(p9c_walk(c, 0, 7, "ea", NULL), 1);
	OK(p9c_renameat(c, 0, "e", 3, "e2"));
	tx = (struct p9_msg){.type = P9_TREMOVE, .u.fid.fid = 6};
	OK(p9c_rpc(c, &tx, &c->rx));
	assert_int_equal(access(p9fx_path(fx, "root/z/e2"), F_OK), -1);
	tx = (struct p9_msg){.type = P9_TREMOVE, .u.fid.fid = 7};
	OK(p9c_rpc(c, &tx, &c->rx));
	assert_int_equal(access(p9fx_path(fx, "root/ea"), F_OK), -1);
}

static void test_link_symlink(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	struct p9_getattr a;
	struct p9_qid q;
	char buf[P9_PATH_MAX];

	OK(p9fx_write(fx, "root/h", "H"));
	assert_int_equal(p9c_walk(c, 0, 1, "h", NULL), 1);
	OK(p9c_link(c, 0, 1, "h2"));
	OK(p9c_getattr(c, 1, &a));
	assert_int_equal(a.nlink, 2);
	assert_int_equal(p9fx_read(fx, "root/h2", buf, sizeof(buf)), 1);
	assert_int_equal(p9c_link(c, 0, 1, "h2"), -EEXIST);
	OK(p9c_mkdir(c, 0, "dir", 0755, NULL));
	assert_int_equal(p9c_walk(c, 0, 2, "dir", NULL), 1);
	assert_int_equal(p9c_link(c, 0, 2, "dir2"), -EPERM);
	/* symlink + readlink; the target is only ever stored */
	OK(p9c_symlink(c, 0, "s", "target/x", &q));
	assert_int_equal(q.type, P9_QTSYMLINK);
	assert_int_equal(readlink(p9fx_path(fx, "root/s"), buf, sizeof(buf)), 8);
	assert_int_equal(p9c_walk(c, 0, 3, "s", &q), 1);
	assert_int_equal(q.type, P9_QTSYMLINK);
	OK(p9c_readlink(c, 3, buf, sizeof(buf)));
	assert_string_equal(buf, "target/x");
	assert_int_equal(p9c_readlink(c, 1, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(p9c_lopen(c, 3, 0, NULL), -ELOOP);
	/* a maximal target round-trips */
	memset(buf, 'z', P9_PATH_MAX - 1);
	buf[P9_PATH_MAX - 1] = '\0';
	OK(p9c_symlink(c, 0, "long", buf, NULL));
	assert_int_equal(p9c_walk(c, 0, 4, "long", NULL), 1);
	OK(p9c_readlink(c, 4, buf, sizeof(buf)));
	assert_int_equal(strlen(buf), P9_PATH_MAX - 1);
}

static void test_chmod_chown_utimes(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	struct p9_getattr a;
	struct p9_setattr sa = {.fid = 1, .valid = P9_SETATTR_MODE, .mode = 0600};

	OK(p9fx_write(fx, "root/m", "M"));
	assert_int_equal(p9c_walk(c, 0, 1, "m", NULL), 1);
	OK(p9c_setattr(c, &sa));
	OK(p9c_getattr(c, 1, &a));
	assert_int_equal(a.mode, S_IFREG | 0600);
	if (geteuid() == 0) {
		sa = (struct p9_setattr){
		    .fid = 1, .valid = P9_SETATTR_UID | P9_SETATTR_GID, .uid = 1234, .gid = 5678};
		OK(p9c_setattr(c, &sa));
		OK(p9c_getattr(c, 1, &a));
		assert_int_equal(a.uid, 1234);
		assert_int_equal(a.gid, 5678);
	}
	sa = (struct p9_setattr){.fid = 1,
				 .valid = P9_SETATTR_ATIME | P9_SETATTR_ATIME_SET |
					  P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET,
				 .atime_sec = 1000,
				 .atime_nsec = 5,
				 .mtime_sec = 2000,
				 .mtime_nsec = 7};
	OK(p9c_setattr(c, &sa));
	OK(p9c_getattr(c, 1, &a));
	assert_int_equal(a.atime_sec, 1000);
	assert_int_equal(a.atime_nsec, 5);
	assert_int_equal(a.mtime_sec, 2000);
	assert_int_equal(a.mtime_nsec, 7);
	/* MTIME without MTIME_SET means "now"; atime is left alone */
	sa.valid = P9_SETATTR_MTIME;
	OK(p9c_setattr(c, &sa));
	OK(p9c_getattr(c, 1, &a));
	assert_true(a.mtime_sec + 60 >= (uint64_t)time(NULL));
	assert_int_equal(a.atime_sec, 1000);
	sa.valid = P9_SETATTR_ATIME | P9_SETATTR_ATIME_SET;
	sa.atime_nsec = 1000000000;
	assert_int_equal(p9c_setattr(c, &sa), -EINVAL);
	/* times through an opened fid too */
	OK(p9c_lopen(c, 1, 0, NULL));
	sa.atime_nsec = 9;
	OK(p9c_setattr(c, &sa));
	OK(p9c_getattr(c, 1, &a));
	assert_int_equal(a.atime_nsec, 9);
}

static void test_mkdir_rmdir(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	struct p9_qid q;
	struct stat st;

	OK(p9c_mkdir(c, 0, "d", 0750, &q));
	assert_int_equal(q.type, P9_QTDIR);
	OK(stat(p9fx_path(fx, "root/d"), &st));
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(p9c_mkdir(c, 0, "d", 0755, NULL), -EEXIST);
	assert_int_equal(p9c_walk(c, 0, 1, "d", NULL), 1);
	OK(p9c_lcreate(c, 1, "x", P9_DOTL_WRONLY, 0644, NULL));
	assert_int_equal(p9c_unlinkat(c, 0, "d", P9_AT_REMOVEDIR), -ENOTEMPTY);
	assert_int_equal(p9c_walk(c, 0, 2, "d", NULL), 1);
	assert_int_equal(p9c_unlinkat(c, 2, "x", 0x1), -EINVAL);
	OK(p9c_unlinkat(c, 2, "x", 0));
	OK(p9c_unlinkat(c, 0, "d", P9_AT_REMOVEDIR));
	assert_int_equal(access(p9fx_path(fx, "root/d"), F_OK), -1);
	/* directory-relative requests need a directory fid */
	OK(p9fx_write(fx, "root/file", ""));
	assert_int_equal(p9c_walk(c, 0, 3, "file", NULL), 1);
	assert_int_equal(p9c_mkdir(c, 3, "sub", 0755, NULL), -ENOTDIR);
}

struct seen {
	unsigned char *count;
	int n, dots, other;
};

static void count_entry(const struct p9_dirent *d, void *arg)
{
	struct seen *s = arg;
	int i;

	if (!strcmp(d->name, ".") || !strcmp(d->name, ".."))
		s->dots++;
	else if (sscanf(d->name, "f%05d", &i) == 1 && i >= 0 && i < s->n)
		s->count[i]++;
	else
		s->other++;
}

static void readdir_all(struct p9c *c, uint32_t fid, uint32_t count, struct seen *s)
{
	uint64_t off = 0, next;
	int n;

	memset(s->count, 0, (size_t)s->n);
	s->dots = s->other = 0;
	while ((n = p9c_readdir(c, fid, off, count, count_entry, s, &next)) > 0)
		off = next;
	assert_int_equal(n, 0);
	for (int i = 0; i < s->n; i++)
		assert_int_equal(s->count[i], 1);
	assert_int_equal(s->dots, 2);
	assert_int_equal(s->other, 0);
}

static void test_readdir_10000(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	enum { N = 10000 };
	struct seen s = {.count = calloc(N, 1), .n = N};
	char name[16];

	OK(p9c_mkdir(c, 0, "many", 0755, NULL));
	int dfd = open(p9fx_path(fx, "root/many"), O_PATH | O_DIRECTORY);
	assert_true(dfd >= 0);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%05d", i);
		int fd = openat(dfd, name, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		assert_true(fd >= 0);
		close(fd);
	}
	close(dfd);
	assert_int_equal(p9c_walk(c, 0, 1, "many", NULL), 1);
	OK(p9c_lopen(c, 1, 0, NULL));
	/* one big buffer, then split response buffers (header alone, then
	 * pages), then tiny odd-sized buffers that split every entry */
	readdir_all(c, 1, 8192, &s);
	c->resp_first = P9_IOHDR_SIZE;
	c->resp_split = 4096;
	readdir_all(c, 1, 65536, &s);
	c->resp_first = 5;
	c->resp_split = 7;
	readdir_all(c, 1, 3000, &s);
	/* a count too small for one entry is an error, not a silent EOF */
	uint64_t next;
	assert_int_equal(p9c_readdir(c, 1, 0, 10, count_entry, &s, &next), -EINVAL);
	/* readdir needs an opened directory */
	assert_int_equal(p9c_walk(c, 0, 2, "many", NULL), 1);
	assert_int_equal(p9c_readdir(c, 2, 0, 4096, count_entry, &s, &next), -EBADF);
	free(s.count);
}

static void fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)((i * 131 + seed) >> 3);
}

static void test_split_buffers(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	enum { N = 300000 };
	unsigned char *data = malloc(N), *got = malloc(N);

	fill_pattern(data, N, 1);
	int fd = open(p9fx_path(fx, "root/big"), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	assert_int_equal(write(fd, data, N), N);
	close(fd);
	assert_int_equal(p9c_walk(c, 0, 1, "big", NULL), 1);
	OK(p9c_lopen(c, 1, P9_DOTL_RDWR, NULL));
	/* Rread: header in its own 11-byte buffer, data in pages */
	c->resp_first = P9_IOHDR_SIZE;
	c->resp_split = 4096;
	assert_int_equal(p9c_read(c, 1, 1000, got, 200000), 200000);
	assert_memory_equal(got, data + 1000, 200000);
	/* header split mid-field, odd data buffers */
	c->resp_first = 5;
	c->resp_split = 333;
	assert_int_equal(p9c_read(c, 1, 7, got, 100000), 100000);
	assert_memory_equal(got, data + 7, 100000);
	/* more buffers than preadv takes: refused cleanly */
	c->resp_first = 0;
	c->resp_split = 1;
	assert_int_equal(p9c_read(c, 1, 0, got, 4096), -E2BIG);
	c->resp_split = 0;
	/* Twrite: header alone, then data split across many buffers */
	fill_pattern(data, N, 7);
	c->req_first = 23;
	c->req_split = 4093;
	assert_int_equal(p9c_write(c, 1, 50, data, 250000), 250000);
	c->req_first = 3;
	c->req_split = 2;
	assert_int_equal(p9c_write(c, 1, 0, "hello", 5), 5);
	c->req_first = c->req_split = 0;
	assert_int_equal(p9c_read(c, 1, 50, got, 250000), 250000);
	assert_memory_equal(got, data, 250000);
	assert_int_equal(p9c_read(c, 1, 0, got, 5), 5);
	assert_memory_equal(got, "hello", 5);
	struct p9_stats st;
	p9_server_stats(fx->s, &st);
	assert_true(st.bytes_read >= 550000 && st.bytes_written >= 250005);
	free(data);
	free(got);
}

static void test_xattrs(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	char buf[4096];
	struct p9_msg tx = {.type = P9_TXATTRCREATE};

	OK(p9fx_write(fx, "root/x", ""));
	assert_int_equal(p9c_walk(c, 0, 1, "x", NULL), 1);
	OK(p9c_setxattr(c, 1, 9, "user.test", "value", 5, 0));
	assert_int_equal(getxattr(p9fx_path(fx, "root/x"), "user.test", buf, sizeof(buf)), 5);
	assert_int_equal(p9c_getxattr(c, 1, 9, "user.test", buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "value", 5);
	ssize_t n = p9c_getxattr(c, 1, 9, "", buf, sizeof(buf));
	assert_true(n >= 10);
	assert_non_null(memmem(buf, (size_t)n, "user.test", 10));
	/* create-only on an existing name fails at commit (Tclunk) */
	assert_int_equal(p9c_setxattr(c, 1, 9, "user.test", "v2", 2, XATTR_CREATE), -EEXIST);
	/* host policy namespaces are not the guest's */
	assert_int_equal(p9c_setxattr(c, 1, 9, "trusted.x", "v", 1, 0), -EOPNOTSUPP);
	assert_int_equal(p9c_getxattr(c, 1, 9, "trusted.overlay.opaque", buf, 10), -EOPNOTSUPP);
	/* announced more than written: the commit is refused */
	assert_int_equal(p9c_walk(c, 1, 9, "", NULL), 0);
	tx.u.xattrcreate.fid = 9;
	strcpy(tx.u.xattrcreate.name, "user.short");
	tx.u.xattrcreate.size = 10;
	OK(p9c_rpc(c, &tx, &c->rx));
	assert_int_equal(p9c_write(c, 9, 0, "abc", 3), 3);
	assert_int_equal(p9c_write(c, 9, 8, "abc", 3), -ENOSPC);
	assert_int_equal(p9c_clunk(c, 9), -EINVAL);
	/* oversized values */
	tx.u.xattrcreate.size = 1 << 20;
	assert_int_equal(p9c_walk(c, 1, 9, "", NULL), 0);
	assert_int_equal(p9c_rpc(c, &tx, &c->rx), -E2BIG);
	OK(p9c_clunk(c, 9));
	/* size 0 removes */
	OK(p9c_setxattr(c, 1, 9, "user.test", NULL, 0, 0));
	assert_int_equal(p9c_getxattr(c, 1, 9, "user.test", buf, sizeof(buf)), -ENODATA);
	/* directories take xattrs too */
	OK(p9c_setxattr(c, 0, 9, "user.dir", "d", 1, 0));
	assert_int_equal(p9c_getxattr(c, 0, 9, "user.dir", buf, sizeof(buf)), 1);
}

static void test_special_nodes(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	struct p9_getattr a;
	struct stat st;

	OK(p9c_mknod(c, 0, "fifo", S_IFIFO | 0644, 0, 0, NULL));
	OK(lstat(p9fx_path(fx, "root/fifo"), &st));
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(p9c_walk(c, 0, 1, "fifo", NULL), 1);
	OK(p9c_getattr(c, 1, &a));
	assert_true(S_ISFIFO(a.mode));
	/* opening a fifo on the host would block the gofer: refused */
	assert_int_equal(p9c_lopen(c, 1, 0, NULL), -EPERM);
	OK(p9c_mknod(c, 0, "sock", S_IFSOCK | 0644, 0, 0, NULL));
	OK(p9c_mknod(c, 0, "reg", S_IFREG | 0644, 0, 0, NULL));
	/* device nodes are never created */
	assert_int_equal(p9c_mknod(c, 0, "null", S_IFCHR | 0666, 1, 3, NULL), -EPERM);
	assert_int_equal(p9c_mknod(c, 0, "sda", S_IFBLK | 0666, 8, 0, NULL), -EPERM);
	assert_int_equal(lstat(p9fx_path(fx, "root/null"), &st), -1);
	assert_int_equal(lstat(p9fx_path(fx, "root/sda"), &st), -1);
	if (geteuid() != 0)
		return;
	/* one made on the host behind our back is never opened as a device */
	OK(mknod(p9fx_path(fx, "root/hostnull"), S_IFCHR | 0666, makedev(1, 3)));
	assert_int_equal(p9c_walk(c, 0, 2, "hostnull", NULL), 1);
	OK(p9c_getattr(c, 2, &a));
	assert_int_equal(a.rdev, makedev(1, 3));
	assert_int_equal(p9c_lopen(c, 2, P9_DOTL_RDWR, NULL), -EPERM);
	assert_int_equal(p9c_lopen(c, 2, 0, NULL), -EPERM);
	struct p9_setattr sa = {.fid = 2, .valid = P9_SETATTR_SIZE};
	assert_int_equal(p9c_setattr(c, &sa), -EINVAL);
	assert_int_equal(p9c_walk(c, 0, 3, "", NULL), 0);
	assert_int_equal(p9c_lcreate(c, 3, "hostnull", P9_DOTL_RDWR, 0644, NULL), -EEXIST);
}

static void test_unlink_while_open(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	struct p9_getattr a;
	char buf[64];

	assert_int_equal(p9c_walk(c, 0, 1, "", NULL), 0);
	OK(p9c_lcreate(c, 1, "u", P9_DOTL_RDWR, 0644, NULL));
	assert_int_equal(p9c_write(c, 1, 0, "data", 4), 4);
	assert_int_equal(p9c_walk(c, 0, 2, "u", NULL), 1); /* walked, not opened */
	OK(p9c_unlinkat(c, 0, "u", 0));
	assert_int_equal(access(p9fx_path(fx, "root/u"), F_OK), -1);
	assert_int_equal(p9c_read(c, 1, 0, buf, sizeof(buf)), 4);
	assert_int_equal(p9c_write(c, 1, 4, "more", 4), 4);
	OK(p9c_getattr(c, 1, &a));
	assert_int_equal(a.nlink, 0);
	assert_int_equal(a.size, 8);
	struct p9_setattr sa = {.fid = 1, .valid = P9_SETATTR_SIZE, .size = 2};
	OK(p9c_setattr(c, &sa));
	OK(p9c_getattr(c, 1, &a));
	assert_int_equal(a.size, 2);
	struct p9_msg tx = {.type = P9_TFSYNC, .u.fsync = {1, 0}};
	OK(p9c_rpc(c, &tx, &c->rx));
	/* the walked fid still names the unlinked inode: open and read it */
	OK(p9c_lopen(c, 2, 0, NULL));
	assert_int_equal(p9c_read(c, 2, 0, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "da", 2);
	/* fsync needs an opened fid */
	tx.u.fsync.fid = 0;
	assert_int_equal(p9c_rpc(c, &tx, &c->rx), -EBADF);
}

static void test_locks(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	uint8_t st;
	struct p9_lock l = {.type = P9_LOCK_TYPE_WRLCK, .start = 0, .length = 0};

	OK(p9fx_write(fx, "root/l", "lock"));
	assert_int_equal(p9c_walk(c, 0, 1, "l", NULL), 1);
	assert_int_equal(p9c_walk(c, 0, 2, "l", NULL), 1);
	assert_int_equal(p9c_lock(c, 1, P9_LOCK_TYPE_WRLCK, 0, 0, &st), -EBADF);
	OK(p9c_lopen(c, 1, P9_DOTL_RDWR, NULL));
	OK(p9c_lopen(c, 2, P9_DOTL_RDWR, NULL));
	OK(p9c_lock(c, 1, P9_LOCK_TYPE_WRLCK, 0, 0, &st));
	assert_int_equal(st, P9_LOCK_SUCCESS);
	OK(p9c_lock(c, 2, P9_LOCK_TYPE_WRLCK, 0, 0, &st));
	assert_int_equal(st, P9_LOCK_BLOCKED);
	OK(p9c_getlock(c, 2, &l));
	assert_int_equal(l.type, P9_LOCK_TYPE_WRLCK);
	/* a byte range past the held one is free (lock 1 covers all; shrink it) */
	OK(p9c_lock(c, 1, P9_LOCK_TYPE_UNLCK, 0, 0, &st));
	OK(p9c_lock(c, 1, P9_LOCK_TYPE_RDLCK, 0, 2, &st));
	assert_int_equal(st, P9_LOCK_SUCCESS);
	OK(p9c_lock(c, 2, P9_LOCK_TYPE_WRLCK, 2, 2, &st));
	assert_int_equal(st, P9_LOCK_SUCCESS);
	OK(p9c_lock(c, 2, P9_LOCK_TYPE_RDLCK, 0, 1, &st));
	assert_int_equal(st, P9_LOCK_SUCCESS);
	l = (struct p9_lock){.type = P9_LOCK_TYPE_WRLCK, .start = 100, .length = 1};
	OK(p9c_getlock(c, 2, &l));
	assert_int_equal(l.type, P9_LOCK_TYPE_UNLCK);
	assert_int_equal(p9c_lock(c, 2, 7, 0, 0, &st), -EINVAL);
	assert_int_equal(p9c_lock(c, 2, P9_LOCK_TYPE_RDLCK, 1ULL << 63, 0, &st), -EINVAL);
}

static void test_statfs(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9_msg tx = {.type = P9_TSTATFS, .u.fid.fid = 0};

	OK(p9c_rpc(&fx->c, &tx, &fx->c.rx));
	assert_true(fx->c.rx.u.rstatfs.bsize > 0);
	assert_int_equal(fx->c.rx.u.rstatfs.namelen, 255);
}

int main(void)
{
	umask(0);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_version_session, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_attach, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_read_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_append_truncate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rename_moves_fids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_link_symlink, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chmod_chown_utimes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mkdir_rmdir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readdir_10000, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_split_buffers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_xattrs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_special_nodes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unlink_while_open, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_locks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_statfs, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
