#!/usr/bin/env python3
"""json_check.py - validates one shmlab run report (run_demo.sh --json).

Reads exactly one JSON object on stdin with the standard library's strict
parser and checks it against the grading contract of issue 3 (docs/):

  - every key the contract lists is present with the right JSON type;
  - the object is consistent with itself: the per-consumer counts add up,
    a verified run shows no damage, exit_status is 0 exactly when the run
    is verified;
  - optional expectations given on the command line hold.

	./run_demo.sh --json | tests/json_check.py
	./run_demo.sh --json -m broadcast -n 2 | tests/json_check.py \\
	    --expect mode=broadcast --expect consumers=2 --expect verified=true
	... | tests/json_check.py --print exit_status --print checksum_expected

--expect KEY=VALUE compares a top-level member; VALUE is read as JSON when
it parses (true, 2, null, "x"), else taken as a string (queue, drop:500).
--print KEY writes the member's value as JSON on stdout, one per line, in
the order given, whether or not the checks pass.

Exit status: 0 the report is valid, 1 it is not (reasons on stderr, one a
line), 2 bad usage.  Only the standard library is used.
"""

import argparse
import json
import math
import sys

U64 = 1 << 64

# The keys issue 3 requires, with their JSON types.
INT, NUMBER, STRING, BOOL, ARRAY = "int", "number", "string", "bool", "array"
TOP_KEYS = [
    ("schema", INT),
    ("mode", STRING),
    ("consumers", INT),
    ("maxbuf", INT),
    ("count", INT),
    ("seed", INT),
    ("produced", INT),
    ("consumed", INT),
    ("lost", INT),
    ("duplicated", INT),
    ("out_of_order", INT),
    ("corrupted", INT),
    ("verified", BOOL),
    ("elapsed_s", NUMBER),
    ("items_per_s", NUMBER),
    ("exit_status", INT),
    ("per_consumer", ARRAY),
]
# Per consumer: (key, type, null allowed).
CONSUMER_KEYS = [
    ("index", INT, False),
    ("pid", INT, False),
    ("consumed", INT, False),
    ("first_seq", INT, True),  # null until the consumer took an item
    ("last_seq", INT, True),
    ("checksum", INT, False),
    ("exit_status", INT, True),  # null when nobody learnt it
]
DAMAGE = ("lost", "duplicated", "out_of_order", "corrupted")
MODES = ("queue", "broadcast")


class Report:
    """Collects the reasons why a report is not valid."""

    def __init__(self):
        self.problems = []

    def fail(self, msg):
        self.problems.append(msg)


def is_int(v):
    # bool is a subclass of int in Python; JSON true is not a number.
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v):
    # 1e999 parses as infinity: not a number a report may hold.
    return is_int(v) or (isinstance(v, float) and math.isfinite(v))


def type_ok(v, want):
    if want == INT:
        return is_int(v)
    if want == NUMBER:
        return is_number(v)
    if want == STRING:
        return isinstance(v, str)
    if want == BOOL:
        return isinstance(v, bool)
    if want == ARRAY:
        return isinstance(v, list)
    raise ValueError(want)


def no_duplicates(pairs):
    """object_pairs_hook: a key given twice is an error, not last-wins."""
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError("duplicate key %r" % k)
        obj[k] = v
    return obj


def reject_constant(name):
    """parse_constant: NaN and Infinity are not JSON."""
    raise ValueError("%s is not valid JSON" % name)


def parse(text):
    return json.loads(text, object_pairs_hook=no_duplicates,
                      parse_constant=reject_constant)


def check_types(obj, rep):
    ok = True
    for key, want in TOP_KEYS:
        if key not in obj:
            rep.fail("missing key %s" % key)
            ok = False
        elif not type_ok(obj[key], want):
            rep.fail("%s is %s, want %s" % (key, json.dumps(obj[key]), want))
            ok = False
    if not ok:
        return False
    for key, want in TOP_KEYS:
        if want in (INT, NUMBER) and obj[key] < 0:
            rep.fail("%s is negative: %s" % (key, obj[key]))
            ok = False
    if obj["mode"] not in MODES:
        rep.fail("mode is %r, want one of %s" % (obj["mode"], MODES))
        ok = False
    for i, c in enumerate(obj["per_consumer"]):
        if not isinstance(c, dict):
            rep.fail("per_consumer[%d] is not an object" % i)
            ok = False
            continue
        for key, want, nullable in CONSUMER_KEYS:
            if key not in c:
                rep.fail("per_consumer[%d] has no %s" % (i, key))
                ok = False
            elif c[key] is None and nullable:
                continue
            elif not type_ok(c[key], want):
                rep.fail("per_consumer[%d].%s is %s, want %s%s" %
                         (i, key, json.dumps(c[key]), want,
                          " or null" if nullable else ""))
                ok = False
            elif c[key] < 0:
                rep.fail("per_consumer[%d].%s is negative" % (i, key))
                ok = False
    # Optional members the report has; when present their type is fixed.
    for key, want in (("ledger", BOOL), ("unsafe", BOOL),
                      ("interrupted", BOOL), ("checksum_expected", INT),
                      ("checksum_total", INT)):
        if key in obj and not type_ok(obj[key], want):
            rep.fail("%s is %s, want %s" % (key, json.dumps(obj[key]), want))
            ok = False
    for key in ("fault", "error"):
        if key in obj and obj[key] is not None and \
                not isinstance(obj[key], str):
            rep.fail("%s is %s, want a string or null" %
                     (key, json.dumps(obj[key])))
            ok = False
    return ok


def check_consistency(obj, rep):
    pcs = obj["per_consumer"]
    verified = obj["verified"]
    if obj["consumers"] != len(pcs):
        rep.fail("consumers is %d but per_consumer has %d entries" %
                 (obj["consumers"], len(pcs)))
    # A dead consumer's unreported items count as consumed (docs/JSON.md).
    total = sum(c["consumed"] + c.get("unreported", 0) for c in pcs)
    if total != obj["consumed"]:
        rep.fail("per_consumer consumed (+ unreported) adds up to %d, "
                 "consumed is %d" % (total, obj["consumed"]))
    for i, c in enumerate(pcs):
        if c["index"] != i:
            rep.fail("per_consumer[%d].index is %d" % (i, c["index"]))
        if (c["first_seq"] is None) != (c["consumed"] == 0) or \
                (c["last_seq"] is None) != (c["consumed"] == 0):
            rep.fail("per_consumer[%d]: first_seq/last_seq must be null "
                     "exactly when consumed is 0" % i)
    if "checksum_total" in obj:
        s = sum(c["checksum"] for c in pcs) % U64
        if s != obj["checksum_total"]:
            rep.fail("per_consumer checksums add up to %d, checksum_total "
                     "is %d" % (s, obj["checksum_total"]))
    if (obj["exit_status"] == 0) != verified:
        rep.fail("exit_status is %d but verified is %s" %
                 (obj["exit_status"], json.dumps(verified)))
    if obj["exit_status"] > 3:
        rep.fail("exit_status %d is outside the contract (0..3)" %
                 obj["exit_status"])
    if not verified:
        return
    # A verified run: no damage, and every item delivered as the mode says.
    for key in DAMAGE:
        if obj[key] != 0:
            rep.fail("verified, yet %s is %d" % (key, obj[key]))
    count = obj["count"]
    per = len(pcs) if obj["mode"] == "broadcast" else 1
    if obj["produced"] != count:
        rep.fail("verified, yet produced %d of %d" % (obj["produced"], count))
    if obj["consumed"] != count * per:
        rep.fail("verified %s run, yet consumed %d, want %d" %
                 (obj["mode"], obj["consumed"], count * per))
    if not pcs:
        rep.fail("verified without a consumer")
    for i, c in enumerate(pcs):
        if obj["mode"] == "broadcast" and c["consumed"] != count:
            rep.fail("verified broadcast run, yet consumer %d took %d of "
                     "%d" % (i, c["consumed"], count))
        if c["consumed"] > 0 and not \
                c["first_seq"] <= c["last_seq"] < count:
            rep.fail("verified, yet consumer %d has first_seq %d, last_seq "
                     "%d" % (i, c["first_seq"], c["last_seq"]))
        if "checksum_expected" in obj and obj["mode"] == "broadcast" and \
                c["checksum"] != obj["checksum_expected"]:
            rep.fail("verified broadcast run, yet consumer %d has checksum "
                     "%d, want %d" % (i, c["checksum"],
                                      obj["checksum_expected"]))
    if obj.get("error") is not None or obj.get("interrupted"):
        rep.fail("verified, yet error or interrupted is set")


def expectation(arg):
    key, sep, raw = arg.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError("want KEY=VALUE, not %r" % arg)
    try:
        value = parse(raw)
    except ValueError:
        value = raw
    return key, value


def same(a, b):
    if is_number(a) and is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def main():
    ap = argparse.ArgumentParser(
        description="Validate one shmlab JSON report read on stdin.")
    ap.add_argument("--expect", action="append", default=[],
                    type=expectation, metavar="KEY=VALUE",
                    help="a top-level member must equal VALUE")
    ap.add_argument("--print", action="append", default=[], dest="show",
                    metavar="KEY", help="print a top-level member as JSON")
    args = ap.parse_args()

    text = sys.stdin.read()
    rep = Report()
    try:
        obj = parse(text)
    except ValueError as e:
        print("json_check: not one valid JSON value on stdin: %s" % e,
              file=sys.stderr)
        print("json_check: input began: %r" % text[:200], file=sys.stderr)
        return 1
    if not isinstance(obj, dict):
        print("json_check: the report is not a JSON object",
              file=sys.stderr)
        return 1
    for key in args.show:
        print(json.dumps(obj.get(key)))
    if check_types(obj, rep):
        check_consistency(obj, rep)
    for key, value in args.expect:
        if key not in obj:
            rep.fail("expected %s=%s, but there is no %s" %
                     (key, json.dumps(value), key))
        elif not same(obj[key], value):
            rep.fail("expected %s=%s, got %s" %
                     (key, json.dumps(value), json.dumps(obj[key])))
    for msg in rep.problems:
        print("json_check: %s" % msg, file=sys.stderr)
    return 1 if rep.problems else 0


if __name__ == "__main__":
    sys.exit(main())
