/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container templates, the VMM side: a snapshot of the container guest
 * booted once to an agent that is ready and waiting (PARK,
 * guest/protocol.h), restored by each sandbox instead of a boot.  The
 * cache, its keys and the command are oci/template.h.
 *
 * A template VM is exactly the sandbox's machine with nothing of a
 * container in it: the same kernel, agent initramfs and command line
 * (sandbox_cmdline), a virtio-vsock, and TEMPLATE_SHARES virtio-9p
 * devices (tags kvboxroot, kvb1, ...) served from an empty read-only
 * directory that the guest never mounts.  No NIC: the guest reads a NIC's
 * MAC at boot, so containers with interfaces boot cold.
 *
 * Build (template_vm_build, in a process of its own: the VMM's seccomp
 * filter stays on it): boot, HELLO, PARK, the agent closes the channel and
 * listens; once no vsock connection is left the VM is paused and saved
 * with SNAP_SAVE_TEMPLATE (vmm/snapshot.h).
 *
 * Restore (template_vm_restore, by the sandbox): the image is opened and
 * checked (format, checksums, kvbox version, template flag, RAM, vCPUs,
 * KVM flavour, device count), the machine is built with the container's
 * shares in the first slots and the rest on the template's empty
 * directory (a gofer serves them all), RAM is copied from the image (the
 * gofer must see the same pages as KVM, so RAM stays a shared memfd
 * rather than a private mapping of the file), state and devices are
 * restored and every device the guest had started is activated (the 9p
 * queues go to the new gofer).  The caller then connects to the agent.
 */
#ifndef KVBOX_VMM_TEMPLATE_H
#define KVBOX_VMM_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gofer/gofer.h"
#include "util/err.h"
#include "vmm/snapshot.h"
#include "vmm/vm.h"

/* 9p devices: the virtio-mmio slots minus the rng, the vsock, and one
 * kept for a NIC (SANDBOX_MAX_SHARES) */
#define TEMPLATE_SHARES		 (VM_VIRTIO_MAX - 3)
#define TEMPLATE_AGENT_TIMEOUT_S 300 /* HELLO and PARK, under TCG */

/* The guest kernel command line of a sandbox (and so of a template),
 * before the virtio entries. */
void sandbox_cmdline(char *buf, size_t size, bool debug);

/* The template machine's shares: in[0..n) (n <= TEMPLATE_SHARES) as
 * they are, then read-only ones on `empty` with the tags they would have
 * had (kvboxroot first, then kvbN).  Returns TEMPLATE_SHARES. */
unsigned template_shares(const struct gofer_share *in, unsigned n, const char *empty,
			 struct gofer_share out[TEMPLATE_SHARES]);

struct template_build {
	uint64_t mem_bytes;
	unsigned ncpus;
	const char *kernel; /* the guest kernel */
	const char *agent;  /* the kvbox-agent binary */
	const char *empty;  /* an empty directory for the shares */
	int console_fd;	    /* the guest console goes here */
	bool debug;
};

/* Boots, parks and saves the VM to out (which must not exist).  Runs the
 * VMM in the calling process, whose seccomp filter it installs: call it in
 * a child that exits afterwards. */
int template_vm_build(const struct template_build *b, const char *out, struct snapshot_stats *st,
		      struct kv_err *err);

/*
 * A template's working set: the 64 KiB blocks of its guest memory that a
 * container start loaded (the faults until the container was prepared),
 * recorded by the first lazily started sandbox of the template into its
 * own state directory (TEMPLATE_WS_RECORD) and adopted by `create` into
 * the template's directory (TEMPLATE_WS, oci/template.c).  Every later
 * lazy start loads those blocks in one pass before the guest runs
 * (lazy_mem_prefetch: each still checked against its sum) instead of a
 * fault each.  The file: "KVBXWS01", le32 blocks in the image, le32
 * count, then count le32 block indices, strictly ascending.  A list that
 * does not parse is ignored; a wrong one costs time, never correctness.
 */
#define TEMPLATE_WS	   "ws"
#define TEMPLATE_WS_RECORD "template-ws"
#define TEMPLATE_WS_MAGIC  "KVBXWS01"

/* Parses a working set for a guest of mem_bytes; *blocks is malloc'd. */
int template_ws_parse(const uint8_t *buf, size_t len, uint64_t mem_bytes, uint32_t **blocks,
		      unsigned *n, struct kv_err *err);
/* Encodes one (malloc'd, *len bytes), or NULL. */
uint8_t *template_ws_encode(uint64_t mem_bytes, const uint32_t *blocks, unsigned n, size_t *len);
/* The largest file for a guest of mem_bytes. */
size_t template_ws_max(uint64_t mem_bytes);

/* Builds vm from the template at dir (ROOT/KEY/image) with cfg's console,
 * RAM size, vCPUs and shares (already laid out by template_shares);
 * vm_destroy() it on failure too.  With RAM loaded lazily, the template's
 * working set (dir/../ws) is loaded before the guest runs; st->ws_missing
 * says there was none (the caller may record one). */
int template_vm_restore(struct vm *vm, const char *dir, const struct vm_config *cfg,
			struct snapshot_stats *st, struct kv_err *err);

/* A template build: the agent's PARK reply (pairs of first page, page
 * count) as vm->kernel_ro, the whole LAZY_BLOCKs of it below the MMIO
 * hole (written into the image as SNAP_SEC_KERNEL_RO). */
void template_kernel_ro(struct vm *vm, const uint32_t *pages, uint32_t n);

#endif
