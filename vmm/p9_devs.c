/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-9p devices of a machine and their gofer process; see
 * vmm/p9_devs.h.  Request flow once wired: guest QueueNotify -> KVM
 * ioeventfd -> the gofer (never this process) -> irqfd -> guest.  This
 * process only sees register accesses, activation (ACTIVATE over the
 * control socket), resets (RESET, acknowledged before the status write
 * returns) and the gofer's reports.
 */
#include "vmm/p9_devs.h"

#include <errno.h>
#include <inttypes.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/vm.h"

unsigned vm_p9_count(const struct vm_config *cfg)
{
	return cfg->nshares;
}

/* The gofer's control socket is readable (a QUEUE_ERROR, or its end). */
static void gofer_ready(void *ctx, int fd, uint32_t events)
{
	struct vm *vm = ctx;
	struct vm_p9 *p = &vm->virtio.p9;
	(void)events;
	if (gofer_client_ready(&p->gofer) < 0) {
		/* Gone: every 9p device already has NEEDS_RESET. */
		fd_handlers_remove(&vm->handlers, fd);
		p->watching = false;
	}
}

static int start_gofer(struct vm *vm, struct kv_err *err)
{
	struct vm_p9 *p = &vm->virtio.p9;
	struct gofer_client_config cfg = {.exe = vm->cfg.gofer_exe,
					  .shares = vm->cfg.shares,
					  .nshares = vm->cfg.nshares,
					  .lazy_mem = vm->cfg.lazy_mem};
	int r = gofer_client_start(&p->gofer, &cfg, err);
	if (r < 0)
		return r;
	p->gofer_live = true;
	if ((r = gofer_client_set_mem(&p->gofer, &vm->mem, err)) < 0)
		return r;
	r = fd_handlers_add(&vm->handlers, gofer_client_fd(&p->gofer), EPOLLIN, gofer_ready, vm,
			    "gofer", err);
	if (r < 0)
		return r;
	p->watching = true;
	return 0;
}

int vm_p9_create(struct vm *vm, unsigned i, struct virtio_dev **dev, struct kv_err *err)
{
	struct vm_p9 *p = &vm->virtio.p9;
	int r;

	if (i == 0) {
		for (unsigned k = 0; k < GOFER_MAX_SHARES; k++)
			p->own_kick[k] = -1;
		if ((r = start_gofer(vm, err)) < 0)
			return r;
	}
	if (i >= GOFER_MAX_SHARES)
		return kv_err_set(err, EINVAL, "more than %d shares", GOFER_MAX_SHARES);
	if ((r = virtio_p9_init(&p->dev[i], vm->cfg.shares[i].tag, &vm->mem, err)) < 0)
		return r;
	p->n = i + 1;
	struct virtio_p9_backend b;
	gofer_client_backend(&p->gofer, i, &b);
	virtio_p9_set_backend(&p->dev[i], &b);
	*dev = &p->dev[i].vdev;
	return 0;
}

int vm_p9_wire(struct vm *vm, unsigned i, struct vm_virtio_slot *s, struct kv_err *err)
{
	struct vm_p9 *p = &vm->virtio.p9;
	int kick, irq;
	int r = vm_virtio_external_fds(&vm->handlers, s, 0, &kick, &irq);

	if (r < 0)
		return kv_err_set(err, -r, "%s: no queue 0", s->name);
	if (kick < 0) {
		/* Notifications come by MMIO exit: the device forwards them
		 * (backend kick) to an eventfd of our own. */
		p->own_kick[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p->own_kick[i] < 0)
			return kv_err_sys(err, errno, "%s: eventfd", s->name);
		kick = p->own_kick[i];
	}
	gofer_client_bind(&p->gofer, i, s->dev, kick, irq);
	return 0;
}

void vm_p9_destroy(struct vm *vm)
{
	struct vm_p9 *p = &vm->virtio.p9;

	if (p->watching)
		fd_handlers_remove(&vm->handlers, gofer_client_fd(&p->gofer));
	p->watching = false;
	if (p->gofer_live)
		gofer_client_destroy(&p->gofer);
	p->gofer_live = false;
	for (unsigned i = 0; i < p->n; i++) {
		virtio_p9_destroy(&p->dev[i]);
		if (p->own_kick[i] >= 0)
			close(p->own_kick[i]);
		p->own_kick[i] = -1;
	}
	p->n = 0;
}

void vm_p9_report(const struct vm_virtio *v, FILE *f)
{
	const struct vm_p9 *p = &v->p9;

	for (unsigned i = 0; i < p->n; i++)
		fprintf(f, "kvbox: virtio-9p '%s': %s\n", p->dev[i].tag,
			virtio_dev_driver_ok(&p->dev[i].vdev) ? "served by the gofer"
							      : "not active");
	if (p->gofer_live && p->gofer.pid < 0)
		fprintf(f, "kvbox: gofer: exited (wait status 0x%x)\n", p->gofer.exit_status);
}
