/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kernel_image_parse(): the entry of the one kernel-file parser.  It tells
 * an ELF (handed to elf.c) from a bzImage, and validates a bzImage's setup
 * header (Documentation/arch/x86/boot.rst) into struct kernel_image: magic,
 * boot flag, protocol version, 64-bit entry, sizes against the file length,
 * load address.  x86_bzimage_header() gives bzimage.c a bounded copy of the
 * header so nothing else reads the raw file.  Every rejection is one line
 * naming the field and its value.
 */
#include "boot/boot.h"
#include "boot/x86_internal.h"
#include "boot/x86_layout.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

#define BZ_HDR_OFF	      0x1f1
#define BZ_JUMP_OFF	      0x200 /* short jump over the header: EB <rel8> */
#define BZ_MAGIC_OFF	      0x202
#define BZ_HDR_END	      (BZ_HDR_OFF + sizeof(struct setup_header))
#define BZ_MAGIC	      0x53726448U /* "HdrS" */
#define BZ_BOOT_FLAG	      0xaa55
#define BZ_SECTOR	      512
#define BZ_MIN_HDR_END	      0x268 /* the header of protocol 2.12 ends here */
#define BZ_DEFAULT_INITRD_MAX 0x37ffffffU

_Static_assert(BZ_HDR_END == 0x26c, "struct setup_header size changed");

/* Where the header really ends: 0x202 + the jump's displacement. */
static size_t bz_header_end(const uint8_t *buf)
{
	return BZ_MAGIC_OFF + buf[BZ_JUMP_OFF + 1];
}

static int bz_read_header(const uint8_t *buf, size_t len, struct setup_header *h,
			  struct kv_err *err)
{
	if (len < BZ_HDR_END)
		return kv_err_set(err, ENOEXEC,
				  "kernel image: bzImage truncated at %zu bytes, inside its setup "
				  "header (ends at %zu)",
				  len, (size_t)BZ_HDR_END);
	memcpy(h, buf + BZ_HDR_OFF, sizeof(*h));
	return 0;
}

static int bz_check_protocol(const uint8_t *buf, const struct setup_header *h, struct kv_err *err)
{
	unsigned maj = h->version >> 8, min = h->version & 0xff;

	if (h->boot_flag != BZ_BOOT_FLAG)
		return kv_err_set(err, ENOEXEC,
				  "kernel image: setup header boot_flag is 0x%04x, not 0xAA55 "
				  "(corrupt bzImage?)",
				  h->boot_flag);
	if (h->version < 0x0206)
		return kv_err_set(err, ENOEXEC,
				  "kernel image: boot protocol %u.%02u is too old (2.06 or newer "
				  "needed)",
				  maj, min);
	if (h->version < 0x020c)
		return kv_err_set(err, ENOEXEC,
				  "kernel image: boot protocol %u.%02u has no 64-bit entry point "
				  "(2.12 or newer needed)",
				  maj, min);
	if (!(h->xloadflags & XLF_KERNEL_64))
		return kv_err_set(err, ENOEXEC,
				  "kernel image: bzImage has no 64-bit entry point (XLF_KERNEL_64 "
				  "not set in xloadflags 0x%04x)",
				  h->xloadflags);
	if (bz_header_end(buf) < BZ_MIN_HDR_END)
		return kv_err_set(err, ENOEXEC,
				  "kernel image: setup header ends at 0x%zx (jump at 0x200), "
				  "before the fields of protocol %u.%02u",
				  bz_header_end(buf), maj, min);
	return 0;
}

/* Setup code and protected-mode payload against the file length. */
static int bz_check_sizes(size_t len, const struct setup_header *h, struct kernel_image *out,
			  struct kv_err *err)
{
	unsigned sects = h->setup_sects ? h->setup_sects : 4;
	size_t setup = (size_t)(sects + 1) * BZ_SECTOR;

	if (len <= setup)
		return kv_err_set(err, ENOEXEC,
				  "kernel image: bzImage truncated: %zu bytes, but the setup code "
				  "alone is %zu (setup_sects %u) and a kernel must follow it",
				  len, setup, sects);
	size_t payload = len - setup;
	uint64_t declared = (uint64_t)h->syssize * 16;
	if (declared > payload)
		return kv_err_set(
		    err, ENOEXEC,
		    "kernel image: bzImage truncated: the protected-mode kernel is %zu "
		    "bytes, the setup header says %llu (syssize)",
		    payload, (unsigned long long)declared);
	if (h->init_size > KERNEL_SEGMENT_MAX)
		return kv_err_set(err, EFBIG,
				  "kernel image: init_size %u bytes is above the 1 GiB limit",
				  h->init_size);
	out->setup_size = setup;
	return 0;
}

/* Relocatable kernels (2.10+) say where they prefer to run; others go at
 * 1 MiB.  The whole image must fit between 1 MiB and the MMIO hole. */
static int bz_load_addr(size_t payload, const struct setup_header *h, struct kernel_image *out,
			struct kv_err *err)
{
	uint64_t addr = X86_HIMEM_START;
	if (h->relocatable_kernel && h->version >= 0x020a)
		addr = h->pref_address;
	uint64_t need = payload > h->init_size ? payload : h->init_size;
	if (addr < X86_HIMEM_START || addr >= X86_MMIO_HOLE_START ||
	    need > X86_MMIO_HOLE_START - addr)
		return kv_err_set(err, ENOEXEC,
				  "kernel image: load address 0x%llx (pref_address) with %llu "
				  "bytes does not fit between 1 MiB and 3 GiB",
				  (unsigned long long)addr, (unsigned long long)need);
	out->load_addr = addr;
	return 0;
}

/* Linux's setup header points kernel_version (an offset from 0x200) at
 * its version string, "6.1.0 (...)"; purpose-built guests leave it 0. */
static bool bz_has_linux_version(const uint8_t *buf, size_t setup, const struct setup_header *h)
{
	size_t off = (size_t)h->kernel_version + 0x200;
	return h->kernel_version != 0 && off < setup && buf[off] >= '0' && buf[off] <= '9';
}

static int bz_parse(const uint8_t *buf, size_t len, struct kernel_image *out, struct kv_err *err)
{
	struct setup_header h = {0};
	int r = bz_read_header(buf, len, &h, err);
	if (r < 0)
		return r;
	r = bz_check_protocol(buf, &h, err);
	if (r < 0)
		return r;
	r = bz_check_sizes(len, &h, out, err);
	if (r < 0)
		return r;
	r = bz_load_addr(len - out->setup_size, &h, out, err);
	if (r < 0)
		return r;
	out->kind = KERNEL_BZIMAGE;
	out->data = buf;
	out->len = len;
	out->is_linux = bz_has_linux_version(buf, out->setup_size, &h);
	/* A bzImage's vmlinux is compressed: telling a PVM guest apart would
	 * mean decompressing it, so bzImages are reported as non-PVM. */
	out->pvm_guest = false;
	out->protocol = h.version;
	out->cmdline_max = h.cmdline_size;
	out->initrd_max = h.initrd_addr_max ? h.initrd_addr_max : BZ_DEFAULT_INITRD_MAX;
	return 0;
}

int kernel_image_parse(const uint8_t *buf, size_t len, struct kernel_image *out, struct kv_err *err)
{
	if (!buf || !out)
		return kv_err_set(err, EINVAL, "kernel image: no data");
	memset(out, 0, sizeof(*out));
	if (len > KERNEL_FILE_MAX)
		return kv_err_set(err, EFBIG,
				  "kernel image: file is %zu MiB, above the 512 MiB limit",
				  len >> 20);
	if (len >= SELFMAG && memcmp(buf, ELFMAG, SELFMAG) == 0)
		return x86_elf_parse(buf, len, out, err);
	if (len < BZ_MAGIC_OFF + 4)
		return kv_err_set(err, ENOEXEC,
				  "kernel image: only %zu bytes, too short for a bzImage or an ELF "
				  "kernel",
				  len);
	uint32_t magic;
	memcpy(&magic, buf + BZ_MAGIC_OFF, sizeof(magic));
	if (magic != BZ_MAGIC)
		return kv_err_set(err, ENOEXEC,
				  "kernel image: no ELF magic and setup header magic is not HdrS "
				  "(not a bzImage or vmlinux?)");
	return bz_parse(buf, len, out, err);
}

int x86_bzimage_header(const struct kernel_image *k, struct setup_header *hdr, struct kv_err *err)
{
	if (k->kind != KERNEL_BZIMAGE || !k->data || k->len < BZ_HDR_END)
		return kv_err_set(err, EINVAL, "kernel image: not a parsed bzImage");
	memset(hdr, 0, sizeof(*hdr));
	size_t end = bz_header_end(k->data);
	if (end > BZ_HDR_END)
		end = BZ_HDR_END;
	memcpy(hdr, k->data + BZ_HDR_OFF, end - BZ_HDR_OFF);
	return 0;
}
