/*
 * report.c - the outcome of a run: the exact ledger, the per-consumer
 * table, and the exit status, as one JSON object or a short table.
 *
 * The JSON keys are a contract with grading scripts (docs/JSON.md): add
 * keys freely, never rename or repurpose one.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "i18n.h"
#include "mode.h"
#include "shmlib.h"

#define REPORT_SCHEMA	1


/* Fills in everything that the table and the ledger tell. */
void
report_tally(struct shm_report *rp)
{
	const struct shm_header *h = rp->ring->hdr;
	const struct shm_consumer *c;
	uint64_t want, lost, dup;
	uint32_t i, n, expect;
	uint32_t why = 0;	/* GCC -O2 -fsanitize cannot see it is set first */
	int sums_ok = 1;
	/* Does each consumer take the whole stream (its table says)? */
	int every = (run_mode((enum shm_mode)h->mode, h->flags)->flags &
	    MF_EVERY_ITEM) != 0;

	n = h->registered < h->max_consumers ? h->registered :
	    h->max_consumers;
	rp->consumers = n;
	rp->consumed = rp->out_of_order = rp->corrupted = 0;
	rp->checksum_total = rp->unreported = rp->in_flight = 0;
	rp->died = 0;
	rp->ledger_note = NULL;
	for (i = 0; i < n; i++) {
		c = &rp->ring->table[i];
		/* A dead consumer's unreported items were taken all the same. */
		rp->consumed += c->consumed +
		    (c->state == CS_DIED ? c->unreported : 0);
		rp->out_of_order += c->out_of_order;
		rp->corrupted += c->corrupted;
		rp->checksum_total += c->checksum;
		if (c->state == CS_DIED) {
			rp->died++;
			rp->unreported += c->unreported;
			rp->in_flight += c->claim_len;
		}
		if (every && c->checksum != rp->checksum_expected)
			sums_ok = 0;
	}
	if (!every && rp->checksum_total != rp->checksum_expected)
		sums_ok = 0;
	expect = every ? h->expected : 1;
	want = h->count * expect;
	if (every && (h->flags & SHM_F_VERIFY)) {
		/* Each broadcast consumer tallied its own stream exactly. */
		lost = dup = 0;
		rp->ledger = 1;
		for (i = 0; i < n; i++) {
			c = &rp->ring->table[i];
			lost += h->count - (c->distinct < h->count ?
			    c->distinct : h->count);
			dup += c->duplicated;
			if (c->flags & CF_INEXACT)
				rp->ledger = 0;
		}
		/* Expected consumers that never registered got nothing. */
		if (n < expect)
			lost += (uint64_t)(expect - n) * h->count;
	} else if (rp->ring->ledger != NULL && n == 0) {
		/* No consumer registered, so none took a number. */
		lost = h->count;
		dup = 0;
		rp->ledger = 1;
	} else if (rp->ring->ledger != NULL && (why = ledger_read(
	    rp->ring->ledger, h->count, &lost, &dup)) == 0) {
		rp->ledger = 1;
	} else {
		/* Without an exact ledger only the totals can be compared. */
		lost = rp->consumed < want ? want - rp->consumed : 0;
		dup = rp->consumed > want ? rp->consumed - want : 0;
		rp->ledger = 0;
		if (rp->ring->ledger != NULL)
			rp->ledger_note = ledger_reason(why);
	}
	rp->lost = lost;
	rp->duplicated = dup;
	rp->verified = rp->error == NULL && !rp->interrupted && n > 0 &&
	    lost == 0 && dup == 0 && rp->out_of_order == 0 &&
	    rp->corrupted == 0 && rp->consumed == want && rp->died == 0 &&
	    sums_ok;
	if (rp->error != NULL || rp->interrupted)
		rp->exit_status = 3;
	else
		rp->exit_status = rp->verified ? 0 : 1;
}

#define U(x)	((unsigned long long)(x))

/* Items per second over the run; 0 for a run that took no time. */
static double
report_rate(const struct shm_report *rp)
{
	return rp->elapsed_s > 0 ? (double)rp->produced / rp->elapsed_s : 0;
}

int
report_json(FILE *fp, const struct shm_report *rp)
{
	const struct shm_header *h = rp->ring->hdr;
	const struct shm_consumer *c;
	double rate = report_rate(rp);
	uint32_t i;

	fprintf(fp, "{\"schema\":%d,\"mode\":\"%s\",\"consumers\":%u,"
	    "\"maxbuf\":%u,\"count\":%llu,\"seed\":%llu,\"batch\":%u,"
	    "\"unsafe\":%s,\"ledger\":%s,",
	    REPORT_SCHEMA, mode_name((enum shm_mode)h->mode), rp->consumers,
	    h->capacity, U(h->count), U(h->seed), h->batch,
	    (h->flags & SHM_F_UNSAFE) ? "true" : "false",
	    rp->ledger ? "true" : "false");
	fprintf(fp, "\"produced\":%llu,\"consumed\":%llu,\"lost\":%llu,"
	    "\"duplicated\":%llu,\"out_of_order\":%llu,\"corrupted\":%llu,"
	    "\"died\":%u,\"unreported\":%llu,\"in_flight\":%llu,"
	    "\"checksum_expected\":%llu,\"checksum_total\":%llu,",
	    U(rp->produced), U(rp->consumed), U(rp->lost),
	    U(rp->duplicated), U(rp->out_of_order), U(rp->corrupted),
	    rp->died, U(rp->unreported), U(rp->in_flight),
	    U(rp->checksum_expected),
	    U(rp->checksum_total));
	fprintf(fp, "\"verified\":%s,\"interrupted\":%s,\"elapsed_s\":%.6f,"
	    "\"items_per_s\":%.1f,\"exit_status\":%d,\"producer_pid\":%d,"
	    "\"fault\":", rp->verified ? "true" : "false",
	    rp->interrupted ? "true" : "false", rp->elapsed_s, rate,
	    rp->exit_status, (int)h->producer_pid);
	json_str(fp, rp->fault);
	fputs(",\"error\":", fp);
	json_str(fp, rp->error);
	fputs(",\"ledger_note\":", fp);
	json_str(fp, rp->ledger_note);
	fputs(",\"per_consumer\":[", fp);
	for (i = 0; i < rp->consumers; i++) {
		c = &rp->ring->table[i];
		fprintf(fp, "%s{\"index\":%u,\"pid\":%d,\"state\":\"%s\","
		    "\"consumed\":%llu,", i ? "," : "", c->index, (int)c->pid,
		    cstate_name(c->state), U(c->consumed));
		if (c->consumed > 0)
			fprintf(fp, "\"first_seq\":%llu,\"last_seq\":%llu,",
			    U(c->first_seq), U(c->last_seq));
		else
			fputs("\"first_seq\":null,\"last_seq\":null,", fp);
		fprintf(fp, "\"checksum\":%llu,\"out_of_order\":%llu,"
		    "\"corrupted\":%llu,\"unreported\":%llu,\"in_flight\":%llu,"
		    "\"batches\":%llu,\"exit_status\":", U(c->checksum),
		    U(c->out_of_order), U(c->corrupted), U(c->unreported),
		    U(c->state == CS_DIED ? c->claim_len : 0),
		    U(c->batches));
		if (c->exit_status >= 0)
			fprintf(fp, "%d}", (int)c->exit_status);
		else
			fputs("null}", fp);
	}
	fputs("]}\n", fp);
	return ferror(fp) ? -1 : 0;
}

int
report_text(FILE *fp, const struct shm_report *rp)
{
	const struct shm_header *h = rp->ring->hdr;
	const struct shm_consumer *c;
	double rate = report_rate(rp);
	uint32_t i;

	/* A batch never exceeds the ring: min(B, MAXBUF) is what moves. */
	fprintf(fp, ngettext("shmlab %s run: %u consumer, MAXBUF %u, batch %u "
	    "(min(-B %u, MAXBUF)), %llu items%s\n", "shmlab %s run: %u "
	    "consumers, MAXBUF %u, batch %u (min(-B %u, MAXBUF)), %llu "
	    "items%s\n", rp->consumers), mode_name((enum shm_mode)h->mode),
	    rp->consumers, h->capacity, h->batch < h->capacity ? h->batch :
	    h->capacity, h->batch, U(h->count),
	    (h->flags & SHM_F_UNSAFE) ? _(" (UNSAFE: no semaphores)") : "");
	/* TRANSLATORS: column heads; keep each within its width. */
	fprintf(fp, "  %-*s %-8s %-*s %*s %*s %*s %s\n", i18n_pad(6, _("index")),
	    _("index"), "pid", i18n_pad(7, _("state")), _("state"),
	    i18n_pad(12, _("consumed")), _("consumed"), i18n_pad(12, _("first_seq")),
	    _("first_seq"), i18n_pad(12, _("last_seq")), _("last_seq"), _("exit"));
	for (i = 0; i < rp->consumers; i++) {
		c = &rp->ring->table[i];
		fprintf(fp, "  %-6u %-8d %-*s %12llu ", c->index, (int)c->pid,
		    i18n_pad(7, _(cstate_name(c->state))), _(cstate_name(c->state)),
		    U(c->consumed));
		if (c->consumed > 0)
			fprintf(fp, "%12llu %12llu ", U(c->first_seq),
			    U(c->last_seq));
		else
			fprintf(fp, "%12s %12s ", "-", "-");
		if (c->exit_status >= 0)
			fprintf(fp, "%d", (int)c->exit_status);
		else
			fputs("?", fp);
		if (c->state == CS_DIED && c->claim_len > 0)
			fprintf(fp, _("  (died holding a claim of %llu items, "
			    "%llu of them read but not reported)"),
			    U(c->claim_len), U(c->unreported));
		fputc('\n', fp);
	}
	fprintf(fp, _("  ledger%s: produced %llu, consumed %llu, lost %llu, "
	    "duplicated %llu, out of order %llu, corrupted %llu\n"),
	    rp->ledger ? "" : !(h->flags & SHM_F_VERIFY) ?
	    _(" (totals only, --no-verify)") : _(" (inexact: too many gaps)"),
	    U(rp->produced),
	    U(rp->consumed), U(rp->lost), U(rp->duplicated),
	    U(rp->out_of_order), U(rp->corrupted));
	if (rp->ledger_note != NULL)
		fprintf(fp, _("  ledger inexact: %s\n"), rp->ledger_note);
	fprintf(fp, _("  %.3f s, %.0f items/s%s%s\n"), rp->elapsed_s, rate,
	    rp->fault ? _(", injected fault ") : "", rp->fault ? rp->fault :
	    "");
	/* A fixed error is N_() where it is set; a built one comes twice. */
	if (rp->error != NULL)
		fprintf(fp, _("  FAILED: %s\n"), rp->error_text != NULL ?
		    rp->error_text : *rp->error ? _(rp->error) : "");
	fprintf(fp, _("  %s (exit %d)\n"), rp->verified ? _("VERIFIED: every "
	    "item delivered exactly as the mode requires") : _("NOT VERIFIED"),
	    rp->exit_status);
	return ferror(fp) ? -1 : 0;
}
