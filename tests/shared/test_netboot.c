/* Unit tests for netboot.c: what celeryrootd hands the exec'd net.  A
 * round trip keeps every field; the memfd cannot be changed once written;
 * and net refuses an unsealed or wrong-sized descriptor, another build's
 * header, and any count or string that would let it read out of bounds. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "netboot.h"

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

static struct netboot in, out;
static struct cr_tls_pem got;

static void fill(struct netboot *b)
{
	memset(b, 0, sizeof(*b));
	cr_config_defaults(&b->cfg);
	strcpy(b->cfg.hostname, "web01");
	strcpy(b->cfg.roles[0], "webserver");
	b->cfg.nroles = 1;
	strcpy(b->broker.host, "127.0.0.1");
	b->broker.port = 6379;
	strcpy(b->broker.password, "s3cret");
	b->keys.n = 1;
	strcpy(b->keys.k[0].id, "alice");
	b->keys.k[0].nops = 1;
	strcpy(b->keys.k[0].ops[0], "install");
	b->nwindows = 1;
	strcpy(b->windows[0].name, "nightly");
	strcpy(b->windows[0].zone, "Etc/NetbootTest");
	strcpy(b->windows[0].w.zone, "Etc/NetbootTest");
	b->priv_pid = 4242;
	b->log_level = LOG_L_DEBUG;
	b->use_syslog = 1;
}

/* A sealed memfd holding len raw bytes, as cr_netboot_write would make it. */
static int sealed_fd(const void *buf, size_t len, int seal)
{
	int fd = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	if (seal)
		ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, SEALS), 0);
	return fd;
}

static int read_fd(int fd, char *err, size_t errlen)
{
	int rc = cr_netboot_read(fd, &out, &got, err, errlen);

	close(fd);
	return rc;
}

START_TEST(round_trip)
{
	char err[256] = "";
	int fd;

	ck_assert_int_eq(cr_tz_pin_rule("Etc/NetbootTest", "NBT-3"), 0);
	fill(&in);
	fd = cr_netboot_write(&in, NULL);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(in.npins, cr_tz_pin_count());
	ck_assert_int_eq(read_fd(fd, err, sizeof(err)), 0);
	ck_assert_msg(memcmp(&in, &out, sizeof(in)) == 0, "the hand-over changed on the way");
	ck_assert_str_eq(out.broker.password, "s3cret");
	ck_assert_str_eq(cr_tz_pinned("Etc/NetbootTest"), "NBT-3");
}
END_TEST

START_TEST(sealed_for_good)
{
	int fd;

	fill(&in);
	fd = cr_netboot_write(&in, NULL);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_GET_SEALS) & SEALS, SEALS);
	ck_assert_int_lt(pwrite(fd, "x", 1, 0), 0);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_ne(ftruncate(fd, 0), 0);
	ck_assert_int_ne(fcntl(fd, F_ADD_SEALS, 0), 0);   /* F_SEAL_SEAL */
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	close(fd);
}
END_TEST

START_TEST(refuses_other_descriptors)
{
	char err[256];

	fill(&in);
	in.magic = NETBOOT_MAGIC, in.version = NETBOOT_VERSION, in.size = sizeof(in);
	/* unsealed, too short, too long, a pipe */
	ck_assert_int_lt(read_fd(sealed_fd(&in, sizeof(in), 0), err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "sealed hand-over"));
	ck_assert_int_lt(read_fd(sealed_fd(&in, sizeof(in) - 1, 1), err, sizeof(err)), 0);
	char *big = calloc(1, sizeof(in) + 1);
	memcpy(big, &in, sizeof(in));
	ck_assert_int_lt(read_fd(sealed_fd(big, sizeof(in) + 1, 1), err, sizeof(err)), 0);
	free(big);
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_lt(read_fd(p[0], err, sizeof(err)), 0);
	close(p[1]);
}
END_TEST

/* One damaged field at a time: every one is refused. */
static void expect_refused(void (*damage)(struct netboot *), const char *what)
{
	char err[256] = "";

	fill(&in);
	in.magic = NETBOOT_MAGIC, in.version = NETBOOT_VERSION, in.size = sizeof(in);
	damage(&in);
	ck_assert_msg(read_fd(sealed_fd(&in, sizeof(in), 1), err, sizeof(err)) < 0, "accepted: %s", what);
	ck_assert_msg(strstr(err, "hand-over refused") != NULL, "%s: %s", what, err);
}

static void d_magic(struct netboot *b) { b->magic ^= 1; }
static void d_version(struct netboot *b) { b->version++; }
static void d_size(struct netboot *b) { b->size--; }
static void d_level(struct netboot *b) { b->log_level = 7; }
static void d_syslog(struct netboot *b) { b->use_syslog = 2; }
static void d_host(struct netboot *b) { memset(b->cfg.hostname, 'a', sizeof(b->cfg.hostname)); }
static void d_password(struct netboot *b) { memset(b->broker.password, 'p', sizeof(b->broker.password)); }
static void d_nroles(struct netboot *b) { b->cfg.nroles = REG_MAX_ROLES + 1; }
static void d_neg_roles(struct netboot *b) { b->cfg.nroles = -1; }
static void d_role(struct netboot *b) { memset(b->cfg.roles[0], 'r', sizeof(b->cfg.roles[0])); }
static void d_nkeys(struct netboot *b) { b->keys.n = KEYRING_MAX + 1; }
static void d_key_ops(struct netboot *b) { b->keys.k[0].nops = SIG_OPS_MAX + 1; }
static void d_key_id(struct netboot *b) { memset(b->keys.k[0].id, 'k', sizeof(b->keys.k[0].id)); }
static void d_nwindows(struct netboot *b) { b->nwindows = WINCONF_MAX + 1; }
static void d_window_zone(struct netboot *b) { memset(b->windows[0].w.zone, 'z', sizeof(b->windows[0].w.zone)); }
static void d_npins(struct netboot *b) { b->npins = TZ_PIN_MAX + 1; }
static void d_pin_file(struct netboot *b)
{
	b->npins = 1;
	strcpy(b->pins[0].name, "Etc/Other");
	strcpy(b->pins[0].rule, ":/etc/shadow");   /* a rule that names a file */
}
static void d_pin_changed(struct netboot *b)
{
	b->npins = 1;
	strcpy(b->pins[0].name, "Etc/NetbootTest");   /* pinned already, to NBT-3 */
	strcpy(b->pins[0].rule, "XYZ5");
}

START_TEST(refuses_damage)
{
	ck_assert_int_eq(cr_tz_pin_rule("Etc/NetbootTest", "NBT-3"), 0);
	expect_refused(d_magic, "magic");
	expect_refused(d_version, "version");
	expect_refused(d_size, "size");
	expect_refused(d_level, "log level");
	expect_refused(d_syslog, "syslog flag");
	expect_refused(d_host, "unterminated host name");
	expect_refused(d_password, "unterminated broker password");
	expect_refused(d_nroles, "role count");
	expect_refused(d_neg_roles, "negative role count");
	expect_refused(d_role, "unterminated role");
	expect_refused(d_nkeys, "key count");
	expect_refused(d_key_ops, "key operation count");
	expect_refused(d_key_id, "unterminated key id");
	expect_refused(d_nwindows, "window count");
	expect_refused(d_window_zone, "unterminated window zone");
	expect_refused(d_npins, "pin count");
	expect_refused(d_pin_file, "a rule naming a file");
	expect_refused(d_pin_changed, "a pin changed");
	ck_assert_ptr_null(cr_tz_pinned("Etc/Other"));
}
END_TEST

/* The PEM bytes ride after the struct, each part whole and in place; a
 * length that does not match the descriptor's size is refused. */
START_TEST(tls_material)
{
	char ca[] = "-----BEGIN CERTIFICATE-----\nCA\n", cert[] = "CERT", key[] = "KEY-BYTES";
	struct cr_tls_pem pem = { ca, cert, key, sizeof(ca) - 1, sizeof(cert) - 1, sizeof(key) - 1 };
	char err[256] = "";
	int fd;

	fill(&in);
	fd = cr_netboot_write(&in, &pem);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read_fd(fd, err, sizeof(err)), 0);
	ck_assert_uint_eq(got.ca_len, sizeof(ca) - 1);
	ck_assert_str_eq(got.ca, ca);
	ck_assert_str_eq(got.cert, cert);
	ck_assert_str_eq(got.key, key);
	cr_tls_pem_free(&got);
	ck_assert_ptr_null(got.key);
	/* The struct announces 9 key bytes; only 8 follow. */
	size_t len = sizeof(in) + pem.ca_len + pem.cert_len + pem.key_len;
	char *blob = malloc(len);
	memcpy(blob, &in, sizeof(in));
	memcpy(blob + sizeof(in), ca, pem.ca_len);
	memcpy(blob + sizeof(in) + pem.ca_len, cert, pem.cert_len);
	memcpy(blob + sizeof(in) + pem.ca_len + pem.cert_len, key, pem.key_len);
	ck_assert_int_lt(read_fd(sealed_fd(blob, len - 1, 1), err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "does not match"));
	ck_assert_int_eq(read_fd(sealed_fd(blob, len, 1), err, sizeof(err)), 0);
	cr_tls_pem_free(&got);
	/* A length past the bound is refused before anything is allocated. */
	((struct netboot *)blob)->tls_key_len = CR_TLS_PEM_MAX + 1;
	ck_assert_int_lt(read_fd(sealed_fd(blob, len, 1), err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "TLS material"));
	free(blob);
}
END_TEST

static Suite *netboot_suite(void)
{
	Suite *s = suite_create("netboot");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, sealed_for_good);
	tcase_add_test(tc, refuses_other_descriptors);
	tcase_add_test(tc, refuses_damage);
	tcase_add_test(tc, tls_material);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(netboot_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
