/* Checks of what host keys sign (see hostcheck.h). */
#include "config.h"
#include "crerr.h"
#include "hostcheck.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostsig.h"
#include "registry.h"

/* The checks themselves are priv's own (src/shared/hostsig.c): what priv
 * signs and what the CLI verifies can never drift apart. */
int attest_check(json_t *result, const unsigned char pk[HOST_KEY_LEN], json_t **payload, char *why, size_t len)
{
	return cr_hostsig_verify_record(result, pk, NULL, payload, why, len);
}

int av_canon_hash(json_t *obj, unsigned char h[32])
{
	char *text = cr_hostsig_dump(obj);

	if (text == NULL)
		return -1;
	crypto_hash_sha256(h, (const unsigned char *)text, strlen(text));
	free(text);
	return 0;
}

int av_sig_check(json_t *obj, const unsigned char pk[HOST_KEY_LEN])
{
	char why[CR_ERR_MAX];

	if (!json_is_object(obj))
		return -1;
	if (json_object_get(obj, "sig") == NULL)
		return 0;
	return cr_hostsig_verify_line(obj, pk, why, sizeof(why)) == 0 ? 1 : -1;
}

int host_key_decode(const char *b64, unsigned char pk[HOST_KEY_LEN])
{
	return b64 != NULL && cr_hostsig_pk_decode(b64, pk) == 0;
}

void reg_key_parse(const char *json, size_t len, struct reg_key *rk)
{
	json_t *o = len <= REG_RECORD_MAX ? json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	json_t *k = json_object_get(o, "host_key");

	memset(rk, 0, sizeof(*rk));
	if (k != NULL) {
		rk->present = json_is_string(k) && host_key_decode(json_string_value(k), rk->pk);
		rk->invalid = !rk->present;
	}
	json_decref(o);
}

int kh_parse_line(char *line, char host[HOSTNAME_MAX + 1], unsigned char pk[HOST_KEY_LEN])
{
	char *save = NULL, *h = strtok_r(line, " \t", &save);
	char *alg = h ? strtok_r(NULL, " \t", &save) : NULL;
	char *key = alg ? strtok_r(NULL, " \t\r", &save) : NULL;

	if (key == NULL || strtok_r(NULL, " \t\r", &save) != NULL || strcmp(alg, "ed25519") != 0 ||
	    !cr_valid_hostname(h) || !host_key_decode(key, pk))
		return 0;
	return cr_copy_str(host, HOSTNAME_MAX + 1, h);
}
