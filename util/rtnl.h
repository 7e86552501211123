/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small rtnetlink client, shared by the host (oci/net.c: reading a
 * namespace's interfaces, tc qdiscs and filters) and the guest agent
 * (guest/agent/net.c: configuring the NICs).  No library: the few message
 * kinds we need fit in a builder, a request-with-ACK and a dump walker.
 *
 * A request is built in a struct rtnl_msg (fixed buffer; an attribute that
 * does not fit sets a sticky overflow flag, reported as -EMSGSIZE by the
 * send).  rtnl_talk() sends it with NLM_F_ACK and returns 0 or the
 * kernel's -errno; rtnl_dump() sends it with NLM_F_DUMP and calls cb on
 * every answer until NLMSG_DONE.  Answers come from the kernel only
 * (nl_pid 0 is checked), and every header and attribute length is checked
 * before use.
 */
#ifndef KVBOX_UTIL_RTNL_H
#define KVBOX_UTIL_RTNL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#define RTNL_MSG_MAX 4096

struct rtnl {
	int fd;
	uint32_t seq;
};

struct rtnl_msg {
	union {
		struct nlmsghdr h;
		uint8_t buf[RTNL_MSG_MAX];
	};
	bool overflow;
};

/* A NETLINK_ROUTE socket (close-on-exec); 0 or -errno. */
int rtnl_open(struct rtnl *nl);
void rtnl_close(struct rtnl *nl);

/* Starts a message: header type/flags (NLM_F_REQUEST is added) and the
 * fixed body (ifinfomsg, ifaddrmsg, rtmsg, tcmsg...). */
void rtnl_msg_init(struct rtnl_msg *m, uint16_t type, uint16_t flags, const void *body, size_t len);
/* The body as placed in the message, to fill after init. */
void *rtnl_msg_body(struct rtnl_msg *m);
void rtnl_attr(struct rtnl_msg *m, uint16_t type, const void *data, size_t len);
void rtnl_attr_u32(struct rtnl_msg *m, uint16_t type, uint32_t v);
void rtnl_attr_str(struct rtnl_msg *m, uint16_t type, const char *s);
/* A nested attribute: start returns its offset, end closes it. */
size_t rtnl_nest_start(struct rtnl_msg *m, uint16_t type);
void rtnl_nest_end(struct rtnl_msg *m, size_t off);

/* Sends m with NLM_F_ACK and waits for the kernel's answer: 0 or -errno. */
int rtnl_talk(struct rtnl *nl, struct rtnl_msg *m);

/* Sends m with NLM_F_DUMP; cb gets each answer's header (its length
 * checked) and may return a negative value to stop (that value is
 * returned once the dump is drained).  0 or -errno. */
typedef int (*rtnl_cb)(const struct nlmsghdr *h, void *ctx);
int rtnl_dump(struct rtnl *nl, struct rtnl_msg *m, rtnl_cb cb, void *ctx);

/* RTM_NEWADDR (create or replace) / RTM_DELADDR of addr/prefix on index;
 * IPv6 addresses are added without duplicate address detection. */
int rtnl_addr(struct rtnl *nl, uint16_t cmd, int index, int family, const void *addr,
	      unsigned prefix);
/* RTM_NEWROUTE (create or replace) / RTM_DELROUTE in the main table
 * through index: dst NULL = the default route; gw NULL = on link. */
int rtnl_route(struct rtnl *nl, uint16_t cmd, int index, int family, const void *dst,
	       unsigned prefix, const void *gw, uint32_t metric);

/* Indexes the attributes in [rta, rta + len) by type into tb[0..max]
 * (later ones win; unknown types above max are skipped). */
void rtnl_parse(const struct rtattr *rta, size_t len, const struct rtattr **tb, unsigned max);
/* The attributes following a fixed body of blen bytes in h. */
void rtnl_parse_msg(const struct nlmsghdr *h, size_t blen, const struct rtattr **tb, unsigned max);
static inline const void *rtnl_data(const struct rtattr *a)
{
	return RTA_DATA(a);
}
static inline size_t rtnl_len(const struct rtattr *a)
{
	return RTA_PAYLOAD(a);
}
/* A u32 attribute's value, or def when absent or too short. */
uint32_t rtnl_get_u32(const struct rtattr *a, uint32_t def);

#endif
