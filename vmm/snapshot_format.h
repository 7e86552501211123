/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The snapshot image's `state` file: one parser and one writer, no KVM
 * calls (vmm/snapshot.c does those), so unit tests and the fuzzer see all
 * of it.  Layout (little-endian, docs/architecture.md "Snapshots"):
 *
 *   header   32 bytes: "KVBXSNAP", u32 format version, u32 sections,
 *            u64 total file length, first 8 bytes of snap_sum(header[0..24))
 *   section  48-byte record: u32 type, u32 index, u64 payload length,
 *            snap_sum of the payload; the payload; zero padding to 8 bytes
 *   ...      the first section is the MANIFEST (struct snap_manifest)
 *
 * snap_parse() checks everything before anything is used: magic, version,
 * lengths against the file, each checksum, known section types, no
 * duplicates, every section a restore needs for the manifest's vCPUs and
 * devices, and the size of each fixed-size KVM structure.  Past it, the
 * restore code reads validated sections only.
 */
#ifndef KVBOX_VMM_SNAPSHOT_FORMAT_H
#define KVBOX_VMM_SNAPSHOT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define SNAP_MAGIC "KVBXSNAP"
/* 2: the memory sum is XXH3-128; 3: checkpoints; 4: a sum per 64 KiB block of
 * memory, and XXH3-128 for the state file's checksums (was SHA-256) */
#define SNAP_FORMAT_VERSION 4u
#define SNAP_HEADER_LEN	    32u
#define SNAP_SECTION_HDR    48u
#define SNAP_STATE_MAX	    (16u << 20) /* bytes of the state file */
#define SNAP_SECTION_MAX    (1u << 20)	/* bytes of one payload ... */
/* ... but the vsock's connections (SNAP_SEC_VSOCK): up to 256 KiB held
 * and 4 MiB unread per connection */
#define SNAP_SECTION_VSOCK_MAX (SNAP_STATE_MAX - (1u << 20))
/* ... and the memory's block sums (SNAP_SEC_MEMSUMS): 8 bytes per 64 KiB,
 * guests of up to ~120 GiB */
#define SNAP_SECTION_MEMSUMS_MAX (SNAP_STATE_MAX - (1u << 20))
/* The largest payload a section of `type` may have. */
uint64_t snap_section_max(uint32_t type);
#define SNAP_SECTIONS_MAX 4096u
#define SNAP_VCPUS_MAX	  64u
#define SNAP_VIRTIO_MAX	  8u
#define SNAP_PAGE	  4096u
/* The memory file's sum blocks (SNAP_SEC_MEMSUMS): XXH3-64 of each
 * SNAP_SUM_BLOCK bytes of the file (zeros included; the last block may be
 * shorter), so a restore that loads memory lazily checks each block as it
 * loads it instead of the whole file first. */
#define SNAP_SUM_BLOCK	 (64u << 10)
#define SNAP_MEMSUMS_HDR 8u /* le32 block size, le32 zero */
static inline uint64_t snap_sum_blocks(uint64_t mem_bytes)
{
	return (mem_bytes + SNAP_SUM_BLOCK - 1) / SNAP_SUM_BLOCK;
}

enum snap_section_type {
	SNAP_SEC_MANIFEST = 1,
	SNAP_SEC_CLOCK = 2,   /* struct kvm_clock_data */
	SNAP_SEC_IRQCHIP = 3, /* struct kvm_irqchip, index 0 PIC master, 1 slave, 2 IOAPIC */
	SNAP_SEC_PIT = 4,     /* struct kvm_pit_state2 */
	SNAP_SEC_MEMSUMS = 5, /* SNAP_MEMSUMS_HDR, then le64 XXH3-64 per SNAP_SUM_BLOCK */
	/* a template's: le64 memfd offset, le64 length per range of the guest
	 * kernel's text and read-only data (vmm/lazy_mem.h lazy_shared_parse) */
	SNAP_SEC_KERNEL_RO = 6,
	/* per vCPU, index = vCPU id */
	SNAP_SEC_CPUID = 16,	 /* struct kvm_cpuid2 + entries */
	SNAP_SEC_MP_STATE = 17,	 /* struct kvm_mp_state */
	SNAP_SEC_REGS = 18,	 /* struct kvm_regs */
	SNAP_SEC_SREGS = 19,	 /* struct kvm_sregs */
	SNAP_SEC_FPU = 20,	 /* struct kvm_fpu (hosts without XSAVE) */
	SNAP_SEC_XSAVE = 21,	 /* struct kvm_xsave, KVM_CAP_XSAVE2 bytes (>= 4096) */
	SNAP_SEC_XCRS = 22,	 /* struct kvm_xcrs (optional) */
	SNAP_SEC_DEBUGREGS = 23, /* struct kvm_debugregs (optional) */
	SNAP_SEC_LAPIC = 24,	 /* struct kvm_lapic_state */
	SNAP_SEC_MSRS = 25,	 /* struct kvm_msr_entry[] */
	SNAP_SEC_EVENTS = 26,	 /* struct kvm_vcpu_events */
	/* devices */
	SNAP_SEC_UART = 48,   /* COM1, snap_uart encoding */
	SNAP_SEC_RTC = 49,    /* CMOS index register, 1 byte */
	SNAP_SEC_VIRTIO = 50, /* index = slot, snap_virtio encoding */
	/* a container checkpoint (SNAP_MACHINE_CHECKPOINT) only: state kept
	 * outside the VMM's devices, each blob parsed by its owner */
	SNAP_SEC_VSOCK = 51,   /* index = slot: the connections (virtio_vsock_save) */
	SNAP_SEC_P9 = 52,      /* index = slot: the share's 9P session (the gofer's SAVE) */
	SNAP_SEC_SANDBOX = 53, /* the sandbox's own record (JSON, vmm/sandbox_checkpoint.c) */
};

/* manifest.machine flags: what the VM was built with */
#define SNAP_MACHINE_RNG 1u /* virtio-rng in slot 0 */
/* a template (vmm/snapshot.h, SNAP_SAVE_TEMPLATE): a virtio-vsock and
 * virtio-9p devices saved idle, restored only by a sandbox that brings
 * their backends */
#define SNAP_MACHINE_TEMPLATE 2u
/* a running container (`kvbox checkpoint`): its vsock connections, 9P
 * sessions and sandbox record are in the image; restored only by
 * `kvbox restore` */
#define SNAP_MACHINE_CHECKPOINT 4u
#define SNAP_MACHINE_KNOWN	(SNAP_MACHINE_RNG | SNAP_MACHINE_TEMPLATE | SNAP_MACHINE_CHECKPOINT)

struct snap_manifest {
	char kvbox_version[32];
	char kernel_path[256]; /* for messages only */
	uint8_t kernel_sha256[32];
	uint64_t kernel_size;
	uint8_t agent_sha256[32]; /* all zero: no agent */
	uint64_t agent_size;
	uint64_t mem_bytes;
	uint32_t ncpus;
	uint32_t machine;    /* SNAP_MACHINE_* */
	uint32_t nvirtio;    /* virtio-mmio slots in use */
	uint32_t flavour;    /* enum kvm_flavour of the saving host */
	uint64_t tsc_khz;    /* KVM_GET_TSC_KHZ of vCPU 0, 0 if unknown */
	uint64_t mem_data;   /* bytes of non-zero pages in the memory file */
	uint8_t mem_sum[32]; /* XXH3-128 (canonical, 16 bytes), then 16 zero bytes */
	uint64_t created;    /* seconds since the epoch */
};

struct snap_section {
	uint32_t type, index;
	const uint8_t *data;
	uint64_t len;
};

struct snap_image {
	struct snap_manifest man;
	unsigned nsec;
	struct snap_section sec[SNAP_SECTIONS_MAX];
};

/* The state file's checksum of [p, p + len): XXH3-128 (canonical, 16
 * bytes), then 16 zero bytes.  It finds damage, not forgery (images are
 * root's, 0700); format 4 dropped SHA-256, whose first use costs OpenSSL's
 * initialisation (~45 ms under the nested host's emulation) on the path
 * of every template start. */
void snap_sum(const void *p, size_t len, uint8_t out[32]);

/* Parses and checks a whole state file (see the top of this file).  The
 * sections point into buf, which must outlive img.  One line in err on
 * failure, naming the section. */
int snap_parse(const uint8_t *buf, size_t len, struct snap_image *img, struct kv_err *err);
const struct snap_section *snap_find(const struct snap_image *img, uint32_t type, uint32_t index);
const char *snap_section_name(uint32_t type);

/* Builds a state file in memory.  Errors are sticky (ENOMEM, too big):
 * snap_writer_finish() reports them. */
struct snap_writer {
	uint8_t *buf;
	size_t len, cap;
	unsigned nsec;
	int error;
};
void snap_writer_init(struct snap_writer *w);
void snap_writer_add(struct snap_writer *w, uint32_t type, uint32_t index, const void *data,
		     size_t len);
void snap_writer_manifest(struct snap_writer *w, const struct snap_manifest *m);
/* Fills the header; returns 0 (w->buf, w->len: the file) or -errno. */
int snap_writer_finish(struct snap_writer *w);
void snap_writer_free(struct snap_writer *w);

/* Device payloads with explicit encodings (not raw C structs). */
#define SNAP_UART_FIFO 64u
struct snap_uart {
	uint8_t ier, lcr, mcr, lsr, msr, scr, dll, dlm, fcr;
	uint8_t thr_ipending, irq_level;
	uint8_t rx_head, rx_count;
	uint8_t rx[SNAP_UART_FIFO];
};
#define SNAP_UART_LEN (13u + SNAP_UART_FIFO)
void snap_uart_encode(const struct snap_uart *u, uint8_t out[SNAP_UART_LEN]);
int snap_uart_decode(const uint8_t *p, size_t len, struct snap_uart *u, struct kv_err *err);

#define SNAP_VQ_MAX 4u
struct snap_vq {
	uint16_t max_size, size, last_avail, used_idx, signalled_used;
	uint8_t enabled, event_idx, indirect, signalled_valid;
	uint32_t error;
	uint64_t desc, avail, used;
};
struct snap_virtio {
	uint32_t device_id, nqueues;
	uint32_t status, isr;
	uint64_t offered, features;
	uint32_t features_beyond_64, dev_features_sel, drv_features_sel, queue_sel;
	uint32_t config_generation;
	struct snap_vq q[SNAP_VQ_MAX];
};
#define SNAP_VIRTIO_HDR_LEN 56u
#define SNAP_VQ_LEN	    42u
/* Returns the encoded length (<= SNAP_VIRTIO_HDR_LEN + SNAP_VQ_MAX * SNAP_VQ_LEN). */
size_t snap_virtio_encode(const struct snap_virtio *v, uint8_t *out);
int snap_virtio_decode(const uint8_t *p, size_t len, struct snap_virtio *v, struct kv_err *err);

#endif
