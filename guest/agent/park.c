/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Template support: PARK and RESUME (guest/protocol.h).
 *
 * PARK: the agent answers (a template's reply names the kernel's text and
 * read-only data, which the host then maps copy-on-write from the image
 * into every VM restored from it), flushes, opens a vsock listener on its own
 * port (any CID), closes the channel and waits in accept().  The host
 * snapshots the VM while it waits.  Before any CREATE that image is a
 * template, booted once and restored for many containers; with a
 * container it is a checkpoint (`kvbox checkpoint`): the container's
 * processes are left as they are, their stdio streams are the VMM's to
 * save, and reaping, EXIT events and the terminal relay wait for the next
 * host.  A restored VM's host (or, after checkpoint --leave-running, the
 * same one) connects to that port; the connection is the new channel and
 * starts with HELLO, as after a boot.  WAITs of the old channel are
 * dropped with it: their answers would reach no one.
 *
 * RESUME (the restored host's first request): every VM restored from one
 * template starts with the same random state and the template's clock.
 * The host's seed is mixed into the input pool and credited
 * (RNDADDENTROPY), the CRNG is reseeded from it at once (RNDRESEEDCRNG:
 * every CPU's CRNG takes the new key at its next use), and CLOCK_REALTIME
 * is set to the host's.  Nothing of the container exists yet, so no
 * process of it ever sees the template's state.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <linux/vm_sockets.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "guest/agent/agent.h"

int park_request(struct agent *a, uint32_t id, struct kv_err *err)
{
	for (unsigned i = 0; i < AGENT_PROC_SLOTS; i++)
		if (a->procs[i].state == PROC_PREPARING || a->procs[i].state == PROC_STARTING)
			return kv_err_set(err, EBUSY,
					  "PARK: a process is being created or started");
	a->park_id = id;
	a->park_pending = true; /* after this frame: the channel is replaced */
	return 0;
}

/* The kernel's text and read-only data in guest-physical pages, from
 * /proc/iomem ("Kernel code", "Kernel rodata": inclusive byte ranges),
 * each cut to the whole pages inside it.  The kernel frees the page after
 * _etext's and the gap up to its rodata (mark_rodata_ro): what lies
 * outside these ranges is never claimed.  Returns the entries written to
 * out (pairs), 0 when the file cannot be read. */
static uint32_t kernel_ro_pages(uint32_t out[2 * AGENT_MAX_RO_RANGES])
{
	static const char *const names[] = {"Kernel code", "Kernel rodata"};
	FILE *f = fopen("/proc/iomem", "re");
	char line[256];
	uint32_t n = 0;
	uint64_t end = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f) && n < 2 * AGENT_MAX_RO_RANGES) {
		unsigned long long lo, hi;
		int at = 0;
		if (sscanf(line, " %llx-%llx : %n", &lo, &hi, &at) != 2 || !at || hi < lo)
			continue;
		char *name = line + at;
		name[strcspn(name, "\n")] = 0;
		bool want = false;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			want |= !strcmp(name, names[i]);
		uint64_t first = (lo + 4095) / 4096, last = (hi + 1) / 4096; /* [first, last) */
		if (!want || last <= first || first < end || last > UINT32_MAX)
			continue;
		out[n++] = (uint32_t)first;
		out[n++] = (uint32_t)(last - first);
		end = last;
	}
	fclose(f);
	return n;
}

/* Replaces the channel by the next host's connection; powers off on
 * failure (returns an error message for it). */
const char *park_now(struct agent *a)
{
	a->park_pending = false;
	struct agent_msg r;
	uint32_t ro[2 * AGENT_MAX_RO_RANGES];
	agent_msg_init(&r, AGENT_PARK, AGENT_F_REPLY, a->park_id);
	if (!a->created) {
		r.u.parked.kernel_ro = ro;
		r.u.parked.nkernel_ro = kernel_ro_pages(ro);
	}
	agent_send(a, &r);
	if (chan_drain(&a->chan, 5000) < 0)
		return "PARK: the reply could not be sent";
	int l = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_vm sa = {
	    .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = a->cfg.port};
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0)
		return "PARK: cannot listen on the agent port";
	epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->chan.fd, NULL);
	chan_close(&a->chan); /* the host saves the VM once it sees this */
	for (unsigned i = 0; i < AGENT_PROC_SLOTS; i++)
		a->procs[i].nwaiters = 0;
	if (a->cfg.debug)
		agent_log("parked: waiting for a host on vsock port %u", a->cfg.port);
	int fd;
	while ((fd = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0)
		if (errno != EINTR && errno != ECONNABORTED)
			return "PARK: accept on the agent port failed";
	close(l);
	struct kv_err err = {0};
	if (chan_adopt(&a->chan, fd, &err) < 0)
		return "PARK: cannot set up the new channel";
	if (agent_epoll_set(a, a->chan.fd, EPOLLIN, TOKEN(TOK_CHAN, 0), true) < 0)
		return "PARK: epoll_ctl on the new channel";
	if (a->cfg.debug)
		agent_log("a host connected: the channel is back");
	return NULL;
}

int resume_request(struct agent *a, const struct agent_resume *rs, struct kv_err *err)
{
	struct {
		int entropy_count;
		int buf_size;
		uint8_t buf[AGENT_SEED_BYTES];
	} pool = {.entropy_count = (int)rs->seed_len * 8, .buf_size = (int)rs->seed_len};
	memcpy(pool.buf, rs->seed, rs->seed_len);
	int fd = open("/dev/urandom", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return kv_err_sys(err, errno, "RESUME: /dev/urandom");
	int r = 0;
	if (ioctl(fd, RNDADDENTROPY, &pool) < 0)
		r = kv_err_sys(err, errno, "RESUME: RNDADDENTROPY");
	else if (ioctl(fd, RNDRESEEDCRNG) < 0)
		r = kv_err_sys(err, errno, "RESUME: RNDRESEEDCRNG");
	close(fd);
	explicit_bzero(&pool, sizeof(pool));
	if (r < 0)
		return r;
	struct timespec ts = {.tv_sec = (time_t)(rs->realtime_ns / 1000000000u),
			      .tv_nsec = (long)(rs->realtime_ns % 1000000000u)};
	if (clock_settime(CLOCK_REALTIME, &ts) < 0)
		return kv_err_sys(err, errno, "RESUME: clock_settime");
	if (a->cfg.debug)
		agent_log("resumed: %u bytes of host entropy, CRNG reseeded, clock set",
			  rs->seed_len);
	return 0;
}
