/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM <-> gofer control protocol: the parser against every field rule
 * (SAVE/LOAD sizes included), truncated, oversized and random messages,
 * and the socket layer with fds
 * that come along (too many, too few, with a bad message: none may leak).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gofer/ctl.h"

#define NDEV 2

static int parse(const struct gofer_msg *m, unsigned nfds, uint32_t accept)
{
	struct gofer_msg out;
	return gofer_msg_parse(m, sizeof(*m), nfds, accept, NDEV, &out);
}

static struct gofer_msg mem_msg(void)
{
	struct gofer_msg m;
	gofer_msg_init(&m, GOFER_MSG_MEM, 1, 0);
	m.mem_size = 4ULL << 30;
	m.nregions = 2;
	m.regions[0] = (struct guest_region){.gpa = 0, .size = 3ULL << 30, .offset = 0};
	m.regions[1] =
	    (struct guest_region){.gpa = 1ULL << 32, .size = 1ULL << 30, .offset = 3ULL << 30};
	return m;
}

static void test_valid(void **state)
{
	struct gofer_msg m = mem_msg(), out;
	(void)state;

	assert_int_equal(gofer_msg_parse(&m, sizeof(m), 1, GOFER_ACCEPT_GOFER, NDEV, &out), 0);
	assert_int_equal(out.seq, 1);
	gofer_msg_init(&m, GOFER_MSG_ACTIVATE, 2, 1);
	assert_int_equal(parse(&m, 2, GOFER_ACCEPT_GOFER), 0);
	gofer_msg_init(&m, GOFER_MSG_RESET, 3, 1);
	assert_int_equal(parse(&m, 0, GOFER_ACCEPT_GOFER), 0);
	gofer_msg_init(&m, GOFER_MSG_SHUTDOWN, 4, 0);
	assert_int_equal(parse(&m, 0, GOFER_ACCEPT_GOFER), 0);
	gofer_msg_init(&m, GOFER_MSG_SAVE, 5, 1);
	assert_int_equal(parse(&m, 1, GOFER_ACCEPT_GOFER), 0);
	gofer_msg_init(&m, GOFER_MSG_LOAD, 6, 1);
	m.mem_size = 100;
	assert_int_equal(parse(&m, 1, GOFER_ACCEPT_GOFER), 0);
	gofer_msg_init(&m, GOFER_MSG_REPLY, 5, 0); /* to SAVE: length and queue */
	m.mem_size = 100;
	m.vq.size = 128;
	assert_int_equal(parse(&m, 0, GOFER_ACCEPT_VMM), 0);
	gofer_msg_init(&m, GOFER_MSG_REPLY, 4, 0);
	m.status = -ENOENT;
	assert_int_equal(parse(&m, 0, GOFER_ACCEPT_VMM), 0);
	m.status = -VQ_E_STOPPED;
	assert_int_equal(parse(&m, 0, GOFER_ACCEPT_VMM), 0);
	gofer_msg_init(&m, GOFER_MSG_QUEUE_ERROR, 0, 1);
	m.status = -VQ_E_LOOP;
	assert_int_equal(parse(&m, 0, GOFER_ACCEPT_VMM), 0);
}

static void test_header(void **state)
{
	struct gofer_msg m, out;
	(void)state;

	gofer_msg_init(&m, GOFER_MSG_SHUTDOWN, 1, 0);
	/* every truncation and an extension */
	for (size_t len = 0; len < sizeof(m) + 8; len++) {
		unsigned char buf[sizeof(m) + 8] = {0};
		memcpy(buf, &m, sizeof(m));
		int want = len == sizeof(m) ? 0 : -EPROTO;
		assert_int_equal(gofer_msg_parse(buf, len, 0, GOFER_ACCEPT_GOFER, NDEV, &out),
				 want);
	}
	m.magic ^= 1;
	assert_int_equal(parse(&m, 0, GOFER_ACCEPT_GOFER), -EPROTO);
	gofer_msg_init(&m, GOFER_MSG_SHUTDOWN, 1, 0);
	assert_int_equal(m.version, 3);
	m.version = 1; /* before SAVE/LOAD */
	assert_int_equal(parse(&m, 0, GOFER_ACCEPT_GOFER), -EPROTO);
	m.version = 2; /* before FAULTS */
	assert_int_equal(parse(&m, 0, GOFER_ACCEPT_GOFER), -EPROTO);
	m.version = 4;
	assert_int_equal(parse(&m, 0, GOFER_ACCEPT_GOFER), -EPROTO);
	for (unsigned t = 0; t < 0x10000; t += (t < 40 ? 1 : 997)) {
		gofer_msg_init(&m, GOFER_MSG_SHUTDOWN, 1, 0);
		m.type = (uint16_t)t;
		/* RESET of share 0 has the same shape */
		int ok = t == GOFER_MSG_SHUTDOWN || t == GOFER_MSG_RESET;
		assert_int_equal(parse(&m, 0, GOFER_ACCEPT_GOFER), ok ? 0 : -EPROTO);
	}
}

static void test_direction_and_fds(void **state)
{
	struct gofer_msg m;
	(void)state;

	/* each side accepts only its own types */
	gofer_msg_init(&m, GOFER_MSG_SHUTDOWN, 1, 0);
	assert_int_equal(parse(&m, 0, GOFER_ACCEPT_VMM), -EPROTO);
	gofer_msg_init(&m, GOFER_MSG_REPLY, 1, 0);
	assert_int_equal(parse(&m, 0, GOFER_ACCEPT_GOFER), -EPROTO);
	/* exactly the fds the type carries: the VMM never takes one */
	assert_int_equal(parse(&m, 1, GOFER_ACCEPT_VMM), -EPROTO);
	gofer_msg_init(&m, GOFER_MSG_ACTIVATE, 1, 0);
	assert_int_equal(parse(&m, 1, GOFER_ACCEPT_GOFER), -EPROTO);
	assert_int_equal(parse(&m, 3, GOFER_ACCEPT_GOFER), -EPROTO);
	struct gofer_msg mm = mem_msg();
	assert_int_equal(parse(&mm, 0, GOFER_ACCEPT_GOFER), -EPROTO);
	/* share index */
	gofer_msg_init(&m, GOFER_MSG_RESET, 1, NDEV);
	assert_int_equal(parse(&m, 0, GOFER_ACCEPT_GOFER), -EPROTO);
	gofer_msg_init(&m, GOFER_MSG_QUEUE_ERROR, 0, 0xffffffffu);
	m.status = -VQ_E_LOOP;
	assert_int_equal(parse(&m, 0, GOFER_ACCEPT_VMM), -EPROTO);
	gofer_msg_init(&m, GOFER_MSG_SHUTDOWN, 1, 1); /* no dev on this type */
	assert_int_equal(parse(&m, 0, GOFER_ACCEPT_GOFER), -EPROTO);
	/* SAVE and LOAD: one fd (the memfd), a share, the gofer's side only */
	static const unsigned types[] = {GOFER_MSG_SAVE, GOFER_MSG_LOAD};
	for (unsigned i = 0; i < 2; i++) {
		gofer_msg_init(&m, types[i], 1, 0);
		m.mem_size = types[i] == GOFER_MSG_LOAD ? 64 : 0;
		assert_int_equal(parse(&m, 1, GOFER_ACCEPT_GOFER), 0);
		assert_int_equal(gofer_msg_nfds(types[i]), 1);
		assert_int_equal(parse(&m, 0, GOFER_ACCEPT_GOFER), -EPROTO);
		assert_int_equal(parse(&m, 2, GOFER_ACCEPT_GOFER), -EPROTO);
		assert_int_equal(parse(&m, 1, GOFER_ACCEPT_VMM), -EPROTO);
		m.dev = NDEV;
		assert_int_equal(parse(&m, 1, GOFER_ACCEPT_GOFER), -EPROTO);
	}
}

static void test_save_load(void **state)
{
	struct gofer_msg m;
	(void)state;

	/* LOAD: 1..GOFER_SAVE_MAX bytes; one case per line */
	/* clang-format off */
	static const struct {
		uint64_t size;
		int want;
	} load[] = {
	    {0, -EPROTO},
	    {1, 0},
	    {GOFER_SAVE_MAX, 0},
	    {GOFER_SAVE_MAX + 1ULL, -EPROTO},
	    {1ULL << 32, -EPROTO},
	    {UINT64_MAX, -EPROTO},
	};
	/* clang-format on */
	for (size_t i = 0; i < sizeof(load) / sizeof(load[0]); i++) {
		gofer_msg_init(&m, GOFER_MSG_LOAD, 1, 1);
		m.mem_size = load[i].size;
		assert_int_equal(parse(&m, 1, GOFER_ACCEPT_GOFER), load[i].want);
	}
	assert_true(GOFER_SAVE_MAX < (1u << 20)); /* one snapshot section */
	/* SAVE: the gofer says the size, the VMM does not */
	gofer_msg_init(&m, GOFER_MSG_SAVE, 1, 1);
	m.mem_size = 4096;
	assert_int_equal(parse(&m, 1, GOFER_ACCEPT_GOFER), -EPROTO);
	/* requests carry no status */
	gofer_msg_init(&m, GOFER_MSG_SAVE, 1, 1);
	m.status = -ESTALE;
	assert_int_equal(parse(&m, 1, GOFER_ACCEPT_GOFER), -EPROTO);
	gofer_msg_init(&m, GOFER_MSG_LOAD, 1, 1);
	m.mem_size = 10;
	m.status = -1;
	assert_int_equal(parse(&m, 1, GOFER_ACCEPT_GOFER), -EPROTO);
	/* the errors a SAVE or LOAD answers with are statuses a REPLY carries */
	static const int st[] = {-ESTALE, -EOPNOTSUPP, -E2BIG, -EINVAL, -ENOENT, -EBUSY};
	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		gofer_msg_init(&m, GOFER_MSG_REPLY, 1, 0);
		m.status = st[i];
		m.mem_size = 5u << 20; /* E2BIG: the size needed; the client checks */
		assert_int_equal(parse(&m, 0, GOFER_ACCEPT_VMM), 0);
	}
}

/* FAULTS (gofer -> VMM, --lazy-mem): one fd, the gofer's mapping of RAM */
static void test_faults(void **state)
{
	struct gofer_msg m;
	(void)state;

	/* one case per line */
	/* clang-format off */
	static const struct {
		uint64_t base;
		int32_t status;
		uint32_t dev;
		unsigned nfds;
		uint32_t accept;
		int want;
	} cases[] = {
	    {0x7f0000000000ULL, 0, 0, 1, GOFER_ACCEPT_VMM, 0},
	    {0x7f0000000000ULL, 0, 0, 1, GOFER_ACCEPT_GOFER, -EPROTO}, /* the VMM's only */
	    {0x7f0000000000ULL, 0, 0, 0, GOFER_ACCEPT_VMM, -EPROTO},   /* the fd is missing */
	    {0x7f0000000000ULL, 0, 0, 2, GOFER_ACCEPT_VMM, -EPROTO},
	    {0, 0, 0, 1, GOFER_ACCEPT_VMM, -EPROTO},		       /* no mapping */
	    {0x7f0000000010ULL, 0, 0, 1, GOFER_ACCEPT_VMM, -EPROTO},   /* not a page */
	    {0x7f0000000000ULL, -EIO, 0, 1, GOFER_ACCEPT_VMM, -EPROTO}, /* no status */
	    {0x7f0000000000ULL, 0, 1, 1, GOFER_ACCEPT_VMM, -EPROTO},   /* no share */
	};
	/* clang-format on */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		gofer_msg_init(&m, GOFER_MSG_FAULTS, 0, cases[i].dev);
		m.mem_size = cases[i].base;
		m.status = cases[i].status;
		if (parse(&m, cases[i].nfds, cases[i].accept) != cases[i].want)
			fail_msg("case %zu", i);
	}
	assert_int_equal(gofer_msg_nfds(GOFER_MSG_FAULTS), 1);
	assert_string_equal(gofer_msg_type_name(GOFER_MSG_FAULTS), "FAULTS");
}

static void test_status(void **state)
{
	struct gofer_msg m;
	(void)state;

	gofer_msg_init(&m, GOFER_MSG_REPLY, 1, 0);
	m.status = 1;
	assert_int_equal(parse(&m, 0, GOFER_ACCEPT_VMM), -EPROTO);
	m.status = -VQ_E_END;
	assert_int_equal(parse(&m, 0, GOFER_ACCEPT_VMM), -EPROTO);
	m.status = INT32_MIN;
	assert_int_equal(parse(&m, 0, GOFER_ACCEPT_VMM), -EPROTO);
	gofer_msg_init(&m, GOFER_MSG_QUEUE_ERROR, 0, 0);
	assert_int_equal(parse(&m, 0, GOFER_ACCEPT_VMM), -EPROTO); /* an error of 0 */
	gofer_msg_init(&m, GOFER_MSG_RESET, 1, 0);
	m.status = -1; /* requests carry none */
	assert_int_equal(parse(&m, 0, GOFER_ACCEPT_GOFER), -EPROTO);
}

static void test_regions(void **state)
{
	struct gofer_msg m;
	(void)state;

	m = mem_msg();
	m.nregions = 0;
	assert_int_equal(parse(&m, 1, GOFER_ACCEPT_GOFER), -EPROTO);
	m.nregions = GUEST_MEM_MAX_REGIONS + 1;
	assert_int_equal(parse(&m, 1, GOFER_ACCEPT_GOFER), -EPROTO);
	m = mem_msg();
	m.mem_size = 0;
	assert_int_equal(parse(&m, 1, GOFER_ACCEPT_GOFER), -EPROTO);
	m = mem_msg();
	m.regions[1].offset = m.mem_size; /* past the memfd */
	assert_int_equal(parse(&m, 1, GOFER_ACCEPT_GOFER), -EPROTO);
	m = mem_msg();
	m.regions[1].size = UINT64_MAX; /* offset + size wraps */
	assert_int_equal(parse(&m, 1, GOFER_ACCEPT_GOFER), -EPROTO);
	m = mem_msg();
	m.regions[1].gpa = UINT64_MAX - 4096; /* gpa + size wraps */
	assert_int_equal(parse(&m, 1, GOFER_ACCEPT_GOFER), -EPROTO);
	m = mem_msg();
	m.regions[1].gpa = 1ULL << 30; /* overlaps region 0 */
	assert_int_equal(parse(&m, 1, GOFER_ACCEPT_GOFER), -EPROTO);
	m = mem_msg();
	m.regions[0].size = 0;
	assert_int_equal(parse(&m, 1, GOFER_ACCEPT_GOFER), -EPROTO);
	m = mem_msg();
	m.nregions = 1;
	assert_int_equal(parse(&m, 1, GOFER_ACCEPT_GOFER), 0);
}

static void test_random(void **state)
{
	unsigned char buf[sizeof(struct gofer_msg)];
	struct gofer_msg out;
	unsigned ok = 0;
	(void)state;

	srand(1234);
	for (int i = 0; i < 200000; i++) {
		for (size_t k = 0; k < sizeof(buf); k++)
			buf[k] = (unsigned char)rand();
		if (i & 1) { /* a plausible header, random body */
			struct gofer_msg h;
			gofer_msg_init(&h, (enum gofer_msg_type)(1 + rand() % (GOFER_MSG_END - 1)),
				       0, 0);
			memcpy(buf, &h, 8);
		}
		size_t len = (size_t)rand() % (sizeof(buf) + 1);
		if (gofer_msg_parse(buf, len, (unsigned)rand() % 3, ~0u, NDEV, &out) == 0)
			ok++;
	}
	/* random bodies almost never satisfy every rule; the point is that
	 * nothing crashes under ASan */
	assert_true(ok < 1000);
}

static unsigned count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned n = 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_socket(void **state)
{
	struct gofer_msg m, got;
	int sv[2], fds[GOFER_MSG_MAX_FDS];
	(void)state;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	unsigned base = count_fds();
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int two[2] = {devnull, devnull};

	/* nothing queued */
	assert_int_equal(gofer_msg_recv(sv[1], true, GOFER_ACCEPT_GOFER, NDEV, &got, fds), -EAGAIN);
	/* a good ACTIVATE: two fresh fds */
	gofer_msg_init(&m, GOFER_MSG_ACTIVATE, 7, 1);
	assert_int_equal(gofer_msg_send(sv[0], &m, two, 2), 0);
	assert_int_equal(gofer_msg_recv(sv[1], false, GOFER_ACCEPT_GOFER, NDEV, &got, fds), 1);
	assert_int_equal(got.seq, 7);
	assert_true(fds[0] >= 0 && fds[1] >= 0 && fds[0] != devnull);
	assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	close(fds[0]);
	close(fds[1]);
	/* a SHUTDOWN with two fds: refused, and the fds do not leak */
	gofer_msg_init(&m, GOFER_MSG_SHUTDOWN, 8, 0);
	assert_int_equal(gofer_msg_send(sv[0], &m, two, 2), 0);
	assert_int_equal(gofer_msg_recv(sv[1], false, GOFER_ACCEPT_GOFER, NDEV, &got, fds),
			 -EPROTO);
	assert_int_equal(fds[0], -1);
	assert_int_equal(count_fds(), base + 1);
	/* an oversized record with fds */
	unsigned char big[sizeof(m) + 64];
	memset(big, 0, sizeof(big));
	memcpy(big, &m, sizeof(m));
	struct iovec iov = {big, sizeof(big)};
	union {
		char b[CMSG_SPACE(sizeof(int) * 2)];
		struct cmsghdr a;
	} u;
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * 2);
	memcpy(CMSG_DATA(c), two, sizeof(two));
	assert_int_equal(sendmsg(sv[0], &mh, 0), (ssize_t)sizeof(big));
	assert_int_equal(gofer_msg_recv(sv[1], false, GOFER_ACCEPT_GOFER, NDEV, &got, fds),
			 -EPROTO);
	assert_int_equal(count_fds(), base + 1);
	/* a short record */
	assert_int_equal(send(sv[0], &m, 10, 0), 10);
	assert_int_equal(gofer_msg_recv(sv[1], false, GOFER_ACCEPT_GOFER, NDEV, &got, fds),
			 -EPROTO);
	/* more fds than any message carries, on an ACTIVATE */
	int four[4] = {devnull, devnull, devnull, devnull};
	gofer_msg_init(&m, GOFER_MSG_ACTIVATE, 9, 0);
	iov = (struct iovec){&m, sizeof(m)};
	union {
		char b[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr a;
	} u4;
	mh = (struct msghdr){
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u4.b, .msg_controllen = sizeof(u4.b)};
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * 4);
	memcpy(CMSG_DATA(c), four, sizeof(four));
	assert_int_equal(sendmsg(sv[0], &mh, 0), (ssize_t)sizeof(m));
	assert_int_equal(gofer_msg_recv(sv[1], false, GOFER_ACCEPT_GOFER, NDEV, &got, fds),
			 -EPROTO);
	assert_int_equal(count_fds(), base + 1);
	/* EOF */
	close(sv[0]);
	assert_int_equal(gofer_msg_recv(sv[1], false, GOFER_ACCEPT_GOFER, NDEV, &got, fds), 0);
	close(sv[1]);
	close(devnull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_header),
	    cmocka_unit_test(test_direction_and_fds),
	    cmocka_unit_test(test_status),
	    cmocka_unit_test(test_save_load),
	    cmocka_unit_test(test_faults),
	    cmocka_unit_test(test_regions),
	    cmocka_unit_test(test_random),
	    cmocka_unit_test(test_socket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
