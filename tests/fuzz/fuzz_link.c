/* The broker link's new parsers (issue 14), chosen by the first byte:
 *   0 a sentinel:// URL (sentinel.c) and its masked form,
 *   1 a redis:// or rediss:// URL with kombu's ssl_* query (broker.c,
 *     broker_tls.c) and its masked form,
 *   2 a password_file's content (credfile.c), read from a real file,
 *   3 what a sentinel answers (hiredis's reader under our array bound,
 *     rbound.c, then cr_sentinel_master_reply and the failover check).
 * Promises: bounds hold, a masked URL never shows the password, an address
 * taken from a sentinel is numeric with a port in range. */
#include "config.h"

#include <hiredis/hiredis.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crconfig.h"
#include "fuzz.h"
#include "rbound.h"
#include "sentinel.h"

/* Whatever the masked URL parses to, its password is "***" or nothing. */
static void check_masked(const char *masked, int sentinel)
{
	static struct broker_addr m;
	char err[256];
	int ok;

	memset(&m, 0, sizeof(m));
	ok = sentinel ? cr_sentinel_parse_url(masked, &m, err, sizeof(err)) : cr_broker_parse_url(masked, &m, err, sizeof(err));
	FUZZ_ASSERT(ok < 0 || m.password[0] == '\0' || strcmp(m.password, "***") == 0, "masked '%s' keeps password '%s'",
		    masked, m.password);
}

static void one_url(const char *text, int sentinel)
{
	static struct broker_addr b;
	char err[256] = "", masked[1024];

	memset(&b, 0, sizeof(b));
	if ((sentinel ? cr_sentinel_parse_url(text, &b, err, sizeof(err))
		      : cr_broker_parse_url(text, &b, err, sizeof(err))) < 0) {
		FUZZ_ASSERT(err[0] != '\0', "refused without a reason");
		return;
	}
	FUZZ_ASSERT(b.nsentinels >= 0 && b.nsentinels <= BROKER_SENTINELS_MAX, "%d sentinels", b.nsentinels);
	for (int i = 0; i < b.nsentinels; i++)
		FUZZ_ASSERT(b.sentinels[i].port >= 1 && b.sentinels[i].port <= 65535 && b.sentinels[i].host[0] &&
			    fuzz_printable(b.sentinels[i].host), "sentinel %d '%s':%d", i, b.sentinels[i].host,
			    b.sentinels[i].port);
	FUZZ_ASSERT(fuzz_printable(b.master_name) && fuzz_printable(b.password) && fuzz_printable(b.user),
		    "name, user or password");
	FUZZ_ASSERT(!b.tls.on || b.tls.verify == 0 || b.tls.verify == 1, "verify %d", b.tls.verify);
	if (sentinel)
		cr_sentinel_mask_url(text, masked, sizeof(masked));
	else
		cr_broker_mask(text, masked, sizeof(masked));
	FUZZ_ASSERT(strlen(masked) < sizeof(masked), "mask overflow");
	check_masked(masked, sentinel);
}

static void one_password_file(const uint8_t *data, size_t size)
{
	char path[64], out[256], err[512] = "";
	int fd = memfd_create("pw", MFD_CLOEXEC);

	if (fd < 0 || fchmod(fd, 0600) < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (cr_password_file_read(path, 1, out, sizeof(out), err, sizeof(err)) == 0) {
		size_t n = strlen(out);
		/* UTF-8 passwords are fine; a control byte never is (AUTH, logs). */
		for (size_t i = 0; i < n; i++)
			FUZZ_ASSERT((unsigned char)out[i] >= 0x20 && out[i] != 0x7f, "control byte in the password");
		FUZZ_ASSERT(n > 0 && n < sizeof(out), "password of %zu bytes", n);
		/* It is the file's first line, all of it: nothing dropped but "\n". */
		FUZZ_ASSERT(n <= size && memcmp(out, data, n) == 0, "password differs from the file");
	} else {
		FUZZ_ASSERT(err[0] != '\0', "refused without a reason");
	}
	close(fd);
}

static void one_sentinel_answer(const uint8_t *data, size_t size)
{
	redisReader *r = redisReaderCreate();
	void *reply = NULL;

	if (r == NULL || cr_rbound_attach(r, 1u << 20) < 0)
		abort();
	redisReaderFeed(r, (const char *)data, size);
	for (int i = 0; i < 64 && redisReaderGetReply(r, &reply) == REDIS_OK && reply != NULL; i++) {
		struct broker_endpoint m = { "", 0 };
		if (cr_sentinel_master_reply(reply, &m) == 1)
			FUZZ_ASSERT(m.port >= 1 && m.port <= 65535 && fuzz_printable(m.host) &&
				    strspn(m.host, "0123456789abcdefABCDEF.:%") > 0, "master '%s':%d", m.host, m.port);
		(void)cr_sentinel_failover_reply(reply);
		freeReplyObject(reply);
		reply = NULL;
	}
	cr_rbound_release(r);
	redisReaderFree(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size == 0)
		return 0;
	switch (data[0] % 4) {
	case 0:
	case 1:
		text = fuzz_cstr(data + 1, size - 1);
		one_url(text, data[0] % 4 == 0);
		free(text);
		break;
	case 2:
		one_password_file(data + 1, size - 1);
		break;
	default:
		one_sentinel_answer(data + 1, size - 1);
	}
	return 0;
}
