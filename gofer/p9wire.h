/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one 9P2000.L codec (diod style).  Owns the wire format and nothing
 * else: message numbers, the in-memory form of every message (struct p9_msg)
 * and a cursor over a scatter-gather list with a sticky error.
 *
 * A request arrives as a virtio descriptor chain, so the codec never assumes
 * a contiguous buffer: a struct p9_cur walks an iovec array, every get/put
 * is bounded by the cursor's byte budget, and the first failure sticks in
 * cur->err (truncation EPROTO, bad count or NUL in a string EINVAL, string
 * too long ENAMETOOLONG, output full EMSGSIZE) so callers check once at the
 * end.  File data (Twrite, Rread, Rreaddir payloads) is never copied: the
 * decoded message carries a sub-cursor over the caller's buffers which the
 * server turns into iovecs for preadv/pwritev.
 *
 * Flow: p9_decode() turns request bytes into a validated struct p9_msg;
 * handlers fill a response struct p9_msg; p9_encode() writes it.  Rread and
 * Rreaddir are written in place with p9_enc_begin/p9_enc_finish.
 */
#ifndef KVBOX_GOFER_P9WIRE_H
#define KVBOX_GOFER_P9WIRE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

enum {
	P9_TLERROR = 6,
	P9_RLERROR,
	P9_TSTATFS = 8,
	P9_RSTATFS,
	P9_TLOPEN = 12,
	P9_RLOPEN,
	P9_TLCREATE = 14,
	P9_RLCREATE,
	P9_TSYMLINK = 16,
	P9_RSYMLINK,
	P9_TMKNOD = 18,
	P9_RMKNOD,
	P9_TRENAME = 20,
	P9_RRENAME,
	P9_TREADLINK = 22,
	P9_RREADLINK,
	P9_TGETATTR = 24,
	P9_RGETATTR,
	P9_TSETATTR = 26,
	P9_RSETATTR,
	P9_TXATTRWALK = 30,
	P9_RXATTRWALK,
	P9_TXATTRCREATE = 32,
	P9_RXATTRCREATE,
	P9_TREADDIR = 40,
	P9_RREADDIR,
	P9_TFSYNC = 50,
	P9_RFSYNC,
	P9_TLOCK = 52,
	P9_RLOCK,
	P9_TGETLOCK = 54,
	P9_RGETLOCK,
	P9_TLINK = 70,
	P9_RLINK,
	P9_TMKDIR = 72,
	P9_RMKDIR,
	P9_TRENAMEAT = 74,
	P9_RRENAMEAT,
	P9_TUNLINKAT = 76,
	P9_RUNLINKAT,
	P9_TVERSION = 100,
	P9_RVERSION,
	P9_TAUTH = 102,
	P9_RAUTH,
	P9_TATTACH = 104,
	P9_RATTACH,
	P9_TFLUSH = 108,
	P9_RFLUSH,
	P9_TWALK = 110,
	P9_RWALK,
	P9_TREAD = 116,
	P9_RREAD,
	P9_TWRITE = 118,
	P9_RWRITE,
	P9_TCLUNK = 120,
	P9_RCLUNK,
	P9_TREMOVE = 122,
	P9_RREMOVE,
};

#define P9_NOTAG	((uint16_t)~0)
#define P9_NOFID	((uint32_t)~0)
#define P9_NONUNAME	((uint32_t)~0)
#define P9_HDR_SIZE	7u  /* size[4] type[1] tag[2] */
#define P9_IOHDR_SIZE	11u /* Rread/Rreaddir header: hdr + count[4] */
#define P9_MAXWELEM	16
#define P9_NAME_MAX	255	 /* names, unames, xattr names, version */
#define P9_PATH_MAX	PATH_MAX /* symlink targets, incl. the NUL */
#define P9_MIN_MSIZE	4096u
#define P9_MAX_MSIZE	(512u * 1024)
#define P9_DIRENT_FIXED 24u /* qid[13] offset[8] type[1] name-length[2] */

/* qid.type */
#define P9_QTDIR     0x80
#define P9_QTSYMLINK 0x02
#define P9_QTFILE    0x00

/* Tlopen/Tlcreate flags: the protocol's own numbering (it matches x86). */
#define P9_DOTL_WRONLY	  00000001
#define P9_DOTL_RDWR	  00000002
#define P9_DOTL_ACCMODE	  00000003
#define P9_DOTL_CREATE	  00000100
#define P9_DOTL_EXCL	  00000200
#define P9_DOTL_TRUNC	  00001000
#define P9_DOTL_APPEND	  00002000
#define P9_DOTL_NONBLOCK  00004000
#define P9_DOTL_DSYNC	  00010000
#define P9_DOTL_DIRECT	  00040000
#define P9_DOTL_DIRECTORY 00200000
#define P9_DOTL_NOFOLLOW  00400000
#define P9_DOTL_NOATIME	  01000000
#define P9_DOTL_SYNC	  04000000

/* Tgetattr request_mask / Rgetattr valid */
#define P9_GETATTR_BASIC 0x000007ffULL

/* Tsetattr valid */
#define P9_SETATTR_MODE	     0x001
#define P9_SETATTR_UID	     0x002
#define P9_SETATTR_GID	     0x004
#define P9_SETATTR_SIZE	     0x008
#define P9_SETATTR_ATIME     0x010
#define P9_SETATTR_MTIME     0x020
#define P9_SETATTR_CTIME     0x040
#define P9_SETATTR_ATIME_SET 0x080
#define P9_SETATTR_MTIME_SET 0x100

/* Tlock/Tgetlock */
#define P9_LOCK_TYPE_RDLCK  0
#define P9_LOCK_TYPE_WRLCK  1
#define P9_LOCK_TYPE_UNLCK  2
#define P9_LOCK_FLAGS_BLOCK 1
#define P9_LOCK_SUCCESS	    0
#define P9_LOCK_BLOCKED	    1
#define P9_LOCK_ERROR	    2
#define P9_LOCK_GRACE	    3

/* Tunlinkat flags */
#define P9_AT_REMOVEDIR 0x200

/*
 * A cursor over `niov` buffers: position (idx, off) and a budget `left`
 * that never exceeds the bytes physically there.  err is the sticky error
 * (positive errno, first one wins).  A cursor taken with p9_cur_take() is
 * also how payloads (file data, directory entries) are referenced.
 */
struct p9_cur {
	const struct iovec *iov;
	int niov;
	int idx;
	size_t off;
	size_t left;
	int err;
};

struct p9_qid {
	uint8_t type;
	uint32_t version;
	uint64_t path;
};

/* count[4] + bytes; the bytes are referenced, not copied. */
struct p9_payload {
	uint32_t count;
	struct p9_cur data;
};

struct p9_dirent {
	struct p9_qid qid;
	uint64_t offset;
	uint8_t type;
	char name[P9_NAME_MAX + 1];
};

typedef char p9_name[P9_NAME_MAX + 1];

struct p9_getattr {
	uint64_t valid;
	struct p9_qid qid;
	uint32_t mode, uid, gid;
	uint64_t nlink, rdev, size, blksize, blocks;
	uint64_t atime_sec, atime_nsec, mtime_sec, mtime_nsec;
	uint64_t ctime_sec, ctime_nsec, btime_sec, btime_nsec;
	uint64_t gen, data_version;
};

struct p9_setattr {
	uint32_t fid, valid, mode, uid, gid;
	uint64_t size, atime_sec, atime_nsec, mtime_sec, mtime_nsec;
};

struct p9_statfs {
	uint32_t type, bsize;
	uint64_t blocks, bfree, bavail, files, ffree, fsid;
	uint32_t namelen;
};

struct p9_lock {
	uint32_t fid;
	uint8_t type;
	uint32_t flags; /* Tlock only */
	uint64_t start, length;
	uint32_t proc_id;
	p9_name client_id;
};

/* The decoded form of any message; which member is valid follows `type`. */
struct p9_msg {
	uint8_t type;
	uint16_t tag;
	union {
		struct {
			uint32_t msize;
			p9_name version;
		} version; /* T/Rversion */
		struct {
			uint32_t afid;
			p9_name uname, aname;
			uint32_t n_uname;
		} auth;
		struct {
			uint32_t fid, afid;
			p9_name uname, aname;
			uint32_t n_uname;
		} attach;
		struct {
			uint32_t ecode;
		} lerror;
		struct {
			uint16_t oldtag;
		} flush;
		struct {
			uint32_t fid, newfid;
			uint16_t nwname;
			p9_name wnames[P9_MAXWELEM];
		} walk;
		struct {
			uint16_t nwqid;
			struct p9_qid wqids[P9_MAXWELEM];
		} rwalk;
		/* Tclunk, Tremove, Treadlink, Tstatfs */
		struct {
			uint32_t fid;
		} fid;
		/* Rauth, Rattach, Rmkdir, Rsymlink, Rmknod */
		struct {
			struct p9_qid qid;
		} rqid;
		struct {
			uint32_t fid, flags;
		} lopen;
		/* Rlopen, Rlcreate */
		struct {
			struct p9_qid qid;
			uint32_t iounit;
		} ropen;
		struct {
			uint32_t fid;
			p9_name name;
			uint32_t flags, mode, gid;
		} lcreate;
		/* Tread, Treaddir */
		struct {
			uint32_t fid;
			uint64_t offset;
			uint32_t count;
		} read;
		/* Rread, Rreaddir */
		struct p9_payload rdata;
		struct {
			uint32_t fid;
			uint64_t offset;
			struct p9_payload data;
		} write;
		struct {
			uint32_t count;
		} rwrite;
		struct {
			uint32_t fid;
			p9_name name;
			char target[P9_PATH_MAX];
			uint32_t gid;
		} symlink;
		struct {
			uint32_t dfid;
			p9_name name;
			uint32_t mode, major, minor, gid;
		} mknod;
		struct {
			uint32_t fid, dfid;
			p9_name name;
		} rename;
		struct {
			char target[P9_PATH_MAX];
		} rreadlink;
		struct {
			uint32_t fid;
			uint64_t mask;
		} getattr;
		struct p9_getattr rgetattr;
		struct p9_setattr setattr;
		struct {
			uint32_t fid, newfid;
			p9_name name;
		} xattrwalk;
		struct {
			uint64_t size;
		} rxattrwalk;
		struct {
			uint32_t fid;
			p9_name name;
			uint64_t size;
			uint32_t flags;
		} xattrcreate;
		struct {
			uint32_t fid, datasync;
		} fsync;
		struct p9_lock lock; /* Tlock, Tgetlock, Rgetlock */
		struct {
			uint8_t status;
		} rlock;
		struct {
			uint32_t dfid, fid;
			p9_name name;
		} link;
		struct {
			uint32_t dfid;
			p9_name name;
			uint32_t mode, gid;
		} mkdir;
		struct {
			uint32_t olddirfid;
			p9_name oldname;
			uint32_t newdirfid;
			p9_name newname;
		} renameat;
		struct {
			uint32_t dirfid;
			p9_name name;
			uint32_t flags;
		} unlinkat;
		struct p9_statfs rstatfs;
	} u;
};

/* Cursor primitives.  `limit` caps the budget below the buffers' total. */
void p9_cur_init(struct p9_cur *c, const struct iovec *iov, int niov, size_t limit);
void p9_cur_fail(struct p9_cur *c, int err);
void p9_get_bytes(struct p9_cur *c, void *dst, size_t n);
uint8_t p9_get_u8(struct p9_cur *c);
uint16_t p9_get_u16(struct p9_cur *c);
uint32_t p9_get_u32(struct p9_cur *c);
uint64_t p9_get_u64(struct p9_cur *c);
/* Copies a string of at most cap-1 bytes into dst, NUL-terminated;
 * rejects embedded NULs.  On error dst is "". */
void p9_get_str(struct p9_cur *c, char *dst, size_t cap);
void p9_get_qid(struct p9_cur *c, struct p9_qid *q);
void p9_put_bytes(struct p9_cur *c, const void *src, size_t n);
void p9_put_u8(struct p9_cur *c, uint8_t v);
void p9_put_u16(struct p9_cur *c, uint16_t v);
void p9_put_u32(struct p9_cur *c, uint32_t v);
void p9_put_u64(struct p9_cur *c, uint64_t v);
void p9_put_strn(struct p9_cur *c, const char *s, size_t len);
void p9_put_str(struct p9_cur *c, const char *s);
void p9_put_qid(struct p9_cur *c, const struct p9_qid *q);
/* Moves n bytes forward without touching them. */
void p9_cur_skip(struct p9_cur *c, size_t n);
/* Splits off the next n bytes as *sub (budget n) and advances c past them. */
void p9_cur_take(struct p9_cur *c, size_t n, struct p9_cur *sub);
/* Copies all of src's remaining bytes to c (payload re-encoding, tests). */
void p9_cur_copy(struct p9_cur *c, const struct p9_cur *src);
/* Fills out[] with iovecs covering c's remaining budget: count or -E2BIG. */
int p9_cur_iov(const struct p9_cur *c, struct iovec *out, int max);

/* Whole messages.  p9_decode reads the size field, bounds the message by
 * it, by the buffers and by max_size, and requires every byte consumed.
 * Returns 0, -EOPNOTSUPP for an unknown type (type and tag are filled so
 * the caller can answer), or -EPROTO/-EINVAL/-ENAMETOOLONG. */
int p9_decode(const struct iovec *iov, int niov, uint32_t max_size, struct p9_msg *m);
/* Returns the bytes written (at most limit), 0 if it does not fit or the
 * type is unknown. */
size_t p9_encode(const struct p9_msg *m, const struct iovec *iov, int niov, size_t limit);

/* In-place responses: begin writes a header with a zero size and returns
 * the cursor at the start, finish patches the size; 0 on overflow. */
struct p9_cur p9_enc_begin(struct p9_cur *c, uint8_t type, uint16_t tag);
size_t p9_enc_finish(struct p9_cur *c, const struct p9_cur *start);

/* Directory entries inside an Rreaddir payload. */
size_t p9_dirent_size(size_t namelen);
void p9_put_dirent(struct p9_cur *c, const struct p9_qid *q, uint64_t off, uint8_t type,
		   const char *name, size_t namelen);
void p9_get_dirent(struct p9_cur *c, struct p9_dirent *d);

/* True for types this codec knows (both T and R). */
bool p9_type_known(uint8_t type);
const char *p9_type_name(uint8_t type);

#endif
