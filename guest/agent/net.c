/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest networking the agent owns: loopback at boot; the NICs of CREATE
 * (net_configure: over rtnetlink, util/rtnl.h); vsock streams to the host
 * (the control channel and stdio).
 *
 * A NIC of CREATE is the guest side of a host interface the sandbox
 * mirrors (oci/net.h): the virtio-net device has that interface's MAC, so
 * the NIC is found by MAC, renamed to the host interface's name (first to
 * a temporary name, so two NICs can trade names), given its MTU and
 * brought up; then its addresses (IPv6 without duplicate address
 * detection: the address is the container's already), then its on-link
 * routes, then the routes through a gateway.  The container shares this
 * network stack: the VM is its network namespace.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
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
#include "util/rtnl.h"

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

/* ---- NICs from CREATE ---- */

struct link_find {
	const uint8_t *mac;
	int index;
};

static int link_by_mac(const struct nlmsghdr *h, void *ctx)
{
	struct link_find *f = ctx;
	if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
		return 0;
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	const struct rtattr *tb[IFLA_MAX + 1];
	rtnl_parse_msg(h, sizeof(*ifi), tb, IFLA_MAX);
	if (tb[IFLA_ADDRESS] && rtnl_len(tb[IFLA_ADDRESS]) == 6 &&
	    !memcmp(rtnl_data(tb[IFLA_ADDRESS]), f->mac, 6))
		f->index = ifi->ifi_index;
	return 0;
}

static int link_set(struct rtnl *nl, int index, const char *name, uint32_t mtu, bool up)
{
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC,
				.ifi_index = index,
				.ifi_change = IFF_UP,
				.ifi_flags = up ? IFF_UP : 0};
	struct rtnl_msg m;
	rtnl_msg_init(&m, RTM_NEWLINK, 0, &ifi, sizeof(ifi));
	if (name)
		rtnl_attr_str(&m, IFLA_IFNAME, name);
	if (mtu)
		rtnl_attr_u32(&m, IFLA_MTU, mtu);
	return rtnl_talk(nl, &m);
}

static int nic_fill(struct rtnl *nl, const struct agent_net_if *n, int index, struct kv_err *err)
{
	int r = link_set(nl, index, n->name, n->mtu, true);
	if (r < 0)
		return kv_err_set(err, -r, "network: %s: rename, MTU %u, up: %s", n->name, n->mtu,
				  strerror(-r));
	char ip[INET6_ADDRSTRLEN];
	for (uint32_t i = 0; i < n->naddrs; i++) {
		const struct agent_ip_addr *a = &n->addrs[i];
		if ((r = rtnl_addr(nl, RTM_NEWADDR, index, (int)a->family, a->addr, a->prefix)) <
		    0) {
			inet_ntop((int)a->family, a->addr, ip, sizeof(ip));
			return kv_err_set(err, -r, "network: %s: address %s/%u: %s", n->name, ip,
					  a->prefix, strerror(-r));
		}
	}
	/* on-link routes first: a gateway must be reachable when its route
	 * is added */
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < n->nroutes; i++) {
			const struct agent_route *rt = &n->routes[i];
			if ((rt->gateway_len != 0) != pass)
				continue;
			r = rtnl_route(nl, RTM_NEWROUTE, index, (int)rt->family,
				       rt->dst_len ? rt->dst : NULL, rt->prefix,
				       rt->gateway_len ? rt->gateway : NULL, rt->metric);
			if (r < 0) {
				if (rt->dst_len)
					inet_ntop((int)rt->family, rt->dst, ip, sizeof(ip));
				else
					strcpy(ip, "default");
				return kv_err_set(err, -r, "network: %s: route %s/%u: %s", n->name,
						  ip, rt->prefix, strerror(-r));
			}
		}
	}
	return 0;
}

int net_configure(const struct agent_net_if *nets, uint32_t n, struct kv_err *err)
{
	if (!n)
		return 0;
	int index[AGENT_MAX_NETS];
	struct rtnl nl;
	int r = rtnl_open(&nl);
	if (r < 0)
		return kv_err_set(err, -r, "network: netlink socket: %s", strerror(-r));
	for (uint32_t i = 0; i < n && i < AGENT_MAX_NETS && r >= 0; i++) {
		struct link_find f = {nets[i].mac, 0};
		struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
		struct rtnl_msg m;
		rtnl_msg_init(&m, RTM_GETLINK, 0, &ifi, sizeof(ifi));
		r = rtnl_dump(&nl, &m, link_by_mac, &f);
		if (r < 0) {
			kv_err_set(err, -r, "network: listing links: %s", strerror(-r));
		} else if (!f.index) {
			const uint8_t *a = nets[i].mac;
			r = kv_err_set(err, ENODEV,
				       "network: %s: no NIC with MAC %02x:%02x:%02x:%02x:%02x:%02x",
				       nets[i].name, a[0], a[1], a[2], a[3], a[4], a[5]);
		} else {
			index[i] = f.index;
			/* down and out of the way of the names wanted */
			char tmp[IFNAMSIZ];
			snprintf(tmp, sizeof(tmp), "kvbtmp%u", i);
			if ((r = link_set(&nl, f.index, tmp, 0, false)) < 0)
				kv_err_set(err, -r, "network: %s: rename: %s", nets[i].name,
					   strerror(-r));
		}
	}
	for (uint32_t i = 0; i < n && i < AGENT_MAX_NETS && r >= 0; i++)
		r = nic_fill(&nl, &nets[i], index[i], err);
	rtnl_close(&nl);
	return r < 0 ? r : 0;
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
