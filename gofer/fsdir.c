/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Namespace handlers: Tmkdir, Tsymlink, Tmknod, Trename, Trenameat,
 * Tunlinkat, Tremove, Treadlink, Tlink.
 *
 * Every change is made with an *at() call relative to a directory fid's
 * fd and a single checked name (no "", ".", "..", or "/"), so it can only
 * touch an entry directly inside a directory the guest walked to.  Both
 * fids of a two-fid request must belong to the same attach point.  Device
 * nodes cannot be created; symlink targets are stored, never followed.
 * Trename and Trenameat carry every fid at or below the renamed name to
 * its new path (p9_fids_rename): saved sessions are re-created by path.
 */
#include "gofer/server_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"

/* The directory fid for a create/remove of `name`, refusing read-only
 * attach points. */
static int mutable_dir(struct p9_server *s, uint32_t id, const char *name, struct p9_fid **f)
{
	int ret = p9s_dir_fid(s, id, f);

	if (ret)
		return ret;
	if (p9s_readonly(s, *f))
		return -EROFS;
	return p9s_check_name(name);
}

/* After creating `name` in d: walk to it, own it, answer its qid. */
static int created(struct p9_server *s, struct p9_fid *d, const char *name, uint32_t gid,
		   struct p9_qid *q)
{
	struct stat st;
	cleanup_close int fd = p9s_walk_one(s, d->fd, name);

	if (fd < 0)
		return fd;
	p9s_set_owner(fd, d->uid, gid);
	return p9s_stat_qid(s, fd, &st, q);
}

int p9s_h_mkdir(struct p9_server *s, struct p9_req *r)
{
	const __typeof__(r->in->u.mkdir) *m = &r->in->u.mkdir;
	struct p9_fid *d;
	int ret = mutable_dir(s, m->dfid, m->name, &d);

	if (ret)
		return ret;
	if (mkdirat(d->fd, m->name, m->mode & 07777) < 0)
		return -errno;
	return created(s, d, m->name, m->gid, &r->out->u.rqid.qid);
}

int p9s_h_symlink(struct p9_server *s, struct p9_req *r)
{
	const __typeof__(r->in->u.symlink) *m = &r->in->u.symlink;
	struct p9_fid *d;
	int ret = mutable_dir(s, m->fid, m->name, &d);

	if (ret)
		return ret;
	if (symlinkat(m->target, d->fd, m->name) < 0)
		return -errno;
	return created(s, d, m->name, m->gid, &r->out->u.rqid.qid);
}

/* Regular files, fifos and sockets only: a device node made here would
 * be a device the guest could reach through any other path to the share. */
int p9s_h_mknod(struct p9_server *s, struct p9_req *r)
{
	const __typeof__(r->in->u.mknod) *m = &r->in->u.mknod;
	struct p9_fid *d;
	int ret = mutable_dir(s, m->dfid, m->name, &d);
	mode_t type = m->mode & S_IFMT;

	if (ret)
		return ret;
	if (type == S_IFCHR || type == S_IFBLK)
		return -EPERM;
	if (type != 0 && type != S_IFREG && type != S_IFIFO && type != S_IFSOCK)
		return -EINVAL;
	if (mknodat(d->fd, m->name, (type ? type : S_IFREG) | (m->mode & 07777), 0) < 0)
		return -errno;
	return created(s, d, m->name, m->gid, &r->out->u.rqid.qid);
}

/* Two fids on the same attach point, the second a directory. */
static int fid_pair(struct p9_server *s, uint32_t a, uint32_t dir, struct p9_fid **fa,
		    struct p9_fid **fd)
{
	int ret = p9s_file_fid(s, a, fa);

	if (ret || (ret = p9s_dir_fid(s, dir, fd)))
		return ret;
	if ((*fa)->attach != (*fd)->attach)
		return -EXDEV;
	return p9s_readonly(s, *fd) ? -EROFS : 0;
}

int p9s_h_rename(struct p9_server *s, struct p9_req *r)
{
	const __typeof__(r->in->u.rename) *m = &r->in->u.rename;
	struct p9_fid *f, *d;
	cleanup_close int pfd = -1;
	int ret = fid_pair(s, m->fid, m->dfid, &f, &d);

	if (ret || (ret = p9s_check_name(m->name)))
		return ret;
	cleanup_free char *path = strdup(d->path);
	cleanup_free char *old = strdup(f->path);
	if (!path || !old)
		return -ENOMEM;
	if ((ret = p9_path_push(&path, m->name)) || (ret = p9s_parent(s, f, &pfd)))
		return ret;
	if (renameat(pfd, p9_path_base(f->path), d->fd, m->name) < 0)
		return -errno;
	/* the fid, other fids naming the file and fids below it (a
	 * directory) follow it */
	p9_fids_rename(&s->fids, f->attach, old, path);
	free(f->path);
	f->path = take_ptr(path);
	return 0;
}

int p9s_h_renameat(struct p9_server *s, struct p9_req *r)
{
	const __typeof__(r->in->u.renameat) *m = &r->in->u.renameat;
	struct p9_fid *o, *n;
	int ret = fid_pair(s, m->olddirfid, m->newdirfid, &o, &n);

	if (ret || (ret = p9s_check_name(m->oldname)) || (ret = p9s_check_name(m->newname)))
		return ret;
	if (!S_ISDIR(o->ftype))
		return -ENOTDIR;
	cleanup_free char *from = strdup(o->path);
	cleanup_free char *to = strdup(n->path);
	if (!from || !to)
		return -ENOMEM;
	/* paths too long to record: the rename still happens, fids below
	 * keep stale paths (p9_fids_rename) */
	bool track = !p9_path_push(&from, m->oldname) && !p9_path_push(&to, m->newname);
	if (renameat(o->fd, m->oldname, n->fd, m->newname) < 0)
		return -errno;
	if (track)
		p9_fids_rename(&s->fids, o->attach, from, to);
	return 0;
}

int p9s_h_unlinkat(struct p9_server *s, struct p9_req *r)
{
	const __typeof__(r->in->u.unlinkat) *m = &r->in->u.unlinkat;
	struct p9_fid *d;
	int ret = mutable_dir(s, m->dirfid, m->name, &d);

	if (ret)
		return ret;
	if (m->flags & ~(uint32_t)P9_AT_REMOVEDIR)
		return -EINVAL;
	int flags = (m->flags & P9_AT_REMOVEDIR) ? AT_REMOVEDIR : 0;
	return unlinkat(d->fd, m->name, flags) < 0 ? -errno : 0;
}

/* Tremove clunks the fid whether or not the removal succeeds. */
int p9s_h_remove(struct p9_server *s, struct p9_req *r)
{
	struct p9_fid *f = p9_fid_take(&s->fids, r->in->u.fid.fid);
	cleanup_close int pfd = -1;
	int ret;

	if (!f)
		return -EBADF;
	if (f->kind != P9_FID_FILE)
		ret = -EBADF;
	else if (p9s_readonly(s, f))
		ret = -EROFS;
	else if (!(ret = p9s_parent(s, f, &pfd)) &&
		 unlinkat(pfd, p9_path_base(f->path), S_ISDIR(f->ftype) ? AT_REMOVEDIR : 0) < 0)
		ret = -errno;
	p9_fid_free(f);
	return ret;
}

int p9s_h_readlink(struct p9_server *s, struct p9_req *r)
{
	struct p9_fid *f;
	char *buf = r->out->u.rreadlink.target;
	int ret = p9s_file_fid(s, r->in->u.fid.fid, &f);

	if (ret)
		return ret;
	if (!S_ISLNK(f->ftype))
		return -EINVAL;
	ssize_t n = readlinkat(f->fd, "", buf, P9_PATH_MAX);
	if (n < 0)
		return -errno;
	if (n >= P9_PATH_MAX)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return 0;
}

/* Hard links between two fids of one attach point: both files are inside
 * the share already, so the link cannot reach anything outside it. */
int p9s_h_link(struct p9_server *s, struct p9_req *r)
{
	const __typeof__(r->in->u.link) *m = &r->in->u.link;
	struct p9_fid *f, *d;
	char name[16];
	int ret = fid_pair(s, m->fid, m->dfid, &f, &d);

	if (ret || (ret = p9s_check_name(m->name)))
		return ret;
	if (S_ISDIR(f->ftype))
		return -EPERM;
	if (linkat(f->fd, "", d->fd, m->name, AT_EMPTY_PATH) == 0)
		return 0;
	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the magic link does not */
	if (errno != ENOENT || S_ISLNK(f->ftype))
		return -errno;
	int pfd = p9s_proc_name(s, f->fd, name);
	return linkat(pfd, name, d->fd, m->name, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
}
