/* SPDX-License-Identifier: Apache-2.0 */
/*
 * net-df: UDP datagrams with the Don't Fragment bit, for net.bats's MTU
 * checks (built static: it runs in the busybox guest and in the peer).
 *   net-df send HOST PORT SIZE   sends one SIZE-byte datagram with DF
 *                                (IP_PMTUDISC_DO); prints "sent SIZE", or
 *                                "EMSGSIZE" (bigger than the route's MTU)
 *                                and exits 2; other errors exit 1
 *   net-df recv PORT             prints the size of the first datagram
 *                                received ("got SIZE"); gives up after 60 s
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static char buf[65536];

int main(int argc, char **argv)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	if (s < 0) {
		perror("socket");
		return 1;
	}
	if (argc == 5 && !strcmp(argv[1], "send")) {
		int df = IP_PMTUDISC_DO;
		long size = atol(argv[4]);
		a.sin_port = htons((uint16_t)atoi(argv[3]));
		if (inet_pton(AF_INET, argv[2], &a.sin_addr) != 1 || size < 0 ||
		    size > (long)sizeof(buf)) {
			fprintf(stderr, "net-df: bad host or size\n");
			return 1;
		}
		if (setsockopt(s, IPPROTO_IP, IP_MTU_DISCOVER, &df, sizeof(df)) < 0) {
			perror("IP_MTU_DISCOVER");
			return 1;
		}
		memset(buf, 'x', (size_t)size);
		if (sendto(s, buf, (size_t)size, 0, (struct sockaddr *)&a, sizeof(a)) < 0) {
			if (errno == EMSGSIZE) {
				printf("EMSGSIZE\n");
				return 2;
			}
			perror("sendto");
			return 1;
		}
		printf("sent %ld\n", size);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "recv")) {
		struct timeval tv = {.tv_sec = 60};
		a.sin_port = htons((uint16_t)atoi(argv[2]));
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
			perror("bind");
			return 1;
		}
		ssize_t n = recv(s, buf, sizeof(buf), 0);
		if (n < 0) {
			perror("recv");
			return 1;
		}
		printf("got %zd\n", n);
		return 0;
	}
	fprintf(stderr, "usage: net-df send HOST PORT SIZE | net-df recv PORT\n");
	return 1;
}
