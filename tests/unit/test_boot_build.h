/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Builders for the boot/ unit tests: a minimal bzImage (setup header and a
 * patterned protected-mode payload) and a minimal ELF32/ELF64 with a
 * PT_LOAD, a PT_NOTE (Xen PHYS32_ENTRY and/or "Linux" notes) and optionally
 * a symbol table naming a PVM guest function.  Tests then corrupt single
 * fields to reach each error.
 */
#ifndef KVBOX_TESTS_TEST_BOOT_BUILD_H
#define KVBOX_TESTS_TEST_BOOT_BUILD_H

#include <elf.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <asm/bootparam.h>

#define TB_BZ_SETUP	(5 * 512) /* setup_sects = 4 */
#define TB_BZ_PREF	0x1000000ULL
#define TB_BZ_HDR(buf)	((struct setup_header *)((buf) + 0x1f1))
#define TB_ELF_NOTE_OFF 0x100
#define TB_ELF_DATA_OFF 0x200

/* Returns the file length (setup + payload). */
static inline size_t tb_make_bzimage(uint8_t *buf, size_t payload)
{
	size_t len = TB_BZ_SETUP + payload;
	memset(buf, 0, len);
	struct setup_header *h = TB_BZ_HDR(buf);
	h->setup_sects = 4;
	h->boot_flag = 0xaa55;
	h->jump = 0x6aeb; /* EB 6A: header ends at 0x202 + 0x6a = 0x26c */
	h->header = 0x53726448;
	h->version = 0x020f;
	h->loadflags = LOADED_HIGH;
	h->relocatable_kernel = 1;
	h->kernel_alignment = 0x200000;
	h->xloadflags = XLF_KERNEL_64;
	h->cmdline_size = 2047;
	h->initrd_addr_max = 0x7fffffff;
	h->syssize = (uint32_t)(payload / 16);
	h->pref_address = TB_BZ_PREF;
	h->init_size = (uint32_t)(payload * 2);
	/* Linux's version string, which is how a Linux bzImage is told
	 * from a purpose-built guest (kernel_version is relative to 0x200). */
	h->kernel_version = 0x400;
	memcpy(buf + 0x600, "6.1.0-test (kvbox@test) #1", 27);
	for (size_t i = 0; i < payload; i++)
		buf[TB_BZ_SETUP + i] = (uint8_t)(i * 7 + 1);
	return len;
}

struct tb_elf {
	bool is64;
	uint64_t paddr;	 /* PT_LOAD physical address */
	uint64_t filesz; /* bytes of data at TB_ELF_DATA_OFF */
	uint64_t memsz;
	bool pvh_note;
	unsigned entry_size; /* 4 or 8 */
	uint64_t entry;
	bool linux_note;
	bool pvm_symbol; /* add .symtab/.strtab with pvm_early_setup */
};

/* Appends one note at *off; returns nothing, advances *off. */
static inline void tb_note(uint8_t *buf, size_t *off, const char *name, uint32_t type,
			   const void *desc, uint32_t descsz)
{
	uint32_t nd[3] = {(uint32_t)strlen(name) + 1, descsz, type};
	memcpy(buf + *off, nd, sizeof(nd));
	*off += sizeof(nd);
	memcpy(buf + *off, name, nd[0]);
	*off += (nd[0] + 3) & ~3u;
	memcpy(buf + *off, desc, descsz);
	*off += (descsz + 3) & ~3u;
}

static inline size_t tb_elf_notes(uint8_t *buf, const struct tb_elf *s)
{
	size_t off = TB_ELF_NOTE_OFF;
	uint32_t salt = 0x12345678;
	if (s->linux_note)
		tb_note(buf, &off, "Linux", 0x100, &salt, 4);
	if (s->pvh_note)
		tb_note(buf, &off, "Xen", 18, &s->entry, s->entry_size);
	return off - TB_ELF_NOTE_OFF;
}

/* .symtab (null + one symbol) and .strtab after the data, then 3 section
 * headers (null, symtab, strtab).  Returns the new end of file. */
static inline size_t tb_elf_symtab(uint8_t *buf, size_t end, bool is64, uint64_t *shoff)
{
	static const char strtab[] = "\0pvm_early_setup";
	size_t sym_off = (end + 7) & ~7ul, symsz = is64 ? sizeof(Elf64_Sym) : sizeof(Elf32_Sym);
	memset(buf + sym_off, 0, 2 * symsz);
	uint32_t name = 1;
	memcpy(buf + sym_off + symsz, &name, 4);
	size_t str_off = sym_off + 2 * symsz;
	memcpy(buf + str_off, strtab, sizeof(strtab));
	*shoff = (str_off + sizeof(strtab) + 7) & ~7ul;
	if (is64) {
		Elf64_Shdr sh[3] = {
		    {0},
		    {.sh_type = SHT_SYMTAB,
		     .sh_offset = sym_off,
		     .sh_size = 2 * symsz,
		     .sh_link = 2,
		     .sh_entsize = symsz},
		    {.sh_type = SHT_STRTAB, .sh_offset = str_off, .sh_size = sizeof(strtab)}};
		memcpy(buf + *shoff, sh, sizeof(sh));
		return *shoff + sizeof(sh);
	}
	Elf32_Shdr sh[3] = {
	    {0},
	    {.sh_type = SHT_SYMTAB,
	     .sh_offset = sym_off,
	     .sh_size = 2 * symsz,
	     .sh_link = 2,
	     .sh_entsize = symsz},
	    {.sh_type = SHT_STRTAB, .sh_offset = str_off, .sh_size = sizeof(strtab)}};
	memcpy(buf + *shoff, sh, sizeof(sh));
	return *shoff + sizeof(sh);
}

static inline void tb_elf_headers(uint8_t *buf, const struct tb_elf *s, size_t notesz,
				  uint64_t shoff)
{
	unsigned shnum = s->pvm_symbol ? 3 : 0;
	if (s->is64) {
		Elf64_Ehdr e = {.e_type = ET_EXEC,
				.e_machine = EM_X86_64,
				.e_version = EV_CURRENT,
				.e_phoff = sizeof(Elf64_Ehdr),
				.e_shoff = shoff,
				.e_ehsize = sizeof(Elf64_Ehdr),
				.e_phentsize = sizeof(Elf64_Phdr),
				.e_phnum = 2,
				.e_shentsize = sizeof(Elf64_Shdr),
				.e_shnum = shnum};
		memcpy(e.e_ident, ELFMAG, SELFMAG);
		e.e_ident[EI_CLASS] = ELFCLASS64, e.e_ident[EI_DATA] = ELFDATA2LSB;
		Elf64_Phdr ph[2] = {{.p_type = PT_LOAD,
				     .p_offset = TB_ELF_DATA_OFF,
				     .p_vaddr = s->paddr,
				     .p_paddr = s->paddr,
				     .p_filesz = s->filesz,
				     .p_memsz = s->memsz,
				     .p_align = 0x1000},
				    {.p_type = PT_NOTE,
				     .p_offset = TB_ELF_NOTE_OFF,
				     .p_filesz = notesz,
				     .p_align = 4}};
		memcpy(buf, &e, sizeof(e));
		memcpy(buf + e.e_phoff, ph, sizeof(ph));
		return;
	}
	Elf32_Ehdr e = {.e_type = ET_EXEC,
			.e_machine = EM_386,
			.e_version = EV_CURRENT,
			.e_phoff = sizeof(Elf32_Ehdr),
			.e_shoff = (uint32_t)shoff,
			.e_ehsize = sizeof(Elf32_Ehdr),
			.e_phentsize = sizeof(Elf32_Phdr),
			.e_phnum = 2,
			.e_shentsize = sizeof(Elf32_Shdr),
			.e_shnum = shnum};
	memcpy(e.e_ident, ELFMAG, SELFMAG);
	e.e_ident[EI_CLASS] = ELFCLASS32, e.e_ident[EI_DATA] = ELFDATA2LSB;
	Elf32_Phdr ph[2] = {{.p_type = PT_LOAD,
			     .p_offset = TB_ELF_DATA_OFF,
			     .p_vaddr = (uint32_t)s->paddr,
			     .p_paddr = (uint32_t)s->paddr,
			     .p_filesz = (uint32_t)s->filesz,
			     .p_memsz = (uint32_t)s->memsz,
			     .p_align = 0x1000},
			    {.p_type = PT_NOTE,
			     .p_offset = TB_ELF_NOTE_OFF,
			     .p_filesz = (uint32_t)notesz,
			     .p_align = 4}};
	memcpy(buf, &e, sizeof(e));
	memcpy(buf + e.e_phoff, ph, sizeof(ph));
}

/* Returns the file length.  buf must hold TB_ELF_DATA_OFF + filesz + 256. */
static inline size_t tb_make_elf(uint8_t *buf, const struct tb_elf *s)
{
	size_t end = TB_ELF_DATA_OFF + s->filesz;
	uint64_t shoff = 0;
	memset(buf, 0, end);
	size_t notesz = tb_elf_notes(buf, s);
	for (uint64_t i = 0; i < s->filesz; i++)
		buf[TB_ELF_DATA_OFF + i] = (uint8_t)(i * 13 + 5);
	if (s->pvm_symbol)
		end = tb_elf_symtab(buf, end, s->is64, &shoff);
	tb_elf_headers(buf, s, notesz, shoff);
	return end;
}

/* A PVH ELF64 at 1 MiB with entry at its start, 4 KiB data, 8 KiB memsz. */
static inline struct tb_elf tb_elf_default(bool is64)
{
	return (struct tb_elf){.is64 = is64,
			       .paddr = 0x100000,
			       .filesz = 0x1000,
			       .memsz = 0x2000,
			       .pvh_note = true,
			       .entry_size = is64 ? 8 : 4,
			       .entry = 0x100000,
			       .linux_note = true};
}

#endif
