/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `kvbox start ID`: the prepared init of a created container execs
 * (startContainer hooks first, poststart hooks after; oci_start_locked).
 * `kvbox pause ID` / `kvbox resume ID`: the sandbox parks / releases the
 * VM's vCPUs (the whole guest stands still, as a frozen cgroup would).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci/lifecycle.h"

static int one_id(struct oci_cli *cli, int argc, char **argv, const char *usage)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch != 'h')
			return oci_cli_bad_option(cli, argv, optind, optopt);
		printf("%s\n", usage);
		exit(0);
	}
	return oci_cli_nargs(cli, argc, optind, 1, 1, "the container id");
}

int oci_cmd_start(struct oci_cli *cli, int argc, char **argv)
{
	if (one_id(cli, argc, argv, "usage: kvbox start ID\nStarts a created container."))
		return 1;
	struct oci_statedir root = {.fd = -1};
	struct oci_container *c = NULL;
	struct kv_err err = {0};
	int r = oci_container_open(cli, argv[optind], true, &root, &c, &err);
	if (r == 0)
		r = oci_start_locked(cli, c, &err);
	oci_container_free(c);
	oci_statedir_close(&root);
	return r < 0 ? oci_cli_fail_err(cli, &err) : 0;
}

static int vm_call(struct oci_container *c, bool pause, struct kv_err *err)
{
	json_t *req = json_pack("{s:s}", "op", pause ? "pause" : "resume");
	json_t *reply = NULL;
	int r = oci_container_call(c, req, OCI_CTL_TIMEOUT_MS, &reply, err);
	json_decref(req);
	json_decref(reply);
	return r;
}

static int pause_resume(struct oci_cli *cli, int argc, char **argv, bool pause)
{
	if (one_id(cli, argc, argv,
		   pause ? "usage: kvbox pause ID\nFreezes the container's VM."
			 : "usage: kvbox resume ID\nThaws a paused container's VM."))
		return 1;
	struct oci_statedir root = {.fd = -1};
	struct oci_container *c = NULL;
	struct kv_err err = {0};
	int r = oci_container_open(cli, argv[optind], true, &root, &c, &err);
	if (r == 0)
		r = oci_container_require(c, 1u << (pause ? OCI_STATUS_RUNNING : OCI_STATUS_PAUSED),
					  &err);
	if (r == 0)
		r = vm_call(c, pause, &err);
	if (r == 0) {
		c->st.status = pause ? OCI_STATUS_PAUSED : OCI_STATUS_RUNNING;
		r = oci_state_save(c, &err);
		if (r < 0) {
			/* the state cannot say so (a full disk): undo, so that
			 * state.json stays true */
			c->st.status = pause ? OCI_STATUS_RUNNING : OCI_STATUS_PAUSED;
			vm_call(c, !pause, NULL);
			kv_err_wrap(&err, r, "container \"%s\" %s", c->st.id,
				    pause ? "not paused" : "not resumed");
		}
	}
	oci_container_free(c);
	oci_statedir_close(&root);
	return r < 0 ? oci_cli_fail_err(cli, &err) : 0;
}

int oci_cmd_pause(struct oci_cli *cli, int argc, char **argv)
{
	return pause_resume(cli, argc, argv, true);
}

int oci_cmd_resume(struct oci_cli *cli, int argc, char **argv)
{
	return pause_resume(cli, argc, argv, false);
}
