/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KVBOX_VMM_BOOT_CMD_H
#define KVBOX_VMM_BOOT_CMD_H
/* `kvbox boot ...`; argv[0] is "boot". Returns the process exit status. */
int cmd_boot(int argc, char **argv);
#endif
