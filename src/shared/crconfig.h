/* Configuration: INI file (libinih), then environment, then command line. */
#ifndef CR_CONFIG_H_
#define CR_CONFIG_H_

#include <limits.h>
#include <stddef.h>

#include "registry.h"

/* The daemon and the CLI read different files by default, so that a root
 * shell on a managed host does not log in with the daemon's credentials. */
#define CONFIG_DAEMON_PATH "/etc/celeryroot/celeryrootd.conf"
#define CONFIG_CLI_SYSTEM_PATH "/etc/celeryroot/celeryroot.conf"
#define TRUSTED_KEYS_DEFAULT "/etc/celeryroot/trusted-keys"
#define BROKER_DEFAULT_URL "redis://127.0.0.1:6379/0"

#define BROKER_SENTINELS_MAX 8

/* TLS to the broker (rediss://, kombu's ssl_* parameters): docs/DESIGN.md. */
struct broker_tls {
	int on;                 /* never falls back to clear text once on */
	int verify;             /* ssl_cert_reqs: 1 required (the default), 0 none */
	char ca_certs[PATH_MAX]; /* "": the system bundle */
	char certfile[PATH_MAX]; /* client certificate (mutual TLS); "" none */
	char keyfile[PATH_MAX];
	char servername[256];   /* the name the certificate must carry: the URL's host */
};

struct broker_endpoint {
	char host[256];         /* numeric after cr_broker_resolve() */
	int port;
};

struct broker_addr {
	char host[256];         /* numeric after cr_broker_resolve() */
	int port;
	int db;
	char user[128];         /* empty: AUTH with the password only */
	char password[256];     /* empty: no AUTH */
	struct broker_tls tls;
	/* sentinel://: the sentinels asked for master_name's address; host and
	 * port then hold the master found last.  nsentinels 0: plain Redis. */
	int nsentinels;
	struct broker_endpoint sentinels[BROKER_SENTINELS_MAX];
	char master_name[128];
	char sentinel_password[256]; /* AUTH to the sentinels; empty: none */
};

/* [daemon] apparmor: auto confines net where AppArmor is enabled and warns
 * when its profile is missing; require refuses to run unconfined; off never
 * tries (e.g. a host whose policy confines celeryrootd some other way). */
enum cr_apparmor { CR_APPARMOR_AUTO = 0, CR_APPARMOR_REQUIRE, CR_APPARMOR_OFF };
const char *cr_config_apparmor_name(int mode);

struct cr_config {
	/* [broker] */
	char broker_url[512];
	char broker_user[128];
	char broker_password[256];
	int broker_ssl;                 /* ssl = true: TLS whatever the URL's scheme */
	int broker_ssl_cert_reqs;       /* -1 unset (the URL's, else required), 0 none, 1 required */
	char broker_ssl_ca_certs[PATH_MAX];
	char broker_ssl_certfile[PATH_MAX];
	char broker_ssl_keyfile[PATH_MAX];
	char broker_password_file[PATH_MAX]; /* read by cr_broker_from when the URL has no password */
	/* 1 in the daemon: password_file must be root's (or the invoking
	 * user's) and nobody else's to read; the CLI takes an operator's own. */
	int password_file_strict;
	char master_name[128];      /* sentinel:// without ?master_name= */
	char sentinel_password[256];
	int reconnect_spread_ms;    /* net's first reconnect after a drop: at random within this (default 2000) */
	/* [daemon] */
	char hostname[HOSTNAME_MAX + 1];
	char roles[REG_MAX_ROLES][ROLE_MAX + 1];
	int nroles;
	char user[64];
	char sandbox[PATH_MAX];
	int heartbeat_s;            /* default 5 */
	int result_expires_s;       /* default 30 days */
	int lock_timeout_s;         /* dpkg lock wait, default 120 */
	char audit_log[PATH_MAX];   /* default: /var/log/celeryroot/audit.log under the host root */
	char trusted_keys[PATH_MAX]; /* public keys of those who may sign tasks */
	struct {
		int found;              /* cr_config_load read a file */
		unsigned mode;          /* its st_mode and owner */
		long uid;
	} file;
	int require_signed;         /* -1 (not set): required when any key is trusted; 0 or 1 as set */
	int apparmor;               /* enum cr_apparmor: does net change into its profile */
	int audit_max_bytes;        /* the audit log is rotated past this size (default 64 MiB) */
	int audit_keep;             /* rotated audit logs kept: audit.log.1..N (default 5) */
	int audit_changes_per_minute; /* changes priv admits (and audits) per minute (default 300) */
	int allow_unauthenticated;  /* install from archives apt cannot authenticate (default false) */
	int apt_cache_idle_s;       /* priv gives its APT cache back after this long without a read (default 30) */
	/* [cli] */
	int timeout_s;              /* default 60 */
	int task_expires_s;         /* default 24 h */
	int job_ttl_s;              /* default 30 days */
	char signing_key[PATH_MAX]; /* the operator's secret key: sign every task; "" = do not */
	/* [beat] */
	char beat_trusted_keys[PATH_MAX]; /* keys whose signed schedules beat fires; "" = the default dir */
};

void cr_config_defaults(struct cr_config *c);
/* Loads an INI file.  A missing file is fine unless must_exist. */
/* For the daemon, whose config decides what a host runs as root: -1 with
 * the chmod/chown that fixes it when the file read by cr_config_load is
 * writable by others, owned by another user, or holds a broker password
 * and is readable by everyone. */
int cr_config_file_safe(const struct cr_config *c, const char *path, char *err, size_t errlen);
int cr_config_load(struct cr_config *c, const char *path, int must_exist, char *err, size_t errlen);
/* Parses INI text (also the fuzzing entry point). */
int cr_config_parse_string(struct cr_config *c, const char *text, char *err, size_t errlen);
/* Parses redis[s]://[[user]:password@]host[:port][/db][?ssl_...]: rediss://
 * turns TLS on; the query takes kombu's ssl_cert_reqs, ssl_ca_certs,
 * ssl_certfile and ssl_keyfile (broker_tls.c). */
int cr_broker_parse_url(const char *url, struct broker_addr *b, char *err, size_t errlen);
/* Broker precedence: explicit (--broker), CELERYROOT_BROKER_URL, config, default.
 * Credentials in the config apply when the URL carries none; [broker] ssl
 * and ssl_* where the URL's query does not set them. */
int cr_broker_from(const char *explicit_url, const struct cr_config *c, struct broker_addr *b,
		char *url_out, size_t url_len, char *err, size_t errlen);
/* Reads the broker password from path: one line (a trailing newline is
 * dropped), at most 255 bytes, a regular file owned by root or the caller.
 * strict (the daemon) refuses one any other user or group could read or
 * write; otherwise (the CLI) one anyone may read or others may write. */
int cr_password_file_read(const char *path, int strict, char *out, size_t outlen, char *err, size_t errlen);
/* The URL as shown to people: any password replaced by ***. */
void cr_broker_mask(const char *url, char *out, size_t len);
/* One line for logs and errors: where (a masked URL), as which ACL user
 * ("default" when none) and how (plain, TLS verify on|off, Sentinel). */
void cr_broker_describe(const struct broker_addr *b, char *out, size_t len);
/* The CLI's configuration file: $CELERYROOT_CONFIG, else the operator's
 * own ($XDG_CONFIG_HOME or ~/.config, celeryroot/celeryroot.conf) when it
 * exists, else CONFIG_CLI_SYSTEM_PATH; never the daemon's.  *explicit is 1
 * when the file was named ($CELERYROOT_CONFIG) and so must exist. */
const char *cr_config_cli_path(char *buf, size_t len, int *explicit_);
/* The daemon's configuration file: CONFIG_DAEMON_PATH, or on a host
 * upgraded from when both read it, CONFIG_CLI_SYSTEM_PATH while the
 * daemon's is missing (*legacy = 1: the daemon says to rename it). */
const char *cr_config_daemon_path(int *legacy);
/* Replaces b->host by a numeric address, so that reconnecting later needs no
 * name service (net's sandbox has no files to read). */
int cr_broker_resolve(struct broker_addr *b, char *err, size_t errlen);

#endif
