/* Looking keys up, apart from reading key files (keys.c), so that net,
 * which is handed its trusted keys and reads no file, links no INI parser. */
#include "config.h"
#include "sign.h"

#include <string.h>

#include "names.h"

int cr_valid_key_id(const char *s)
{
	return cr_valid_short_name(s, KEY_ID_MAX);
}

const struct trusted_key *cr_keyring_find(const struct keyring *kr, const char *id)
{
	for (int i = 0; kr && i < kr->n; i++)
		if (!strcmp(kr->k[i].id, id))
			return &kr->k[i];
	return NULL;
}
