/*
 * check_key.c - key files and key derivation (common/key.c).
 *
 * Every test works in its own directory from tu_setup(); nothing here
 * creates IPC objects.
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmlib.h"
#include "testutil.h"

static void	make_file(const char *, mode_t);
static Suite	*key_suite(void);

static void
make_file(const char *path, mode_t mode)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	ck_assert_msg(fd != -1, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

/* ---------------------------------------------------------------- core */

START_TEST(test_default_path_per_uid)
{
	char buf[PATH_MAX], want[64];

	(void)snprintf(want, sizeof(want), "/tmp/shmlab-%lu.key",
	    (unsigned long)getuid());
	ck_assert_int_eq(key_default_path(buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, want);
}
END_TEST

START_TEST(test_ensure_creates_0600)
{
	struct stat st;
	char path[PATH_MAX];
	mode_t old;

	ck_assert_int_eq(tu_path(path, sizeof(path), "fresh.key"), 0);
	old = umask(0);		/* the mode must come from the call alone */
	ck_assert_int_eq(key_ensure_file(path), 0);
	(void)umask(old);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_uint_eq(st.st_uid, getuid());
	/* Twice is fine: the file is ours already. */
	ck_assert_int_eq(key_ensure_file(path), 0);
}
END_TEST

START_TEST(test_ensure_keeps_existing_file)
{
	struct stat st;
	char path[PATH_MAX];

	ck_assert_int_eq(tu_path(path, sizeof(path), "old.key"), 0);
	make_file(path, 0644);
	ck_assert_int_eq(key_ensure_file(path), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
}
END_TEST

START_TEST(test_derive_same_file_same_key)
{
	char path[PATH_MAX];
	key_t a, b;

	ck_assert_int_eq(tu_path(path, sizeof(path), "k"), 0);
	make_file(path, 0600);
	a = key_derive(path, 42);
	b = key_derive(path, 42);
	ck_assert_int_ne(a, (key_t)-1);
	ck_assert_int_eq(a, b);
	ck_assert_int_eq(a, ftok(path, 42));
	ck_assert_int_ne(a, key_derive(path, 43));
}
END_TEST

START_TEST(test_derive_every_proj_distinct)
{
	char path[PATH_MAX];
	key_t keys[SHM_PROJ_MAX + 1];
	int i, j;

	ck_assert_int_eq(tu_path(path, sizeof(path), "k"), 0);
	make_file(path, 0600);
	for (i = 1; i <= SHM_PROJ_MAX; i++) {
		keys[i] = key_derive(path, i);
		ck_assert_int_ne(keys[i], (key_t)-1);
		for (j = 1; j < i; j++)
			ck_assert_msg(keys[i] != keys[j], "proj %d and %d give "
			    "the same key 0x%08x", i, j, (unsigned)keys[i]);
	}
}
END_TEST

/* -------------------------------------------------------------- limits */

START_TEST(test_default_path_buffer_bounds)
{
	char buf[PATH_MAX];
	size_t need;

	ck_assert_int_eq(key_default_path(buf, sizeof(buf)), 0);
	need = strlen(buf) + 1;
	ck_assert_int_eq(key_default_path(buf, need), 0);
	errno = 0;
	ck_assert_int_eq(key_default_path(buf, need - 1), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	errno = 0;
	ck_assert_int_eq(key_default_path(buf, 1), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
}
END_TEST

START_TEST(test_derive_proj_bounds)
{
	static const int bad[] = { 0, -1, 256, 257, 1300, INT_MAX, INT_MIN };
	char path[PATH_MAX];
	size_t i;

	ck_assert_int_eq(tu_path(path, sizeof(path), "k"), 0);
	make_file(path, 0600);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		ck_assert_msg(key_derive(path, bad[i]) == (key_t)-1,
		    "proj_id %d accepted", bad[i]);
		ck_assert_msg(errno == EINVAL, "proj_id %d: errno %d, want "
		    "EINVAL", bad[i], errno);
	}
	ck_assert_int_ne(key_derive(path, 1), (key_t)-1);
	ck_assert_int_ne(key_derive(path, SHM_PROJ_MAX), (key_t)-1);
}
END_TEST

/*
 * The slides' ftok(path, 1300): ftok keeps only the low 8 bits, so 1300
 * is 20 and the two collide.  That is why key_derive refuses > 255.
 */
START_TEST(test_ftok_low8_pitfall)
{
	char path[PATH_MAX];

	ck_assert_int_eq(tu_path(path, sizeof(path), "k"), 0);
	make_file(path, 0600);
	ck_assert_int_eq(1300 & 0xff, 20);
	ck_assert_int_eq(ftok(path, 1300), ftok(path, 20));
	ck_assert_int_eq(ftok(path, 20 + 256), key_derive(path, 20));
	ck_assert_int_eq(key_derive(path, 1300), (key_t)-1);
	ck_assert_int_eq(key_derive(path, 20 + 256), (key_t)-1);
}
END_TEST

START_TEST(test_derive_missing_file)
{
	char path[PATH_MAX];

	ck_assert_int_eq(tu_path(path, sizeof(path), "absent"), 0);
	errno = 0;
	ck_assert_int_eq(key_derive(path, 1), (key_t)-1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* -------------------------------------------------------------- faults */

START_TEST(test_ensure_refuses_symlink)
{
	char target[PATH_MAX], link[PATH_MAX];

	ck_assert_int_eq(tu_path(target, sizeof(target), "target"), 0);
	ck_assert_int_eq(tu_path(link, sizeof(link), "link.key"), 0);
	make_file(target, 0600);
	ck_assert_int_eq(symlink(target, link), 0);
	errno = 0;
	ck_assert_int_eq(key_ensure_file(link), -1);
	ck_assert_int_eq(errno, ELOOP);
}
END_TEST

/* Without O_NOFOLLOW, O_CREAT would create the link's target for them. */
START_TEST(test_ensure_refuses_dangling_symlink)
{
	char target[PATH_MAX], link[PATH_MAX];

	ck_assert_int_eq(tu_path(target, sizeof(target), "planted"), 0);
	ck_assert_int_eq(tu_path(link, sizeof(link), "link.key"), 0);
	ck_assert_int_eq(symlink(target, link), 0);
	errno = 0;
	ck_assert_int_eq(key_ensure_file(link), -1);
	ck_assert_int_eq(errno, ELOOP);
	ck_assert_msg(access(target, F_OK) == -1 && errno == ENOENT,
	    "key_ensure_file created the symlink's target %s", target);
}
END_TEST

/*
 * A file that belongs to someone else.  As root we make one with chown;
 * otherwise /etc/passwd, which exists, is readable and is root's.
 */
START_TEST(test_ensure_refuses_foreign_file)
{
	char path[PATH_MAX], link[PATH_MAX];
	struct stat st;

	if (getuid() == 0) {
		ck_assert_int_eq(tu_path(path, sizeof(path), "foreign.key"),
		    0);
		make_file(path, 0644);
		ck_assert_int_eq(chown(path, 65534, 65534), 0);
	} else {
		(void)snprintf(path, sizeof(path), "/etc/passwd");
		ck_assert_int_eq(stat(path, &st), 0);
		ck_assert_uint_ne(st.st_uid, getuid());
	}
	errno = 0;
	ck_assert_int_eq(key_ensure_file(path), -1);
	ck_assert_int_eq(errno, EPERM);
	/* And through a symlink the link itself is refused first. */
	ck_assert_int_eq(tu_path(link, sizeof(link), "to-foreign.key"), 0);
	ck_assert_int_eq(symlink(path, link), 0);
	errno = 0;
	ck_assert_int_eq(key_ensure_file(link), -1);
	ck_assert_int_eq(errno, ELOOP);
}
END_TEST

START_TEST(test_ensure_refuses_directory)
{
	char path[PATH_MAX];

	ck_assert_int_eq(tu_path(path, sizeof(path), "dir.key"), 0);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(key_ensure_file(path), -1);
}
END_TEST

/*
 * A FIFO planted under our key file name must be refused, not waited on:
 * open(O_RDONLY) of a FIFO blocks until a writer comes.  Run in a child
 * with a deadline so that a hang is reported as what it is.
 */
START_TEST(test_ensure_refuses_fifo_without_blocking)
{
	struct tu_proc p;
	char path[PATH_MAX], how[64];
	pid_t pid;
	int r;

	ck_assert_int_eq(tu_path(path, sizeof(path), "fifo.key"), 0);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	pid = tu_fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		errno = 0;
		r = key_ensure_file(path);
		_exit(r == -1 ? (errno == EPERM ? 0 : 1) : 2);
	}
	memset(&p, 0, sizeof(p));
	p.pid = pid;
	r = tu_wait(&p, 2000);
	ck_assert_msg(r == 0, "key_ensure_file(%s) blocked on a FIFO for 2 s "
	    "(open O_RDONLY without O_NONBLOCK); another user who plants a "
	    "FIFO at /tmp/shmlab-UID.key hangs our producer", path);
	ck_assert_msg(tu_exit_code(&p) == 0, "key_ensure_file on a FIFO: %s "
	    "(1: refused with errno other than EPERM, 2: accepted)",
	    tu_status_str(&p, how, sizeof(how)));
}
END_TEST

/*
 * key_file_make, the one way a key file is made: it creates a missing
 * file 0600, keeps an existing one, tells its owner, and refuses what
 * is not a regular file (the links: key_ensure_file's tests above).
 */
START_TEST(test_file_make_owner_and_refusals)
{
	char path[PATH_MAX], dir[PATH_MAX];
	struct stat st;
	uid_t owner = (uid_t)-1;

	ck_assert_int_eq(tu_path(path, sizeof(path), "made.key"), 0);
	ck_assert_int_eq(key_file_make(path, &owner), 0);
	ck_assert_uint_eq(owner, getuid());
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(key_file_make(path, &owner), 0);
	if (getuid() == 0) {
		ck_assert_int_eq(chown(path, 65534, 65534), 0);
		ck_assert_int_eq(key_file_make(path, &owner), 0);
		ck_assert_uint_eq(owner, 65534);
		errno = 0;
		ck_assert_int_eq(key_ensure_file(path), -1);
		ck_assert_int_eq(errno, EPERM);
	}
	ck_assert_int_eq(tu_path(dir, sizeof(dir), "made-dir.key"), 0);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(key_file_make(dir, &owner), -1);
}
END_TEST

static Suite *
key_suite(void)
{
	Suite *s = suite_create("key");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_default_path_per_uid);
	tcase_add_test(tc, test_ensure_creates_0600);
	tcase_add_test(tc, test_ensure_keeps_existing_file);
	tcase_add_test(tc, test_derive_same_file_same_key);
	tcase_add_test(tc, test_derive_every_proj_distinct);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_default_path_buffer_bounds);
	tcase_add_test(tc, test_derive_proj_bounds);
	tcase_add_test(tc, test_ftok_low8_pitfall);
	tcase_add_test(tc, test_derive_missing_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_ensure_refuses_symlink);
	tcase_add_test(tc, test_ensure_refuses_dangling_symlink);
	tcase_add_test(tc, test_ensure_refuses_foreign_file);
	tcase_add_test(tc, test_ensure_refuses_directory);
	tcase_add_test(tc, test_ensure_refuses_fifo_without_blocking);
	tcase_add_test(tc, test_file_make_owner_and_refusals);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	tu_init();
	sr = srunner_create(key_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
