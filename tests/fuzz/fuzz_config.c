/* The configuration parser (src/shared/crconfig.c on libinih, and the broker
 * URL parser in broker.c that it calls): each input is read as a whole
 * celeryroot.conf with cr_config_parse_string, the same handlers cr_config_load
 * uses, and as a broker URL. */
#include "config.h"

#include "crconfig.h"
#include "fuzz.h"
#include "names.h"

static void check_host(const char *url, const char *host, int port)
{
	FUZZ_ASSERT(host[0] != '\0' && port >= 1 && port <= 65535, "'%s' gave host '%s' port %d", url, host, port);
	FUZZ_ASSERT(fuzz_printable(host) && strpbrk(host, "/@?#[] ") == NULL, "host '%s'", host);
}

/* A sentinel:// URL names no master (it is discovered): its sentinels
 * must each be a host and a port instead. */
static void check_url(const char *url, const struct broker_addr *b)
{
	FUZZ_ASSERT(b->db >= 0 && b->db <= 15, "'%s' gave db %d", url, b->db);
	FUZZ_ASSERT(b->nsentinels >= 0 && b->nsentinels <= BROKER_SENTINELS_MAX, "%d sentinels", b->nsentinels);
	if (b->nsentinels == 0)
		check_host(url, b->host, b->port);
	for (int i = 0; i < b->nsentinels; i++)
		check_host(url, b->sentinels[i].host, b->sentinels[i].port);
	FUZZ_ASSERT(fuzz_printable(b->master_name), "master name");
	FUZZ_ASSERT(fuzz_printable(b->user) && fuzz_printable(b->password), "user or password");
}

/* Everything an accepted file sets is within the bounds the daemon and
 * the CLI rely on. */
static void check_config(const struct cr_config *c)
{
	struct broker_addr b;
	char err[256];

	FUZZ_ASSERT(c->hostname[0] == '\0' || cr_valid_hostname(c->hostname), "hostname '%s'", c->hostname);
	FUZZ_ASSERT(c->nroles >= 0 && c->nroles <= REG_MAX_ROLES, "%d roles", c->nroles);
	for (int i = 0; i < c->nroles; i++)
		FUZZ_ASSERT(cr_valid_role(c->roles[i]), "role '%s'", c->roles[i]);
	FUZZ_ASSERT(c->user[0] != '\0' && c->user[0] != '-' && fuzz_printable(c->user), "user '%s'", c->user);
	FUZZ_ASSERT(c->sandbox[0] == '\0' || c->sandbox[0] == '/', "sandbox '%s'", c->sandbox);
	FUZZ_ASSERT(c->audit_log[0] == '\0' || c->audit_log[0] == '/', "audit_log '%s'", c->audit_log);
	FUZZ_ASSERT(c->heartbeat_s >= 1 &&
		    c->result_expires_s >= 60 && c->lock_timeout_s >= 0 && c->timeout_s >= 0 &&
		    c->task_expires_s >= 1 && c->job_ttl_s >= 60, "a number out of its bounds");
	FUZZ_ASSERT(cr_broker_parse_url(c->broker_url, &b, err, sizeof(err)) == 0, "url '%s': %s",
		    c->broker_url, err);
	check_url(c->broker_url, &b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cr_config c;
	struct broker_addr b;
	char err[512] = "";
	char *text = fuzz_cstr(data, size);

	cr_config_defaults(&c);
	if (cr_config_parse_string(&c, text, err, sizeof(err)) == 0)
		check_config(&c);
	else
		FUZZ_ASSERT(strncmp(err, "config:", 7) == 0, "error without its line: '%s'", err);

	err[0] = '\0';
	if (cr_broker_parse_url(text, &b, err, sizeof(err)) == 0)
		check_url(text, &b);
	else
		FUZZ_ASSERT(err[0] != '\0', "URL refused without a reason");
	free(text);
	return 0;
}
