/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Saving and re-creating a server's 9P session (format: session.h).
 *
 *   SAVE: p9_server_save() checks every fid (a file fid, its file still
 *         linked and still at its recorded path) and encodes them; the fid
 *         table is only read.
 *   LOAD: p9_session_parse() (the one parser of the format: bytes in,
 *         checked structs out, no host calls) -> p9_server_load() walks
 *         each path again from its attach root with p9s_walk_path (the
 *         Twalk confinement: one checked component at a time, no
 *         symlinks), compares the file type, reopens opened fids with
 *         p9s_reopen (the Tlopen path) and installs the fids; any failure
 *         empties the table again.
 *
 * The encoding reuses the 9P cursor (p9wire.h): little-endian integers,
 * u16-counted strings, a sticky error checked once.
 */
#include "gofer/session.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gofer/server_int.h"
#include "util/cleanup.h"

#define SHOW_MAX 96 /* a path as printed in an error line */

/* "/a/b" for the log: bytes a terminal or log reader could take for
 * something else become '?', long paths are cut with "...". */
static const char *show(const char *path, char buf[SHOW_MAX])
{
	size_t n = 0;

	buf[n++] = '/';
	for (; *path && n < SHOW_MAX - 4; path++) {
		unsigned char ch = (unsigned char)*path;
		buf[n++] = ch >= 0x20 && ch < 0x7f && ch != '\'' ? (char)ch : '?';
	}
	if (*path) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

/* ---- the parser ---- */

/* -EINVAL, naming the byte offset of the field or fid at fault. */
static int bad(struct kv_err *err, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(struct kv_err *err, size_t at, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return kv_err_set(err, EINVAL, "saved session malformed at byte %zu: %s", at, what);
}

static bool ftype_ok(uint32_t t)
{
	switch (t) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFIFO:
	case S_IFSOCK:
	case S_IFCHR:
	case S_IFBLK:
		return true;
	}
	return false;
}

/* Exactly what Tlopen/Tlcreate leave in a fid's oflags (fsops.c
 * host_oflags), on a file type p9s_reopen opens. */
static bool oflags_ok(int32_t fl, uint32_t ftype)
{
	const int32_t extra = O_TRUNC | O_APPEND | O_DSYNC | O_SYNC;

	if (fl == -1)
		return true;
	if (fl < 0 || (fl & O_ACCMODE) == O_ACCMODE || (fl & ~(O_ACCMODE | extra)))
		return false;
	if (ftype == S_IFREG)
		return true;
	return ftype == S_IFDIR && (fl & O_ACCMODE) == O_RDONLY && !(fl & O_TRUNC);
}

/* Components of 1..P9_NAME_MAX bytes that p9s_check_name accepts, one
 * '/' between two; "" is the root. */
static bool path_ok(const char *path)
{
	char name[P9_NAME_MAX + 1];

	while (*path) {
		const char *slash = strchr(path, '/');
		size_t n = slash ? (size_t)(slash - path) : strlen(path);
		if (n > P9_NAME_MAX)
			return false;
		memcpy(name, path, n);
		name[n] = '\0';
		if (p9s_check_name(name) || (slash && !slash[1]))
			return false;
		path += n + (slash ? 1 : 0);
	}
	return true;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Ids must be unique (the table would refuse a second one only after
 * host calls were made for it).  0, 1 for a repeated id, -ENOMEM. */
static int ids_repeat(const struct p9_session *ss)
{
	if (ss->nfids < 2)
		return 0;
	cleanup_free uint32_t *ids = malloc(ss->nfids * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (uint32_t i = 0; i < ss->nfids; i++)
		ids[i] = ss->fids[i].id;
	qsort(ids, ss->nfids, sizeof(*ids), cmp_u32);
	for (uint32_t i = 1; i < ss->nfids; i++)
		if (ids[i] == ids[i - 1])
			return 1;
	return 0;
}

/* One fid; its path is appended to *pool. */
static int parse_fid(struct p9_cur *c, size_t len, const struct p9_session_limits *lim,
		     struct p9_session_fid *sf, char **pool, struct kv_err *err)
{
	char path[PATH_MAX];
	size_t at = len - c->left;

	sf->id = p9_get_u32(c);
	sf->attach = p9_get_u32(c);
	sf->uid = p9_get_u32(c);
	sf->ftype = p9_get_u32(c);
	sf->oflags = (int32_t)p9_get_u32(c);
	p9_get_str(c, path, sizeof(path));
	if (c->err)
		return bad(err, at, "fid %u: %s", sf->id,
			   c->err == EPROTO ? "truncated" : "bad path string");
	if (sf->attach >= lim->nattach)
		return bad(err, at, "fid %u: attach point %u of %u", sf->id, sf->attach,
			   lim->nattach);
	if (!ftype_ok(sf->ftype) || (!path[0] && sf->ftype != S_IFDIR))
		return bad(err, at, "fid %u: file type %#o", sf->id, sf->ftype);
	if (!oflags_ok(sf->oflags, sf->ftype))
		return bad(err, at, "fid %u: open flags %#x", sf->id, (unsigned)sf->oflags);
	if (!path_ok(path))
		return bad(err, at, "fid %u: a path component empty, '.', '..' or too long",
			   sf->id);
	size_t n = strlen(path) + 1;
	memcpy(*pool, path, n);
	sf->path = *pool;
	*pool += n;
	return 0;
}

static int parse_body(struct p9_cur *c, size_t len, const struct p9_session_limits *lim,
		      struct p9_session *ss, struct kv_err *err)
{
	char magic[8];

	p9_get_bytes(c, magic, sizeof(magic));
	uint32_t version = p9_get_u32(c);
	ss->msize = p9_get_u32(c);
	ss->nfids = p9_get_u32(c);
	if (c->err)
		return bad(err, 0, "truncated header (%zu bytes)", len);
	if (memcmp(magic, P9_SESSION_MAGIC, sizeof(magic)))
		return bad(err, 0, "not a saved 9P session");
	if (version != P9_SESSION_VERSION)
		return bad(err, 8, "version %u (this gofer reads %u)", version, P9_SESSION_VERSION);
	if (ss->msize ? ss->msize < P9_MIN_MSIZE || ss->msize > lim->max_msize : ss->nfids != 0)
		return bad(err, 12, "msize %u with %u fids (at most %u)", ss->msize, ss->nfids,
			   lim->max_msize);
	/* bounded before anything is allocated: by the limit and by the
	 * bytes left (each fid takes at least P9_SESSION_FID_SIZE) */
	if (ss->nfids > lim->max_fids || ss->nfids > c->left / P9_SESSION_FID_SIZE)
		return bad(err, 16, "%u fids in %zu bytes (at most %u)", ss->nfids, len,
			   lim->max_fids);
	ss->fids = calloc(ss->nfids ? ss->nfids : 1, sizeof(*ss->fids));
	/* each path needs one byte more than its string but was preceded by
	 * P9_SESSION_FID_SIZE bytes: the bytes left are enough */
	ss->pool = malloc(c->left + 1);
	if (!ss->fids || !ss->pool)
		return kv_err_set(err, ENOMEM, "saved session: out of memory");
	char *pool = ss->pool;
	for (uint32_t i = 0; i < ss->nfids; i++) {
		int r = parse_fid(c, len, lim, &ss->fids[i], &pool, err);
		if (r)
			return r;
	}
	if (c->left)
		return bad(err, len - c->left, "%zu bytes after the last fid", c->left);
	int r = ids_repeat(ss);
	if (r < 0)
		return kv_err_set(err, ENOMEM, "saved session: out of memory");
	return r ? bad(err, P9_SESSION_HDR_SIZE, "a fid id appears twice") : 0;
}

int p9_session_parse(const void *buf, size_t len, const struct p9_session_limits *lim,
		     struct p9_session *out, struct kv_err *err)
{
	struct iovec v = {(void *)buf, len};
	struct p9_cur c;

	*out = (struct p9_session){0};
	p9_cur_init(&c, &v, 1, len);
	int r = parse_body(&c, len, lim, out, err);
	if (r)
		p9_session_free(out);
	return r;
}

void p9_session_free(struct p9_session *ss)
{
	free(ss->fids);
	free(ss->pool);
	*ss = (struct p9_session){0};
}

/* ---- saving ---- */

/* A fid can be re-created from its path: a file fid whose file still has
 * a name, and that name is its recorded path (renames through 9P keep
 * paths current, fid.h; a change made on the host behind the gofer's back
 * does not). */
static int save_check(struct p9_server *s, const struct p9_fid *f, struct kv_err *err)
{
	char shown[SHOW_MAX];
	struct stat st, at;

	if (f->kind != P9_FID_FILE)
		return kv_err_set(err, EOPNOTSUPP,
				  "fid %u: an extended attribute is being read or written", f->id);
	if (fstat(f->ofd >= 0 ? f->ofd : f->fd, &st) < 0)
		return kv_err_sys(err, errno, "fid %u '%s'", f->id, show(f->path, shown));
	if (st.st_nlink == 0)
		return kv_err_set(err, ESTALE, "fid %u '%s': deleted while in use", f->id,
				  show(f->path, shown));
	cleanup_close int fd = p9s_walk_path(s, f->attach, f->path);
	if (fd < 0 && fd != -ENOENT && fd != -ENOTDIR && fd != -ELOOP)
		return kv_err_sys(err, -fd, "fid %u '%s'", f->id, show(f->path, shown));
	if (fd < 0 || fstat(fd, &at) < 0 || at.st_dev != st.st_dev || at.st_ino != st.st_ino)
		return kv_err_set(err, ESTALE, "fid %u '%s': no longer at that path", f->id,
				  show(f->path, shown));
	return 0;
}

int p9_server_save(struct p9_server *s, size_t max, void **buf, size_t *len, struct kv_err *err)
{
	const struct p9_fids *t = &s->fids;
	size_t total = P9_SESSION_HDR_SIZE;
	struct p9_cur c;

	*buf = NULL;
	*len = 0;
	for (uint32_t i = 0; i < t->cap; i++) {
		const struct p9_fid *f = t->slot[i];
		if (!f)
			continue;
		int r = save_check(s, f, err);
		if (r)
			return r;
		total += P9_SESSION_FID_SIZE + strlen(f->path);
	}
	if (total > max) {
		*len = total;
		return kv_err_set(err, E2BIG, "%u fids take %zu bytes (at most %zu)", t->count,
				  total, max);
	}
	cleanup_free unsigned char *out = malloc(total);
	if (!out)
		return kv_err_set(err, ENOMEM, "out of memory");
	struct iovec v = {out, total};
	p9_cur_init(&c, &v, 1, total);
	p9_put_bytes(&c, P9_SESSION_MAGIC, 8);
	p9_put_u32(&c, P9_SESSION_VERSION);
	p9_put_u32(&c, s->msize);
	p9_put_u32(&c, t->count);
	for (uint32_t i = 0; i < t->cap; i++) {
		const struct p9_fid *f = t->slot[i];
		if (!f)
			continue;
		p9_put_u32(&c, f->id);
		p9_put_u32(&c, f->attach);
		p9_put_u32(&c, f->uid);
		p9_put_u32(&c, (uint32_t)f->ftype);
		p9_put_u32(&c, (uint32_t)(f->ofd >= 0 ? f->oflags : -1));
		p9_put_str(&c, f->path);
	}
	if (c.err || c.left) /* paths are < PATH_MAX (fid.h): cannot happen */
		return kv_err_set(err, EIO, "encoding the session");
	*buf = take_ptr(out);
	*len = total;
	return 0;
}

/* ---- loading ---- */

static void fid_freep(struct p9_fid **f)
{
	p9_fid_free(*f);
}

/* One fid, walked, checked and opened as saved, installed in the table. */
static int load_fid(struct p9_server *s, const struct p9_session_fid *sf)
{
	__attribute__((cleanup(fid_freep))) struct p9_fid *f = p9_fid_new(sf->id);
	struct stat st;

	if (!f)
		return -ENOMEM;
	free(f->path);
	f->path = strdup(sf->path);
	if (!f->path)
		return -ENOMEM;
	f->attach = sf->attach;
	f->uid = sf->uid;
	f->ftype = sf->ftype;
	int fd = p9s_walk_path(s, sf->attach, sf->path);
	if (fd < 0) /* a symlink or a file where a directory was: changed */
		return fd == -ENOTDIR || fd == -ELOOP ? -ESTALE : fd;
	f->fd = fd;
	if (fstat(f->fd, &st) < 0)
		return -errno;
	if ((st.st_mode & S_IFMT) != sf->ftype)
		return -ESTALE;
	int r = p9s_qid(s, &st, &f->qid);
	if (r)
		return r;
	if (sf->oflags >= 0) {
		int fl = sf->oflags & ~(O_CREAT | O_EXCL | O_TRUNC);
		if (p9s_oflags_write(fl) && p9s_readonly(s, f))
			return -EROFS;
		int ofd = p9s_reopen(s, f, fl);
		if (ofd < 0)
			return ofd;
		f->ofd = ofd;
		f->oflags = sf->oflags; /* as Tlopen left them: a later save is the same */
		if ((r = p9s_stat_qid(s, f->ofd, &st, &f->qid)))
			return r;
	}
	r = p9_fid_add(&s->fids, f);
	if (r)
		return r == -EEXIST ? -EINVAL : r;
	f = NULL; /* the table owns it */
	return 0;
}

static int load_error(struct kv_err *err, int r, const struct p9_session_fid *sf)
{
	char shown[SHOW_MAX];
	const char *p = show(sf->path, shown);

	switch (r) {
	case -ENOENT:
		return kv_err_set(err, ENOENT, "fid %u '%s': no longer exists", sf->id, p);
	case -ESTALE:
		return kv_err_set(err, ESTALE, "fid %u '%s': no longer the same kind of file",
				  sf->id, p);
	default:
		return kv_err_sys(err, -r, "fid %u '%s'", sf->id, p);
	}
}

int p9_server_load(struct p9_server *s, const void *buf, size_t len, struct kv_err *err)
{
	struct p9_session_limits lim = {
	    .max_msize = s->max_msize, .nattach = s->nattach, .max_fids = s->fids.max};
	struct p9_session ss;
	struct p9_qid q;
	struct stat st;
	int r = 0;

	if (s->fids.count)
		return kv_err_set(err, EBUSY, "the session already has %u fids", s->fids.count);
	if ((r = p9_session_parse(buf, len, &lim, &ss, err)))
		return r;
	/* qid device numbers in the order a fresh session makes them: the
	 * attach roots first */
	for (unsigned i = 0; i < s->nattach; i++)
		if (fstat(s->attach[i].fd, &st) == 0)
			(void)p9s_qid(s, &st, &q);
	for (uint32_t i = 0; i < ss.nfids && !r; i++)
		if ((r = load_fid(s, &ss.fids[i])))
			load_error(err, r, &ss.fids[i]);
	if (r)
		p9_fids_clear(&s->fids);
	else
		s->msize = ss.msize;
	p9_session_free(&ss);
	return r;
}
