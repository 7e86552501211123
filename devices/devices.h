/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a legacy device may ask of the machine it sits in: raise or lower
 * an interrupt line, and report a machine-level event (reset, power-off,
 * panic).  The VMM fills struct machine_hooks; devices never see struct vm,
 * so each device can be tested alone with a fake set of hooks.
 */
#ifndef KVBOX_DEVICES_DEVICES_H
#define KVBOX_DEVICES_DEVICES_H

#include <stdint.h>

enum machine_event {
	MACHINE_EVENT_RESET,	/* guest asked for a reboot */
	MACHINE_EVENT_POWEROFF, /* guest powered off or halted */
	MACHINE_EVENT_PANIC,	/* guest kernel reported a panic */
};

struct machine_hooks {
	void (*irq_line)(void *ctx, unsigned irq, int level);
	void (*event)(void *ctx, enum machine_event ev, const char *why);
	void *ctx;
};

/* Bus callbacks: offset is relative to the device's registered base. */
struct bus_dev_ops {
	void (*read)(void *opaque, uint64_t offset, void *data, unsigned len);
	void (*write)(void *opaque, uint64_t offset, const void *data, unsigned len);
};

#endif
