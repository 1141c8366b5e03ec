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
 * that every string is terminated before using any of it.
 *
 * With TLS to the broker the struct is followed by the PEM bytes of the CA
 * bundle, the client certificate and its key (tls_*_len each), which root
 * read: net builds its TLS context from them before its sandbox closes and
 * never opens those files (the key is root-only). */
#ifndef CR_NETBOOT_H
#define CR_NETBOOT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "crconfig.h"
#include "rtls.h"
#include "sign.h"
#include "tzone.h"
#include "winconf.h"

#define NETBOOT_PRIV_FD 3
#define NETBOOT_FD 4
#define NETBOOT_MAGIC 0x43524e42u   /* "CRNB" */
#define NETBOOT_VERSION 2

struct netboot {
	uint32_t magic, version;
	uint64_t size;                  /* sizeof(struct netboot) */
	int64_t priv_pid;               /* net checks that priv is still its parent */
	int32_t log_level;              /* enum log_level */
	int32_t use_syslog;             /* detached: syslog; --foreground: stderr */
	uint32_t tls_ca_len, tls_cert_len, tls_key_len;   /* the PEM bytes after the struct */
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
 * sealed memfd holding it and pem's bytes (pem NULL: none; close-on-exec),
 * or -1 with errno. */
int cr_netboot_write(struct netboot *b, const struct cr_tls_pem *pem);
/* net: reads and checks fd (sealed, exactly one struct and the PEM bytes
 * it announces), then installs the pins with cr_tz_pin_rule.  0 with the
 * PEM bytes in pem (free with cr_tls_pem_free), or -1 with the reason. */
int cr_netboot_read(int fd, struct netboot *b, struct cr_tls_pem *pem, char *err, size_t errlen);

#endif
