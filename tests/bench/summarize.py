#!/usr/bin/env python3
"""summarize.py - medians, ratios and plot data for tests/bench/bench.sh.

    summarize.py WORKDIR

Reads WORKDIR/bench.csv (one row per run) and WORKDIR/memory.csv, writes
WORKDIR/medians.csv and, for plot.gp, one plot_NAME.gpdata (a block per
series: "x items_per_s") with its plot_NAME.gpvars, and prints the table of
medians, the ratios issue 6 asks for with PASS/FAIL, the -B sweep, the
ledger's cost and the memory figures.

Medians are taken over the verified runs of a point only; a point with no
verified run has no median and is reported as failed.  All ratios compare
medians measured in the same invocation.
"""

import csv
import math
import os
import statistics
import sys

BIG = 32766          # the largest MAXBUF
GOAL_RATE = 20e6     # items/s, queue mode, N=1 and N=4, ledger on
GOAL_CLASSIC = 100   # x the classic per-item protocol
GOAL_PIPE1 = 10      # x a pipe written one int per write
GOAL_BCAST = 2       # broadcast within 2x of queue at the same N


def load(path):
    """Groups the runs of bench.csv by point."""
    points = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            key = (row["variant"], row["mode"], int(row["consumers"]),
                   int(row["maxbuf"]), int(row["batch"]), int(row["count"]))
            points.setdefault(key, []).append(
                (float(row["items_per_s"]), row["verified"] == "true"))
    return points


def summarize(points):
    """Returns {point: (median or None, runs, verified runs, min, max)}."""
    out = {}
    for key, runs in points.items():
        good = [r for r, ok in runs if ok]
        out[key] = (statistics.median(good) if good else None, len(runs),
                    len(good), min(good) if good else None,
                    max(good) if good else None)
    return out


def series_name(key):
    """The plot line a point belongs to (without N)."""
    variant, mode, _, maxbuf, batch, _ = key
    if variant == "shmlab" and batch == 1 and maxbuf == 10:
        return "classic_%s" % mode
    if variant.startswith("shmlab"):
        name = "%s_%s_B%d" % (variant, mode, batch)
        return name if maxbuf == BIG else "%s_b%d" % (name, maxbuf)
    return variant


class Medians:
    """Looks medians up by what they measure."""

    def __init__(self, med):
        self.med = med

    def find(self, variant, mode, n, maxbuf=None, batch=None):
        for key, val in self.med.items():
            if (key[0] == variant and key[1] == mode and key[2] == n and
                    (maxbuf is None or key[3] == maxbuf) and
                    (batch is None or key[4] == batch)):
                return val
        return None

    def get(self, *args):
        val = self.find(*args)
        return None if val is None else val[0]

    def spread(self, *args):
        """ " [min-max]" of the verified runs, to show how wide they are."""
        val = self.find(*args)
        if val is None or val[3] is None:
            return ""
        return " [%.1f-%.1f]" % (val[3] / 1e6, val[4] / 1e6)


def mps(rate):
    return "    n/a" if rate is None else "%7.2f" % (rate / 1e6)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def times(r):
    if r is None:
        return "n/a"
    return "%.0fx" % r if r >= 1000 else "%.3gx" % r


def verdict(value, goal, at_most=False):
    """PASS or FAIL against goal; a point this run did not measure is
    neither."""
    if value is None:
        return "not measured"
    ok = value <= goal if at_most else value >= goal
    return "PASS" if ok else "FAIL"


def write_medians(path, med):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["variant", "mode", "consumers", "maxbuf", "batch",
                    "count", "runs", "verified_runs", "median_items_per_s",
                    "min_items_per_s", "max_items_per_s"])
        for key in sorted(med):
            m, runs, good, lo, hi = med[key]
            w.writerow(list(key) + [runs, good] + [
                "" if v is None else "%.1f" % v for v in (m, lo, hi)])


def write_plot(work, name, title, xlabel, xlog, series, nsolid):
    """series: [(title, [(x, y), ...])]; the first nsolid drawn solid."""
    series = [(t, pts) for t, pts in series if pts]
    if not series:
        return
    data = os.path.join(work, "plot_%s.gpdata" % name)
    with open(data, "w") as f:
        for t, pts in series:
            f.write("# %s\n" % t)
            for x, y in sorted(pts):
                f.write("%g %g\n" % (x, y))
            f.write("\n\n")
    with open(os.path.join(work, "plot_%s.gpvars" % name), "w") as f:
        f.write("datafile = '%s'\n" % data)
        f.write("outfile = '%s'\n" % os.path.join(work, "%s.png" % name))
        f.write("ptitle = '%s'\n" % title)
        f.write("xlab = '%s'\n" % xlabel)
        f.write("xlog = %d\n" % xlog)
        f.write("nseries = %d\n" % len(series))
        f.write("nsolid = %d\n" % nsolid)
        f.write("titles = '%s'\n" % " ".join(t for t, _ in series))


def plots(work, med, full):
    by_series = {}
    for key, val in med.items():
        if val[0] is None or key[0].endswith("_noverify"):
            continue
        by_series.setdefault((series_name(key), key[1]), []).append(
            (key[2], val[0], key))
    ns_main = sorted({n for (s, _), pts in by_series.items()
                      if s == "pipe1" for n, _, _ in pts})

    def main_series(mode=None, any_maxbuf=False):
        """shmlab lines (solid: batched, then classic), then baselines."""
        shm, classic, base = [], [], []
        for (s, m), pts in sorted(by_series.items(),
                                  key=lambda i: order(i[0][0])):
            line = (s, [(n, y) for n, y, _ in pts])
            if s.startswith("shmlab") or s.startswith("classic"):
                if mode is not None and m != mode:
                    continue
                if not any_maxbuf and "_b" in s.split("_B")[-1]:
                    continue
                # Lines of the matrix, not the sweeps' two points.
                if sorted({n for n, _, _ in pts}) != ns_main:
                    continue
                (classic if s.startswith("classic") else shm).append(line)
            else:
                base.append(line)
        return shm + classic + base, len(shm) + len(classic)

    s, nsolid = main_series()
    write_plot(work, "bench", "shmlab vs baselines, MAXBUF %d, ledger on "
               "(medians)" % BIG, "consumers N", 1, s, nsolid)
    if full:
        for mode in ("queue", "broadcast"):
            s, nsolid = main_series(mode, True)
            write_plot(work, "bench_%s" % mode, "shmlab %s mode, every "
                       "MAXBUF and B (_bM: MAXBUF M, else %d; medians)" %
                       (mode, BIG), "consumers N", 1, s, nsolid)
    scaling = []
    for variant, mode in (("shmlab", "queue"), ("shmlab", "broadcast"),
                          ("pipe4k", "queue")):
        pts = [(k[2], v[0]) for k, v in med.items()
               if k[0] == variant and k[1] == mode and v[0] is not None and
               (variant != "shmlab" or (k[3] == BIG and k[4] == 4096))]
        scaling.append(("%s_%s" % (variant, mode), pts))
    if any(n > 4 for _, pts in scaling for n, _ in pts):
        write_plot(work, "bench_scaling", "scaling against N: B=4096, "
                   "MAXBUF %d, ledger on (medians)" % BIG, "consumers N", 1,
                   scaling, 2)
    sweep = []
    for n in (1, 4):
        pts = [(k[4], v[0]) for k, v in med.items()
               if k[0] == "shmlab" and k[1] == "queue" and k[2] == n and
               k[3] == BIG and v[0] is not None]
        sweep.append(("queue_N=%d" % n, pts))
    write_plot(work, "bench_batch", "queue mode, MAXBUF %d, ledger on: "
               "items/s against -B (medians)" % BIG, "batch B", 1, sweep,
               len(sweep))


def order(name):
    """shmlab lines first, by mode and B, then classic, then baselines."""
    head, _, b = name.rpartition("_B")
    if name.startswith("shmlab") and b.isdigit():
        return (0, head, int(b))
    if name.startswith("shmlab"):
        return (0, name, 0)
    return (1 if name.startswith("classic") else 2, name, 0)


def table(med):
    """The medians, one row per series, one column per N."""
    rows, ns = {}, set()
    for key, val in med.items():
        name = series_name(key)
        rows.setdefault(name, {})[key[2]] = val
        ns.add(key[2])
    ns = sorted(ns)
    print("Medians, M items/s (verified runs/runs where not all verified):")
    print("  %-34s" % "series" + "".join("%12s" % ("N=%d" % n) for n in ns))
    for name in sorted(rows, key=order):
        cells = []
        for n in ns:
            v = rows[name].get(n)
            if v is None:
                cells.append("%12s" % "")
            else:
                note = "" if v[2] == v[1] else "(%d/%d)" % (v[2], v[1])
                cells.append("%12s" % (mps(v[0]).strip() + note))
        print("  %-34s" % name + "".join(cells))
    print()


def goals(m, med):
    # The batched lines of the matrix (the sweeps have no N=2).
    batches = sorted({k[4] for k in med if k[0] == "shmlab" and
                      k[1] == "queue" and k[3] == BIG and k[2] == 2 and
                      k[4] > 1})
    print("Goals (queue mode, MAXBUF %d, ledger on, medians of this run,"
          " [min-max] of its runs):" % BIG)
    print("  (B=4096 is the programs' default, SHM_BATCH_DEFAULT; B=64 was"
          " the default before 0062721)")
    for b in batches:
        for n in (1, 4):
            q = m.get("shmlab", "queue", n, BIG, b)
            c = m.get("shmlab", "queue", n, 10, 1)
            p = m.get("pipe1", "queue", n)
            rc, rp = ratio(q, c), ratio(q, p)
            line = "  B=%-5d N=%d: %s%s M/s (goal >= %d M/s: %s)" % (
                b, n, mps(q).strip(), m.spread("shmlab", "queue", n, BIG, b),
                GOAL_RATE / 1e6,
                verdict(q, GOAL_RATE))
            line += "; vs classic %s (>= %dx: %s)" % (
                times(rc), GOAL_CLASSIC,
                verdict(rc, GOAL_CLASSIC))
            line += "; vs pipe1 %s (>= %dx: %s)" % (
                times(rp), GOAL_PIPE1,
                verdict(rp, GOAL_PIPE1))
            print(line)
    print()
    print("Broadcast within %dx of queue at the same N (same MAXBUF, B):"
          % GOAL_BCAST)
    for b in batches:
        for n in sorted({k[2] for k in med if k[0] == "shmlab" and
                         k[1] == "broadcast" and k[4] == b and
                         k[3] == BIG}):
            q = m.get("shmlab", "queue", n, BIG, b)
            br = m.get("shmlab", "broadcast", n, BIG, b)
            r = ratio(q, br)
            print("  B=%-5d N=%-2d queue %s, broadcast %s M/s: queue/"
                  "broadcast %s %s" % (b, n, mps(q).strip(), mps(br).strip(),
                                       "n/a" if r is None else "%.2f" % r,
                                       verdict(r, GOAL_BCAST, at_most=True)))
    print()
    print("Moonshot: shmlab queue against pipe4k (4 KiB writes):")
    for b in batches:
        for n in (1, 2, 4):
            q = m.get("shmlab", "queue", n, BIG, b)
            p = m.get("pipe4k", "queue", n)
            r = ratio(q, p)
            if r is not None:
                print("  B=%-5d N=%d: %s of pipe4k (%s M/s)" % (
                    b, n, "%.0f%%" % (100 * r), mps(p).strip()))
    print()
    print("TLPI svshm_xfr pair (bench_lockstep, 1 reader) against shmlab "
          "queue N=1:")
    for size in (1024, 4096, 65536):
        l = m.get("lockstep_%d" % size, "queue", 1)
        line = "  lockstep_%-5d %s M/s" % (size, mps(l).strip())
        for b in batches:
            r = ratio(m.get("shmlab", "queue", 1, BIG, b), l)
            if r is not None:
                line += "; shmlab B=%d is %.2fx" % (b, r)
        print(line)
    print()


def sweep(m, med):
    bs = sorted({k[4] for k in med if k[0] == "shmlab" and
                 k[1] == "queue" and k[3] == BIG and k[2] in (1, 4)})
    print("-B sweep, queue, MAXBUF %d, ledger on (M items/s):" % BIG)
    print("  %-8s" % "B" + "".join("%10s" % ("N=%d" % n) for n in (1, 4)))
    best = {}
    for b in bs:
        cells = []
        for n in (1, 4):
            v = m.get("shmlab", "queue", n, BIG, b)
            cells.append("%10s" % mps(v).strip())
            if v is not None and v > best.get(n, (0, 0))[1]:
                best[n] = (b, v)
        print("  %-8d" % b + "".join(cells))
    for n in (1, 4):
        if n in best:
            print("  best at N=%d: B=%d (%s M/s)" % (n, best[n][0],
                                                     mps(best[n][1]).strip()))
    print()


def ledger(m, med):
    print("The ledger's cost (MAXBUF %d, B=4096; ns per item = 1/rate):"
          % BIG)
    for mode in ("queue", "broadcast"):
        for n in (1, 4):
            on = m.get("shmlab", mode, n, BIG, 4096)
            off = m.get("shmlab_noverify", mode, n, BIG, 4096)
            if on is None or off is None:
                continue
            print("  %-9s N=%d: ledger on %s, off %s M/s: on/off %.2f, "
                  "%+.1f ns/item" % (mode, n, mps(on).strip(),
                                     mps(off).strip(), on / off,
                                     1e9 / on - 1e9 / off))
    print()


def issue12(m, med, env):
    """Issue 12's table (new code, and BENCH_OLD's when measured) and goals."""
    cores = None
    for line in env.splitlines():
        if line.startswith("cores: "):
            cores = int(line.split()[1])
    rows = [("shmlab queue -B 4096", "shmlab", "queue", BIG, 4096),
            ("  old (BENCH_OLD)", "shmlab_old", "queue", BIG, 4096),
            ("shmlab broadcast -B 4096", "shmlab", "broadcast", BIG, 4096),
            ("  old (BENCH_OLD)", "shmlab_old", "broadcast", BIG, 4096),
            ("shmlab queue -B 1 (textbook), MAXBUF 10", "shmlab", "queue", 10,
             1),
            ("-L slides (textbook), MAXBUF 10", "slides", "queue", 10, 1),
            ("pipe, 4 KiB writes (pipe4k)", "pipe4k", "queue", None, None),
            ("lockstep pair, 64 KiB blocks", "lockstep_65536", "queue", None,
             None),
            ("lockstep pair, 1 KiB blocks", "lockstep_1024", "queue", None,
             None)]
    print("Issue 12's table (M items/s, medians [min-max]; cores: %s):" %
          ("?" if cores is None else cores))
    print("  %-40s" % "" + "".join("%22s" % ("N=%d" % n) for n in (1, 2, 4)))
    for name, variant, mode, maxbuf, batch in rows:
        cells = []
        for n in (1, 2, 4):
            v = m.get(variant, mode, n, maxbuf, batch)
            cells.append("%22s" % ("" if v is None else mps(v).strip() +
                                   m.spread(variant, mode, n, maxbuf,
                                            batch)))
        if any(c.strip() for c in cells):
            print("  %-40s" % name + "".join(cells))
    q1 = m.get("shmlab", "queue", 1, BIG, 4096)
    q4 = m.get("shmlab", "queue", 4, BIG, 4096)
    b1 = m.get("shmlab", "broadcast", 1, BIG, 4096)
    b4 = m.get("shmlab", "broadcast", 4, BIG, 4096)
    p1 = m.get("pipe4k", "queue", 1)
    for text, r, goal in (
            ("queue N=1 / pipe4k N=1", ratio(q1, p1), 1.0),
            ("queue N=4 / queue N=1", ratio(q4, q1), 0.9),
            ("broadcast N=4 / broadcast N=1", ratio(b4, b1), 0.9)):
        print("  %-32s %s (goal >= %.1f: %s)" % (
            text, "n/a" if r is None else "%.2f" % r, goal,
            verdict(r, goal)))
    for variant, mode in (("shmlab_old", "queue"),
                          ("shmlab_old", "broadcast")):
        for n in (1, 4):
            o = m.get(variant, mode, n, BIG, 4096)
            v = m.get("shmlab", mode, n, BIG, 4096)
            r = ratio(v, o)
            if r is not None:
                print("  new / old, %-9s N=%d: %.2fx" % (mode, n, r))
    print()


def memory(work):
    path = os.path.join(work, "memory.csv")
    if not os.path.exists(path):
        return
    print("A consumer's peak RSS (queue, N=1, MAXBUF %d, B=4096; "
          "/usr/bin/time -v):" % BIG)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            seg = int(row["segment_bytes"]) // 1024
            rss = int(row["consumer_maxrss_kib"])
            print("  count %9s: peak RSS %7d KiB, segment %7d KiB, "
                  "RSS - segment %6d KiB%s" % (
                      row["count"], rss, seg, rss - seg,
                      "" if row["verified"] == "true" else " (FAILED)"))
    print()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: summarize.py WORKDIR")
    work = sys.argv[1]
    med = summarize(load(os.path.join(work, "bench.csv")))
    write_medians(os.path.join(work, "medians.csv"), med)
    m = Medians(med)
    full = any(k[2] == 64 for k in med)
    with open(os.path.join(work, "env.txt")) as f:
        env = f.read()
    sys.stdout.write(env)
    print()
    issue12(m, med, env)
    table(med)
    goals(m, med)
    sweep(m, med)
    ledger(m, med)
    memory(work)
    failed = [k for k, v in med.items() if v[2] < v[1]]
    if failed:
        print("Points with failed runs (excluded from the medians):")
        for k in sorted(failed):
            print("  %s %s N=%d maxbuf=%d B=%d: %d of %d failed" % (
                k[0], k[1], k[2], k[3], k[4], med[k][1] - med[k][2],
                med[k][1]))
        print()
    plots(work, med, full)


if __name__ == "__main__":
    main()
