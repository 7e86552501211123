/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ELF half of the kernel-file parser: a vmlinux or a test guest entered
 * through the Xen PVH ABI (docs/misc/pvh.pandoc in Xen).  Validates the ELF
 * header, every program header (PT_LOAD and PT_NOTE inside the file, no
 * size or address overflow, segments below 4 GiB), walks the notes with
 * bounds checks for XEN_ELFNOTE_PHYS32_ENTRY and the "Linux" owner, and
 * probes the symbol table for a KVM-PVM guest.  pvh.c gets the segments
 * back through x86_elf_segments(), which re-validates them, so it never
 * reads raw program headers.
 *
 * PVM guests: the out-of-tree KVM-PVM guest patches (CONFIG_PVM_GUEST,
 * github.com/virt-pvm/linux) add no ELF note or header flag.  What they do
 * add are guest-only functions, pvm_early_setup() (since the first series)
 * and pvm_relocate_kernel() (called from startup_64), which a vmlinux keeps
 * in .symtab.  A stripped vmlinux therefore reads as non-PVM, as does any
 * bzImage (see image.c); the flag is a hint for error messages, not a gate.
 */
#include "boot/boot.h"
#include "boot/x86_internal.h"
#include "boot/x86_layout.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define FOUR_GIB		 0x100000000ULL

struct elf_hdr_kv {
	bool is64;
	uint64_t phoff, shoff;
	unsigned phnum, phentsize, shnum, shentsize;
};

struct elf_phdr_kv {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz, align;
};

struct elf_notes_kv {
	bool have_entry;
	uint32_t entry;
	bool is_linux;
};

static int elf_check_ident(const uint8_t *buf, size_t len, bool *is64, struct kv_err *err)
{
	if (len < EI_NIDENT)
		return kv_err_set(err, ENOEXEC, "ELF kernel: truncated at %zu bytes", len);
	if (buf[EI_CLASS] != ELFCLASS64 && buf[EI_CLASS] != ELFCLASS32)
		return kv_err_set(err, ENOEXEC, "ELF kernel: class %u is neither 32- nor 64-bit",
				  buf[EI_CLASS]);
	if (buf[EI_DATA] != ELFDATA2LSB)
		return kv_err_set(err, ENOEXEC, "ELF kernel: not little-endian (EI_DATA %u)",
				  buf[EI_DATA]);
	*is64 = buf[EI_CLASS] == ELFCLASS64;
	size_t need = *is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	if (len < need)
		return kv_err_set(err, ENOEXEC,
				  "ELF kernel: truncated at %zu bytes, inside its %zu-byte header",
				  len, need);
	return 0;
}

/* Reads the ELF header into a class-independent form; checks type and
 * machine; sections are not checked here (only the PVM probe uses them). */
static int elf_read_ehdr(const uint8_t *buf, size_t len, struct elf_hdr_kv *h, struct kv_err *err)
{
	unsigned type, machine, want_machine;
	int r = elf_check_ident(buf, len, &h->is64, err);
	if (r < 0)
		return r;
	if (h->is64) {
		Elf64_Ehdr e;
		memcpy(&e, buf, sizeof(e));
		type = e.e_type, machine = e.e_machine, want_machine = EM_X86_64;
		h->phoff = e.e_phoff, h->phnum = e.e_phnum, h->phentsize = e.e_phentsize;
		h->shoff = e.e_shoff, h->shnum = e.e_shnum, h->shentsize = e.e_shentsize;
	} else {
		Elf32_Ehdr e;
		memcpy(&e, buf, sizeof(e));
		type = e.e_type, machine = e.e_machine, want_machine = EM_386;
		h->phoff = e.e_phoff, h->phnum = e.e_phnum, h->phentsize = e.e_phentsize;
		h->shoff = e.e_shoff, h->shnum = e.e_shnum, h->shentsize = e.e_shentsize;
	}
	if (machine != want_machine)
		return kv_err_set(err, ENOEXEC, "ELF kernel: e_machine %u is not %s", machine,
				  h->is64 ? "x86-64 (62)" : "i386 (3)");
	if (type != ET_EXEC && type != ET_DYN)
		return kv_err_set(err, ENOEXEC, "ELF kernel: e_type %u is not an executable", type);
	return 0;
}

static int elf_check_phdrs(size_t len, const struct elf_hdr_kv *h, struct kv_err *err)
{
	size_t want = h->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	if (h->phnum == 0)
		return kv_err_set(err, ENOEXEC, "ELF kernel: no program headers (e_phnum 0)");
	if (h->phentsize != want)
		return kv_err_set(err, ENOEXEC, "ELF kernel: e_phentsize %u, expected %zu",
				  h->phentsize, want);
	if (h->phnum > ELF_MAX_PHDRS)
		return kv_err_set(err, ENOEXEC,
				  "ELF kernel: %u program headers, more than the %u allowed",
				  h->phnum, ELF_MAX_PHDRS);
	uint64_t size = (uint64_t)h->phnum * h->phentsize;
	if (h->phoff > len || size > len - h->phoff)
		return kv_err_set(
		    err, ENOEXEC,
		    "ELF kernel: program headers at offset 0x%llx (%u x %u bytes) run "
		    "past the end of the %zu-byte file",
		    (unsigned long long)h->phoff, h->phnum, h->phentsize, len);
	return 0;
}

/* Only after elf_check_phdrs(): idx < phnum and the table is in the file. */
static void elf_read_phdr(const uint8_t *buf, const struct elf_hdr_kv *h, unsigned idx,
			  struct elf_phdr_kv *p)
{
	const uint8_t *src = buf + h->phoff + (uint64_t)idx * h->phentsize;
	if (h->is64) {
		Elf64_Phdr e;
		memcpy(&e, src, sizeof(e));
		*p = (struct elf_phdr_kv){e.p_type,   e.p_offset, e.p_paddr,
					  e.p_filesz, e.p_memsz,  e.p_align};
	} else {
		Elf32_Phdr e;
		memcpy(&e, src, sizeof(e));
		*p = (struct elf_phdr_kv){e.p_type,   e.p_offset, e.p_paddr,
					  e.p_filesz, e.p_memsz,  e.p_align};
	}
}

static int elf_check_load(const struct elf_phdr_kv *p, unsigned idx, struct kv_err *err)
{
	if (p->filesz > p->memsz)
		return kv_err_set(err, ENOEXEC,
				  "ELF kernel: segment %u has p_filesz 0x%llx larger than p_memsz "
				  "0x%llx",
				  idx, (unsigned long long)p->filesz, (unsigned long long)p->memsz);
	if (p->memsz > KERNEL_SEGMENT_MAX)
		return kv_err_set(err, EFBIG,
				  "ELF kernel: segment %u p_memsz 0x%llx is above the 1 GiB limit",
				  idx, (unsigned long long)p->memsz);
	if (p->paddr >= FOUR_GIB || p->memsz > FOUR_GIB - p->paddr)
		return kv_err_set(
		    err, ENOEXEC,
		    "ELF kernel: segment %u at 0x%llx+0x%llx ends above 4 GiB (the PVH "
		    "entry is 32-bit)",
		    idx, (unsigned long long)p->paddr, (unsigned long long)p->memsz);
	return 0;
}

static int elf_check_phdr(const struct elf_phdr_kv *p, unsigned idx, size_t len, struct kv_err *err)
{
	if (p->type != PT_LOAD && p->type != PT_NOTE)
		return 0;
	if (p->offset > len || p->filesz > len - p->offset)
		return kv_err_set(err, ENOEXEC,
				  "ELF kernel: segment %u (%s) at file offset 0x%llx+0x%llx runs "
				  "past the end of the %zu-byte file",
				  idx, p->type == PT_LOAD ? "PT_LOAD" : "PT_NOTE",
				  (unsigned long long)p->offset, (unsigned long long)p->filesz,
				  len);
	return p->type == PT_LOAD ? elf_check_load(p, idx, err) : 0;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static int elf_note_entry(const uint8_t *desc, uint32_t descsz, struct elf_notes_kv *nf,
			  struct kv_err *err)
{
	/* Linux widens the value to 64 bits (_ASM_PTR), Xen's ABI says 32. */
	if (descsz != 4 && descsz != 8)
		return kv_err_set(err, ENOEXEC,
				  "ELF kernel: XEN_ELFNOTE_PHYS32_ENTRY note holds %u bytes, not 4 "
				  "or 8",
				  descsz);
	memcpy(&nf->entry, desc, sizeof(nf->entry));
	nf->have_entry = true;
	return 0;
}

/* One note segment: {namesz, descsz, type, name, desc}, name and desc each
 * padded to `a`.  Every step consumes at least 12 bytes: bounded by size. */
static int elf_scan_notes(const uint8_t *p, uint64_t size, uint64_t a, unsigned seg,
			  struct elf_notes_kv *nf, struct kv_err *err)
{
	uint64_t off = 0;
	while (size - off >= 12) {
		uint32_t nd[3]; /* namesz, descsz, type */
		memcpy(nd, p + off, sizeof(nd));
		off += sizeof(nd);
		uint64_t name_len = align_up(nd[0], a);
		if (name_len > size - off || nd[1] > size - off - name_len)
			return kv_err_set(
			    err, ENOEXEC,
			    "ELF kernel: note at offset 0x%llx of segment %u runs past "
			    "its end (namesz %u, descsz %u)",
			    (unsigned long long)(off - sizeof(nd)), seg, nd[0], nd[1]);
		const uint8_t *name = p + off, *desc = p + off + name_len;
		off += name_len;
		uint64_t desc_len = align_up(nd[1], a);
		off += desc_len < size - off ? desc_len : size - off;
		if (nd[0] == 6 && memcmp(name, "Linux", 6) == 0)
			nf->is_linux = true;
		if (nd[0] == 4 && memcmp(name, "Xen", 4) == 0 &&
		    nd[2] == XEN_ELFNOTE_PHYS32_ENTRY) {
			int r = elf_note_entry(desc, nd[1], nf, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

struct elf_span {
	uint64_t lo, hi; /* inclusive */
	unsigned nload;
};

static int elf_walk_phdrs(const uint8_t *buf, size_t len, const struct elf_hdr_kv *h,
			  struct elf_span *sp, struct elf_notes_kv *nf, struct kv_err *err)
{
	sp->lo = UINT64_MAX, sp->hi = 0, sp->nload = 0;
	for (unsigned i = 0; i < h->phnum; i++) {
		struct elf_phdr_kv p;
		elf_read_phdr(buf, h, i, &p);
		int r = elf_check_phdr(&p, i, len, err);
		if (r < 0)
			return r;
		if (p.type == PT_NOTE) {
			r = elf_scan_notes(buf + p.offset, p.filesz, p.align == 8 ? 8 : 4, i, nf,
					   err);
			if (r < 0)
				return r;
		} else if (p.type == PT_LOAD && p.memsz) {
			sp->lo = p.paddr < sp->lo ? p.paddr : sp->lo;
			uint64_t last = p.paddr + p.memsz - 1;
			sp->hi = last > sp->hi ? last : sp->hi;
			sp->nload++;
		}
	}
	return 0;
}

/* Section header i (i < shnum, table inside the file). */
static void elf_read_shdr(const uint8_t *buf, const struct elf_hdr_kv *h, unsigned i, Elf64_Shdr *s)
{
	const uint8_t *src = buf + h->shoff + (uint64_t)i * h->shentsize;
	if (h->is64) {
		memcpy(s, src, sizeof(*s));
		return;
	}
	Elf32_Shdr e;
	memcpy(&e, src, sizeof(e));
	*s = (Elf64_Shdr){.sh_type = e.sh_type,
			  .sh_offset = e.sh_offset,
			  .sh_size = e.sh_size,
			  .sh_link = e.sh_link};
}

static bool elf_in_file(const Elf64_Shdr *s, size_t len)
{
	return s->sh_offset <= len && s->sh_size <= len - s->sh_offset;
}

/* The first SHT_SYMTAB and its string table, both inside the file. */
static bool elf_find_symtab(const uint8_t *buf, size_t len, const struct elf_hdr_kv *h,
			    Elf64_Shdr *sym, Elf64_Shdr *str)
{
	size_t want = h->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
	if (h->shnum == 0 || h->shentsize != want || h->shoff > len ||
	    (uint64_t)h->shnum * want > len - h->shoff)
		return false;
	for (unsigned i = 0; i < h->shnum; i++) {
		elf_read_shdr(buf, h, i, sym);
		if (sym->sh_type != SHT_SYMTAB)
			continue;
		if (sym->sh_link >= h->shnum)
			return false;
		elf_read_shdr(buf, h, sym->sh_link, str);
		return str->sh_type == SHT_STRTAB && elf_in_file(sym, len) && elf_in_file(str, len);
	}
	return false;
}

static bool elf_has_pvm_symbol(const uint8_t *buf, size_t len, const struct elf_hdr_kv *h)
{
	static const char *const names[] = {"pvm_early_setup", "pvm_relocate_kernel"};
	Elf64_Shdr sym, str;
	if (!elf_find_symtab(buf, len, h, &sym, &str))
		return false;
	/* st_name is the first 32-bit field of both Elf32_Sym and Elf64_Sym. */
	uint64_t ent = h->is64 ? sizeof(Elf64_Sym) : sizeof(Elf32_Sym);
	for (uint64_t i = 0; i < sym.sh_size / ent; i++) {
		uint32_t st_name;
		memcpy(&st_name, buf + sym.sh_offset + i * ent, sizeof(st_name));
		if (st_name >= str.sh_size)
			continue;
		const uint8_t *s = buf + str.sh_offset + st_name;
		uint64_t room = str.sh_size - st_name;
		for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
			size_t l = strlen(names[n]) + 1;
			if (room >= l && memcmp(s, names[n], l) == 0)
				return true;
		}
	}
	return false;
}

int x86_elf_parse(const uint8_t *buf, size_t len, struct kernel_image *out, struct kv_err *err)
{
	struct elf_hdr_kv h = {0};
	struct elf_span sp = {0};
	struct elf_notes_kv nf = {0};
	int r = elf_read_ehdr(buf, len, &h, err);
	if (r == 0)
		r = elf_check_phdrs(len, &h, err);
	if (r == 0)
		r = elf_walk_phdrs(buf, len, &h, &sp, &nf, err);
	if (r < 0)
		return r;
	if (sp.nload == 0)
		return kv_err_set(err, ENOEXEC, "ELF kernel: no non-empty PT_LOAD segment");
	if (!nf.have_entry)
		return kv_err_set(err, ENOEXEC,
				  "ELF kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); "
				  "build it with CONFIG_PVH");
	if (nf.entry < sp.lo || nf.entry > sp.hi)
		return kv_err_set(err, ENOEXEC,
				  "ELF kernel: PVH entry 0x%x is outside its loaded segments "
				  "0x%llx..0x%llx",
				  nf.entry, (unsigned long long)sp.lo, (unsigned long long)sp.hi);
	out->kind = KERNEL_PVH_ELF;
	out->data = buf;
	out->len = len;
	out->is_linux = nf.is_linux;
	out->pvm_guest = elf_has_pvm_symbol(buf, len, &h);
	out->pvh_entry = nf.entry;
	out->elf_lo = sp.lo;
	out->elf_hi = sp.hi;
	return 0;
}

int x86_elf_segments(const struct kernel_image *k, struct elf_seg *segs, unsigned max, unsigned *n,
		     struct kv_err *err)
{
	struct elf_hdr_kv h = {0};
	*n = 0;
	if (k->kind != KERNEL_PVH_ELF || !k->data)
		return kv_err_set(err, EINVAL, "ELF kernel: not a parsed PVH ELF");
	int r = elf_read_ehdr(k->data, k->len, &h, err);
	if (r == 0)
		r = elf_check_phdrs(k->len, &h, err);
	for (unsigned i = 0; r == 0 && i < h.phnum; i++) {
		struct elf_phdr_kv p;
		elf_read_phdr(k->data, &h, i, &p);
		r = elf_check_phdr(&p, i, k->len, err);
		if (r < 0 || p.type != PT_LOAD || p.memsz == 0)
			continue;
		if (*n == max)
			return kv_err_set(err, E2BIG, "ELF kernel: more than %u PT_LOAD segments",
					  max);
		segs[(*n)++] = (struct elf_seg){p.offset, p.filesz, p.paddr, p.memsz};
	}
	return r;
}
