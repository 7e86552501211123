/* SPDX-License-Identifier: Apache-2.0 */
/* i8042 keyboard controller: reset only (see devices/legacy.h). */
#include "devices/legacy.h"

#include <string.h>

#define I8042_CMD_RESET	 0xfe
#define I8042_STATUS_SYS 0x04 /* system flag: self-test passed */

static void i8042_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	memset(data, 0, len);
	/* offset 4 is the status port 0x64: output buffer empty, input
	 * buffer empty, so drivers see nothing to read and never wait. */
	if (offset == 4)
		*(uint8_t *)data = I8042_STATUS_SYS;
}

static void i8042_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	struct i8042 *k = opaque;
	if (offset == 4 && len >= 1 && *(const uint8_t *)data == I8042_CMD_RESET && k->hooks)
		k->hooks->event(k->hooks->ctx, MACHINE_EVENT_RESET, "i8042 reset");
}

const struct bus_dev_ops i8042_ops = {.read = i8042_read, .write = i8042_write};
