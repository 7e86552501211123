/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `kvbox delete [--force] ID`, as runc: a stopped or created container is
 * deleted; a running or paused one only with --force.  Under the
 * container's lock: SIGKILL the sandbox (the VMM; pid + start time
 * checked, through a pidfd) and the gofer, wait for them to end, tear down
 * what the container holds outside its state directory
 * (oci_container_teardown: the network, the host cgroup), then remove the directory.
 *
 * An unknown id is an error, except with --force (runc: "nothing to do").
 * A directory without state.json (a create that died early) is removed
 * either way, as runc does.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>

#include "oci/cgroup.h"
#include "oci/cli.h"
#include "oci/lifecycle.h"
#include "oci/net.h"

#define KILL_WAIT_MS 10000

int oci_container_teardown(struct oci_cli *cli, struct oci_container *c, struct kv_err *err)
{
	/* Everything here must be safe to run twice: a delete that failed
	 * half-way is retried.  The network: what a killed sandbox could not
	 * give back (oci/net.h; nothing when it exited by itself).  poststop
	 * hooks: their failure is a warning (runtime spec), and a container
	 * that never got past "creating" has none to run. */
	/* the host cgroup first: what is still inside is killed (a sandbox
	 * whose create was cut short has no pid in the state), so nothing
	 * runs while the network is given back */
	int r = oci_cg_teardown(c->dirfd, err);
	if (r < 0)
		return kv_err_wrap(err, r, "container \"%s\"", c->st.id);
	r = oci_net_cleanup(c->dirfd, err);
	if (r < 0)
		return kv_err_wrap(err, r, "container \"%s\": its network", c->st.id);
	if (c->st.status == OCI_STATUS_CREATING)
		return 0;
	c->st.status = OCI_STATUS_STOPPED;
	struct kv_err herr = {0};
	if (oci_container_hooks(cli, c, OCI_HOOK_POSTSTOP, &herr) < 0)
		oci_cli_warn(cli, "%s", herr.msg);
	return 0;
}

/* Ends the sandbox and the gofer; 0 when both are gone. */
static int stop_processes(struct oci_cli *cli, struct oci_container *c, struct kv_err *err)
{
	struct oci_state *st = &c->st;

	if (oci_proc_alive(&st->sandbox))
		oci_cli_debug(cli, "container \"%s\": SIGKILL to sandbox %d", st->id,
			      (int)st->sandbox.pid);
	int r = oci_proc_kill_wait(&st->sandbox, KILL_WAIT_MS, err);
	if (r < 0)
		return kv_err_wrap(err, r, "container \"%s\": stopping the sandbox", st->id);
	/* the gofer follows its VMM by itself; make sure */
	r = oci_proc_kill_wait(&st->gofer, KILL_WAIT_MS, err);
	if (r < 0)
		return kv_err_wrap(err, r, "container \"%s\": stopping the gofer", st->id);
	return 0;
}

static int delete_locked(struct oci_cli *cli, struct oci_container *c, bool force,
			 struct kv_err *err)
{
	enum oci_status s = c->st.status;

	if ((s == OCI_STATUS_RUNNING || s == OCI_STATUS_PAUSED) && !force)
		return kv_err_set(err, EBUSY, "cannot delete container %s that is not stopped: %s",
				  c->st.id, oci_status_name(s));
	int r = stop_processes(cli, c, err);
	if (r == 0)
		r = oci_container_teardown(cli, c, err);
	if (r == 0)
		r = oci_state_destroy(c, err);
	return r;
}

static int delete_one(struct oci_cli *cli, const char *id, bool force, struct kv_err *err)
{
	struct oci_statedir root = {.fd = -1};
	struct oci_container *c = NULL;

	int r = oci_id_validate(id, err);
	if (r < 0)
		return r;
	r = oci_cli_open_root(cli, &root, false, err);
	if (r == 0)
		r = oci_state_load(&root, id, OCI_LOAD_LOCK, &c, err);
	if (r == -ENOENT) {
		if (root.fd >= 0 && oci_state_remove_stale(&root, id, NULL) == 0)
			oci_cli_debug(cli, "removed %s/%s, which had no state.json", root.path, id);
		r = force ? 0 : kv_err_set(err, ENOENT, "container \"%s\" does not exist", id);
	} else if (r == 0) {
		/* a "creating" container under our lock was abandoned by its
		 * create: it stays "creating" (its sandbox, if any, is killed;
		 * it gets no poststop hooks, having never been created) */
		if (c->st.status != OCI_STATUS_CREATING)
			oci_state_refresh(c);
		r = delete_locked(cli, c, force, err);
	}
	oci_container_free(c);
	oci_statedir_close(&root);
	return r;
}

int oci_cmd_delete(struct oci_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'}, {0}};
	struct kv_err err = {0};
	bool force = false;
	int ch;

	while ((ch = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			force = true;
			break;
		case 'h':
			printf("usage: kvbox delete [-f|--force] ID\n"
			       "Deletes a stopped or created container; --force kills a running "
			       "one first.\n");
			return 0;
		default:
			return oci_cli_bad_option(cli, argv, optind, optopt);
		}
	}
	if (oci_cli_nargs(cli, argc, optind, 1, 1, "the container id"))
		return 1;
	if (delete_one(cli, argv[optind], force, &err) < 0)
		return oci_cli_fail_err(cli, &err);
	return 0;
}
