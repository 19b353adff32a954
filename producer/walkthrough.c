/*
 * walkthrough.c - the slides' example, one system call at a time.
 *
 * producer --walkthrough runs the program of slides-memoria-compartida
 * ("Ejemplo", sections 1 to 3) on the slides' own terms -- a plain
 * int buffer[MAXBUF], not shmlab's ring -- and explains each call: what it
 * was called with, what it returned, and why that matters.  Each call's
 * line starts with the slide's section in brackets; every line fits in 80
 * columns, in English or, under LANG=es_ES.UTF-8, in Spanish.  With
 * --step it pauses after every call -- while the segment is marked for
 * deletion too -- and shows the ipcs command to type in a second window;
 * without it, it pauses once, where the slides call getchar().  It ends
 * with a summary of what the kernel did at each step.
 *
 * Who creates and removes what: the walkthrough creates one segment with
 * IPC_CREAT | IPC_EXCL and removes it (IPC_RMID) on every path after
 * creating it, errors and SIGINT/SIGTERM/SIGHUP included.  To show that
 * IPC_RMID only marks a segment that is still attached, it forks one child
 * that attaches the segment by its key and detaches only when told to; the
 * child is reaped on every path, and killed by its pid on error.  A
 * segment that already exists under the key is described and left alone.
 * Without -k the key file is the user's own (/tmp/shmlab-UID-walk.key),
 * so thirty students on one machine never meet on one key.
 *
 *	producer --walkthrough --step
 *	echo | producer --walkthrough -k /bin/cat -p 7 --perm 0640
 *
 * Exit status: 0 done, 3 an IPC failure or an interruption.
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "i18n.h"
#include "shmlib.h"
#include "walkthrough.h"

#define SLIDES_KEY	1300	/* the slides' proj_id; ftok keeps 1300 & 0xff */
#define SLIDES_MAXBUF	10	/* the slides' buffer: int buffer[MAXBUF] */
#define SLIDES_PERM	0600	/* the slides' SHM_R | SHM_W */
#define CHILD_WAIT_MS	5000	/* bound on each answer from the child */
#define WALK_COLS	79	/* widest line: an 80-column screen, no wrap */
#define NOTES_MAX	16	/* calls the summary lists */

#ifndef SHM_DEST
#define SHM_DEST	01000	/* Linux: marked by IPC_RMID, still attached */
#endif

/* The slide sections each line belongs to: the slides' own titles. */
#define S_CREATE	"[1. Creación]"
#define S_ATTACH	"[2. Unir]"
#define S_MANAGE	"[3. Gestionar]"
#define S_DETACH	"[3. Separar]"
#define S_OJO		"[Ojo]"		/* the slides' warning about IPC_RMID */
#define S_SUMMARY	"[Resumen]"

/* One call as the summary lists it: what we called, what the kernel did. */
struct note {
	char		 call[96];
	char		 effect[192];
};

static const int stop_sigs[] = { SIGINT, SIGTERM, SIGHUP };
#define NSTOP	((int)(sizeof(stop_sigs) / sizeof(stop_sigs[0])))

/* Everything the walkthrough holds, so that one cleanup can undo it. */
struct walk {
	const char	*path;		/* FILEKEY */
	int		 proj;		/* KEY, as ftok will use it */
	mode_t		 perm;		/* --perm, or 0 */
	int		 step;		/* --step: pause after every call */
	int		 eof;		/* stdin ended: no more pauses */
	key_t		 key;
	int		 id;		/* -1 until shmget succeeds */
	int		 removed;	/* IPC_RMID done */
	int		*buffer;	/* valid while attached */
	int		 attached;
	void		*addr;		/* where shmat put it, for the summary */
	pid_t		 child;		/* 0 when there is none to reap */
	int		 ready[2];	/* child -> parent: struct child_msg */
	int		 go[2];		/* parent -> child: "detach now" */
	int		 nnotes;
	struct note	 notes[NOTES_MAX];
	struct sigaction old_stop[NSTOP]; /* the caller's, put back at the end */
	struct sigaction old_pipe;
	int		 out_failed;	/* stdout could not be written: stop */
};

/*
 * What the child reports, once attached and once detached; the parent
 * prints it, so that one process owns stdout.  Smaller than PIPE_BUF, so
 * each write is atomic.
 */
struct child_msg {
	int		 id;		/* shmget(key, 0, 0) in the child */
	int		 err;		/* errno of the call that failed, or 0 */
	void		*addr;		/* the child's own attachment */
	int		 buffer[SLIDES_MAXBUF];	/* read after IPC_RMID */
	char		 call[16];	/* the call that failed */
};

static volatile sig_atomic_t stop_sig;	/* the signal that asks us to stop */

static void	 say(struct walk *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 wrap(const char *);
static void	 note(struct walk *, const char *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	 on_stop(int);
static int	 catch_signals(struct walk *);
static void	 restore_signals(struct walk *);
static int	 wait_readable(int, int);
static int	 read_line(struct walk *, const char **);
static int	 pause_step(struct walk *, const char *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static unsigned	 hexkey(key_t);
static const char *fmt_time(time_t, char *, size_t);
static void	 fmt_buffer(const int *, char *, size_t);
static void	 say_stat(struct walk *, const struct shmid_ds *);
static int	 stat_seg(const struct walk *, struct shmid_ds *);
static int	 proc_line(struct walk *, int);
static void	 explain_eexist(const struct walk *);
static int	 step_key(struct walk *);
static int	 step_create(struct walk *);
static int	 step_attach(struct walk *);
static int	 step_fill(struct walk *);
static int	 step_stat(struct walk *);
static int	 step_set(struct walk *);
static int	 step_wait_key(struct walk *);
static int	 step_fork(struct walk *);
static int	 step_detach(struct walk *);
static int	 step_rmid(struct walk *);
static int	 step_last_detach(struct walk *);
static int	 step_summary(struct walk *);
static void	 child_main(struct walk *) __attribute__((noreturn));
static void	 child_fail(struct walk *, struct child_msg *, const char *)
		    __attribute__((noreturn));
static int	 child_read(struct walk *, struct child_msg *);
static void	 close_fd(int *);
static int	 cleanup(struct walk *);

/* The walkthrough, in the slides' order. */
static int	(*const steps[])(struct walk *) = {
	step_key, step_create, step_attach, step_fill, step_stat, step_set,
	step_wait_key, step_fork, step_detach, step_rmid, step_last_detach,
	step_summary
};

/*
 * Prints one paragraph within WALK_COLS columns, breaking at spaces.  The
 * lines after the first are indented two more than the paragraph's own
 * indent, or four when it has none, so that each call stands out.  A word
 * longer than a line (a long path) gets a line of its own.
 */
static void
wrap(const char *text)
{
	const char *p = text, *word;
	size_t indent = 0, cont, col, n;

	while (text[indent] == ' ')
		indent++;
	cont = indent > 0 ? indent + 2 : 4;
	(void)printf("%.*s", (int)indent, text);
	col = indent;
	p = text + indent;
	while (*p != '\0') {
		for (word = p; *p != '\0' && *p != ' '; p++)
			continue;
		n = (size_t)i18n_width(word, (size_t)(p - word));
		if (col > indent && col + 1 + n > WALK_COLS) {
			(void)printf("\n%*s", (int)cont, "");
			col = cont;
		} else if (col > indent) {
			(void)putchar(' ');
			col++;
		}
		(void)printf("%.*s", (int)(p - word), word);
		col += n;
		while (*p == ' ')
			p++;
	}
	(void)putchar('\n');
}

/*
 * One paragraph of the walkthrough, flushed at once so a pipe sees it.  A
 * failed write is told once and marked in w, which ends the steps.
 */
static void
say(struct walk *w, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	wrap(buf);
	if (fflush(stdout) == EOF && !w->out_failed) {
		w->out_failed = 1;
		warn("%s", _("writing the walkthrough to stdout; stopping and "
		    "removing what it created"));
	}
}

/* Records a call and what the kernel did, for the final summary. */
static void
note(struct walk *w, const char *call, const char *fmt, ...)
{
	struct note *n;
	va_list ap;

	if (w->nnotes == NOTES_MAX)
		return;
	n = &w->notes[w->nnotes++];
	(void)snprintf(n->call, sizeof(n->call), "%s", call);
	va_start(ap, fmt);
	(void)vsnprintf(n->effect, sizeof(n->effect), fmt, ap);
	va_end(ap);
}

static void
on_stop(int sig)
{
	stop_sig = sig;
}

/*
 * SIGINT, SIGTERM and SIGHUP only set a flag, without SA_RESTART, so that
 * a wait returns and the segment is removed; a signal the caller ignores
 * (a background job's SIGINT) stays ignored.  SIGPIPE is ignored: a closed
 * stdout or a dead child's pipe must become EPIPE, which we survive and
 * clean up after, not a death that leaves the segment behind.
 */
static int
catch_signals(struct walk *w)
{
	struct sigaction sa;
	int i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	if (sigemptyset(&sa.sa_mask) == -1) {
		warn("sigemptyset");
		return -1;
	}
	for (i = 0; i < NSTOP; i++) {
		if (sigaction(stop_sigs[i], NULL, &w->old_stop[i]) == -1) {
			warn("sigaction(%s)", strsignal(stop_sigs[i]));
			return -1;
		}
		if (w->old_stop[i].sa_handler == SIG_IGN)
			continue;
		if (sigaction(stop_sigs[i], &sa, NULL) == -1) {
			warn("sigaction(%s)", strsignal(stop_sigs[i]));
			return -1;
		}
	}
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, &w->old_pipe) == -1) {
		warn("sigaction(SIGPIPE)");
		return -1;
	}
	return 0;
}

static void
restore_signals(struct walk *w)
{
	int i;

	for (i = 0; i < NSTOP; i++)
		if (sigaction(stop_sigs[i], &w->old_stop[i], NULL) == -1)
			warn(_("restoring the action of %s"),
			    strsignal(stop_sigs[i]));
	if (sigaction(SIGPIPE, &w->old_pipe, NULL) == -1)
		warn(_("restoring the action of SIGPIPE"));
}

/*
 * Waits until fd is readable (or at its end), a stop signal arrives, or
 * timeout_ms passes (-1: no bound).  The stop signals stay blocked except
 * inside ppoll(), so one that arrives just before the wait cannot be
 * missed.  Returns 1 readable, 0 timed out, -1 stopped or failed.
 */
static int
wait_readable(int fd, int timeout_ms)
{
	struct pollfd pfd;
	struct timespec ts, *tsp = NULL;
	sigset_t block, old;
	int i, n = -1, saved = 0;

	if (sigemptyset(&block) == -1) {
		warn("sigemptyset");
		return -1;
	}
	for (i = 0; i < NSTOP; i++)
		if (sigaddset(&block, stop_sigs[i]) == -1) {
			warn("sigaddset");
			return -1;
		}
	if (sigprocmask(SIG_BLOCK, &block, &old) == -1) {
		warn("sigprocmask");
		return -1;
	}
	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		tsp = &ts;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (!stop_sig) {
		n = ppoll(&pfd, 1, tsp, &old);
		if (n != -1 || errno != EINTR)
			break;
	}
	saved = errno;
	if (sigprocmask(SIG_SETMASK, &old, NULL) == -1)
		warn("sigprocmask");
	if (stop_sig)
		return -1;
	if (n == -1) {
		errno = saved;
		warn("ppoll on fd %d", fd);
		return -1;
	}
	return n > 0;
}

/* key_t is a signed int: show it as the 32 bits ipcs shows. */
static unsigned
hexkey(key_t key)
{
	return (unsigned)(uint32_t)key;
}

static const char *
fmt_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (t == 0)
		return _("never");
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%H:%M:%S", &tm) == 0)
		(void)snprintf(buf, len, "%lld", (long long)t);
	return buf;
}

static void
fmt_buffer(const int *b, char *buf, size_t len)
{
	size_t off = 0;
	int i, n;

	buf[0] = '\0';
	for (i = 0; i < SLIDES_MAXBUF && off < len; i++) {
		n = snprintf(buf + off, len - off, "%s%d", i ? ", " : "",
		    b[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

static int
stat_seg(const struct walk *w, struct shmid_ds *ds)
{
	if (shmctl(w->id, IPC_STAT, ds) == -1) {
		warn(_("shmctl(%d, IPC_STAT) on the walkthrough's segment"), w->id);
		return -1;
	}
	return 0;
}

/*
 * Shows the kernel's own line for the segment from /proc/sysvipc/shm, as
 * name=value pairs (the file's lines are too wide for 80 columns).
 * Returns 1 if there is one, 0 if not, -1 when the file cannot be read
 * (not Linux, or no /proc).
 */
static int
proc_line(struct walk *w, int show)
{
	FILE *fp;
	char hdr[512], line[512], out[512], *hs, *ls, *h, *v;
	size_t off = 0;
	int lid, found = 0, i;

	if ((fp = fopen("/proc/sysvipc/shm", "r")) == NULL) {
		if (show)
			say(w, "    (/proc/sysvipc/shm: %s)", strerror(errno));
		return -1;
	}
	if (fgets(hdr, sizeof(hdr), fp) != NULL) {
		while (fgets(line, sizeof(line), fp) != NULL)
			if (sscanf(line, "%*d %d", &lid) == 1 && lid == w->id) {
				found = 1;
				break;
			}
	}
	if (ferror(fp))
		warn(_("reading /proc/sysvipc/shm"));
	(void)fclose(fp);
	if (!found || !show)
		return found;
	/* The first seven columns: key shmid perms size cpid lpid nattch. */
	out[0] = '\0';
	h = strtok_r(hdr, " \t\n", &hs);
	v = strtok_r(line, " \t\n", &ls);
	for (i = 0; i < 7 && h != NULL && v != NULL && off < sizeof(out);
	    i++) {
		off += (size_t)snprintf(out + off, sizeof(out) - off, " %s=%s",
		    h, v);
		h = strtok_r(NULL, " \t\n", &hs);
		v = strtok_r(NULL, " \t\n", &ls);
	}
	say(w, "    /proc/sysvipc/shm:%s", out);
	return found;
}

/*
 * Reads one line straight from fd 0 -- nothing else reads stdin -- so that
 * the wait can also end on a signal.  End of file counts as Enter, so a
 * pipe or /dev/null drives the walkthrough, and ends every later pause.
 * Returns 0 with how set, -1 when stopped.
 */
static int
read_line(struct walk *w, const char **how)
{
	ssize_t n;
	char c;

	*how = NULL;
	while (*how == NULL) {
		if (wait_readable(STDIN_FILENO, -1) != 1)
			return -1;
		n = read(STDIN_FILENO, &c, 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			warn("%s", _("reading stdin; taking that as the key "
			    "press"));
			*how = _("stdin failed");
			w->eof = 1;
		} else if (n == 0) {
			*how = _("end of file on stdin");
			w->eof = 1;
		} else if (c == '\n')
			*how = _("key pressed");
	}
	return 0;
}

/*
 * --step: the ipcs command that shows this step from a second window, and
 * what it will show (expect, or NULL), then a wait for Enter.  Without
 * --step, or once stdin has ended, it only returns.
 */
static int
pause_step(struct walk *w, const char *expect, const char *fmt, ...)
{
	char cmd[160];
	const char *how;
	va_list ap;

	if (!w->step || w->eof)
		return 0;
	va_start(ap, fmt);
	(void)vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	say(w, _("  >> in another window: %s"), cmd);
	if (expect != NULL)
		say(w, _("  >> it shows: %s"), expect);
	(void)printf("%s", _("  >> Enter: next step "));
	(void)fflush(stdout);
	if (read_line(w, &how) == -1)
		return -1;
	(void)putchar('\n');
	return 0;
}

/* The IPC_STAT fields the slides name, a few per line. */
static void
say_stat(struct walk *w, const struct shmid_ds *ds)
{
	char at[32], dt[32], ct[32];
	unsigned mode = (unsigned)ds->shm_perm.mode;

	/* glibc and musl call the key __key; Linux zeroes it on IPC_RMID. */
	say(w, _("    size %zu bytes, key 0x%08x, nattch %lu, mode %04o,"),
	    (size_t)ds->shm_segsz, hexkey(ds->shm_perm.__key),
	    (unsigned long)ds->shm_nattch, mode & 0777);
	if (mode & SHM_DEST)
		say(w, _("    mode %05o = %04o | SHM_DEST %05o: ipcs shows status "
		    "\"dest\","), mode & 07777, mode & 0777, SHM_DEST);
	say(w, _("    creator pid %ld%s, last pid %ld, owner uid %lu,"),
	    (long)ds->shm_cpid, ds->shm_cpid == getpid() ? _(" (us)") : "",
	    (long)ds->shm_lpid, (unsigned long)ds->shm_perm.uid);
	say(w, _("    attached %s, detached %s, changed %s"),
	    fmt_time(ds->shm_atime, at, sizeof(at)),
	    fmt_time(ds->shm_dtime, dt, sizeof(dt)),
	    fmt_time(ds->shm_ctime, ct, sizeof(ct)));
}

/*
 * EEXIST under IPC_EXCL: say whose segment holds the key and what to do,
 * and leave it alone -- it is not ours to remove.
 */
static void
explain_eexist(const struct walk *w)
{
	struct shmid_ds ds;
	int id;

	if ((id = shmget(w->key, 0, 0)) == -1 ||
	    shmctl(id, IPC_STAT, &ds) == -1) {
		warn(_("shmget(0x%08x, IPC_CREAT|IPC_EXCL) said EEXIST, but the "
		    "segment cannot be opened to say whose it is; use another "
		    "-p proj_id or -k file; nothing was touched"),
		    hexkey(w->key));
		return;
	}
	warnx(_("shmget(0x%08x, %zu, IPC_CREAT|IPC_EXCL|0600): EEXIST: segment "
	    "id %d already uses this key (%zu bytes, creator pid %ld %s, %lu "
	    "attached, owner uid %lu, mode %04o)"), hexkey(w->key),
	    sizeof(int) * SLIDES_MAXBUF, id, (size_t)ds.shm_segsz,
	    (long)ds.shm_cpid, pid_alive(ds.shm_cpid) ? _("still running") :
	    _("gone"), (unsigned long)ds.shm_nattch,
	    (unsigned long)ds.shm_perm.uid, (unsigned)ds.shm_perm.mode & 0777);
	if (pid_alive(ds.shm_cpid))
		warnx(_("pid %ld still runs (another walkthrough waiting at its "
		    "key prompt?): let it finish, or use another -p proj_id; "
		    "nothing was touched"), (long)ds.shm_cpid);
	else if (ds.shm_nattch > 0)
		warnx(_("its creator is gone but %lu processes are still "
		    "attached: find them with 'ipcs -m -p', or use another -p "
		    "proj_id; nothing was touched"),
		    (unsigned long)ds.shm_nattch);
	else
		warnx(_("its creator is gone and nothing is attached: a stale "
		    "segment of a crashed run; look at it with 'ipcs -m -i %d', "
		    "remove it with 'ipcrm -m %d' and run again; nothing was "
		    "touched"), id, id);
}

/* 1. The key: ftok(FILEKEY, KEY). */
static int
step_key(struct walk *w)
{
	char call[96];
	key_t big, small;

	if ((w->key = ftok(w->path, w->proj)) == (key_t)-1) {
		warn(_("ftok(\"%s\", %d): the key file must exist and be "
		    "readable"), w->path, w->proj);
		return -1;
	}
	(void)snprintf(call, sizeof(call), "ftok(\"%s\", %d) = 0x%08x",
	    w->path, w->proj, hexkey(w->key));
	say(w, "%s %s", S_CREATE, call);
	say(w, _("    the key: the name every process uses to find the segment, "
	    "made from the file's device and inode and the proj_id (a key_t, "
	    "not the slide's int)"));
	note(w, call, "%s", _("no system call on the segment: stat() of the "
	    "file"));
	/* Only a demonstration: the key we use is the one above. */
	if ((big = ftok(w->path, SLIDES_KEY)) == (key_t)-1 ||
	    (small = ftok(w->path, SLIDES_KEY & 0xff)) == (key_t)-1) {
		warn("ftok(\"%s\", %d)", w->path, SLIDES_KEY);
		return -1;
	}
	if (big == small)
		say(w, _("    ftok(\"%s\", %d) = 0x%08x = ftok(\"%s\", %d): ftok "
		    "keeps only the low 8 bits of proj_id, so the slides' KEY "
		    "%d acts as %d & 0xff = %d; shmlab takes -p 1..255"),
		    w->path, SLIDES_KEY, hexkey(big), w->path,
		    SLIDES_KEY & 0xff, SLIDES_KEY, SLIDES_KEY,
		    SLIDES_KEY & 0xff);
	else
		say(w, _("    ftok(\"%s\", %d) = 0x%08x but ftok(\"%s\", %d) = "
		    "0x%08x: this libc keeps more than the low 8 bits of "
		    "proj_id, but POSIX promises only 8, so shmlab takes -p "
		    "1..255"), w->path, SLIDES_KEY, hexkey(big), w->path,
		    SLIDES_KEY & 0xff, hexkey(small));
	return pause_step(w, _("nothing yet"), "ipcs -m | grep -i 0x%08x",
	    hexkey(w->key));
}

/* 1. shmget(key, sizeof(int) * MAXBUF, IPC_CREAT | IPC_EXCL | perms). */
static int
step_create(struct walk *w)
{
	size_t size = sizeof(int) * SLIDES_MAXBUF;
	char call[96];

	if ((w->id = shmget(w->key, size, IPC_CREAT | IPC_EXCL |
	    SLIDES_PERM)) == -1) {
		if (errno == EEXIST)
			explain_eexist(w);
		else
			warn(_("shmget(0x%08x, %zu, IPC_CREAT|IPC_EXCL|0600) "
			    "for %s: cannot create the segment (see ipcs -m -l "
			    "for the limits)"), hexkey(w->key), size, w->path);
		return -1;
	}
	(void)snprintf(call, sizeof(call), "shmget(0x%08x, %zu, "
	    "IPC_CREAT|IPC_EXCL|0600) = %d", hexkey(w->key), size, w->id);
	say(w, "%s %s", S_CREATE, call);
	say(w, _("    a new segment, id %d, of sizeof(int) * MAXBUF = %zu bytes; "
	    "IPC_EXCL makes an existing one an error (EEXIST) instead of "
	    "silently sharing it; 0600 is the slides' SHM_R|SHM_W"), w->id,
	    size);
	note(w, call, _("created segment %d, %zu bytes, nattch 0"), w->id,
	    size);
	return pause_step(w, _("nattch=0"), "ipcs -m -i %d", w->id);
}

/* 2. shmat(id, 0, 0). */
static int
step_attach(struct walk *w)
{
	char call[96];
	void *p;

	if ((p = shmat(w->id, NULL, 0)) == (void *)-1) {
		warn(_("shmat(%d, 0, 0) on the segment just created"), w->id);
		return -1;
	}
	w->buffer = p;
	w->addr = p;
	w->attached = 1;
	(void)snprintf(call, sizeof(call), "shmat(%d, 0, 0) = %p", w->id, p);
	say(w, "%s %s", S_ATTACH, call);
	say(w, _("    address 0 lets the kernel choose where the segment appears "
	    "in our address space; shmat fails with (void *)-1, never NULL, "
	    "so the slide's \"buffer == NULL\" check would miss every error"));
	note(w, call, "%s", _("mapped it into our memory: nattch 1"));
	return pause_step(w, _("nattch=1"), "ipcs -m -i %d", w->id);
}

/* 3. for (i = 0; i < MAXBUF; i++) buffer[i] = i. */
static int
step_fill(struct walk *w)
{
	char buf[128];
	int i;

	for (i = 0; i < SLIDES_MAXBUF; i++)
		w->buffer[i] = i;
	fmt_buffer(w->buffer, buf, sizeof(buf));
	say(w, "%s for (i = 0; i < MAXBUF; i++) buffer[i] = i", S_MANAGE);
	say(w, _("    buffer = {%s}: plain stores, no system call: every process "
	    "attached sees them"), buf);
	note(w, "buffer[i] = i", "%s", _("nothing: plain stores into the "
	    "segment"));
	return pause_step(w, _("unchanged: no call"), "ipcs -m -i %d", w->id);
}

/* 3. shmctl(id, IPC_STAT, &ds). */
static int
step_stat(struct walk *w)
{
	struct shmid_ds ds;
	char call[96];

	if (stat_seg(w, &ds) == -1)
		return -1;
	(void)snprintf(call, sizeof(call), "shmctl(%d, IPC_STAT, &ds) = 0",
	    w->id);
	say(w, "%s %s", S_MANAGE, call);
	say(w, _("    the kernel's record of the segment: its size, who created "
	    "it, who attached or detached it last, how many are attached "
	    "(nattch)"));
	say_stat(w, &ds);
	note(w, call, "%s", _("copied its record (struct shmid_ds) to us"));
	return pause_step(w, NULL, "ipcs -m -i %d", w->id);
}

/* 3. shmctl(id, IPC_SET, &ds), only with --perm. */
static int
step_set(struct walk *w)
{
	struct shmid_ds ds;
	char call[96];
	unsigned before;

	if (w->perm == 0) {
		say(w, _("%s shmctl(IPC_SET) skipped: run with --perm MODE (e.g. "
		    "0640) to change the mode after creation"), S_MANAGE);
		return 0;
	}
	if (stat_seg(w, &ds) == -1)
		return -1;
	before = (unsigned)ds.shm_perm.mode & 0777;
	ds.shm_perm.mode = w->perm;
	if (shmctl(w->id, IPC_SET, &ds) == -1) {
		warn(_("shmctl(%d, IPC_SET, mode %04o) on the walkthrough's "
		    "segment"), w->id, (unsigned)w->perm);
		return -1;
	}
	(void)snprintf(call, sizeof(call), "shmctl(%d, IPC_SET, &ds) = 0",
	    w->id);
	say(w, "%s %s", S_MANAGE, call);
	say(w, _("    IPC_SET writes the owner's uid, gid and mode from ds (only "
	    "the owner, the creator or root may): mode %04o -> %04o"), before,
	    (unsigned)w->perm);
	if (stat_seg(w, &ds) == -1)
		return -1;
	say(w, _("    shmctl(%d, IPC_STAT) again: mode %04o now, and \"changed\" "
	    "is the time of this IPC_SET"), w->id,
	    (unsigned)ds.shm_perm.mode & 0777);
	say_stat(w, &ds);
	note(w, call, _("changed the mode: %04o -> %04o"), before,
	    (unsigned)w->perm);
	return pause_step(w, NULL, "ipcs -m -i %d", w->id);
}

/* 3. "The daemon executes until press some character": c = getchar(). */
static int
step_wait_key(struct walk *w)
{
	const char *how;

	say(w, _("%s c = getchar(): the daemon runs until you press a key; "
	    "segment %d stays in place meanwhile: look at it with 'ipcs -m -i "
	    "%d' from another window; press Enter to go on"), S_MANAGE,
	    w->id, w->id);
	if (w->eof)
		how = _("end of file on stdin");
	else if (read_line(w, &how) == -1)
		return -1;
	say(w, _("%s %s: on to the teardown"), S_MANAGE, how);
	return 0;
}

/*
 * The child: a second process that uses the segment.  fork() copied our
 * attachment; the child drops that copy and attaches by itself, as an
 * unrelated process would, so that nattch counts it exactly once.  It
 * detaches when the parent says so, or when the parent is gone (end of
 * file on the pipe).
 */
static void
child_main(struct walk *w)
{
	struct child_msg m;
	int *p;
	ssize_t n;
	char c;

	/* The caller's dispositions: a Ctrl-C ends the child as well. */
	restore_signals(w);
	close_fd(&w->ready[0]);
	close_fd(&w->go[1]);
	memset(&m, 0, sizeof(m));
	if (shmdt(w->buffer) == -1)
		child_fail(w, &m, "shmdt");
	if ((m.id = shmget(w->key, 0, 0)) == -1)
		child_fail(w, &m, "shmget");
	if ((p = shmat(m.id, NULL, SHM_RDONLY)) == (void *)-1)
		child_fail(w, &m, "shmat");
	m.addr = p;
	if (write(w->ready[1], &m, sizeof(m)) != (ssize_t)sizeof(m))
		_exit(3);
	while ((n = read(w->go[0], &c, 1)) == -1 && errno == EINTR)
		continue;
	if (n == 1)
		memcpy(m.buffer, p, sizeof(m.buffer));
	if (shmdt(p) == -1)
		child_fail(w, &m, "shmdt");
	if (write(w->ready[1], &m, sizeof(m)) != (ssize_t)sizeof(m))
		_exit(3);
	_exit(0);
}

/* The child's failed call and its errno, for the parent to report. */
static void
child_fail(struct walk *w, struct child_msg *m, const char *call)
{
	m->err = errno;
	(void)snprintf(m->call, sizeof(m->call), "%s", call);
	if (write(w->ready[1], m, sizeof(*m)) == -1)
		_exit(3);
	_exit(3);
}

/* One message from the child, within CHILD_WAIT_MS. */
static int
child_read(struct walk *w, struct child_msg *m)
{
	ssize_t n;
	int r;

	if ((r = wait_readable(w->ready[0], CHILD_WAIT_MS)) == -1)
		return -1;
	if (r == 0) {
		warnx(_("child pid %ld did not answer within %d ms; killing it"),
		    (long)w->child, CHILD_WAIT_MS);
		return -1;
	}
	while ((n = read(w->ready[0], m, sizeof(*m))) == -1 && errno == EINTR)
		continue;
	if (n == -1) {
		warn(_("reading from child pid %ld"), (long)w->child);
		return -1;
	}
	if (n != (ssize_t)sizeof(*m)) {
		warnx(_("child pid %ld ended without reporting (%zd bytes)"),
		    (long)w->child, n);
		return -1;
	}
	if (m->err != 0) {
		errno = m->err;
		warn(_("child pid %ld: %s on segment %d"), (long)w->child, m->call,
		    w->id);
		return -1;
	}
	return 0;
}

/*
 * The slides' "Ojo": IPC_RMID only marks a segment that a process still
 * has attached.  A second process attaches it by its key first.
 */
static int
step_fork(struct walk *w)
{
	struct shmid_ds ds;
	struct child_msg m;
	char call[96];
	int fds[2];
	pid_t pid;

	if (pipe(fds) == -1) {
		warn(_("pipe for the child"));
		return -1;
	}
	w->ready[0] = fds[0];
	w->ready[1] = fds[1];
	if (pipe(fds) == -1) {
		warn(_("pipe for the child"));
		return -1;
	}
	w->go[0] = fds[0];
	w->go[1] = fds[1];
	if ((pid = fork()) == -1) {
		warn(_("fork of the child that keeps segment %d attached"),
		    w->id);
		return -1;
	}
	if (pid == 0)
		child_main(w);
	w->child = pid;
	close_fd(&w->ready[1]);
	close_fd(&w->go[0]);
	if (child_read(w, &m) == -1)
		return -1;
	(void)snprintf(call, sizeof(call), "fork() = %ld; shmget(0x%08x, 0, "
	    "0) = %d; shmat(%d, 0, SHM_RDONLY)", (long)pid, hexkey(w->key),
	    m.id, m.id);
	say(w, _("%s fork() = pid %ld, a second process: shmget(0x%08x, 0, 0) = "
	    "%d finds the segment by its key, shmat(%d, 0, SHM_RDONLY) = %p "
	    "attaches it"), S_OJO, (long)pid, hexkey(w->key), m.id, m.id,
	    m.addr);
	if (stat_seg(w, &ds) == -1)
		return -1;
	say(w, _("    shmctl(%d, IPC_STAT) = 0: nattch %lu, us and the child"),
	    w->id, (unsigned long)ds.shm_nattch);
	note(w, call, _("a second process attached it: nattch %lu"),
	    (unsigned long)ds.shm_nattch);
	return pause_step(w, _("nattch=2"), "ipcs -m -i %d", w->id);
}

/* 4a. shmdt(buffer): we let go; the child is still attached. */
static int
step_detach(struct walk *w)
{
	char call[96];

	if (shmdt(w->buffer) == -1) {
		warn(_("shmdt(%p) of segment %d"), w->addr, w->id);
		return -1;
	}
	w->attached = 0;
	(void)snprintf(call, sizeof(call), "shmdt(%p) = 0", w->addr);
	say(w, "%s %s", S_DETACH, call);
	say(w, _("    we are detached; that destroys nothing, and the child is "
	    "still attached"));
	note(w, call, "%s", _("unmapped it from our memory: nattch 1"));
	return pause_step(w, _("nattch=1"), "ipcs -m -i %d", w->id);
}

/* 4b. shmctl(IPC_RMID) while the child is attached: only a mark. */
static int
step_rmid(struct walk *w)
{
	struct shmid_ds ds;
	char call[96];
	int r;

	if (shmctl(w->id, IPC_RMID, NULL) == -1) {
		warn(_("shmctl(%d, IPC_RMID) while the child is attached"),
		    w->id);
		return -1;
	}
	w->removed = 1;
	(void)snprintf(call, sizeof(call), "shmctl(%d, IPC_RMID, NULL) = 0",
	    w->id);
	say(w, "%s %s", S_OJO, call);
	say(w, _("    \"shmctl() no elimina el segmento, lo marca para ser "
	    "eliminado\": the child is still attached, so the kernel only "
	    "marks it"));
	if (stat_seg(w, &ds) == -1)
		return -1;
	say(w, _("    shmctl(%d, IPC_STAT) = 0 still: SHM_DEST in the mode, "
	    "nattch %lu, key 0x%08x (IPC_PRIVATE: Linux frees the key on "
	    "IPC_RMID)"), w->id, (unsigned long)ds.shm_nattch,
	    hexkey(ds.shm_perm.__key));
	say_stat(w, &ds);
	(void)proc_line(w, 1);
	if ((r = shmget(w->key, 0, 0)) == -1)
		say(w, _("    shmget(0x%08x, 0, 0) = -1 (%s): the key no longer "
		    "finds the marked segment; a process that has its id can "
		    "still attach it (Linux allows that), and a new "
		    "shmget(IPC_CREAT) would make a fresh one"),
		    hexkey(w->key), strerror(errno));
	else
		say(w, _("    shmget(0x%08x, 0, 0) = %d: another segment has taken "
		    "the key already"), hexkey(w->key), r);
	note(w, call, _("marked it (dest), key freed; still there: nattch "
	    "%lu"), (unsigned long)ds.shm_nattch);
	return pause_step(w, _("key 0x00000000, status dest"), "ipcs -m");
}

/* The child detaches and exits: the kernel destroys the segment. */
static int
step_last_detach(struct walk *w)
{
	struct shmid_ds ds;
	struct child_msg m;
	char buf[128], call[96];
	int st;
	pid_t pid;

	if (write(w->go[1], "d", 1) != 1) {
		warn(_("telling child pid %ld to detach"), (long)w->child);
		return -1;
	}
	if (child_read(w, &m) == -1)
		return -1;
	fmt_buffer(m.buffer, buf, sizeof(buf));
	say(w, _("%s child pid %ld: after IPC_RMID it still read buffer = {%s}, "
	    "then shmdt(%p) = 0 dropped the last attachment"), S_OJO,
	    (long)w->child, buf, m.addr);
	while ((pid = waitpid(w->child, &st, 0)) == -1 && errno == EINTR)
		continue;
	if (pid == -1) {
		warn("waitpid(%ld)", (long)w->child);
		return -1;
	}
	w->child = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		warnx(_("child pid %ld ended with status 0x%x"), (long)pid, st);
		return -1;
	}
	if (shmctl(w->id, IPC_STAT, &ds) == 0) {
		warnx(_("segment %d still exists with nattch %lu after its last "
		    "detach; remove it with 'ipcrm -m %d'"), w->id,
		    (unsigned long)ds.shm_nattch, w->id);
		return -1;
	}
	if (errno != EINVAL && errno != EIDRM) {
		warn(_("shmctl(%d, IPC_STAT) after the last detach"), w->id);
		return -1;
	}
	say(w, _("    waitpid(%ld) = %ld; shmctl(%d, IPC_STAT) = -1 (%s): the "
	    "segment is gone: the kernel destroyed it when nattch reached 0%s"),
	    (long)pid, (long)pid, w->id, strerror(errno),
	    proc_line(w, 0) == 0 ? _(", and /proc/sysvipc/shm has no line "
	    "for it") : "");
	(void)snprintf(call, sizeof(call), _("child: shmdt(%p) = 0, exit"),
	    m.addr);
	note(w, call, "%s", _("nattch 0: the kernel destroyed the segment"));
	return pause_step(w, _("not found"), "ipcs -m -i %d", w->id);
}

/*
 * What the kernel did at each step, and the slides' "Resumen de las
 * operaciones con memoria compartida".
 */
static int
step_summary(struct walk *w)
{
	int i;

	say(w, _("%s what the kernel did at each call:"), S_SUMMARY);
	for (i = 0; i < w->nnotes; i++) {
		say(w, "  %2d. %s", i + 1, w->notes[i].call);
		say(w, "      -> %s", w->notes[i].effect);
	}
	say(w, _("%s 1. key: ftok()  2. create: shmget(IPC_CREAT)  3. use: "
	    "shmat() and plain stores  4. destroy: 4a. shmdt() detaches, 4b. "
	    "shmctl(IPC_RMID) marks; the kernel removes the segment when the "
	    "last process detaches"), S_SUMMARY);
	return 0;
}

static void
close_fd(int *fd)
{
	if (*fd != -1 && close(*fd) == -1)
		warn("close(%d)", *fd);
	*fd = -1;
}

/*
 * Teardown on every path, in this order: mark the segment first, so that
 * it cannot outlive us whatever happens next; then detach our attachment;
 * then kill and reap the child, whose exit drops the last attachment and
 * lets the kernel destroy the segment.
 */
static int
cleanup(struct walk *w)
{
	int rc = 0;

	if (w->id != -1 && !w->removed) {
		if (shmctl(w->id, IPC_RMID, NULL) == -1) {
			warn(_("shmctl(%d, IPC_RMID): remove it with 'ipcrm -m "
			    "%d'"), w->id, w->id);
			rc = -1;
		} else
			w->removed = 1;
	}
	if (w->attached) {
		if (shmdt(w->buffer) == -1) {
			warn(_("shmdt(%p) of segment %d"), w->addr, w->id);
			rc = -1;
		}
		w->attached = 0;
	}
	if (w->child > 0) {
		if (kill(w->child, SIGKILL) == -1 && errno != ESRCH)
			warn("kill(%ld, SIGKILL)", (long)w->child);
		while (waitpid(w->child, NULL, 0) == -1) {
			if (errno != EINTR) {
				warn("waitpid(%ld)", (long)w->child);
				rc = -1;
				break;
			}
		}
		w->child = 0;
	}
	close_fd(&w->ready[0]);
	close_fd(&w->ready[1]);
	close_fd(&w->go[0]);
	close_fd(&w->go[1]);
	return rc;
}

int
walkthrough(const char *keypath, int proj, mode_t perm, int step)
{
	struct walk w;
	size_t i;
	int status = 3;

	memset(&w, 0, sizeof(w));
	w.path = keypath;
	w.proj = proj;
	w.perm = perm;
	w.step = step;
	w.id = -1;
	w.ready[0] = w.ready[1] = w.go[0] = w.go[1] = -1;
	if (catch_signals(&w) == -1)
		return 3;
	say(&w, _("shmlab walkthrough of the slides' example (Memoria Compartida): "
	    "FILEKEY \"%s\", KEY %d, MAXBUF %d%s"), keypath, proj,
	    SLIDES_MAXBUF, step ? _("; --step: Enter after every call") : "");
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (steps[i](&w) == -1 || stop_sig || w.out_failed)
			break;
	if (i == sizeof(steps) / sizeof(steps[0]))
		status = 0;
	if (cleanup(&w) == -1)
		status = 3;
	if (stop_sig && w.removed)
		warnx(_("stopped by %s; segment %d removed"),
		    strsignal(stop_sig), w.id);
	else if (stop_sig)
		warnx(_("stopped by %s"), strsignal(stop_sig));
	restore_signals(&w);
	return status;
}
