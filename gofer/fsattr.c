/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attribute and lock handlers: Tgetattr, Tsetattr, Tlock, Tgetlock.
 *
 * Attributes are read and changed through fds, never paths: the opened fd
 * when the fid has one (so an unlinked-but-open file still answers), else
 * the fid's O_PATH fd (AT_EMPTY_PATH), else the /proc/self/fd magic link of
 * that O_PATH fd, which names exactly the walked inode.  Locks are open
 * file description (OFD) locks on the fid's opened fd and never block: a
 * conflict answers P9_LOCK_BLOCKED and the client retries.
 */
#include "gofer/server_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"

int p9s_h_getattr(struct p9_server *s, struct p9_req *r)
{
	struct p9_fid *f;
	struct stat st;
	int ret = p9s_fid(s, r->in->u.getattr.fid, &f);

	if (ret)
		return ret;
	struct p9_getattr *a = &r->out->u.rgetattr;
	ret = p9s_stat_qid(s, f->ofd >= 0 ? f->ofd : f->fd, &st, &a->qid);
	if (ret)
		return ret;
	a->valid = P9_GETATTR_BASIC;
	a->mode = st.st_mode;
	a->uid = st.st_uid;
	a->gid = st.st_gid;
	a->nlink = st.st_nlink;
	a->rdev = st.st_rdev;
	a->size = (uint64_t)st.st_size;
	a->blksize = (uint64_t)st.st_blksize;
	a->blocks = (uint64_t)st.st_blocks;
	a->atime_sec = (uint64_t)st.st_atim.tv_sec;
	a->atime_nsec = (uint64_t)st.st_atim.tv_nsec;
	a->mtime_sec = (uint64_t)st.st_mtim.tv_sec;
	a->mtime_nsec = (uint64_t)st.st_mtim.tv_nsec;
	a->ctime_sec = (uint64_t)st.st_ctim.tv_sec;
	a->ctime_nsec = (uint64_t)st.st_ctim.tv_nsec;
	return 0;
}

static int set_mode(struct p9_server *s, const struct p9_fid *f, uint32_t mode)
{
	char name[16];

	if (S_ISLNK(f->ftype))
		return -EOPNOTSUPP; /* Linux symlinks have no mode of their own */
	if (f->ofd >= 0)
		return fchmod(f->ofd, mode & 07777) < 0 ? -errno : 0;
	int dfd = p9s_proc_name(s, f->fd, name);
	return fchmodat(dfd, name, mode & 07777, 0) < 0 ? -errno : 0;
}

static int set_owner(const struct p9_fid *f, uint32_t valid, uint32_t uid, uint32_t gid)
{
	uid_t u = (valid & P9_SETATTR_UID) ? uid : (uid_t)-1;
	gid_t g = (valid & P9_SETATTR_GID) ? gid : (gid_t)-1;

	if (fchownat(f->fd, "", u, g, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

static int set_size(struct p9_server *s, const struct p9_fid *f, uint64_t size)
{
	if (size > INT64_MAX)
		return -EFBIG;
	if (S_ISDIR(f->ftype))
		return -EISDIR;
	if (!S_ISREG(f->ftype))
		return -EINVAL;
	if (f->ofd >= 0 && (f->oflags & O_ACCMODE) != O_RDONLY)
		return ftruncate(f->ofd, (off_t)size) < 0 ? -errno : 0;
	cleanup_close int fd = p9s_reopen(s, f, O_WRONLY);
	if (fd < 0)
		return fd;
	return ftruncate(fd, (off_t)size) < 0 ? -errno : 0;
}

static int set_times(struct p9_server *s, const struct p9_fid *f, const struct p9_setattr *a)
{
	struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};
	char name[16];

	if (a->valid & P9_SETATTR_ATIME)
		ts[0] = (a->valid & P9_SETATTR_ATIME_SET)
			    ? (struct timespec){(time_t)a->atime_sec, (long)a->atime_nsec}
			    : (struct timespec){.tv_nsec = UTIME_NOW};
	if (a->valid & P9_SETATTR_MTIME)
		ts[1] = (a->valid & P9_SETATTR_MTIME_SET)
			    ? (struct timespec){(time_t)a->mtime_sec, (long)a->mtime_nsec}
			    : (struct timespec){.tv_nsec = UTIME_NOW};
	for (int i = 0; i < 2; i++)
		if (ts[i].tv_nsec != UTIME_OMIT && ts[i].tv_nsec != UTIME_NOW &&
		    (uint64_t)ts[i].tv_nsec >= 1000000000u)
			return -EINVAL;
	if (f->ofd >= 0)
		return futimens(f->ofd, ts) < 0 ? -errno : 0;
	if (utimensat(f->fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	/* kernels before AT_EMPTY_PATH support in utimensat */
	if (errno != EINVAL || S_ISLNK(f->ftype))
		return -errno;
	int dfd = p9s_proc_name(s, f->fd, name);
	return utimensat(dfd, name, ts, 0) < 0 ? -errno : 0;
}

/* Applies mode, owner, size, then times (a size change moves mtime, so an
 * explicit mtime in the same request must come last). */
int p9s_h_setattr(struct p9_server *s, struct p9_req *r)
{
	const struct p9_setattr *a = &r->in->u.setattr;
	struct p9_fid *f;
	int ret = p9s_fid(s, a->fid, &f);

	if (ret)
		return ret;
	if (p9s_readonly(s, f))
		return -EROFS;
	if ((a->valid & P9_SETATTR_MODE) && (ret = set_mode(s, f, a->mode)))
		return ret;
	if ((a->valid & (P9_SETATTR_UID | P9_SETATTR_GID)) &&
	    (ret = set_owner(f, a->valid, a->uid, a->gid)))
		return ret;
	if ((a->valid & P9_SETATTR_SIZE) && (ret = set_size(s, f, a->size)))
		return ret;
	if (a->valid & (P9_SETATTR_ATIME | P9_SETATTR_MTIME))
		return set_times(s, f, a);
	return 0;
}

static int to_flock(const struct p9_lock *l, struct flock *fl)
{
	static const short types[] = {F_RDLCK, F_WRLCK, F_UNLCK};

	if (l->type > P9_LOCK_TYPE_UNLCK || l->start > INT64_MAX || l->length > INT64_MAX)
		return -EINVAL;
	*fl = (struct flock){
	    .l_type = types[l->type],
	    .l_whence = SEEK_SET,
	    .l_start = (off_t)l->start,
	    .l_len = (off_t)l->length,
	};
	return 0;
}

static int lock_fid(struct p9_server *s, uint32_t id, struct p9_fid **f)
{
	int ret = p9s_file_fid(s, id, f);
	if (ret)
		return ret;
	return (*f)->ofd < 0 ? -EBADF : 0;
}

int p9s_h_lock(struct p9_server *s, struct p9_req *r)
{
	const struct p9_lock *l = &r->in->u.lock;
	struct p9_fid *f;
	struct flock fl;
	int ret = lock_fid(s, l->fid, &f);

	if (ret || (ret = to_flock(l, &fl)))
		return ret;
	r->out->u.rlock.status = P9_LOCK_SUCCESS;
	if (fcntl(f->ofd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno != EAGAIN && errno != EACCES)
		return -errno;
	r->out->u.rlock.status = P9_LOCK_BLOCKED;
	return 0;
}

int p9s_h_getlock(struct p9_server *s, struct p9_req *r)
{
	const struct p9_lock *l = &r->in->u.lock;
	struct p9_lock *o = &r->out->u.lock;
	struct p9_fid *f;
	struct flock fl;
	int ret = lock_fid(s, l->fid, &f);

	if (ret || (ret = to_flock(l, &fl)))
		return ret;
	if (fl.l_type == F_UNLCK)
		return -EINVAL;
	if (fcntl(f->ofd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	*o = *l;
	if (fl.l_type == F_UNLCK) {
		o->type = P9_LOCK_TYPE_UNLCK;
		return 0;
	}
	o->type = fl.l_type == F_WRLCK ? P9_LOCK_TYPE_WRLCK : P9_LOCK_TYPE_RDLCK;
	o->start = (uint64_t)fl.l_start;
	o->length = (uint64_t)fl.l_len;
	o->proc_id = fl.l_pid > 0 ? (uint32_t)fl.l_pid : 0;
	return 0;
}
