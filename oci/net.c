/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mirroring a network namespace's interfaces into the VM: see oci/net.h.
 * Flow of oci_net_setup(): mode -> namespace (setns) -> list the links
 * -> per interface: its addresses and routes, the tap, the two ingress
 * qdiscs and mirred filters, the state file, the addresses flushed.  The
 * state file is rewritten after each interface, so a crash part-way
 * leaves delete everything it needs.
 *
 * State file (text, one item a line, written by us, read back by delete):
 *   netns PATH|-  DEV INO          the namespace (its inode, to check)
 *   link NAME INDEX TAP            one per interface
 *   addr FAMILY HEX PREFIX          its addresses (the last link's)
 *   route FAMILY DST|- PREFIX GW|- METRIC
 */
#include "oci/net.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if_arp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/tc_act/tc_mirred.h>

#include "util/cleanup.h"
#include "util/rtnl.h"

int oci_net_mode_parse(const char *s, enum oci_net_mode *mode)
{
	if (!strcmp(s, "sandbox"))
		*mode = OCI_NET_SANDBOX;
	else if (!strcmp(s, "none"))
		*mode = OCI_NET_NONE;
	else
		return -EINVAL;
	return 0;
}

const char *oci_net_mode_name(enum oci_net_mode mode)
{
	return mode == OCI_NET_NONE ? "none" : "sandbox";
}

/* ---- reading the namespace ---- */

struct scan {
	struct oci_net *n;
	struct kv_err *err;
	int r;
};

static int on_link(const struct nlmsghdr *h, void *ctx)
{
	struct scan *s = ctx;
	if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
		return 0;
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	const struct rtattr *tb[IFLA_MAX + 1];
	rtnl_parse_msg(h, sizeof(*ifi), tb, IFLA_MAX);
	if (ifi->ifi_flags & IFF_LOOPBACK)
		return 0;
	char name[IFNAMSIZ] = "?";
	if (tb[IFLA_IFNAME])
		snprintf(name, sizeof(name), "%.*s", (int)rtnl_len(tb[IFLA_IFNAME]),
			 (const char *)rtnl_data(tb[IFLA_IFNAME]));
	if (ifi->ifi_type != ARPHRD_ETHER || !tb[IFLA_ADDRESS] || rtnl_len(tb[IFLA_ADDRESS]) != 6)
		return s->r = kv_err_set(s->err, EOPNOTSUPP,
					 "interface %s cannot be mirrored into the VM: not an "
					 "Ethernet device (link type %u); use --network none",
					 name, ifi->ifi_type);
	if (s->n->nlinks == OCI_NET_MAX)
		return s->r = kv_err_set(s->err, E2BIG,
					 "interface %s: more than %u interfaces to mirror", name,
					 OCI_NET_MAX);
	struct oci_net_link *l = &s->n->links[s->n->nlinks++];
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->index = ifi->ifi_index;
	l->tap_fd = -1;
	memcpy(l->mac, rtnl_data(tb[IFLA_ADDRESS]), 6);
	l->mtu = rtnl_get_u32(tb[IFLA_MTU], NET_MTU_DEFAULT);
	if (l->mac[0] & 1)
		return s->r = kv_err_set(s->err, EINVAL, "interface %s has a multicast MAC", name);
	if (l->mtu < NET_MTU_MIN || l->mtu > NET_MTU_MAX)
		return s->r = kv_err_set(s->err, ERANGE, "interface %s: MTU %u outside %u..%u",
					 name, l->mtu, NET_MTU_MIN, NET_MTU_MAX);
	return 0;
}

static struct oci_net_link *link_of(struct oci_net *n, int index)
{
	for (unsigned i = 0; i < n->nlinks; i++)
		if (n->links[i].index == index)
			return &n->links[i];
	return NULL;
}

static int on_addr(const struct nlmsghdr *h, void *ctx)
{
	struct scan *s = ctx;
	if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifaddrmsg)))
		return 0;
	const struct ifaddrmsg *ifa = NLMSG_DATA(h);
	struct oci_net_link *l = link_of(s->n, (int)ifa->ifa_index);
	if (!l || (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return 0;
	/* IPv6 link-local: the guest makes its own from the same MAC */
	if (ifa->ifa_family == AF_INET6 && ifa->ifa_scope != RT_SCOPE_UNIVERSE)
		return 0;
	const struct rtattr *tb[IFA_MAX + 1];
	rtnl_parse_msg(h, sizeof(*ifa), tb, IFA_MAX);
	const struct rtattr *a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	size_t alen = ifa->ifa_family == AF_INET ? 4 : 16;
	if (!a || rtnl_len(a) != alen)
		return 0;
	if (l->naddrs == AGENT_MAX_ADDRS)
		return s->r = kv_err_set(s->err, E2BIG, "interface %s: more than %u addresses",
					 l->name, AGENT_MAX_ADDRS);
	unsigned i = l->naddrs++;
	memcpy(l->addr_buf[i], rtnl_data(a), alen);
	l->addrs[i] = (struct agent_ip_addr){ifa->ifa_family, l->addr_buf[i], (uint32_t)alen,
					     ifa->ifa_prefixlen};
	return 0;
}

static int on_route(const struct nlmsghdr *h, void *ctx)
{
	struct scan *s = ctx;
	if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg)))
		return 0;
	const struct rtmsg *rt = NLMSG_DATA(h);
	const struct rtattr *tb[RTA_MAX + 1];
	rtnl_parse_msg(h, sizeof(*rt), tb, RTA_MAX);
	uint32_t table = rtnl_get_u32(tb[RTA_TABLE], rt->rtm_table);
	struct oci_net_link *l = link_of(s->n, (int)rtnl_get_u32(tb[RTA_OIF], 0));
	/* the kernel's own (from an address, the link) come back by themselves */
	if (!l || table != RT_TABLE_MAIN || rt->rtm_type != RTN_UNICAST ||
	    rt->rtm_protocol == RTPROT_KERNEL ||
	    (rt->rtm_family != AF_INET && rt->rtm_family != AF_INET6))
		return 0;
	size_t alen = rt->rtm_family == AF_INET ? 4 : 16;
	const struct rtattr *dst = tb[RTA_DST], *gw = tb[RTA_GATEWAY];
	if ((dst && rtnl_len(dst) != alen) || (gw && rtnl_len(gw) != alen))
		return 0;
	if (!dst && rt->rtm_dst_len)
		return 0;
	if (l->nroutes == AGENT_MAX_ADDRS)
		return s->r = kv_err_set(s->err, E2BIG, "interface %s: more than %u routes",
					 l->name, AGENT_MAX_ADDRS);
	unsigned i = l->nroutes++;
	struct agent_route *r = &l->routes[i];
	*r = (struct agent_route){.family = rt->rtm_family,
				  .prefix = rt->rtm_dst_len,
				  .metric = rtnl_get_u32(tb[RTA_PRIORITY], 0)};
	if (dst) {
		memcpy(l->dst_buf[i], rtnl_data(dst), alen);
		r->dst = l->dst_buf[i];
		r->dst_len = (uint32_t)alen;
	}
	if (gw) {
		memcpy(l->gw_buf[i], rtnl_data(gw), alen);
		r->gateway = l->gw_buf[i];
		r->gateway_len = (uint32_t)alen;
	}
	return 0;
}

static int scan(struct rtnl *nl, struct oci_net *n, struct kv_err *err)
{
	struct scan s = {n, err, 0};
	struct rtnl_msg m;
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
	rtnl_msg_init(&m, RTM_GETLINK, 0, &ifi, sizeof(ifi));
	int r = rtnl_dump(nl, &m, on_link, &s);
	if (s.r < 0 || !n->nlinks)
		return s.r;
	if (r < 0)
		return kv_err_set(err, -r, "listing network interfaces: %s", strerror(-r));
	struct ifaddrmsg ifa = {.ifa_family = AF_UNSPEC};
	rtnl_msg_init(&m, RTM_GETADDR, 0, &ifa, sizeof(ifa));
	r = rtnl_dump(nl, &m, on_addr, &s);
	if (s.r < 0)
		return s.r;
	if (r < 0)
		return kv_err_set(err, -r, "listing addresses: %s", strerror(-r));
	for (int fam = 0; fam < 2; fam++) {
		struct rtmsg rt = {.rtm_family = fam ? AF_INET6 : AF_INET};
		rtnl_msg_init(&m, RTM_GETROUTE, 0, &rt, sizeof(rt));
		r = rtnl_dump(nl, &m, on_route, &s);
		if (s.r < 0)
			return s.r;
		if (r < 0 && !(fam && r == -EAFNOSUPPORT))
			return kv_err_set(err, -r, "listing routes: %s", strerror(-r));
	}
	return 0;
}

/* ---- tc: ingress qdisc + matchall/mirred to the other side ---- */

static int qdisc(struct rtnl *nl, uint16_t cmd, int index)
{
	struct tcmsg tc = {.tcm_family = AF_UNSPEC,
			   .tcm_ifindex = index,
			   .tcm_handle = TC_H_MAKE(TC_H_INGRESS, 0),
			   .tcm_parent = TC_H_INGRESS};
	struct rtnl_msg m;
	rtnl_msg_init(&m, cmd, cmd == RTM_NEWQDISC ? NLM_F_CREATE | NLM_F_EXCL : 0, &tc,
		      sizeof(tc));
	rtnl_attr_str(&m, TCA_KIND, "ingress");
	return rtnl_talk(nl, &m);
}

static int redirect(struct rtnl *nl, int from, int to)
{
	struct tcmsg tc = {.tcm_family = AF_UNSPEC,
			   .tcm_ifindex = from,
			   .tcm_handle = 1,
			   .tcm_parent = TC_H_MAKE(TC_H_INGRESS, 0),
			   .tcm_info = TC_H_MAKE(1u << 16, htons(ETH_P_ALL))};
	struct rtnl_msg m;
	rtnl_msg_init(&m, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, &tc, sizeof(tc));
	rtnl_attr_str(&m, TCA_KIND, "matchall");
	size_t opts = rtnl_nest_start(&m, TCA_OPTIONS);
	size_t acts = rtnl_nest_start(&m, TCA_MATCHALL_ACT);
	size_t act = rtnl_nest_start(&m, 1);
	rtnl_attr_str(&m, TCA_ACT_KIND, "mirred");
	size_t aopts = rtnl_nest_start(&m, TCA_ACT_OPTIONS);
	struct tc_mirred p = {
	    .action = TC_ACT_STOLEN, .eaction = TCA_EGRESS_REDIR, .ifindex = (uint32_t)to};
	rtnl_attr(&m, TCA_MIRRED_PARMS, &p, sizeof(p));
	rtnl_nest_end(&m, aopts);
	rtnl_nest_end(&m, act);
	rtnl_nest_end(&m, acts);
	rtnl_nest_end(&m, opts);
	return rtnl_talk(nl, &m);
}

static int link_up(struct rtnl *nl, int index, uint32_t mtu)
{
	struct ifinfomsg ifi = {
	    .ifi_family = AF_UNSPEC, .ifi_index = index, .ifi_change = IFF_UP, .ifi_flags = IFF_UP};
	struct rtnl_msg m;
	rtnl_msg_init(&m, RTM_NEWLINK, 0, &ifi, sizeof(ifi));
	if (mtu)
		rtnl_attr_u32(&m, IFLA_MTU, mtu);
	return rtnl_talk(nl, &m);
}

static int tc_fail(struct kv_err *err, int r, const struct oci_net_link *l, const char *what)
{
	return kv_err_set(err, -r,
			  "interface %s cannot be mirrored into the VM: %s: %s (the host needs "
			  "tc ingress qdiscs, matchall filters and mirred actions: sch_ingress, "
			  "cls_matchall, act_mirred)",
			  l->name, what, strerror(-r));
}

static int mirror(struct rtnl *nl, struct oci_net_link *l, unsigned i, struct kv_err *err)
{
	if (access("/dev/net/tun", F_OK) < 0)
		return kv_err_sys(err, errno, "interface %s: /dev/net/tun (needed for its tap)",
				  l->name);
	char want[IFNAMSIZ];
	snprintf(want, sizeof(want), OCI_NET_TAP "%u", i);
	l->tap_fd = virtio_net_tap_open(want, l->tap, err);
	if (l->tap_fd < 0)
		return kv_err_wrap(err, l->tap_fd, "interface %s: its tap", l->name);
	l->tap_index = (int)if_nametoindex(l->tap);
	if (!l->tap_index)
		return kv_err_sys(err, errno, "tap %s", l->tap);
	int r = link_up(nl, l->tap_index, l->mtu);
	if (r < 0)
		return kv_err_set(err, -r, "tap %s: MTU %u, up: %s", l->tap, l->mtu, strerror(-r));
	if ((r = link_up(nl, l->index, 0)) < 0)
		return kv_err_set(err, -r, "interface %s: up: %s", l->name, strerror(-r));
	if ((r = qdisc(nl, RTM_NEWQDISC, l->index)) < 0)
		return tc_fail(err, r, l,
			       r == -EEXIST ? "it has an ingress qdisc already (another sandbox?)"
					    : "ingress qdisc");
	l->qdisc_if = true;
	if ((r = qdisc(nl, RTM_NEWQDISC, l->tap_index)) < 0)
		return tc_fail(err, r, l, "ingress qdisc on the tap");
	l->qdisc_tap = true;
	if ((r = redirect(nl, l->index, l->tap_index)) < 0 ||
	    (r = redirect(nl, l->tap_index, l->index)) < 0)
		return tc_fail(err, r, l, "matchall filter with a mirred redirect");
	return 0;
}

/* ---- the state file ---- */

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = 0;
}

static int state_write(const struct oci_net *n, int dirfd, struct kv_err *err)
{
	int fd =
	    openat(dirfd, OCI_NET_STATE ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cleanup_fclose FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f) {
		if (fd >= 0)
			close(fd);
		return kv_err_sys(err, errno, "writing the network state");
	}
	fprintf(f, "netns %s %llu %llu\n", n->netns[0] ? n->netns : "-",
		(unsigned long long)n->ns_dev, (unsigned long long)n->ns_ino);
	char a[33], b[33];
	for (unsigned i = 0; i < n->nlinks; i++) {
		const struct oci_net_link *l = &n->links[i];
		fprintf(f, "link %s %d %s\n", l->name, l->index, l->tap[0] ? l->tap : "-");
		for (unsigned j = 0; j < l->naddrs; j++) {
			hex(l->addrs[j].addr, l->addrs[j].addr_len, a);
			fprintf(f, "addr %u %s %u\n", l->addrs[j].family, a, l->addrs[j].prefix);
		}
		for (unsigned j = 0; j < l->nroutes; j++) {
			const struct agent_route *r = &l->routes[j];
			strcpy(a, "-");
			strcpy(b, "-");
			if (r->dst_len)
				hex(r->dst, r->dst_len, a);
			if (r->gateway_len)
				hex(r->gateway, r->gateway_len, b);
			fprintf(f, "route %u %s %u %s %u\n", r->family, a, r->prefix, b, r->metric);
		}
	}
	if (fflush(f) != 0 || fsync(fileno(f)) < 0 ||
	    renameat(dirfd, OCI_NET_STATE ".tmp", dirfd, OCI_NET_STATE) < 0)
		return kv_err_sys(err, errno, "writing the network state");
	return 0;
}

static bool unhex(const char *s, uint8_t *out, uint32_t *len)
{
	size_t n = strlen(s);
	*len = 0;
	if (!strcmp(s, "-"))
		return true;
	if (n != 8 && n != 32)
		return false;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return false;
		out[i] = (uint8_t)v;
	}
	*len = (uint32_t)(n / 2);
	return true;
}

static int state_read(struct oci_net *n, int dirfd, struct kv_err *err)
{
	int fd = openat(dirfd, OCI_NET_STATE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return 0;
	cleanup_fclose FILE *f = fd < 0 ? NULL : fdopen(fd, "r");
	if (!f) {
		if (fd >= 0)
			close(fd);
		return kv_err_sys(err, errno, "reading the network state");
	}
	char line[4200], w1[4097], w2[40], w3[40];
	unsigned long long dev, ino;
	unsigned u1, u2, u3;
	int idx;
	struct oci_net_link *l = NULL;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "netns %4096s %llu %llu", w1, &dev, &ino) == 3) {
			snprintf(n->netns, sizeof(n->netns), "%s", strcmp(w1, "-") ? w1 : "");
			n->ns_dev = dev;
			n->ns_ino = ino;
		} else if (sscanf(line, "link %15s %d %15s", w2, &idx, w3) == 3 &&
			   n->nlinks < OCI_NET_MAX) {
			l = &n->links[n->nlinks++];
			snprintf(l->name, sizeof(l->name), "%s", w2);
			snprintf(l->tap, sizeof(l->tap), "%s", strcmp(w3, "-") ? w3 : "");
			l->index = idx;
			l->tap_fd = -1;
			l->qdisc_if = l->flushed = true;
		} else if (l && sscanf(line, "addr %u %39s %u", &u1, w2, &u2) == 3 &&
			   l->naddrs < AGENT_MAX_ADDRS) {
			unsigned i = l->naddrs;
			struct agent_ip_addr *a = &l->addrs[i];
			if (!unhex(w2, l->addr_buf[i], &a->addr_len) || !a->addr_len)
				continue;
			a->family = u1;
			a->addr = l->addr_buf[i];
			a->prefix = u2;
			l->naddrs++;
		} else if (l &&
			   sscanf(line, "route %u %39s %u %39s %u", &u1, w2, &u2, w3, &u3) == 5 &&
			   l->nroutes < AGENT_MAX_ADDRS) {
			unsigned i = l->nroutes;
			struct agent_route *r = &l->routes[i];
			if (!unhex(w2, l->dst_buf[i], &r->dst_len) ||
			    !unhex(w3, l->gw_buf[i], &r->gateway_len))
				continue;
			r->family = u1;
			r->prefix = u2;
			r->metric = u3;
			r->dst = r->dst_len ? l->dst_buf[i] : NULL;
			r->gateway = r->gateway_len ? l->gw_buf[i] : NULL;
			l->nroutes++;
		}
	}
	return 1;
}

/* ---- set-up and teardown ---- */

static int ns_id(uint64_t *dev, uint64_t *ino)
{
	struct stat st;
	if (stat("/proc/self/ns/net", &st) < 0)
		return -errno;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

static int enter_netns(struct oci_net *n, const struct oci_config *cfg, struct kv_err *err)
{
	const struct oci_namespace *ns = oci_config_namespace(cfg, OCI_NS_NETWORK);
	if (ns && ns->path) {
		cleanup_close int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return kv_err_sys(err, errno, "linux.namespaces: network namespace \"%s\"",
					  ns->path);
		if (setns(fd, CLONE_NEWNET) < 0)
			return kv_err_sys(err, errno,
					  "linux.namespaces: entering the network namespace \"%s\"",
					  ns->path);
		snprintf(n->netns, sizeof(n->netns), "%s", ns->path);
	}
	int r = ns_id(&n->ns_dev, &n->ns_ino);
	if (r < 0)
		return kv_err_set(err, -r, "/proc/self/ns/net: %s", strerror(-r));
	return 0;
}

int oci_net_setup(struct oci_net *n, enum oci_net_mode mode, const struct oci_config *cfg,
		  int state_dirfd, struct kv_err *err)
{
	memset(n, 0, sizeof(*n));
	if (mode == OCI_NET_NONE)
		return 0;
	int r = enter_netns(n, cfg, err);
	/* Only a namespace named by path is the container's to mirror (what
	 * podman, CNI and containerd hand over).  Without one, the namespace
	 * we run in is the caller's, usually the host's: taking its
	 * interfaces' addresses away would cut the host off, and where pid
	 * 1's namespace cannot be read (an unprivileged container host) there
	 * is no telling them apart.  runc would give such a container a new,
	 * empty namespace: loopback only, which is what the guest has. */
	if (r < 0 || !n->netns[0])
		return r;
	struct rtnl nl;
	if ((r = rtnl_open(&nl)) < 0)
		return kv_err_set(err, -r, "netlink socket: %s", strerror(-r));
	r = scan(&nl, n, err);
	for (unsigned i = 0; i < n->nlinks && r >= 0; i++) {
		struct oci_net_link *l = &n->links[i];
		if ((r = mirror(&nl, l, i, err)) < 0 || (r = state_write(n, state_dirfd, err)) < 0)
			break;
		/* the interface's addresses are the guest's now */
		l->flushed = true;
		for (unsigned j = 0; j < l->naddrs && r >= 0; j++) {
			const struct agent_ip_addr *a = &l->addrs[j];
			r = rtnl_addr(&nl, RTM_DELADDR, l->index, (int)a->family, a->addr,
				      a->prefix);
			if (r == -EADDRNOTAVAIL)
				r = 0;
			if (r < 0)
				kv_err_set(err, -r, "interface %s: removing its addresses: %s",
					   l->name, strerror(-r));
		}
		n->params[i] =
		    (struct virtio_net_params){.tap_fd = l->tap_fd, .mtu = (uint16_t)l->mtu};
		memcpy(n->params[i].mac, l->mac, 6);
		n->ifs[i] = (struct agent_net_if){l->name,  l->mac,    6,	  l->mtu,
						  l->addrs, l->naddrs, l->routes, l->nroutes};
	}
	rtnl_close(&nl);
	if (r < 0) {
		oci_net_teardown(n, state_dirfd);
		return r;
	}
	return 0;
}

static void give_back(struct rtnl *nl, struct oci_net_link *l)
{
	/* the qdiscs take their filters with them; the tap's goes with the tap */
	if (l->qdisc_if)
		qdisc(nl, RTM_DELQDISC, l->index);
	l->qdisc_if = false;
	if (l->tap_fd >= 0)
		close(l->tap_fd);
	l->tap_fd = -1;
	int ti = l->tap[0] ? (int)if_nametoindex(l->tap) : 0;
	if (ti) { /* still there: ours, made persistent by someone, or left over */
		struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = ti};
		struct rtnl_msg m;
		rtnl_msg_init(&m, RTM_DELLINK, 0, &ifi, sizeof(ifi));
		rtnl_talk(nl, &m);
	}
	if (!l->flushed)
		return;
	l->flushed = false;
	for (unsigned j = 0; j < l->naddrs; j++)
		rtnl_addr(nl, RTM_NEWADDR, l->index, (int)l->addrs[j].family, l->addrs[j].addr,
			  l->addrs[j].prefix);
	for (int pass = 0; pass < 2; pass++)
		for (unsigned j = 0; j < l->nroutes; j++) {
			const struct agent_route *r = &l->routes[j];
			if ((r->gateway_len != 0) != pass)
				continue;
			rtnl_route(nl, RTM_NEWROUTE, l->index, (int)r->family,
				   r->dst_len ? r->dst : NULL, r->prefix,
				   r->gateway_len ? r->gateway : NULL, r->metric);
		}
}

void oci_net_teardown(struct oci_net *n, int state_dirfd)
{
	struct rtnl nl;
	if (n->nlinks && rtnl_open(&nl) == 0) {
		for (unsigned i = 0; i < n->nlinks; i++) {
			struct oci_net_link *l = &n->links[i];
			/* the index is only trusted while the name still matches */
			if ((int)if_nametoindex(l->name) != l->index) {
				l->qdisc_if = l->flushed = false;
			}
			give_back(&nl, l);
		}
		rtnl_close(&nl);
	}
	for (unsigned i = 0; i < n->nlinks; i++)
		if (n->links[i].tap_fd >= 0) {
			close(n->links[i].tap_fd);
			n->links[i].tap_fd = -1;
		}
	n->nlinks = 0;
	if (state_dirfd >= 0)
		unlinkat(state_dirfd, OCI_NET_STATE, 0);
}

int oci_net_cleanup(int state_dirfd, struct kv_err *err)
{
	cleanup_free struct oci_net *n = calloc(1, sizeof(*n));
	if (!n)
		return kv_err_set(err, ENOMEM, "out of memory");
	int r = state_read(n, state_dirfd, err);
	if (r <= 0)
		return r;
	cleanup_close int back = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (back < 0)
		return kv_err_sys(err, errno, "/proc/self/ns/net");
	if (n->netns[0]) {
		cleanup_close int fd = open(n->netns, O_RDONLY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT) { /* the namespace is gone, and all in it */
			unlinkat(state_dirfd, OCI_NET_STATE, 0);
			return 0;
		}
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
			return kv_err_sys(err, errno, "network namespace \"%s\"", n->netns);
	}
	uint64_t dev = 0, ino = 0;
	ns_id(&dev, &ino);
	if (dev != n->ns_dev || ino != n->ns_ino) {
		if (n->netns[0])
			setns(back, CLONE_NEWNET);
		return kv_err_set(err, EXDEV,
				  "the container's network namespace is not this one: run delete "
				  "in it to give back its interfaces' addresses");
	}
	oci_net_teardown(n, state_dirfd);
	if (n->netns[0] && setns(back, CLONE_NEWNET) < 0)
		return kv_err_sys(err, errno, "returning to our network namespace");
	return 0;
}
