/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.json parser tests (oci/config.h), what must not parse:
 * - every validation rule, table-driven: a JSON snippet and the error it
 *   must give, with the JSON path (snippets use ' for ");
 * - syntax errors with line and column, huge and deep inputs, integers
 *   beyond int64 (accepted where the spec says u64, refused elsewhere),
 *   NUL bytes, and messages kept to one escaped, bounded line.
 */
#include "tests/unit/test_oci_config.h"

#include <errno.h>
#include <stdio.h>

#include "util/cleanup.h"

/* ---- validation rules, table-driven ---------------------------------- */

#define RES(...)  LINUX("'resources':{" __VA_ARGS__ "}")
#define SCMP(...) LINUX("'seccomp':{'defaultAction':'SCMP_ACT_ALLOW'," __VA_ARGS__ "}")
#define MNT(...)  DOC("'mounts':[{'destination':'/a'},{'destination':'/b'}," __VA_ARGS__ "]")

static const struct {
	const char *json;
	const char *want;
} bad[] = {
    /* top level, root */
    {"{'root':{'path':'r'}}", "config.json: ociVersion: required field is missing"},
    {"{'ociVersion':1,'root':{'path':'r'}}",
     "config.json: ociVersion: expected a string, got an integer"},
    {"{'ociVersion':'','root':{'path':'r'}}", "ociVersion: must not be empty"},
    {"{'ociVersion':'1.0.2'}", "config.json: root: required field is missing"},
    {"{'ociVersion':'1.0.2','root':{}}", "config.json: root.path: required field is missing"},
    {"{'ociVersion':'1.0.2','root':{'path':''}}", "root.path: must not be empty"},
    {"{'ociVersion':'1.0.2','root':'rootfs'}", "root: expected an object, got a string"},
    {DOC("'root':{'path':'r','readonly':'yes'}"),
     "root.readonly: expected a boolean, got a string"},
    {DOC("'hostname':7"), "config.json: hostname: expected a string, got an integer"},
    {DOC("'domainname':['x']"), "domainname: expected a string, got an array"},
    {DOC("'annotations':{'a':'b','c':1}"),
     "config.json: annotations[\"c\"]: expected a string, got an integer"},
    {DOC("'annotations':[]"), "annotations: expected an object, got an array"},
    /* process */
    {DOC("'process':[]"), "config.json: process: expected an object, got an array"},
    {DOC("'process':{'cwd':'/'}"), "config.json: process.args: required field is missing"},
    {DOC("'process':{'cwd':'/','args':[]}"), "config.json: process.args: must not be empty"},
    {DOC("'process':{'cwd':'/','args':['sh',1]}"),
     "config.json: process.args[1]: expected a string, got an integer"},
    {DOC("'process':{'args':['sh']}"), "config.json: process.cwd: required field is missing"},
    {DOC("'process':{'args':['sh'],'cwd':'tmp'}"),
     "config.json: process.cwd: must be an absolute path, not \"tmp\""},
    {PROC("'terminal':'yes'"), "process.terminal: expected a boolean, got a string"},
    {PROC("'consoleSize':{'width':80}"), "process.consoleSize.height: required field is missing"},
    {PROC("'user':{'uid':'0'}"),
     "config.json: process.user.uid: expected an integer, got a string"},
    {PROC("'user':{'uid':1.5}"), "process.user.uid: expected an integer, got a fractional number"},
    {PROC("'user':{'uid':-1}"), "process.user.uid: -1 is out of range (0..4294967295)"},
    {PROC("'user':{'gid':4294967296}"), "process.user.gid: 4294967296 is out of range"},
    {PROC("'user':{'uid':99999999999999999999}"),
     "process.user.uid: 99999999999999999999 is out of range (0..4294967295)"},
    {PROC("'user':{'umask':512}"), "process.user.umask: 512 is out of range (0..511)"},
    {PROC("'user':{'additionalGids':[1,'2']}"),
     "process.user.additionalGids[1]: expected an integer, got a string"},
    {PROC("'user':{'additionalGids':[1,-2]}"),
     "process.user.additionalGids[1]: -2 is out of range"},
    {PROC("'env':['A=1','NOEQUALS']"), "process.env[1]: \"NOEQUALS\" is not NAME=value"},
    {PROC("'env':['=1']"), "process.env[0]: \"=1\" is not NAME=value"},
    {PROC("'env':'A=1'"), "process.env: expected an array, got a string"},
    {PROC("'capabilities':{'bounding':['CAP_CHOWN','CAP_FOO']}"),
     "config.json: process.capabilities.bounding[1]: unknown capability \"CAP_FOO\""},
    {PROC("'capabilities':{'ambient':'CAP_KILL'}"),
     "process.capabilities.ambient: expected an array, got a string"},
    {PROC("'capabilities':{'effective':['cap_chown']}"),
     "process.capabilities.effective[0]: unknown capability \"cap_chown\""},
    {PROC("'capabilities':['CAP_KILL']"), "process.capabilities: expected an object"},
    {PROC("'rlimits':[{'type':'RLIMIT_FOO','hard':1,'soft':1}]"),
     "config.json: process.rlimits[0].type: unknown rlimit \"RLIMIT_FOO\""},
    {PROC("'rlimits':[{'hard':1,'soft':1}]"), "process.rlimits[0].type: required field is missing"},
    {PROC("'rlimits':[{'type':'RLIMIT_NOFILE','hard':5,'soft':5},"
	  "{'type':'RLIMIT_NOFILE','hard':1,'soft':1}]"),
     "process.rlimits[1].type: duplicate rlimit \"RLIMIT_NOFILE\""},
    {PROC("'rlimits':[{'type':'RLIMIT_CORE','hard':-1,'soft':0}]"),
     "process.rlimits[0].hard: -1 is out of range (0..18446744073709551615)"},
    {PROC("'rlimits':[{'type':'RLIMIT_CORE','hard':18446744073709551616,'soft':0}]"),
     "process.rlimits[0].hard: 18446744073709551616 is out of range"},
    {PROC("'rlimits':[{'type':'RLIMIT_CORE','hard':1,'soft':2}]"),
     "process.rlimits[0].soft: soft limit 2 is above the hard limit 1"},
    {PROC("'rlimits':{'type':'RLIMIT_CORE'}"), "process.rlimits: expected an array, got an object"},
    {PROC("'noNewPrivileges':1"), "process.noNewPrivileges: expected a boolean, got an integer"},
    {PROC("'oomScoreAdj':1001"), "process.oomScoreAdj: 1001 is out of range (-1000..1000)"},
    {PROC("'oomScoreAdj':-1001"), "process.oomScoreAdj: -1001 is out of range"},
    {PROC("'apparmorProfile':false"), "process.apparmorProfile: expected a string"},
    {PROC("'selinuxLabel':{}"), "process.selinuxLabel: expected a string, got an object"},
    /* mounts */
    {MNT("{'destination':'/c'},{'destination':'relative/d'}"),
     "config.json: mounts[3].destination: must be an absolute path, not \"relative/d\""},
    {MNT("{'type':'tmpfs'}"), "config.json: mounts[2].destination: required field is missing"},
    {MNT("{'destination':'/c','options':'ro'}"),
     "mounts[2].options: expected an array, got a string"},
    {MNT("{'destination':'/c','options':['ro',7]}"),
     "mounts[2].options[1]: expected a string, got an integer"},
    {MNT("{'destination':'/c','type':1}"), "mounts[2].type: expected a string"},
    {MNT("'/c'"), "mounts[2]: expected an object, got a string"},
    {DOC("'mounts':{}"), "config.json: mounts: expected an array, got an object"},
    /* hooks */
    {DOC("'hooks':{'prestart':[{'path':'hook'}]}"),
     "config.json: hooks.prestart[0].path: must be an absolute path, not \"hook\""},
    {DOC("'hooks':{'poststop':[{'path':'/h'},{'path':'/h','timeout':0}]}"),
     "config.json: hooks.poststop[1].timeout: 0 is out of range (1..2147483647)"},
    {DOC("'hooks':{'createRuntime':[{'args':['x']}]}"),
     "hooks.createRuntime[0].path: required field is missing"},
    {DOC("'hooks':{'startContainer':{'path':'/h'}}"),
     "hooks.startContainer: expected an array, got an object"},
    {DOC("'hooks':{'poststart':[{'path':'/h','env':[1]}]}"),
     "hooks.poststart[0].env[0]: expected a string"},
    {DOC("'hooks':{'createContainer':[{'path':'/h','timeout':'5'}]}"),
     "hooks.createContainer[0].timeout: expected an integer, got a string"},
    {MNT("{'destination':''}"), "mounts[2].destination: must be an absolute path, not \"\""},
    {DOC("'hooks':[]"), "config.json: hooks: expected an object, got an array"},
    {DOC("'hooks':{'prestart':[{'path':'/h','args':'x'}]}"),
     "hooks.prestart[0].args: expected an array, got a string"},
    /* linux */
    {DOC("'linux':[]"), "config.json: linux: expected an object, got an array"},
    {LINUX("'namespaces':[{'type':'pid'},{'type':'pidd'}]"),
     "config.json: linux.namespaces[1].type: unknown namespace type \"pidd\""},
    {LINUX("'namespaces':[{'type':'uts'},{'type':'uts'}]"),
     "linux.namespaces[1].type: duplicate namespace type \"uts\""},
    {LINUX("'namespaces':[{'path':'/proc/1/ns/net'}]"),
     "linux.namespaces[0].type: required field is missing"},
    {LINUX("'namespaces':[{'type':'network','path':5}]"),
     "linux.namespaces[0].path: expected a string"},
    {LINUX("'uidMappings':[{'containerID':0,'hostID':1000,'size':0}]"),
     "linux.uidMappings[0].size: must be at least 1"},
    {LINUX("'gidMappings':[{'containerID':0,'size':1}]"),
     "linux.gidMappings[0].hostID: required field is missing"},
    {LINUX("'uidMappings':[{'containerID':0,'hostID':4294967295,'size':2}]"),
     "linux.uidMappings[0]: hostID + size overflows 32 bits"},
    {LINUX("'devices':[{'type':'x','path':'/dev/x'}]"),
     "linux.devices[0].type: unknown device type \"x\""},
    {LINUX("'devices':[{'type':'c','path':'dev/null','major':1,'minor':3}]"),
     "linux.devices[0].path: must be an absolute path"},
    {LINUX("'devices':[{'type':'b','path':'/dev/sda','minor':0}]"),
     "linux.devices[0].major: required for a device of type 'b'"},
    {LINUX("'devices':[{'type':'c','path':'/dev/z','major':1,'minor':5,'fileMode':-1}]"),
     "linux.devices[0].fileMode: -1 is out of range (0..4294967295)"},
    {LINUX("'cgroupsPath':true"), "linux.cgroupsPath: expected a string, got a boolean"},
    {LINUX("'sysctl':{'net.ipv4.ip_forward':1}"),
     "config.json: linux.sysctl[\"net.ipv4.ip_forward\"]: expected a string, got an integer"},
    {LINUX("'maskedPaths':['/proc/kcore','proc/keys']"),
     "linux.maskedPaths[1]: must be an absolute path, not \"proc/keys\""},
    {LINUX("'readonlyPaths':[null]"), "linux.readonlyPaths[0]: expected a string, got null"},
    {LINUX("'rootfsPropagation':'bogus'"),
     "linux.rootfsPropagation: unknown propagation \"bogus\""},
    {LINUX("'mountLabel':1"), "linux.mountLabel: expected a string"},
    {LINUX("'personality':{'domain':'LINUX64'}"),
     "linux.personality.domain: unknown personality \"LINUX64\""},
    {LINUX("'intelRdt':'x'"), "linux.intelRdt: expected an object, got a string"},
    /* linux.resources */
    {RES("'memory':{'limit':'1g'}"),
     "config.json: linux.resources.memory.limit: expected an integer, got a string"},
    {RES("'memory':{'limit':-2}"), "linux.resources.memory.limit: -2 is out of range"},
    {RES("'memory':{'limit':9223372036854775808}"),
     "linux.resources.memory.limit: 9223372036854775808 is out of range"},
    {RES("'memory':{'swappiness':-1}"), "linux.resources.memory.swappiness: -1 is out of range"},
    {RES("'memory':{'disableOOMKiller':'no'}"),
     "linux.resources.memory.disableOOMKiller: expected a boolean"},
    {RES("'cpu':{'cpus':'0-a'}"),
     "linux.resources.cpu.cpus: \"0-a\" is not a CPU list like \"0-3,5\""},
    {RES("'cpu':{'mems':'3-1'}"), "linux.resources.cpu.mems: \"3-1\" is not a CPU list"},
    {RES("'cpu':{'cpus':'1,'}"), "linux.resources.cpu.cpus: \"1,\" is not a CPU list"},
    {RES("'cpu':{'quota':1.5}"),
     "linux.resources.cpu.quota: expected an integer, got a fractional"},
    {RES("'cpu':{'shares':-2}"), "linux.resources.cpu.shares: -2 is out of range"},
    {RES("'pids':{'limit':'max'}"), "linux.resources.pids.limit: expected an integer"},
    {RES("'devices':[{'access':'rwm'}]"),
     "linux.resources.devices[0].allow: required field is missing"},
    {RES("'devices':[{'allow':true,'access':'rwx'}]"),
     "linux.resources.devices[0].access: \"rwx\" is not a subset of \"rwm\""},
    {RES("'devices':[{'allow':true,'access':'rr'}]"),
     "linux.resources.devices[0].access: \"rr\" is not a subset"},
    {RES("'devices':[{'allow':true,'type':'p'}]"),
     "linux.resources.devices[0].type: unknown device type \"p\" (a, b or c)"},
    {RES("'blockIO':{'weight':70000}"), "linux.resources.blockIO.weight: 70000 is out of range"},
    {RES("'blockIO':{'weightDevice':{}}"),
     "linux.resources.blockIO.weightDevice: expected an array"},
    {RES("'hugepageLimits':[{'limit':1}]"),
     "linux.resources.hugepageLimits[0].pageSize: required field is missing"},
    {RES("'hugepageLimits':[{'pageSize':'2MB'}]"),
     "linux.resources.hugepageLimits[0].limit: required field is missing"},
    {RES("'unified':{'memory.max':5}"),
     "linux.resources.unified[\"memory.max\"]: expected a string"},
    /* linux.seccomp */
    {LINUX("'seccomp':{}"), "config.json: linux.seccomp.defaultAction: required field is missing"},
    {LINUX("'seccomp':{'defaultAction':'SCMP_ACT_FOO'}"),
     "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_FOO\""},
    {LINUX("'seccomp':{'defaultAction':'SCMP_ACT_NOTIFY','listenerPath':'/run/l.sock'}"),
     "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY is not supported"},
    {SCMP("'syscalls':[{'names':['mount'],'action':'SCMP_ACT_NOTIFY'}]"),
     "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY is not supported: the filter runs in "
     "the VM's kernel, no listener can reach it"},
    {SCMP("'defaultErrnoRet':-1"), "linux.seccomp.defaultErrnoRet: -1 is out of range"},
    {SCMP("'architectures':['SCMP_ARCH_X86_64','SCMP_ARCH_VAX']"),
     "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_VAX\""},
    {SCMP("'flags':['SECCOMP_FILTER_FLAG_NOPE']"),
     "linux.seccomp.flags[0]: unknown flag \"SECCOMP_FILTER_FLAG_NOPE\""},
    {SCMP("'syscalls':[{'names':['read'],'action':'SCMP_ACT_ALLOW'},{'names':['x']}]"),
     "linux.seccomp.syscalls[1].action: required field is missing"},
    {SCMP("'syscalls':[{'names':['read'],'action':'SCMP_ACT_NOPE'}]"),
     "config.json: linux.seccomp.syscalls[0].action: unknown action \"SCMP_ACT_NOPE\""},
    {SCMP("'syscalls':[{'names':[],'action':'SCMP_ACT_ALLOW'}]"),
     "linux.seccomp.syscalls[0].names: must not be empty"},
    {SCMP("'syscalls':[{'action':'SCMP_ACT_ALLOW'}]"),
     "linux.seccomp.syscalls[0].names: required field is missing"},
    {SCMP("'syscalls':[{'names':['read',''],'action':'SCMP_ACT_ALLOW'}]"),
     "linux.seccomp.syscalls[0].names[1]: empty syscall name"},
    {SCMP("'syscalls':[{'names':['read'],'action':'SCMP_ACT_ERRNO','errnoRet':'EPERM'}]"),
     "linux.seccomp.syscalls[0].errnoRet: expected an integer, got a string"},
    {SCMP("'syscalls':[{'names':['clone'],'action':'SCMP_ACT_ALLOW',"
	  "'args':[{'index':0,'value':1,'op':'SCMP_CMP_EQ'},{'index':1,'value':1,'op':'SCMP_CMP_"
	  "FOO'}]}]"),
     "config.json: linux.seccomp.syscalls[0].args[1].op: unknown operator \"SCMP_CMP_FOO\""},
    {SCMP("'syscalls':[{'names':['clone'],'action':'SCMP_ACT_ALLOW',"
	  "'args':[{'index':6,'value':1,'op':'SCMP_CMP_EQ'}]}]"),
     "linux.seccomp.syscalls[0].args[0].index: 6 is out of range (0..5)"},
    {SCMP("'syscalls':[{'names':['clone'],'action':'SCMP_ACT_ALLOW',"
	  "'args':[{'index':0,'op':'SCMP_CMP_EQ'}]}]"),
     "linux.seccomp.syscalls[0].args[0].value: required field is missing"},
    {SCMP("'syscalls':[{'names':['clone'],'action':'SCMP_ACT_ALLOW',"
	  "'args':[{'index':0,'value':-1,'op':'SCMP_CMP_EQ'}]}]"),
     "linux.seccomp.syscalls[0].args[0].value: -1 is out of range"},
};

static void test_validation_table(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		print_message("case %zu\n", i);
		expect_err(bad[i].json, bad[i].want);
	}
	(void)state;
}

/* ---- syntax, size, depth, numbers ------------------------------------ */

static void test_syntax_errors(void **state)
{
	expect_err("{'ociVersion': '1.0.2',\n  'root': {'path': 'x'},\n  }",
		   "config.json: line 3 column 3: JSON syntax error: ");
	expect_err("{'ociVersion': '1.0.2' 'root': {}}",
		   "line 1 column 29: JSON syntax error: '}' expected near '\"root\"'");
	expect_err("", "config.json: line 1 column 0: JSON syntax error");
	expect_err("{} x", "JSON syntax error: end of file expected");
	expect_err("{'a': tru}", "JSON syntax error: invalid token");
	expect_err("[]", "config.json: expected a JSON object at the top level");
	expect_err("{'a':1e400}", "JSON syntax error: real number overflow");
	expect_err("{'a':'\\u0000'}", "JSON syntax error");
	expect_err("{'a':'\\u0000', 'b': 99999999999999999999}",
		   "JSON syntax error: \\u0000 is not allowed in strings");
	/* a raw control character in a string, and invalid UTF-8: the
	 * message stays on one line (expect_err checks) */
	expect_err("{'a':'x\ny'}", "JSON syntax error");
	expect_err("{'a':'\xff\xfe'}", "JSON syntax error");
	(void)state;
}

static void test_huge_input(void **state)
{
	struct kv_err err = {0};
	struct oci_config *cfg = NULL;
	size_t len = OCI_CONFIG_MAX_SIZE + 1;
	char *big = malloc(len);
	assert_non_null(big);
	memset(big, ' ', len);
	big[0] = '{';
	big[len - 1] = '}';
	assert_int_equal(oci_config_parse(big, len, "/b", &cfg, &err), -EFBIG);
	assert_null(cfg);
	assert_non_null(strstr(err.msg, "larger than the 16 MiB limit"));
	free(big);
	(void)state;
}

static char *nested(size_t depth)
{
	size_t n = depth * 2 + 64;
	char *s = malloc(n), *p = s;
	assert_non_null(s);
	p += sprintf(p, "{\"ociVersion\":\"1\",\"root\":{\"path\":\"r\"},\"x\":");
	for (size_t i = 1; i < depth; i++)
		*p++ = '[';
	for (size_t i = 1; i < depth; i++)
		*p++ = ']';
	strcpy(p, "}");
	return s;
}

static void test_deep_input(void **state)
{
	struct kv_err err = {0};
	struct oci_config *cfg = NULL;
	/* depth OCI_CONFIG_MAX_DEPTH under an unknown key: accepted */
	char *ok = nested(OCI_CONFIG_MAX_DEPTH);
	assert_int_equal(oci_config_parse(ok, strlen(ok), "/b", &cfg, &err), 0);
	oci_config_free(cfg);
	free(ok);
	size_t depths[] = {OCI_CONFIG_MAX_DEPTH + 1, 100000};
	for (size_t i = 0; i < ARRAY_SIZE(depths); i++) {
		char *deep = nested(depths[i]);
		assert_int_equal(oci_config_parse(deep, strlen(deep), "/b", &cfg, &err), -EINVAL);
		assert_string_equal(err.msg, "config.json: line 1 column 106: nesting deeper "
					     "than 64 levels");
		free(deep);
	}
	(void)state;
}

static void test_u64_values(void **state)
{
	struct oci_config *cfg = parse_ok(
	    DOC("'process':{'args':['sh'],'cwd':'/','rlimits':[{'type':'RLIMIT_CORE',"
		"'hard':18446744073709551615,'soft':18446744073709551615},"
		"{'type':'RLIMIT_MEMLOCK','hard':9223372036854775808,'soft':9223372036854775807}]},"
		"'linux':{'resources':{'cpu':{'shares':18446744073709551615,'quota':-1},"
		"'memory':{'limit':-1,'swappiness':18446744073709551615}},"
		"'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['x'],"
		"'action':'SCMP_ACT_ERRNO','args':[{'index':5,'value':18446744073709551614,"
		"'valueTwo':12345678901234567890,'op':'SCMP_CMP_MASKED_EQ'}]}]}}"));
	const struct oci_rlimit *rl = cfg->process->rlimits;
	assert_true(rl[0].hard == UINT64_MAX && rl[0].soft == UINT64_MAX);
	assert_true(rl[1].hard == 9223372036854775808ull);
	assert_true(rl[1].soft == INT64_MAX);
	const struct oci_resources *r = cfg->linux_spec.resources;
	assert_true(r->cpu.shares.v == UINT64_MAX);
	assert_int_equal(r->cpu.quota.v, -1);
	assert_int_equal(r->memory.limit.v, -1);
	assert_true(r->memory.swappiness.v == UINT64_MAX);
	const struct oci_seccomp_arg *a = &cfg->linux_spec.seccomp->syscalls[0].args[0];
	assert_int_equal(a->index, 5);
	assert_true(a->value == UINT64_MAX - 1);
	assert_true(a->value_two == 12345678901234567890ull);
	oci_config_free(cfg);
	/* a big integer where a string belongs is still the wrong type */
	expect_err(DOC("'hostname':99999999999999999999"),
		   "hostname: expected a string, got an integer");
	expect_err(PROC("'oomScoreAdj':-9223372036854775809"),
		   "process.oomScoreAdj: -9223372036854775809 is out of range");
	expect_err(PROC("'user':{'uid':1234567890123456789012345678901234567890}"),
		   "process.user.uid: 123456789012345678901234... is out of range");
	(void)state;
}

/* additionalGids: the kernel's NGROUPS_MAX (65536) is the limit */
static void test_groups_limit(void **state)
{
	for (size_t n = 65536; n <= 65537; n++) {
		size_t len = n * 2 + 128;
		char *j = malloc(len), *p = j;
		assert_non_null(j);
		if (!j) /* tells the compiler too: sprintf never gets NULL */
			return;
		p += sprintf(p, "{\"ociVersion\":\"1\",\"root\":{\"path\":\"r\"},\"process\":"
				"{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"additionalGids\":[");
		for (size_t i = 0; i < n; i++)
			p += sprintf(p, i ? ",7" : "7");
		strcpy(p, "]}}}");
		struct kv_err err = {0};
		struct oci_config *cfg = NULL;
		int r = oci_config_parse(j, strlen(j), "/b", &cfg, &err);
		if (n == 65536) {
			assert_int_equal(r, 0);
			assert_int_equal(cfg->process->user.n_additional_gids, 65536);
			oci_config_free(cfg);
		} else {
			assert_int_equal(r, -E2BIG);
			assert_string_equal(err.msg,
					    "config.json: process.user.additionalGids: 65537 "
					    "groups is more than the kernel's 65536");
		}
		free(j);
	}
	(void)state;
}

static void test_message_sanitised(void **state)
{
	/* a map key with control characters and a very long one: the path
	 * is escaped and cut, the message one line */
	expect_err(DOC("'annotations':{'a\\nb\\u001b':1}"),
		   "annotations[\"a\\x0ab\\x1b\"]: expected a string");
	char long_key[2048] = "{'ociVersion':'1','root':{'path':'r'},'annotations':{'";
	size_t n = strlen(long_key);
	memset(long_key + n, 'k', 1000);
	strcpy(long_key + n + 1000, "':2}}");
	expect_err(long_key, "kkkk...\"]: expected a string, got an integer");
	expect_err(DOC("'hostname':'a\\u0000b'"), "JSON syntax error");
	(void)state;
}

int main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validation_table),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_huge_input),
		cmocka_unit_test(test_deep_input),
		cmocka_unit_test(test_u64_values),
		cmocka_unit_test(test_groups_limit),
		cmocka_unit_test(test_message_sanitised),
	};
	/* clang-format on */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
