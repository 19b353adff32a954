/*
 * daemon.c - producer -d: the fork, the pidfile, and "ready" to the caller.
 *
 * The daemon itself creates the objects, so that their creator pid
 * (ipcs -p, shm_cpid) is the process that runs the run, and a live run
 * is never taken for a crashed one.  The caller waits on a pipe until
 * the daemon is ready (objects made, pidfile written) and exits 0, or
 * exits with the daemon's own status when it failed before that: the
 * caller's exit status still tells whether the run started.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <libutil.h>
#include <stdio.h>
#include <unistd.h>

#include "i18n.h"
#include "prod.h"

/* Opens the pidfile (one producer per pidfile), forks, and detaches. */
void
daemon_start(struct prod *p)
{
	int fds[2], st;
	ssize_t n;
	pid_t pid, other;
	char c;

	p->pfh = pidfile_open(p->pidpath, 0600, &other);
	if (p->pfh == NULL) {
		if (errno == EEXIST)
			errx(3, _("a producer is already running as pid %ld "
			    "(pidfile %s)"), (long)other, p->pidpath);
		err(3, _("pidfile_open %s"), p->pidpath);
	}
	fflush(NULL);
	if (pipe(fds) == -1)
		err(3, _("pipe"));
	if ((pid = fork()) == -1)
		err(3, _("fork"));
	if (pid > 0) {
		(void)close(fds[1]);
		while ((n = read(fds[0], &c, 1)) == -1 && errno == EINTR)
			;
		if (n == 1)
			_exit(0);
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
			;
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 3);
	}
	(void)close(fds[0]);
	p->ready_fd = fds[1];
	if (setsid() == -1)
		warn(_("setsid"));
	/* At once: whoever cleans up after us finds us by the pidfile. */
	if (pidfile_write(p->pfh) == -1)
		warn(_("pidfile_write %s"), p->pidpath);
}

/*
 * The daemon is ready: stdin and stdout to /dev/null, the caller may go.
 * A caller we cannot tell still learns the status when we exit.
 */
int
daemon_ready(struct prod *p)
{
	int fd = open("/dev/null", O_RDWR), r = 0;

	if (fd == -1 || dup2(fd, STDIN_FILENO) == -1 ||
	    dup2(fd, STDOUT_FILENO) == -1)
		warn(_("redirecting stdin/stdout to /dev/null"));
	if (fd > STDERR_FILENO)
		(void)close(fd);
	if (write(p->ready_fd, "r", 1) != 1 || close(p->ready_fd) == -1) {
		warn(_("telling the caller of %s that the run is ready"),
		    p->pidpath);
		r = -1;
	}
	p->ready_fd = -1;
	return r;
}
