/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest networking the agent owns today: bringing up loopback at boot, and
 * connecting vsock streams to the host (the control channel and stdio).
 * Interface addresses, routes and MTU for a container NIC come with the
 * networking work (netlink), not here.
 */
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "guest/agent/agent.h"
#include "util/cleanup.h"

int net_loopback_up(struct kv_err *err)
{
	cleanup_close int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return kv_err_sys(err, errno, "loopback: socket");
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return kv_err_sys(err, errno, "loopback: SIOCGIFFLAGS");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return kv_err_sys(err, errno, "loopback: SIOCSIFFLAGS");
	return 0;
}

static int vsock_try(uint32_t cid, uint32_t port, unsigned timeout_ms)
{
	int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	setsockopt(s, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv));
	struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port};
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(s);
		return -e;
	}
	return s;
}

/* Connects to (cid, port), retrying refusals until timeout_ms: the host
 * may not be listening yet when the guest is quick. */
int net_vsock_connect(uint32_t cid, uint32_t port, unsigned timeout_ms, struct kv_err *err)
{
	uint64_t deadline = agent_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	int r;
	for (;;) {
		r = vsock_try(cid, port, timeout_ms);
		if (r >= 0)
			return r;
		bool retry = r == -ECONNREFUSED || r == -ECONNRESET || r == -ETIMEDOUT ||
			     r == -EINTR || r == -ENODEV || r == -EHOSTUNREACH;
		if (!retry || agent_now_ns() >= deadline)
			break;
		struct timespec ts = {0, 20 * 1000000};
		nanosleep(&ts, NULL);
	}
	return kv_err_set(err, -r, "vsock connect to cid %u port %u: %s", cid, port, strerror(-r));
}
