/* SPDX-License-Identifier: Apache-2.0 */
/*
 * 9P2000.L codec tests: every message type round-trips (contiguous and
 * byte-by-byte scatter-gather), has the size the protocol says, fails
 * cleanly when truncated at every byte or given a wrong size field, and
 * the decoder's limits (string lengths, NULs, nwname, payload counts)
 * hold.  Also the fid table and path bookkeeping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gofer/fid.h"
#include "gofer/p9wire.h"

static char payload_bytes[] = "0123456789";

static void sample(uint8_t type, struct p9_msg *m)
{
	static struct iovec pv = {payload_bytes, 10};
	const struct p9_qid qid = {P9_QTDIR, 7, 0x0001000000000042ULL};

	memset(m, 0, sizeof(*m));
	m->type = type;
	m->tag = 0x1234;
	switch (type) {
	case P9_TVERSION:
	case P9_RVERSION:
		m->u.version.msize = 8192;
		strcpy(m->u.version.version, "9P2000.L");
		break;
	case P9_TAUTH:
		m->u.auth.afid = 5;
		strcpy(m->u.auth.uname, "user");
		strcpy(m->u.auth.aname, "tag");
		m->u.auth.n_uname = 1000;
		break;
	case P9_TATTACH:
		m->u.attach.fid = 1;
		m->u.attach.afid = P9_NOFID;
		strcpy(m->u.attach.uname, "user");
		strcpy(m->u.attach.aname, "tag");
		m->u.attach.n_uname = 1000;
		break;
	case P9_RAUTH:
	case P9_RATTACH:
	case P9_RMKDIR:
	case P9_RSYMLINK:
	case P9_RMKNOD:
		m->u.rqid.qid = qid;
		break;
	case P9_RLERROR:
		m->u.lerror.ecode = ENOENT;
		break;
	case P9_TFLUSH:
		m->u.flush.oldtag = 9;
		break;
	case P9_TWALK:
		m->u.walk.fid = 1;
		m->u.walk.newfid = 2;
		m->u.walk.nwname = 3;
		strcpy(m->u.walk.wnames[0], "a");
		strcpy(m->u.walk.wnames[1], "bb");
		strcpy(m->u.walk.wnames[2], "ccc");
		break;
	case P9_RWALK:
		m->u.rwalk.nwqid = 3;
		for (int i = 0; i < 3; i++)
			m->u.rwalk.wqids[i] = (struct p9_qid){0, (uint32_t)i, 100u + (uint64_t)i};
		break;
	case P9_TCLUNK:
	case P9_TREMOVE:
	case P9_TREADLINK:
	case P9_TSTATFS:
		m->u.fid.fid = 3;
		break;
	case P9_TLOPEN:
		m->u.lopen.fid = 3;
		m->u.lopen.flags = P9_DOTL_RDWR;
		break;
	case P9_RLOPEN:
	case P9_RLCREATE:
		m->u.ropen.qid = qid;
		m->u.ropen.iounit = 4096;
		break;
	case P9_TLCREATE:
		m->u.lcreate.fid = 3;
		strcpy(m->u.lcreate.name, "new");
		m->u.lcreate.flags = P9_DOTL_WRONLY;
		m->u.lcreate.mode = 0644;
		m->u.lcreate.gid = 100;
		break;
	case P9_TREAD:
	case P9_TREADDIR:
		m->u.read.fid = 3;
		m->u.read.offset = 0x123456789ULL;
		m->u.read.count = 4096;
		break;
	case P9_RREAD:
	case P9_RREADDIR:
		m->u.rdata.count = 10;
		p9_cur_init(&m->u.rdata.data, &pv, 1, 10);
		break;
	case P9_TWRITE:
		m->u.write.fid = 3;
		m->u.write.offset = 77;
		m->u.write.data.count = 10;
		p9_cur_init(&m->u.write.data.data, &pv, 1, 10);
		break;
	case P9_RWRITE:
		m->u.rwrite.count = 10;
		break;
	case P9_TSYMLINK:
		m->u.symlink.fid = 3;
		strcpy(m->u.symlink.name, "link");
		strcpy(m->u.symlink.target, "../x/y");
		m->u.symlink.gid = 100;
		break;
	case P9_TMKNOD:
		m->u.mknod = (__typeof__(m->u.mknod)){
		    .dfid = 3, .mode = 010644, .major = 1, .minor = 2, .gid = 100};
		strcpy(m->u.mknod.name, "fifo");
		break;
	case P9_TRENAME:
		m->u.rename.fid = 3;
		m->u.rename.dfid = 4;
		strcpy(m->u.rename.name, "new");
		break;
	case P9_RREADLINK:
		strcpy(m->u.rreadlink.target, "../x/y");
		break;
	case P9_TGETATTR:
		m->u.getattr.fid = 3;
		m->u.getattr.mask = P9_GETATTR_BASIC;
		break;
	case P9_RGETATTR: {
		struct p9_getattr *a = &m->u.rgetattr;
		*a = (struct p9_getattr){.valid = P9_GETATTR_BASIC, .qid = qid, .mode = 0100644};
		a->uid = 1, a->gid = 2;
		a->nlink = 3, a->rdev = 4, a->size = 5, a->blksize = 6, a->blocks = 7;
		a->atime_sec = 8, a->atime_nsec = 9, a->mtime_sec = 10, a->mtime_nsec = 11;
		a->ctime_sec = 12, a->ctime_nsec = 13, a->btime_sec = 14, a->btime_nsec = 15;
		a->gen = 16, a->data_version = 17;
		break;
	}
	case P9_TSETATTR:
		m->u.setattr = (struct p9_setattr){3, 0x1ff, 0755, 1, 2, 4096, 10, 11, 12, 13};
		break;
	case P9_TXATTRWALK:
		m->u.xattrwalk.fid = 3;
		m->u.xattrwalk.newfid = 4;
		strcpy(m->u.xattrwalk.name, "user.foo");
		break;
	case P9_RXATTRWALK:
		m->u.rxattrwalk.size = 99;
		break;
	case P9_TXATTRCREATE:
		m->u.xattrcreate.fid = 3;
		strcpy(m->u.xattrcreate.name, "user.foo");
		m->u.xattrcreate.size = 99;
		m->u.xattrcreate.flags = 1;
		break;
	case P9_TFSYNC:
		m->u.fsync.fid = 3;
		m->u.fsync.datasync = 1;
		break;
	case P9_TLOCK:
	case P9_TGETLOCK:
	case P9_RGETLOCK:
		m->u.lock = (struct p9_lock){.fid = type == P9_RGETLOCK ? 0 : 3,
					     .type = P9_LOCK_TYPE_WRLCK,
					     .flags = type == P9_TLOCK ? 1 : 0,
					     .start = 5,
					     .length = 6,
					     .proc_id = 7};
		strcpy(m->u.lock.client_id, "host");
		break;
	case P9_RLOCK:
		m->u.rlock.status = P9_LOCK_BLOCKED;
		break;
	case P9_TLINK:
		m->u.link.dfid = 3;
		m->u.link.fid = 4;
		strcpy(m->u.link.name, "hard");
		break;
	case P9_TMKDIR:
		m->u.mkdir.dfid = 3;
		strcpy(m->u.mkdir.name, "dir");
		m->u.mkdir.mode = 0755;
		m->u.mkdir.gid = 100;
		break;
	case P9_TRENAMEAT:
		m->u.renameat.olddirfid = 3;
		strcpy(m->u.renameat.oldname, "old");
		m->u.renameat.newdirfid = 4;
		strcpy(m->u.renameat.newname, "new");
		break;
	case P9_TUNLINKAT:
		m->u.unlinkat.dirfid = 3;
		strcpy(m->u.unlinkat.name, "gone");
		m->u.unlinkat.flags = P9_AT_REMOVEDIR;
		break;
	case P9_RSTATFS:
		m->u.rstatfs = (struct p9_statfs){0xef53, 4096, 1, 2, 3, 4, 5, 6, 255};
		break;
	default:
		break; /* messages with no body */
	}
}

/* Body sizes (after the 7-byte header) computed by hand from the spec. */
static int body_size(uint8_t type)
{
	switch (type) {
	case P9_TVERSION:
	case P9_RVERSION:
		return 14;
	case P9_TAUTH:
		return 19;
	case P9_TATTACH:
		return 23;
	case P9_RAUTH:
	case P9_RATTACH:
	case P9_RMKDIR:
	case P9_RSYMLINK:
	case P9_RMKNOD:
		return 13;
	case P9_RLERROR:
		return 4;
	case P9_TFLUSH:
		return 2;
	case P9_TWALK:
		return 22;
	case P9_RWALK:
		return 41;
	case P9_TCLUNK:
	case P9_TREMOVE:
	case P9_TREADLINK:
	case P9_TSTATFS:
		return 4;
	case P9_TLOPEN:
		return 8;
	case P9_RLOPEN:
	case P9_RLCREATE:
		return 17;
	case P9_TLCREATE:
		return 21;
	case P9_TREAD:
	case P9_TREADDIR:
		return 16;
	case P9_RREAD:
	case P9_RREADDIR:
		return 14;
	case P9_TWRITE:
		return 26;
	case P9_RWRITE:
		return 4;
	case P9_TSYMLINK:
		return 22;
	case P9_TMKNOD:
		return 26;
	case P9_TRENAME:
		return 13;
	case P9_RREADLINK:
		return 8;
	case P9_TGETATTR:
		return 12;
	case P9_RGETATTR:
		return 153;
	case P9_TSETATTR:
		return 60;
	case P9_TXATTRWALK:
		return 18;
	case P9_RXATTRWALK:
		return 8;
	case P9_TXATTRCREATE:
		return 26;
	case P9_TFSYNC:
		return 8;
	case P9_TLOCK:
		return 35;
	case P9_RLOCK:
		return 1;
	case P9_TGETLOCK:
		return 31;
	case P9_RGETLOCK:
		return 27;
	case P9_TLINK:
		return 14;
	case P9_TMKDIR:
		return 17;
	case P9_TRENAMEAT:
		return 18;
	case P9_TUNLINKAT:
		return 14;
	case P9_RSTATFS:
		return 60;
	default:
		return 0;
	}
}

static bool has_payload(uint8_t t)
{
	return t == P9_RREAD || t == P9_RREADDIR || t == P9_TWRITE;
}

static void set_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* Decodes buf[0..len) offered as one iovec per `chunk` bytes.  Payload
 * cursors in *m point into the iovec array, so it outlives the call. */
static struct iovec split_iov[1024];

static int decode_split(unsigned char *buf, size_t len, size_t chunk, struct p9_msg *m)
{
	struct iovec *iov = split_iov;
	int n = 0;

	for (size_t off = 0; off < len && n < 1024; off += chunk, n++)
		iov[n] = (struct iovec){buf + off, len - off < chunk ? len - off : chunk};
	memset(m, 0, sizeof(*m));
	return p9_decode(iov, n, UINT32_MAX, m);
}

static void check_same(const struct p9_msg *a, const struct p9_msg *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->tag, b->tag);
	if (!has_payload(a->type)) {
		assert_memory_equal(&a->u, &b->u, sizeof(a->u));
		return;
	}
	const struct p9_payload *pa = a->type == P9_TWRITE ? &a->u.write.data : &a->u.rdata;
	const struct p9_payload *pb = b->type == P9_TWRITE ? &b->u.write.data : &b->u.rdata;
	char x[16], y[16];
	struct p9_cur ca = pa->data, cb = pb->data;
	assert_int_equal(pa->count, pb->count);
	p9_get_bytes(&ca, x, pa->count);
	p9_get_bytes(&cb, y, pb->count);
	assert_memory_equal(x, y, pa->count);
	if (a->type == P9_TWRITE) {
		assert_int_equal(a->u.write.fid, b->u.write.fid);
		assert_int_equal(a->u.write.offset, b->u.write.offset);
	}
}

static void test_roundtrip_every_type(void **state)
{
	unsigned char buf[512], buf2[512];
	int types = 0;

	for (int t = 0; t < 256; t++) {
		if (!p9_type_known((uint8_t)t))
			continue;
		struct p9_msg m, d;
		struct iovec v = {buf, sizeof(buf)};
		sample((uint8_t)t, &m);
		size_t len = p9_encode(&m, &v, 1, sizeof(buf));
		assert_int_equal(len, P9_HDR_SIZE + (size_t)body_size((uint8_t)t));
		for (size_t chunk = 1; chunk <= len; chunk = chunk * 2 + 1) {
			assert_int_equal(decode_split(buf, len, chunk, &d), 0);
			check_same(&m, &d);
		}
		/* re-encoding the decoded form, into 1-byte buffers, is identical */
		struct iovec bytes[512];
		for (size_t i = 0; i < sizeof(buf2); i++)
			bytes[i] = (struct iovec){buf2 + i, 1};
		assert_int_equal(p9_encode(&d, bytes, 512, sizeof(buf2)), len);
		assert_memory_equal(buf, buf2, len);
		types++;
	}
	assert_int_equal(types, 57); /* 28 T/R pairs + Rlerror */
}

static void test_golden_bytes(void **state)
{
	static const unsigned char tversion[] = {21,   0,    0,	  0,   100, 0x34, 0x12,
						 0x00, 0x20, 0,	  0,   8,   0,	  '9',
						 'P',  '2',  '0', '0', '0', '.',  'L'};
	static const unsigned char tlcreate[] = {28,   0, 0, 0,	  14,  0x34, 0x12, 3, 0, 0,
						 0,    3, 0, 'n', 'e', 'w',  1,	   0, 0, 0,
						 0xa4, 1, 0, 0,	  100, 0,    0,	   0};
	unsigned char buf[64];
	struct iovec v = {buf, sizeof(buf)};
	struct p9_msg m;

	sample(P9_TVERSION, &m);
	assert_int_equal(p9_encode(&m, &v, 1, sizeof(buf)), sizeof(tversion));
	assert_memory_equal(buf, tversion, sizeof(tversion));
	sample(P9_TLCREATE, &m);
	assert_int_equal(p9_encode(&m, &v, 1, sizeof(buf)), sizeof(tlcreate));
	assert_memory_equal(buf, tlcreate, sizeof(tlcreate));
}

static void test_truncated_every_offset(void **state)
{
	unsigned char buf[512];

	for (int t = 0; t < 256; t++) {
		if (!p9_type_known((uint8_t)t))
			continue;
		struct p9_msg m, d;
		struct iovec v = {buf, sizeof(buf)};
		sample((uint8_t)t, &m);
		size_t len = p9_encode(&m, &v, 1, sizeof(buf));
		for (size_t cut = 0; cut < len; cut++) {
			/* size field intact, buffers short */
			assert_int_not_equal(decode_split(buf, cut, 3, &d), 0);
			/* size field consistent with the cut: a field is missing */
			if (cut >= 4) {
				set_u32(buf, (uint32_t)cut);
				assert_int_not_equal(decode_split(buf, cut, 5, &d), 0);
				set_u32(buf, (uint32_t)len);
			}
		}
		/* one byte too many inside the declared size */
		buf[len] = 0;
		set_u32(buf, (uint32_t)len + 1);
		assert_int_equal(decode_split(buf, len + 1, 7, &d), -EPROTO);
		/* the encoder refuses every buffer that is too small */
		for (size_t lim = 0; lim < len; lim++)
			assert_int_equal(p9_encode(&m, &v, 1, lim), 0);
	}
}

static size_t encode(struct p9_msg *m, unsigned char *buf, size_t cap)
{
	struct iovec v = {buf, cap};
	return p9_encode(m, &v, 1, cap);
}

static void test_string_limits(void **state)
{
	unsigned char buf[8192];
	struct p9_msg m, d;
	size_t len;

	/* a 255-byte name is fine; 256 is too long */
	sample(P9_TLCREATE, &m);
	memset(m.u.lcreate.name, 'x', 255);
	len = encode(&m, buf, sizeof(buf));
	assert_int_equal(decode_split(buf, len, 64, &d), 0);
	assert_int_equal(strlen(d.u.lcreate.name), 255);
	/* patch the length to 256 and add a byte */
	buf[11] = 0, buf[12] = 1; /* name length at offset 7 + fid[4] */
	memmove(buf + 13 + 256, buf + 13 + 255, len - 13 - 255);
	buf[13 + 255] = 'x';
	set_u32(buf, (uint32_t)len + 1);
	assert_int_equal(decode_split(buf, len + 1, 64, &d), -ENAMETOOLONG);

	/* an embedded NUL is rejected */
	sample(P9_TWALK, &m);
	len = encode(&m, buf, sizeof(buf));
	buf[7 + 4 + 4 + 2 + 2 + 2 + 1] = '\0'; /* second char of "bb" */
	assert_int_equal(decode_split(buf, len, 64, &d), -EINVAL);

	/* symlink targets may reach PATH_MAX - 1, not PATH_MAX */
	sample(P9_TSYMLINK, &m);
	memset(m.u.symlink.target, 'y', P9_PATH_MAX - 1);
	len = encode(&m, buf, sizeof(buf));
	assert_int_equal(decode_split(buf, len, 1000, &d), 0);
	assert_int_equal(strlen(d.u.symlink.target), P9_PATH_MAX - 1);
	/* a name field holding a path-sized string is too long */
	sample(P9_TSYMLINK, &m);
	len = encode(&m, buf, sizeof(buf));
	size_t name_at = 7 + 4;
	buf[name_at] = 0xff, buf[name_at + 1] = 0x0f;
	assert_int_equal(decode_split(buf, len, 1000, &d), -ENAMETOOLONG);
}

static void test_bad_counts(void **state)
{
	unsigned char buf[8192];
	struct p9_msg m, d;
	size_t len;

	/* nwname 17 */
	sample(P9_TWALK, &m);
	len = encode(&m, buf, sizeof(buf));
	buf[15] = 17;
	assert_int_equal(decode_split(buf, len, 64, &d), -EINVAL);
	/* nwname 16 with 16 names is the maximum */
	m.u.walk.nwname = 16;
	for (int i = 0; i < 16; i++)
		strcpy(m.u.walk.wnames[i], "n");
	len = encode(&m, buf, sizeof(buf));
	assert_int_equal(decode_split(buf, len, 64, &d), 0);
	assert_int_equal(d.u.walk.nwname, 16);
	/* nwqid 17 */
	sample(P9_RWALK, &m);
	len = encode(&m, buf, sizeof(buf));
	buf[7] = 17;
	assert_int_equal(decode_split(buf, len, 64, &d), -EINVAL);
	/* Twrite count larger than the data present */
	sample(P9_TWRITE, &m);
	len = encode(&m, buf, sizeof(buf));
	set_u32(buf + 7 + 4 + 8, 11);
	assert_int_equal(decode_split(buf, len, 64, &d), -EPROTO);
	set_u32(buf + 7 + 4 + 8, 0xffffffffu);
	assert_int_equal(decode_split(buf, len, 64, &d), -EPROTO);
	/* Twrite count smaller than the data present: trailing bytes */
	set_u32(buf + 7 + 4 + 8, 9);
	assert_int_equal(decode_split(buf, len, 64, &d), -EPROTO);
	/* size field: below the header, above max_size, above the buffers */
	sample(P9_TCLUNK, &m);
	len = encode(&m, buf, sizeof(buf));
	struct iovec v = {buf, len};
	set_u32(buf, 6);
	assert_int_equal(p9_decode(&v, 1, UINT32_MAX, &d), -EPROTO);
	set_u32(buf, (uint32_t)len);
	assert_int_equal(p9_decode(&v, 1, (uint32_t)len - 1, &d), -EPROTO);
	set_u32(buf, (uint32_t)len + 1);
	assert_int_equal(p9_decode(&v, 1, UINT32_MAX, &d), -EPROTO);
	/* unknown type: EOPNOTSUPP, with the tag available for the answer */
	set_u32(buf, (uint32_t)len);
	buf[4] = 200;
	assert_int_equal(p9_decode(&v, 1, UINT32_MAX, &d), -EOPNOTSUPP);
	assert_int_equal(d.tag, 0x1234);
	/* no buffers at all */
	assert_int_equal(p9_decode(NULL, 0, UINT32_MAX, &d), -EPROTO);
	/* zero-length buffers in the list are skipped */
	struct iovec holes[5] = {{buf, 0}, {buf, 3}, {buf, 0}, {buf + 3, len - 3}, {buf, 0}};
	buf[4] = P9_TCLUNK;
	assert_int_equal(p9_decode(holes, 5, UINT32_MAX, &d), 0);
	assert_int_equal(d.u.fid.fid, 3);
}

static void test_cursor_iov_and_dirents(void **state)
{
	unsigned char a[7], b[100], c[3];
	struct iovec v[3] = {{a, sizeof(a)}, {b, sizeof(b)}, {c, sizeof(c)}};
	struct iovec out[3];
	struct p9_cur cur, sub;
	struct p9_qid q = {P9_QTFILE, 1, 2};
	struct p9_dirent d;

	p9_cur_init(&cur, v, 3, SIZE_MAX);
	assert_int_equal(cur.left, 110);
	p9_cur_skip(&cur, 5);
	p9_cur_take(&cur, 104, &sub);
	assert_int_equal(p9_cur_iov(&sub, out, 3), 3);
	assert_ptr_equal(out[0].iov_base, a + 5);
	assert_int_equal(out[0].iov_len, 2);
	assert_int_equal(out[1].iov_len, 100);
	assert_int_equal(out[2].iov_len, 2);
	assert_int_equal(p9_cur_iov(&sub, out, 2), -E2BIG);
	/* dirents across the three buffers */
	p9_cur_init(&cur, v, 3, SIZE_MAX);
	p9_put_dirent(&cur, &q, 99, 8, "file.txt", 8);
	p9_put_dirent(&cur, &q, 100, 4, "dir", 3);
	assert_int_equal(cur.err, 0);
	assert_int_equal(110 - cur.left, p9_dirent_size(8) + p9_dirent_size(3));
	p9_cur_init(&cur, v, 3, p9_dirent_size(8) + p9_dirent_size(3));
	p9_get_dirent(&cur, &d);
	assert_string_equal(d.name, "file.txt");
	assert_int_equal(d.offset, 99);
	p9_get_dirent(&cur, &d);
	assert_string_equal(d.name, "dir");
	assert_int_equal(d.type, 4);
	assert_int_equal(cur.left, 0);
	assert_int_equal(cur.err, 0);
	p9_get_dirent(&cur, &d);
	assert_int_equal(cur.err, EPROTO);
	/* overflow on put is sticky */
	p9_cur_init(&cur, v, 1, 7);
	p9_put_u64(&cur, 1);
	assert_int_equal(cur.err, EMSGSIZE);
	p9_put_u8(&cur, 1);
	assert_int_equal(cur.err, EMSGSIZE);
}

static void test_fid_table(void **state)
{
	struct p9_fids t;
	enum { N = 3000 };

	assert_int_equal(p9_fids_init(&t, N), 0);
	for (uint32_t i = 0; i < N; i++) {
		struct p9_fid *f = p9_fid_new(i * 7919u);
		assert_non_null(f);
		assert_int_equal(p9_fid_add(&t, f), 0);
	}
	struct p9_fid *extra = p9_fid_new(0xdeadbeef);
	assert_int_equal(p9_fid_add(&t, extra), -EMFILE);
	struct p9_fid *dup = p9_fid_new(7919u);
	assert_int_equal(p9_fid_add(&t, dup), -EEXIST);
	p9_fid_free(dup);
	/* remove every other, the rest stay reachable */
	for (uint32_t i = 0; i < N; i += 2)
		p9_fid_free(p9_fid_take(&t, i * 7919u));
	for (uint32_t i = 0; i < N; i++)
		assert_true((p9_fid_get(&t, i * 7919u) != NULL) == (i % 2 == 1));
	assert_null(p9_fid_take(&t, 12345678));
	assert_int_equal(p9_fid_add(&t, extra), 0);
	assert_ptr_equal(p9_fid_get(&t, 0xdeadbeef), extra);
	p9_fids_clear(&t);
	assert_null(p9_fid_get(&t, 7919u * 3));
	p9_fids_destroy(&t);
}

static void test_paths(void **state)
{
	char *p = strdup("");

	assert_int_equal(p9_path_push(&p, "a"), 0);
	assert_int_equal(p9_path_push(&p, "bc"), 0);
	assert_string_equal(p, "a/bc");
	assert_string_equal(p9_path_base(p), "bc");
	p9_path_pop(p);
	assert_string_equal(p, "a");
	p9_path_pop(p);
	assert_string_equal(p, "");
	p9_path_pop(p);
	assert_string_equal(p, "");
	char name[256];
	memset(name, 'n', 255);
	name[255] = '\0';
	int r = 0;
	for (int i = 0; i < 20 && r == 0; i++)
		r = p9_path_push(&p, name);
	assert_int_equal(r, -ENAMETOOLONG);
	assert_true(strlen(p) < PATH_MAX);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_every_type),
	    cmocka_unit_test(test_golden_bytes),
	    cmocka_unit_test(test_truncated_every_offset),
	    cmocka_unit_test(test_string_limits),
	    cmocka_unit_test(test_bad_counts),
	    cmocka_unit_test(test_cursor_iov_and_dirents),
	    cmocka_unit_test(test_fid_table),
	    cmocka_unit_test(test_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
