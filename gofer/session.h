/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A 9P session saved as bytes, for checkpoint/restore: the negotiated
 * msize and every fid of one p9_server, so a new gofer (same share
 * directories, possibly at another host path with the same content) can
 * take over where the old one stopped.  The VMM carries the bytes in its
 * snapshot (the control messages SAVE and LOAD, gofer/ctl.h); only the
 * gofer reads or writes them, and a loader treats them as hostile: they
 * come back from an image file on disk.
 *
 * Format, little-endian, nothing after the last fid:
 *
 *   magic    8 bytes  "KVBXFIDS"
 *   version  u32      1
 *   msize    u32      0 (no session yet: nfids is 0) or P9_MIN_MSIZE..max_msize
 *   nfids    u32      <= the server's fid limit
 *   nfids times, ids unique:
 *     id       u32
 *     attach   u32    attach point index (< the server's count)
 *     uid      u32    n_uname from Tattach
 *     ftype    u32    S_IFMT bits (one of the seven file types; S_IFDIR at
 *                     the attach root)
 *     oflags   i32    -1: not opened.  Else the host open flags: O_RDONLY,
 *                     O_WRONLY or O_RDWR | O_TRUNC, O_APPEND, O_DSYNC,
 *                     O_SYNC, on a regular file or (O_RDONLY, no O_TRUNC)
 *                     a directory
 *     path     u16 length + bytes: the fid's components below the attach
 *                     root, '/'-separated ("" for the root), each a valid
 *                     9P name (not "", ".", ".."; no '/' or NUL), < PATH_MAX
 *
 * Only plain file fids are saved; xattr fids (a Txattrwalk/Txattrcreate in
 * progress) refuse the save.  What is not carried: POSIX locks taken with
 * Tlock (they belong to the old process's open files), and qid paths are
 * recomputed (same values on the same file system, since the attach
 * roots' devices are registered first as in a fresh session).
 */
#ifndef KVBOX_GOFER_SESSION_H
#define KVBOX_GOFER_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct p9_server;

#define P9_SESSION_MAGIC    "KVBXFIDS"
#define P9_SESSION_VERSION  1u
#define P9_SESSION_HDR_SIZE 20u /* magic, version, msize, nfids */
#define P9_SESSION_FID_SIZE 22u /* one fid without its path bytes */

/* One saved fid, as parsed: every field checked against the format. */
struct p9_session_fid {
	uint32_t id;
	uint32_t attach;
	uint32_t uid;
	uint32_t ftype;
	int32_t oflags;
	const char *path; /* NUL-terminated, in the session's own storage */
};

struct p9_session {
	uint32_t msize;
	uint32_t nfids;
	struct p9_session_fid *fids;
	char *pool; /* the paths */
};

/* What the parser checks against (a server's configuration). */
struct p9_session_limits {
	uint32_t max_msize;
	uint32_t nattach;
	uint32_t max_fids;
};

/* Parses len bytes strictly.  0, or -EINVAL with err naming the first
 * problem and its byte offset (nothing allocated is left in out), or
 * -ENOMEM.  No host calls: safe for fuzzing. */
int p9_session_parse(const void *buf, size_t len, const struct p9_session_limits *lim,
		     struct p9_session *out, struct kv_err *err);
void p9_session_free(struct p9_session *ss);

/* Serialises s's session into a new malloc'd buffer (*buf, *len bytes) of
 * at most max bytes.  The fid table is not touched.  Fails with -EOPNOTSUPP
 * on an xattr fid, -ESTALE when a fid's file was deleted (no links left)
 * or its path no longer leads to it, -E2BIG when it would not fit (*len =
 * the bytes it would take), -ENOMEM; err names the fid. */
int p9_server_save(struct p9_server *s, size_t max, void **buf, size_t *len, struct kv_err *err);

/* Re-creates a saved session in s, which must have no fids (-EBUSY).  Each
 * fid is walked from its attach root with the server's confined walk,
 * checked to be the same type of file (-ESTALE; also when a directory on
 * its path is no longer one), and reopened with its saved flags minus
 * O_CREAT, O_EXCL and O_TRUNC.  A missing path is -ENOENT, a malformed
 * blob -EINVAL.  On any failure the fid table is left empty and msize as it
 * was; err names the fid and its path. */
int p9_server_load(struct p9_server *s, const void *buf, size_t len, struct kv_err *err);

#endif
