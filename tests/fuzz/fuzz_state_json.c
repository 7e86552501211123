/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for state.json (oci/state_json.c): the file every
 * lifecycle command reads from ROOT/ID.  It is written by kvbox only, but
 * it lives on disk where a crash, a full disk or another root process can
 * leave anything, so the parser must hold for any bytes: a failure is
 * -EINVAL with one line naming the field; a success must format
 * (oci_state_format), parse again to the same fields, and format to the
 * same text; the public state JSON (oci_state_json) must build.
 *
 * Seed corpus: tests/fuzz/corpus/state_json/ (each status, with and
 * without the optional fields, annotations, and broken files).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci/state.h"
#include "oci/state_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int streq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_state st = {0}, st2 = {0};
	struct kv_err err = {0};
	int r = oci_state_parse((const char *)data, size, &st, &err);
	if (r < 0) {
		if (r != -EINVAL || err.msg[0] == '\0' || strchr(err.msg, '\n'))
			__builtin_trap();
		oci_state_fini(&st);
		return 0;
	}
	char *t1 = oci_state_format(&st);
	if (!t1)
		__builtin_trap();
	if (oci_state_parse(t1, strlen(t1), &st2, &err) != 0)
		__builtin_trap(); /* what we write, we must read */
	if (!streq(st.id, st2.id) || st.status != st2.status || !streq(st.bundle, st2.bundle) ||
	    !streq(st.rootfs, st2.rootfs) || strcmp(st.created, st2.created) ||
	    st.sandbox.pid != st2.sandbox.pid || st.sandbox.start_time != st2.sandbox.start_time ||
	    st.gofer.pid != st2.gofer.pid || !streq(st.control_socket, st2.control_socket))
		__builtin_trap();
	char *t2 = oci_state_format(&st2);
	if (!t2 || strcmp(t1, t2))
		__builtin_trap();
	json_t *pub = oci_state_json(&st);
	if (!pub)
		__builtin_trap();
	json_decref(pub);
	free(t1);
	free(t2);
	oci_state_fini(&st);
	oci_state_fini(&st2);
	return 0;
}
