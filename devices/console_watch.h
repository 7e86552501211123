/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The console watcher: the "pvpanic equivalent" for Linux guests.
 *
 * Without ACPI there is no way for an x86 Linux guest to power itself
 * off (it halts with interrupts disabled, which an in-kernel irqchip never
 * reports), and pvpanic can only be discovered through ACPI or a device
 * tree.  Linux does print fixed lines on the console at those moments, at
 * KERN_EMERG, so they appear even with `quiet`:
 *   "reboot: Power down" / "reboot: System halted"   -> power-off
 *   "Kernel panic - not syncing"                     -> panic
 * The watcher scans the UART output line by line for them.  A guest can
 * forge these lines, but only to end its own VM, which it can do anyway.
 */
#ifndef KVBOX_DEVICES_CONSOLE_WATCH_H
#define KVBOX_DEVICES_CONSOLE_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum console_event {
	CONSOLE_EVENT_NONE,
	CONSOLE_EVENT_PANIC_BEGIN, /* the panic banner; the backtrace follows */
	CONSOLE_EVENT_PANIC_END,   /* "---[ end Kernel panic": nothing more comes */
	CONSOLE_EVENT_POWEROFF,
};

struct console_watch {
	char line[160];
	size_t len;
	bool overflow;
	char panic_reason[128];
};

void console_watch_init(struct console_watch *w);
/* Feeds one byte; returns the event completed by it, if any. */
enum console_event console_watch_byte(struct console_watch *w, uint8_t c);

#endif
