/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM <-> gofer control protocol: the one parser for its messages and
 * the sendmsg/recvmsg wrappers that carry fds.  See ctl.h for the message
 * set.  recvmsg() takes fds with MSG_CMSG_CLOEXEC; every fd that arrives
 * with a message that fails any check is closed here, so a caller only ever
 * owns fds of a message it accepted.
 */
#include "gofer/ctl.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/cleanup.h"

_Static_assert(sizeof(struct gofer_msg) == 120, "gofer_msg is a fixed wire struct");

/* one type per line */
/* clang-format off */
static const struct {
	const char *name;
	unsigned nfds;
	bool has_dev;
} msg_types[GOFER_MSG_END] = {
    [GOFER_MSG_MEM] = {"MEM", 1, false},
    [GOFER_MSG_ACTIVATE] = {"ACTIVATE", 2, true},
    [GOFER_MSG_RESET] = {"RESET", 0, true},
    [GOFER_MSG_SHUTDOWN] = {"SHUTDOWN", 0, false},
    [GOFER_MSG_REPLY] = {"REPLY", 0, false},
    [GOFER_MSG_QUEUE_ERROR] = {"QUEUE_ERROR", 0, true},
    [GOFER_MSG_SAVE] = {"SAVE", 1, true},
    [GOFER_MSG_LOAD] = {"LOAD", 1, true},
    [GOFER_MSG_FAULTS] = {"FAULTS", 1, false},
};
/* clang-format on */

const char *gofer_msg_type_name(unsigned type)
{
	return type > 0 && type < GOFER_MSG_END ? msg_types[type].name : "?";
}

unsigned gofer_msg_nfds(enum gofer_msg_type type)
{
	return (unsigned)type < GOFER_MSG_END ? msg_types[type].nfds : 0;
}

void gofer_msg_init(struct gofer_msg *m, enum gofer_msg_type type, uint32_t seq, uint32_t dev)
{
	memset(m, 0, sizeof(*m));
	m->magic = GOFER_CTL_MAGIC;
	m->version = GOFER_CTL_VERSION;
	m->type = (uint16_t)type;
	m->seq = seq;
	m->dev = dev;
}

/* RAM regions: inside the memfd, no wrap, ascending and disjoint in
 * guest-physical space. */
static bool regions_ok(const struct gofer_msg *m)
{
	if (m->nregions < 1 || m->nregions > GUEST_MEM_MAX_REGIONS || m->mem_size == 0)
		return false;
	for (uint32_t i = 0; i < m->nregions; i++) {
		const struct guest_region *r = &m->regions[i];
		if (r->size == 0 || r->offset > m->mem_size || r->size > m->mem_size - r->offset)
			return false;
		if (r->gpa + r->size < r->gpa)
			return false;
		if (i && r->gpa < m->regions[i - 1].gpa + m->regions[i - 1].size)
			return false;
	}
	return true;
}

/* A status is 0 or a negated errno / VQ_E_* code. */
static bool status_ok(int32_t st)
{
	return st <= 0 && st > -VQ_E_END;
}

int gofer_msg_parse(const void *buf, size_t len, unsigned nfds, uint32_t accept, unsigned ndev,
		    struct gofer_msg *out)
{
	struct gofer_msg m;

	if (len != sizeof(m))
		return -EPROTO;
	memcpy(&m, buf, sizeof(m));
	if (m.magic != GOFER_CTL_MAGIC || m.version != GOFER_CTL_VERSION)
		return -EPROTO;
	if (m.type == 0 || m.type >= GOFER_MSG_END || m.type >= 32 ||
	    !(accept & GOFER_MSG_BIT(m.type)))
		return -EPROTO;
	if (nfds != msg_types[m.type].nfds)
		return -EPROTO;
	if (msg_types[m.type].has_dev ? m.dev >= ndev : m.dev != 0)
		return -EPROTO;
	if (!status_ok(m.status))
		return -EPROTO;
	switch (m.type) {
	case GOFER_MSG_MEM:
		if (!regions_ok(&m))
			return -EPROTO;
		break;
	case GOFER_MSG_QUEUE_ERROR:
		if (m.status == 0)
			return -EPROTO;
		break;
	case GOFER_MSG_SAVE:
		if (m.status != 0 || m.mem_size != 0) /* the gofer says how much */
			return -EPROTO;
		break;
	case GOFER_MSG_LOAD:
		if (m.status != 0 || m.mem_size == 0 || m.mem_size > GOFER_SAVE_MAX)
			return -EPROTO;
		break;
	case GOFER_MSG_REPLY:
		break;
	case GOFER_MSG_FAULTS:
		if (m.status != 0 || m.mem_size == 0 || m.mem_size % 4096)
			return -EPROTO;
		break;
	default: /* requests carry no status */
		if (m.status != 0)
			return -EPROTO;
	}
	*out = m;
	return 0;
}

int gofer_msg_send(int sock, const struct gofer_msg *m, const int *fds, unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * GOFER_MSG_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = (void *)m, .iov_len = sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (nfds > GOFER_MSG_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	for (;;) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
		if (n == (ssize_t)sizeof(*m))
			return 0;
		if (n >= 0)
			return -EPROTO; /* SEQPACKET never sends part of a record */
		if (errno != EINTR)
			return -errno;
	}
}

/* Collects SCM_RIGHTS fds into fds[] (at most max; extras are closed).
 * Returns how many arrived in total, or -1 if any other control message
 * came along (its fds, if any, are closed too). */
static int take_fds(struct msghdr *mh, int *fds, unsigned max)
{
	unsigned n = 0;
	bool bad = false;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			bad = true;
			continue;
		}
		size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < cnt; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (n < max)
				fds[n] = fd;
			else
				close(fd);
			n++;
		}
	}
	return bad ? -1 : (int)n;
}

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

int gofer_msg_recv(int sock, bool nonblock, uint32_t accept, unsigned ndev, struct gofer_msg *m,
		   int fds[GOFER_MSG_MAX_FDS])
{
	/* Room for one more struct and fd than allowed, so an oversized
	 * message or fd list shows up as such instead of being cut to fit. */
	unsigned char buf[sizeof(*m) + 1];
	union {
		char buf[CMSG_SPACE(sizeof(int) * (GOFER_MSG_MAX_FDS + 1))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	ssize_t n;

	for (unsigned i = 0; i < GOFER_MSG_MAX_FDS; i++)
		fds[i] = -1;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | (nonblock ? MSG_DONTWAIT : 0));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	int got = take_fds(&mh, fds, GOFER_MSG_MAX_FDS);
	unsigned kept = got < 0 ? GOFER_MSG_MAX_FDS : (unsigned)got;
	if (kept > GOFER_MSG_MAX_FDS)
		kept = GOFER_MSG_MAX_FDS;
	if (n == 0 && got == 0)
		return 0; /* EOF: the peer closed its end */
	if (got < 0 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    gofer_msg_parse(buf, (size_t)n, (unsigned)got, accept, ndev, m) < 0) {
		close_fds(fds, kept);
		return -EPROTO;
	}
	return 1;
}
