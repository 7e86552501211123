/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The small legacy devices a minimal x86 guest needs besides the UART:
 *   i8042   ports 0x60/0x64: only the "pulse reset line" command (0xfe),
 *           which Linux uses with reboot=k; the status register says
 *           "no data, input buffer empty" so probes end quickly.
 *   CMOS RTC ports 0x70/0x71: read-only wall clock in BCD, 24 h, so a
 *           kernel reads the time at boot instead of spinning on it.
 *   pvpanic port 0x505 (QEMU's ISA pvpanic): a write of bit 0 reports a
 *           guest panic; reads advertise the "panicked" capability.
 */
#ifndef KVBOX_DEVICES_LEGACY_H
#define KVBOX_DEVICES_LEGACY_H

#include <stdint.h>
#include <time.h>

#include "devices/devices.h"

struct i8042 {
	const struct machine_hooks *hooks;
};

struct cmos_rtc {
	uint8_t index;
	/* Clock source, replaceable in tests; returns seconds since the epoch. */
	time_t (*now)(void);
};

struct pvpanic {
	const struct machine_hooks *hooks;
};

extern const struct bus_dev_ops i8042_ops;
extern const struct bus_dev_ops cmos_rtc_ops;
extern const struct bus_dev_ops pvpanic_ops;

#endif
