/* SPDX-License-Identifier: Apache-2.0 */
/* ISA pvpanic at port 0x505 (see devices/legacy.h). */
#include "devices/legacy.h"

#include <string.h>

#define PVPANIC_PANICKED  (1u << 0)
#define PVPANIC_CRASHLOAD (1u << 1)

static void pvpanic_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	memset(data, 0, len);
	*(uint8_t *)data = PVPANIC_PANICKED;
}

static void pvpanic_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	struct pvpanic *p = opaque;
	if (len >= 1 && (*(const uint8_t *)data & PVPANIC_PANICKED) && p->hooks)
		p->hooks->event(p->hooks->ctx, MACHINE_EVENT_PANIC, "pvpanic");
}

const struct bus_dev_ops pvpanic_ops = {.read = pvpanic_read, .write = pvpanic_write};
