/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fid table: the guest's 32-bit fid numbers mapped to what each one
 * names on the host.  A fid always holds an O_PATH|O_NOFOLLOW fd (`fd`) of
 * the file it was walked to, and once Tlopen/Tlcreate succeeded an opened fd
 * (`ofd`).  Its `path` lists the components walked from the attach root
 * ("a/b/c", "" at the root): ".." is resolved by dropping the last component
 * and walking again from the root, never by asking the host for "..", so
 * ".." at the root stays at the root and a directory moved outside the share
 * cannot lead there.  Paths are kept current through renames made over 9P
 * (p9_fids_rename), since a saved session (session.h) is re-created from
 * them.
 *
 * The table is an open-addressing hash (linear probing, backward-shift
 * deletion) whose size is bounded by `max`; one table per server.
 */
#ifndef KVBOX_GOFER_FID_H
#define KVBOX_GOFER_FID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gofer/p9wire.h"

enum p9_fid_kind {
	P9_FID_FILE,	    /* a walked file or directory */
	P9_FID_XATTR_READ,  /* from Txattrwalk: Tread serves `xattr->buf` */
	P9_FID_XATTR_WRITE, /* from Txattrcreate: Twrite fills, Tclunk commits */
};

struct p9_xattr {
	char name[P9_NAME_MAX + 1];
	char *buf;
	size_t size;   /* value size (read: fetched, write: announced) */
	size_t filled; /* write: highest byte written */
	int flags;     /* XATTR_CREATE / XATTR_REPLACE */
};

struct p9_fid {
	uint32_t id;
	enum p9_fid_kind kind;
	int fd;		 /* O_PATH|O_NOFOLLOW, always valid */
	int ofd;	 /* opened fd, -1 until Tlopen/Tlcreate */
	int oflags;	 /* host open flags of ofd */
	mode_t ftype;	 /* S_IFMT of the file when walked */
	unsigned attach; /* index of the attach point */
	uint32_t uid;	 /* n_uname from Tattach: owner of created files */
	struct p9_qid qid;
	char *path; /* components below the attach root, "" at the root */
	struct p9_xattr *xattr;
};

struct p9_fids {
	struct p9_fid **slot;
	uint32_t cap; /* power of two */
	uint32_t count;
	uint32_t max; /* most live fids allowed */
};

int p9_fids_init(struct p9_fids *t, uint32_t max);
/* Frees every fid (closing its fds); the table stays usable. */
void p9_fids_clear(struct p9_fids *t);
void p9_fids_destroy(struct p9_fids *t);
struct p9_fid *p9_fid_get(const struct p9_fids *t, uint32_t id);
/* Inserts f: 0, -EEXIST, -EMFILE when `max` fids are live, -ENOMEM. */
int p9_fid_add(struct p9_fids *t, struct p9_fid *f);
/* Removes and returns the fid (NULL if absent); the caller frees it. */
struct p9_fid *p9_fid_take(struct p9_fids *t, uint32_t id);

/* A fid with no fds and path "" (NULL on ENOMEM). */
struct p9_fid *p9_fid_new(uint32_t id);
void p9_fid_free(struct p9_fid *f);

/* After the file at component path `from` on attach point `attach` was
 * renamed to `to`: every file fid naming it or anything below it follows
 * ("from/x" becomes "to/x").  Best effort: a fid whose new path would
 * reach PATH_MAX, or on ENOMEM, keeps its old path, which the path users
 * detect as stale (p9s_parent, session saving).  from and to must not be
 * a fid's own path string. */
void p9_fids_rename(struct p9_fids *t, unsigned attach, const char *from, const char *to);

/* Component paths.  push appends "/name" (fails -ENAMETOOLONG past
 * PATH_MAX), pop drops the last component ("" stays ""). */
int p9_path_push(char **path, const char *name);
void p9_path_pop(char *path);
/* Last component ("" at the root). */
const char *p9_path_base(const char *path);

#endif
