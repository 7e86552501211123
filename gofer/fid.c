/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fid table and per-fid path bookkeeping (see fid.h).  No host calls here
 * except close(); the server decides what a fid's fds are.
 */
#include "gofer/fid.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FIDS_MIN_CAP 64u

static uint32_t fid_hash(uint32_t id, uint32_t cap)
{
	return (id * 0x9E3779B1u) & (cap - 1);
}

int p9_fids_init(struct p9_fids *t, uint32_t max)
{
	*t = (struct p9_fids){.cap = FIDS_MIN_CAP, .max = max ? max : 1};
	t->slot = calloc(t->cap, sizeof(*t->slot));
	return t->slot ? 0 : -ENOMEM;
}

void p9_fids_clear(struct p9_fids *t)
{
	for (uint32_t i = 0; i < t->cap; i++) {
		p9_fid_free(t->slot[i]);
		t->slot[i] = NULL;
	}
	t->count = 0;
}

void p9_fids_destroy(struct p9_fids *t)
{
	if (!t->slot)
		return;
	p9_fids_clear(t);
	free(t->slot);
	t->slot = NULL;
}

struct p9_fid *p9_fid_get(const struct p9_fids *t, uint32_t id)
{
	for (uint32_t i = fid_hash(id, t->cap);; i = (i + 1) & (t->cap - 1)) {
		if (!t->slot[i])
			return NULL;
		if (t->slot[i]->id == id)
			return t->slot[i];
	}
}

static void place(struct p9_fid **slot, uint32_t cap, struct p9_fid *f)
{
	uint32_t i = fid_hash(f->id, cap);
	while (slot[i])
		i = (i + 1) & (cap - 1);
	slot[i] = f;
}

static int grow(struct p9_fids *t)
{
	uint32_t cap = t->cap * 2;
	struct p9_fid **slot = calloc(cap, sizeof(*slot));

	if (!slot)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->cap; i++)
		if (t->slot[i])
			place(slot, cap, t->slot[i]);
	free(t->slot);
	t->slot = slot;
	t->cap = cap;
	return 0;
}

int p9_fid_add(struct p9_fids *t, struct p9_fid *f)
{
	if (p9_fid_get(t, f->id))
		return -EEXIST;
	if (t->count >= t->max)
		return -EMFILE;
	/* keep the load factor at or below 1/2 so probes stay short */
	if ((t->count + 1) * 2 > t->cap) {
		int r = grow(t);
		if (r < 0)
			return r;
	}
	place(t->slot, t->cap, f);
	t->count++;
	return 0;
}

struct p9_fid *p9_fid_take(struct p9_fids *t, uint32_t id)
{
	uint32_t mask = t->cap - 1, i = fid_hash(id, t->cap);

	while (t->slot[i] && t->slot[i]->id != id)
		i = (i + 1) & mask;
	struct p9_fid *f = t->slot[i];
	if (!f)
		return NULL;
	t->slot[i] = NULL;
	t->count--;
	/* backward-shift: move later members of the probe run into the hole
	 * when their home slot is at or before it (cyclically) */
	for (uint32_t j = (i + 1) & mask; t->slot[j]; j = (j + 1) & mask) {
		uint32_t home = fid_hash(t->slot[j]->id, t->cap);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			t->slot[i] = t->slot[j];
			t->slot[j] = NULL;
			i = j;
		}
	}
	return f;
}

void p9_fids_rename(struct p9_fids *t, unsigned attach, const char *from, const char *to)
{
	size_t flen = strlen(from), tlen = strlen(to);

	if (!flen)
		return; /* the attach root is never renamed */
	for (uint32_t i = 0; i < t->cap; i++) {
		struct p9_fid *f = t->slot[i];
		if (!f || f->kind != P9_FID_FILE || f->attach != attach)
			continue;
		if (strncmp(f->path, from, flen) || (f->path[flen] && f->path[flen] != '/'))
			continue;
		size_t rest = strlen(f->path + flen);
		if (tlen + rest + 1 > PATH_MAX)
			continue;
		char *p = malloc(tlen + rest + 1);
		if (!p)
			continue;
		memcpy(p, to, tlen);
		memcpy(p + tlen, f->path + flen, rest + 1);
		free(f->path);
		f->path = p;
	}
}

struct p9_fid *p9_fid_new(uint32_t id)
{
	struct p9_fid *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->path = strdup("");
	if (!f->path) {
		free(f);
		return NULL;
	}
	f->id = id;
	f->fd = -1;
	f->ofd = -1;
	return f;
}

void p9_fid_free(struct p9_fid *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	if (f->ofd >= 0)
		close(f->ofd);
	if (f->xattr)
		free(f->xattr->buf);
	free(f->xattr);
	free(f->path);
	free(f);
}

int p9_path_push(char **path, const char *name)
{
	size_t old = strlen(*path), len = strlen(name);
	size_t need = old + (old ? 1 : 0) + len + 1;

	if (need > PATH_MAX)
		return -ENAMETOOLONG;
	char *p = realloc(*path, need);
	if (!p)
		return -ENOMEM;
	if (old)
		p[old++] = '/';
	memcpy(p + old, name, len + 1);
	*path = p;
	return 0;
}

void p9_path_pop(char *path)
{
	char *slash = strrchr(path, '/');

	if (slash)
		*slash = '\0';
	else
		path[0] = '\0';
}

const char *p9_path_base(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}
