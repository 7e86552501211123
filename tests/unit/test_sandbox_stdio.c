/* SPDX-License-Identifier: Apache-2.0 */
/*
 * When an exited process's output counts as drained
 * (sb_stdio_drained, vmm/sandbox_stdio.c): at EOF of every output stream,
 * or once a stream has gone SANDBOX_DRAIN_MS without a byte while the
 * host side was ready for more.  A stream that still moves, or that waits
 * on a slow host reader, keeps the deadline moving: its tail is never cut.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "vmm/sandbox.h"

/* A sandbox whose slot 0 exited with stdout relayed (a started relay,
 * not at EOF) and no stderr. */
static struct sandbox *exited_with_stdout(void)
{
	static struct sandbox sb;
	memset(&sb, 0, sizeof(sb));
	struct sb_proc *p = &sb.procs[0];
	p->used = true;
	p->exited = true;
	p->host_fd[0] = p->host_fd[2] = -1;
	p->host_fd[1] = 1;
	p->listening[STREAM_STDOUT] = true;
	p->relay[1].started = true;
	p->exit_deadline_ms = sb_now_ms() + SANDBOX_DRAIN_MS;
	return &sb;
}

static void test_eof_is_drained(void **state)
{
	(void)state;
	struct sandbox *sb = exited_with_stdout();
	assert_false(sb_stdio_drained(sb, 0));
	sb->procs[0].relay[1].done = true;
	assert_true(sb_stdio_drained(sb, 0));
}

static void test_silent_stream_is_cut_at_the_deadline(void **state)
{
	(void)state;
	struct sandbox *sb = exited_with_stdout();
	sb->procs[0].exit_deadline_ms = sb_now_ms() - 1;
	assert_true(sb_stdio_drained(sb, 0));
}

static void test_progress_moves_the_deadline(void **state)
{
	(void)state;
	struct sandbox *sb = exited_with_stdout();
	struct sb_proc *p = &sb->procs[0];
	p->exit_deadline_ms = sb_now_ms() - 1;
	p->relay[1].bytes = 65536; /* copied since the last check */
	assert_false(sb_stdio_drained(sb, 0));
	assert_true(p->exit_deadline_ms >= sb_now_ms() + SANDBOX_DRAIN_MS - 1000);
	/* no byte since: still within the moved deadline, then cut */
	assert_false(sb_stdio_drained(sb, 0));
	p->exit_deadline_ms = sb_now_ms() - 1;
	assert_true(sb_stdio_drained(sb, 0));
}

static void test_slow_host_reader_moves_the_deadline(void **state)
{
	(void)state;
	struct sandbox *sb = exited_with_stdout();
	struct sb_proc *p = &sb->procs[0];
	p->exit_deadline_ms = sb_now_ms() - 1;
	p->relay[1].host_wait = true; /* blocked on a full pipe to the host */
	assert_false(sb_stdio_drained(sb, 0));
	p->relay[1].host_wait = false;
	p->exit_deadline_ms = sb_now_ms() - 1;
	assert_true(sb_stdio_drained(sb, 0));
}

static void test_never_connected_is_drained(void **state)
{
	(void)state;
	struct sandbox *sb = exited_with_stdout();
	struct sb_proc *p = &sb->procs[0];
	p->relay[1].started = false;
	p->listening[STREAM_STDOUT] = false; /* failed before connecting */
	assert_true(sb_stdio_drained(sb, 0));
	/* still listening: the agent may connect, until the deadline */
	p->listening[STREAM_STDOUT] = true;
	assert_false(sb_stdio_drained(sb, 0));
	p->exit_deadline_ms = sb_now_ms() - 1;
	assert_true(sb_stdio_drained(sb, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_eof_is_drained),
	    cmocka_unit_test(test_silent_stream_is_cut_at_the_deadline),
	    cmocka_unit_test(test_progress_moves_the_deadline),
	    cmocka_unit_test(test_slow_host_reader_moves_the_deadline),
	    cmocka_unit_test(test_never_connected_is_drained),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
