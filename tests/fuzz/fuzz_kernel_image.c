/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the kernel-file parser: any byte string must either
 * parse or fail with a one-line message, never crash or read out of
 * bounds.  What parses is then loaded with boot_x86_setup() into 64 MiB of
 * fake guest RAM (the input doubles as initrd), so every size and address
 * the parser let through is exercised by the loaders too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/boot.h"

#define FUZZ_RAM (64ULL << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_msg(int r, const struct kv_err *err)
{
	/* The error contract: a failure always says why, on one line. */
	if (r < 0 && (err->msg[0] == '\0' || strchr(err->msg, '\n')))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	struct kernel_image k;
	struct kv_err err = {0};

	int r = kernel_image_parse(data, size, &k, &err);
	check_msg(r, &err);
	if (r < 0)
		return 0;
	if (!ram && !(ram = calloc(1, FUZZ_RAM)))
		return 0;
	struct guest_mem mem;
	guest_mem_fake(&mem, ram, FUZZ_RAM);
	struct boot_config cfg = {
	    .cmdline = "console=ttyS0 panic=-1",
	    .initrd = data,
	    .initrd_len = size & 0xffff,
	    .ncpus = 1 + (unsigned)(size % 4),
	};
	struct x86_boot_cpu bsp;
	memset(&err, 0, sizeof(err));
	r = boot_x86_setup(&mem, &k, &cfg, &bsp, &err);
	check_msg(r, &err);
	if (r == 0) {
		struct kvm_regs regs;
		struct kvm_sregs sregs = {0};
		x86_boot_regs(&bsp, &regs);
		x86_boot_sregs(&bsp, &sregs);
	}
	return 0;
}
