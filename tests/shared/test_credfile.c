/* Unit tests for credfile.c and the credential side of broker.c: the
 * password file's rules, password and password_file together, which
 * config file the CLI reads, and that no shown broker ever holds a
 * password (cr_broker_mask, cr_broker_describe). */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crconfig.h"

static char dir[] = "/tmp/test_credfile.XXXXXX";

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);   /* our own fixed temp dir */
	ck_assert_int_eq(system(cmd), 0);
	strcpy(dir, "/tmp/test_credfile.XXXXXX");
}

static const char *put(const char *name, const void *text, size_t len, mode_t mode)
{
	static char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	ck_assert_int_eq(chmod(path, mode), 0);
	return path;
}

static int rd(const char *path, int strict, char *out, char *err)
{
	return cr_password_file_read(path, strict, out, 256, err, 512);
}

START_TEST(password_file_content)
{
	char pw[256], err[512];

	ck_assert_int_eq(rd(put("a", "s3cret\n", 7, 0600), 1, pw, err), 0);
	ck_assert_str_eq(pw, "s3cret");
	ck_assert_int_eq(rd(put("b", "s3cret", 6, 0600), 1, pw, err), 0);   /* no newline */
	ck_assert_str_eq(pw, "s3cret");
	ck_assert_int_eq(rd(put("c", "s3 cret\r\n", 9, 0600), 1, pw, err), 0);
	ck_assert_str_eq(pw, "s3 cret");
	ck_assert_int_eq(rd(put("d", "one\ntwo\n", 8, 0600), 1, pw, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "more than one line"));
	ck_assert_ptr_null(strstr(err, "one\n"));
	ck_assert_int_eq(rd(put("e", "\n", 1, 0600), 1, pw, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "is empty"));
	ck_assert_int_eq(rd(put("f", "", 0, 0600), 1, pw, err), -1);
	char big[600];
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(rd(put("g", big, 256, 0600), 1, pw, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "longer than 255"));
	ck_assert_int_eq(rd(put("h", big, 255, 0600), 1, pw, err), 0);
	ck_assert_uint_eq(strlen(pw), 255);
	ck_assert_int_eq(rd(put("i", big, sizeof(big), 0600), 1, pw, err), -1);   /* bounded read */
	ck_assert_int_eq(rd("/nonexistent/pw", 1, pw, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	ck_assert_int_eq(rd(dir, 0, pw, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
}
END_TEST

START_TEST(password_file_modes)
{
	char pw[256], err[512];
	const char *p;

	/* The daemon: nobody but the owner may read or write it. */
	p = put("m", "pw\n", 3, 0640);
	ck_assert_int_eq(rd(p, 1, pw, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "chmod 600"));
	ck_assert_ptr_nonnull(strstr(err, "0640"));
	ck_assert_int_eq(rd(put("m", "pw\n", 3, 0620), 1, pw, err), -1);
	ck_assert_int_eq(rd(put("m", "pw\n", 3, 0604), 1, pw, err), -1);
	ck_assert_int_eq(rd(put("m", "pw\n", 3, 0400), 1, pw, err), 0);
	/* The CLI: an operator's group may read it, nobody else. */
	ck_assert_int_eq(rd(put("m", "pw\n", 3, 0640), 0, pw, err), 0);
	ck_assert_int_eq(rd(put("m", "pw\n", 3, 0644), 0, pw, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "readable by everyone"));
	ck_assert_int_eq(rd(put("m", "pw\n", 3, 0660), 0, pw, err), -1);
	ck_assert_int_eq(rd(put("m", "pw\n", 3, 0602), 0, pw, err), -1);
	/* Another user's file decides whom we log in as: refused by both. */
	if (geteuid() == 0) {
		p = put("o", "pw\n", 3, 0600);
		ck_assert_int_eq(chown(p, 65534, 65534), 0);
		ck_assert_int_eq(rd(p, 1, pw, err), -1);
		ck_assert_ptr_nonnull(strstr(err, "uid 65534"));
		ck_assert_ptr_nonnull(strstr(err, "chown root"));
		ck_assert_int_eq(rd(p, 0, pw, err), -1);
	}
}
END_TEST

START_TEST(password_file_in_config)
{
	struct cr_config c;
	struct broker_addr b;
	char url[512], err[512], ini[512];
	const char *p = put("pw", "fromfile\n", 9, 0600);

	cr_config_defaults(&c);
	snprintf(ini, sizeof(ini), "[broker]\nusername = cr\npassword_file = %s\n", p);
	ck_assert_int_eq(cr_config_parse_string(&c, ini, err, sizeof(err)), 0);
	ck_assert_str_eq(c.broker_password_file, p);
	c.password_file_strict = 1;
	unsetenv("CELERYROOT_BROKER_URL");
	ck_assert_int_eq(cr_broker_from(NULL, &c, &b, url, sizeof(url), err, sizeof(err)), 0);
	ck_assert_str_eq(b.password, "fromfile");
	ck_assert_str_eq(b.user, "cr");
	ck_assert_ptr_null(strstr(url, "fromfile"));
	/* The URL's own password wins, and the file is then not even read. */
	chmod(p, 0644);
	ck_assert_int_eq(cr_broker_from("redis://u:urlpw@h", &c, &b, url, sizeof(url), err, sizeof(err)), 0);
	ck_assert_str_eq(b.password, "urlpw");
	ck_assert_int_eq(cr_broker_from(NULL, &c, &b, url, sizeof(url), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "chmod 600"));

	/* Both, in either order: one line naming the fix, with its line. */
	cr_config_defaults(&c);
	ck_assert_int_eq(cr_config_parse_string(&c, "[broker]\npassword = x\npassword_file = /etc/pw\n", err,
						 sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "config:3: password and password_file are both set"));
	ck_assert_ptr_null(strchr(err, '\n'));
	cr_config_defaults(&c);
	ck_assert_int_eq(cr_config_parse_string(&c, "[broker]\npassword_file = /etc/pw\npassword = x\n", err,
						 sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "both set"));
	cr_config_defaults(&c);
	ck_assert_int_eq(cr_config_parse_string(&c, "[broker]\npassword_file = pw\n", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "absolute path"));
}
END_TEST

START_TEST(describe_and_mask)
{
	struct broker_addr b;
	char out[600], err[256];

	ck_assert_int_eq(cr_broker_parse_url("redis://cr:hunter2@10.0.0.5:6380/3", &b, err, sizeof(err)), 0);
	cr_broker_describe(&b, out, sizeof(out));
	ck_assert_str_eq(out, "redis://cr:***@10.0.0.5:6380/3 as user cr, plain");
	ck_assert_int_eq(cr_broker_parse_url("redis://:hunter2@[::1]", &b, err, sizeof(err)), 0);
	cr_broker_describe(&b, out, sizeof(out));
	ck_assert_str_eq(out, "redis://:***@[::1]:6379/0 as user default, plain");
	ck_assert_int_eq(cr_broker_parse_url("redis://h", &b, err, sizeof(err)), 0);
	cr_broker_describe(&b, out, sizeof(out));
	ck_assert_str_eq(out, "redis://h:6379/0 as user default, plain");
	/* The TLS and Sentinel fields (filled by their URL parsers). */
	b.tls.on = 1;
	b.tls.verify = 1;
	cr_broker_describe(&b, out, sizeof(out));
	ck_assert_str_eq(out, "rediss://h:6379/0 as user default, TLS verify on");
	b.tls.verify = 0;
	cr_broker_describe(&b, out, sizeof(out));
	ck_assert_str_eq(out, "rediss://h:6379/0 as user default, TLS verify off");
	b.tls.on = 0;
	b.nsentinels = 3;
	strcpy(b.master_name, "mymaster");
	cr_broker_describe(&b, out, sizeof(out));
	ck_assert_str_eq(out, "redis://h:6379/0 as user default, Sentinel master mymaster via 3 sentinels");

	cr_broker_mask("redis://cr:hunter2@h:1/2", out, sizeof(out));
	ck_assert_str_eq(out, "redis://cr:***@h:1/2");
	cr_broker_mask("redis://h:1/2", out, sizeof(out));
	ck_assert_str_eq(out, "redis://h:1/2");
	/* What does not parse might be all password: never shown. */
	cr_broker_mask("redis://cr:hun ter2@h", out, sizeof(out));
	ck_assert_ptr_null(strstr(out, "hun"));
}
END_TEST

START_TEST(cli_config_path)
{
	char buf[512], xdg[300];
	int named;

	setenv("CELERYROOT_CONFIG", "/some/where.conf", 1);
	ck_assert_str_eq(cr_config_cli_path(buf, sizeof(buf), &named), "/some/where.conf");
	ck_assert_int_eq(named, 1);
	unsetenv("CELERYROOT_CONFIG");
	/* The operator's own file only when it is there. */
	snprintf(xdg, sizeof(xdg), "%s/xdg", dir);
	setenv("XDG_CONFIG_HOME", xdg, 1);
	ck_assert_str_eq(cr_config_cli_path(buf, sizeof(buf), &named), CONFIG_CLI_SYSTEM_PATH);
	ck_assert_int_eq(named, 0);
	ck_assert_int_eq(mkdir(xdg, 0700), 0);
	snprintf(buf, sizeof(buf), "%s/celeryroot", xdg);
	ck_assert_int_eq(mkdir(buf, 0700), 0);
	put("xdg/celeryroot/celeryroot.conf", "", 0, 0600);
	ck_assert_ptr_nonnull(strstr(cr_config_cli_path(buf, sizeof(buf), &named), "/xdg/celeryroot/celeryroot.conf"));
	ck_assert_int_eq(named, 0);
	/* No $XDG_CONFIG_HOME: ~/.config. */
	unsetenv("XDG_CONFIG_HOME");
	setenv("HOME", dir, 1);
	ck_assert_str_eq(cr_config_cli_path(buf, sizeof(buf), &named), CONFIG_CLI_SYSTEM_PATH);
	snprintf(buf, sizeof(buf), "%s/.config", dir);
	ck_assert_int_eq(rename(xdg, buf), 0);
	ck_assert_ptr_nonnull(strstr(cr_config_cli_path(buf, sizeof(buf), &named), "/.config/celeryroot/celeryroot.conf"));
	/* Never the daemon's. */
	ck_assert_str_ne(cr_config_cli_path(buf, sizeof(buf), &named), CONFIG_DAEMON_PATH);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("credfile");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, password_file_content);
	tcase_add_test(tc, password_file_modes);
	tcase_add_test(tc, password_file_in_config);
	tcase_add_test(tc, describe_and_mask);
	tcase_add_test(tc, cli_config_path);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
