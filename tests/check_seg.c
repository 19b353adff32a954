/*
 * check_seg.c - the segment (common/seg.c) and the semaphore set
 * (common/sem.c).
 *
 * Every test gets a private key from the fixture; whatever it creates
 * under that key is removed by tu_teardown(), or by the guardian when the
 * test fails or times out.  Header validation runs on headers fabricated
 * in plain memory, from the layout that shmlab.h documents.
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmlib.h"
#include "testutil.h"

static struct tu_key key;
static struct shm_ring ring_a, ring_b;
static volatile sig_atomic_t got_signal;

static void	 seg_setup(void);
static void	 seg_teardown(void);
static uint64_t	 r8(uint64_t);
static void	 fabricate(struct shm_header *, uint32_t, uint32_t, uint32_t,
		    uint64_t, uint32_t);
static struct shm_params params(uint32_t, enum shm_mode, uint32_t,
		    uint64_t, uint32_t);
static void	 on_usr1(int);
static void	*raw_segment(size_t, int *);
static void	 expect_refused(int, const char *);
static Suite	*seg_suite(void);

_Static_assert(sizeof(struct shm_header) == 256, "header is 256 bytes");

static void
seg_setup(void)
{
	tu_setup();
	ck_assert_msg(tu_key_new(&key) == 0, "tu_key_new: %s",
	    strerror(errno));
	memset(&ring_a, 0, sizeof(ring_a));
	memset(&ring_b, 0, sizeof(ring_b));
}

static void
seg_teardown(void)
{
	(void)seg_detach(&ring_a);
	(void)seg_detach(&ring_b);
	tu_teardown();
}

static uint64_t
r8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

/* A valid, ready header, laid out as shmlab.h describes. */
static void
fabricate(struct shm_header *h, uint32_t cap, uint32_t mode,
    uint32_t expected, uint64_t count, uint32_t flags)
{
	uint64_t off;

	memset(h, 0, sizeof(*h));
	h->magic = SHM_MAGIC;
	h->version = SHM_VERSION;
	h->hdr_size = sizeof(*h);
	h->ready = SHM_READY;
	h->capacity = cap;
	h->mode = mode;
	h->flags = flags;
	h->max_consumers = SHM_MAX_CONSUMERS;
	h->expected = expected;
	h->count = count;
	h->semid = -1;
	h->slots_off = sizeof(*h);
	h->tags_off = r8(h->slots_off + (uint64_t)cap * sizeof(int32_t));
	h->table_off = h->tags_off + (uint64_t)cap * sizeof(uint64_t);
	off = h->table_off +
	    (uint64_t)SHM_MAX_CONSUMERS * sizeof(struct shm_consumer);
	if (mode == MODE_QUEUE)				/* done[capacity] */
		off = r8(off + (uint64_t)cap * sizeof(uint32_t));
	if ((flags & SHM_F_VERIFY) && mode == MODE_QUEUE) {
		/* A fixed size: counters, recorded[], ranges[] (no count). */
		h->ledger_off = off;
		off += 32 + 8 * SHM_MAX_CONSUMERS + 16 * SHM_LEDGER_RANGES;
	}
	h->size = off;
}

static struct shm_params
params(uint32_t cap, enum shm_mode mode, uint32_t expected, uint64_t count,
    uint32_t flags)
{
	struct shm_params p;

	memset(&p, 0, sizeof(p));
	p.capacity = cap;
	p.mode = mode;
	p.expected = expected;
	p.count = count;
	p.flags = flags;
	p.batch = 64;
	p.perm = 0600;
	return p;
}

static void
on_usr1(int sig)
{
	(void)sig;
	got_signal++;
}

/* A segment under the test's key that is not a shmlab one. */
static void *
raw_segment(size_t size, int *idp)
{
	void *base;

	*idp = shmget(key.key, size, IPC_CREAT | IPC_EXCL | 0600);
	ck_assert_msg(*idp != -1, "shmget: %s", strerror(errno));
	base = shmat(*idp, NULL, 0);
	ck_assert_msg(base != (void *)-1, "shmat: %s", strerror(errno));
	return base;
}

/*
 * seg_attach_msg() on the test's key fails with errno err, and its reason
 * says has (NULL: whatever it says).
 */
static void
expect_refused(int err, const char *has)
{
	char why[256];

	errno = 0;
	ck_assert_int_eq(seg_attach_msg(key.key, 0, &ring_b, why,
	    sizeof(why)), -1);
	ck_assert_int_eq(errno, err);
	ck_assert_msg(has == NULL || strstr(why, has) != NULL, "reason: %s",
	    why);
}

/* ---------------------------------------------------------------- core */

START_TEST(test_layout_matches_documented)
{
	static const uint32_t caps[] = { 1, 2, 3, 10, 1024, SHM_MAXBUF_MAX };
	static const uint64_t counts[] = { 0, 1, 3, 1000, 100001 };
	struct shm_header h;
	struct shm_params p;
	uint64_t size;
	size_t i, j;
	int v;

	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		for (j = 0; j < sizeof(counts) / sizeof(counts[0]); j++)
			for (v = 0; v <= 1; v++) {
				p = params(caps[i], MODE_QUEUE, 0, counts[j],
				    v ? SHM_F_VERIFY : 0);
				ck_assert_int_eq(seg_layout(&p, &size), 0);
				fabricate(&h, caps[i], MODE_QUEUE, 0,
				    counts[j], p.flags);
				ck_assert_msg(size == h.size, "capacity %u "
				    "count %llu verify %d: size %llu, want "
				    "%llu", caps[i],
				    (unsigned long long)counts[j], v,
				    (unsigned long long)size,
				    (unsigned long long)h.size);
				ck_assert_int_eq(seg_validate(&h, size, NULL,
				    0), 0);
			}
}
END_TEST

START_TEST(test_create_attach_round_trip)
{
	struct shm_params p = params(10, MODE_QUEUE, 0, 100, SHM_F_VERIFY);
	struct shmid_ds ds;
	unsigned long nattch;
	uint64_t size;
	char why[256];

	ck_assert_int_eq(seg_layout(&p, &size), 0);
	ck_assert_msg(seg_create(key.key, &p, &ring_a) == 0, "seg_create: %s",
	    strerror(errno));
	ck_assert_int_eq(ring_a.key, key.key);
	ck_assert_int_eq(ring_a.semid, -1);
	ck_assert_ptr_nonnull(ring_a.ledger);
	ck_assert_uint_eq(ring_a.hdr->magic, SHM_MAGIC);
	ck_assert_uint_eq(ring_a.hdr->capacity, 10);
	ck_assert_uint_eq(ring_a.hdr->count, 100);
	ck_assert_uint_eq(ring_a.hdr->size, size);
	ck_assert_int_eq(ring_a.hdr->producer_pid, getpid());
	ck_assert_uint_eq(ring_a.hdr->ready, 0);	/* the producer's job */
	ck_assert_int_eq(shmctl(ring_a.shmid, IPC_STAT, &ds), 0);
	ck_assert_uint_eq(ds.shm_segsz, size);
	ck_assert_uint_eq(ds.shm_perm.mode & 0777, 0600);
	ck_assert_uint_eq(ds.shm_perm.uid, getuid());

	/* Not ready yet: EAGAIN, and nothing stays attached. */
	expect_refused(EAGAIN, NULL);
	ck_assert_int_eq(seg_nattch(ring_a.shmid, &nattch), 0);
	ck_assert_uint_eq(nattch, 1);
	memset(&ring_b, 0, sizeof(ring_b));

	SHM_STORE(&ring_a.hdr->ready, SHM_READY);
	ring_a.hdr->semid = 1234;
	ck_assert_msg(seg_attach_msg(key.key, 0, &ring_b, why, sizeof(why)) ==
	    0, "seg_attach_msg: %s (%s)", strerror(errno), why);
	ck_assert_int_eq(ring_b.shmid, ring_a.shmid);
	ck_assert_int_eq(ring_b.key, key.key);
	ck_assert_int_eq(ring_b.semid, 1234);
	ck_assert_ptr_ne(ring_b.hdr, ring_a.hdr);	/* two mappings */
	ck_assert_int_eq((char *)ring_b.slots - (char *)ring_b.hdr,
	    (char *)ring_a.slots - (char *)ring_a.hdr);
	ring_a.slots[9] = -77;
	ring_a.tags[9] = 99;
	ring_a.table[511].pid = 4242;
	ring_a.ledger->ranges[99][1] = 7;
	ck_assert_int_eq(ring_b.slots[9], -77);
	ck_assert_uint_eq(ring_b.tags[9], 99);
	ck_assert_int_eq(ring_b.table[511].pid, 4242);
	ck_assert_uint_eq(ring_b.ledger->ranges[99][1], 7);
	ck_assert_int_eq(seg_nattch(ring_a.shmid, &nattch), 0);
	ck_assert_uint_eq(nattch, 2);

	ck_assert_int_eq(seg_detach(&ring_b), 0);
	ck_assert_ptr_null(ring_b.hdr);
	ck_assert_int_eq(seg_detach(&ring_b), 0);	/* twice is fine */
	ck_assert_int_eq(seg_nattch(ring_a.shmid, &nattch), 0);
	ck_assert_uint_eq(nattch, 1);
}
END_TEST

START_TEST(test_create_without_ledger)
{
	struct shm_params p = params(4, MODE_BROADCAST, 3, 50, 0);

	ck_assert_int_eq(seg_create(key.key, &p, &ring_a), 0);
	ck_assert_ptr_null(ring_a.ledger);
	ck_assert_uint_eq(ring_a.hdr->ledger_off, 0);
	ck_assert_uint_eq(ring_a.hdr->mode, MODE_BROADCAST);
	ck_assert_uint_eq(ring_a.hdr->expected, 3);
	SHM_STORE(&ring_a.hdr->ready, SHM_READY);
	ck_assert_int_eq(seg_attach(key.key, SHM_RDONLY, &ring_b), 0);
	ck_assert_ptr_null(ring_b.ledger);
}
END_TEST

START_TEST(test_sem_create_queue)
{
	struct shm_params p = params(10, MODE_QUEUE, 0, 100, SHM_F_VERIFY);
	unsigned short vals[SEM_NSEMS(MODE_QUEUE, 0)];
	struct semid_ds ds;
	union semun arg;
	int id;

	id = sem_create(key.key, &p);
	ck_assert_msg(id != -1, "sem_create: %s", strerror(errno));
	arg.buf = &ds;
	ck_assert_int_eq(semctl(id, 0, IPC_STAT, arg), 0);
	ck_assert_uint_eq(ds.sem_nsems, SEM_BASE + 1);
	ck_assert_uint_eq(ds.sem_perm.mode & 0777, 0600);
	ck_assert_msg(ds.sem_otime != 0, "sem_otime still 0: the "
	    "initialisation race is open");
	arg.array = vals;
	ck_assert_int_eq(semctl(id, 0, GETALL, arg), 0);
	ck_assert_uint_eq(vals[SEM_MUTEX], 1);
	ck_assert_uint_eq(vals[SEM_EMPTY], 10);
	ck_assert_uint_eq(vals[SEM_FULL], 0);
	ck_assert_uint_eq(vals[SEM_JOIN], 0);
	/* One seat per core but the producer's, at least one. */
	ck_assert_uint_eq(vals[SEM_SEAT], sem_seats());
	ck_assert_int_ge(sem_seats(), 1);
	ck_assert_int_eq(sem_wait_ready(id, 100), 0);
	ck_assert_int_eq(sem_open_ready(key.key, 100), id);
}
END_TEST

START_TEST(test_sem_create_broadcast)
{
	struct shm_params p = params(7, MODE_BROADCAST, 3, 100, 0);
	unsigned short vals[SEM_BASE + 6];
	struct semid_ds ds;
	union semun arg;
	int id, i;

	id = sem_create(key.key, &p);
	ck_assert_msg(id != -1, "sem_create: %s", strerror(errno));
	arg.buf = &ds;
	ck_assert_int_eq(semctl(id, 0, IPC_STAT, arg), 0);
	ck_assert_uint_eq(ds.sem_nsems, SEM_NSEMS(MODE_BROADCAST, 3));
	arg.array = vals;
	ck_assert_int_eq(semctl(id, 0, GETALL, arg), 0);
	ck_assert_uint_eq(vals[SEM_MUTEX], 1);
	for (i = 0; i < 3; i++) {
		ck_assert_uint_eq(vals[SEM_EMPTY_I(i)], 7);
		ck_assert_uint_eq(vals[SEM_FULL_I(i)], 0);
	}
}
END_TEST

START_TEST(test_sem_op_takes_and_gives)
{
	struct shm_params p = params(2, MODE_QUEUE, 0, 10, 0);
	struct sembuf take = { SEM_EMPTY, -2, 0 }, give = { SEM_FULL, 2, 0 };
	int id;

	id = sem_create(key.key, &p);
	ck_assert_int_ne(id, -1);
	ck_assert_int_eq(sem_op(id, &take, 1, -1), 0);
	ck_assert_int_eq(sem_op(id, &give, 1, 0), 0);
	ck_assert_int_eq(semctl(id, SEM_EMPTY, GETVAL), 0);
	ck_assert_int_eq(semctl(id, SEM_FULL, GETVAL), 2);
	take.sem_num = SEM_FULL;
	ck_assert_int_eq(sem_op(id, &take, 1, 1000), 0);
	ck_assert_int_eq(semctl(id, SEM_FULL, GETVAL), 0);
}
END_TEST

START_TEST(test_sem_limits_parses)
{
	int msl = -1, mns = -1, opm = -1, mni = -1, a, b, c, d;
	FILE *fp;

	ck_assert_int_eq(sem_limits(&msl, &mns, &opm, &mni), 0);
	fp = fopen("/proc/sys/kernel/sem", "r");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fscanf(fp, "%d %d %d %d", &a, &b, &c, &d), 4);
	(void)fclose(fp);
	ck_assert_int_eq(msl, a);
	ck_assert_int_eq(mns, b);
	ck_assert_int_eq(opm, c);
	ck_assert_int_eq(mni, d);
	ck_assert_int_gt(msl, 0);
	ck_assert_int_gt(opm, 0);
}
END_TEST

/* -------------------------------------------------------------- limits */

START_TEST(test_layout_bounds)
{
	struct shm_params p;
	uint64_t size = 0, small = 0;

	p = params(0, MODE_QUEUE, 0, 10, SHM_F_VERIFY);
	errno = 0;
	ck_assert_int_eq(seg_layout(&p, &size), -1);
	ck_assert_int_eq(errno, EINVAL);
	p.capacity = SHM_MAXBUF_MAX + 1;
	errno = 0;
	ck_assert_int_eq(seg_layout(&p, &size), -1);
	ck_assert_int_eq(errno, EINVAL);
	p.capacity = UINT32_MAX;
	ck_assert_int_eq(seg_layout(&p, &size), -1);
	p.capacity = SHM_MAXBUF_MAX;
	ck_assert_int_eq(seg_layout(&p, &size), 0);
	p.capacity = 1;
	ck_assert_int_eq(seg_layout(&p, &size), 0);
	ck_assert_int_eq(seg_layout(&p, &small), 0);
	p.count = (uint64_t)SHM_COUNT_MAX;
	ck_assert_int_eq(seg_layout(&p, &size), 0);
	/* The ledger's memory does not grow with the count (issue 12). */
	ck_assert_uint_eq(size, small);
	ck_assert_uint_lt(size, 1024 * 1024);
	p.count = (uint64_t)SHM_COUNT_MAX + 1;
	errno = 0;
	ck_assert_int_eq(seg_layout(&p, &size), -1);
	ck_assert_int_eq(errno, EINVAL);
	p.count = UINT64_MAX;
	ck_assert_int_eq(seg_layout(&p, &size), -1);
}
END_TEST

/* A refused layout creates nothing. */
START_TEST(test_create_refuses_bad_capacity)
{
	struct shm_params p = params(0, MODE_QUEUE, 0, 10, SHM_F_VERIFY);

	errno = 0;
	ck_assert_int_eq(seg_create(key.key, &p, &ring_a), -1);
	ck_assert_int_eq(errno, EINVAL);
	p.capacity = SHM_MAXBUF_MAX + 1;
	ck_assert_int_eq(seg_create(key.key, &p, &ring_a), -1);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	memset(&ring_a, 0, sizeof(ring_a));
}
END_TEST

START_TEST(test_create_twice_eexist)
{
	struct shm_params p = params(10, MODE_QUEUE, 0, 10, SHM_F_VERIFY);
	struct shm_ring again;
	int id;

	ck_assert_int_eq(seg_create(key.key, &p, &ring_a), 0);
	memset(&again, 0, sizeof(again));
	errno = 0;
	ck_assert_int_eq(seg_create(key.key, &p, &again), -1);
	ck_assert_int_eq(errno, EEXIST);
	id = sem_create(key.key, &p);
	ck_assert_int_ne(id, -1);
	errno = 0;
	ck_assert_int_eq(sem_create(key.key, &p), -1);
	ck_assert_int_eq(errno, EEXIST);
	/* The first set survives the refused second one. */
	ck_assert_int_eq(semget(key.key, 0, 0), id);
	ck_assert_int_eq(semctl(id, SEM_EMPTY, GETVAL), 10);
}
END_TEST

START_TEST(test_create_max_capacity_sems)
{
	struct shm_params p = params(SHM_MAXBUF_MAX, MODE_BROADCAST, 2, 1, 0);
	int id;

	id = sem_create(key.key, &p);
	ck_assert_msg(id != -1, "sem_create: %s", strerror(errno));
	ck_assert_int_eq(semctl(id, SEM_EMPTY, GETVAL), SHM_MAXBUF_MAX);
	ck_assert_int_eq(semctl(id, SEM_EMPTY_I(1), GETVAL), SHM_MAXBUF_MAX);
	/* And the full count can still take every item plus the token. */
	ck_assert_int_lt(SHM_MAXBUF_MAX + 1, 32768);
}
END_TEST

START_TEST(test_sem_op_timeout)
{
	struct shm_params p = params(1, MODE_QUEUE, 0, 1, 0);
	struct sembuf take = { SEM_FULL, -1, 0 };
	uint64_t t0, dt;
	int id, r;

	id = sem_create(key.key, &p);
	ck_assert_int_ne(id, -1);
	t0 = tu_now_ms();
	errno = 0;
	r = sem_op(id, &take, 1, 300);
	dt = tu_now_ms() - t0;
	ck_assert_int_eq(r, -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_msg(dt >= 250 && dt <= (uint64_t)tu_ms(3000), "a 300 ms "
	    "timeout took %llu ms", (unsigned long long)dt);
	/* ms == 0 and IPC_NOWAIT: at once. */
	take.sem_flg = IPC_NOWAIT;
	t0 = tu_now_ms();
	errno = 0;
	ck_assert_int_eq(sem_op(id, &take, 1, 0), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_lt(tu_now_ms() - t0, (uint64_t)tu_ms(200));
}
END_TEST

START_TEST(test_sem_wait_ready_timeout)
{
	uint64_t t0, dt;
	int id, r;

	/* A set nobody has operated on: sem_otime stays 0. */
	id = semget(key.key, 4, IPC_CREAT | IPC_EXCL | 0600);
	ck_assert_msg(id != -1, "semget: %s", strerror(errno));
	t0 = tu_now_ms();
	errno = 0;
	r = sem_wait_ready(id, 200);
	dt = tu_now_ms() - t0;
	ck_assert_int_eq(r, -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_msg(dt >= 150 && dt <= (uint64_t)tu_ms(3000), "a 200 ms "
	    "wait took %llu ms", (unsigned long long)dt);
	errno = 0;
	ck_assert_int_eq(sem_open_ready(key.key, 50), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
}
END_TEST

/* -------------------------------------------------------------- faults */

enum tamper {
	T_MAGIC, T_VERSION, T_HDR_SIZE, T_CAP0, T_CAP_BIG, T_MODE7,
	T_MAXCONS, T_EXPECTED_BIG, T_BCAST_EXPECT0, T_COUNT_BIG, T_HEAD,
	T_TOTAL, T_SLOTS_OFF, T_TAGS_OFF, T_TABLE_OFF, T_LEDGER_OFF,
	T_LEDGER_OFF0, T_SIZE, T_REAL_SMALLER, T_REAL_TINY, T_REAL_ZERO,
	T_MAGIC0_READY, T_NOT_READY, T_MAGIC0_READY0, T_ALL_ONES,
	T_COUNT_MISMATCH, T_CAP_MISMATCH, T_NTAMPER
};

static const struct {
	const char	*name;
	int		 want;		/* errno */
} tampers[T_NTAMPER] = {
	[T_MAGIC] = { "wrong magic", EPROTO },
	[T_VERSION] = { "wrong version", EPROTO },
	[T_HDR_SIZE] = { "wrong hdr_size", EPROTO },
	[T_CAP0] = { "capacity 0", EPROTO },
	[T_CAP_BIG] = { "capacity > SHM_MAXBUF_MAX", EPROTO },
	[T_MODE7] = { "mode 7", EPROTO },
	[T_MAXCONS] = { "max_consumers 1", EPROTO },
	[T_EXPECTED_BIG] = { "expected > max_consumers", EPROTO },
	[T_BCAST_EXPECT0] = { "broadcast expecting 0", EPROTO },
	[T_COUNT_BIG] = { "count > SHM_COUNT_MAX", EPROTO },
	[T_HEAD] = { "head > count + 1", EPROTO },
	[T_TOTAL] = { "total > count + 1", EPROTO },
	[T_SLOTS_OFF] = { "slots_off moved", EPROTO },
	[T_TAGS_OFF] = { "tags_off moved", EPROTO },
	[T_TABLE_OFF] = { "table_off moved", EPROTO },
	[T_LEDGER_OFF] = { "ledger_off moved", EPROTO },
	[T_LEDGER_OFF0] = { "ledger_off 0 with SHM_F_VERIFY", EPROTO },
	[T_SIZE] = { "size changed", EPROTO },
	[T_REAL_SMALLER] = { "size bigger than the real size", EPROTO },
	[T_REAL_TINY] = { "real size smaller than a header", EPROTO },
	[T_REAL_ZERO] = { "real size 0", EPROTO },
	[T_MAGIC0_READY] = { "magic 0 but ready", EPROTO },
	[T_NOT_READY] = { "not ready", EAGAIN },
	[T_MAGIC0_READY0] = { "magic 0 and ready 0", EAGAIN },
	[T_ALL_ONES] = { "every byte 0xff", EPROTO },
	[T_COUNT_MISMATCH] = { "count changed after layout", EPROTO },
	[T_CAP_MISMATCH] = { "capacity changed after layout", EPROTO },
};

START_TEST(test_validate_tampered)
{
	struct shm_header h;
	uint64_t real;
	char why[256];
	int r;

	/* Only a queue run has a ledger array to tamper with. */
	fabricate(&h, 10, _i == T_BCAST_EXPECT0 ? MODE_BROADCAST : MODE_QUEUE,
	    2, 1000, SHM_F_VERIFY);
	real = h.size;
	ck_assert_int_eq(seg_validate(&h, real, why, sizeof(why)), 0);
	switch (_i) {
	case T_MAGIC: h.magic = 0x12345678; break;
	case T_VERSION: h.version = SHM_VERSION + 1; break;
	case T_HDR_SIZE: h.hdr_size = sizeof(h) - 8; break;
	case T_CAP0: h.capacity = 0; break;
	case T_CAP_BIG: h.capacity = SHM_MAXBUF_MAX + 1; break;
	case T_MODE7: h.mode = 7; break;
	case T_MAXCONS: h.max_consumers = 1; break;
	case T_EXPECTED_BIG: h.expected = SHM_MAX_CONSUMERS + 1; break;
	case T_BCAST_EXPECT0: h.expected = 0; break;
	case T_COUNT_BIG: h.count = (uint64_t)SHM_COUNT_MAX + 1; break;
	case T_HEAD: h.head = h.count + 2; break;
	case T_TOTAL: h.total = h.count + 2; break;
	case T_SLOTS_OFF: h.slots_off += 8; break;
	case T_TAGS_OFF: h.tags_off -= 8; break;
	case T_TABLE_OFF: h.table_off = 0; break;
	case T_LEDGER_OFF: h.ledger_off = h.size; break;
	case T_LEDGER_OFF0: h.ledger_off = 0; break;
	case T_SIZE: h.size += 8; real = h.size; break;
	case T_REAL_SMALLER: real = h.size - 1; break;
	case T_REAL_TINY: real = sizeof(h) - 1; break;
	case T_REAL_ZERO: real = 0; break;
	case T_MAGIC0_READY: h.magic = 0; break;
	case T_NOT_READY: h.ready = 0; break;
	case T_MAGIC0_READY0: h.magic = 0; h.ready = 0; break;
	case T_ALL_ONES: memset(&h, 0xff, sizeof(h)); real = UINT64_MAX; break;
	/* The layout no longer depends on count: a count below head does. */
	case T_COUNT_MISMATCH: h.head = h.count; h.count /= 2;
		real = UINT64_MAX; break;
	case T_CAP_MISMATCH: h.capacity = 11; real = UINT64_MAX; break;
	}
	memset(why, 'x', sizeof(why));
	errno = 0;
	r = seg_validate(&h, real, why, sizeof(why));
	ck_assert_msg(r == -1, "%s: accepted", tampers[_i].name);
	ck_assert_msg(errno == tampers[_i].want, "%s: errno %d (%s), want %d",
	    tampers[_i].name, errno, strerror(errno), tampers[_i].want);
	ck_assert_msg(memchr(why, '\0', sizeof(why)) != NULL && why[0] != '\0',
	    "%s: no reason given", tampers[_i].name);
}
END_TEST

/*
 * Random damage to a valid header never crashes and never gives an errno
 * other than EPROTO or EAGAIN; whatever is accepted fits in the segment.
 */
START_TEST(test_validate_random_damage)
{
	struct shm_header good, h;
	uint64_t rng = 0x9e3779b97f4a7c15ULL, real;
	unsigned char *b = (unsigned char *)&h;
	char why[8];
	int i, j, r;

	fabricate(&good, 10, MODE_QUEUE, 0, 1000, SHM_F_VERIFY);
	for (i = 0; i < 200000; i++) {
		h = good;
		real = good.size;
		for (j = 0; j < 1 + i % 4; j++) {
			rng = rng * 6364136223846793005ULL +
			    1442695040888963407ULL;
			b[(rng >> 33) % sizeof(h)] ^= (unsigned char)(1U <<
			    ((rng >> 20) % 8));
		}
		if (i % 7 == 0)
			real = (rng >> 11) % (2 * good.size);
		errno = 0;
		r = seg_validate(&h, real, why, sizeof(why));
		if (r == 0) {
			ck_assert_uint_le(h.size, real);
			ck_assert_uint_eq(h.slots_off, sizeof(h));
			ck_assert_uint_le(h.tags_off +
			    (uint64_t)h.capacity * 8, h.size);
			continue;
		}
		ck_assert_int_eq(r, -1);
		ck_assert_msg(errno == EPROTO || errno == EAGAIN, "errno %d",
		    errno);
		ck_assert(memchr(why, '\0', sizeof(why)) != NULL);
	}
}
END_TEST

/* Somebody else's segment under our key: refused, never crashed on. */
START_TEST(test_attach_foreign_segment)
{
	struct shmid_ds ds;
	void *base;
	int id;

	base = raw_segment(4096, &id);
	memset(base, 0xab, 4096);
	expect_refused(EPROTO, "magic");
	/* Refused segments are detached again. */
	ck_assert_int_eq(shmctl(id, IPC_STAT, &ds), 0);
	ck_assert_uint_eq(ds.shm_nattch, 1);
	/* Zero-filled: "not initialised yet", which callers wait for. */
	memset(base, 0, 4096);
	expect_refused(EAGAIN, NULL);
	ck_assert_int_eq(shmdt(base), 0);
	memset(&ring_b, 0, sizeof(ring_b));
}
END_TEST

START_TEST(test_attach_tiny_segment)
{
	void *base;
	int id;

	base = raw_segment(100, &id);
	ck_assert_int_eq(shmdt(base), 0);
	expect_refused(EPROTO, "smaller");
	memset(&ring_b, 0, sizeof(ring_b));
}
END_TEST

/* A valid header copied into a segment too small for what it describes. */
START_TEST(test_attach_truncated_segment)
{
	struct shm_header h;
	void *base;
	int id;

	fabricate(&h, 10, MODE_QUEUE, 0, 1000, SHM_F_VERIFY);
	base = raw_segment((size_t)h.size - 8, &id);
	memcpy(base, &h, sizeof(h));
	expect_refused(EPROTO, NULL);
	ck_assert_int_eq(shmdt(base), 0);
	memset(&ring_b, 0, sizeof(ring_b));
}
END_TEST

START_TEST(test_attach_absent)
{
	expect_refused(ENOENT, NULL);
	errno = 0;
	ck_assert_int_eq(sem_open_ready(key.key, 10), -1);
	ck_assert_int_eq(errno, ENOENT);
	memset(&ring_b, 0, sizeof(ring_b));
}
END_TEST

/* EINTR is restarted with the remaining time: callers see EAGAIN only. */
START_TEST(test_sem_op_restarts_after_signal)
{
	struct shm_params p = params(1, MODE_QUEUE, 0, 1, 0);
	struct sembuf take = { SEM_FULL, -1, 0 };
	struct sigaction sa;
	uint64_t t0, dt;
	pid_t me = getpid(), pid;
	int id, r;

	id = sem_create(key.key, &p);
	ck_assert_int_ne(id, -1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;	/* no SA_RESTART */
	ck_assert_int_eq(sigemptyset(&sa.sa_mask), 0);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	got_signal = 0;
	pid = tu_fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		tu_sleep_ms(100);
		(void)kill(me, SIGUSR1);
		_exit(0);
	}
	t0 = tu_now_ms();
	errno = 0;
	r = sem_op(id, &take, 1, 400);
	dt = tu_now_ms() - t0;
	ck_assert_int_eq(r, -1);
	ck_assert_msg(errno == EAGAIN, "errno %d (%s), want EAGAIN", errno,
	    strerror(errno));
	ck_assert_int_eq(got_signal, 1);
	ck_assert_msg(dt >= 350 && dt <= (uint64_t)tu_ms(3000), "a 400 ms "
	    "wait interrupted at 100 ms took %llu ms",
	    (unsigned long long)dt);
}
END_TEST

START_TEST(test_sem_op_on_removed_set)
{
	struct shm_params p = params(1, MODE_QUEUE, 0, 1, 0);
	struct sembuf take = { SEM_FULL, -1, 0 };
	int id;

	id = sem_create(key.key, &p);
	ck_assert_int_ne(id, -1);
	ck_assert_int_eq(semctl(id, 0, IPC_RMID), 0);
	errno = 0;
	ck_assert_int_eq(sem_op(id, &take, 1, 100), -1);
	ck_assert_msg(errno == EINVAL || errno == EIDRM, "errno %d", errno);
	errno = 0;
	ck_assert_int_eq(sem_wait_ready(id, 100), -1);
	ck_assert_msg(errno == EINVAL || errno == EIDRM, "errno %d", errno);
}
END_TEST

/*
 * The dup fault writes one position more than the count: a header whose
 * head and total are count + 1 is a valid finished stream, not damage
 * (issue 9, protocol gap 5).  One more than that is refused.
 */
START_TEST(test_validate_dup_stream)
{
	struct shm_header h;
	char why[256];

	fabricate(&h, 200, MODE_QUEUE, 0, 100, SHM_F_VERIFY);
	h.head = 101;
	h.total = 101;
	h.eos = 1;
	ck_assert_msg(seg_validate(&h, h.size, why, sizeof(why)) == 0,
	    "a dup stream of 101 positions refused: %s", why);
	h.head = 102;
	errno = 0;
	ck_assert_int_eq(seg_validate(&h, h.size, why, sizeof(why)), -1);
	ck_assert_int_eq(errno, EPROTO);
}
END_TEST

static Suite *
seg_suite(void)
{
	Suite *s = suite_create("seg");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, seg_setup, seg_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_layout_matches_documented);
	tcase_add_test(tc, test_create_attach_round_trip);
	tcase_add_test(tc, test_create_without_ledger);
	tcase_add_test(tc, test_sem_create_queue);
	tcase_add_test(tc, test_sem_create_broadcast);
	tcase_add_test(tc, test_sem_op_takes_and_gives);
	tcase_add_test(tc, test_sem_limits_parses);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, seg_setup, seg_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_layout_bounds);
	tcase_add_test(tc, test_create_refuses_bad_capacity);
	tcase_add_test(tc, test_create_twice_eexist);
	tcase_add_test(tc, test_create_max_capacity_sems);
	tcase_add_test(tc, test_sem_op_timeout);
	tcase_add_test(tc, test_sem_wait_ready_timeout);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_add_checked_fixture(tc, seg_setup, seg_teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_loop_test(tc, test_validate_tampered, 0, T_NTAMPER);
	tcase_add_test(tc, test_validate_random_damage);
	tcase_add_test(tc, test_attach_foreign_segment);
	tcase_add_test(tc, test_attach_tiny_segment);
	tcase_add_test(tc, test_attach_truncated_segment);
	tcase_add_test(tc, test_attach_absent);
	tcase_add_test(tc, test_sem_op_restarts_after_signal);
	tcase_add_test(tc, test_sem_op_on_removed_set);
	tcase_add_test(tc, test_validate_dup_stream);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	tu_init();
	sr = srunner_create(seg_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
