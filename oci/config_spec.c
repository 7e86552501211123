/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The config.json `kvbox spec` writes: runc 1.1's `runc spec` template
 * (same process, capabilities, mounts, masked and read-only paths), with
 * hostname "kvbox" and no cgroup namespace.  Kept as JSON text, so what it
 * writes is readable here as it is; tests parse it back through
 * oci_config_parse.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "oci/config.h"

static const char default_spec[] =
    "{"
    "\"ociVersion\": \"" OCI_SPEC_VERSION "\","
    "\"process\": {"
    "  \"terminal\": true,"
    "  \"user\": {\"uid\": 0, \"gid\": 0},"
    "  \"args\": [\"sh\"],"
    "  \"env\": [\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\","
    "            \"TERM=xterm\"],"
    "  \"cwd\": \"/\","
    "  \"capabilities\": {"
    "    \"bounding\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],"
    "    \"effective\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],"
    "    \"permitted\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],"
    "    \"ambient\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"]"
    "  },"
    "  \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024}],"
    "  \"noNewPrivileges\": true"
    "},"
    "\"root\": {\"path\": \"rootfs\", \"readonly\": true},"
    "\"hostname\": \"kvbox\","
    "\"mounts\": ["
    "  {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
    "  {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
    "   \"options\": [\"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\"]},"
    "  {\"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\","
    "   \"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\","
    "                 \"mode=0620\", \"gid=5\"]},"
    "  {\"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\","
    "   \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\"]},"
    "  {\"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\","
    "   \"options\": [\"nosuid\", \"noexec\", \"nodev\"]},"
    "  {\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\","
    "   \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"ro\"]},"
    "  {\"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\","
    "   \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\"]}"
    "],"
    "\"linux\": {"
    "  \"resources\": {\"devices\": [{\"allow\": false, \"access\": \"rwm\"}]},"
    "  \"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"network\"}, {\"type\": \"ipc\"},"
    "                   {\"type\": \"uts\"}, {\"type\": \"mount\"}],"
    "  \"maskedPaths\": [\"/proc/acpi\", \"/proc/asound\", \"/proc/kcore\", \"/proc/keys\","
    "                    \"/proc/latency_stats\", \"/proc/timer_list\", \"/proc/timer_stats\","
    "                    \"/proc/sched_debug\", \"/sys/firmware\", \"/proc/scsi\"],"
    "  \"readonlyPaths\": [\"/proc/bus\", \"/proc/fs\", \"/proc/irq\", \"/proc/sys\","
    "                      \"/proc/sysrq-trigger\"]"
    "}"
    "}";

int oci_config_default_spec(json_t **out, struct kv_err *err)
{
	json_error_t je;
	*out = json_loadb(default_spec, strlen(default_spec), 0, &je);
	if (!*out) /* only out of memory: the text is tested */
		return kv_err_set(err, ENOMEM, "default spec: %s", je.text);
	return 0;
}

char *oci_config_default_spec_text(void)
{
	json_t *spec;
	if (oci_config_default_spec(&spec, NULL) < 0)
		return NULL;
	/* jansson keeps insertion order, so this reads like runc's */
	char *s = json_dumps(spec, JSON_INDENT(2));
	json_decref(spec);
	if (!s)
		return NULL;
	size_t n = strlen(s);
	char *t = realloc(s, n + 2);
	if (!t) {
		free(s);
		return NULL;
	}
	memcpy(t + n, "\n", 2);
	return t;
}
