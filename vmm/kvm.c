/* SPDX-License-Identifier: Apache-2.0 */
/* Opening /dev/kvm and telling which KVM this is; see vmm/kvm.h. */
#include "vmm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int path_exists(const char *p)
{
	return access(p, F_OK) == 0;
}

static int cpuinfo_has_flag(const char *flag)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	if (!f)
		return 0;
	char line[4096];
	int found = 0;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		for (char *tok = strtok(line, " \t\n"); tok; tok = strtok(NULL, " \t\n"))
			if (!strcmp(tok, flag))
				found = 1;
		break;
	}
	fclose(f);
	return found;
}

enum kvm_flavour kvm_detect_flavour(void)
{
	/* kvm_pvm serves /dev/kvm whenever it is loaded, even on a CPU that
	 * also has VMX or SVM, so it is checked first. */
	if (path_exists("/sys/module/kvm_pvm"))
		return KVM_FLAVOUR_PVM;
	if (path_exists("/sys/module/kvm_intel") || cpuinfo_has_flag("vmx"))
		return KVM_FLAVOUR_VMX;
	if (path_exists("/sys/module/kvm_amd") || cpuinfo_has_flag("svm"))
		return KVM_FLAVOUR_SVM;
	return KVM_FLAVOUR_UNKNOWN;
}

const char *kvm_flavour_name(enum kvm_flavour f)
{
	switch (f) {
	case KVM_FLAVOUR_VMX:
		return "vmx";
	case KVM_FLAVOUR_SVM:
		return "svm";
	case KVM_FLAVOUR_PVM:
		return "pvm";
	default:
		return "unknown";
	}
}

int kvm_sys_open(struct kvm_sys *k, struct kv_err *err)
{
	memset(k, 0, sizeof(*k));
	const char *path = getenv("KVBOX_KVM_DEVICE");
	if (!path || !*path)
		path = "/dev/kvm";
	k->fd = open(path, O_RDWR | O_CLOEXEC);
	if (k->fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return kv_err_set(
			    err, e,
			    "%s does not exist: this host has no KVM "
			    "(load kvm_intel or kvm_amd, or enable nested virtualisation)",
			    path);
		return kv_err_sys(err, e, "cannot open %s", path);
	}
	int v = ioctl(k->fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		close(k->fd);
		k->fd = -1;
		return kv_err_set(err, ENOTSUP, "%s: KVM API version %d, kvbox needs %d", path, v,
				  KVM_API_VERSION);
	}
	k->flavour = kvm_detect_flavour();
	k->nr_vcpus = ioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	k->max_vcpus = ioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (k->nr_vcpus <= 0)
		k->nr_vcpus = 4;
	if (k->max_vcpus <= 0)
		k->max_vcpus = k->nr_vcpus;
	k->run_size = ioctl(k->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->run_size <= 0) {
		int e = errno;
		close(k->fd);
		k->fd = -1;
		return kv_err_sys(err, e, "KVM_GET_VCPU_MMAP_SIZE");
	}
	static const struct {
		int cap;
		const char *name;
	} need[] = {
	    {KVM_CAP_IRQCHIP, "IRQCHIP"},
	    {KVM_CAP_PIT2, "PIT2"},
	    {KVM_CAP_IOEVENTFD, "IOEVENTFD"},
	    {KVM_CAP_IRQFD, "IRQFD"},
	    {KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT"},
	    {KVM_CAP_EXT_CPUID, "EXT_CPUID"},
	};
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (ioctl(k->fd, KVM_CHECK_EXTENSION, need[i].cap) <= 0) {
			close(k->fd);
			k->fd = -1;
			return kv_err_set(err, ENOTSUP, "%s lacks KVM_CAP_%s, which kvbox needs",
					  path, need[i].name);
		}
	}
	return 0;
}

void kvm_sys_close(struct kvm_sys *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}
