/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The snapshot state file: writer, parser and the device encodings; see
 * vmm/snapshot_format.h.  The parser is a cursor with a sticky error: any
 * short read fails once and everything after it is skipped, so a
 * truncated or corrupted file is one message, never a partial image.
 */
#include "vmm/snapshot_format.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kvm.h>
#include <xxhash.h>

#include "util/lecur.h"

/* ---- little-endian writer (the reader: util/lecur.h) ---- */

static uint8_t *put(uint8_t *o, const void *src, size_t n)
{
	memcpy(o, src, n);
	return o + n;
}

static uint8_t *put8(uint8_t *o, uint8_t v)
{
	*o = v;
	return o + 1;
}

static uint8_t *put16(uint8_t *o, uint16_t v)
{
	v = htole16(v);
	return put(o, &v, 2);
}

static uint8_t *put32(uint8_t *o, uint32_t v)
{
	v = htole32(v);
	return put(o, &v, 4);
}

static uint8_t *put64(uint8_t *o, uint64_t v)
{
	v = htole64(v);
	return put(o, &v, 8);
}

void snap_sum(const void *p, size_t len, uint8_t out[32])
{
	XXH128_canonical_t can;
	XXH128_canonicalFromHash(&can, XXH3_128bits(p, len));
	memcpy(out, can.digest, 16);
	memset(out + 16, 0, 16);
}

/* ---- names and fixed sizes ---- */

static const struct sec_kind {
	uint32_t type;
	const char *name;
	size_t size;	 /* exact payload size; 0: variable, checked by `check` */
	bool per_vcpu;	 /* index is a vCPU id */
	bool required;	 /* per vCPU: every vCPU has one */
	unsigned max_ix; /* otherwise: index < max_ix */
} sec_kinds[] = {
    {SNAP_SEC_MANIFEST, "manifest", 0, false, true, 1},
    {SNAP_SEC_CLOCK, "kvm-clock", sizeof(struct kvm_clock_data), false, true, 1},
    {SNAP_SEC_IRQCHIP, "irqchip", sizeof(struct kvm_irqchip), false, true, 3},
    {SNAP_SEC_PIT, "PIT", sizeof(struct kvm_pit_state2), false, true, 1},
    {SNAP_SEC_MEMSUMS, "memory block sums", 0, false, true, 1},
    {SNAP_SEC_KERNEL_RO, "kernel read-only ranges", 0, false, false, 1},
    {SNAP_SEC_CPUID, "CPUID", 0, true, true, 0},
    {SNAP_SEC_MP_STATE, "MP state", sizeof(struct kvm_mp_state), true, true, 0},
    {SNAP_SEC_REGS, "registers", sizeof(struct kvm_regs), true, true, 0},
    {SNAP_SEC_SREGS, "special registers", sizeof(struct kvm_sregs), true, true, 0},
    {SNAP_SEC_FPU, "FPU", sizeof(struct kvm_fpu), true, false, 0},
    {SNAP_SEC_XSAVE, "XSAVE", 0, true, false, 0},
    {SNAP_SEC_XCRS, "XCRs", sizeof(struct kvm_xcrs), true, false, 0},
    {SNAP_SEC_DEBUGREGS, "debug registers", sizeof(struct kvm_debugregs), true, false, 0},
    {SNAP_SEC_LAPIC, "LAPIC", sizeof(struct kvm_lapic_state), true, true, 0},
    {SNAP_SEC_MSRS, "MSRs", 0, true, true, 0},
    {SNAP_SEC_EVENTS, "vCPU events", sizeof(struct kvm_vcpu_events), true, true, 0},
    {SNAP_SEC_UART, "UART", SNAP_UART_LEN, false, true, 1},
    {SNAP_SEC_RTC, "CMOS RTC", 1, false, true, 1},
    {SNAP_SEC_VIRTIO, "virtio", 0, false, false, SNAP_VIRTIO_MAX},
    {SNAP_SEC_VSOCK, "vsock connections", 0, false, false, SNAP_VIRTIO_MAX},
    {SNAP_SEC_P9, "9P session", 0, false, false, SNAP_VIRTIO_MAX},
    {SNAP_SEC_SANDBOX, "sandbox record", 0, false, false, 1},
};

static const struct sec_kind *sec_kind(uint32_t type)
{
	for (size_t i = 0; i < sizeof(sec_kinds) / sizeof(sec_kinds[0]); i++)
		if (sec_kinds[i].type == type)
			return &sec_kinds[i];
	return NULL;
}

const char *snap_section_name(uint32_t type)
{
	const struct sec_kind *k = sec_kind(type);
	return k ? k->name : "unknown";
}

/* ---- the manifest ---- */

#define MANIFEST_LEN (32 + 256 + 32 + 8 + 32 + 8 + 8 + 4 * 4 + 8 + 8 + 32 + 8)

void snap_writer_manifest(struct snap_writer *w, const struct snap_manifest *m)
{
	uint8_t b[MANIFEST_LEN], *o = b;
	o = put(o, m->kvbox_version, sizeof(m->kvbox_version));
	o = put(o, m->kernel_path, sizeof(m->kernel_path));
	o = put(o, m->kernel_sha256, 32);
	o = put64(o, m->kernel_size);
	o = put(o, m->agent_sha256, 32);
	o = put64(o, m->agent_size);
	o = put64(o, m->mem_bytes);
	o = put32(o, m->ncpus);
	o = put32(o, m->machine);
	o = put32(o, m->nvirtio);
	o = put32(o, m->flavour);
	o = put64(o, m->tsc_khz);
	o = put64(o, m->mem_data);
	o = put(o, m->mem_sum, 32);
	put64(o, m->created);
	snap_writer_add(w, SNAP_SEC_MANIFEST, 0, b, sizeof(b));
}

/* A fixed-width string field: NUL-terminated, printable. */
static bool field_string_ok(const char *s, size_t size)
{
	const char *nul = memchr(s, '\0', size);
	if (!nul)
		return false;
	for (const char *p = s; p < nul; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			return false;
	return true;
}

static int manifest_decode(const struct snap_section *s, struct snap_manifest *m,
			   struct kv_err *err)
{
	struct le_cur c = {s->data, s->len, false};
	if (s->len != MANIFEST_LEN)
		return kv_err_set(err, EINVAL, "manifest is %llu bytes, expected %u",
				  (unsigned long long)s->len, (unsigned)MANIFEST_LEN);
	le_get_bytes(&c, m->kvbox_version, sizeof(m->kvbox_version));
	le_get_bytes(&c, m->kernel_path, sizeof(m->kernel_path));
	le_get_bytes(&c, m->kernel_sha256, 32);
	m->kernel_size = le_get64(&c);
	le_get_bytes(&c, m->agent_sha256, 32);
	m->agent_size = le_get64(&c);
	m->mem_bytes = le_get64(&c);
	m->ncpus = le_get32(&c);
	m->machine = le_get32(&c);
	m->nvirtio = le_get32(&c);
	m->flavour = le_get32(&c);
	m->tsc_khz = le_get64(&c);
	m->mem_data = le_get64(&c);
	le_get_bytes(&c, m->mem_sum, 32);
	m->created = le_get64(&c);
	if (!field_string_ok(m->kvbox_version, sizeof(m->kvbox_version)) ||
	    !field_string_ok(m->kernel_path, sizeof(m->kernel_path)))
		return kv_err_set(err, EINVAL,
				  "manifest: a text field is not terminated or printable");
	if (m->mem_bytes < (4u << 20) || m->mem_bytes % SNAP_PAGE || m->mem_bytes > (1ULL << 40))
		return kv_err_set(err, EINVAL, "manifest: memory size %llu is invalid",
				  (unsigned long long)m->mem_bytes);
	if (m->ncpus == 0 || m->ncpus > SNAP_VCPUS_MAX)
		return kv_err_set(err, EINVAL, "manifest: %u vCPUs (1 to %u)", m->ncpus,
				  SNAP_VCPUS_MAX);
	if (m->machine & ~SNAP_MACHINE_KNOWN)
		return kv_err_set(err, EINVAL, "manifest: unknown machine flags 0x%x", m->machine);
	if (m->nvirtio > SNAP_VIRTIO_MAX)
		return kv_err_set(err, EINVAL, "manifest: %u virtio devices (at most %u)",
				  m->nvirtio, SNAP_VIRTIO_MAX);
	if (m->mem_data > m->mem_bytes)
		return kv_err_set(err, EINVAL, "manifest: more memory data than memory");
	for (unsigned i = 16; i < 32; i++)
		if (m->mem_sum[i])
			return kv_err_set(err, EINVAL, "manifest: memory sum padding is not zero");
	return 0;
}

/* ---- writer ---- */

void snap_writer_init(struct snap_writer *w)
{
	memset(w, 0, sizeof(*w));
	w->len = SNAP_HEADER_LEN;
}

static bool writer_reserve(struct snap_writer *w, size_t more)
{
	if (w->error)
		return false;
	if (more > SNAP_STATE_MAX || w->len + more > SNAP_STATE_MAX) {
		w->error = EFBIG;
		return false;
	}
	if (w->len + more <= w->cap)
		return true;
	size_t cap = w->cap ? w->cap : 65536;
	while (cap < w->len + more)
		cap *= 2;
	uint8_t *b = realloc(w->buf, cap);
	if (!b) {
		w->error = ENOMEM;
		return false;
	}
	memset(b + w->cap, 0, cap - w->cap);
	w->buf = b;
	w->cap = cap;
	return true;
}

uint64_t snap_section_max(uint32_t type)
{
	return type == SNAP_SEC_VSOCK	  ? SNAP_SECTION_VSOCK_MAX
	       : type == SNAP_SEC_MEMSUMS ? SNAP_SECTION_MEMSUMS_MAX
					  : SNAP_SECTION_MAX;
}

void snap_writer_add(struct snap_writer *w, uint32_t type, uint32_t index, const void *data,
		     size_t len)
{
	size_t padded = (len + 7) & ~(size_t)7;
	if (len > snap_section_max(type) || w->nsec == SNAP_SECTIONS_MAX) {
		if (!w->error)
			w->error = EFBIG;
		return;
	}
	if (!writer_reserve(w, SNAP_SECTION_HDR + padded))
		return;
	uint8_t *o = w->buf + w->len;
	o = put32(o, type);
	o = put32(o, index);
	o = put64(o, len);
	snap_sum(data, len, o);
	o += 32;
	memcpy(o, data, len);
	memset(o + len, 0, padded - len);
	w->len += SNAP_SECTION_HDR + padded;
	w->nsec++;
}

int snap_writer_finish(struct snap_writer *w)
{
	if (!w->error)
		writer_reserve(w, 0);
	if (w->error)
		return -w->error;
	uint8_t *o = w->buf;
	o = put(o, SNAP_MAGIC, 8);
	o = put32(o, SNAP_FORMAT_VERSION);
	o = put32(o, w->nsec);
	o = put64(o, w->len);
	uint8_t sum[32];
	snap_sum(w->buf, 24, sum);
	memcpy(o, sum, 8);
	return 0;
}

void snap_writer_free(struct snap_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

/* ---- parser ---- */

const struct snap_section *snap_find(const struct snap_image *img, uint32_t type, uint32_t index)
{
	for (unsigned i = 0; i < img->nsec; i++)
		if (img->sec[i].type == type && img->sec[i].index == index)
			return &img->sec[i];
	return NULL;
}

static int parse_header(struct le_cur *c, size_t len, uint32_t *nsec, struct kv_err *err)
{
	if (len < SNAP_HEADER_LEN)
		return kv_err_set(err, EINVAL, "truncated: %zu bytes, not even a header", len);
	const uint8_t *h = c->p;
	if (memcmp(h, SNAP_MAGIC, 8))
		return kv_err_set(err, EINVAL, "not a kvbox snapshot (bad magic)");
	le_take(c, 8);
	uint32_t version = le_get32(c);
	*nsec = le_get32(c);
	uint64_t total = le_get64(c);
	uint8_t sum[32], stored[8];
	le_get_bytes(c, stored, 8);
	snap_sum(h, 24, sum);
	if (memcmp(sum, stored, 8))
		return kv_err_set(err, EINVAL, "header checksum mismatch (corrupted)");
	if (version != SNAP_FORMAT_VERSION)
		return kv_err_set(err, EPROTO,
				  "format version %u, this kvbox reads version %u only", version,
				  SNAP_FORMAT_VERSION);
	if (total != len)
		return kv_err_set(err, EINVAL,
				  "truncated or extended: %zu bytes, the header says %llu", len,
				  (unsigned long long)total);
	if (*nsec == 0 || *nsec > SNAP_SECTIONS_MAX)
		return kv_err_set(err, EINVAL, "%u sections (1 to %u)", *nsec, SNAP_SECTIONS_MAX);
	return 0;
}

static int parse_section(struct le_cur *c, unsigned i, struct snap_section *s, struct kv_err *err)
{
	s->type = le_get32(c);
	s->index = le_get32(c);
	s->len = le_get64(c);
	uint8_t want[32];
	le_get_bytes(c, want, 32);
	if (c->bad)
		return kv_err_set(err, EINVAL, "section %u: truncated header", i);
	const struct sec_kind *k = sec_kind(s->type);
	if (!k)
		return kv_err_set(err, EINVAL, "section %u: unknown type %u", i, s->type);
	if (s->len > snap_section_max(s->type) || s->len > c->left)
		return kv_err_set(err, EINVAL, "section %u (%s %u): %llu bytes past the end", i,
				  k->name, s->index, (unsigned long long)s->len);
	s->data = le_take(c, s->len);
	uint8_t got[32];
	snap_sum(s->data, s->len, got);
	if (memcmp(got, want, 32))
		return kv_err_set(err, EINVAL, "section %u (%s %u): checksum mismatch (corrupted)",
				  i, k->name, s->index);
	size_t pad = ((s->len + 7) & ~7ULL) - s->len;
	const uint8_t *p = le_take(c, pad);
	for (size_t j = 0; p && j < pad; j++)
		if (p[j])
			return kv_err_set(err, EINVAL, "section %u: non-zero padding", i);
	if (c->bad)
		return kv_err_set(err, EINVAL, "section %u (%s): truncated padding", i, k->name);
	if (k->size && s->len != k->size)
		return kv_err_set(err, EINVAL, "section %u (%s %u): %llu bytes, expected %zu", i,
				  k->name, s->index, (unsigned long long)s->len, k->size);
	return 0;
}

/* Variable-size KVM payloads: their own counts must match their length. */
static int check_variable(const struct snap_section *s, struct kv_err *err)
{
	switch (s->type) {
	case SNAP_SEC_CPUID: {
		struct kvm_cpuid2 h;
		if (s->len < sizeof(h))
			return kv_err_set(err, EINVAL, "vCPU %u CPUID: too short", s->index);
		memcpy(&h, s->data, sizeof(h));
		if (h.nent == 0 || h.nent > 256 ||
		    s->len != sizeof(h) + h.nent * sizeof(struct kvm_cpuid_entry2))
			return kv_err_set(err, EINVAL, "vCPU %u CPUID: %u entries in %llu bytes",
					  s->index, h.nent, (unsigned long long)s->len);
		return 0;
	}
	case SNAP_SEC_MSRS:
		if (s->len == 0 || s->len % sizeof(struct kvm_msr_entry) ||
		    s->len / sizeof(struct kvm_msr_entry) > 1024)
			return kv_err_set(err, EINVAL, "vCPU %u MSRs: %llu bytes", s->index,
					  (unsigned long long)s->len);
		return 0;
	case SNAP_SEC_XSAVE:
		if (s->len < sizeof(struct kvm_xsave) || s->len % 4 || s->len > 65536)
			return kv_err_set(err, EINVAL, "vCPU %u XSAVE: %llu bytes", s->index,
					  (unsigned long long)s->len);
		return 0;
	case SNAP_SEC_VIRTIO: {
		struct snap_virtio v;
		return kv_err_wrap(err, snap_virtio_decode(s->data, s->len, &v, err),
				   "virtio slot %u", s->index);
	}
	default:
		return 0;
	}
}

/* Every section a restore needs, each once, indices in range. */
static int check_complete(const struct snap_image *img, struct kv_err *err)
{
	const struct snap_manifest *m = &img->man;
	for (unsigned i = 0; i < img->nsec; i++) {
		const struct snap_section *s = &img->sec[i];
		const struct sec_kind *k = sec_kind(s->type);
		unsigned max = k->per_vcpu
				   ? m->ncpus
				   : (k->max_ix == SNAP_VIRTIO_MAX ? m->nvirtio : k->max_ix);
		if (s->index >= max)
			return kv_err_set(err, EINVAL, "%s section for index %u (at most %u)",
					  k->name, s->index, max);
		for (unsigned j = 0; j < i; j++)
			if (img->sec[j].type == s->type && img->sec[j].index == s->index)
				return kv_err_set(err, EINVAL, "duplicate %s section %u", k->name,
						  s->index);
		int r = check_variable(s, err);
		if (r < 0)
			return r;
	}
	for (size_t t = 0; t < sizeof(sec_kinds) / sizeof(sec_kinds[0]); t++) {
		const struct sec_kind *k = &sec_kinds[t];
		unsigned n =
		    k->per_vcpu ? m->ncpus : (k->type == SNAP_SEC_VIRTIO ? m->nvirtio : k->max_ix);
		if (!k->required && k->type != SNAP_SEC_VIRTIO)
			continue;
		for (unsigned ix = 0; ix < n; ix++)
			if (!snap_find(img, k->type, ix))
				return kv_err_set(err, EINVAL, "missing %s section%s %u", k->name,
						  k->per_vcpu ? " of vCPU" : "", ix);
	}
	const struct snap_section *sums = snap_find(img, SNAP_SEC_MEMSUMS, 0);
	uint64_t nblk = snap_sum_blocks(m->mem_bytes);
	uint32_t hdr[2] = {0, 0};
	if (sums->len >= SNAP_MEMSUMS_HDR)
		memcpy(hdr, sums->data, sizeof(hdr));
	if (sums->len >= SNAP_MEMSUMS_HDR && (le32toh(hdr[0]) != SNAP_SUM_BLOCK || hdr[1]))
		return kv_err_set(err, EINVAL,
				  "memory block sums: blocks of %u bytes (reserved %u), this kvbox "
				  "sums blocks of %u",
				  le32toh(hdr[0]), le32toh(hdr[1]), SNAP_SUM_BLOCK);
	if (sums->len != SNAP_MEMSUMS_HDR + 8 * nblk)
		return kv_err_set(err, EINVAL,
				  "memory block sums: %llu bytes, expected %llu for %llu blocks of "
				  "%u bytes",
				  (unsigned long long)sums->len,
				  (unsigned long long)(SNAP_MEMSUMS_HDR + 8 * nblk),
				  (unsigned long long)nblk, SNAP_SUM_BLOCK);
	bool ckpt = m->machine & SNAP_MACHINE_CHECKPOINT;
	if (ckpt && (m->machine & SNAP_MACHINE_TEMPLATE))
		return kv_err_set(err, EINVAL, "manifest: both a template and a checkpoint");
	if (ckpt && !snap_find(img, SNAP_SEC_SANDBOX, 0))
		return kv_err_set(err, EINVAL, "a checkpoint without its sandbox record");
	for (unsigned i = 0; i < img->nsec && !ckpt; i++) {
		uint32_t t = img->sec[i].type;
		if (t == SNAP_SEC_VSOCK || t == SNAP_SEC_P9 || t == SNAP_SEC_SANDBOX)
			return kv_err_set(err, EINVAL,
					  "%s section in an image that is not a "
					  "checkpoint",
					  snap_section_name(t));
	}
	for (unsigned c = 0; c < m->ncpus; c++)
		if (!snap_find(img, SNAP_SEC_XSAVE, c) && !snap_find(img, SNAP_SEC_FPU, c))
			return kv_err_set(err, EINVAL, "vCPU %u has neither XSAVE nor FPU state",
					  c);
	return 0;
}

int snap_parse(const uint8_t *buf, size_t len, struct snap_image *img, struct kv_err *err)
{
	struct le_cur c = {buf, len, false};
	uint32_t nsec = 0;
	memset(img, 0, offsetof(struct snap_image, sec));
	int r = parse_header(&c, len, &nsec, err);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < nsec; i++) {
		if ((r = parse_section(&c, i, &img->sec[i], err)) < 0)
			return r;
		img->nsec++;
	}
	if (c.left)
		return kv_err_set(err, EINVAL, "%zu bytes after the last section", c.left);
	if (img->sec[0].type != SNAP_SEC_MANIFEST)
		return kv_err_set(err, EINVAL, "the first section is not the manifest");
	if ((r = manifest_decode(&img->sec[0], &img->man, err)) < 0)
		return r;
	return check_complete(img, err);
}

/* ---- device encodings ---- */

void snap_uart_encode(const struct snap_uart *u, uint8_t out[SNAP_UART_LEN])
{
	uint8_t *o = out;
	o = put8(o, u->ier);
	o = put8(o, u->lcr);
	o = put8(o, u->mcr);
	o = put8(o, u->lsr);
	o = put8(o, u->msr);
	o = put8(o, u->scr);
	o = put8(o, u->dll);
	o = put8(o, u->dlm);
	o = put8(o, u->fcr);
	o = put8(o, u->thr_ipending);
	o = put8(o, u->irq_level);
	o = put8(o, u->rx_head);
	o = put8(o, u->rx_count);
	put(o, u->rx, SNAP_UART_FIFO);
}

int snap_uart_decode(const uint8_t *p, size_t len, struct snap_uart *u, struct kv_err *err)
{
	struct le_cur c = {p, len, false};
	if (len != SNAP_UART_LEN)
		return kv_err_set(err, EINVAL, "UART: %zu bytes", len);
	u->ier = le_get8(&c);
	u->lcr = le_get8(&c);
	u->mcr = le_get8(&c);
	u->lsr = le_get8(&c);
	u->msr = le_get8(&c);
	u->scr = le_get8(&c);
	u->dll = le_get8(&c);
	u->dlm = le_get8(&c);
	u->fcr = le_get8(&c);
	u->thr_ipending = le_get8(&c);
	u->irq_level = le_get8(&c);
	u->rx_head = le_get8(&c);
	u->rx_count = le_get8(&c);
	le_get_bytes(&c, u->rx, SNAP_UART_FIFO);
	if (u->rx_head >= SNAP_UART_FIFO || u->rx_count > SNAP_UART_FIFO || u->thr_ipending > 1 ||
	    u->irq_level > 1 || u->ier > 0x0f || u->mcr > 0x1f)
		return kv_err_set(err, EINVAL, "UART: register values out of range");
	return 0;
}

size_t snap_virtio_encode(const struct snap_virtio *v, uint8_t *out)
{
	uint8_t *o = out;
	o = put32(o, v->device_id);
	o = put32(o, v->nqueues);
	o = put32(o, v->status);
	o = put32(o, v->isr);
	o = put64(o, v->offered);
	o = put64(o, v->features);
	o = put32(o, v->features_beyond_64);
	o = put32(o, v->dev_features_sel);
	o = put32(o, v->drv_features_sel);
	o = put32(o, v->queue_sel);
	o = put32(o, v->config_generation);
	o = put32(o, 0);
	for (uint32_t i = 0; i < v->nqueues && i < SNAP_VQ_MAX; i++) {
		const struct snap_vq *q = &v->q[i];
		o = put16(o, q->max_size);
		o = put16(o, q->size);
		o = put16(o, q->last_avail);
		o = put16(o, q->used_idx);
		o = put16(o, q->signalled_used);
		o = put8(o, q->enabled);
		o = put8(o, q->event_idx);
		o = put8(o, q->indirect);
		o = put8(o, q->signalled_valid);
		o = put32(o, q->error);
		o = put64(o, q->desc);
		o = put64(o, q->avail);
		o = put64(o, q->used);
	}
	return (size_t)(o - out);
}

int snap_virtio_decode(const uint8_t *p, size_t len, struct snap_virtio *v, struct kv_err *err)
{
	struct le_cur c = {p, len, false};
	memset(v, 0, sizeof(*v));
	v->device_id = le_get32(&c);
	v->nqueues = le_get32(&c);
	v->status = le_get32(&c);
	v->isr = le_get32(&c);
	v->offered = le_get64(&c);
	v->features = le_get64(&c);
	v->features_beyond_64 = le_get32(&c);
	v->dev_features_sel = le_get32(&c);
	v->drv_features_sel = le_get32(&c);
	v->queue_sel = le_get32(&c);
	v->config_generation = le_get32(&c);
	(void)le_get32(&c);
	if (c.bad || v->nqueues > SNAP_VQ_MAX ||
	    len != SNAP_VIRTIO_HDR_LEN + (size_t)v->nqueues * SNAP_VQ_LEN)
		return kv_err_set(err, EINVAL, "%zu bytes for %u queues", len, v->nqueues);
	if (v->status > 0xff || v->isr > 3 || v->features_beyond_64 > 1)
		return kv_err_set(err, EINVAL, "status 0x%x or interrupt status 0x%x invalid",
				  v->status, v->isr);
	if (v->features & ~v->offered)
		return kv_err_set(err, EINVAL, "features 0x%llx beyond those offered",
				  (unsigned long long)v->features);
	for (uint32_t i = 0; i < v->nqueues; i++) {
		struct snap_vq *q = &v->q[i];
		q->max_size = le_get16(&c);
		q->size = le_get16(&c);
		q->last_avail = le_get16(&c);
		q->used_idx = le_get16(&c);
		q->signalled_used = le_get16(&c);
		q->enabled = le_get8(&c);
		q->event_idx = le_get8(&c);
		q->indirect = le_get8(&c);
		q->signalled_valid = le_get8(&c);
		q->error = le_get32(&c);
		q->desc = le_get64(&c);
		q->avail = le_get64(&c);
		q->used = le_get64(&c);
		if (q->enabled > 1 || q->event_idx > 1 || q->indirect > 1 ||
		    q->signalled_valid > 1 || q->size > q->max_size || q->max_size == 0)
			return kv_err_set(err, EINVAL, "queue %u: invalid fields", i);
	}
	return 0;
}
