/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `kvbox features`: runc's features JSON (runtime-spec features.md) with
 * what kvbox accepts in config.json, plus a "kvbox" section about this
 * host: the KVM flavour, the default guest kernel and the VM limits.
 *
 * The lists describe the container as the guest agent builds it inside
 * the VM (namespaces, capabilities, mounts and seccomp are the guest
 * kernel's); cgroups are the host's, around the sandbox process.  AppArmor
 * and SELinux labels are not applied.  Keep these lists true to what
 * oci/config.c accepts and the agent applies.
 */
#include <getopt.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci/build-info.h"
#include "oci/cli.h"
#include "oci/config.h"
#include "oci/template.h"
#include "util/cleanup.h"
#include "vmm/kvm.h"
#include "vmm/template.h"
#include "vmm/vm.h"

#define OCI_VERSION_MIN "1.0.0"
#define OCI_VERSION_MAX "1.1.0"

static const char *const hooks[] = {"prestart",	      "createRuntime", "createContainer",
				    "startContainer", "poststart",     "poststop"};

static const char *const mount_options[] = {
    "acl",	   "async",	 "atime",     "bind",	      "defaults",      "dev",
    "diratime",	   "dirsync",	 "exec",      "iversion",     "lazytime",      "loud",
    "mand",	   "noacl",	 "noatime",   "nodev",	      "nodiratime",    "noexec",
    "noiversion",  "nolazytime", "nomand",    "norelatime",   "nostrictatime", "nosuid",
    "nosymfollow", "private",	 "ratime",    "rbind",	      "rdev",	       "rdiratime",
    "relatime",	   "remount",	 "ro",	      "rprivate",     "rrelatime",     "rro",
    "rrw",	   "rshared",	 "rslave",    "rstrictatime", "rsuid",	       "rsymfollow",
    "runbindable", "rw",	 "shared",    "silent",	      "slave",	       "strictatime",
    "suid",	   "sync",	 "symfollow", "unbindable",
};

static const char *const namespaces[] = {"cgroup", "ipc", "mount", "network", "pid", "uts"};

/* No SCMP_ACT_NOTIFY: there is no listener socket across the VM boundary. */
static const char *const seccomp_actions[] = {
    "SCMP_ACT_ALLOW",	    "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",	"SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",   "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"};
static const char *const seccomp_operators[] = {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
						"SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
						"SCMP_CMP_NE"};
/* the guest is x86-64 */
static const char *const seccomp_archs[] = {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"};

static json_t *strings(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}
#define STRINGS(v) strings(v, ARRAY_SIZE(v))

/* Every capability the config.json parser knows. */
static json_t *capabilities(void)
{
	json_t *a = json_array();
	for (int cap = 0; a && cap < 64; cap++)
		if (oci_cap_name(cap))
			json_array_append_new(a, json_string(oci_cap_name(cap)));
	return a;
}

static json_t *linux_section(void)
{
	return json_pack("{s:o, s:o, s:{s:b, s:b, s:b, s:b}, s:{s:b, s:o, s:o, s:o}, s:{s:b}, "
			 "s:{s:b}}",
			 "namespaces", STRINGS(namespaces), "capabilities", capabilities(),
			 "cgroup", "v1", 1, "v2", 1, "systemd", 0, "systemdUser", 0, "seccomp",
			 "enabled", 1, "actions", STRINGS(seccomp_actions), "operators",
			 STRINGS(seccomp_operators), "archs", STRINGS(seccomp_archs), "apparmor",
			 "enabled", 0, "selinux", "enabled", 0);
}

/* This host: KVM flavour, default kernel, limits (null when /dev/kvm
 * cannot be opened, e.g. no permission). */
static json_t *kvbox_section(void)
{
	struct kvm_sys k;
	json_t *max = json_null(), *rec = json_null();

	if (kvm_sys_open(&k, NULL) == 0) {
		json_decref(max);
		json_decref(rec);
		max = json_integer(k.max_vcpus < VM_MAX_VCPUS ? k.max_vcpus : VM_MAX_VCPUS);
		rec = json_integer(k.nr_vcpus < VM_MAX_VCPUS ? k.nr_vcpus : VM_MAX_VCPUS);
		kvm_sys_close(&k);
	}
	const char *dev = getenv("KVBOX_KVM_DEVICE");
	const char *bm = getenv("KVBOX_BOOT_MODE");
	const char *def =
	    bm && (!strcmp(bm, "cold") || !strcmp(bm, "template-copy")) ? bm : "template";
	json_t *boot = json_pack("{s:[s,s,s], s:s, s:s, s:i}", "modes", "cold", "template",
				 "template-copy", "default", def, "templateDir", template_root(),
				 "templateShares", TEMPLATE_SHARES);
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}, s:{s:o, s:o}, s:{s:[s,s], s:s}, s:o}",
			 "version", KVBOX_VERSION, "commit", KVBOX_COMMIT, "kvm", "flavour",
			 kvm_flavour_name(kvm_detect_flavour()), "device",
			 dev && *dev ? dev : "/dev/kvm", "kernel", "default", oci_default_kernel(),
			 "limits", "maxVcpus", max, "recommendedVcpus", rec, "network", "modes",
			 "sandbox", "none", "default", "sandbox", "boot", boot);
}

static json_t *features(void)
{
	const struct scmp_version *v = seccomp_version();
	char seccomp[32];

	snprintf(seccomp, sizeof(seccomp), "%u.%u.%u", v ? v->major : 0, v ? v->minor : 0,
		 v ? v->micro : 0);
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:{s:s, s:s, s:s}, s:o}", "ociVersionMin",
			 OCI_VERSION_MIN, "ociVersionMax", OCI_VERSION_MAX, "hooks", STRINGS(hooks),
			 "mountOptions", STRINGS(mount_options), "linux", linux_section(),
			 "annotations", "io.github.seccomp.libseccomp.version", seccomp,
			 "org.kvbox.version", KVBOX_VERSION, "org.kvbox.commit", KVBOX_COMMIT,
			 "kvbox", kvbox_section());
}

int oci_cmd_features(struct oci_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	int ch;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch != 'h')
			return oci_cli_bad_option(cli, argv, optind, optopt);
		printf("usage: kvbox features\nPrints the features this runtime supports, as "
		       "JSON.\n");
		return 0;
	}
	if (oci_cli_nargs(cli, argc, optind, 0, 0, "none"))
		return 1;
	json_t *f = features();
	if (!f)
		return oci_cli_fail(cli, 1, "out of memory");
	int r = json_dumpf(f, stdout, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
	json_decref(f);
	fputc('\n', stdout);
	return r < 0 ? oci_cli_fail(cli, 1, "cannot write to stdout") : 0;
}
