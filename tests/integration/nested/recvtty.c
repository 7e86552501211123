/* SPDX-License-Identifier: Apache-2.0 */
/*
 * recvtty SOCKET [INPUT]: the receiving end of a --console-socket, as
 * runc's contrib/cmd/recvtty.  Listens on SOCKET, takes one pty master
 * (SCM_RIGHTS), writes INPUT to it, and copies everything the master
 * gives to stdout until the other side is gone (EIO).  Prints the pty name
 * it got on stderr.  With $RECVTTY_RESIZE (ROWSxCOLS) the master is
 * resized once the container has printed something (so the container saw
 * its initial size first).  Test helper for the nested OCI suite.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: recvtty SOCKET [INPUT]\n");
		return 2;
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	unlink(argv[1]);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0) {
		perror("recvtty: socket");
		return 1;
	}
	int s = accept(l, NULL, NULL);
	char name[256] = {0};
	struct iovec iov = {.iov_base = name, .iov_len = sizeof(name) - 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	if (s < 0 || recvmsg(s, &mh, 0) < 0 || !CMSG_FIRSTHDR(&mh)) {
		perror("recvtty: recvmsg");
		return 1;
	}
	int master;
	memcpy(&master, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
	fprintf(stderr, "recvtty: got %s\n", name);
	if (argc > 2 && write(master, argv[2], strlen(argv[2])) < 0)
		perror("recvtty: write");
	const char *resize = getenv("RECVTTY_RESIZE");
	for (;;) {
		char buf[4096];
		ssize_t r = read(master, buf, sizeof(buf));
		if (r <= 0)
			break;
		fwrite(buf, 1, (size_t)r, stdout);
		fflush(stdout);
		if (resize) {
			struct winsize ws = {0};
			if (sscanf(resize, "%hux%hu", &ws.ws_row, &ws.ws_col) == 2)
				ioctl(master, TIOCSWINSZ, &ws);
			resize = NULL;
		}
	}
	return 0;
}
