/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A little-endian read cursor with a sticky error, for the parsers of
 * saved state (vmm/snapshot_format.c, virtio/vsock_state.c): a read past
 * the end sets `bad`, returns zeros (or NULL from le_take) and every
 * later read fails too, so a parser reads a whole record and checks
 * `bad` once.
 */
#ifndef KVBOX_UTIL_LECUR_H
#define KVBOX_UTIL_LECUR_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct le_cur {
	const uint8_t *p;
	size_t left;
	bool bad;
};

/* The next n bytes, or NULL (and bad) when fewer are left. */
static inline const uint8_t *le_take(struct le_cur *c, size_t n)
{
	if (c->bad || n > c->left) {
		c->bad = true;
		return NULL;
	}
	const uint8_t *p = c->p;
	c->p += n;
	c->left -= n;
	return p;
}

static inline uint8_t le_get8(struct le_cur *c)
{
	const uint8_t *p = le_take(c, 1);
	return p ? p[0] : 0;
}

static inline uint16_t le_get16(struct le_cur *c)
{
	uint16_t v = 0;
	const uint8_t *p = le_take(c, 2);
	if (p)
		memcpy(&v, p, 2);
	return le16toh(v);
}

static inline uint32_t le_get32(struct le_cur *c)
{
	uint32_t v = 0;
	const uint8_t *p = le_take(c, 4);
	if (p)
		memcpy(&v, p, 4);
	return le32toh(v);
}

static inline uint64_t le_get64(struct le_cur *c)
{
	uint64_t v = 0;
	const uint8_t *p = le_take(c, 8);
	if (p)
		memcpy(&v, p, 8);
	return le64toh(v);
}

/* n bytes into dst (zeros when they are not there). */
static inline void le_get_bytes(struct le_cur *c, void *dst, size_t n)
{
	const uint8_t *p = le_take(c, n);
	if (p)
		memcpy(dst, p, n);
	else
		memset(dst, 0, n);
}

#endif
