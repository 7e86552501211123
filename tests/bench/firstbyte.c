/* SPDX-License-Identifier: Apache-2.0 */
/*
 * firstbyte: runs a command N times and reports, per run, the time from
 * just before exec to the first byte (or first occurrence of a marker
 * string) on the command's stdout, and the command's peak RSS
 * (wait4's ru_maxrss, which covers the process and its threads).
 *   firstbyte [-n RUNS] [-m MARKER] [-t TIMEOUT_S] -- CMD ARGS...
 * Prints "median_ms=X min_ms=Y rss_kib=Z" (rss: median of runs).  Used by
 * tests/bench/startup and tests/bench/boot to time kvbox and its peer the
 * same way, side by side.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* One run: returns ms to the marker (or -1), fills *rss_kib. */
static double run_once(char **argv, const char *marker, int timeout_s, long *rss_kib)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	double t0 = now_ms();
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		int devnull = open("/dev/null", 0);
		dup2(devnull, 0);
		close(p[0]);
		close(p[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	double hit = -1;
	char window[4096];
	size_t wlen = 0, mlen = marker ? strlen(marker) : 0;
	for (;;) {
		struct pollfd pf = {.fd = p[0], .events = POLLIN};
		int left = (int)(timeout_s * 1000 - (now_ms() - t0));
		if (left <= 0 || poll(&pf, 1, left) <= 0)
			break;
		char buf[4096];
		ssize_t n = read(p[0], buf, sizeof(buf));
		if (n <= 0)
			break;
		if (hit >= 0)
			continue; /* drain so the child never blocks */
		if (!marker) {
			hit = now_ms() - t0;
			continue;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (wlen == sizeof(window) - 1) {
				memmove(window, window + wlen / 2, wlen - wlen / 2);
				wlen -= wlen / 2;
			}
			window[wlen++] = buf[i];
			window[wlen] = 0;
			if (wlen >= mlen && !memcmp(window + wlen - mlen, marker, mlen)) {
				hit = now_ms() - t0;
				break;
			}
		}
	}
	kill(pid, SIGKILL);
	close(p[0]);
	struct rusage ru;
	int st;
	wait4(pid, &st, 0, &ru);
	*rss_kib = ru.ru_maxrss;
	return hit;
}

int main(int argc, char **argv)
{
	int runs = 10, timeout_s = 60, opt;
	const char *marker = NULL;
	while ((opt = getopt(argc, argv, "+n:m:t:")) != -1) {
		if (opt == 'n')
			runs = atoi(optarg);
		else if (opt == 'm')
			marker = optarg;
		else if (opt == 't')
			timeout_s = atoi(optarg);
		else
			return 2;
	}
	if (optind >= argc || runs < 1 || runs > 1000) {
		fprintf(stderr, "usage: firstbyte [-n RUNS] [-m MARKER] [-t SECONDS] -- CMD...\n");
		return 2;
	}
	double *ms = calloc((size_t)runs, sizeof(double));
	double *rss = calloc((size_t)runs, sizeof(double));
	for (int i = 0; i < runs; i++) {
		long r = 0;
		ms[i] = run_once(argv + optind, marker, timeout_s, &r);
		rss[i] = (double)r;
		if (ms[i] < 0) {
			fprintf(stderr, "firstbyte: %s: no %s within %d s\n", argv[optind],
				marker ? "marker" : "output", timeout_s);
			return 1;
		}
	}
	qsort(ms, (size_t)runs, sizeof(double), cmp_d);
	qsort(rss, (size_t)runs, sizeof(double), cmp_d);
	printf("median_ms=%.2f min_ms=%.2f rss_kib=%.0f\n", ms[runs / 2], ms[0], rss[runs / 2]);
	return 0;
}
