/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reap PIDFILE CMD [ARG...]: what conmon and containerd's shim do with a
 * runtime.  Becomes a child subreaper, runs CMD and waits for it, then
 * reads the pid CMD left in PIDFILE (a descendant that outlived CMD: the
 * sandbox of `create`, the waiter of `exec -d`), waits for that process
 * too and prints "cmd STATUS" and "pid exited N" or "pid signaled N".
 * Exits with CMD's status.  Test helper for the nested OCI suite.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: reap PIDFILE CMD [ARG...]\n");
		return 2;
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	pid_t c = fork();
	if (c == 0) {
		execvp(argv[2], argv + 2);
		perror("execvp");
		_exit(127);
	}
	int st = 0;
	waitpid(c, &st, 0);
	int cmd = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	printf("cmd %d\n", cmd);
	fflush(stdout);
	if (cmd != 0)
		return cmd;
	FILE *f = fopen(argv[1], "r");
	int pid = 0;
	if (!f || fscanf(f, "%d", &pid) != 1 || pid <= 0) {
		printf("no pid in %s\n", argv[1]);
		return 1;
	}
	fclose(f);
	/* reap everything until the pid-file process is seen */
	for (;;) {
		pid_t w = waitpid(-1, &st, 0);
		if (w < 0) {
			printf("pid %d was not our descendant\n", pid);
			return 1;
		}
		if (w != pid)
			continue;
		if (WIFEXITED(st))
			printf("pid exited %d\n", WEXITSTATUS(st));
		else
			printf("pid signaled %d\n", WTERMSIG(st));
		return 0;
	}
}
