/* SPDX-License-Identifier: Apache-2.0 */
/*
 * File I/O handlers: Tlopen, Tlcreate, Tread, Twrite, Treaddir, Tfsync,
 * Tstatfs.
 *
 * Data never passes through a gofer buffer: Tread turns the writable part
 * of the response (after the 11-byte header) into iovecs and preadv()s into
 * it; Twrite pwritev()s straight from the request's payload iovecs.  I/O
 * always goes through the fid's opened fd, never a path, so a file unlinked
 * while open keeps working.
 */
#include "gofer/server_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "util/cleanup.h"

/* Protocol open flags to host flags: access mode, truncate, append, sync.
 * Creation, O_NOFOLLOW, O_DIRECT, O_NOATIME, O_NONBLOCK are the server's
 * call, never the guest's. */
static int host_oflags(uint32_t fl)
{
	static const int acc[] = {O_RDONLY, O_WRONLY, O_RDWR};
	int h;

	if ((fl & P9_DOTL_ACCMODE) == P9_DOTL_ACCMODE)
		return -EINVAL;
	h = acc[fl & P9_DOTL_ACCMODE];
	if (fl & P9_DOTL_TRUNC)
		h |= O_TRUNC;
	if (fl & P9_DOTL_APPEND)
		h |= O_APPEND;
	if (fl & P9_DOTL_DSYNC)
		h |= O_DSYNC;
	if (fl & P9_DOTL_SYNC)
		h |= O_SYNC;
	return h;
}

/*
 * The I/O unit offered in Rlopen/Rlcreate: the largest multiple of 4 KiB
 * that fits in one message after Linux's 24-byte Twrite header (as QEMU
 * does with the file system's block size).  Without it (iounit 0) Linux
 * sends msize - 24 bytes per request, 511,976 at msize=512000, so every
 * request after the first starts and ends mid-page in the file and in the
 * guest's buffer: the host copies two part-pages per request and the page
 * cache sees partial writes.  0 when msize leaves less than 4 KiB.
 */
static uint32_t io_unit(const struct p9_server *s)
{
	const uint32_t linux_iohdr = 24, page = 4096;
	uint32_t m = s->msize ? s->msize : s->max_msize;

	return m > linux_iohdr + page ? (m - linux_iohdr) / page * page : 0;
}

bool p9s_oflags_write(int hflags)
{
	return (hflags & O_ACCMODE) != O_RDONLY || (hflags & (O_TRUNC | O_APPEND));
}

int p9s_h_lopen(struct p9_server *s, struct p9_req *r)
{
	struct p9_fid *f;
	struct stat st;
	int ret = p9s_file_fid(s, r->in->u.lopen.fid, &f);
	int fl = host_oflags(r->in->u.lopen.flags);

	if (ret)
		return ret;
	if (fl < 0)
		return fl;
	if (f->ofd >= 0)
		return -EBUSY;
	if (p9s_oflags_write(fl) && p9s_readonly(s, f))
		return -EROFS;
	int fd = p9s_reopen(s, f, fl);
	if (fd < 0)
		return fd;
	ret = p9s_stat_qid(s, fd, &st, &r->out->u.ropen.qid);
	if (ret) {
		close(fd);
		return ret;
	}
	f->ofd = fd;
	f->oflags = fl;
	f->qid = r->out->u.ropen.qid;
	r->out->u.ropen.iounit = io_unit(s);
	return 0;
}

/* Creation always uses O_CREAT|O_EXCL|O_NOFOLLOW: the open can only ever
 * make a new regular file, never open an existing fifo or device. */
int p9s_h_lcreate(struct p9_server *s, struct p9_req *r)
{
	const __typeof__(r->in->u.lcreate) *c = &r->in->u.lcreate;
	struct p9_fid *f;
	struct stat st;
	char pname[16];
	int ret = p9s_dir_fid(s, c->fid, &f);
	int fl = host_oflags(c->flags);

	if (ret || (ret = p9s_check_name(c->name)))
		return ret;
	if (fl < 0)
		return fl;
	if (f->ofd >= 0)
		return -EBUSY;
	if (p9s_readonly(s, f))
		return -EROFS;
	cleanup_free char *path = strdup(f->path);
	if (!path)
		return -ENOMEM;
	if ((ret = p9_path_push(&path, c->name)))
		return ret;
	fl |= O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
	cleanup_close int ofd = openat(f->fd, c->name, fl, c->mode & 07777);
	if (ofd < 0)
		return -errno;
	p9s_set_owner(ofd, f->uid, c->gid);
	cleanup_close int pfd = openat(p9s_proc_name(s, ofd, pname), pname, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	if ((ret = p9s_stat_qid(s, ofd, &st, &r->out->u.ropen.qid)))
		return ret;
	close(f->fd);
	f->fd = take_fd(pfd);
	f->ofd = take_fd(ofd);
	f->oflags = fl & ~(O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	f->ftype = S_IFREG;
	f->qid = r->out->u.ropen.qid;
	free(f->path);
	f->path = take_ptr(path);
	r->out->u.ropen.iounit = io_unit(s);
	return 0;
}

static int io_fid(struct p9_server *s, uint32_t id, bool wr, struct p9_fid **out)
{
	int ret = p9s_fid(s, id, out);
	struct p9_fid *f = *out;

	if (ret || f->kind != P9_FID_FILE)
		return ret;
	if (f->ofd < 0)
		return -EBADF;
	int acc = f->oflags & O_ACCMODE;
	if (wr ? acc == O_RDONLY : acc == O_WRONLY)
		return -EBADF;
	return 0;
}

/* Writes the Rread/Rreaddir header and returns where `count` goes; *data
 * is the writable space after it, capped at `count`. */
static struct p9_cur begin_data(struct p9_req *r, uint8_t type, uint32_t count,
				struct p9_cur *countpos, struct p9_cur *data)
{
	struct p9_cur start = p9_enc_begin(&r->resp, type, r->in->tag);

	*countpos = r->resp;
	p9_put_u32(&r->resp, 0);
	*data = r->resp;
	if (data->left > count)
		data->left = count;
	return start;
}

static int end_data(struct p9_req *r, const struct p9_cur *start, struct p9_cur *countpos, size_t n)
{
	p9_put_u32(countpos, (uint32_t)n);
	p9_cur_skip(&r->resp, n);
	r->len = p9_enc_finish(&r->resp, start);
	return r->len ? P9_DIRECT : -EMSGSIZE;
}

int p9s_h_read(struct p9_server *s, struct p9_req *r)
{
	struct p9_fid *f;
	struct p9_cur countpos, data;
	int ret = io_fid(s, r->in->u.read.fid, false, &f);

	if (ret)
		return ret;
	if (f->kind == P9_FID_XATTR_READ)
		return p9s_xattr_read(s, f, r);
	if (f->kind != P9_FID_FILE)
		return -EBADF;
	if (r->in->u.read.offset > INT64_MAX)
		return -EINVAL;
	struct p9_cur start = begin_data(r, P9_RREAD, r->in->u.read.count, &countpos, &data);
	int n = p9_cur_iov(&data, s->iov, P9_MAX_SEGS);
	if (n < 0)
		return n;
	ssize_t got;
	do
		got = preadv(f->ofd, s->iov, n, (off_t)r->in->u.read.offset);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return -errno;
	s->stats.bytes_read += (uint64_t)got;
	return end_data(r, &start, &countpos, (size_t)got);
}

int p9s_h_write(struct p9_server *s, struct p9_req *r)
{
	struct p9_fid *f;
	int ret = io_fid(s, r->in->u.write.fid, true, &f);

	if (ret)
		return ret;
	if (f->kind == P9_FID_XATTR_WRITE)
		return p9s_xattr_write(f, r);
	if (f->kind != P9_FID_FILE)
		return -EBADF;
	if (p9s_readonly(s, f))
		return -EROFS;
	if (r->in->u.write.offset > INT64_MAX)
		return -EINVAL;
	int n = p9_cur_iov(&r->in->u.write.data.data, s->iov, P9_MAX_SEGS);
	if (n < 0)
		return n;
	ssize_t put;
	do
		put = pwritev(f->ofd, s->iov, n, (off_t)r->in->u.write.offset);
	while (put < 0 && errno == EINTR);
	if (put < 0)
		return -errno;
	s->stats.bytes_written += (uint64_t)put;
	r->out->u.rwrite.count = (uint32_t)put;
	return 0;
}

/* Encodes entries from one getdents64 batch while they fit in *budget.
 * Returns false once an entry did not fit. */
static bool put_dirents(struct p9_server *s, const struct stat *dir, ssize_t nread,
			struct p9_cur *data, size_t *used)
{
	for (ssize_t pos = 0; pos < nread;) {
		struct dirent64 *d = (struct dirent64 *)(s->dirbuf + pos);
		size_t hdr = offsetof(struct dirent64, d_name);
		if (d->d_reclen <= hdr || d->d_reclen > nread - pos)
			break;
		size_t nlen = strnlen(d->d_name, d->d_reclen - hdr);
		if (p9_dirent_size(nlen) > data->left)
			return false;
		struct stat st = {.st_dev = dir->st_dev, .st_ino = d->d_ino};
		st.st_mode = d->d_type == DT_DIR   ? S_IFDIR
			     : d->d_type == DT_LNK ? S_IFLNK
						   : S_IFREG;
		struct p9_qid q;
		if (p9s_qid(s, &st, &q) < 0)
			q = (struct p9_qid){.type = P9_QTFILE};
		q.version = 0;
		p9_put_dirent(data, &q, (uint64_t)d->d_off, d->d_type, d->d_name, nlen);
		*used += p9_dirent_size(nlen);
		pos += d->d_reclen;
	}
	return true;
}

/* Entries from the host cookie `offset` on; each entry's offset is the
 * cookie of the next, so the client resumes exactly after the last one it
 * received however full the previous reply was. */
int p9s_h_readdir(struct p9_server *s, struct p9_req *r)
{
	struct p9_fid *f;
	struct p9_cur countpos, data;
	struct stat dir;
	int ret = io_fid(s, r->in->u.read.fid, false, &f);

	if (ret || f->kind != P9_FID_FILE)
		return ret ? ret : -EBADF;
	if (fstat(f->ofd, &dir) < 0)
		return -errno;
	if (!S_ISDIR(dir.st_mode))
		return -ENOTDIR;
	if (lseek(f->ofd, (off_t)r->in->u.read.offset, SEEK_SET) < 0)
		return -errno;
	struct p9_cur start = begin_data(r, P9_RREADDIR, r->in->u.read.count, &countpos, &data);
	size_t used = 0;
	for (bool more = true; more;) {
		ssize_t n = getdents64(f->ofd, s->dirbuf, P9_DIRBUF_SIZE);
		if (n < 0 && !used)
			return -errno;
		if (n <= 0)
			break;
		more = put_dirents(s, &dir, n, &data, &used);
		if (!more && !used)
			return -EINVAL; /* count too small for even one entry */
	}
	return end_data(r, &start, &countpos, used);
}

int p9s_h_fsync(struct p9_server *s, struct p9_req *r)
{
	struct p9_fid *f;
	int ret = p9s_file_fid(s, r->in->u.fsync.fid, &f);

	if (ret)
		return ret;
	if (f->ofd < 0)
		return -EBADF;
	ret = r->in->u.fsync.datasync ? fdatasync(f->ofd) : fsync(f->ofd);
	return ret < 0 ? -errno : 0;
}

int p9s_h_statfs(struct p9_server *s, struct p9_req *r)
{
	struct p9_fid *f;
	struct statfs st;
	int ret = p9s_fid(s, r->in->u.fid.fid, &f);

	if (ret)
		return ret;
	if (fstatfs(f->fd, &st) < 0)
		return -errno;
	struct p9_statfs *o = &r->out->u.rstatfs;
	o->type = (uint32_t)st.f_type;
	o->bsize = (uint32_t)st.f_bsize;
	o->blocks = st.f_blocks;
	o->bfree = st.f_bfree;
	o->bavail = st.f_bavail;
	o->files = st.f_files;
	o->ffree = st.f_ffree;
	o->fsid = (uint64_t)(uint32_t)st.f_fsid.__val[0] | (uint64_t)(uint32_t)st.f_fsid.__val[1]
							       << 32;
	o->namelen = (uint32_t)st.f_namelen;
	return 0;
}
