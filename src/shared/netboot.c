/* The hand-over from celeryrootd to the net program it execs (netboot.h). */
#include "config.h"
#include "netboot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* Seals that make the memfd immutable for good: net may trust that what
 * it reads is what priv wrote, whoever else could reach the descriptor. */
#define NETBOOT_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int cr_netboot_write(struct netboot *b, const struct cr_tls_pem *pem)
{
	const char *name, *rule;
	int fd, err;

	b->magic = NETBOOT_MAGIC;
	b->version = NETBOOT_VERSION;
	b->size = sizeof(*b);
	b->tls_ca_len = pem ? (uint32_t)pem->ca_len : 0;
	b->tls_cert_len = pem ? (uint32_t)pem->cert_len : 0;
	b->tls_key_len = pem ? (uint32_t)pem->key_len : 0;
	b->npins = 0;
	for (int i = 0; i < TZ_PIN_MAX && cr_tz_pin_get(i, &name, &rule) == 0; i++, b->npins++) {
		snprintf(b->pins[i].name, sizeof(b->pins[i].name), "%s", name);
		snprintf(b->pins[i].rule, sizeof(b->pins[i].rule), "%s", rule);
	}
	fd = memfd_create("celeryroot-netboot", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	if (write_all(fd, b, sizeof(*b)) < 0 || (pem && (write_all(fd, pem->ca, pem->ca_len) < 0 ||
	    write_all(fd, pem->cert, pem->cert_len) < 0 || write_all(fd, pem->key, pem->key_len) < 0)) ||
	    fcntl(fd, F_ADD_SEALS, NETBOOT_SEALS) < 0) {
		err = errno ? errno : EIO;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* Every string in the blob must end inside its array. */
#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

static int config_terminated(const struct cr_config *c)
{
	if (c->nroles < 0 || c->nroles > REG_MAX_ROLES)
		return 0;
	for (int i = 0; i < c->nroles; i++)
		if (!TERMINATED(c->roles[i]))
			return 0;
	return TERMINATED(c->broker_url) && TERMINATED(c->broker_user) && TERMINATED(c->broker_password) &&
	       TERMINATED(c->hostname) && TERMINATED(c->user) && TERMINATED(c->sandbox) &&
	       TERMINATED(c->audit_log) && TERMINATED(c->trusted_keys) && TERMINATED(c->signing_key) &&
	       TERMINATED(c->beat_trusted_keys) && TERMINATED(c->broker_ssl_ca_certs) &&
	       TERMINATED(c->broker_ssl_certfile) && TERMINATED(c->broker_ssl_keyfile);
}

static int key_terminated(const struct trusted_key *k)
{
	if (!TERMINATED(k->id) || k->nops < 0 || k->nops > SIG_OPS_MAX || k->nroles < 0 ||
	    k->nroles > REG_MAX_ROLES)
		return 0;
	for (int i = 0; i < k->nops; i++)
		if (!TERMINATED(k->ops[i]))
			return 0;
	for (int i = 0; i < k->nroles; i++)
		if (!TERMINATED(k->roles[i]))
			return 0;
	return 1;
}

static int window_terminated(const struct host_window *w)
{
	return TERMINATED(w->name) && TERMINATED(w->days) && TERMINATED(w->start) &&
	       TERMINATED(w->duration) && TERMINATED(w->zone) && TERMINATED(w->roles) &&
	       TERMINATED(w->hosts) && TERMINATED(w->w.zone);
}

static const char *netboot_check(const struct netboot *b)
{
	if (b->magic != NETBOOT_MAGIC || b->version != NETBOOT_VERSION || b->size != sizeof(*b))
		return "not a hand-over from this build of celeryrootd";
	if (b->log_level < LOG_L_ERROR || b->log_level > LOG_L_DEBUG || (b->use_syslog != 0 && b->use_syslog != 1))
		return "log settings out of bounds";
	if (!config_terminated(&b->cfg))
		return "configuration out of bounds";
	if (!TERMINATED(b->broker.host) || !TERMINATED(b->broker.user) || !TERMINATED(b->broker.password) ||
	    !TERMINATED(b->broker.tls.ca_certs) || !TERMINATED(b->broker.tls.certfile) ||
	    !TERMINATED(b->broker.tls.keyfile) || !TERMINATED(b->broker.tls.servername))
		return "broker address out of bounds";
	if (b->tls_ca_len > CR_TLS_PEM_MAX || b->tls_cert_len > CR_TLS_PEM_MAX || b->tls_key_len > CR_TLS_PEM_MAX)
		return "TLS material out of bounds";
	if (b->keys.n < 0 || b->keys.n > KEYRING_MAX)
		return "trusted key count out of bounds";
	for (int i = 0; i < b->keys.n; i++)
		if (!key_terminated(&b->keys.k[i]))
			return "trusted key out of bounds";
	if (b->nwindows > WINCONF_MAX)
		return "window count out of bounds";
	for (uint32_t i = 0; i < b->nwindows; i++)
		if (!window_terminated(&b->windows[i]))
			return "window out of bounds";
	if (b->npins > TZ_PIN_MAX)
		return "time zone count out of bounds";
	for (uint32_t i = 0; i < b->npins; i++)
		if (!TERMINATED(b->pins[i].name) || !TERMINATED(b->pins[i].rule) ||
		    cr_tz_pin_rule(b->pins[i].name, b->pins[i].rule) < 0)
			return "pinned time zone refused";
	return NULL;
}

static int read_at(int fd, void *buf, size_t len, off_t off, char *err, size_t errlen)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "reading the hand-over: %s", n < 0 ? strerror(errno) : "short");
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

/* One PEM part after the struct into its own buffer (NUL-terminated). */
static int read_pem(int fd, off_t *off, uint32_t len, char **out, size_t *outlen, char *err, size_t errlen)
{
	*out = NULL;
	*outlen = 0;
	if (len == 0)
		return 0;
	if ((*out = calloc(1, (size_t)len + 1)) == NULL)
		return snprintf(err, errlen, "out of memory reading the hand-over"), -1;
	*outlen = len;
	if (read_at(fd, *out, len, *off, err, errlen) < 0)
		return -1;
	*off += (off_t)len;
	return 0;
}

int cr_netboot_read(int fd, struct netboot *b, struct cr_tls_pem *pem, char *err, size_t errlen)
{
	struct stat st;
	const char *why;
	int seals;
	off_t off = (off_t)sizeof(*b);

	memset(pem, 0, sizeof(*pem));
	/* Sealed memfd only: a plain file or pipe here is not celeryrootd's. */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & NETBOOT_SEALS) != NETBOOT_SEALS || fstat(fd, &st) < 0 ||
	    !S_ISREG(st.st_mode) || (size_t)st.st_size < sizeof(*b)) {
		snprintf(err, errlen, "fd %d is not celeryrootd's sealed hand-over (celeryroot-net is "
			 "started by celeryrootd, not by hand)", fd);
		return -1;
	}
	if (read_at(fd, b, sizeof(*b), 0, err, errlen) < 0)
		return -1;
	if ((why = netboot_check(b)) != NULL) {
		snprintf(err, errlen, "hand-over refused: %s", why);
		return -1;
	}
	/* Exactly the struct and the PEM bytes it announces, nothing more. */
	if ((uint64_t)st.st_size != (uint64_t)sizeof(*b) + b->tls_ca_len + b->tls_cert_len + b->tls_key_len) {
		snprintf(err, errlen, "hand-over refused: its size does not match what it announces");
		return -1;
	}
	if (read_pem(fd, &off, b->tls_ca_len, &pem->ca, &pem->ca_len, err, errlen) < 0 ||
	    read_pem(fd, &off, b->tls_cert_len, &pem->cert, &pem->cert_len, err, errlen) < 0 ||
	    read_pem(fd, &off, b->tls_key_len, &pem->key, &pem->key_len, err, errlen) < 0) {
		cr_tls_pem_free(pem);
		return -1;
	}
	return 0;
}
