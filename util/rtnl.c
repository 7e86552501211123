/* SPDX-License-Identifier: Apache-2.0 */
/* A small rtnetlink client; see util/rtnl.h. */
#include "util/rtnl.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RTNL_RECV_MAX 32768

int rtnl_open(struct rtnl *nl)
{
	nl->seq = 1;
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl->fd < 0)
		return -errno;
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	int one = 1;
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(nl->fd);
		nl->fd = -1;
		return -e;
	}
	return 0;
}

void rtnl_close(struct rtnl *nl)
{
	if (nl->fd >= 0)
		close(nl->fd);
	nl->fd = -1;
}

void rtnl_msg_init(struct rtnl_msg *m, uint16_t type, uint16_t flags, const void *body, size_t len)
{
	memset(m, 0, sizeof(*m));
	m->h.nlmsg_type = type;
	m->h.nlmsg_flags = NLM_F_REQUEST | flags;
	m->h.nlmsg_len = NLMSG_LENGTH(len);
	if (body && len)
		memcpy(NLMSG_DATA(&m->h), body, len);
}

void *rtnl_msg_body(struct rtnl_msg *m)
{
	return NLMSG_DATA(&m->h);
}

void rtnl_attr(struct rtnl_msg *m, uint16_t type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(m->h.nlmsg_len);
	if (m->overflow || len > 0xffff - RTA_LENGTH(0) || off + RTA_SPACE(len) > sizeof(m->buf)) {
		m->overflow = true;
		return;
	}
	struct rtattr *a = (struct rtattr *)(m->buf + off);
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	m->h.nlmsg_len = (uint32_t)(off + RTA_SPACE(len));
}

void rtnl_attr_u32(struct rtnl_msg *m, uint16_t type, uint32_t v)
{
	rtnl_attr(m, type, &v, sizeof(v));
}

void rtnl_attr_str(struct rtnl_msg *m, uint16_t type, const char *s)
{
	rtnl_attr(m, type, s, strlen(s) + 1);
}

size_t rtnl_nest_start(struct rtnl_msg *m, uint16_t type)
{
	size_t off = NLMSG_ALIGN(m->h.nlmsg_len);
	rtnl_attr(m, type | NLA_F_NESTED, NULL, 0);
	return off;
}

void rtnl_nest_end(struct rtnl_msg *m, size_t off)
{
	if (m->overflow)
		return;
	struct rtattr *a = (struct rtattr *)(m->buf + off);
	a->rta_len = (unsigned short)(m->h.nlmsg_len - off);
}

static int send_msg(struct rtnl *nl, struct rtnl_msg *m)
{
	if (m->overflow)
		return -EMSGSIZE;
	m->h.nlmsg_seq = ++nl->seq;
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	ssize_t n = sendto(nl->fd, m->buf, m->h.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa));
	if (n < 0)
		return -errno;
	return n == (ssize_t)m->h.nlmsg_len ? 0 : -EIO;
}

/* Reads answers to seq until an ACK/error (talk) or DONE (dump). */
static int recv_answers(struct rtnl *nl, uint32_t seq, rtnl_cb cb, void *ctx)
{
	static __thread uint8_t buf[RTNL_RECV_MAX] __attribute__((aligned(8)));
	int ret = 0;
	for (;;) {
		struct sockaddr_nl sa;
		struct iovec iov = {buf, sizeof(buf)};
		struct msghdr mh = {
		    .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n = recvmsg(nl->fd, &mh, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (mh.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		if (sa.nl_pid != 0)
			continue; /* not the kernel */
		size_t left = (size_t)n;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left);
		     h = NLMSG_NEXT(h, left)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
					return -EPROTO;
				const struct nlmsgerr *e = NLMSG_DATA(h);
				/* a dump ends with DONE; an error ends it too */
				return e->error ? e->error : ret;
			}
			if (h->nlmsg_type == NLMSG_DONE)
				return ret;
			if (cb && !ret) {
				int r = cb(h, ctx);
				if (r < 0)
					ret = r;
			}
		}
	}
}

int rtnl_talk(struct rtnl *nl, struct rtnl_msg *m)
{
	m->h.nlmsg_flags |= NLM_F_ACK;
	int r = send_msg(nl, m);
	return r < 0 ? r : recv_answers(nl, nl->seq, NULL, NULL);
}

int rtnl_dump(struct rtnl *nl, struct rtnl_msg *m, rtnl_cb cb, void *ctx)
{
	m->h.nlmsg_flags |= NLM_F_DUMP;
	int r = send_msg(nl, m);
	return r < 0 ? r : recv_answers(nl, nl->seq, cb, ctx);
}

static size_t family_len(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

int rtnl_addr(struct rtnl *nl, uint16_t cmd, int index, int family, const void *addr,
	      unsigned prefix)
{
	struct ifaddrmsg ifa = {.ifa_family = (uint8_t)family,
				.ifa_prefixlen = (uint8_t)prefix,
				.ifa_index = (uint32_t)index,
				.ifa_flags = family == AF_INET6 ? IFA_F_NODAD : 0};
	struct rtnl_msg m;
	rtnl_msg_init(&m, cmd, cmd == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_REPLACE : 0, &ifa,
		      sizeof(ifa));
	rtnl_attr(&m, IFA_LOCAL, addr, family_len(family));
	rtnl_attr(&m, IFA_ADDRESS, addr, family_len(family));
	return rtnl_talk(nl, &m);
}

int rtnl_route(struct rtnl *nl, uint16_t cmd, int index, int family, const void *dst,
	       unsigned prefix, const void *gw, uint32_t metric)
{
	struct rtmsg rt = {.rtm_family = (uint8_t)family,
			   .rtm_dst_len = (uint8_t)prefix,
			   .rtm_table = RT_TABLE_MAIN,
			   .rtm_protocol = RTPROT_BOOT,
			   .rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
			   .rtm_type = RTN_UNICAST};
	struct rtnl_msg m;
	rtnl_msg_init(&m, cmd, cmd == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_REPLACE : 0, &rt,
		      sizeof(rt));
	if (dst)
		rtnl_attr(&m, RTA_DST, dst, family_len(family));
	if (gw)
		rtnl_attr(&m, RTA_GATEWAY, gw, family_len(family));
	rtnl_attr_u32(&m, RTA_OIF, (uint32_t)index);
	if (metric)
		rtnl_attr_u32(&m, RTA_PRIORITY, metric);
	return rtnl_talk(nl, &m);
}

void rtnl_parse(const struct rtattr *rta, size_t len, const struct rtattr **tb, unsigned max)
{
	memset(tb, 0, sizeof(*tb) * (max + 1));
	int left = len > 0xffff ? 0xffff : (int)len;
	for (; RTA_OK(rta, left); rta = RTA_NEXT(rta, left)) {
		unsigned type = rta->rta_type & NLA_TYPE_MASK;
		if (type <= max)
			tb[type] = rta;
	}
}

void rtnl_parse_msg(const struct nlmsghdr *h, size_t blen, const struct rtattr **tb, unsigned max)
{
	size_t hl = NLMSG_LENGTH(blen);
	if (h->nlmsg_len < NLMSG_ALIGN(hl)) {
		memset(tb, 0, sizeof(*tb) * (max + 1));
		return;
	}
	const struct rtattr *a = (const struct rtattr *)((const uint8_t *)h + NLMSG_ALIGN(hl));
	rtnl_parse(a, h->nlmsg_len - NLMSG_ALIGN(hl), tb, max);
}

uint32_t rtnl_get_u32(const struct rtattr *a, uint32_t def)
{
	uint32_t v;
	if (!a || RTA_PAYLOAD(a) < sizeof(v))
		return def;
	memcpy(&v, RTA_DATA(a), sizeof(v));
	return v;
}
