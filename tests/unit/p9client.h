/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small 9P2000.L client for tests: encodes requests with the gofer's own
 * codec, hands them to a struct p9_server in-process as scatter-gather
 * lists (optionally split into many small buffers, as a virtio chain would
 * be), and decodes the response.  Every call checks the response's tag,
 * type and size field against what was sent.
 */
#ifndef KVBOX_TESTS_P9CLIENT_H
#define KVBOX_TESTS_P9CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "gofer/p9wire.h"
#include "gofer/server.h"

struct p9c {
	struct p9_server *s;
	uint16_t tag;
	size_t bufsize;
	unsigned char *req, *resp;
	struct iovec *riov, *wiov;
	int nwiov_max;
	/* scatter-gather shape: 0 = one buffer; else first buffer of
	 * *_first bytes, then buffers of *_split bytes */
	size_t req_first, req_split;
	size_t resp_first, resp_split;
	size_t resp_limit; /* 0 = bufsize: total response space offered */
	size_t last_len;   /* response length of the last call */
	struct p9_msg rx;  /* last response; payload cursors point into resp */
};

int p9c_init(struct p9c *c, struct p9_server *s);
void p9c_fini(struct p9c *c);

/* Sends tx, decodes into rx (may be &c->rx).  0 on the expected R-message,
 * -ecode on Rlerror, -EPROTO on anything malformed. */
int p9c_rpc(struct p9c *c, struct p9_msg *tx, struct p9_msg *rx);
/* Sends raw request bytes (split per req_*) and decodes the answer. */
int p9c_raw(struct p9c *c, const void *req, size_t len, struct p9_msg *rx);
/* Response length of the last call (0: the server wrote nothing). */
size_t p9c_last_len(const struct p9c *c);

int p9c_version(struct p9c *c, uint32_t msize, const char *version, uint32_t *got_msize,
		char *got_version);
int p9c_attach(struct p9c *c, uint32_t fid, const char *aname, uint32_t uid, struct p9_qid *q);
/* Walks '/'-separated `path` ("" clones); returns the number of qids
 * (fewer than components on a partial walk) or -ecode. */
int p9c_walk(struct p9c *c, uint32_t fid, uint32_t newfid, const char *path, struct p9_qid *last);
int p9c_walkv(struct p9c *c, uint32_t fid, uint32_t newfid, int n, const char *const *names,
	      struct p9_qid *qids);
int p9c_lopen(struct p9c *c, uint32_t fid, uint32_t flags, struct p9_qid *q);
int p9c_lcreate(struct p9c *c, uint32_t fid, const char *name, uint32_t flags, uint32_t mode,
		struct p9_qid *q);
/* Returns bytes moved or -ecode. */
ssize_t p9c_read(struct p9c *c, uint32_t fid, uint64_t off, void *buf, uint32_t len);
ssize_t p9c_write(struct p9c *c, uint32_t fid, uint64_t off, const void *buf, uint32_t len);
int p9c_clunk(struct p9c *c, uint32_t fid);
int p9c_getattr(struct p9c *c, uint32_t fid, struct p9_getattr *a);
int p9c_setattr(struct p9c *c, const struct p9_setattr *a);
int p9c_mkdir(struct p9c *c, uint32_t dfid, const char *name, uint32_t mode, struct p9_qid *q);
int p9c_unlinkat(struct p9c *c, uint32_t dfid, const char *name, uint32_t flags);
int p9c_symlink(struct p9c *c, uint32_t dfid, const char *name, const char *target,
		struct p9_qid *q);
int p9c_mknod(struct p9c *c, uint32_t dfid, const char *name, uint32_t mode, uint32_t major,
	      uint32_t minor, struct p9_qid *q);
int p9c_readlink(struct p9c *c, uint32_t fid, char *buf, size_t cap);
int p9c_renameat(struct p9c *c, uint32_t odfid, const char *oname, uint32_t ndfid,
		 const char *nname);
int p9c_link(struct p9c *c, uint32_t dfid, uint32_t fid, const char *name);
/* One Treaddir: calls fn for each entry; returns the entry count or
 * -ecode; *next is the offset to continue from. */
int p9c_readdir(struct p9c *c, uint32_t fid, uint64_t off, uint32_t count,
		void (*fn)(const struct p9_dirent *d, void *arg), void *arg, uint64_t *next);
/* Sets name=value (size 0 removes) through Txattrcreate/Twrite/Tclunk on
 * a clone `tmpfid` of fid. */
int p9c_setxattr(struct p9c *c, uint32_t fid, uint32_t tmpfid, const char *name, const void *val,
		 size_t len, uint32_t flags);
/* Reads name ("" lists) through Txattrwalk/Tread/Tclunk; returns the size
 * or -ecode. */
ssize_t p9c_getxattr(struct p9c *c, uint32_t fid, uint32_t tmpfid, const char *name, void *buf,
		     size_t cap);
int p9c_lock(struct p9c *c, uint32_t fid, uint8_t type, uint64_t start, uint64_t len,
	     uint8_t *status);
int p9c_getlock(struct p9c *c, uint32_t fid, struct p9_lock *l);

/* A test fixture: a fresh temp dir with root/ (attach "/"), ro/ (attach
 * "ro", read-only, holding "file"), outside/ (not shared, holding
 * "secret"), a server over it, a client that has done Tversion (512 KiB)
 * and attached fid 0 to "/". */
struct p9_fixture {
	char base[64];
	char root[96], ro[96], outside[96];
	struct p9_server *s;
	struct p9c c;
	struct p9_qid rootqid;
};

int p9fx_setup(struct p9_fixture **out, bool no_openat2);
void p9fx_teardown(struct p9_fixture *fx);
/* Host path of `rel` under base (e.g. "root/a", "outside/secret"). */
const char *p9fx_path(struct p9_fixture *fx, const char *rel);
int p9fx_write(struct p9_fixture *fx, const char *rel, const char *data);
/* Reads a host file into buf (NUL-terminated); returns length or -errno. */
ssize_t p9fx_read(struct p9_fixture *fx, const char *rel, char *buf, size_t cap);

#endif
