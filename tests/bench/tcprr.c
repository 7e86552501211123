/* SPDX-License-Identifier: Apache-2.0 */
/* tests/bench/tcprr: TCP request/response latency (netperf TCP_RR style),
 * built static by tests/bench/net so it runs in a busybox guest too.
 *   tcprr server PORT          echo every byte back, one connection at a
 *                              time, forever
 *   tcprr client HOST PORT S   round trips of one byte (TCP_NODELAY) for
 *                              S seconds after 10 unmeasured ones; prints
 *                              "rr_ns=AVG n=COUNT" (mean ns per round trip)
 * Exits 1 with one line on stderr on any error. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *what)
{
	perror(what);
	return 1;
}

static int serve(int port)
{
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (s < 0)
		return fail("socket");
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 4) < 0)
		return fail("bind/listen");
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0)
			return fail("accept");
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		char b;
		while (read(c, &b, 1) == 1)
			if (write(c, &b, 1) != 1)
				break;
		close(c);
	}
}

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int client(const char *host, int port, long secs)
{
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (s < 0 || inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return fail("socket/address");
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		return fail("connect");
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	char b = 'x';
	double t0 = 0, t = 0, end = 0;
	long n = 0;
	for (long i = -10; i < 0 || t < end; i++) {
		if (write(s, &b, 1) != 1 || read(s, &b, 1) != 1)
			return fail("round trip");
		if (i == -1)
			end = (t0 = now_ns()) + (double)secs * 1e9;
		else if (i >= 0)
			n++, t = now_ns();
	}
	printf("rr_ns=%.0f n=%ld\n", (t - t0) / (double)n, n);
	close(s);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "server"))
		return serve(atoi(argv[2]));
	if (argc == 5 && !strcmp(argv[1], "client") && atol(argv[4]) > 0)
		return client(argv[2], atoi(argv[3]), atol(argv[4]));
	fprintf(stderr, "usage: tcprr server PORT | tcprr client HOST PORT N\n");
	return 1;
}
