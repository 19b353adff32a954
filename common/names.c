/*
 * names.c - the words reports, titles and the monitor use for the
 * protocol's enums (shmlab.h).
 */
#include "shmlib.h"

const char *
mode_name(enum shm_mode m)
{
	return m == MODE_BROADCAST ? "broadcast" : "queue";
}

/* The names reports, titles and the monitor use for enum shm_state. */
const char *
state_name(uint32_t s)
{
	switch (s) {
	case ST_INIT:
		return "init";
	case ST_WAITING:
		return "waiting";
	case ST_PRODUCING:
		return "producing";
	case ST_DRAINING:
		return "draining";
	case ST_DONE:
		return "done";
	case ST_ABORTED:
		return "aborted";
	default:
		return "unknown";
	}
}

/* ... and for enum shm_cstate. */
const char *
cstate_name(uint32_t s)
{
	switch (s) {
	case CS_FREE:
		return "free";
	case CS_ACTIVE:
		return "active";
	case CS_DONE:
		return "done";
	case CS_FAILED:
		return "failed";
	case CS_DIED:
		return "died";
	default:
		return "unknown";
	}
}
