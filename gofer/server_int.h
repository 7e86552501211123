/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals shared by the gofer's request handlers (server.c: session,
 * walk, confinement helpers; fsops.c: open/read/write/readdir; fsattr.c:
 * attributes and locks; fsdir.c: namespace changes; xattr.c; session.c:
 * saving and re-creating the whole session).  Not an
 * interface for other folders: they use gofer/server.h.
 *
 * A handler gets a decoded, validated request and either fills r->out (the
 * server encodes it), or writes its response in place into r->resp and
 * returns P9_DIRECT with r->len set (Rread, Rreaddir), or returns -errno
 * (the server answers Rlerror).
 */
#ifndef KVBOX_GOFER_SERVER_INT_H
#define KVBOX_GOFER_SERVER_INT_H

#include <sys/stat.h>

#include "gofer/fid.h"
#include "gofer/p9wire.h"
#include "gofer/server.h"

#define P9_DIRECT      1
#define P9_MAX_SEGS    1024 /* iovecs handed to preadv/pwritev (IOV_MAX) */
#define P9_MAX_DEVS    1024 /* distinct host devices in qid paths */
#define P9_DIRBUF_SIZE (64 * 1024)
#define P9_XATTR_MAX   (64 * 1024) /* XATTR_SIZE_MAX */

struct p9_attach {
	char *aname;
	int fd; /* O_PATH directory */
	bool readonly;
};

struct p9_server {
	struct p9_attach *attach;
	unsigned nattach;
	uint32_t max_msize;
	uint32_t msize; /* 0 until Tversion */
	int proc_fd;	/* /proc/self/fd, for reopening checked inodes */
	bool no_openat2;
	struct p9_fids fids;
	dev_t devs[P9_MAX_DEVS];
	unsigned ndevs;
	struct iovec *iov; /* P9_MAX_SEGS scratch for preadv/pwritev */
	char *dirbuf;	   /* P9_DIRBUF_SIZE scratch for getdents64 */
	struct p9_msg in, out;
	struct p9_stats stats;
};

struct p9_req {
	const struct p9_msg *in;
	struct p9_msg *out;
	struct p9_cur resp; /* the response buffers, for P9_DIRECT handlers */
	size_t len;
};

typedef int (*p9_handler)(struct p9_server *s, struct p9_req *r);

/* server.c: fids and confinement */
int p9s_fid(struct p9_server *s, uint32_t id, struct p9_fid **out);
int p9s_file_fid(struct p9_server *s, uint32_t id, struct p9_fid **out);
int p9s_dir_fid(struct p9_server *s, uint32_t id, struct p9_fid **out);
bool p9s_readonly(const struct p9_server *s, const struct p9_fid *f);
int p9s_check_name(const char *name);
int p9s_walk_one(struct p9_server *s, int dirfd, const char *name);
int p9s_walk_path(struct p9_server *s, unsigned attach, const char *path);
int p9s_parent(struct p9_server *s, const struct p9_fid *f, int *dirfd);
int p9s_qid(struct p9_server *s, const struct stat *st, struct p9_qid *q);
int p9s_reopen(struct p9_server *s, const struct p9_fid *f, int flags);
int p9s_proc_name(const struct p9_server *s, int fd, char buf[16]);
void p9s_set_owner(int fd, uint32_t uid, uint32_t gid);
int p9s_stat_qid(struct p9_server *s, int fd, struct stat *st, struct p9_qid *q);

/* fsops.c: do host open flags write (access mode, O_TRUNC, O_APPEND)? */
bool p9s_oflags_write(int hflags);

/* handlers */
int p9s_h_lopen(struct p9_server *s, struct p9_req *r);
int p9s_h_lcreate(struct p9_server *s, struct p9_req *r);
int p9s_h_read(struct p9_server *s, struct p9_req *r);
int p9s_h_write(struct p9_server *s, struct p9_req *r);
int p9s_h_readdir(struct p9_server *s, struct p9_req *r);
int p9s_h_fsync(struct p9_server *s, struct p9_req *r);
int p9s_h_statfs(struct p9_server *s, struct p9_req *r);
int p9s_h_getattr(struct p9_server *s, struct p9_req *r);
int p9s_h_setattr(struct p9_server *s, struct p9_req *r);
int p9s_h_lock(struct p9_server *s, struct p9_req *r);
int p9s_h_getlock(struct p9_server *s, struct p9_req *r);
int p9s_h_mkdir(struct p9_server *s, struct p9_req *r);
int p9s_h_symlink(struct p9_server *s, struct p9_req *r);
int p9s_h_mknod(struct p9_server *s, struct p9_req *r);
int p9s_h_rename(struct p9_server *s, struct p9_req *r);
int p9s_h_renameat(struct p9_server *s, struct p9_req *r);
int p9s_h_unlinkat(struct p9_server *s, struct p9_req *r);
int p9s_h_remove(struct p9_server *s, struct p9_req *r);
int p9s_h_readlink(struct p9_server *s, struct p9_req *r);
int p9s_h_link(struct p9_server *s, struct p9_req *r);
int p9s_h_xattrwalk(struct p9_server *s, struct p9_req *r);
int p9s_h_xattrcreate(struct p9_server *s, struct p9_req *r);

/* xattr.c: the read/write/clunk side of xattr fids */
int p9s_xattr_read(struct p9_server *s, struct p9_fid *f, struct p9_req *r);
int p9s_xattr_write(struct p9_fid *f, struct p9_req *r);
int p9s_xattr_commit(struct p9_server *s, struct p9_fid *f);

#endif
