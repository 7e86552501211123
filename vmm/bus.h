/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Port-I/O and MMIO dispatch.  Devices register non-overlapping ranges
 * while the machine is being built; the table is sorted and never changes
 * once vCPUs run, so lookups from vCPU threads need no lock.
 */
#ifndef KVBOX_VMM_BUS_H
#define KVBOX_VMM_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/devices.h"
#include "util/err.h"

#define BUS_MAX_RANGES 32

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_dev_ops *ops;
	void *opaque;
	const char *name;
};

struct io_bus {
	const char *name; /* "pio" or "mmio", for messages */
	unsigned n;
	struct bus_range r[BUS_MAX_RANGES];
};

int bus_register(struct io_bus *bus, uint64_t base, uint64_t len, const struct bus_dev_ops *ops,
		 void *opaque, const char *name, struct kv_err *err);

/* Dispatch an access.  Returns false when no device claims the whole
 * [addr, addr+len) range; a read then returns all-ones, as on real buses. */
bool bus_read(const struct io_bus *bus, uint64_t addr, void *data, unsigned len);
bool bus_write(const struct io_bus *bus, uint64_t addr, const void *data, unsigned len);

#endif
