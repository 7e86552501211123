/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the legacy devices as a guest reaches them: port
 * accesses through the PIO bus (vmm/bus.c) to the 8250 UART, the i8042,
 * the CMOS RTC and pvpanic (devices/), plus console input pushed into the
 * UART's FIFO, with everything the UART transmits fed to the console
 * watcher (devices/console_watch.c, which looks for the guest kernel's
 * panic and power-off lines).  Accesses nothing claims must be refused by
 * the bus; a read that is claimed must fill every byte.  Any crash,
 * sanitizer report or leak is a bug.
 *
 * Input: operations of 6 bytes until the input ends:
 *   u8  kind: bits 0-1 size (1, 2, 4, 8), bit 2 read, bit 3 push the
 *       next 4 bytes (the value) as console input instead of an access,
 *       bit 4 the port is one of the devices' (low bits of the port pick
 *       one) rather than raw
 *   u16 port (le)
 *   u8[3] value (the low bytes; the rest repeat kind)
 * Seed corpus: tests/fuzz/corpus/devices/ (Linux's early-console set-up and
 * a panic line, RTC reads, the i8042 reset, pvpanic).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/x86_layout.h"
#include "devices/console_watch.h"
#include "devices/legacy.h"
#include "devices/uart8250.h"
#include "vmm/bus.h"

#define OP_LEN 6

static const uint16_t ports[16] = {
    X86_PORT_COM1,	   X86_PORT_COM1 + 1,  X86_PORT_COM1 + 2,
    X86_PORT_COM1 + 3,	   X86_PORT_COM1 + 4,  X86_PORT_COM1 + 5,
    X86_PORT_COM1 + 6,	   X86_PORT_COM1 + 7,  X86_PORT_I8042_CMD,
    X86_PORT_I8042_DATA,   X86_PORT_RTC_INDEX, X86_PORT_RTC_DATA,
    X86_PORT_PVPANIC,	   X86_PORT_COM1 + 8,  0x80,
    X86_PORT_RTC_DATA + 1,
};

struct fuzz_ctx {
	struct console_watch watch;
	unsigned events, irqs;
};

static void sink(void *ctx, const uint8_t *buf, size_t len)
{
	struct fuzz_ctx *f = ctx;
	for (size_t i = 0; i < len; i++)
		if (console_watch_byte(&f->watch, buf[i]) != CONSOLE_EVENT_NONE)
			f->events++;
}

static void irq_line(void *ctx, unsigned irq, int level)
{
	struct fuzz_ctx *f = ctx;
	(void)irq;
	f->irqs += level != 0;
}

static void event(void *ctx, enum machine_event ev, const char *why)
{
	struct fuzz_ctx *f = ctx;
	(void)ev;
	if (!why || strlen(why) > 4096)
		__builtin_trap();
	f->events++;
}

static time_t fixed_now(void)
{
	return 1764212400; /* 2025-11-27 03:00:00 UTC */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_ctx f = {0};
	struct machine_hooks hooks = {.irq_line = irq_line, .event = event, .ctx = &f};
	struct uart8250 uart;
	struct i8042 kbd = {.hooks = &hooks};
	struct cmos_rtc rtc = {.now = fixed_now};
	struct pvpanic pvp = {.hooks = &hooks};
	struct io_bus bus = {.name = "pio"};

	console_watch_init(&f.watch);
	uart8250_init(&uart, 4, &hooks, sink, &f);
	if (bus_register(&bus, X86_PORT_COM1, 8, &uart8250_ops, &uart, "ttyS0", NULL) < 0 ||
	    bus_register(&bus, X86_PORT_I8042_DATA, 5, &i8042_ops, &kbd, "i8042", NULL) < 0 ||
	    bus_register(&bus, X86_PORT_RTC_INDEX, 2, &cmos_rtc_ops, &rtc, "rtc", NULL) < 0 ||
	    bus_register(&bus, X86_PORT_PVPANIC, 1, &pvpanic_ops, &pvp, "pvpanic", NULL) < 0)
		abort();

	for (size_t off = 0; off + OP_LEN <= size; off += OP_LEN) {
		const uint8_t *op = data + off;
		unsigned len = 1u << (op[0] & 3);
		uint16_t port = (uint16_t)(op[1] | op[2] << 8);
		uint8_t val[8] = {op[3], op[4], op[5], op[0], op[3], op[4], op[5], op[0]};
		if (op[0] & 0x10)
			port = ports[port & 15];
		if (op[0] & 8) {
			(void)uart8250_push_input(&uart, val, 4);
			(void)uart8250_rx_space(&uart);
		} else if (op[0] & 4) {
			uint8_t buf[8];
			memset(buf, 0x5a, sizeof(buf));
			if (bus_read(&bus, port, buf, len)) {
				for (unsigned i = len; i < sizeof(buf); i++)
					if (buf[i] != 0x5a)
						__builtin_trap(); /* wrote past the access */
			}
		} else {
			(void)bus_write(&bus, port, val, len);
		}
	}
	uart8250_destroy(&uart);
	return 0;
}
