/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the gofer's 9P server (gofer/p9wire.c decoding and
 * every handler behind gofer/server.c).
 *
 * Each input gets a fresh tree in a temp directory (tmpfs when /dev/shm
 * exists): root/ attached as "/" holding a file, a directory, a fifo and
 * symlinks to /etc/passwd and "..", and ro/ attached read-only.  The
 * harness negotiates 9P2000.L (msize 64 KiB) and attaches fid 0 to "/" and
 * fid 1 to "ro", then feeds the input as requests:
 *
 *   byte 0: request buffer split (low nibble) and response buffer split
 *           (high nibble), in bytes, 0 = one buffer
 *   byte 1: bit 0 = walk without openat2 (the O_NOFOLLOW fallback)
 *   rest:   9P messages back to back; each takes as many bytes as its
 *           own size field says (clamped to what is left), so a bad size
 *           still reaches the server, and the next message follows
 *
 * Every response must be a well-formed message no longer than the space
 * offered and decodable by the same codec; anything else traps.  Nothing
 * may appear outside the temp tree (checked by the tree being removable
 * and by the read-only side never changing: its file is compared).
 *
 * Seed corpus: build with -DFUZZ_P9_GEN_CORPUS (no -fsanitize=fuzzer) to
 * get a program that writes tests/fuzz/corpus/p9/ from valid messages:
 *   cc -D_GNU_SOURCE -DFUZZ_P9_GEN_CORPUS -I. tests/fuzz/fuzz_p9.c \
 *      gofer/p9wire.c -o gen && ./gen tests/fuzz/corpus/p9
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gofer/p9wire.h"

#define FUZZ_MSIZE    65536u
#define FUZZ_MAX_MSGS 64

/* Encodes m into buf; returns the length (0 if it does not fit). */
static size_t enc(struct p9_msg *m, uint8_t *buf, size_t cap)
{
	struct iovec v = {buf, cap};
	return p9_encode(m, &v, 1, cap);
}

#ifndef FUZZ_P9_GEN_CORPUS

#include "gofer/server.h"

static const char ro_content[] = "read-only data";

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	chmod(path, 0700); /* a fuzzed chmod must not make the tree sticky */
	(void)remove(path);
	return 0;
}

static int put_file(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, data, strlen(data));
	close(fd);
	return n == (ssize_t)strlen(data) ? 0 : -1;
}

static int make_tree(char *base, size_t cap)
{
	char p[512];

	snprintf(base, cap, "%s/kvbox-fuzz-p9-XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(base))
		return -1;
#define AT(rel) (snprintf(p, sizeof(p), "%s/%s", base, rel), p)
	if (mkdir(AT("root"), 0755) || mkdir(AT("ro"), 0755) || mkdir(AT("root/d"), 0755))
		return -1;
	if (put_file(AT("root/a"), "hello, world\n", 0644) ||
	    put_file(AT("root/d/b"), "inside d\n", 0600) || put_file(AT("ro/f"), ro_content, 0644))
		return -1;
	if (symlink("/etc/passwd", AT("root/s")) || symlink("..", AT("root/up")) ||
	    mkfifo(AT("root/p"), 0644))
		return -1;
#undef AT
	return 0;
}

static void check_ro(const char *base)
{
	char p[512], got[64] = {0};

	snprintf(p, sizeof(p), "%s/ro/f", base);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		__builtin_trap();
	ssize_t n = read(fd, got, sizeof(got) - 1);
	close(fd);
	if (n != (ssize_t)strlen(ro_content) || memcmp(got, ro_content, (size_t)n) != 0)
		__builtin_trap();
}

static int split(uint8_t *buf, size_t len, size_t each, struct iovec *iov, int max)
{
	int n = 0;

	for (size_t off = 0; off < len && n < max; n++) {
		size_t k = each && each < len - off ? each : len - off;
		iov[n] = (struct iovec){buf + off, k};
		off += k;
	}
	return n;
}

struct fuzz_io {
	struct p9_server *s;
	uint8_t *req, *resp;
	struct iovec riov[FUZZ_MSIZE], wiov[FUZZ_MSIZE];
	struct p9_msg msg;
};

/* One request; the response must be well-formed and fit. */
static void one(struct fuzz_io *io, size_t len, unsigned rsplit, unsigned wsplit)
{
	int nr = split(io->req, len, rsplit, io->riov, FUZZ_MSIZE);
	int nw = split(io->resp, FUZZ_MSIZE, wsplit, io->wiov, FUZZ_MSIZE);
	size_t n = p9_server_handle(io->s, io->riov, nr, io->wiov, nw);

	if (n == 0 || n > FUZZ_MSIZE)
		__builtin_trap(); /* 64 KiB always holds an Rlerror */
	struct iovec v = {io->resp, n};
	if (p9_decode(&v, 1, UINT32_MAX, &io->msg) != 0)
		__builtin_trap();
	if (io->msg.type != P9_RLERROR && (io->msg.type & 1) == 0)
		__builtin_trap(); /* a response is always an R-message */
}

static void preamble(struct fuzz_io *io)
{
	struct p9_msg m = {.type = P9_TVERSION, .tag = P9_NOTAG};

	m.u.version.msize = FUZZ_MSIZE;
	strcpy(m.u.version.version, "9P2000.L");
	one(io, enc(&m, io->req, FUZZ_MSIZE), 0, 0);
	for (uint32_t fid = 0; fid < 2; fid++) {
		m = (struct p9_msg){.type = P9_TATTACH, .tag = 1};
		m.u.attach = (__typeof__(m.u.attach)){.fid = fid, .afid = P9_NOFID};
		strcpy(m.u.attach.aname, fid ? "ro" : "/");
		one(io, enc(&m, io->req, FUZZ_MSIZE), 0, 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_io *io;
	static uint8_t reqbuf[FUZZ_MSIZE], respbuf[FUZZ_MSIZE];
	char base[128];

	if (size < 2)
		return 0;
	if (!io && !(io = calloc(1, sizeof(*io))))
		abort();
	io->req = reqbuf;
	io->resp = respbuf;
	if (make_tree(base, sizeof(base)) != 0)
		abort();
	char root[160], ro[160];
	snprintf(root, sizeof(root), "%s/root", base);
	snprintf(ro, sizeof(ro), "%s/ro", base);
	const struct p9_attach_point ap[] = {
	    {.aname = "/", .path = root, .fd = -1},
	    {.aname = "ro", .path = ro, .fd = -1, .readonly = true},
	};
	const struct p9_server_config cfg = {
	    .attach = ap,
	    .nattach = 2,
	    .max_fids = 64,
	    .proc_fd = -1,
	    .no_openat2 = data[1] & 1,
	};
	if (p9_server_new(&cfg, &io->s, NULL) != 0)
		abort();
	preamble(io);
	unsigned rsplit = data[0] & 0xf, wsplit = data[0] >> 4;
	data += 2;
	size -= 2;
	for (int i = 0; i < FUZZ_MAX_MSGS && size; i++) {
		size_t len = size >= 4 ? (size_t)data[0] | (size_t)data[1] << 8 |
					     (size_t)data[2] << 16 | (size_t)data[3] << 24
				       : size;
		if (len == 0 || len > size)
			len = size;
		if (len > FUZZ_MSIZE)
			len = FUZZ_MSIZE;
		memcpy(io->req, data, len);
		one(io, len, rsplit, wsplit);
		data += len;
		size -= len;
	}
	p9_server_free(io->s);
	io->s = NULL;
	check_ro(base);
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

#else /* FUZZ_P9_GEN_CORPUS: write the seed corpus */

struct seed {
	uint8_t buf[8192];
	size_t len;
};

static void add(struct seed *s, struct p9_msg *m)
{
	m->tag = (uint16_t)(s->len + 1);
	size_t n = enc(m, s->buf + s->len, sizeof(s->buf) - s->len);
	if (!n)
		abort();
	s->len += n;
}

static void walk(struct seed *s, uint32_t fid, uint32_t newfid, int n, const char *const *names)
{
	struct p9_msg m = {.type = P9_TWALK};

	m.u.walk.fid = fid;
	m.u.walk.newfid = newfid;
	m.u.walk.nwname = (uint16_t)n;
	for (int i = 0; i < n; i++)
		strcpy(m.u.walk.wnames[i], names[i]);
	add(s, &m);
}

static void simple(struct seed *s, uint8_t type, uint32_t fid)
{
	struct p9_msg m = {.type = type, .u.fid.fid = fid};
	add(s, &m);
}

static void lopen(struct seed *s, uint32_t fid, uint32_t flags)
{
	struct p9_msg m = {.type = P9_TLOPEN, .u.lopen = {fid, flags}};
	add(s, &m);
}

static void rw(struct seed *s, uint8_t type, uint32_t fid, uint64_t off, uint32_t count)
{
	static char data[] = "fuzz data";
	struct iovec v = {data, sizeof(data) - 1};
	struct p9_msg m = {.type = type};

	if (type == P9_TWRITE) {
		m.u.write.fid = fid;
		m.u.write.offset = off;
		m.u.write.data.count = (uint32_t)v.iov_len;
		p9_cur_init(&m.u.write.data.data, &v, 1, v.iov_len);
	} else {
		m.u.read = (__typeof__(m.u.read)){fid, off, count};
	}
	add(s, &m);
}

static void seed_io(struct seed *s)
{
	const char *a[] = {"a"};
	walk(s, 0, 2, 1, a);
	lopen(s, 2, P9_DOTL_RDWR);
	rw(s, P9_TREAD, 2, 0, 100);
	rw(s, P9_TWRITE, 2, 5, 0);
	struct p9_msg m = {.type = P9_TFSYNC, .u.fsync = {2, 1}};
	add(s, &m);
	m = (struct p9_msg){.type = P9_TGETATTR, .u.getattr = {2, P9_GETATTR_BASIC}};
	add(s, &m);
	m = (struct p9_msg){.type = P9_TSETATTR,
			    .u.setattr = {.fid = 2, .valid = 0x1ff, .mode = 0600, .size = 3}};
	add(s, &m);
	m = (struct p9_msg){.type = P9_TLOCK};
	m.u.lock = (struct p9_lock){.fid = 2, .type = P9_LOCK_TYPE_WRLCK, .length = 10};
	add(s, &m);
	m.type = P9_TGETLOCK;
	add(s, &m);
	simple(s, P9_TCLUNK, 2);
}

static void seed_create(struct seed *s)
{
	struct p9_msg m = {.type = P9_TLCREATE};
	walk(s, 0, 3, 0, NULL);
	m.u.lcreate = (__typeof__(m.u.lcreate)){.fid = 3, .flags = P9_DOTL_RDWR, .mode = 0644};
	strcpy(m.u.lcreate.name, "new");
	add(s, &m);
	rw(s, P9_TWRITE, 3, 0, 0);
	m = (struct p9_msg){.type = P9_TMKDIR, .u.mkdir = {.dfid = 0, .mode = 0755}};
	strcpy(m.u.mkdir.name, "dir");
	add(s, &m);
	m = (struct p9_msg){.type = P9_TSYMLINK, .u.symlink = {.fid = 0}};
	strcpy(m.u.symlink.name, "ln");
	strcpy(m.u.symlink.target, "../../etc/shadow");
	add(s, &m);
	m = (struct p9_msg){.type = P9_TMKNOD, .u.mknod = {.dfid = 0, .mode = 010644}};
	strcpy(m.u.mknod.name, "fifo2");
	add(s, &m);
	m = (struct p9_msg){.type = P9_TLINK, .u.link = {.dfid = 0, .fid = 3}};
	strcpy(m.u.link.name, "hard");
	add(s, &m);
	m = (struct p9_msg){.type = P9_TRENAMEAT, .u.renameat = {.olddirfid = 0, .newdirfid = 0}};
	strcpy(m.u.renameat.oldname, "hard");
	strcpy(m.u.renameat.newname, "a");
	add(s, &m);
	m = (struct p9_msg){.type = P9_TUNLINKAT, .u.unlinkat = {.dirfid = 0, .flags = 0x200}};
	strcpy(m.u.unlinkat.name, "dir");
	add(s, &m);
	m = (struct p9_msg){.type = P9_TRENAME, .u.rename = {.fid = 3, .dfid = 0}};
	strcpy(m.u.rename.name, "renamed");
	add(s, &m);
	simple(s, P9_TREMOVE, 3);
}

static void seed_dir(struct seed *s)
{
	const char *up[] = {"..", "d", "..", "up", "s"};
	walk(s, 0, 4, 0, NULL);
	lopen(s, 4, 0);
	rw(s, P9_TREADDIR, 4, 0, 8192);
	rw(s, P9_TREADDIR, 4, 3, 100);
	walk(s, 0, 5, 5, up);
	walk(s, 0, 6, 4, up);
	simple(s, P9_TREADLINK, 5);
	lopen(s, 5, 0);
	simple(s, P9_TSTATFS, 0);
	const char *pipe[] = {"p"};
	walk(s, 0, 7, 1, pipe);
	lopen(s, 7, 0);
}

static void seed_xattr(struct seed *s)
{
	struct p9_msg m = {.type = P9_TXATTRCREATE};
	const char *a[] = {"a"};
	walk(s, 0, 8, 1, a);
	walk(s, 8, 9, 0, NULL);
	m.u.xattrcreate = (__typeof__(m.u.xattrcreate)){.fid = 9, .size = 9};
	strcpy(m.u.xattrcreate.name, "user.fuzz");
	add(s, &m);
	rw(s, P9_TWRITE, 9, 0, 0);
	simple(s, P9_TCLUNK, 9);
	m = (struct p9_msg){.type = P9_TXATTRWALK, .u.xattrwalk = {.fid = 8, .newfid = 10}};
	strcpy(m.u.xattrwalk.name, "user.fuzz");
	add(s, &m);
	rw(s, P9_TREAD, 10, 0, 100);
	simple(s, P9_TCLUNK, 10);
	m.u.xattrwalk.newfid = 11;
	m.u.xattrwalk.name[0] = '\0';
	add(s, &m);
}

static void seed_ro(struct seed *s)
{
	const char *f[] = {"f"};
	walk(s, 1, 12, 1, f);
	lopen(s, 12, P9_DOTL_RDWR);
	lopen(s, 12, 0);
	rw(s, P9_TREAD, 12, 0, 64);
	struct p9_msg m = {.type = P9_TUNLINKAT, .u.unlinkat = {.dirfid = 1}};
	strcpy(m.u.unlinkat.name, "f");
	add(s, &m);
	m = (struct p9_msg){.type = P9_TFLUSH, .u.flush.oldtag = 1};
	add(s, &m);
	m = (struct p9_msg){.type = P9_TVERSION, .u.version.msize = 8192};
	strcpy(m.u.version.version, "9P2000.L");
	add(s, &m);
}

static void write_seed(const char *dir, const char *name, uint8_t b0, uint8_t b1,
		       const struct seed *s)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fputc(b0, f) == EOF || fputc(b1, f) == EOF ||
	    fwrite(s->buf, 1, s->len, f) != s->len || fclose(f) != 0)
		abort();
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(struct seed *);
		uint8_t b0, b1;
	} seeds[] = {
	    {"io", seed_io, 0x00, 0},	      {"io-split", seed_io, 0x73, 1},
	    {"create", seed_create, 0x00, 0}, {"create-nofollow", seed_create, 0x25, 1},
	    {"dir", seed_dir, 0x00, 0},	      {"dir-split", seed_dir, 0xb1, 1},
	    {"xattr", seed_xattr, 0x00, 0},   {"ro", seed_ro, 0x00, 0},
	};
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		struct seed s = {.len = 0};
		seeds[i].fn(&s);
		write_seed(argv[1], seeds[i].name, seeds[i].b0, seeds[i].b1, &s);
	}
	return 0;
}

#endif
