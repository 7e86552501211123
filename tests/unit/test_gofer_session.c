/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Saving a 9P session and re-creating it in a fresh server over the same
 * directory (gofer/session.h): the restored fids read, write, list and
 * walk as the old ones did (open flags, O_APPEND, read-only attach
 * points, qids); paths stay right through renames; saves refused for a
 * deleted open file, an xattr fid, a moved file, a session too big; loads
 * refused for a vanished path, a changed file type, a symlink swapped in
 * for a directory (with openat2 and with the O_NOFOLLOW walk), and for
 * every kind of malformed blob, each leaving the fid table empty.
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

#include "gofer/session.h"
#include "util/cleanup.h"
#include "tests/unit/p9client.h"

#define OK(x)	 assert_int_equal((x), 0)
#define MAX_BLOB (1u << 20)

static int setup(void **state)
{
	return p9fx_setup((struct p9_fixture **)state, false);
}

static int teardown(void **state)
{
	p9fx_teardown(*state);
	return 0;
}

/* A second server over the fixture's directories: where a session is
 * re-created, as in a new gofer. */
struct twin {
	struct p9_server *s;
	struct p9c c;
};

static void twin_open(struct p9_fixture *fx, struct twin *t, bool no_openat2)
{
	const struct p9_attach_point ap[] = {
	    {.aname = "/", .path = fx->root, .fd = -1},
	    {.aname = "ro", .path = fx->ro, .fd = -1, .readonly = true},
	};
	const struct p9_server_config cfg = {
	    .attach = ap, .nattach = 2, .proc_fd = -1, .no_openat2 = no_openat2};

	OK(p9_server_new(&cfg, &t->s, NULL));
	OK(p9c_init(&t->c, t->s));
}

static void twin_close(struct twin *t)
{
	p9c_fini(&t->c);
	p9_server_free(t->s);
}

/* Drops every fid (a new Tversion). */
static void twin_reset(struct twin *t)
{
	OK(p9c_version(&t->c, P9_MAX_MSIZE, "9P2000.L", NULL, NULL));
}

static size_t save(struct p9_server *s, void **buf)
{
	struct kv_err err = {0};
	size_t len;

	if (p9_server_save(s, MAX_BLOB, buf, &len, &err))
		fail_msg("save: %s", err.msg);
	return len;
}

static int load(struct twin *t, const void *buf, size_t len, struct kv_err *err)
{
	kv_err_clear(err);
	return p9_server_load(t->s, buf, len, err);
}

static void same_getattr(struct p9c *a, struct p9c *b, uint32_t fid)
{
	struct p9_getattr x, y;

	OK(p9c_getattr(a, fid, &x));
	OK(p9c_getattr(b, fid, &y));
	assert_int_equal(x.qid.type, y.qid.type);
	assert_int_equal(x.qid.path, y.qid.path);
	assert_int_equal(x.mode, y.mode);
	assert_int_equal(x.size, y.size);
}

static void count_entry(const struct p9_dirent *d, void *arg)
{
	(void)d;
	(*(int *)arg)++;
}

static int count_dir(struct p9c *c, uint32_t fid)
{
	uint64_t next;
	int n = 0;

	assert_true(p9c_readdir(c, fid, 0, 8192, count_entry, &n, &next) > 0);
	return n;
}

static const struct p9_session_fid *find_fid(const struct p9_session *ss, uint32_t id)
{
	for (uint32_t i = 0; i < ss->nfids; i++)
		if (ss->fids[i].id == id)
			return &ss->fids[i];
	fail_msg("fid %u not saved", id);
	return NULL;
}

static const struct p9_session_limits limits = {
    .max_msize = P9_MAX_MSIZE, .nattach = 2, .max_fids = 65536};

/* Two blobs hold the same session (fid order may differ). */
static void same_session(const void *a, size_t alen, const void *b, size_t blen)
{
	struct p9_session x, y;

	OK(p9_session_parse(a, alen, &limits, &x, NULL));
	OK(p9_session_parse(b, blen, &limits, &y, NULL));
	assert_int_equal(x.msize, y.msize);
	assert_int_equal(x.nfids, y.nfids);
	for (uint32_t i = 0; i < x.nfids; i++) {
		const struct p9_session_fid *f = &x.fids[i], *g = find_fid(&y, f->id);
		assert_int_equal(f->attach, g->attach);
		assert_int_equal(f->uid, g->uid);
		assert_int_equal(f->ftype, g->ftype);
		assert_int_equal(f->oflags, g->oflags);
		assert_string_equal(f->path, g->path);
	}
	p9_session_free(&x);
	p9_session_free(&y);
}

static void test_round_trip(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	struct twin t;
	char got[64];
	void *buf, *buf2;

	OK(p9c_mkdir(c, 0, "d", 0755, NULL));
	OK(p9fx_write(fx, "root/d/f", "hello world"));
	OK(p9fx_write(fx, "root/d/g", "g"));
	OK(symlink("f", p9fx_path(fx, "root/d/s")));
	assert_int_equal(p9c_walk(c, 0, 1, "d", NULL), 1);
	assert_int_equal(p9c_walk(c, 0, 2, "d/f", NULL), 2);
	OK(p9c_lopen(c, 2, P9_DOTL_RDWR | P9_DOTL_APPEND, NULL));
	assert_int_equal(p9c_walk(c, 1, 3, "", NULL), 0);
	OK(p9c_lopen(c, 3, 0, NULL));
	OK(p9c_attach(c, 4, "ro", 1000, NULL));
	assert_int_equal(p9c_walk(c, 1, 5, "s", NULL), 1);
	assert_int_equal(p9c_walk(c, 0, 6, "", NULL), 0);
	OK(p9c_lcreate(c, 6, "new", P9_DOTL_WRONLY | P9_DOTL_TRUNC, 0600, NULL));
	assert_int_equal(p9c_write(c, 6, 0, "N", 1), 1);

	size_t len = save(fx->s, &buf);
	/* saving took nothing away */
	assert_int_equal(p9c_read(c, 2, 0, got, sizeof(got)), 11);

	twin_open(fx, &t, false);
	struct kv_err err = {0};
	if (load(&t, buf, len, &err))
		fail_msg("load: %s", err.msg);
	assert_int_equal(p9_server_msize(t.s), P9_MAX_MSIZE);
	for (uint32_t fid = 0; fid <= 6; fid++)
		same_getattr(c, &t.c, fid);
	/* the open file: readable, and O_APPEND still puts writes at the end */
	assert_int_equal(p9c_read(&t.c, 2, 0, got, sizeof(got)), 11);
	assert_memory_equal(got, "hello world", 11);
	assert_int_equal(p9c_write(&t.c, 2, 0, "!", 1), 1);
	assert_int_equal(p9fx_read(fx, "root/d/f", got, sizeof(got)), 12);
	assert_string_equal(got, "hello world!");
	/* the created file: still write-only, not truncated again */
	assert_int_equal(p9fx_read(fx, "root/new", got, sizeof(got)), 1);
	assert_int_equal(p9c_read(&t.c, 6, 0, got, 1), -EBADF);
	assert_int_equal(p9c_write(&t.c, 6, 1, "M", 1), 1);
	/* the open directory lists the same entries */
	assert_int_equal(count_dir(&t.c, 3), count_dir(c, 3));
	assert_int_equal(count_dir(&t.c, 3), 5);
	/* walked fids walk on; the symlink is still the symlink */
	assert_int_equal(p9c_walk(&t.c, 1, 10, "g", NULL), 1);
	OK(p9c_lopen(&t.c, 10, 0, NULL));
	assert_int_equal(p9c_read(&t.c, 10, 0, got, sizeof(got)), 1);
	OK(p9c_readlink(&t.c, 5, got, sizeof(got)));
	assert_string_equal(got, "f");
	assert_int_equal(p9c_lopen(&t.c, 2, 0, NULL), -EBUSY); /* opened already */
	/* the read-only attach point stays read-only */
	assert_int_equal(p9c_walk(&t.c, 4, 11, "file", NULL), 1);
	assert_int_equal(p9c_lopen(&t.c, 11, P9_DOTL_RDWR, NULL), -EROFS);
	OK(p9c_lopen(&t.c, 11, 0, NULL));
	assert_int_equal(p9c_read(&t.c, 11, 0, got, sizeof(got)), 7);
	/* saving the restored session gives the same session back */
	OK(p9c_clunk(&t.c, 10));
	OK(p9c_clunk(&t.c, 11));
	size_t len2 = save(t.s, &buf2);
	same_session(buf, len, buf2, len2);
	struct p9_session ss;
	OK(p9_session_parse(buf, len, &limits, &ss, NULL));
	assert_int_equal(ss.nfids, 7);
	assert_string_equal(find_fid(&ss, 2)->path, "d/f");
	assert_int_equal(find_fid(&ss, 2)->oflags, O_RDWR | O_APPEND);
	assert_int_equal(find_fid(&ss, 6)->oflags, O_WRONLY | O_TRUNC);
	assert_int_equal(find_fid(&ss, 4)->uid, 1000);
	assert_int_equal(find_fid(&ss, 4)->attach, 1);
	assert_int_equal(find_fid(&ss, 5)->ftype, S_IFLNK);
	assert_int_equal(find_fid(&ss, 1)->oflags, -1);
	p9_session_free(&ss);
	free(buf);
	free(buf2);
	twin_close(&t);
}

/* The brief's case: walk to a/b/c, rename a to z through another fid,
 * save, load, and the restored fids name the moved files. */
static void test_rename_then_restore(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	struct twin t, t2;
	char got[16];
	void *buf;

	OK(p9c_mkdir(c, 0, "a", 0755, NULL));
	OK(mkdir(p9fx_path(fx, "root/a/b"), 0755));
	OK(p9fx_write(fx, "root/a/b/c", "C"));
	assert_int_equal(p9c_walk(c, 0, 1, "a/b/c", NULL), 3);
	OK(p9c_lopen(c, 1, 0, NULL));
	assert_int_equal(p9c_walk(c, 0, 2, "a/b", NULL), 2);
	assert_int_equal(p9c_walk(c, 0, 3, "a", NULL), 1);
	OK(p9c_renameat(c, 0, "a", 0, "z"));
	size_t len = save(fx->s, &buf);
	twin_open(fx, &t, false);
	OK(load(&t, buf, len, NULL));
	assert_int_equal(p9c_read(&t.c, 1, 0, got, sizeof(got)), 1);
	assert_int_equal(got[0], 'C');
	assert_int_equal(p9c_walk(&t.c, 2, 4, "c", NULL), 1);
	assert_int_equal(p9c_walk(&t.c, 3, 5, "b/c", NULL), 2);
	free(buf);

	/* Trename of a directory fid carries the fids below it too */
	struct p9_msg tx = {.type = P9_TRENAME, .u.rename = {.fid = 2, .dfid = 0}};
	strcpy(tx.u.rename.name, "y");
	OK(p9c_rpc(c, &tx, &c->rx));
	len = save(fx->s, &buf);
	struct p9_session ss;
	OK(p9_session_parse(buf, len, &limits, &ss, NULL));
	assert_string_equal(find_fid(&ss, 1)->path, "y/c");
	assert_string_equal(find_fid(&ss, 2)->path, "y");
	assert_string_equal(find_fid(&ss, 3)->path, "z");
	p9_session_free(&ss);
	twin_open(fx, &t2, false);
	OK(load(&t2, buf, len, NULL));
	assert_int_equal(p9c_read(&t2.c, 1, 0, got, sizeof(got)), 1);
	free(buf);
	twin_close(&t);
	twin_close(&t2);
}

static void test_save_refused(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	struct kv_err err = {0};
	char got[16];
	void *buf = NULL;
	size_t len;

	/* an open file deleted: it has no path left to reopen */
	assert_int_equal(p9c_walk(c, 0, 1, "", NULL), 0);
	OK(p9c_lcreate(c, 1, "u", P9_DOTL_RDWR, 0644, NULL));
	assert_int_equal(p9c_write(c, 1, 0, "data", 4), 4);
	OK(p9c_unlinkat(c, 0, "u", 0));
	assert_int_equal(p9_server_save(fx->s, MAX_BLOB, &buf, &len, &err), -ESTALE);
	assert_null(buf);
	assert_non_null(strstr(err.msg, "fid 1 '/u'"));
	assert_int_equal(p9c_read(c, 1, 0, got, sizeof(got)), 4); /* untouched */
	OK(p9c_clunk(c, 1));
	len = save(fx->s, &buf);
	free(buf);

	/* a file moved behind the gofer's back: its path is stale */
	OK(p9fx_write(fx, "root/h", "h"));
	assert_int_equal(p9c_walk(c, 0, 2, "h", NULL), 1);
	OK(rename(p9fx_path(fx, "root/h"), p9fx_path(fx, "root/h2")));
	assert_int_equal(p9_server_save(fx->s, MAX_BLOB, &buf, &len, &err), -ESTALE);
	assert_non_null(strstr(err.msg, "no longer at that path"));
	OK(rename(p9fx_path(fx, "root/h2"), p9fx_path(fx, "root/h")));
	len = save(fx->s, &buf);
	free(buf);

	/* an xattr fid (a Txattrwalk in progress) */
	struct p9_msg tx = {.type = P9_TXATTRWALK, .u.xattrwalk = {.fid = 0, .newfid = 9}};
	OK(p9c_rpc(c, &tx, &c->rx));
	assert_int_equal(p9_server_save(fx->s, MAX_BLOB, &buf, &len, &err), -EOPNOTSUPP);
	OK(p9c_clunk(c, 9));

	/* over the limit: E2BIG says how much it would take */
	size_t need = save(fx->s, &buf);
	free(buf);
	assert_int_equal(p9_server_save(fx->s, need - 1, &buf, &len, &err), -E2BIG);
	assert_int_equal(len, need);
	assert_null(buf);
	OK(p9_server_save(fx->s, need, &buf, &len, &err));
	free(buf);
}

static void test_load_refused(void **state)
{
	struct p9_fixture *fx = *state;
	struct p9c *c = &fx->c;
	struct kv_err err = {0};
	struct twin t;
	void *gone, *kind, *good;

	twin_open(fx, &t, false);
	size_t glen = save(fx->s, &good); /* fid 0 only */
	/* a path that vanished */
	OK(p9fx_write(fx, "root/gone", "x"));
	assert_int_equal(p9c_walk(c, 0, 1, "gone", NULL), 1);
	size_t len = save(fx->s, &gone);
	OK(p9c_clunk(c, 1));
	OK(unlink(p9fx_path(fx, "root/gone")));
	assert_int_equal(load(&t, gone, len, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "fid 1 '/gone': no longer exists"));
	assert_int_equal(p9_server_msize(t.s), 0);
	OK(load(&t, good, glen, NULL)); /* the table was left empty */
	/* busy: the session has fids */
	assert_int_equal(load(&t, good, glen, &err), -EBUSY);
	twin_reset(&t);
	/* a different kind of file under the name */
	OK(p9fx_write(fx, "root/kind", "x"));
	assert_int_equal(p9c_walk(c, 0, 2, "kind", NULL), 1);
	len = save(fx->s, &kind);
	OK(p9c_clunk(c, 2));
	OK(unlink(p9fx_path(fx, "root/kind")));
	OK(mkdir(p9fx_path(fx, "root/kind"), 0755));
	assert_int_equal(load(&t, kind, len, &err), -ESTALE);
	assert_int_equal(p9_server_msize(t.s), P9_MAX_MSIZE); /* as it was */
	OK(load(&t, good, glen, NULL));
	free(gone);
	free(kind);
	free(good);
	twin_close(&t);
}

/* ---- hand-made blobs ---- */

struct blob {
	uint8_t b[8192];
	size_t n;
};

static void put32(struct blob *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b->b[b->n++] = (uint8_t)(v >> (8 * i));
}

static void put_hdr(struct blob *b, uint32_t msize, uint32_t nfids)
{
	b->n = 0;
	memcpy(b->b, P9_SESSION_MAGIC, 8);
	b->n = 8;
	put32(b, P9_SESSION_VERSION);
	put32(b, msize);
	put32(b, nfids);
}

static void put_fidn(struct blob *b, uint32_t id, uint32_t attach, uint32_t ftype, int32_t oflags,
		     const char *path, size_t plen)
{
	put32(b, id);
	put32(b, attach);
	put32(b, 0);
	put32(b, ftype);
	put32(b, (uint32_t)oflags);
	b->b[b->n++] = (uint8_t)plen;
	b->b[b->n++] = (uint8_t)(plen >> 8);
	memcpy(b->b + b->n, path, plen);
	b->n += plen;
}

static void put_fid(struct blob *b, uint32_t id, uint32_t attach, uint32_t ftype, int32_t oflags,
		    const char *path)
{
	put_fidn(b, id, attach, ftype, oflags, path, strlen(path));
}

/* root, an opened directory "d", an opened file "d/f" */
static void valid_blob(struct blob *b)
{
	put_hdr(b, P9_MAX_MSIZE, 3);
	put_fid(b, 0, 0, S_IFDIR, -1, "");
	put_fid(b, 1, 0, S_IFDIR, O_RDONLY, "d");
	put_fid(b, 2, 0, S_IFREG, O_RDWR | O_APPEND, "d/f");
}

/* One bad third fid (the first two are fine). */
struct bad_fid {
	uint32_t id, attach, ftype;
	int32_t oflags;
	const char *path;
	size_t plen; /* 0: strlen */
};

static const struct bad_fid bad_fids[] = {
    {2, 0, S_IFREG, -1, "d/../d/f", 0},
    {2, 0, S_IFREG, -1, "d//f", 0},
    {2, 0, S_IFREG, -1, "/d/f", 0},
    {2, 0, S_IFREG, -1, "d/f/", 0},
    {2, 0, S_IFREG, -1, "..", 0},
    {2, 0, S_IFREG, -1, ".", 0},
    {2, 0, S_IFREG, -1, "d/./f", 0},
    {2, 0, S_IFREG, -1, "d\0f", 3},
    {2, 2, S_IFREG, -1, "d/f", 0},		      /* attach point 2 of 2 */
    {2, 0, 0, -1, "d/f", 0},			      /* no type */
    {2, 0, S_IFREG | 0644, -1, "d/f", 0},	      /* mode bits */
    {2, 0, S_IFMT, -1, "d/f", 0},		      /* not a type */
    {2, 0, S_IFREG, -1, "", 0},			      /* the root as a file */
    {2, 0, S_IFREG, O_RDWR | O_CREAT, "d/f", 0},      /* never saved */
    {2, 0, S_IFREG, O_ACCMODE, "d/f", 0},	      /* no such access mode */
    {2, 0, S_IFREG, O_RDONLY | O_NOFOLLOW, "d/f", 0}, /* never saved */
    {2, 0, S_IFREG, -2, "d/f", 0},
    {2, 0, S_IFDIR, O_WRONLY, "d", 0},		 /* a directory is read only */
    {2, 0, S_IFDIR, O_RDONLY | O_TRUNC, "d", 0}, /* ... and never truncated */
    {2, 0, S_IFLNK, O_RDONLY, "d/s", 0},	 /* a symlink is never opened */
    {1, 0, S_IFREG, -1, "d/f", 0},		 /* fid 1 twice */
};

static void expect_malformed(struct twin *t, const void *buf, size_t len)
{
	struct kv_err err = {0};

	assert_int_equal(load(t, buf, len, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "saved session malformed"));
	assert_int_equal(p9_server_msize(t->s), 0);
}

static void test_malformed(void **state)
{
	struct p9_fixture *fx = *state;
	struct twin t;
	struct blob b;
	char longname[P9_NAME_MAX + 2];

	OK(mkdir(p9fx_path(fx, "root/d"), 0755));
	OK(p9fx_write(fx, "root/d/f", "f"));
	twin_open(fx, &t, false);
	/* every truncation, and one byte too many */
	valid_blob(&b);
	for (size_t n = 0; n < b.n; n++)
		expect_malformed(&t, b.b, n);
	b.b[b.n] = 0;
	expect_malformed(&t, b.b, b.n + 1);
	/* the header */
	valid_blob(&b);
	b.b[0] ^= 1;
	expect_malformed(&t, b.b, b.n);
	static const struct {
		size_t off;
		uint32_t v;
	} hdr[] = {
	    {8, 2},		    /* version */
	    {8, 0},		    /* version */
	    {12, P9_MAX_MSIZE + 1}, /* msize over the server's */
	    {12, P9_MIN_MSIZE - 1}, /* msize under the protocol's */
	    {12, 0},		    /* no session, yet fids */
	    {16, 4},		    /* more fids than there are */
	    {16, 2},		    /* fewer: trailing bytes */
	    {16, 0xffffffffu},	    /* a count to allocate for */
	    {16, 0x10000000u},
	};
	for (size_t i = 0; i < ARRAY_SIZE(hdr); i++) {
		valid_blob(&b);
		for (int k = 0; k < 4; k++)
			b.b[hdr[i].off + k] = (uint8_t)(hdr[i].v >> (8 * k));
		expect_malformed(&t, b.b, b.n);
	}
	/* each kind of bad fid */
	for (size_t i = 0; i < ARRAY_SIZE(bad_fids); i++) {
		const struct bad_fid *f = &bad_fids[i];
		put_hdr(&b, P9_MAX_MSIZE, 3);
		put_fid(&b, 0, 0, S_IFDIR, -1, "");
		put_fid(&b, 1, 0, S_IFDIR, O_RDONLY, "d");
		put_fidn(&b, f->id, f->attach, f->ftype, f->oflags, f->path,
			 f->plen ? f->plen : strlen(f->path));
		expect_malformed(&t, b.b, b.n);
	}
	/* a component over 255 bytes; a path of PATH_MAX bytes */
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	put_hdr(&b, P9_MAX_MSIZE, 1);
	put_fid(&b, 0, 0, S_IFREG, -1, longname);
	expect_malformed(&t, b.b, b.n);
	char *huge = malloc(PATH_MAX + 1);
	for (int i = 0; i < PATH_MAX; i++)
		huge[i] = i % 2 ? '/' : 'x';
	huge[PATH_MAX - 1] = 'x';
	huge[PATH_MAX] = '\0';
	put_hdr(&b, P9_MAX_MSIZE, 1);
	put_fid(&b, 0, 0, S_IFREG, -1, huge);
	expect_malformed(&t, b.b, b.n);
	free(huge);
	/* no session at all is fine; the valid blob still loads: nothing
	 * above left a fid behind */
	put_hdr(&b, 0, 0);
	OK(load(&t, b.b, b.n, NULL));
	valid_blob(&b);
	OK(load(&t, b.b, b.n, NULL));
	char got[4];
	assert_int_equal(p9c_read(&t.c, 2, 0, got, sizeof(got)), 1);
	twin_close(&t);
}

/* Every single-byte change to a valid blob: refused or loaded, never a
 * crash (ASan), and a refusal leaves nothing allocated. */
static void test_byte_flips(void **state)
{
	struct blob b;
	struct p9_session ss;
	unsigned ok = 0;
	(void)state;

	valid_blob(&b);
	for (size_t i = 0; i < b.n; i++) {
		for (unsigned x = 1; x < 256; x <<= 1) {
			b.b[i] ^= (uint8_t)x;
			int r = p9_session_parse(b.b, b.n, &limits, &ss, NULL);
			if (r == 0) {
				ok++;
				p9_session_free(&ss);
			} else {
				assert_int_equal(r, -EINVAL);
				assert_null(ss.fids);
				assert_null(ss.pool);
			}
			b.b[i] ^= (uint8_t)x;
		}
	}
	assert_true(ok > 0); /* ids and uids may be anything */
}

/* A symlink swapped in for a saved directory (a component on the way, or
 * the fid's own file): refused, nothing opened outside the share. */
static void swapped_symlink(struct p9_fixture *fx, bool no_openat2)
{
	struct p9c *c = &fx->c;
	struct kv_err err = {0};
	struct twin t;
	void *deep, *own;

	OK(mkdir(p9fx_path(fx, "root/d"), 0755));
	OK(p9fx_write(fx, "root/d/inside", "in"));
	OK(p9fx_write(fx, "outside/inside", "OUT"));
	assert_int_equal(p9c_walk(c, 0, 1, "d/inside", NULL), 2);
	OK(p9c_lopen(c, 1, 0, NULL));
	size_t dlen = save(fx->s, &deep);
	OK(p9c_clunk(c, 1));
	assert_int_equal(p9c_walk(c, 0, 2, "d", NULL), 1);
	size_t olen = save(fx->s, &own);
	OK(rename(p9fx_path(fx, "root/d"), p9fx_path(fx, "root/d.old")));
	twin_open(fx, &t, no_openat2);
	static const char *targets[] = {NULL, "../outside"};
	for (int i = 0; i < 2; i++) {
		OK(symlink(targets[i] ? targets[i] : fx->outside, p9fx_path(fx, "root/d")));
		assert_int_equal(load(&t, deep, dlen, &err), -ESTALE);
		assert_non_null(strstr(err.msg, "'/d/inside'"));
		assert_int_equal(load(&t, own, olen, &err), -ESTALE);
		assert_int_equal(p9_server_msize(t.s), 0);
		OK(unlink(p9fx_path(fx, "root/d")));
	}
	/* the directory back: both load */
	OK(rename(p9fx_path(fx, "root/d.old"), p9fx_path(fx, "root/d")));
	OK(load(&t, deep, dlen, NULL));
	char got[8];
	assert_int_equal(p9c_read(&t.c, 1, 0, got, sizeof(got)), 2);
	assert_memory_equal(got, "in", 2);
	free(deep);
	free(own);
	twin_close(&t);
}

static void test_swapped_symlink(void **state)
{
	swapped_symlink(*state, false);
}

static void test_swapped_symlink_no_openat2(void **state)
{
	swapped_symlink(*state, true);
}

int main(void)
{
	umask(0);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rename_then_restore, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_save_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
	    cmocka_unit_test(test_byte_flips),
	    cmocka_unit_test_setup_teardown(test_swapped_symlink, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_swapped_symlink_no_openat2, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
