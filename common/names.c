/*
 * names.c - the words reports, titles and the monitor use for the
 * protocol's enums (shmlab.h).
 */
#include "i18n.h"
#include "shmlib.h"

const char *
mode_name(enum shm_mode m)
{
	return m == MODE_BROADCAST ? "broadcast" : "queue";
}

/*
 * The names reports, titles and the monitor use for enum shm_state: the
 * JSON's values, in English always; a table shows _(state_name(s)).
 */
const char *
state_name(uint32_t s)
{
	switch (s) {
	case ST_INIT:
		return N_("init");
	case ST_WAITING:
		return N_("waiting");
	case ST_PRODUCING:
		return N_("producing");
	case ST_DRAINING:
		return N_("draining");
	case ST_DONE:
		return N_("done");
	case ST_ABORTED:
		return N_("aborted");
	default:
		return N_("unknown");
	}
}

/* ... and for enum shm_cstate. */
const char *
cstate_name(uint32_t s)
{
	switch (s) {
	case CS_FREE:
		return N_("free");
	case CS_ACTIVE:
		return N_("active");
	case CS_DONE:
		return N_("done");
	case CS_FAILED:
		return N_("failed");
	case CS_DIED:
		return N_("died");
	default:
		return N_("unknown");
	}
}
