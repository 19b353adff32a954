/*
 * key.c - where IPC keys come from.
 *
 * ftok(3) turns an existing file and a proj_id into a key_t.  The default
 * file is per user (/tmp/shmlab-UID.key), so thirty students on one lab
 * machine never share a key by accident; run_demo.sh uses a private file.
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "shmlib.h"

static int
user_path(char *buf, size_t len, const char *suffix)
{
	int n;

	n = snprintf(buf, len, "/tmp/shmlab-%lu%s.key", (unsigned long)getuid(),
	    suffix);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Writes the default key file path for this user into buf. */
int
key_default_path(char *buf, size_t len)
{
	return user_path(buf, len, "");
}

/*
 * The walkthrough's default key file, per user too, and not the runs':
 * a walkthrough and a run of one student never meet on one key.
 */
int
key_walk_path(char *buf, size_t len)
{
	return user_path(buf, len, "-walk");
}

/*
 * Makes sure the key file exists and belongs to us.  O_NOFOLLOW and the
 * owner check keep another user from planting a link or a file of theirs
 * under our name in /tmp: our key would then follow their inode.
 * O_NONBLOCK keeps a planted FIFO from hanging the open.
 */
int
key_ensure_file(const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		int saved = errno;

		(void)close(fd);
		errno = saved;
		return -1;
	}
	if (close(fd) == -1)
		return -1;
	if (!S_ISREG(st.st_mode) || st.st_uid != getuid()) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/* The key of a run: ftok() of an existing file, proj_id in 1..255. */
key_t
key_derive(const char *path, int proj_id)
{
	if (proj_id < 1 || proj_id > SHM_PROJ_MAX) {
		errno = EINVAL;
		return (key_t)-1;
	}
	return ftok(path, proj_id);
}
