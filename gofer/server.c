/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The 9P server core: creation, the request loop body, the session
 * messages (version, attach, flush, walk, clunk) and the confinement
 * helpers every handler uses.
 *
 * A request flows: p9_server_handle() -> p9_decode() into s->in (the only
 * place request bytes are read) -> version/fid checks -> handlers[type]
 * -> p9_encode(s->out) or an in-place response -> Rlerror on any failure.
 *
 * Confinement: a fid only ever holds an fd reached from an attach root by
 * one-component walks (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|
 * RESOLVE_NO_MAGICLINKS, or openat O_NOFOLLOW when openat2 is missing), with
 * names "", ".", and anything with "/" refused and ".." resolved from the
 * fid's recorded path.  Walking onto a symlink yields the symlink itself;
 * nothing ever follows one.
 */
#include "gofer/server_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"

/* ---- confinement helpers ---- */

int p9s_fid(struct p9_server *s, uint32_t id, struct p9_fid **out)
{
	*out = p9_fid_get(&s->fids, id);
	return *out ? 0 : -EBADF;
}

int p9s_file_fid(struct p9_server *s, uint32_t id, struct p9_fid **out)
{
	int r = p9s_fid(s, id, out);
	if (r == 0 && (*out)->kind != P9_FID_FILE)
		return -EBADF;
	return r;
}

int p9s_dir_fid(struct p9_server *s, uint32_t id, struct p9_fid **out)
{
	int r = p9s_file_fid(s, id, out);
	if (r == 0 && !S_ISDIR((*out)->ftype))
		return -ENOTDIR;
	return r;
}

bool p9s_readonly(const struct p9_server *s, const struct p9_fid *f)
{
	return s->attach[f->attach].readonly;
}

int p9s_check_name(const char *name)
{
	if (!name[0] || !strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/'))
		return -EINVAL;
	return 0;
}

int p9s_walk_one(struct p9_server *s, int dirfd, const char *name)
{
	int r = p9s_check_name(name);
	if (r)
		return r;
	if (!s->no_openat2) {
		struct open_how how = {
		    .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
		    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
		};
		long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		/* missing (or filtered by seccomp): use the O_NOFOLLOW walk */
		if (errno != ENOSYS && errno != E2BIG)
			return -errno;
		s->no_openat2 = true;
	}
	int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Walks `path` ("a/b", "" for the root) from the attach root, one checked
 * component at a time.  Returns an O_PATH fd or -errno. */
int p9s_walk_path(struct p9_server *s, unsigned attach, const char *path)
{
	cleanup_close int cur = fcntl(s->attach[attach].fd, F_DUPFD_CLOEXEC, 0);
	char name[P9_NAME_MAX + 1];

	if (cur < 0)
		return -errno;
	while (*path) {
		const char *slash = strchr(path, '/');
		size_t len = slash ? (size_t)(slash - path) : strlen(path);
		if (len > P9_NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(name, path, len);
		name[len] = '\0';
		int fd = p9s_walk_one(s, cur, name);
		if (fd < 0)
			return fd;
		close(cur);
		cur = fd;
		path += len + (slash ? 1 : 0);
	}
	return take_fd(cur);
}

/* The directory holding f, walked again from the root, checked to still
 * hold f's inode under f's name (a rename may have made the path stale). */
int p9s_parent(struct p9_server *s, const struct p9_fid *f, int *dirfd)
{
	struct stat want, got;
	cleanup_free char *dir = strdup(f->path);

	if (!dir)
		return -ENOMEM;
	if (!f->path[0])
		return -EBUSY; /* the attach root itself */
	p9_path_pop(dir);
	cleanup_close int fd = p9s_walk_path(s, f->attach, dir);
	if (fd < 0)
		return fd;
	if (fstat(f->fd, &want) < 0)
		return -errno;
	if (fstatat(fd, p9_path_base(f->path), &got, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (want.st_dev != got.st_dev || want.st_ino != got.st_ino)
		return -ESTALE;
	*dirfd = take_fd(fd);
	return 0;
}

/* qid.path = device index (high 16 bits) | inode (low 48 bits), so files
 * on different host devices never share a qid.  Inodes wider than 48 bits
 * are folded, which can collide; no common Linux filesystem makes them. */
int p9s_qid(struct p9_server *s, const struct stat *st, struct p9_qid *q)
{
	const uint64_t mask = (1ULL << 48) - 1;
	unsigned i;

	for (i = 0; i < s->ndevs && s->devs[i] != st->st_dev; i++)
		;
	if (i == s->ndevs) {
		if (s->ndevs == P9_MAX_DEVS)
			return -ENFILE;
		s->devs[s->ndevs++] = st->st_dev;
	}
	uint64_t ino = (uint64_t)st->st_ino;
	q->path = ((uint64_t)(i + 1) << 48) | ((ino ^ (ino >> 48)) & mask);
	q->type = S_ISDIR(st->st_mode) ? P9_QTDIR : S_ISLNK(st->st_mode) ? P9_QTSYMLINK : P9_QTFILE;
	q->version = (uint32_t)st->st_mtim.tv_sec ^ ((uint32_t)st->st_mtim.tv_nsec << 2);
	return 0;
}

int p9s_stat_qid(struct p9_server *s, int fd, struct stat *st, struct p9_qid *q)
{
	if (fstat(fd, st) < 0)
		return -errno;
	return p9s_qid(s, st, q);
}

int p9s_proc_name(const struct p9_server *s, int fd, char buf[16])
{
	snprintf(buf, 16, "%d", fd);
	return s->proc_fd;
}

/*
 * Opens the file a fid names for I/O.  Only regular files and directories
 * are ever opened; symlinks fail with ELOOP, devices, fifos and sockets
 * with EPERM, so a device node on the share is never opened as a device.
 *
 * Regular files are reopened through /proc/self/fd/N of the fid's O_PATH
 * fd rather than with openat(parent, name, O_NOFOLLOW): the magic link
 * names the exact inode that was walked and type-checked, whereas the name
 * could have been swapped (for a fifo that would block us, or a device
 * whose open has side effects) between the check and the open.
 * Directories are reopened with openat(fd, ".") for the same reason.
 */
int p9s_reopen(struct p9_server *s, const struct p9_fid *f, int flags)
{
	struct stat st;
	char name[16];
	int fd;

	if (fstat(f->fd, &st) < 0)
		return -errno;
	flags |= O_CLOEXEC | O_NOCTTY;
	if (S_ISREG(st.st_mode)) {
		fd = openat(p9s_proc_name(s, f->fd, name), name, flags);
	} else if (S_ISDIR(st.st_mode)) {
		if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC))
			return -EISDIR;
		fd = openat(f->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		return S_ISLNK(st.st_mode) ? -ELOOP : -EPERM;
	}
	return fd < 0 ? -errno : fd;
}

/* Gives a newly created file to the attaching user and the requested
 * group.  Best effort: an unprivileged gofer keeps its own ids (EPERM). */
void p9s_set_owner(int fd, uint32_t uid, uint32_t gid)
{
	uid_t u = uid == P9_NONUNAME ? (uid_t)-1 : uid;
	gid_t g = gid == P9_NONUNAME ? (gid_t)-1 : gid;

	if (u == (uid_t)-1 && g == (gid_t)-1)
		return;
	(void)fchownat(fd, "", u, g, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
}

/* ---- session messages ---- */

static int h_version(struct p9_server *s, struct p9_req *r)
{
	uint32_t msize = r->in->u.version.msize;

	/* a Tversion starts a new session: every fid of the old one goes */
	p9_fids_clear(&s->fids);
	s->msize = 0;
	if (msize > s->max_msize)
		msize = s->max_msize;
	r->out->u.version.msize = msize;
	if (strcmp(r->in->u.version.version, "9P2000.L") != 0) {
		strcpy(r->out->u.version.version, "unknown");
		return 0;
	}
	if (msize < P9_MIN_MSIZE)
		return -EINVAL;
	strcpy(r->out->u.version.version, "9P2000.L");
	s->msize = msize;
	return 0;
}

static int find_attach(const struct p9_server *s, const char *aname, unsigned *idx)
{
	for (unsigned i = 0; i < s->nattach; i++) {
		if (!strcmp(s->attach[i].aname, aname) ||
		    (!aname[0] && !strcmp(s->attach[i].aname, "/"))) {
			*idx = i;
			return 0;
		}
	}
	if (!aname[0]) {
		*idx = 0;
		return 0;
	}
	return -ENOENT;
}

static int h_attach(struct p9_server *s, struct p9_req *r)
{
	const __typeof__(r->in->u.attach) *a = &r->in->u.attach;
	struct stat st;
	unsigned idx;

	if (a->afid != P9_NOFID)
		return -EINVAL; /* no authentication: afid must be NOFID */
	int ret = find_attach(s, a->aname, &idx);
	if (ret)
		return ret;
	struct p9_fid *f = p9_fid_new(a->fid);
	if (!f)
		return -ENOMEM;
	f->attach = idx;
	f->uid = a->n_uname;
	f->fd = fcntl(s->attach[idx].fd, F_DUPFD_CLOEXEC, 0);
	ret = f->fd < 0 ? -errno : p9s_stat_qid(s, f->fd, &st, &f->qid);
	if (!ret) {
		f->ftype = st.st_mode & S_IFMT;
		ret = p9_fid_add(&s->fids, f);
	}
	if (ret) {
		p9_fid_free(f);
		return ret;
	}
	r->out->u.rqid.qid = f->qid;
	return 0;
}

static int h_flush(struct p9_server *s, struct p9_req *r)
{
	/* requests complete synchronously: nothing is ever in flight */
	return 0;
}

static int h_auth(struct p9_server *s, struct p9_req *r)
{
	return -EOPNOTSUPP;
}

static int h_clunk(struct p9_server *s, struct p9_req *r)
{
	struct p9_fid *f = p9_fid_take(&s->fids, r->in->u.fid.fid);
	int ret = 0;

	if (!f)
		return -EBADF;
	if (f->kind == P9_FID_XATTR_WRITE)
		ret = p9s_xattr_commit(s, f);
	p9_fid_free(f);
	return ret;
}

/* One walk step from (fd, path): ".." drops a component and walks again
 * from the root (staying at the root); other names walk one level. */
static int walk_step(struct p9_server *s, unsigned attach, int fd, char **path, const char *name)
{
	if (strcmp(name, "..") != 0) {
		int nfd = p9s_walk_one(s, fd, name);
		if (nfd < 0)
			return nfd;
		int r = p9_path_push(path, name);
		if (r < 0) {
			close(nfd);
			return r;
		}
		return nfd;
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	p9_path_pop(*path);
	return p9s_walk_path(s, attach, *path);
}

/* Installs a completed walk: in place when newfid == fid, else a new fid. */
static int walk_install(struct p9_server *s, struct p9_fid *f, uint32_t newfid, int *fd,
			char **path, const struct stat *st, const struct p9_qid *q)
{
	struct p9_fid *nf = f;

	if (newfid != f->id) {
		nf = p9_fid_new(newfid);
		if (!nf)
			return -ENOMEM;
		nf->attach = f->attach;
		nf->uid = f->uid;
	}
	if (nf->fd >= 0)
		close(nf->fd);
	nf->fd = take_fd(*fd);
	free(nf->path);
	nf->path = take_ptr(*path);
	nf->ftype = st->st_mode & S_IFMT;
	nf->qid = *q;
	if (nf == f)
		return 0;
	int r = p9_fid_add(&s->fids, nf);
	if (r)
		p9_fid_free(nf);
	return r;
}

static int h_walk(struct p9_server *s, struct p9_req *r)
{
	const __typeof__(r->in->u.walk) *w = &r->in->u.walk;
	struct p9_fid *f;
	struct stat st;
	struct p9_qid q;
	int ret = p9s_file_fid(s, w->fid, &f);

	if (ret)
		return ret;
	if (w->newfid != w->fid && p9_fid_get(&s->fids, w->newfid))
		return -EEXIST;
	if (f->ofd >= 0 && w->newfid == w->fid && w->nwname)
		return -EBUSY; /* an opened fid may be cloned, not moved */
	cleanup_free char *path = strdup(f->path);
	cleanup_close int cur = fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
	if (!path || cur < 0)
		return path ? -errno : -ENOMEM;
	ret = p9s_stat_qid(s, cur, &st, &q);
	uint16_t n = 0;
	for (; n < w->nwname && !ret; n++) {
		int fd = walk_step(s, f->attach, cur, &path, w->wnames[n]);
		if (fd < 0) {
			ret = fd;
			break;
		}
		close(cur);
		cur = fd;
		ret = p9s_stat_qid(s, cur, &st, &r->out->u.rwalk.wqids[n]);
		q = r->out->u.rwalk.wqids[n];
	}
	r->out->u.rwalk.nwqid = n;
	if (n < w->nwname)
		return n ? 0 : ret; /* partial walks answer the qids walked */
	if (ret)
		return ret;
	return walk_install(s, f, w->newfid, &cur, &path, &st, &q);
}

/* ---- the dispatch ---- */

static const p9_handler handlers[256] = {
    [P9_TVERSION] = h_version,
    [P9_TAUTH] = h_auth,
    [P9_TATTACH] = h_attach,
    [P9_TFLUSH] = h_flush,
    [P9_TWALK] = h_walk,
    [P9_TCLUNK] = h_clunk,
    [P9_TREMOVE] = p9s_h_remove,
    [P9_TLOPEN] = p9s_h_lopen,
    [P9_TLCREATE] = p9s_h_lcreate,
    [P9_TREAD] = p9s_h_read,
    [P9_TWRITE] = p9s_h_write,
    [P9_TREADDIR] = p9s_h_readdir,
    [P9_TFSYNC] = p9s_h_fsync,
    [P9_TSTATFS] = p9s_h_statfs,
    [P9_TGETATTR] = p9s_h_getattr,
    [P9_TSETATTR] = p9s_h_setattr,
    [P9_TLOCK] = p9s_h_lock,
    [P9_TGETLOCK] = p9s_h_getlock,
    [P9_TMKDIR] = p9s_h_mkdir,
    [P9_TSYMLINK] = p9s_h_symlink,
    [P9_TMKNOD] = p9s_h_mknod,
    [P9_TRENAME] = p9s_h_rename,
    [P9_TRENAMEAT] = p9s_h_renameat,
    [P9_TUNLINKAT] = p9s_h_unlinkat,
    [P9_TREADLINK] = p9s_h_readlink,
    [P9_TLINK] = p9s_h_link,
    [P9_TXATTRWALK] = p9s_h_xattrwalk,
    [P9_TXATTRCREATE] = p9s_h_xattrcreate,
};

static size_t reply_error(struct p9_server *s, const struct p9_cur *resp, uint16_t tag, int err)
{
	struct p9_cur c = *resp;

	s->stats.errors++;
	struct p9_cur start = p9_enc_begin(&c, P9_RLERROR, tag);
	p9_put_u32(&c, (uint32_t)(err > 0 ? err : EIO));
	return p9_enc_finish(&c, &start);
}

static int dispatch(struct p9_server *s, const struct iovec *req, int nreq, struct p9_req *r)
{
	int ret = p9_decode(req, nreq, s->msize ? s->msize : s->max_msize, &s->in);

	if (ret)
		return ret;
	p9_handler h = handlers[s->in.type];
	if (!h)
		return -EOPNOTSUPP; /* R-messages and Tlerror decode but are not requests */
	if (!s->msize && s->in.type != P9_TVERSION)
		return -EPROTO;
	memset(&s->out.u, 0, sizeof(s->out.u));
	s->out.type = s->in.type + 1;
	s->out.tag = s->in.tag;
	return h(s, r);
}

size_t p9_server_handle(struct p9_server *s, const struct iovec *req, int nreq,
			const struct iovec *resp, int nresp)
{
	uint32_t msize = s->msize ? s->msize : s->max_msize;
	struct p9_req r = {.in = &s->in, .out = &s->out};
	struct p9_cur hdr;

	s->stats.requests++;
	p9_cur_init(&r.resp, resp, nresp, msize);
	if (r.resp.left < P9_IOHDR_SIZE)
		return 0;
	struct p9_cur pristine = r.resp;
	/* a request too short for its header is answered with NOTAG */
	p9_cur_init(&hdr, req, nreq, P9_HDR_SIZE);
	int ret = dispatch(s, req, nreq, &r);
	uint16_t tag = hdr.left == P9_HDR_SIZE ? s->in.tag : P9_NOTAG;
	if (ret == P9_DIRECT && r.len)
		return r.len;
	if (ret == 0) {
		size_t len = p9_encode(&s->out, resp, nresp, msize);
		if (len)
			return len;
		ret = -EMSGSIZE;
	}
	return reply_error(s, &pristine, tag, ret == P9_DIRECT ? EMSGSIZE : -ret);
}

uint32_t p9_server_msize(const struct p9_server *s)
{
	return s->msize;
}

void p9_server_stats(const struct p9_server *s, struct p9_stats *out)
{
	*out = s->stats;
}

/* ---- creation ---- */

static int open_attach(struct p9_attach *a, const struct p9_attach_point *ap, struct kv_err *err)
{
	a->fd = -1;
	a->readonly = ap->readonly;
	a->aname = strdup(ap->aname ? ap->aname : "");
	if (!a->aname)
		return kv_err_set(err, ENOMEM, "gofer: out of memory");
	if (strlen(a->aname) > P9_NAME_MAX)
		return kv_err_set(err, ENAMETOOLONG, "gofer: attach name '%s' too long", a->aname);
	if (ap->fd >= 0)
		a->fd = openat(ap->fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	else if (ap->path)
		a->fd = open(ap->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	else
		return kv_err_set(err, EINVAL, "gofer: attach point '%s' has no directory",
				  a->aname);
	if (a->fd < 0)
		return kv_err_sys(err, errno, "gofer: open attach point '%s' (%s)", a->aname,
				  ap->path ? ap->path : "fd");
	return 0;
}

static int server_init(struct p9_server *s, const struct p9_server_config *cfg, struct kv_err *err)
{
	s->max_msize =
	    cfg->max_msize && cfg->max_msize < P9_MAX_MSIZE ? cfg->max_msize : P9_MAX_MSIZE;
	s->no_openat2 = cfg->no_openat2;
	s->iov = calloc(P9_MAX_SEGS, sizeof(*s->iov));
	s->dirbuf = malloc(P9_DIRBUF_SIZE);
	s->attach = calloc(cfg->nattach, sizeof(*s->attach));
	if (!s->iov || !s->dirbuf || !s->attach ||
	    p9_fids_init(&s->fids, cfg->max_fids ? cfg->max_fids : 65536))
		return kv_err_set(err, ENOMEM, "gofer: out of memory");
	for (unsigned i = 0; i < cfg->nattach; i++) {
		s->nattach++;
		int r = open_attach(&s->attach[i], &cfg->attach[i], err);
		if (r)
			return r;
	}
	if (cfg->proc_fd >= 0)
		s->proc_fd = fcntl(cfg->proc_fd, F_DUPFD_CLOEXEC, 0);
	else
		s->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->proc_fd < 0)
		return kv_err_sys(err, errno, "gofer: open /proc/self/fd");
	return 0;
}

int p9_server_new(const struct p9_server_config *cfg, struct p9_server **out, struct kv_err *err)
{
	if (!cfg->nattach || !cfg->attach)
		return kv_err_set(err, EINVAL, "gofer: no attach points configured");
	struct p9_server *s = calloc(1, sizeof(*s));
	if (!s)
		return kv_err_set(err, ENOMEM, "gofer: out of memory");
	s->proc_fd = -1;
	int r = server_init(s, cfg, err);
	if (r) {
		p9_server_free(s);
		return r;
	}
	*out = s;
	return 0;
}

void p9_server_free(struct p9_server *s)
{
	if (!s)
		return;
	p9_fids_destroy(&s->fids);
	for (unsigned i = 0; i < s->nattach; i++) {
		if (s->attach[i].fd >= 0)
			close(s->attach[i].fd);
		free(s->attach[i].aname);
	}
	if (s->proc_fd >= 0)
		close(s->proc_fd);
	free(s->attach);
	free(s->iov);
	free(s->dirbuf);
	free(s);
}
