/*
 * tests.c - the grader's tests, in the order, and the one place
 * that decides what a failure's cause is (g_judge).
 *
 * Every case runs under a fresh key with the wall-clock bound -t.  The
 * grader stays attached to the segment until the consumers are in
 * (HOLD_ATTACHED): a producer that never blocks could otherwise remove
 * everything before a late consumer attached (slides-protocol-notes.md).
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grader.h"
#include "i18n.h"
#include "semun.h"
#include "slides.h"

#define CPU_MAX_S	0.25	/* CPU seconds a wait of 1 s may use */
#define RUN_MAX_S	0.5	/* seconds of it a waiter may be runnable */
#define WINDOW_MS	1000	/* how long a wait's CPU time is watched */
#define SETTLE_MS	300	/* from a full/empty ring to asleep, at most */

typedef int (*g_test_fn)(struct grader *, struct g_result *);

/* "the consumer", "consumer 3 of 8", with "(reference)" when not graded. */
static void
g_role(const struct g_case *c, const struct g_proc *p, int loc, char *buf,
    size_t len)
{
	int i, n = 0;

	for (i = 0; i < c->nproc; i++)
		n += c->proc[i].side == p->side;
	if (n > 1)
		(void)snprintf(buf, len, p->side == G_PRODUCER ?
		    g_tr(loc, N_("producer %d of %d")) :
		    g_tr(loc, N_("consumer %d of %d")), p->index, n);
	else
		(void)snprintf(buf, len, "%s", p->side == G_PRODUCER ?
		    g_tr(loc, N_("the producer")) :
		    g_tr(loc, N_("the consumer")));
	if (!c->g->cmd[p->side].student)
		(void)strlcat(buf, g_tr(loc, N_(" (shmlab's reference)")), len);
}

/* Where a result's message goes: English (0) or translated (1). */
static char *
g_text(struct g_result *r, int loc)
{
	return loc ? r->local : r->message;
}

/* The first line of a process's stderr, for a failure's message. */
static void
g_err_line(const struct g_proc *p, char *buf, size_t len)
{
	FILE *fp = fopen(p->err, "r");
	char *nl;

	buf[0] = '\0';
	if (fp == NULL)
		return;
	if (fgets(buf, (int)len, fp) == NULL)
		buf[0] = '\0';
	(void)fclose(fp);
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
}

static int
g_err_has(const struct g_proc *p, const char *what)
{
	char buf[4096];
	FILE *fp = fopen(p->err, "r");
	size_t n;

	if (fp == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	(void)fclose(fp);
	buf[n] = '\0';
	return strstr(buf, what) != NULL;
}

static void
g_quote(char *buf, size_t len, const int *v, long n)
{
	char w[16];
	long i;

	(void)strlcat(buf, " (first:", len);
	for (i = 0; i < n && i < G_FIRST; i++) {
		(void)snprintf(w, sizeof(w), " %d", v[i]);
		(void)strlcat(buf, w, len);
	}
	(void)strlcat(buf, n > G_FIRST ? " ...)" : ")", len);
}

/* Reads one consumer's stdout into the counts. */
static int
g_read_out(const struct g_proc *p, unsigned char *seen, int count,
    long *bad, long *marker, char *first_bad, size_t fblen)
{
	char line[256], *end;
	FILE *fp = fopen(p->out, "r");
	long v;

	if (fp == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL) {
		errno = 0;
		v = strtol(line, &end, 10);
		if (end == line || (*end != '\n' && *end != '\0') || errno) {
			if ((*bad)++ == 0) {
				line[strcspn(line, "\n")] = '\0';
				(void)snprintf(first_bad, fblen, "%.40s", line);
			}
		} else if (v == SL_END)
			(*marker)++;
		else if (v < 0 || v >= count) {
			if ((*bad)++ == 0)
				(void)snprintf(first_bad, fblen, "%ld", v);
		} else if (seen[v] < 255)
			seen[v]++;
	}
	(void)fclose(fp);
	return 0;
}

/* The union of the consumers' outputs must be 0..COUNT-1 exactly once. */
static int
g_ledger(const struct g_case *c, int loc, char *msg, size_t len)
{
	unsigned char *seen = calloc((size_t)c->count + 1, 1);
	int lost_v[G_FIRST], dup_v[G_FIRST], i;
	long lost = 0, dup = 0, bad = 0, marker = 0;
	char first_bad[64] = "";

	if (seen == NULL)
		return -1;
	for (i = 0; i < c->nproc; i++)
		if (c->proc[i].side == G_CONSUMER)
			(void)g_read_out(&c->proc[i], seen, c->count, &bad,
			    &marker, first_bad, sizeof(first_bad));
	for (i = 0; i < c->count; i++) {
		if (seen[i] == 0 && lost++ < G_FIRST)
			lost_v[lost - 1] = i;
		if (seen[i] > 1 && dup++ < G_FIRST)
			dup_v[dup - 1] = i;
	}
	free(seen);
	msg[0] = '\0';
	if (marker > 0)
		(void)snprintf(msg, len, marker == 1 ?
		    g_tr(loc, N_("printed the end marker -1 %ld time as an "
		    "item; ")) : g_tr(loc, N_("printed the end marker -1 %ld "
		    "times as an item; ")), marker);
	if (bad > 0) {
		char w[128];

		(void)snprintf(w, sizeof(w), bad == 1 ? g_tr(loc, N_("%ld "
		    "line not a value 0..%d (first: '%s'); ")) : g_tr(loc,
		    N_("%ld lines not a value 0..%d (first: '%s'); ")), bad,
		    c->count - 1, first_bad);
		(void)strlcat(msg, w, len);
	}
	if (lost > 0) {
		char w[64];

		(void)snprintf(w, sizeof(w), g_tr(loc, N_("lost %ld of %d "
		    "items")), lost, c->count);
		(void)strlcat(msg, w, len);
		g_quote(msg, len, lost_v, lost);
		(void)strlcat(msg, "; ", len);
	}
	if (dup > 0) {
		char w[64];

		(void)snprintf(w, sizeof(w), dup == 1 ? g_tr(loc, N_("%ld "
		    "item read more than once")) : g_tr(loc, N_("%ld items "
		    "read more than once")), dup);
		(void)strlcat(msg, w, len);
		g_quote(msg, len, dup_v, dup);
		(void)strlcat(msg, "; ", len);
	}
	if (msg[0] == '\0')
		return 0;
	msg[strlen(msg) - 2] = '\0';
	return 1;
}

/*
 * The cause of a failed case, most telling first: a crash, a producer
 * that skipped P(empty) (its consumers then hang or lose items), a hang
 * (and on what), an exit status, then the items.  0: nothing wrong.
 */
static int
g_judge(const struct g_case *c, enum g_side tested, int loc, char *msg,
    size_t len)
{
	const struct g_proc *p;
	char role[64], line[200], items[G_MSG];
	int i, pass, sig, r;

	for (i = 0; i < c->nproc; i++) {
		p = &c->proc[i];
		if (!p->done || p->diag[0] != '\0' || !WIFSIGNALED(p->status))
			continue;
		sig = WTERMSIG(p->status);
		g_role(c, p, loc, role, sizeof(role));
		(void)snprintf(msg, len, g_tr(loc, N_("%s crashed with %s%s")),
		    role, g_signame(sig), sig == SIGXCPU ?
		    g_tr(loc, N_(" (its CPU limit)")) : "");
		return 1;
	}
	if (c->full_max > c->maxbuf + 1 || c->empty_max > c->maxbuf) {
		(void)snprintf(msg, len, g_tr(loc, N_("full reached %d and "
		    "empty %d with MAXBUF %d: the producer posts items without "
		    "waiting on empty, so unread items are overwritten")),
		    c->full_max,
		    c->empty_max, c->maxbuf);
		for (i = 0; i < c->nproc; i++)
			if (c->proc[i].side == G_PRODUCER &&
			    g_err_has(&c->proc[i], "out of range"))
				(void)strlcat(msg, g_tr(loc, N_("; its semop "
				    "failed with ERANGE (full passed SEMVMX, "
				    "32767)")), len);
		return 1;
	}
	/*
	 * A hang: the tested side first, and among its processes one
	 * blocked in semop, which says most.  The items are not counted:
	 * a killed program's buffered stdout is lost, so they would lie.
	 */
	for (pass = 0; pass < 3 && c->timed_out; pass++)
		for (i = 0; i < c->nproc; i++) {
			p = &c->proc[i];
			if (p->diag[0] == '\0' ||
			    (pass < 2 && p->side != tested) ||
			    (pass == 0 && strstr(p->diag, "semop") == NULL))
				continue;
			g_role(c, p, loc, role, sizeof(role));
			(void)snprintf(msg, len, g_tr(loc, N_("timed out after "
			    "%d s: %s was %s")), c->g->timeout_s, role,
			    loc ? p->diag_l : p->diag);
			return 1;
		}
	for (i = 0; i < c->nproc; i++) {
		p = &c->proc[i];
		if (!WIFEXITED(p->status) || WEXITSTATUS(p->status) == 0)
			continue;
		g_role(c, p, loc, role, sizeof(role));
		g_err_line(p, line, sizeof(line));
		(void)snprintf(msg, len, g_tr(loc, N_("%s exited with status "
		    "%d%s%s")), role, WEXITSTATUS(p->status),
		    line[0] ? ": " : "", line);
		if ((r = g_ledger(c, loc, items, sizeof(items))) == 1) {
			(void)strlcat(msg, "; ", len);
			(void)strlcat(msg, items, len);
		}
		return 1;
	}
	return g_ledger(c, loc, msg, len) != 0;
}

/* g_judge into both of r's messages; 0: nothing wrong. */
static int
g_judge_r(const struct g_case *c, enum g_side tested, struct g_result *r)
{
	return g_judge(c, tested, 0, r->message, G_MSG) |
	    g_judge(c, tested, 1, r->local, G_MSG);
}

/*
 * A test hook: SHMLAB_GRADE_STAGGER_MS=N waits N ms before each consumer
 * after the first, as a loaded machine may; what the grader says must
 * not depend on that.
 */
static int
g_stagger_ms(void)
{
	const char *s = getenv("SHMLAB_GRADE_STAGGER_MS");

	return s == NULL ? 0 : (int)strtonum(s, 0, 10000, NULL);
}

/* Producer first, then n consumers, all within the bound. */
static struct g_case *
g_plain(struct grader *g, int count, int maxbuf, int n, enum g_hold hold)
{
	struct g_case *c;
	uint64_t deadline;
	int i, stagger = g_stagger_ms();

	if ((c = g_case_begin(g, count, maxbuf, hold)) == NULL)
		return NULL;
	c->expect = n;
	deadline = g_now_ms() + (uint64_t)g->timeout_s * 1000;
	if (g_start(c, G_PRODUCER, 0, 0) == NULL)
		return NULL;
	g_hold_first(c, deadline);
	for (i = 1; i <= n; i++) {
		if (i > 1 && stagger > 0)
			g_sleep_ms(stagger);
		if (g_start(c, G_CONSUMER, i, 0) == NULL)
			return NULL;
	}
	(void)g_wait(c, -1, deadline);
	return c;
}

/* One plain case judged for side; msg prefixed when given. */
static int
g_plain_test(struct grader *g, struct g_result *r, int count, int maxbuf,
    int n, enum g_hold hold, const char *prefix)
{
	struct g_case *c;
	char msg[G_MSG];
	int l, gone;

	if ((c = g_plain(g, count, maxbuf, n, hold)) == NULL)
		return -1;
	r->passed = !g_judge(c, r->side, 0, msg, sizeof(msg));
	gone = r->passed && hold == HOLD_TO_END && !c->marker_left;
	for (l = 0; l < 2 && (!r->passed || gone); l++) {
		if (gone)
			(void)snprintf(msg, sizeof(msg), "%s", g_tr(l,
			    N_("after every consumer exited, the end marker "
			    "was gone (buffer[out] is not -1, or full is 0): a "
			    "consumer that reads -1 must V(mutex) V(full) and "
			    "leave out alone")));
		else
			(void)g_judge(c, r->side, l, msg, sizeof(msg));
		(void)snprintf(g_text(r, l), G_MSG, "%s%s",
		    prefix[0] ? g_tr(l, prefix) : "", msg);
	}
	r->passed = r->passed && !gone;
	g_case_end(c);
	return 0;
}

static int
t_exactly_once(struct grader *g, struct g_result *r)
{
	return g_plain_test(g, r, 10000, 10, 1, HOLD_ATTACHED, "");
}

/*
 * Consumers without the mutex collide only when two of them run at once
 * between P(full) and out's update: MAXBUF 1 cannot show it, and on a
 * busy machine one run of MAXBUF 10 may not either, so that case runs
 * up to three times (a correct program pays about a second for it).
 */
static int
t_many_consumers(struct grader *g, struct g_result *r)
{
	int k;

	if (g_plain_test(g, r, 10000, 1, 8, HOLD_ATTACHED,
	    N_("8 consumers, MAXBUF 1: ")) == -1)
		return -1;
	for (k = 0; k < 3 && r->passed; k++)
		if (g_plain_test(g, r, 10000, 10, 8, HOLD_ATTACHED,
		    N_("8 consumers, MAXBUF 10: ")) == -1)
			return -1;
	return 0;
}

static int
t_end_marker(struct grader *g, struct g_result *r)
{
	return g_plain_test(g, r, 100, 10, 3, HOLD_TO_END, N_("3 consumers: "));
}

/*
 * With COUNT 0 the producer never blocks: it may create, write the
 * marker and remove everything in microseconds, before anyone attached.
 * The consumers start first and the grader grabs the segment the moment
 * it appears.  A miss is the grader's, not the student's: it tries three
 * times, and if the run always ended first it judges what is left to
 * see -- the producer exits 0 in time and leaves nothing under the key.
 */
static int
t_count_zero(struct grader *g, struct g_result *r)
{
	struct shmid_ds ds;
	struct g_case *c;
	uint64_t deadline = 0;
	int attempt, i, seen = 0;

	for (attempt = 0; attempt < 3 && !seen; attempt++) {
		if ((c = g_case_begin(g, 0, 10, HOLD_ATTACHED)) == NULL)
			return -1;
		c->expect = 2;
		deadline = g_now_ms() + (uint64_t)g->timeout_s * 1000;
		for (i = 1; i <= 2; i++)
			if (g_start(c, G_CONSUMER, i, 0) == NULL)
				return -1;
		if (g_start(c, G_PRODUCER, 0, 0) == NULL)
			return -1;
		g_grab(c, g_now_ms() + 2000);
		seen = c->held != NULL || c->released;
		/*
		 * Caught as it was being removed: the producer may have seen
		 * itself alone just before we attached.  A moment later the
		 * segment is still under the key, or that was a miss too.
		 */
		if (c->held != NULL) {
			g_sleep_ms(50);
			if (shmget(c->key, 0, 0) != c->held_id ||
			    shmctl(c->held_id, IPC_STAT, &ds) == -1 ||
			    (ds.shm_perm.mode & SHM_DEST))
				seen = 0;
		}
	}
	(void)g_wait(c, seen ? -1 : G_PRODUCER, deadline);
	if (seen)
		r->passed = !g_judge_r(c, r->side, r);
	else {
		/*
		 * Only the producer: its consumers never had a run to see.
		 * They are ended and their outcome set aside (status 0, no
		 * diagnosis), so that g_judge weighs the producer alone.
		 */
		(void)g_group_signal(c, G_CONSUMER, SIGKILL);
		(void)g_wait(c, G_CONSUMER, g_now_ms() + 2000);
		for (i = 0; i < c->nproc; i++)
			if (c->proc[i].side == G_CONSUMER) {
				c->proc[i].status = 0;
				c->proc[i].diag[0] = '\0';
				c->proc[i].diag_l[0] = '\0';
			}
		c->timed_out = c->proc[c->nproc - 1].diag[0] != '\0';
		r->passed = !g_judge_r(c, G_PRODUCER, r);
	}
	g_case_end(c);
	if (r->passed && !seen && c->left[0] != '\0') {
		for (i = 0; i < 2; i++)
			(void)snprintf(g_text(r, i), G_MSG, g_tr(i, N_("the "
			    "producer exited but left %s behind")), c->left);
		r->passed = 0;
	}
	for (i = 0; i < 2 && !r->passed; i++) {
		char m[G_MSG];

		(void)strlcpy(m, g_text(r, i), sizeof(m));
		(void)snprintf(g_text(r, i), G_MSG, "%s%s",
		    g_tr(i, N_("COUNT 0: ")), m);
	}
	return 0;
}

/* The consumer starts first and must wait for the segment to appear. */
static int
t_waits_for_producer(struct grader *g, struct g_result *r)
{
	struct g_case *c;
	uint64_t deadline;
	struct g_proc *p;
	char line[200];
	int l;

	if ((c = g_case_begin(g, 1000, 10, HOLD_ATTACHED)) == NULL)
		return -1;
	c->expect = 1;
	deadline = g_now_ms() + (uint64_t)g->timeout_s * 1000;
	if ((p = g_start(c, G_CONSUMER, 1, 0)) == NULL)
		return -1;
	(void)g_wait(c, G_CONSUMER, g_now_ms() + 500);
	c->timed_out = 0;
	p->diag[0] = '\0';
	p->diag_l[0] = '\0';
	if (p->done) {
		g_err_line(p, line, sizeof(line));
		for (l = 0; l < 2; l++)
			(void)snprintf(g_text(r, l), G_MSG,
			    WIFSIGNALED(p->status) ? g_tr(l, N_("started 0.5 s "
			    "before the producer, the consumer gave up at once "
			    "(signal %d)%s%s: it must retry shmget for a "
			    "while")) : g_tr(l, N_("started 0.5 s before the "
			    "producer, the consumer gave up at once (status "
			    "%d)%s%s: it must retry shmget for a while")),
			    WIFSIGNALED(p->status) ? WTERMSIG(p->status) :
			    WEXITSTATUS(p->status), line[0] ? ": " : "", line);
		g_case_end(c);
		return 0;
	}
	if (g_start(c, G_PRODUCER, 0, 0) == NULL)
		return -1;
	(void)g_wait(c, -1, deadline);
	r->passed = !g_judge_r(c, r->side, r);
	g_case_end(c);
	return 0;
}

/* What one side did in a window while it must be waiting. */
struct g_window {
	double	 cpu;		/* CPU seconds used */
	double	 runnable;	/* seconds on a CPU or ready for one; -1: unknown */
};

/*
 * The window, while one side must be waiting.  The other side is not
 * running then (stopped, or not started): never while it holds the
 * mutex, or a spinning peer would sleep on P(mutex) and look innocent
 * (slides-protocol-notes.md).
 */
static void
g_window(struct g_case *c, enum g_side side, struct g_window *w)
{
	double run0, run1, before = g_group_cpu(c, side, &run0);
	uint64_t end = g_now_ms() + WINDOW_MS;

	while (g_now_ms() < end) {
		g_tick(c);
		g_sleep_ms(5);
	}
	w->cpu = g_group_cpu(c, side, &run1) - before;
	w->runnable = run0 < 0 || run1 < 0 ? -1 : run1 - run0;
}

/*
 * Did it wait busily?  A spinning waiter is runnable all the time, but
 * its CPU share depends on how many others want the CPU: on a loaded
 * machine a spinner got under CPU_MAX_S and passed.  So the time it was
 * runnable decides (a waiter asleep in semop is not runnable at all);
 * the CPU time only where the kernel does not count runnable time.  The
 * window starts once the waiter blocked, or a spinner had its chance to
 * (g_until_blocked), so a correct program started late by a loaded
 * machine is not caught still starting.
 */
static int
g_busy(const struct g_window *w)
{
	return w->runnable >= 0 ? w->runnable > RUN_MAX_S : w->cpu > CPU_MAX_S;
}

/*
 * Until one of side's processes waits on sem (GETNCNT), bounded: a
 * waiter that spins never does, so SETTLE_MS after sem reached 0 (the
 * ring is full, or empty: a correct waiter blocks at once) we stop
 * waiting for it.  Also ends when every process of side has exited.
 */
static void
g_until_blocked(struct g_case *c, enum g_side side, int sem,
    uint64_t deadline)
{
	uint64_t zero = 0, now;
	int i, id, live;

	while ((now = g_now_ms()) < deadline && g_waiting_on(c, sem) < 1) {
		for (i = live = 0; i < c->nproc; i++)
			live += c->proc[i].side == side && !c->proc[i].done;
		if (live == 0)
			return;
		if (zero == 0 && (id = semget(c->key, 0, 0)) != -1 &&
		    semctl(id, sem, GETVAL) == 0)
			zero = now;
		if (zero != 0 && now - zero >= SETTLE_MS)
			return;
		g_tick(c);
		g_sleep_ms(5);
	}
}

/*
 * How long to wait for a program to block before a window: half the
 * case's bound.  A correct program returns at once when it blocks, and
 * a spinner SETTLE_MS after the ring is full or empty, so only a
 * program that does neither waits this long; a loaded machine may take
 * seconds to start a correct one.
 */
static uint64_t
g_half(const struct grader *g)
{
	return (uint64_t)g->timeout_s * 500;
}

/* The message of a busy wait, in English (loc 0) or translated. */
static void
g_busy_say(const struct g_window *w, enum g_side side, int loc, char *msg,
    size_t len)
{
	if (w->runnable < 0)
		(void)snprintf(msg, len, side == G_CONSUMER ? g_tr(loc,
		    N_("busy waiting: the consumer used %.2f CPU seconds in "
		    "%.1f s while the buffer was empty (P(full) should sleep in "
		    "semop)")) : g_tr(loc, N_("busy waiting: the producer used "
		    "%.2f CPU seconds in %.1f s while the buffer was full "
		    "(P(empty) should sleep in semop)")), w->cpu,
		    WINDOW_MS / 1000.0);
	else
		(void)snprintf(msg, len, side == G_CONSUMER ? g_tr(loc,
		    N_("busy waiting: the consumer used %.2f CPU seconds in "
		    "%.1f s, and was running or ready to run for %.2f s of it, "
		    "while the buffer was empty (P(full) should sleep in "
		    "semop)")) : g_tr(loc, N_("busy waiting: the producer used "
		    "%.2f CPU seconds in %.1f s, and was running or ready to run "
		    "for %.2f s of it, while the buffer was full (P(empty) "
		    "should sleep in semop)")), w->cpu, WINDOW_MS / 1000.0,
		    w->runnable);
}

static int
t_blocks_when_empty(struct grader *g, struct g_result *r)
{
	struct g_case *c;
	struct g_window w;
	uint64_t deadline;
	int l;

	if ((c = g_case_begin(g, 100, 10, HOLD_ATTACHED)) == NULL)
		return -1;
	c->expect = 1;
	deadline = g_now_ms() + (uint64_t)g->timeout_s * 1000;
	if (g_start(c, G_PRODUCER, 0, 0) == NULL)
		return -1;
	/* A full ring, its producer stopped in P(empty), outside the mutex. */
	g_until_blocked(c, G_PRODUCER, SL_EMPTY, g_now_ms() + g_half(g));
	(void)g_group_signal(c, G_PRODUCER, SIGSTOP);
	if (g_start(c, G_CONSUMER, 1, 0) == NULL)
		return -1;
	/* It empties the ring, then must sleep. */
	g_until_blocked(c, G_CONSUMER, SL_FULL, g_now_ms() + g_half(g));
	g_window(c, G_CONSUMER, &w);
	(void)g_group_signal(c, G_PRODUCER, SIGCONT);
	(void)g_wait(c, -1, deadline);
	r->passed = !g_judge_r(c, r->side, r);
	if (r->passed && g_busy(&w)) {
		for (l = 0; l < 2; l++)
			g_busy_say(&w, G_CONSUMER, l, g_text(r, l), G_MSG);
		r->passed = 0;
	}
	g_case_end(c);
	return 0;
}

static int
t_blocks_when_full(struct grader *g, struct g_result *r)
{
	struct g_case *c;
	struct g_window w;
	uint64_t deadline;
	int i, l;

	/* More than SEMVMX items: a producer that skips P(empty) hits ERANGE. */
	if ((c = g_case_begin(g, 40000, 10, HOLD_ATTACHED)) == NULL)
		return -1;
	c->expect = 2;
	deadline = g_now_ms() + (uint64_t)g->timeout_s * 1000;
	if (g_start(c, G_PRODUCER, 0, 0) == NULL)
		return -1;
	/* The slowest consumers: none yet, so none can hold the mutex. */
	g_until_blocked(c, G_PRODUCER, SL_EMPTY, g_now_ms() + g_half(g));
	g_window(c, G_PRODUCER, &w);
	for (i = 1; i <= 2; i++)
		if (g_start(c, G_CONSUMER, i, 0) == NULL)
			return -1;
	(void)g_wait(c, -1, deadline);
	r->passed = !g_judge_r(c, r->side, r);
	if (r->passed && g_busy(&w)) {
		for (l = 0; l < 2; l++)
			g_busy_say(&w, G_PRODUCER, l, g_text(r, l), G_MSG);
		r->passed = 0;
	}
	g_case_end(c);
	return 0;
}

static int
t_cleanup(struct grader *g, struct g_result *r)
{
	struct g_case *c;
	uint64_t until;
	int l;

	if ((c = g_plain(g, 100, 10, 2, HOLD_ATTACHED)) == NULL)
		return -1;
	r->passed = !g_judge_r(c, r->side, r);
	/* Everyone has exited: the objects must go within a moment. */
	until = g_now_ms() + 500;
	while (r->passed && g_now_ms() < until &&
	    (shmget(c->key, 0, 0) != -1 || semget(c->key, 0, 0) != -1))
		g_sleep_ms(10);
	g_case_end(c);
	if (r->passed && c->left[0] != '\0') {
		for (l = 0; l < 2; l++)
			(void)snprintf(g_text(r, l), G_MSG, g_tr(l, N_("the "
			    "producer exited but left %s behind once the "
			    "consumers had detached (the grader removed them): "
			    "shmdt, then shmctl(IPC_RMID) and "
			    "semctl(IPC_RMID)")), c->left);
		r->passed = 0;
	}
	return 0;
}

/* What a producer did with a foreign object under the key. */
enum g_foul { F_NONE, F_WROTE, F_REMOVED, F_SEM, F_HUNG, F_CRASHED, F_EXIT0,
	F_LEFT };

/* Foul f in words, in English (loc 0) or translated (loc 1). */
static void
g_foul_say(const struct g_case *c, const struct g_proc *p, enum g_foul f,
    size_t size, int loc, char *msg, size_t len)
{
	char role[64];

	g_role(c, p, loc, role, sizeof(role));
	if (f == F_WROTE)
		(void)snprintf(msg, len, g_tr(loc, N_("with a foreign "
		    "%zu-byte segment under the key, %s wrote into it: create "
		    "with IPC_CREAT | IPC_EXCL")), size, role);
	else if (f == F_REMOVED)
		(void)snprintf(msg, len, g_tr(loc, N_("with a foreign segment "
		    "under the key, %s removed it: it was not its own")), role);
	else if (f == F_SEM)
		(void)snprintf(msg, len, g_tr(loc, N_("with a foreign "
		    "semaphore set under the key, %s changed or removed it")),
		    role);
	else if (f == F_HUNG)
		(void)snprintf(msg, len, g_tr(loc, N_("with the key taken, %s "
		    "did not exit within %d s: it was %s")), role,
		    c->g->timeout_s, loc ? p->diag_l : p->diag);
	else if (f == F_CRASHED)
		(void)snprintf(msg, len, g_tr(loc, N_("with the key taken, %s "
		    "crashed with %s: shmat returns (void *) -1 on failure, "
		    "never NULL")), role, g_signame(WTERMSIG(p->status)));
	else if (f == F_EXIT0)
		(void)snprintf(msg, len, g_tr(loc, N_("with the key taken, %s "
		    "exited 0: it must refuse (IPC_CREAT | IPC_EXCL gives "
		    "EEXIST) and exit non-zero")), role);
	else if (f == F_LEFT)
		(void)snprintf(msg, len, g_tr(loc, N_("with the key taken, %s "
		    "refused but left the object it had created behind")),
		    role);
}

/* A foreign object under the key; 0 if the producer left it untouched. */
static int
g_foreign(struct g_case *c, int kind, struct g_result *r)
{
	static const size_t sizes[2] = { 16, 65536 };
	unsigned short vals[1] = { 7 }, now[1];
	union semun arg;
	struct g_proc *p;
	enum g_foul f = F_NONE;
	unsigned char *seg = NULL;
	int id, ok = 1;
	size_t i;

	if (kind < 2) {
		id = shmget(c->key, sizes[kind], IPC_CREAT | IPC_EXCL | 0600);
		if (id == -1 || (seg = shmat(id, NULL, 0)) == (void *)-1)
			return -1;
		for (i = 0; i < sizes[kind]; i++)
			seg[i] = (unsigned char)(0xa5 ^ i);
	} else {
		arg.array = vals;
		if ((id = semget(c->key, 1, IPC_CREAT | IPC_EXCL | 0600)) == -1 ||
		    semctl(id, 0, SETALL, arg) == -1)
			return -1;
	}
	if ((p = g_start(c, G_PRODUCER, 0, 0)) == NULL)
		return -1;
	(void)g_wait(c, -1, g_now_ms() + (uint64_t)c->g->timeout_s * 1000);
	if (kind < 2) {
		for (i = 0; i < sizes[kind] && ok; i++)
			ok = seg[i] == (unsigned char)(0xa5 ^ i);
		(void)shmdt(seg);
		if (!ok)
			f = F_WROTE;
		else if (shmget(c->key, 0, 0) != id)
			f = F_REMOVED;
	} else {
		arg.array = now;
		if (semget(c->key, 0, 0) != id ||
		    semctl(id, 0, GETALL, arg) == -1 || now[0] != vals[0])
			f = F_SEM;
	}
	/* Touching what was not its own says most; then how it refused. */
	if (f == F_NONE && p->diag[0] != '\0')
		f = F_HUNG;
	else if (f == F_NONE && WIFSIGNALED(p->status))
		f = F_CRASHED;
	else if (f == F_NONE && WEXITSTATUS(p->status) == 0)
		f = F_EXIT0;
	else if (f == F_NONE && ((kind < 2 && semget(c->key, 0, 0) != -1) ||
	    (kind == 2 && shmget(c->key, 0, 0) != -1)))
		f = F_LEFT;
	for (i = 0; i < 2 && f != F_NONE; i++)
		g_foul_say(c, p, f, sizes[kind < 2 ? kind : 0], (int)i,
		    g_text(r, (int)i), G_MSG);
	return f != F_NONE;
}

static int
t_key_taken(struct grader *g, struct g_result *r)
{
	struct g_case *c;
	int kind, bad;

	for (kind = 0; kind < 3; kind++) {
		if ((c = g_case_begin(g, 5, 10, HOLD_NONE)) == NULL)
			return -1;
		bad = g_foreign(c, kind, r);
		g_case_end(c);
		if (bad == -1)
			return -1;
		if (bad) {
			r->passed = 0;
			return 0;
		}
	}
	r->passed = 1;
	return 0;
}

struct g_test {
	const char	*name;
	g_test_fn	 fn;
};

static const struct g_test consumer_tests[] = {
	{ "exactly_once",	t_exactly_once },
	{ "many_consumers",	t_many_consumers },
	{ "waits_for_producer",	t_waits_for_producer },
	{ "blocks_when_empty",	t_blocks_when_empty },
	{ "end_marker",		t_end_marker },
};

static const struct g_test producer_tests[] = {
	{ "exactly_once",	t_exactly_once },
	{ "blocks_when_full",	t_blocks_when_full },
	{ "end_marker",		t_end_marker },
	{ "cleanup",		t_cleanup },
	{ "key_taken",		t_key_taken },
	{ "count_zero",		t_count_zero },
};

/* Runs one side's tests into res; their number, or -1 (harness). */
int
g_run_tests(struct grader *g, enum g_side side, struct g_result *res, int max)
{
	const struct g_test *t = side == G_CONSUMER ? consumer_tests :
	    producer_tests;
	int n = side == G_CONSUMER ? 5 : 6, i;

	for (i = 0; i < n && i < max; i++) {
		memset(&res[i], 0, sizeof(res[i]));
		res[i].name = t[i].name;
		res[i].side = side;
		if (t[i].fn(g, &res[i]) == -1 || *g->stop)
			return -1;
	}
	return i;
}
