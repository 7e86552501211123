/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host <-> agent codec (wire format in guest/protocol.h).  Owns the
 * frame header, the field encoding and the semantic checks of every
 * message; nothing else in kvbox reads these bytes.
 *
 * Each payload struct is described once by a const schema (a table of
 * fields: tag, kind, offset, limit, nested schema; guest/protocol_msgs.c),
 * and the one encoder and one decoder here walk that table, so the two
 * sides cannot drift apart.  Decoding is a read cursor with a sticky
 * error; every count is checked against its limit and against the bytes
 * left before anything is allocated, and all allocations come from one
 * arena per message with a total bound.  After the fields, the struct's
 * check function enforces what the fields mean (absolute paths, ranges);
 * the encoder runs the same checks.
 */
#include "guest/protocol.h"
#include "guest/protocol_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ---------------------------------------------------------- */

#define ARENA_CHUNK (16u * 1024)
#define ARENA_MAX   (16u << 20)

struct arena_chunk {
	struct arena_chunk *next;
	size_t cap, used;
	alignas(max_align_t) unsigned char data[];
};

struct agent_arena {
	struct arena_chunk *head;
	size_t total;
};

static void *arena_alloc(struct agent_arena *a, size_t size)
{
	size = (size + 7) & ~(size_t)7;
	struct arena_chunk *c = a->head;
	if (!c || c->cap - c->used < size) {
		size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;
		if (a->total + cap > ARENA_MAX)
			return NULL;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->next = a->head;
		c->cap = cap;
		c->used = 0;
		a->head = c;
		a->total += cap;
	}
	void *p = c->data + c->used;
	c->used += size;
	memset(p, 0, size);
	return p;
}

void agent_msg_free(struct agent_msg *msg)
{
	if (!msg || !msg->arena)
		return;
	struct arena_chunk *c = msg->arena->head;
	while (c) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	free(msg->arena);
	msg->arena = NULL;
}

/* ---- little-endian helpers -------------------------------------------- */

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The union member that carries the payload starts at the union's start. */
static void *payload_of(struct agent_msg *m)
{
	return &m->u;
}

int agent_hdr_check(const struct agent_hdr *hdr)
{
	return agent_payload_schema(hdr) ? 0 : -EBADMSG;
}

/* ---- decoding ----------------------------------------------------------- */

struct rcur {
	const uint8_t *p;
	size_t len, off;
	int err;
	struct agent_arena *arena;
};

static const uint8_t *r_take(struct rcur *c, size_t n)
{
	if (c->err)
		return NULL;
	if (n > c->len - c->off) {
		c->err = -EPROTO;
		return NULL;
	}
	const uint8_t *p = c->p + c->off;
	c->off += n;
	return p;
}

static uint32_t r_u32(struct rcur *c)
{
	const uint8_t *p = r_take(c, 4);
	return p ? le32(p) : 0;
}

static void r_fail(struct rcur *c, int err)
{
	if (!c->err)
		c->err = err;
}

static void *r_alloc(struct rcur *c, size_t n)
{
	void *p = c->err ? NULL : arena_alloc(c->arena, n);
	if (!p)
		r_fail(c, -ENOMEM);
	return p;
}

static char *r_str(struct rcur *c, const uint8_t *v, size_t n, size_t max)
{
	if (n > max || memchr(v, 0, n)) {
		r_fail(c, n > max ? -E2BIG : -EINVAL);
		return NULL;
	}
	char *s = r_alloc(c, n + 1);
	if (s)
		memcpy(s, v, n);
	return s;
}

/* A list's count: within its limit and payable by the bytes left (every
 * element takes at least min_elem bytes), so allocation is bounded. */
static uint32_t r_count(struct rcur *c, uint32_t max, size_t min_elem)
{
	uint32_t n = r_u32(c);
	if (!c->err && n > max)
		c->err = -E2BIG;
	if (!c->err && n > (c->len - c->off) / min_elem)
		c->err = -EPROTO;
	return c->err ? 0 : n;
}

static void decode_struct(struct rcur *c, const struct schema *s, void *out);

static void decode_strv(struct rcur *sub, const struct field *f, void *out)
{
	uint32_t n = r_count(sub, f->max, 4);
	char **v = r_alloc(sub, ((size_t)n + 1) * sizeof(char *));
	for (uint32_t i = 0; v && i < n && !sub->err; i++) {
		uint32_t len = r_u32(sub);
		const uint8_t *p = r_take(sub, len);
		if (p)
			v[i] = r_str(sub, p, len, AGENT_STR_MAX);
	}
	memcpy((char *)out + f->off, &v, sizeof(v));
	memcpy((char *)out + f->noff, &n, sizeof(n));
}

static void decode_structv(struct rcur *sub, const struct field *f, void *out)
{
	uint32_t n = r_count(sub, f->max, 4);
	unsigned char *v = r_alloc(sub, (size_t)n * f->sub->size + 1);
	for (uint32_t i = 0; v && i < n && !sub->err; i++) {
		uint32_t len = r_u32(sub);
		const uint8_t *p = r_take(sub, len);
		if (!p)
			break;
		struct rcur el = {p, len, 0, 0, sub->arena};
		decode_struct(&el, f->sub, v + (size_t)i * f->sub->size);
		r_fail(sub, el.err);
	}
	memcpy((char *)out + f->off, &v, sizeof(v));
	memcpy((char *)out + f->noff, &n, sizeof(n));
}

/* Packed bytes or u32s, no count: the field length says how many. */
static void decode_array(struct rcur *c, const struct field *f, const uint8_t *v, uint32_t len,
			 void *out)
{
	bool u32 = f->kind == F_U32V;
	uint32_t n = u32 ? len / 4 : len;
	if (u32 && len % 4) {
		r_fail(c, -EPROTO);
		return;
	}
	if (n > f->max) {
		r_fail(c, -E2BIG);
		return;
	}
	uint8_t *b = r_alloc(c, len + 1);
	for (uint32_t i = 0; b && i < n; i++) {
		if (u32)
			((uint32_t *)(void *)b)[i] = le32(v + 4 * i);
		else
			b[i] = v[i];
	}
	memcpy((char *)out + f->off, &b, sizeof(b));
	memcpy((char *)out + f->noff, &n, sizeof(n));
}

static void decode_value(struct rcur *c, const struct field *f, const uint8_t *v, uint32_t len,
			 void *out)
{
	static const uint8_t size[] = {[F_U32] = 4, [F_I32] = 4, [F_U64] = 8, [F_BOOL] = 1};
	char *dst = (char *)out + f->off;
	struct rcur sub = {v, len, 0, 0, c->arena};

	if (f->kind <= F_BOOL && len != size[f->kind]) {
		r_fail(c, -EPROTO);
		return;
	}
	switch (f->kind) {
	case F_U32:
	case F_I32: {
		uint32_t x = le32(v);
		memcpy(dst, &x, 4);
		break;
	}
	case F_U64: {
		uint64_t x = le64(v);
		memcpy(dst, &x, 8);
		break;
	}
	case F_BOOL:
		if (v[0] > 1)
			r_fail(c, -EINVAL);
		*(bool *)dst = v[0] == 1;
		break;
	case F_STR: {
		char *s = r_str(c, v, len, f->max);
		memcpy(dst, &s, sizeof(s));
		break;
	}
	case F_BYTES:
	case F_U32V:
		decode_array(c, f, v, len, out);
		break;
	case F_STRV:
		decode_strv(&sub, f, out);
		break;
	case F_STRUCT:
		decode_struct(&sub, f->sub, dst);
		break;
	case F_STRUCTV:
		decode_structv(&sub, f, out);
		break;
	}
	bool nested = f->kind == F_STRV || f->kind == F_STRUCT || f->kind == F_STRUCTV;
	if (!sub.err && nested && sub.off != sub.len)
		sub.err = -EPROTO; /* bytes left over inside a list or struct */
	r_fail(c, sub.err);
}

static const struct field *find_field(const struct schema *s, uint16_t tag, unsigned *idx)
{
	for (unsigned i = 0; i < s->nfields; i++) {
		if (s->fields[i].tag == tag) {
			*idx = i;
			return &s->fields[i];
		}
	}
	return NULL;
}

static void decode_struct(struct rcur *c, const struct schema *s, void *out)
{
	uint64_t seen = 0;
	while (!c->err && c->off < c->len) {
		const uint8_t *h = r_take(c, 6);
		if (!h)
			break;
		uint16_t tag = le16(h);
		uint32_t len = le32(h + 2);
		const uint8_t *v = r_take(c, len);
		unsigned idx = 0;
		const struct field *f = find_field(s, tag, &idx);
		if (!v)
			break;
		if (!f) {
			if (!(tag & AGENT_TAG_OPTIONAL))
				r_fail(c, -EBADMSG);
			continue;
		}
		if (seen & (1ull << idx)) {
			r_fail(c, -EPROTO);
			break;
		}
		seen |= 1ull << idx;
		decode_value(c, f, v, len, out);
	}
	for (unsigned i = 0; !c->err && i < s->nfields; i++)
		if (s->fields[i].required && !(seen & (1ull << i)))
			c->err = -EPROTO;
	if (!c->err && s->check)
		c->err = s->check(out);
}

int agent_hdr_decode(const uint8_t *buf, size_t len, struct agent_hdr *hdr)
{
	if (len < AGENT_HDR_SIZE)
		return -EAGAIN;
	hdr->len = le32(buf);
	hdr->type = le16(buf + 4);
	hdr->flags = le16(buf + 6);
	hdr->id = le32(buf + 8);
	if (hdr->len > AGENT_MAX_PAYLOAD)
		return -EMSGSIZE;
	return agent_hdr_check(hdr);
}

int agent_msg_decode(const uint8_t *buf, size_t len, struct agent_msg *msg)
{
	memset(msg, 0, sizeof(*msg));
	int r = agent_hdr_decode(buf, len, &msg->hdr);
	if (r < 0)
		return r == -EAGAIN ? -EPROTO : r;
	if (len != AGENT_HDR_SIZE + (size_t)msg->hdr.len)
		return -EPROTO;
	msg->arena = calloc(1, sizeof(*msg->arena));
	if (!msg->arena)
		return -ENOMEM;
	struct rcur c = {buf + AGENT_HDR_SIZE, msg->hdr.len, 0, 0, msg->arena};
	decode_struct(&c, agent_payload_schema(&msg->hdr), payload_of(msg));
	return c.err;
}

/* ---- encoding ----------------------------------------------------------- */

struct wcur {
	uint8_t *buf; /* NULL: only measure */
	size_t cap, len;
	int err;
};

static void w_put(struct wcur *w, const void *p, size_t n)
{
	if (w->err)
		return;
	if (n > w->cap - w->len) {
		w->err = -EMSGSIZE;
		return;
	}
	if (w->buf && n)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void w_int(struct wcur *w, uint64_t v, unsigned n)
{
	uint8_t b[8];
	put_le(b, v, n);
	w_put(w, b, n);
}

/* Reserves a u32 length; w_end() fills it with the bytes written since. */
static size_t w_begin(struct wcur *w)
{
	w_int(w, 0, 4);
	return w->len;
}

static void w_end(struct wcur *w, size_t start)
{
	if (!w->err && w->buf)
		put_le(w->buf + start - 4, w->len - start, 4);
}

static void encode_struct(struct wcur *w, const struct schema *s, const void *in);

static int field_empty(const struct field *f, const void *in)
{
	const char *src = (const char *)in + f->off;
	uint32_t n = 0;
	void *p = NULL;
	uint64_t x = 0;

	switch (f->kind) {
	case F_U32:
	case F_I32:
		memcpy(&x, src, 4);
		return !x;
	case F_U64:
		memcpy(&x, src, 8);
		return !x;
	case F_BOOL:
		return !*(const bool *)src;
	case F_STR:
		memcpy(&p, src, sizeof(p));
		return !p;
	case F_STRUCT:
		return 0;
	default:
		memcpy(&n, (const char *)in + f->noff, sizeof(n));
		return !n;
	}
}

static void encode_list(struct wcur *w, const struct field *f, const void *in)
{
	const char *src = (const char *)in + f->off;
	uint32_t n;
	memcpy(&n, (const char *)in + f->noff, sizeof(n));
	if (n > f->max)
		w->err = w->err ? w->err : -EINVAL;
	if (f->kind == F_STRV || f->kind == F_STRUCTV)
		w_int(w, n, 4);
	for (uint32_t i = 0; i < n && !w->err; i++) {
		if (f->kind == F_STRV) {
			char *const *v;
			memcpy(&v, src, sizeof(v));
			size_t len = v[i] ? strlen(v[i]) : 0;
			if (!v[i] || len > AGENT_STR_MAX)
				w->err = -EINVAL;
			w_int(w, len, 4);
			w_put(w, v[i], len);
		} else if (f->kind == F_STRUCTV) {
			const unsigned char *v;
			memcpy(&v, src, sizeof(v));
			size_t start = w_begin(w);
			encode_struct(w, f->sub, v + (size_t)i * f->sub->size);
			w_end(w, start);
		} else {
			const uint8_t *v;
			memcpy(&v, src, sizeof(v));
			if (f->kind == F_U32V)
				w_int(w, ((const uint32_t *)(const void *)v)[i], 4);
			else
				w_put(w, v + i, 1);
		}
	}
}

static void encode_field(struct wcur *w, const struct field *f, const void *in)
{
	const char *src = (const char *)in + f->off;
	uint64_t x = 0;

	w_int(w, f->tag, 2);
	size_t start = w_begin(w);
	switch (f->kind) {
	case F_U32:
	case F_I32:
		memcpy(&x, src, 4);
		w_int(w, x, 4);
		break;
	case F_U64:
		memcpy(&x, src, 8);
		w_int(w, x, 8);
		break;
	case F_BOOL:
		w_int(w, *(const bool *)src, 1);
		break;
	case F_STR: {
		const char *s;
		memcpy(&s, src, sizeof(s));
		if (strlen(s) > f->max)
			w->err = w->err ? w->err : -EINVAL;
		w_put(w, s, strlen(s));
		break;
	}
	case F_STRUCT:
		encode_struct(w, f->sub, src);
		break;
	default:
		encode_list(w, f, in);
		break;
	}
	w_end(w, start);
}

static void encode_struct(struct wcur *w, const struct schema *s, const void *in)
{
	for (unsigned i = 0; i < s->nfields && !w->err; i++) {
		const struct field *f = &s->fields[i];
		if (field_empty(f, in)) {
			if (f->required)
				w->err = -EINVAL;
			continue;
		}
		encode_field(w, f, in);
	}
	if (!w->err && s->check && s->check(in) < 0)
		w->err = -EINVAL;
}

void agent_msg_init(struct agent_msg *msg, enum agent_type type, uint16_t flags, uint32_t id)
{
	memset(msg, 0, sizeof(*msg));
	msg->hdr.type = (uint16_t)type;
	msg->hdr.flags = flags;
	msg->hdr.id = id;
}

long agent_msg_encode(const struct agent_msg *msg, uint8_t *buf, size_t cap)
{
	const struct schema *s = agent_payload_schema(&msg->hdr);
	if (!s)
		return -EBADMSG;
	struct wcur w = {buf, cap < AGENT_MAX_FRAME ? cap : AGENT_MAX_FRAME, 0, 0};
	w_int(&w, 0, 4);
	w_int(&w, msg->hdr.type, 2);
	w_int(&w, msg->hdr.flags, 2);
	w_int(&w, msg->hdr.id, 4);
	encode_struct(&w, s, &msg->u);
	if (w.err)
		return w.err;
	if (buf)
		put_le(buf, w.len - AGENT_HDR_SIZE, 4);
	return (long)w.len;
}

long agent_msg_encode_alloc(const struct agent_msg *msg, uint8_t **out)
{
	*out = NULL;
	long n = agent_msg_encode(msg, NULL, AGENT_MAX_FRAME);
	if (n < 0)
		return n;
	uint8_t *buf = malloc((size_t)n);
	if (!buf)
		return -ENOMEM;
	long m = agent_msg_encode(msg, buf, (size_t)n);
	if (m < 0) {
		free(buf);
		return m;
	}
	*out = buf;
	return m;
}

long agent_error_encode(uint32_t id, int errnum, const char *message, uint8_t *buf, size_t cap)
{
	struct agent_msg m;
	char msgbuf[4096];
	agent_msg_init(&m, AGENT_ERROR, AGENT_F_REPLY, id);
	m.u.error.errnum = errnum > 0 && errnum < 4096 ? errnum : EIO;
	snprintf(msgbuf, sizeof(msgbuf), "%s", message ? message : "");
	m.u.error.message = msgbuf;
	return agent_msg_encode(&m, buf, cap);
}
