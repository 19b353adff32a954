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
 * The one way a key file comes to exist: creates path (0600) if it is
 * missing and makes sure it is a regular file, whose owner goes to
 * *owner.  O_NOFOLLOW keeps another user from planting a link under our
 * name in /tmp: our key would then follow their inode (and O_CREAT would
 * create the link's target for them).  O_NONBLOCK keeps a planted FIFO
 * from hanging the open.  Returns -1 (EPERM: not a regular file) or 0.
 */
int
key_file_make(const char *path, uid_t *owner)
{
	struct stat st;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	if (close(fd) == -1)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EPERM;
		return -1;
	}
	*owner = st.st_uid;
	return 0;
}

/*
 * Makes sure the key file exists and belongs to us (key_file_make, and
 * a file of another user's is refused with EPERM too).
 */
int
key_ensure_file(const char *path)
{
	uid_t owner;

	if (key_file_make(path, &owner) == -1)
		return -1;
	if (owner != getuid()) {
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
