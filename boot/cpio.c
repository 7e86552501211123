/* SPDX-License-Identifier: Apache-2.0 */
/*
 * newc cpio writer (see boot/cpio.h).  Each entry is a 110-byte ASCII
 * header ("070701" then thirteen 8-digit hex fields), the NUL-terminated
 * name padded so header + name is a multiple of 4, then the data padded to
 * 4.  The archive ends with an entry named TRAILER!!!.
 */
#include "boot/cpio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void cpio_init(struct cpio_writer *w, size_t max)
{
	memset(w, 0, sizeof(*w));
	w->max = max;
	w->next_ino = 1;
}

void cpio_free(struct cpio_writer *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

static int fail(struct cpio_writer *w, int err)
{
	if (!w->err)
		w->err = err;
	return w->err;
}

/* Makes room for n more bytes, doubling up to the bound. */
static int reserve(struct cpio_writer *w, size_t n)
{
	if (w->err)
		return w->err;
	if (n > w->max || w->len > w->max - n)
		return fail(w, -EFBIG);
	if (w->len + n <= w->cap)
		return 0;
	size_t cap = w->cap ? w->cap : 4096;
	while (cap < w->len + n)
		cap = cap > w->max / 2 ? w->max : cap * 2;
	uint8_t *b = realloc(w->buf, cap);
	if (!b)
		return fail(w, -ENOMEM);
	w->buf = b;
	w->cap = cap;
	return 0;
}

static void put(struct cpio_writer *w, const void *p, size_t n)
{
	if (n)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void pad4(struct cpio_writer *w)
{
	static const uint8_t zero[4];
	put(w, zero, (4 - w->len % 4) % 4);
}

/* The archive name for name, or NULL if it is not acceptable. */
static const char *clean_name(const char *name)
{
	if (!name)
		return NULL;
	if (name[0] == '/')
		name++;
	size_t len = strlen(name);
	if (!len || len > CPIO_NAME_MAX)
		return NULL;
	if (!strcmp(name, CPIO_TRAILER))
		return NULL;
	for (const char *c = name; *c;) {
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return NULL;
		c += n;
		if (*c == '/' && !*++c)
			return NULL; /* trailing slash */
	}
	return name;
}

static int add_entry(struct cpio_writer *w, const char *name, uint32_t mode, uint32_t nlink,
		     unsigned rmaj, unsigned rmin, const void *data, size_t len)
{
	if (w->err)
		return w->err;
	if (len > UINT32_MAX)
		return fail(w, -EFBIG);
	size_t nsize = strlen(name) + 1;
	size_t total = CPIO_HDR_SIZE + nsize + 3 + len + 3;
	if (reserve(w, total) < 0)
		return w->err;
	char hdr[CPIO_HDR_SIZE + 1];
	uint32_t ino = strcmp(name, CPIO_TRAILER) ? w->next_ino++ : 0;
	snprintf(hdr, sizeof(hdr), "%s%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 CPIO_NEWC_MAGIC, ino, mode, 0u, 0u, nlink, 0u, (unsigned)len, 0u, 0u, rmaj, rmin,
		 (unsigned)nsize, 0u);
	put(w, hdr, CPIO_HDR_SIZE);
	put(w, name, nsize);
	pad4(w);
	put(w, data, len);
	pad4(w);
	return 0;
}

static int add_named(struct cpio_writer *w, const char *name, uint32_t mode, uint32_t nlink,
		     unsigned rmaj, unsigned rmin, const void *data, size_t len)
{
	const char *n = clean_name(name);
	if (!n)
		return fail(w, -EINVAL);
	return add_entry(w, n, mode, nlink, rmaj, rmin, data, len);
}

int cpio_add_dir(struct cpio_writer *w, const char *name, mode_t mode)
{
	return add_named(w, name, S_IFDIR | (mode & 07777), 2, 0, 0, NULL, 0);
}

int cpio_add_file(struct cpio_writer *w, const char *name, mode_t mode, const void *data,
		  size_t len)
{
	if (len && !data)
		return fail(w, -EINVAL);
	return add_named(w, name, S_IFREG | (mode & 07777), 1, 0, 0, data, len);
}

int cpio_add_symlink(struct cpio_writer *w, const char *name, const char *target)
{
	if (!target || !target[0] || strlen(target) > CPIO_NAME_MAX)
		return fail(w, -EINVAL);
	return add_named(w, name, S_IFLNK | 0777, 1, 0, 0, target, strlen(target));
}

int cpio_add_node(struct cpio_writer *w, const char *name, mode_t type, mode_t mode, unsigned major,
		  unsigned minor)
{
	if (type != S_IFCHR && type != S_IFBLK && type != S_IFIFO && type != S_IFSOCK)
		return fail(w, -EINVAL);
	if (major > 0xfff || minor > 0xfffff)
		return fail(w, -EINVAL); /* what dev_t holds */
	return add_named(w, name, type | (mode & 07777), 1, major, minor, NULL, 0);
}

int cpio_finish(struct cpio_writer *w, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	add_entry(w, CPIO_TRAILER, 0, 1, 0, 0, NULL, 0);
	if (w->err) {
		int err = w->err;
		cpio_free(w);
		return err;
	}
	*out = w->buf;
	*len = w->len;
	w->buf = NULL;
	w->len = w->cap = 0;
	w->err = -EALREADY; /* nothing more may be added */
	return 0;
}
