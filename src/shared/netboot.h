/* What celeryrootd hands the net program it execs (celeryroot-net): the
 * configuration, broker address, trusted keys, maintenance windows and
 * pinned time zones it has already read as root, so that net never opens
 * a root-only file.  They travel in a sealed memfd at fd NETBOOT_FD; the
 * socketpair to priv is fd NETBOOT_PRIV_FD.
 *
 * The blob is the struct below, byte for byte: both programs are built
 * from the same tree in one build, and the header (magic, version, size)
 * turns a mismatch (say a celeryroot-net from another build) into a
 * refusal rather than misread memory.  net still checks every count and
 * that every string is terminated before using any of it. */
#ifndef CR_NETBOOT_H
#define CR_NETBOOT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "crconfig.h"
#include "sign.h"
#include "tzone.h"
#include "winconf.h"

#define NETBOOT_PRIV_FD 3
#define NETBOOT_FD 4
#define NETBOOT_MAGIC 0x43524e42u   /* "CRNB" */
#define NETBOOT_VERSION 1

struct netboot {
	uint32_t magic, version;
	uint64_t size;                  /* sizeof(struct netboot) */
	int64_t priv_pid;               /* net checks that priv is still its parent */
	int32_t log_level;              /* enum log_level */
	int32_t use_syslog;             /* detached: syslog; --foreground: stderr */
	struct cr_config cfg;
	struct broker_addr broker;
	struct keyring keys;
	uint32_t nwindows;
	struct host_window windows[WINCONF_MAX];
	uint32_t npins;
	struct {
		char name[TZ_NAME_MAX + 1];
		char rule[TZ_RULE_MAX + 1];
	} pins[TZ_PIN_MAX];
};

/* celeryrootd: fills b's header and pins (from cr_tz_pin_get) and returns a
 * sealed memfd holding it (close-on-exec), or -1 with errno. */
int cr_netboot_write(struct netboot *b);
/* net: reads and checks fd (sealed, exactly one struct), then installs the
 * pins with cr_tz_pin_rule.  0, or -1 with the reason in err. */
int cr_netboot_read(int fd, struct netboot *b, char *err, size_t errlen);

#endif
