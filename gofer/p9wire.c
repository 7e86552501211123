/* SPDX-License-Identifier: Apache-2.0 */
/*
 * 9P2000.L wire codec: the scatter-gather cursor and one layout table that
 * drives both p9_decode() and p9_encode(), so a message's encoding and
 * decoding cannot drift apart.  Everything a guest sends passes through
 * p9_decode(); nothing else in the gofer reads request bytes.
 *
 * Limits are enforced while decoding: names <= 255 bytes, symlink targets
 * < PATH_MAX, no NUL inside a string, nwname/nwqid <= 16, payload counts
 * within the message, message size within max_size and the buffers.
 */
#include "gofer/p9wire.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

void p9_cur_init(struct p9_cur *c, const struct iovec *iov, int niov, size_t limit)
{
	size_t total = 0;

	*c = (struct p9_cur){.iov = iov, .niov = niov > 0 ? niov : 0};
	for (int i = 0; i < c->niov && total < limit; i++) {
		size_t len = iov[i].iov_len;
		/* saturate: the budget only needs to reach `limit` */
		total = len > limit - total ? limit : total + len;
	}
	c->left = total < limit ? total : limit;
}

void p9_cur_fail(struct p9_cur *c, int err)
{
	if (!c->err)
		c->err = err;
	c->left = 0;
}

/* Advances over n bytes, calling fn(ptr, len, arg) for each piece.  The
 * budget invariant (left <= bytes physically remaining) keeps idx < niov. */
static void cur_walk(struct p9_cur *c, size_t n, void (*fn)(void *, size_t, void *), void *arg)
{
	if (c->err)
		return;
	if (n > c->left) {
		p9_cur_fail(c, EPROTO);
		return;
	}
	c->left -= n;
	while (n) {
		const struct iovec *v = &c->iov[c->idx];
		size_t avail = v->iov_len - c->off;
		if (!avail) {
			c->idx++;
			c->off = 0;
			continue;
		}
		size_t k = avail < n ? avail : n;
		if (fn)
			fn((char *)v->iov_base + c->off, k, arg);
		c->off += k;
		n -= k;
	}
}

static void copy_from_iov(void *p, size_t n, void *arg)
{
	char **dst = arg;
	memcpy(*dst, p, n);
	*dst += n;
}

static void copy_to_iov(void *p, size_t n, void *arg)
{
	const char **src = arg;
	memcpy(p, *src, n);
	*src += n;
}

void p9_get_bytes(struct p9_cur *c, void *dst, size_t n)
{
	char *d = dst;
	size_t before = c->left;

	cur_walk(c, n, copy_from_iov, &d);
	if (n > before)
		memset(dst, 0, n);
}

void p9_put_bytes(struct p9_cur *c, const void *src, size_t n)
{
	const char *s = src;

	if (!c->err && n > c->left) {
		p9_cur_fail(c, EMSGSIZE);
		return;
	}
	cur_walk(c, n, copy_to_iov, &s);
}

void p9_cur_skip(struct p9_cur *c, size_t n)
{
	cur_walk(c, n, NULL, NULL);
}

uint8_t p9_get_u8(struct p9_cur *c)
{
	uint8_t v;
	p9_get_bytes(c, &v, 1);
	return v;
}

uint16_t p9_get_u16(struct p9_cur *c)
{
	uint16_t v;
	p9_get_bytes(c, &v, 2);
	return le16toh(v);
}

uint32_t p9_get_u32(struct p9_cur *c)
{
	uint32_t v;
	p9_get_bytes(c, &v, 4);
	return le32toh(v);
}

uint64_t p9_get_u64(struct p9_cur *c)
{
	uint64_t v;
	p9_get_bytes(c, &v, 8);
	return le64toh(v);
}

void p9_put_u8(struct p9_cur *c, uint8_t v)
{
	p9_put_bytes(c, &v, 1);
}

void p9_put_u16(struct p9_cur *c, uint16_t v)
{
	v = htole16(v);
	p9_put_bytes(c, &v, 2);
}

void p9_put_u32(struct p9_cur *c, uint32_t v)
{
	v = htole32(v);
	p9_put_bytes(c, &v, 4);
}

void p9_put_u64(struct p9_cur *c, uint64_t v)
{
	v = htole64(v);
	p9_put_bytes(c, &v, 8);
}

void p9_get_str(struct p9_cur *c, char *dst, size_t cap)
{
	size_t len = p9_get_u16(c);

	dst[0] = '\0';
	if (c->err)
		return;
	if (len >= cap) {
		p9_cur_fail(c, ENAMETOOLONG);
		return;
	}
	p9_get_bytes(c, dst, len);
	dst[c->err ? 0 : len] = '\0';
	if (!c->err && memchr(dst, '\0', len)) {
		dst[0] = '\0';
		p9_cur_fail(c, EINVAL);
	}
}

void p9_put_strn(struct p9_cur *c, const char *s, size_t len)
{
	if (len > UINT16_MAX) {
		p9_cur_fail(c, ENAMETOOLONG);
		return;
	}
	p9_put_u16(c, (uint16_t)len);
	p9_put_bytes(c, s, len);
}

void p9_put_str(struct p9_cur *c, const char *s)
{
	p9_put_strn(c, s, strlen(s));
}

void p9_get_qid(struct p9_cur *c, struct p9_qid *q)
{
	q->type = p9_get_u8(c);
	q->version = p9_get_u32(c);
	q->path = p9_get_u64(c);
}

void p9_put_qid(struct p9_cur *c, const struct p9_qid *q)
{
	p9_put_u8(c, q->type);
	p9_put_u32(c, q->version);
	p9_put_u64(c, q->path);
}

void p9_cur_take(struct p9_cur *c, size_t n, struct p9_cur *sub)
{
	if (c->err || n > c->left) {
		p9_cur_fail(c, c->err ? c->err : EPROTO);
		*sub = (struct p9_cur){.iov = c->iov};
		return;
	}
	*sub = *c;
	sub->left = n;
	p9_cur_skip(c, n);
}

static void copy_iov_to_cur(void *p, size_t n, void *arg)
{
	p9_put_bytes(arg, p, n);
}

void p9_cur_copy(struct p9_cur *c, const struct p9_cur *src)
{
	struct p9_cur s = *src;

	if (!c->err && s.left > c->left) {
		p9_cur_fail(c, EMSGSIZE);
		return;
	}
	cur_walk(&s, s.left, copy_iov_to_cur, c);
}

int p9_cur_iov(const struct p9_cur *c, struct iovec *out, int max)
{
	int idx = c->idx, n = 0;
	size_t off = c->off, left = c->left;

	while (left) {
		size_t avail = c->iov[idx].iov_len - off;
		if (avail) {
			if (n == max)
				return -E2BIG;
			size_t k = avail < left ? avail : left;
			out[n].iov_base = (char *)c->iov[idx].iov_base + off;
			out[n].iov_len = k;
			n++;
			left -= k;
		}
		idx++;
		off = 0;
	}
	return n;
}

size_t p9_dirent_size(size_t namelen)
{
	return P9_DIRENT_FIXED + namelen;
}

void p9_put_dirent(struct p9_cur *c, const struct p9_qid *q, uint64_t off, uint8_t type,
		   const char *name, size_t namelen)
{
	p9_put_qid(c, q);
	p9_put_u64(c, off);
	p9_put_u8(c, type);
	p9_put_strn(c, name, namelen);
}

void p9_get_dirent(struct p9_cur *c, struct p9_dirent *d)
{
	p9_get_qid(c, &d->qid);
	d->offset = p9_get_u64(c);
	d->type = p9_get_u8(c);
	p9_get_str(c, d->name, sizeof(d->name));
}

/* ---- layout tables ---- */

enum field_kind {
	F_END,
	F_U8,
	F_U16,
	F_U32,
	F_U64,
	F_NAME, /* p9_name: <= 255 bytes */
	F_PATH, /* char[P9_PATH_MAX]: symlink targets */
	F_QID,
	F_WNAMES, /* nwname[2] at off, names at aux */
	F_WQIDS,  /* nwqid[2] at off, qids at aux */
	F_DATA,	  /* struct p9_payload: count[4] + bytes */
};

struct field {
	uint8_t kind;
	uint16_t off;
	uint16_t aux;
};

#define OFF(m) offsetof(struct p9_msg, u.m)
#define FLD(k, m)                                                                                  \
	{                                                                                          \
		F_##k, OFF(m), 0                                                                   \
	}
#define FLD2(k, m, a)                                                                              \
	{                                                                                          \
		F_##k, OFF(m), OFF(a)                                                              \
	}
#define END                                                                                        \
	{                                                                                          \
		F_END, 0, 0                                                                        \
	}

static const struct field L_EMPTY[] = {END};
static const struct field L_VERSION[] = {FLD(U32, version.msize), FLD(NAME, version.version), END};
static const struct field L_TAUTH[] = {FLD(U32, auth.afid), FLD(NAME, auth.uname),
				       FLD(NAME, auth.aname), FLD(U32, auth.n_uname), END};
static const struct field L_TATTACH[] = {FLD(U32, attach.fid),	   FLD(U32, attach.afid),
					 FLD(NAME, attach.uname),  FLD(NAME, attach.aname),
					 FLD(U32, attach.n_uname), END};
static const struct field L_RQID[] = {FLD(QID, rqid.qid), END};
static const struct field L_RLERROR[] = {FLD(U32, lerror.ecode), END};
static const struct field L_TFLUSH[] = {FLD(U16, flush.oldtag), END};
static const struct field L_TWALK[] = {FLD(U32, walk.fid), FLD(U32, walk.newfid),
				       FLD2(WNAMES, walk.nwname, walk.wnames), END};
static const struct field L_RWALK[] = {FLD2(WQIDS, rwalk.nwqid, rwalk.wqids), END};
static const struct field L_FID[] = {FLD(U32, fid.fid), END};
static const struct field L_TLOPEN[] = {FLD(U32, lopen.fid), FLD(U32, lopen.flags), END};
static const struct field L_ROPEN[] = {FLD(QID, ropen.qid), FLD(U32, ropen.iounit), END};
static const struct field L_TLCREATE[] = {FLD(U32, lcreate.fid),   FLD(NAME, lcreate.name),
					  FLD(U32, lcreate.flags), FLD(U32, lcreate.mode),
					  FLD(U32, lcreate.gid),   END};
static const struct field L_TREAD[] = {FLD(U32, read.fid), FLD(U64, read.offset),
				       FLD(U32, read.count), END};
static const struct field L_RDATA[] = {FLD(DATA, rdata), END};
static const struct field L_TWRITE[] = {FLD(U32, write.fid), FLD(U64, write.offset),
					FLD(DATA, write.data), END};
static const struct field L_RWRITE[] = {FLD(U32, rwrite.count), END};
static const struct field L_TSYMLINK[] = {FLD(U32, symlink.fid), FLD(NAME, symlink.name),
					  FLD(PATH, symlink.target), FLD(U32, symlink.gid), END};
static const struct field L_TMKNOD[] = {FLD(U32, mknod.dfid),
					FLD(NAME, mknod.name),
					FLD(U32, mknod.mode),
					FLD(U32, mknod.major),
					FLD(U32, mknod.minor),
					FLD(U32, mknod.gid),
					END};
static const struct field L_TRENAME[] = {FLD(U32, rename.fid), FLD(U32, rename.dfid),
					 FLD(NAME, rename.name), END};
static const struct field L_RREADLINK[] = {FLD(PATH, rreadlink.target), END};
static const struct field L_TGETATTR[] = {FLD(U32, getattr.fid), FLD(U64, getattr.mask), END};
static const struct field L_RGETATTR[] = {
    FLD(U64, rgetattr.valid),	   FLD(QID, rgetattr.qid),	    FLD(U32, rgetattr.mode),
    FLD(U32, rgetattr.uid),	   FLD(U32, rgetattr.gid),	    FLD(U64, rgetattr.nlink),
    FLD(U64, rgetattr.rdev),	   FLD(U64, rgetattr.size),	    FLD(U64, rgetattr.blksize),
    FLD(U64, rgetattr.blocks),	   FLD(U64, rgetattr.atime_sec),    FLD(U64, rgetattr.atime_nsec),
    FLD(U64, rgetattr.mtime_sec),  FLD(U64, rgetattr.mtime_nsec),   FLD(U64, rgetattr.ctime_sec),
    FLD(U64, rgetattr.ctime_nsec), FLD(U64, rgetattr.btime_sec),    FLD(U64, rgetattr.btime_nsec),
    FLD(U64, rgetattr.gen),	   FLD(U64, rgetattr.data_version), END};
static const struct field L_TSETATTR[] = {FLD(U32, setattr.fid),
					  FLD(U32, setattr.valid),
					  FLD(U32, setattr.mode),
					  FLD(U32, setattr.uid),
					  FLD(U32, setattr.gid),
					  FLD(U64, setattr.size),
					  FLD(U64, setattr.atime_sec),
					  FLD(U64, setattr.atime_nsec),
					  FLD(U64, setattr.mtime_sec),
					  FLD(U64, setattr.mtime_nsec),
					  END};
static const struct field L_TXATTRWALK[] = {FLD(U32, xattrwalk.fid), FLD(U32, xattrwalk.newfid),
					    FLD(NAME, xattrwalk.name), END};
static const struct field L_RXATTRWALK[] = {FLD(U64, rxattrwalk.size), END};
static const struct field L_TXATTRCREATE[] = {
    FLD(U32, xattrcreate.fid), FLD(NAME, xattrcreate.name), FLD(U64, xattrcreate.size),
    FLD(U32, xattrcreate.flags), END};
static const struct field L_TFSYNC[] = {FLD(U32, fsync.fid), FLD(U32, fsync.datasync), END};
static const struct field L_TLOCK[] = {
    FLD(U32, lock.fid),	   FLD(U8, lock.type),	   FLD(U32, lock.flags),      FLD(U64, lock.start),
    FLD(U64, lock.length), FLD(U32, lock.proc_id), FLD(NAME, lock.client_id), END};
static const struct field L_RLOCK[] = {FLD(U8, rlock.status), END};
static const struct field L_TGETLOCK[] = {FLD(U32, lock.fid),
					  FLD(U8, lock.type),
					  FLD(U64, lock.start),
					  FLD(U64, lock.length),
					  FLD(U32, lock.proc_id),
					  FLD(NAME, lock.client_id),
					  END};
static const struct field L_RGETLOCK[] = {FLD(U8, lock.type),	     FLD(U64, lock.start),
					  FLD(U64, lock.length),     FLD(U32, lock.proc_id),
					  FLD(NAME, lock.client_id), END};
static const struct field L_TLINK[] = {FLD(U32, link.dfid), FLD(U32, link.fid),
				       FLD(NAME, link.name), END};
static const struct field L_TMKDIR[] = {FLD(U32, mkdir.dfid), FLD(NAME, mkdir.name),
					FLD(U32, mkdir.mode), FLD(U32, mkdir.gid), END};
static const struct field L_TRENAMEAT[] = {
    FLD(U32, renameat.olddirfid), FLD(NAME, renameat.oldname), FLD(U32, renameat.newdirfid),
    FLD(NAME, renameat.newname), END};
static const struct field L_TUNLINKAT[] = {FLD(U32, unlinkat.dirfid), FLD(NAME, unlinkat.name),
					   FLD(U32, unlinkat.flags), END};
static const struct field L_RSTATFS[] = {FLD(U32, rstatfs.type),    FLD(U32, rstatfs.bsize),
					 FLD(U64, rstatfs.blocks),  FLD(U64, rstatfs.bfree),
					 FLD(U64, rstatfs.bavail),  FLD(U64, rstatfs.files),
					 FLD(U64, rstatfs.ffree),   FLD(U64, rstatfs.fsid),
					 FLD(U32, rstatfs.namelen), END};

struct msg_def {
	const char *name;
	const struct field *layout;
};

static const struct msg_def defs[256] = {
    [P9_RLERROR] = {"Rlerror", L_RLERROR},
    [P9_TSTATFS] = {"Tstatfs", L_FID},
    [P9_RSTATFS] = {"Rstatfs", L_RSTATFS},
    [P9_TLOPEN] = {"Tlopen", L_TLOPEN},
    [P9_RLOPEN] = {"Rlopen", L_ROPEN},
    [P9_TLCREATE] = {"Tlcreate", L_TLCREATE},
    [P9_RLCREATE] = {"Rlcreate", L_ROPEN},
    [P9_TSYMLINK] = {"Tsymlink", L_TSYMLINK},
    [P9_RSYMLINK] = {"Rsymlink", L_RQID},
    [P9_TMKNOD] = {"Tmknod", L_TMKNOD},
    [P9_RMKNOD] = {"Rmknod", L_RQID},
    [P9_TRENAME] = {"Trename", L_TRENAME},
    [P9_RRENAME] = {"Rrename", L_EMPTY},
    [P9_TREADLINK] = {"Treadlink", L_FID},
    [P9_RREADLINK] = {"Rreadlink", L_RREADLINK},
    [P9_TGETATTR] = {"Tgetattr", L_TGETATTR},
    [P9_RGETATTR] = {"Rgetattr", L_RGETATTR},
    [P9_TSETATTR] = {"Tsetattr", L_TSETATTR},
    [P9_RSETATTR] = {"Rsetattr", L_EMPTY},
    [P9_TXATTRWALK] = {"Txattrwalk", L_TXATTRWALK},
    [P9_RXATTRWALK] = {"Rxattrwalk", L_RXATTRWALK},
    [P9_TXATTRCREATE] = {"Txattrcreate", L_TXATTRCREATE},
    [P9_RXATTRCREATE] = {"Rxattrcreate", L_EMPTY},
    [P9_TREADDIR] = {"Treaddir", L_TREAD},
    [P9_RREADDIR] = {"Rreaddir", L_RDATA},
    [P9_TFSYNC] = {"Tfsync", L_TFSYNC},
    [P9_RFSYNC] = {"Rfsync", L_EMPTY},
    [P9_TLOCK] = {"Tlock", L_TLOCK},
    [P9_RLOCK] = {"Rlock", L_RLOCK},
    [P9_TGETLOCK] = {"Tgetlock", L_TGETLOCK},
    [P9_RGETLOCK] = {"Rgetlock", L_RGETLOCK},
    [P9_TLINK] = {"Tlink", L_TLINK},
    [P9_RLINK] = {"Rlink", L_EMPTY},
    [P9_TMKDIR] = {"Tmkdir", L_TMKDIR},
    [P9_RMKDIR] = {"Rmkdir", L_RQID},
    [P9_TRENAMEAT] = {"Trenameat", L_TRENAMEAT},
    [P9_RRENAMEAT] = {"Rrenameat", L_EMPTY},
    [P9_TUNLINKAT] = {"Tunlinkat", L_TUNLINKAT},
    [P9_RUNLINKAT] = {"Runlinkat", L_EMPTY},
    [P9_TVERSION] = {"Tversion", L_VERSION},
    [P9_RVERSION] = {"Rversion", L_VERSION},
    [P9_TAUTH] = {"Tauth", L_TAUTH},
    [P9_RAUTH] = {"Rauth", L_RQID},
    [P9_TATTACH] = {"Tattach", L_TATTACH},
    [P9_RATTACH] = {"Rattach", L_RQID},
    [P9_TFLUSH] = {"Tflush", L_TFLUSH},
    [P9_RFLUSH] = {"Rflush", L_EMPTY},
    [P9_TWALK] = {"Twalk", L_TWALK},
    [P9_RWALK] = {"Rwalk", L_RWALK},
    [P9_TREAD] = {"Tread", L_TREAD},
    [P9_RREAD] = {"Rread", L_RDATA},
    [P9_TWRITE] = {"Twrite", L_TWRITE},
    [P9_RWRITE] = {"Rwrite", L_RWRITE},
    [P9_TCLUNK] = {"Tclunk", L_FID},
    [P9_RCLUNK] = {"Rclunk", L_EMPTY},
    [P9_TREMOVE] = {"Tremove", L_FID},
    [P9_RREMOVE] = {"Rremove", L_EMPTY},
};

bool p9_type_known(uint8_t type)
{
	return defs[type].layout != NULL;
}

const char *p9_type_name(uint8_t type)
{
	return defs[type].name ? defs[type].name : "unknown";
}

static void decode_field(struct p9_cur *c, const struct field *f, char *base)
{
	void *p = base + f->off;

	switch (f->kind) {
	case F_U8:
		*(uint8_t *)p = p9_get_u8(c);
		break;
	case F_U16:
		*(uint16_t *)p = p9_get_u16(c);
		break;
	case F_U32:
		*(uint32_t *)p = p9_get_u32(c);
		break;
	case F_U64:
		*(uint64_t *)p = p9_get_u64(c);
		break;
	case F_NAME:
		p9_get_str(c, p, sizeof(p9_name));
		break;
	case F_PATH:
		p9_get_str(c, p, P9_PATH_MAX);
		break;
	case F_QID:
		p9_get_qid(c, p);
		break;
	case F_DATA: {
		struct p9_payload *d = p;
		d->count = p9_get_u32(c);
		p9_cur_take(c, d->count, &d->data);
		break;
	}
	case F_WNAMES:
	case F_WQIDS: {
		uint16_t n = p9_get_u16(c);
		*(uint16_t *)p = n;
		if (n > P9_MAXWELEM) {
			p9_cur_fail(c, EINVAL);
			break;
		}
		for (uint16_t i = 0; i < n && !c->err; i++) {
			if (f->kind == F_WNAMES)
				p9_get_str(c, ((p9_name *)(base + f->aux))[i], sizeof(p9_name));
			else
				p9_get_qid(c, (struct p9_qid *)(base + f->aux) + i);
		}
		break;
	}
	}
}

static void encode_field(struct p9_cur *c, const struct field *f, const char *base)
{
	const void *p = base + f->off;

	switch (f->kind) {
	case F_U8:
		p9_put_u8(c, *(const uint8_t *)p);
		break;
	case F_U16:
		p9_put_u16(c, *(const uint16_t *)p);
		break;
	case F_U32:
		p9_put_u32(c, *(const uint32_t *)p);
		break;
	case F_U64:
		p9_put_u64(c, *(const uint64_t *)p);
		break;
	case F_NAME:
		p9_put_strn(c, p, strnlen(p, sizeof(p9_name) - 1));
		break;
	case F_PATH:
		p9_put_strn(c, p, strnlen(p, P9_PATH_MAX - 1));
		break;
	case F_QID:
		p9_put_qid(c, p);
		break;
	case F_DATA: {
		const struct p9_payload *d = p;
		if (d->count != d->data.left) {
			p9_cur_fail(c, EINVAL);
			break;
		}
		p9_put_u32(c, d->count);
		p9_cur_copy(c, &d->data);
		break;
	}
	case F_WNAMES:
	case F_WQIDS: {
		uint16_t n = *(const uint16_t *)p;
		if (n > P9_MAXWELEM) {
			p9_cur_fail(c, EINVAL);
			break;
		}
		p9_put_u16(c, n);
		for (uint16_t i = 0; i < n; i++) {
			if (f->kind == F_WNAMES) {
				const char *s = ((const p9_name *)(base + f->aux))[i];
				p9_put_strn(c, s, strnlen(s, P9_NAME_MAX));
			} else {
				p9_put_qid(c, (const struct p9_qid *)(base + f->aux) + i);
			}
		}
		break;
	}
	}
}

int p9_decode(const struct iovec *iov, int niov, uint32_t max_size, struct p9_msg *m)
{
	struct p9_cur c;

	p9_cur_init(&c, iov, niov, SIZE_MAX);
	size_t avail = c.left;
	uint32_t size = p9_get_u32(&c);
	m->type = p9_get_u8(&c);
	m->tag = p9_get_u16(&c);
	if (c.err || size < P9_HDR_SIZE || size > avail || size > max_size)
		return -EPROTO;
	c.left = size - P9_HDR_SIZE;

	const struct field *f = defs[m->type].layout;
	if (!f)
		return -EOPNOTSUPP;
	for (; f->kind != F_END && !c.err; f++)
		decode_field(&c, f, (char *)m);
	if (!c.err && c.left)
		c.err = EPROTO; /* trailing bytes inside the declared size */
	return c.err ? -c.err : 0;
}

struct p9_cur p9_enc_begin(struct p9_cur *c, uint8_t type, uint16_t tag)
{
	struct p9_cur start = *c;

	p9_put_u32(c, 0);
	p9_put_u8(c, type);
	p9_put_u16(c, tag);
	return start;
}

size_t p9_enc_finish(struct p9_cur *c, const struct p9_cur *start)
{
	struct p9_cur s = *start;
	size_t len = start->left - c->left;

	if (c->err || len > UINT32_MAX)
		return 0;
	p9_put_u32(&s, (uint32_t)len);
	return s.err ? 0 : len;
}

size_t p9_encode(const struct p9_msg *m, const struct iovec *iov, int niov, size_t limit)
{
	const struct field *f = defs[m->type].layout;
	struct p9_cur c;

	if (!f)
		return 0;
	p9_cur_init(&c, iov, niov, limit);
	struct p9_cur start = p9_enc_begin(&c, m->type, m->tag);
	for (; f->kind != F_END && !c.err; f++)
		encode_field(&c, f, (const char *)m);
	return p9_enc_finish(&c, &start);
}
