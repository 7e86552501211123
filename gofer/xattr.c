/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Extended attributes over 9P2000.L: Txattrwalk fetches a value (or, for
 * the name "", the list of names) into a new xattr fid that Tread serves;
 * Txattrcreate turns a fid into an xattr fid that Twrite fills and Tclunk
 * commits (size 0 removes the attribute).
 *
 * Only user.* and security.* attributes are exposed: trusted.* and system.*
 * carry host policy (overlay metadata, ACLs) the guest must not set.  The
 * f*xattr() calls need a real fd, so only regular files and directories
 * (reopened through p9s_reopen) take xattrs; other types answer
 * EOPNOTSUPP.  Values are bounded by XATTR_SIZE_MAX.
 */
#include "gofer/server_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/cleanup.h"

static bool name_allowed(const char *name)
{
	return !strncmp(name, "user.", 5) || !strncmp(name, "security.", 9);
}

/* An fd f*xattr() accepts: the fid's opened fd, or a read-only reopen
 * returned in *tmp for the caller to close. */
static int xattr_fd(struct p9_server *s, const struct p9_fid *f, int *tmp)
{
	*tmp = -1;
	if (f->ofd >= 0)
		return f->ofd;
	if (!S_ISREG(f->ftype) && !S_ISDIR(f->ftype))
		return -EOPNOTSUPP;
	int fd = p9s_reopen(s, f, O_RDONLY);
	if (fd >= 0)
		*tmp = fd;
	return fd;
}

/* Keeps only the names the guest may see, in place. */
static size_t filter_list(char *buf, size_t n)
{
	size_t out = 0;

	for (size_t i = 0; i < n;) {
		size_t len = strnlen(buf + i, n - i);
		if (name_allowed(buf + i)) {
			memmove(buf + out, buf + i, len);
			buf[out + len] = '\0';
			out += len + 1;
		}
		i += len + 1;
	}
	return out;
}

static int fetch(struct p9_server *s, const struct p9_fid *f, const char *name, char *buf,
		 size_t *len)
{
	cleanup_close int tmp = -1;
	int fd = xattr_fd(s, f, &tmp);

	if (fd < 0)
		return fd;
	ssize_t n =
	    name[0] ? fgetxattr(fd, name, buf, P9_XATTR_MAX) : flistxattr(fd, buf, P9_XATTR_MAX);
	if (n < 0)
		return errno == ERANGE ? -E2BIG : -errno;
	*len = name[0] ? (size_t)n : filter_list(buf, (size_t)n);
	return 0;
}

static struct p9_fid *xattr_fid(const struct p9_fid *f, uint32_t id)
{
	struct p9_fid *nf = p9_fid_new(id);

	if (!nf)
		return NULL;
	nf->kind = P9_FID_XATTR_READ;
	nf->attach = f->attach;
	nf->uid = f->uid;
	nf->ftype = f->ftype;
	nf->qid = f->qid;
	nf->fd = fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
	nf->xattr = calloc(1, sizeof(*nf->xattr));
	if (nf->fd < 0 || !nf->xattr) {
		p9_fid_free(nf);
		return NULL;
	}
	return nf;
}

int p9s_h_xattrwalk(struct p9_server *s, struct p9_req *r)
{
	const __typeof__(r->in->u.xattrwalk) *m = &r->in->u.xattrwalk;
	struct p9_fid *f;
	size_t len = 0;
	int ret = p9s_file_fid(s, m->fid, &f);

	if (ret)
		return ret;
	if (p9_fid_get(&s->fids, m->newfid))
		return -EEXIST;
	if (m->name[0] && !name_allowed(m->name))
		return -EOPNOTSUPP;
	cleanup_free char *buf = malloc(P9_XATTR_MAX + 1);
	if (!buf)
		return -ENOMEM;
	if ((ret = fetch(s, f, m->name, buf, &len)))
		return ret;
	struct p9_fid *nf = xattr_fid(f, m->newfid);
	if (!nf)
		return -ENOMEM;
	char *shrunk = realloc(buf, len ? len : 1);
	nf->xattr->buf = shrunk ? shrunk : buf;
	buf = NULL;
	nf->xattr->size = len;
	if ((ret = p9_fid_add(&s->fids, nf))) {
		p9_fid_free(nf);
		return ret;
	}
	r->out->u.rxattrwalk.size = len;
	return 0;
}

int p9s_h_xattrcreate(struct p9_server *s, struct p9_req *r)
{
	const __typeof__(r->in->u.xattrcreate) *m = &r->in->u.xattrcreate;
	struct p9_fid *f;
	int ret = p9s_file_fid(s, m->fid, &f);

	if (ret)
		return ret;
	if (p9s_readonly(s, f))
		return -EROFS;
	if (!name_allowed(m->name))
		return -EOPNOTSUPP;
	if (m->size > P9_XATTR_MAX)
		return -E2BIG;
	if (m->flags & ~(uint32_t)(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	struct p9_xattr *x = calloc(1, sizeof(*x));
	/* zeroed: bytes the guest never writes must not leak heap contents */
	char *buf = calloc(1, m->size ? m->size : 1);
	if (!x || !buf) {
		free(x);
		free(buf);
		return -ENOMEM;
	}
	strcpy(x->name, m->name);
	x->buf = buf;
	x->size = m->size;
	x->flags = (int)m->flags;
	f->kind = P9_FID_XATTR_WRITE;
	f->xattr = x;
	return 0;
}

int p9s_xattr_read(struct p9_server *s, struct p9_fid *f, struct p9_req *r)
{
	const struct p9_xattr *x = f->xattr;
	uint64_t off = r->in->u.read.offset;
	struct p9_cur start = p9_enc_begin(&r->resp, P9_RREAD, r->in->tag);
	size_t n = off < x->size ? x->size - (size_t)off : 0;

	if (n > r->in->u.read.count)
		n = r->in->u.read.count;
	if (r->resp.left < 4)
		return -EMSGSIZE;
	if (n > r->resp.left - 4)
		n = r->resp.left - 4;
	p9_put_u32(&r->resp, (uint32_t)n);
	p9_put_bytes(&r->resp, x->buf + (n ? off : 0), n);
	r->len = p9_enc_finish(&r->resp, &start);
	return r->len ? P9_DIRECT : -EMSGSIZE;
}

int p9s_xattr_write(struct p9_fid *f, struct p9_req *r)
{
	struct p9_xattr *x = f->xattr;
	uint64_t off = r->in->u.write.offset;
	uint32_t count = r->in->u.write.data.count;
	struct p9_cur data = r->in->u.write.data.data;

	if (off > x->size || count > x->size - off)
		return -ENOSPC;
	p9_get_bytes(&data, x->buf + off, count);
	if (data.err)
		return -EPROTO;
	if (off + count > x->filled)
		x->filled = off + count;
	r->out->u.rwrite.count = count;
	return 0;
}

int p9s_xattr_commit(struct p9_server *s, struct p9_fid *f)
{
	const struct p9_xattr *x = f->xattr;
	cleanup_close int tmp = -1;

	if (x->filled != x->size)
		return -EINVAL; /* the guest announced more than it wrote */
	if (p9s_readonly(s, f))
		return -EROFS;
	int fd = xattr_fd(s, f, &tmp);
	if (fd < 0)
		return fd;
	int ret =
	    x->size ? fsetxattr(fd, x->name, x->buf, x->size, x->flags) : fremovexattr(fd, x->name);
	return ret < 0 ? -errno : 0;
}
