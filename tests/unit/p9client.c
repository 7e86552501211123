/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test-side 9P client (see p9client.h).  Requests are encoded into one
 * contiguous buffer and then offered to the server as a list of small
 * iovecs; the response buffer is offered the same way, which is how the
 * tests exercise the codec's scatter-gather paths end to end.
 */
#include "tests/unit/p9client.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define P9C_BUFSIZE (P9_MAX_MSIZE + 4096)

int p9c_init(struct p9c *c, struct p9_server *s)
{
	*c = (struct p9c){.s = s, .tag = 1, .bufsize = P9C_BUFSIZE};
	c->nwiov_max = 65536;
	c->req = malloc(c->bufsize);
	c->resp = malloc(c->bufsize);
	c->riov = calloc((size_t)c->nwiov_max, sizeof(*c->riov));
	c->wiov = calloc((size_t)c->nwiov_max, sizeof(*c->wiov));
	return c->req && c->resp && c->riov && c->wiov ? 0 : -ENOMEM;
}

void p9c_fini(struct p9c *c)
{
	free(c->req);
	free(c->resp);
	free(c->riov);
	free(c->wiov);
}

static int split(unsigned char *buf, size_t len, size_t first, size_t each, struct iovec *iov,
		 int max)
{
	int n = 0;
	size_t off = 0;

	while (off < len && n < max) {
		size_t k = len - off;
		size_t want = n == 0 && first ? first : each;
		if (want && want < k)
			k = want;
		iov[n++] = (struct iovec){buf + off, k};
		off += k;
	}
	return n;
}

size_t p9c_last_len(const struct p9c *c)
{
	return c->last_len;
}

int p9c_raw(struct p9c *c, const void *req, size_t len, struct p9_msg *rx)
{
	size_t space = c->resp_limit ? c->resp_limit : c->bufsize;

	if (req != c->req)
		memcpy(c->req, req, len);
	int nr = split(c->req, len, c->req_first, c->req_split, c->riov, c->nwiov_max);
	int nw = split(c->resp, space, c->resp_first, c->resp_split, c->wiov, c->nwiov_max);
	memset(c->resp, 0xa5, space);
	size_t n = p9_server_handle(c->s, c->riov, nr, c->wiov, nw);
	c->last_len = n;
	if (n < P9_HDR_SIZE)
		return -EPROTO;
	uint32_t size = (uint32_t)c->resp[0] | (uint32_t)c->resp[1] << 8 |
			(uint32_t)c->resp[2] << 16 | (uint32_t)c->resp[3] << 24;
	if (size != n)
		return -EPROTO;
	nw = split(c->resp, n, c->resp_first, c->resp_split, c->wiov, c->nwiov_max);
	if (p9_decode(c->wiov, nw, UINT32_MAX, rx) != 0)
		return -EPROTO;
	if (rx->type == P9_RLERROR)
		return -(int)rx->u.lerror.ecode;
	return 0;
}

int p9c_rpc(struct p9c *c, struct p9_msg *tx, struct p9_msg *rx)
{
	struct iovec v = {c->req, c->bufsize};

	if (c->tag == P9_NOTAG)
		c->tag = 1;
	tx->tag = tx->type == P9_TVERSION ? P9_NOTAG : c->tag++;
	size_t len = p9_encode(tx, &v, 1, c->bufsize);
	if (!len)
		return -EMSGSIZE;
	int r = p9c_raw(c, c->req, len, rx);
	if (r == -EPROTO)
		return r;
	if (rx->tag != tx->tag)
		return -EPROTO;
	if (r == 0 && rx->type != tx->type + 1)
		return -EPROTO;
	return r;
}

int p9c_version(struct p9c *c, uint32_t msize, const char *version, uint32_t *got_msize,
		char *got_version)
{
	struct p9_msg tx = {.type = P9_TVERSION, .u.version.msize = msize};

	strcpy(tx.u.version.version, version);
	int r = p9c_rpc(c, &tx, &c->rx);
	if (r == 0 && got_msize)
		*got_msize = c->rx.u.version.msize;
	if (r == 0 && got_version)
		strcpy(got_version, c->rx.u.version.version);
	return r;
}

int p9c_attach(struct p9c *c, uint32_t fid, const char *aname, uint32_t uid, struct p9_qid *q)
{
	struct p9_msg tx = {.type = P9_TATTACH};

	tx.u.attach.fid = fid;
	tx.u.attach.afid = P9_NOFID;
	tx.u.attach.n_uname = uid;
	strcpy(tx.u.attach.uname, "root");
	strcpy(tx.u.attach.aname, aname);
	int r = p9c_rpc(c, &tx, &c->rx);
	if (r == 0 && q)
		*q = c->rx.u.rqid.qid;
	return r;
}

int p9c_walkv(struct p9c *c, uint32_t fid, uint32_t newfid, int n, const char *const *names,
	      struct p9_qid *qids)
{
	struct p9_msg tx = {.type = P9_TWALK};

	tx.u.walk.fid = fid;
	tx.u.walk.newfid = newfid;
	tx.u.walk.nwname = (uint16_t)n;
	for (int i = 0; i < n; i++)
		strcpy(tx.u.walk.wnames[i], names[i]);
	int r = p9c_rpc(c, &tx, &c->rx);
	if (r)
		return r;
	for (int i = 0; i < c->rx.u.rwalk.nwqid && qids; i++)
		qids[i] = c->rx.u.rwalk.wqids[i];
	return c->rx.u.rwalk.nwqid;
}

int p9c_walk(struct p9c *c, uint32_t fid, uint32_t newfid, const char *path, struct p9_qid *last)
{
	char buf[P9_PATH_MAX];
	const char *names[P9_MAXWELEM];
	struct p9_qid qids[P9_MAXWELEM];
	int n = 0;

	strcpy(buf, path);
	for (char *save, *t = strtok_r(buf, "/", &save); t && n < P9_MAXWELEM;
	     t = strtok_r(NULL, "/", &save))
		names[n++] = t;
	int r = p9c_walkv(c, fid, newfid, n, names, qids);
	if (r > 0 && last)
		*last = qids[r - 1];
	return r;
}

int p9c_lopen(struct p9c *c, uint32_t fid, uint32_t flags, struct p9_qid *q)
{
	struct p9_msg tx = {.type = P9_TLOPEN, .u.lopen = {fid, flags}};
	int r = p9c_rpc(c, &tx, &c->rx);

	if (r == 0 && q)
		*q = c->rx.u.ropen.qid;
	return r;
}

int p9c_lcreate(struct p9c *c, uint32_t fid, const char *name, uint32_t flags, uint32_t mode,
		struct p9_qid *q)
{
	struct p9_msg tx = {.type = P9_TLCREATE};

	tx.u.lcreate.fid = fid;
	strcpy(tx.u.lcreate.name, name);
	tx.u.lcreate.flags = flags;
	tx.u.lcreate.mode = mode;
	tx.u.lcreate.gid = P9_NONUNAME;
	int r = p9c_rpc(c, &tx, &c->rx);
	if (r == 0 && q)
		*q = c->rx.u.ropen.qid;
	return r;
}

ssize_t p9c_read(struct p9c *c, uint32_t fid, uint64_t off, void *buf, uint32_t len)
{
	struct p9_msg tx = {.type = P9_TREAD, .u.read = {fid, off, len}};
	int r = p9c_rpc(c, &tx, &c->rx);

	if (r)
		return r;
	struct p9_cur data = c->rx.u.rdata.data;
	if (c->rx.u.rdata.count > len)
		return -EPROTO;
	p9_get_bytes(&data, buf, c->rx.u.rdata.count);
	return c->rx.u.rdata.count;
}

ssize_t p9c_write(struct p9c *c, uint32_t fid, uint64_t off, const void *buf, uint32_t len)
{
	struct iovec v = {(void *)buf, len};
	struct p9_msg tx = {.type = P9_TWRITE};

	tx.u.write.fid = fid;
	tx.u.write.offset = off;
	tx.u.write.data.count = len;
	p9_cur_init(&tx.u.write.data.data, &v, 1, len);
	int r = p9c_rpc(c, &tx, &c->rx);
	return r ? r : (ssize_t)c->rx.u.rwrite.count;
}

int p9c_clunk(struct p9c *c, uint32_t fid)
{
	struct p9_msg tx = {.type = P9_TCLUNK, .u.fid.fid = fid};
	return p9c_rpc(c, &tx, &c->rx);
}

int p9c_getattr(struct p9c *c, uint32_t fid, struct p9_getattr *a)
{
	struct p9_msg tx = {.type = P9_TGETATTR, .u.getattr = {fid, P9_GETATTR_BASIC}};
	int r = p9c_rpc(c, &tx, &c->rx);

	if (r == 0)
		*a = c->rx.u.rgetattr;
	return r;
}

int p9c_setattr(struct p9c *c, const struct p9_setattr *a)
{
	struct p9_msg tx = {.type = P9_TSETATTR, .u.setattr = *a};
	return p9c_rpc(c, &tx, &c->rx);
}

int p9c_mkdir(struct p9c *c, uint32_t dfid, const char *name, uint32_t mode, struct p9_qid *q)
{
	struct p9_msg tx = {.type = P9_TMKDIR};

	tx.u.mkdir.dfid = dfid;
	strcpy(tx.u.mkdir.name, name);
	tx.u.mkdir.mode = mode;
	tx.u.mkdir.gid = P9_NONUNAME;
	int r = p9c_rpc(c, &tx, &c->rx);
	if (r == 0 && q)
		*q = c->rx.u.rqid.qid;
	return r;
}

int p9c_unlinkat(struct p9c *c, uint32_t dfid, const char *name, uint32_t flags)
{
	struct p9_msg tx = {.type = P9_TUNLINKAT};

	tx.u.unlinkat.dirfid = dfid;
	strcpy(tx.u.unlinkat.name, name);
	tx.u.unlinkat.flags = flags;
	return p9c_rpc(c, &tx, &c->rx);
}

int p9c_symlink(struct p9c *c, uint32_t dfid, const char *name, const char *target,
		struct p9_qid *q)
{
	struct p9_msg tx = {.type = P9_TSYMLINK};

	tx.u.symlink.fid = dfid;
	strcpy(tx.u.symlink.name, name);
	strcpy(tx.u.symlink.target, target);
	tx.u.symlink.gid = P9_NONUNAME;
	int r = p9c_rpc(c, &tx, &c->rx);
	if (r == 0 && q)
		*q = c->rx.u.rqid.qid;
	return r;
}

int p9c_mknod(struct p9c *c, uint32_t dfid, const char *name, uint32_t mode, uint32_t major,
	      uint32_t minor, struct p9_qid *q)
{
	struct p9_msg tx = {.type = P9_TMKNOD};

	tx.u.mknod.dfid = dfid;
	strcpy(tx.u.mknod.name, name);
	tx.u.mknod.mode = mode;
	tx.u.mknod.major = major;
	tx.u.mknod.minor = minor;
	tx.u.mknod.gid = P9_NONUNAME;
	int r = p9c_rpc(c, &tx, &c->rx);
	if (r == 0 && q)
		*q = c->rx.u.rqid.qid;
	return r;
}

int p9c_readlink(struct p9c *c, uint32_t fid, char *buf, size_t cap)
{
	struct p9_msg tx = {.type = P9_TREADLINK, .u.fid.fid = fid};
	int r = p9c_rpc(c, &tx, &c->rx);

	if (r == 0)
		snprintf(buf, cap, "%s", c->rx.u.rreadlink.target);
	return r;
}

int p9c_renameat(struct p9c *c, uint32_t odfid, const char *oname, uint32_t ndfid,
		 const char *nname)
{
	struct p9_msg tx = {.type = P9_TRENAMEAT};

	tx.u.renameat.olddirfid = odfid;
	strcpy(tx.u.renameat.oldname, oname);
	tx.u.renameat.newdirfid = ndfid;
	strcpy(tx.u.renameat.newname, nname);
	return p9c_rpc(c, &tx, &c->rx);
}

int p9c_link(struct p9c *c, uint32_t dfid, uint32_t fid, const char *name)
{
	struct p9_msg tx = {.type = P9_TLINK};

	tx.u.link.dfid = dfid;
	tx.u.link.fid = fid;
	strcpy(tx.u.link.name, name);
	return p9c_rpc(c, &tx, &c->rx);
}

int p9c_readdir(struct p9c *c, uint32_t fid, uint64_t off, uint32_t count,
		void (*fn)(const struct p9_dirent *d, void *arg), void *arg, uint64_t *next)
{
	struct p9_msg tx = {.type = P9_TREADDIR, .u.read = {fid, off, count}};
	struct p9_dirent d;
	int r = p9c_rpc(c, &tx, &c->rx), n = 0;

	if (r)
		return r;
	if (c->rx.u.rdata.count > count)
		return -EPROTO;
	struct p9_cur cur = c->rx.u.rdata.data;
	*next = off;
	while (cur.left && !cur.err) {
		p9_get_dirent(&cur, &d);
		if (cur.err)
			return -EPROTO;
		fn(&d, arg);
		*next = d.offset;
		n++;
	}
	return n;
}

int p9c_setxattr(struct p9c *c, uint32_t fid, uint32_t tmpfid, const char *name, const void *val,
		 size_t len, uint32_t flags)
{
	struct p9_msg tx = {.type = P9_TXATTRCREATE};
	int r = p9c_walk(c, fid, tmpfid, "", NULL);

	if (r < 0)
		return r;
	tx.u.xattrcreate.fid = tmpfid;
	strcpy(tx.u.xattrcreate.name, name);
	tx.u.xattrcreate.size = len;
	tx.u.xattrcreate.flags = flags;
	r = p9c_rpc(c, &tx, &c->rx);
	if (r == 0 && len)
		r = p9c_write(c, tmpfid, 0, val, (uint32_t)len) == (ssize_t)len ? 0 : -EIO;
	int cr = p9c_clunk(c, tmpfid);
	return r ? r : cr;
}

ssize_t p9c_getxattr(struct p9c *c, uint32_t fid, uint32_t tmpfid, const char *name, void *buf,
		     size_t cap)
{
	struct p9_msg tx = {.type = P9_TXATTRWALK};

	tx.u.xattrwalk.fid = fid;
	tx.u.xattrwalk.newfid = tmpfid;
	strcpy(tx.u.xattrwalk.name, name);
	int r = p9c_rpc(c, &tx, &c->rx);
	if (r)
		return r;
	uint64_t size = c->rx.u.rxattrwalk.size;
	ssize_t got = 0;
	while ((uint64_t)got < size && (size_t)got < cap) {
		ssize_t n = p9c_read(c, tmpfid, (uint64_t)got, (char *)buf + got,
				     (uint32_t)(cap - (size_t)got));
		if (n <= 0)
			break;
		got += n;
	}
	p9c_clunk(c, tmpfid);
	return (uint64_t)got == size ? got : -EIO;
}

int p9c_lock(struct p9c *c, uint32_t fid, uint8_t type, uint64_t start, uint64_t len,
	     uint8_t *status)
{
	struct p9_msg tx = {.type = P9_TLOCK};

	tx.u.lock = (struct p9_lock){
	    .fid = fid, .type = type, .start = start, .length = len, .proc_id = 42};
	strcpy(tx.u.lock.client_id, "test");
	int r = p9c_rpc(c, &tx, &c->rx);
	if (r == 0)
		*status = c->rx.u.rlock.status;
	return r;
}

int p9c_getlock(struct p9c *c, uint32_t fid, struct p9_lock *l)
{
	struct p9_msg tx = {.type = P9_TGETLOCK};

	tx.u.lock = *l;
	tx.u.lock.fid = fid;
	int r = p9c_rpc(c, &tx, &c->rx);
	if (r == 0)
		*l = c->rx.u.lock;
	return r;
}

/* ---- fixture ---- */

const char *p9fx_path(struct p9_fixture *fx, const char *rel)
{
	static char paths[4][512]; /* a few live at once per call site */
	static int next;
	char *p = paths[next++ % 4];

	snprintf(p, sizeof(paths[0]), "%s/%s", fx->base, rel);
	return p;
}

int p9fx_write(struct p9_fixture *fx, const char *rel, const char *data)
{
	int fd = open(p9fx_path(fx, rel), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, data, strlen(data));
	close(fd);
	return n == (ssize_t)strlen(data) ? 0 : -EIO;
}

ssize_t p9fx_read(struct p9_fixture *fx, const char *rel, char *buf, size_t cap)
{
	int fd = open(p9fx_path(fx, rel), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n < 0 ? -errno : n;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)remove(path); /* best effort: keep going */
	return 0;
}

int p9fx_setup(struct p9_fixture **out, bool no_openat2)
{
	struct p9_fixture *fx = calloc(1, sizeof(*fx));
	struct kv_err err = {0};

	if (!fx)
		return -ENOMEM;
	strcpy(fx->base, "/tmp/kvbox-gofer-XXXXXX");
	if (!mkdtemp(fx->base))
		return -errno;
	snprintf(fx->root, sizeof(fx->root), "%s/root", fx->base);
	snprintf(fx->ro, sizeof(fx->ro), "%s/ro", fx->base);
	snprintf(fx->outside, sizeof(fx->outside), "%s/outside", fx->base);
	if (mkdir(fx->root, 0755) || mkdir(fx->ro, 0755) || mkdir(fx->outside, 0755))
		return -errno;
	if (p9fx_write(fx, "outside/secret", "SECRET") || p9fx_write(fx, "ro/file", "ro data"))
		return -EIO;
	const struct p9_attach_point ap[] = {
	    {.aname = "/", .path = fx->root, .fd = -1},
	    {.aname = "ro", .path = fx->ro, .fd = -1, .readonly = true},
	};
	const struct p9_server_config cfg = {
	    .attach = ap, .nattach = 2, .proc_fd = -1, .no_openat2 = no_openat2};
	int r = p9_server_new(&cfg, &fx->s, &err);
	if (r || (r = p9c_init(&fx->c, fx->s)))
		return r;
	uint32_t msize = 0;
	if ((r = p9c_version(&fx->c, 1u << 20, "9P2000.L", &msize, NULL)))
		return r;
	if (msize != P9_MAX_MSIZE)
		return -EPROTO;
	if ((r = p9c_attach(&fx->c, 0, "", 0, &fx->rootqid)))
		return r;
	*out = fx;
	return 0;
}

void p9fx_teardown(struct p9_fixture *fx)
{
	if (!fx)
		return;
	p9c_fini(&fx->c);
	p9_server_free(fx->s);
	nftw(fx->base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
}
