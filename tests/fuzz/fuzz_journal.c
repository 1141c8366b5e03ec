/* The change journal's decoder (src/priv/journal_codec.c): priv reads these
 * files back after a crash, to decide whether a task already ran.  Each
 * input is one file's bytes, decoded for a fixed task id.  Besides what
 * ASan and UBSan catch: an accepted entry is this task's, within every
 * bound, and encodes and decodes back to the same entry. */
#include "config.h"

#include <jansson.h>
#include <math.h>

#include "fuzz.h"
#include "journal.h"
#include "names.h"
#include "pkgspec.h"

#define TASK "221d2fcc-146d-432e-9635-8ac05f046af4"

static void check_entry(const struct journal_entry *e)
{
	struct journal_entry again;
	char err[256] = "";
	size_t len = 0;
	char *text;

	FUZZ_ASSERT(e->phase == JOURNAL_STARTED || e->phase == JOURNAL_FINISHED, "phase %d", e->phase);
	FUZZ_ASSERT(!strcmp(e->task, TASK) && (e->job[0] == '\0' || cr_valid_task_id(e->job)), "task or job");
	FUZZ_ASSERT(e->pid > 0 && e->attempt >= 1 && isfinite(e->started_s) && e->started_s >= 0, "numbers");
	FUZZ_ASSERT(json_is_array(e->packages) && json_array_size(e->packages) <= PKG_SPECS_MAX, "packages");
	FUZZ_ASSERT(e->phase == JOURNAL_STARTED ? e->reply == NULL : json_is_object(e->reply), "reply");
	FUZZ_ASSERT(fuzz_printable(e->op) && fuzz_printable(e->started) && fuzz_printable(e->finished), "text fields");
	text = priv_journal_encode(e, &len);
	FUZZ_ASSERT(text != NULL, "an accepted entry cannot be encoded");
	FUZZ_ASSERT(priv_journal_decode(text, len, TASK, &again, err, sizeof(err)) == 0, "re-encoded entry refused: %s", err);
	FUZZ_ASSERT(again.phase == e->phase && !strcmp(again.job, e->job) && !strcmp(again.op, e->op) &&
		    !strcmp(again.started, e->started) && again.started_s == e->started_s && again.pid == e->pid &&
		    again.attempt == e->attempt && json_equal(again.packages, e->packages) &&
		    again.audited == e->audited && !strcmp(again.finished, e->finished) &&
		    (e->reply == NULL || json_equal(again.reply, e->reply)),
		    "round trip changed the entry");
	priv_journal_entry_clear(&again);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal_entry e;
	char err[256] = "";

	if (priv_journal_decode((const char *)data, size, TASK, &e, err, sizeof(err)) == 0) {
		check_entry(&e);
		priv_journal_entry_clear(&e);
	} else {
		FUZZ_ASSERT(err[0] != '\0' && fuzz_printable(err), "refused without a printable reason: '%s'", err);
		FUZZ_ASSERT(e.packages == NULL && e.reply == NULL, "a refused entry keeps references");
	}
	return 0;
}
