/* SPDX-License-Identifier: Apache-2.0 */
/* Sorted range table for port I/O and MMIO; see vmm/bus.h. */
#include "vmm/bus.h"

#include <errno.h>
#include <string.h>

int bus_register(struct io_bus *bus, uint64_t base, uint64_t len, const struct bus_dev_ops *ops,
		 void *opaque, const char *name, struct kv_err *err)
{
	if (len == 0 || base + len < base)
		return kv_err_set(err, EINVAL, "%s bus: bad range for %s", bus->name, name);
	if (bus->n == BUS_MAX_RANGES)
		return kv_err_set(err, ENOSPC, "%s bus: no room for %s", bus->name, name);
	unsigned i = 0;
	while (i < bus->n && bus->r[i].base < base)
		i++;
	if ((i > 0 && bus->r[i - 1].base + bus->r[i - 1].len > base) ||
	    (i < bus->n && base + len > bus->r[i].base))
		return kv_err_set(err, EEXIST, "%s bus: %s at 0x%llx overlaps another device",
				  bus->name, name, (unsigned long long)base);
	memmove(&bus->r[i + 1], &bus->r[i], (bus->n - i) * sizeof(bus->r[0]));
	bus->r[i] = (struct bus_range){base, len, ops, opaque, name};
	bus->n++;
	return 0;
}

static const struct bus_range *bus_find(const struct io_bus *bus, uint64_t addr, unsigned len)
{
	unsigned lo = 0, hi = bus->n;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->r[mid];
		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return (len <= r->len - (addr - r->base)) ? r : NULL;
	}
	return NULL;
}

bool bus_read(const struct io_bus *bus, uint64_t addr, void *data, unsigned len)
{
	const struct bus_range *r = bus_find(bus, addr, len);
	if (!r || !r->ops->read) {
		memset(data, 0xff, len);
		return r != NULL;
	}
	r->ops->read(r->opaque, addr - r->base, data, len);
	return true;
}

bool bus_write(const struct io_bus *bus, uint64_t addr, const void *data, unsigned len)
{
	const struct bus_range *r = bus_find(bus, addr, len);
	if (!r)
		return false;
	if (r->ops->write)
		r->ops->write(r->opaque, addr - r->base, data, len);
	return true;
}
