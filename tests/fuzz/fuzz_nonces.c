/* priv's nonce file (src/priv/nonce_codec.c): priv reads it back at every
 * start to know which signed requests it has already run.  Each input is
 * one line (without its newline).  Besides what ASan and UBSan catch: an
 * accepted line has every field valid and bounded, is written back exactly
 * as it was read (one spelling per entry), and reads back the same. */
#include "config.h"

#include "fuzz.h"
#include "names.h"
#include "nonces.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nonce_rec r, again;
	char err[128] = "", line[NONCE_LINE_MAX + 2];
	int n;

	if (priv_nonce_parse_line((const char *)data, size, &r, err, sizeof(err)) < 0) {
		FUZZ_ASSERT(err[0] != '\0' && fuzz_printable(err), "refused without a printable reason: '%s'", err);
		return 0;
	}
	FUZZ_ASSERT(r.expires > 0 && cr_valid_key_id(r.key) && cr_valid_task_id(r.task) && strlen(r.nonce) == SIG_NONCE_HEX,
		    "accepted a bad field");
	n = priv_nonce_format_line(&r, line, sizeof(line));
	FUZZ_ASSERT(n > 0 && line[n - 1] == '\n', "an accepted line cannot be written");
	FUZZ_ASSERT((size_t)n - 1 == size && memcmp(line, data, size) == 0, "written differently from how it was read");
	FUZZ_ASSERT(priv_nonce_parse_line(line, (size_t)n - 1, &again, err, sizeof(err)) == 0 && again.expires == r.expires &&
		    !strcmp(again.key, r.key) && !strcmp(again.nonce, r.nonce) && !strcmp(again.task, r.task),
		    "round trip changed the entry");
	return 0;
}
