/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the saved 9P session parser (gofer/session.c
 * p9_session_parse).  A restore reads those bytes back from an image file
 * on disk, so the parser must hold for any input.
 *
 *   byte 0: limits: bits 0-1 shrink max_msize, bits 2-3 nattach - 1
 *   byte 1: max_fids / 4 (0: 65536)
 *   rest:   the session bytes
 *
 * An accepted input must obey every rule of the format, and re-encoding
 * what was parsed must give back exactly the input: nothing skipped,
 * nothing left over.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gofer/p9wire.h"
#include "gofer/session.h"

static void put32(uint8_t **p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		*(*p)++ = (uint8_t)(v >> (8 * i));
}

static void check_path(const char *path)
{
	size_t len = strlen(path);

	if (len >= PATH_MAX)
		abort();
	if (!len)
		return;
	if (path[0] == '/' || path[len - 1] == '/' || strstr(path, "//"))
		abort();
	for (const char *p = path; p; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if (n == 0 || n > P9_NAME_MAX || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			abort();
	}
}

static void check(const struct p9_session *ss, const struct p9_session_limits *lim,
		  const uint8_t *data, size_t size)
{
	if (ss->msize ? ss->msize < P9_MIN_MSIZE || ss->msize > lim->max_msize : ss->nfids)
		abort();
	if (ss->nfids > lim->max_fids)
		abort();
	uint8_t *out = malloc(size ? size : 1), *p = out;
	size_t need = P9_SESSION_HDR_SIZE;
	for (uint32_t i = 0; i < ss->nfids; i++)
		need += P9_SESSION_FID_SIZE + strlen(ss->fids[i].path);
	if (!out || need != size)
		abort();
	memcpy(p, P9_SESSION_MAGIC, 8);
	p += 8;
	put32(&p, P9_SESSION_VERSION);
	put32(&p, ss->msize);
	put32(&p, ss->nfids);
	for (uint32_t i = 0; i < ss->nfids; i++) {
		const struct p9_session_fid *f = &ss->fids[i];
		if (f->attach >= lim->nattach)
			abort();
		if (f->oflags != -1 && f->ftype != S_IFREG && f->ftype != S_IFDIR)
			abort();
		check_path(f->path);
		for (uint32_t j = 0; j < i; j++)
			if (ss->fids[j].id == f->id)
				abort();
		put32(&p, f->id);
		put32(&p, f->attach);
		put32(&p, f->uid);
		put32(&p, f->ftype);
		put32(&p, (uint32_t)f->oflags);
		size_t n = strlen(f->path);
		*p++ = (uint8_t)n;
		*p++ = (uint8_t)(n >> 8);
		memcpy(p, f->path, n);
		p += n;
	}
	if (memcmp(out, data, size))
		abort();
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct p9_session ss;

	if (size < 2)
		return 0;
	struct p9_session_limits lim = {
	    .max_msize = P9_MAX_MSIZE >> (data[0] & 3),
	    .nattach = 1u + ((data[0] >> 2) & 3),
	    .max_fids = data[1] ? data[1] * 4u : 65536,
	};
	if (p9_session_parse(data + 2, size - 2, &lim, &ss, NULL) != 0) {
		if (ss.fids || ss.pool || ss.nfids || ss.msize)
			abort(); /* a refused input leaves nothing behind */
		return 0;
	}
	check(&ss, &lim, data + 2, size - 2);
	p9_session_free(&ss);
	return 0;
}
