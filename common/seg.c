/*
 * seg.c - the shared memory segment: layout, creation, attachment,
 * validation, removal.
 *
 * Nothing read from a segment is trusted before seg_validate() has
 * recomputed the layout from the header's parameters and compared it with
 * the segment's real size from shmctl(IPC_STAT): another user's or a
 * crashed run's segment under our key must give an error, never a crash.
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "i18n.h"
#include "shmlib.h"

static uint64_t	round8(uint64_t);
static int	fail(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static uint64_t
round8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

static int
fail(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	errno = EPROTO;
	return -1;
}

/*
 * Computes the offsets of a run's segment into a header; returns the size
 * through sizep.  The same function checks what an attached header claims.
 */
static void
layout(struct shm_header *h, uint32_t capacity, uint32_t max_consumers,
    uint32_t flags, uint32_t mode)
{
	uint64_t off;

	off = sizeof(struct shm_header);
	h->slots_off = off;
	off = round8(off + (uint64_t)capacity * sizeof(int32_t));
	h->tags_off = off;
	off += (uint64_t)capacity * sizeof(uint64_t);
	h->table_off = off;
	off += (uint64_t)max_consumers * sizeof(struct shm_consumer);
	/* Queue: done[capacity], the claims finished but not yet released. */
	if (mode == MODE_QUEUE)
		off = round8(off + (uint64_t)capacity * sizeof(uint32_t));
	if ((flags & SHM_F_VERIFY) && mode == MODE_QUEUE) {
		h->ledger_off = off;
		off += sizeof(struct shm_ledger);
	} else
		h->ledger_off = 0;
	h->size = off;
}

int
seg_layout(const struct shm_params *p, uint64_t *sizep)
{
	struct shm_header h;

	if (p->capacity < 1 || p->capacity > SHM_MAXBUF_MAX ||
	    p->count > (uint64_t)SHM_COUNT_MAX) {
		errno = EINVAL;
		return -1;
	}
	layout(&h, p->capacity, SHM_MAX_CONSUMERS, p->flags,
	    p->mode);
	*sizep = h.size;
	return 0;
}

/* Points the ring's members into an attached segment. */
int
seg_map(struct shm_ring *r, void *base)
{
	char *b = base;

	r->hdr = base;
	r->slots = (int32_t *)(void *)(b + r->hdr->slots_off);
	r->tags = (uint64_t *)(void *)(b + r->hdr->tags_off);
	r->table = (struct shm_consumer *)(void *)(b + r->hdr->table_off);
	r->done = r->hdr->mode == MODE_QUEUE ? (uint32_t *)(void *)(b +
	    r->hdr->table_off + (uint64_t)SHM_MAX_CONSUMERS *
	    sizeof(struct shm_consumer)) : NULL;
	r->ledger = r->hdr->ledger_off ?
	    (struct shm_ledger *)(void *)(b + r->hdr->ledger_off) : NULL;
	return 0;
}

/*
 * Creates the segment with IPC_CREAT | IPC_EXCL, attaches it and fills in
 * the header except hdr.ready, which the producer writes last.  On failure
 * nothing is left behind.
 */
int
seg_create(key_t key, const struct shm_params *p, struct shm_ring *r)
{
	struct shm_header *h;
	uint64_t size;
	void *base;
	int id, saved;

	if (seg_layout(p, &size) == -1)
		return -1;
	id = shmget(key, size, IPC_CREAT | IPC_EXCL | (int)(p->perm & 0777));
	if (id == -1)
		return -1;
	base = shmat(id, NULL, 0);
	if (base == (void *)-1) {
		saved = errno;
		(void)shmctl(id, IPC_RMID, NULL);
		errno = saved;
		return -1;
	}
	/* A new segment is zero-filled by the kernel: no memset needed. */
	h = base;
	layout(h, p->capacity, SHM_MAX_CONSUMERS, p->flags,
	    p->mode);
	h->version = SHM_VERSION;
	h->hdr_size = sizeof(*h);
	h->capacity = p->capacity;
	h->mode = p->mode;
	h->flags = p->flags;
	h->state = ST_INIT;
	h->max_consumers = SHM_MAX_CONSUMERS;
	h->expected = p->expected;
	h->batch = p->batch;
	h->producer_pid = (int32_t)getpid();
	h->jitter_us = p->jitter_us;
	h->timeout_s = p->timeout_s;
	h->delay_ms = p->delay_ms;
	h->count = p->count;
	h->seed = p->seed;
	h->semid = -1;
	/*
	 * The magic last: a consumer that attaches meanwhile sees a zero
	 * magic and waits (EAGAIN) instead of judging a half-written layout.
	 */
	SHM_STORE(&h->magic, SHM_MAGIC);
	r->shmid = id;
	r->semid = -1;
	r->key = key;
	return seg_map(r, base);
}

/*
 * Checks a header against the segment's real size.  Returns 0, or -1 with
 * errno EPROTO and a one-line reason in buf.  A header that is not yet
 * ready is reported with errno EAGAIN so that callers may wait for it.
 */
int
seg_validate(const struct shm_header *h, uint64_t real_size, char *buf,
    size_t len)
{
	struct shm_header want;

	if (real_size < sizeof(*h))
		return fail(buf, len, _("segment of %llu bytes is smaller than "
		    "a shmlab header (%zu bytes)"),
		    (unsigned long long)real_size, sizeof(*h));
	if (h->magic == 0 && h->ready == 0) {
		(void)snprintf(buf, len, _("segment not initialised yet"));
		errno = EAGAIN;
		return -1;
	}
	if (h->magic != SHM_MAGIC)
		return fail(buf, len, _("bad magic 0x%08x (want 0x%08x): not a "
		    "shmlab segment"), h->magic, SHM_MAGIC);
	if (h->version != SHM_VERSION)
		return fail(buf, len, _("layout version %u, this program speaks "
		    "%u: rebuild both programs from one tree"), h->version,
		    SHM_VERSION);
	if (h->hdr_size != sizeof(*h))
		return fail(buf, len, _("header size %u, want %zu"), h->hdr_size,
		    sizeof(*h));
	if (h->ready == 0) {
		/* The producer writes ready last: the rest may be half done. */
		(void)snprintf(buf, len, _("segment not initialised yet"));
		errno = EAGAIN;
		return -1;
	}
	if (h->capacity < 1 || h->capacity > SHM_MAXBUF_MAX)
		return fail(buf, len, _("capacity %u out of range 1..%u"),
		    h->capacity, SHM_MAXBUF_MAX);
	if (h->mode != MODE_QUEUE && h->mode != MODE_BROADCAST)
		return fail(buf, len, _("unknown mode %u"), h->mode);
	if (h->max_consumers != SHM_MAX_CONSUMERS)
		return fail(buf, len, _("consumer table of %u entries, want %u"),
		    h->max_consumers, SHM_MAX_CONSUMERS);
	if (h->expected > h->max_consumers ||
	    (h->mode == MODE_BROADCAST && h->expected == 0))
		return fail(buf, len, _("expected consumers %u out of range"),
		    h->expected);
	if (h->count > (uint64_t)SHM_COUNT_MAX)
		return fail(buf, len, _("count %llu out of range"),
		    (unsigned long long)h->count);
	if (h->head > SHM_STREAM_MAX(h->count) ||
	    h->total > SHM_STREAM_MAX(h->count))
		return fail(buf, len, _("counters beyond the item count "
		    "(head %llu, total %llu, count %llu)"),
		    (unsigned long long)h->head, (unsigned long long)h->total,
		    (unsigned long long)h->count);
	layout(&want, h->capacity, h->max_consumers, h->flags,
	    h->mode);
	if (want.slots_off != h->slots_off || want.tags_off != h->tags_off ||
	    want.table_off != h->table_off ||
	    want.ledger_off != h->ledger_off || want.size != h->size)
		return fail(buf, len, _("layout offsets do not match capacity "
		    "%u and count %llu"), h->capacity,
		    (unsigned long long)h->count);
	if (h->size > real_size)
		return fail(buf, len, _("header describes %llu bytes but the "
		    "segment has %llu"), (unsigned long long)h->size,
		    (unsigned long long)real_size);
	if (h->ready != SHM_READY) {
		(void)snprintf(buf, len, _("segment not initialised yet"));
		errno = EAGAIN;
		return -1;
	}
	return 0;
}

/*
 * Attaches the segment under key (shmflg SHM_RDONLY for observers) and
 * validates it.  errno ENOENT: no segment yet; EAGAIN: not ready yet;
 * EPROTO: not a valid shmlab segment (reason in buf).
 */
int
seg_attach_msg(key_t key, int shmflg, struct shm_ring *r, char *buf,
    size_t len)
{
	struct shmid_ds ds;
	void *base;
	int id, saved;

	buf[0] = '\0';
	id = shmget(key, 0, 0);
	if (id == -1)
		return -1;
	if (shmctl(id, IPC_STAT, &ds) == -1)
		return -1;
	base = shmat(id, NULL, shmflg);
	if (base == (void *)-1)
		return -1;
	if (seg_validate(base, ds.shm_segsz, buf, len) == -1) {
		saved = errno;
		(void)shmdt(base);
		errno = saved;
		return -1;
	}
	r->shmid = id;
	r->key = key;
	r->semid = ((struct shm_header *)base)->semid;
	return seg_map(r, base);
}

int
seg_attach(key_t key, int shmflg, struct shm_ring *r)
{
	char buf[256];

	return seg_attach_msg(key, shmflg, r, buf, sizeof(buf));
}

int
seg_detach(struct shm_ring *r)
{
	if (r->hdr == NULL)
		return 0;
	if (shmdt(r->hdr) == -1)
		return -1;
	r->hdr = NULL;
	return 0;
}

int
seg_nattch(int shmid, unsigned long *n)
{
	struct shmid_ds ds;

	if (shmctl(shmid, IPC_STAT, &ds) == -1)
		return -1;
	*n = (unsigned long)ds.shm_nattch;
	return 0;
}

/*
 * Has somebody else removed our segment (ipcrm -m, systemd's RemoveIPC)?
 * IPC_RMID on an attached segment only marks it SHM_DEST: we could go on
 * working, but nobody could attach any more, so the run is broken.
 */
int
seg_removed(int shmid)
{
	struct shmid_ds ds;

	if (shmctl(shmid, IPC_STAT, &ds) == -1)
		return errno == EINVAL || errno == EIDRM ? 1 : -1;
	return (ds.shm_perm.mode & SHM_DEST) != 0;
}

/* "uid 1000 (alice)": who a uid is, for messages. */
const char *
uid_name(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	if (pw != NULL)
		(void)snprintf(buf, len, "uid %lu (%s)", (unsigned long)uid,
		    pw->pw_name);
	else
		(void)snprintf(buf, len, "uid %lu", (unsigned long)uid);
	return buf;
}

/*
 * Only your own objects: a run's segment and semaphore set must be owned
 * and created by the owner of the key file they were found under (owner),
 * and the set must carry the same key as the segment.  A key file anyone
 * can stat (/tmp/shmlab-UID.key) lets another user create objects under
 * our key; those are somebody else's run, never joined.  When owner is
 * another user, the run was shared on purpose (--perm): the caller may
 * join, and says whose run it is.  Returns 0, or -1 with errno EPERM and
 * the reason in buf.
 */
int
seg_check_owner(int shmid, int semid, key_t key, uid_t owner, char *buf,
    size_t len)
{
	union semun arg;
	struct shmid_ds ds;
	struct semid_ds sds;
	char who[64], want[64];

	buf[0] = '\0';
	if (shmctl(shmid, IPC_STAT, &ds) == -1)
		return -1;
	if (ds.shm_perm.uid != owner || ds.shm_perm.cuid != owner) {
		(void)snprintf(buf, len, _("shm id %d was created by %s, not by "
		    "%s, who owns the key file: somebody else's run on this "
		    "key, not joined"), shmid,
		    uid_name(ds.shm_perm.cuid, who, sizeof(who)),
		    uid_name(owner, want, sizeof(want)));
		errno = EPERM;
		return -1;
	}
	arg.buf = &sds;
	if (semctl(semid, 0, IPC_STAT, arg) == -1)
		return -1;
	if (sds.sem_perm.uid != owner || sds.sem_perm.cuid != owner ||
	    sds.sem_perm.__key != key) {
		(void)snprintf(buf, len, _("the segment names sem id %d, which "
		    "belongs to %s under key 0x%08lx: not this run's set"),
		    semid, uid_name(sds.sem_perm.cuid, who, sizeof(who)),
		    (unsigned long)(uint32_t)sds.sem_perm.__key);
		errno = EPERM;
		return -1;
	}
	return 0;
}
