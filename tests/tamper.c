/*
 * tamper.c - damages a live shmlab run from outside, as an adversary (or
 * a student's buggy program) would: one header field, one consumer
 * record, one semaphore, or random bytes.  Used by tests/torture.sh and
 * tests/check_distrust.c; never by the programs themselves.
 *
 *	tamper KEY FIELD VALUE		hdr.FIELD = VALUE (see fields[])
 *	tamper KEY rec.I.FIELD VALUE	table[I].FIELD = VALUE
 *	tamper KEY sem.N VALUE		semctl(SETVAL) on semaphore N
 *	tamper KEY random SEED		256 random bytes over the header
 *	tamper KEY bytes SEED		64 random bytes anywhere in the segment
 *
 * KEY is hexadecimal, as ipcs prints it.  It creates and removes nothing.
 * Exit status: 0 done, 2 bad usage, 3 the run is not there.
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <err.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shmlib.h"

#define H(f)	{ #f, offsetof(struct shm_header, f), \
		  sizeof(((struct shm_header *)0)->f) }
#define R(f)	{ #f, offsetof(struct shm_consumer, f), \
		  sizeof(((struct shm_consumer *)0)->f) }

struct field {
	const char	*name;
	size_t		 off, len;
};

static const struct field hdr_fields[] = {
	H(magic), H(version), H(hdr_size), H(ready), H(capacity), H(mode),
	H(flags), H(state), H(max_consumers), H(expected), H(registered),
	H(batch), H(producer_pid), H(eos), H(semid), H(jitter_us), H(count),
	H(seed), H(head), H(tail), H(freed), H(total), H(slots_off),
	H(tags_off), H(table_off), H(ledger_off), H(size), H(start_ns),
	H(fill), H(timeout_s), H(delay_ms)
};

static const struct field rec_fields[] = {
	R(pid), R(state), R(exit_status), R(index), R(consumed), R(first_seq),
	R(last_seq), R(checksum), R(pos), R(freed), R(claim_start),
	R(claim_len), R(claim_base), R(unreported), R(flags)
};

static const struct field *
find(const struct field *f, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(f[i].name, name) == 0)
			return &f[i];
	errx(2, "unknown field %s", name);
}

/* splitmix64: the same bytes for the same seed, on every machine. */
static uint64_t
next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
put(char *base, size_t off, size_t len, uint64_t v)
{
	/* Little-endian, as the layout is documented (docs/DESIGN.md). */
	memcpy(base + off, &v, len);
}

int
main(int argc, char *argv[])
{
	struct shmid_ds ds;
	const struct field *f;
	unsigned long long v;
	uint64_t rng, off;
	char *base, *end, name[32];
	unsigned long key;
	unsigned idx;
	int id, i;

	if (argc != 4)
		errx(2, "usage: tamper KEY FIELD|rec.I.FIELD|sem.N|random|bytes "
		    "VALUE");
	key = strtoul(argv[1], &end, 16);
	if (*end != '\0')
		errx(2, "key %s: want hexadecimal", argv[1]);
	v = strtoull(argv[3], &end, 0);
	if (*end != '\0')
		errx(2, "value %s: want a number", argv[3]);
	if ((id = shmget((key_t)key, 0, 0)) == -1)
		err(3, "shmget(key 0x%08lx)", key);
	if (shmctl(id, IPC_STAT, &ds) == -1)
		err(3, "shmctl(IPC_STAT) on shm id %d", id);
	if ((base = shmat(id, NULL, 0)) == (void *)-1)
		err(3, "shmat(shm id %d)", id);
	if (strncmp(argv[2], "sem.", 4) == 0) {
		int semid = ((struct shm_header *)(void *)base)->semid;
		union semun arg = { .val = (int)v };

		if (semctl(semid, atoi(argv[2] + 4), SETVAL, arg) == -1)
			err(3, "semctl(SETVAL) on sem id %d", semid);
	} else if (strcmp(argv[2], "random") == 0) {
		rng = v;
		for (i = 0; i < (int)sizeof(struct shm_header); i += 8)
			put(base, (size_t)i, 8, next_rand(&rng));
	} else if (strcmp(argv[2], "bytes") == 0) {
		rng = v;
		off = next_rand(&rng) % ds.shm_segsz;
		for (i = 0; i < 64 && off + (uint64_t)i < ds.shm_segsz; i++)
			base[off + (uint64_t)i] = (char)next_rand(&rng);
	} else if (sscanf(argv[2], "rec.%u.%31s", &idx, name) == 2) {
		f = find(rec_fields, sizeof(rec_fields) / sizeof(*rec_fields),
		    name);
		/* Where the table really is, from this tree's own layout. */
		off = ((struct shm_header *)(void *)base)->table_off +
		    (uint64_t)idx * sizeof(struct shm_consumer);
		if (idx >= SHM_MAX_CONSUMERS || off + f->off + f->len >
		    ds.shm_segsz)
			errx(2, "record %u is outside the segment", idx);
		put(base, (size_t)(off + f->off), f->len, v);
	} else {
		f = find(hdr_fields, sizeof(hdr_fields) / sizeof(*hdr_fields),
		    argv[2]);
		put(base, f->off, f->len, v);
	}
	if (shmdt(base) == -1)
		err(3, "shmdt");
	return 0;
}
