# shmlab - System V shared memory producer/consumer suite.
#
#	make			build producer/producer, consumer/consumer,
#				monitor/monitor
#	make check		build and run the whole test suite
#	make check SANITIZE=address,undefined
#	make bench		throughput benchmark (BENCH_FULL=1: whole matrix)
#	make stress		long fault and load scenarios
#	make torture		random attacks on live runs (TORTURE_ARGS=-n 1000)
#	make install		PREFIX=/usr/local DESTDIR=

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
LOCALEDIR ?= $(PREFIX)/share/locale
MSGFMT	?= msgfmt
XGETTEXT ?= xgettext
PKG_CONFIG ?= pkg-config
CC	?= cc

BSD_CFLAGS	= $(shell $(PKG_CONFIG) --cflags libbsd-overlay 2>/dev/null)
BSD_LIBS	= $(shell $(PKG_CONFIG) --libs libbsd-overlay 2>/dev/null)
CHECK_CFLAGS	= $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS	= $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

# Project flags first, the user's CFLAGS/LDFLAGS appended, never replaced.
SHM_CPPFLAGS	= -D_GNU_SOURCE -Icommon $(BSD_CFLAGS)
SHM_CFLAGS	= -std=c11 -Wall -Wextra -pedantic -O2 -g -MMD -MP
ifneq ($(SANITIZE),)
SHM_CFLAGS	+= -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
# GCC 12's UBSan checks fprintf's format for NULL, and on that branch its
# -Wformat-overflow then reports a "null format string" for every
# fprintf(fp, _(...)): a false alarm of the instrumentation, not of ours.
SHM_CFLAGS	+= -Wno-format-overflow
SHM_LDFLAGS	+= -fsanitize=$(SANITIZE)
endif
ifneq ($(WERROR),)
SHM_CFLAGS	+= -Werror
endif
# Objects depend on the flags too: SANITIZE=... must rebuild everything.
FLAGS_STAMP	= .build-flags
FLAGS_NOW	= $(CC) $(SHM_CFLAGS) $(CFLAGS) $(CPPFLAGS) $(SHM_LDFLAGS) $(LDFLAGS)
$(shell [ "$$(cat $(FLAGS_STAMP) 2>/dev/null)" = '$(FLAGS_NOW)' ] || \
  printf '%s\n' '$(FLAGS_NOW)' > $(FLAGS_STAMP))

$(FLAGS_STAMP): ;

ALL_CPPFLAGS	= $(SHM_CPPFLAGS) $(CPPFLAGS)
ALL_CFLAGS	= $(SHM_CFLAGS) $(CFLAGS)
ALL_LDFLAGS	= $(SHM_LDFLAGS) $(LDFLAGS)

LIB_SRC	= common/key.c common/seg.c common/sem.c common/ring.c \
	  common/opts.c common/names.c common/clock.c common/liveness.c \
	  common/signals.c common/protocol.c common/json.c common/report.c \
	  common/clean.c common/i18n.c common/runopts.c common/live.c \
	  common/optloop.c common/slides.c common/stall.c common/ledger.c \
	  common/take.c common/modes.c common/modetab.c
LIB_OBJ	= $(LIB_SRC:.c=.o)
LIB	= common/libshmlab.a

PROGS	= producer/producer consumer/consumer monitor/monitor grader/grader
PRODUCER_OBJ = producer/producer.o producer/limits.o producer/objects.o \
	  producer/daemon.o producer/produce.o producer/watch.o \
	  producer/finish.o producer/walkthrough.o producer/slides.o
SLIDES_OBJ = producer/slides.o consumer/slides.o monitor/slides.o
GRADER_OBJ = grader/grader.o grader/run.o grader/tests.o

TESTS	= tests/check_key tests/check_seg tests/check_ring tests/check_opts \
	  tests/check_e2e tests/check_ledger tests/check_lab tests/check_faults \
	  tests/check_distrust tests/check_grade

# The message catalogues: po/LANG.po -> locale/LANG/LC_MESSAGES/shmlab.mo,
# where the programs find them in the tree (common/i18n.c).
LINGUAS	= es
MO	= $(LINGUAS:%=locale/%/LC_MESSAGES/shmlab.mo)
# Every file whose messages are translated.
PO_SRC	= common/*.c producer/*.c consumer/*.c monitor/*.c grader/*.c

all: deps-lib $(PROGS) $(MO)

locale/%/LC_MESSAGES/shmlab.mo: po/%.po
	@mkdir -p $(@D)
	$(MSGFMT) --check -o $@ $<

# Maintainer: regenerate the template, then merge it into each language.
po/shmlab.pot: $(wildcard $(PO_SRC)) run_demo.sh
	$(XGETTEXT) -L C -k_ -kN_ -klook_around:2 -kwait_ops:4 --from-code=UTF-8 --add-comments=TRANSLATORS \
	  --package-name=shmlab -o $@ $(sort $(wildcard $(PO_SRC)))
	$(XGETTEXT) -L Shell -k -kt -ktf -ktc:1c,2 --from-code=UTF-8 --add-comments=TRANSLATORS -j -o $@ run_demo.sh

po-update: po/shmlab.pot
	for l in $(LINGUAS); do msgmerge -q -U --backup=none po/$$l.po po/shmlab.pot; done

# Installs what is missing (as root), or stops with the one command to run.
deps-lib:
	@./tests/deps.sh lib

deps-check:
	@./tests/deps.sh check

$(LIB_OBJ) $(PRODUCER_OBJ) consumer/consumer.o \
  monitor/monitor.o $(SLIDES_OBJ) $(GRADER_OBJ): | deps-lib

common/i18n.o: SHM_CPPFLAGS += -DLOCALEDIR='"$(LOCALEDIR)"'

%.o: %.c $(FLAGS_STAMP)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

# The per-claim check and fill loops (common/take.c) are written for the
# vectoriser, which -O2 runs only in its cheapest form: give it -O3 there.
common/take.o: ALL_CFLAGS += -O3

$(LIB): $(LIB_OBJ)
	$(AR) rcs $@ $(LIB_OBJ)

producer/producer: $(PRODUCER_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(PRODUCER_OBJ) $(LIB) $(BSD_LIBS)

monitor/monitor: monitor/monitor.o monitor/slides.o $(LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ monitor/monitor.o monitor/slides.o $(LIB) $(BSD_LIBS)

consumer/consumer: consumer/consumer.o consumer/slides.o $(LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ consumer/consumer.o consumer/slides.o $(LIB) $(BSD_LIBS)

# The slides' protocol grader: run_demo.sh grade (docs/slides-protocol.md).
grader/grader: $(GRADER_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(GRADER_OBJ) $(LIB) $(BSD_LIBS)

# The suites read every JSON document (reports, the monitor's, the
# grader's) with jansson, through tests/testutil.c.
JANSSON_CFLAGS	= $(shell $(PKG_CONFIG) --cflags jansson 2>/dev/null)
JANSSON_LIBS	= $(shell $(PKG_CONFIG) --libs jansson 2>/dev/null)

tests/%.o: tests/%.c $(FLAGS_STAMP)
	$(CC) $(ALL_CPPFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS) $(ALL_CFLAGS) -c -o $@ $<

tests/check_%: tests/check_%.o tests/testutil.o $(LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< tests/testutil.o $(LIB) $(CHECK_LIBS) $(JANSSON_LIBS) $(BSD_LIBS)

# The grader's suite grades the broken student programs, which are built
# like a student's: no sanitizer (its shadow memory would not fit the
# grader's RLIMIT_AS), one bug each.

STUDENT_CFLAGS	= -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra
STUDENTS	= tests/students/consumer_no_mutex tests/students/consumer_busy_wait \
		  tests/students/consumer_eats_marker tests/students/producer_no_cleanup \
		  tests/students/producer_no_excl tests/students/producer_no_empty
BUG_consumer_no_mutex	= BUG_NO_MUTEX
BUG_consumer_busy_wait	= BUG_BUSY_WAIT
BUG_consumer_eats_marker = BUG_EATS_MARKER
BUG_producer_no_cleanup	= BUG_NO_CLEANUP
BUG_producer_no_excl	= BUG_NO_EXCL
BUG_producer_no_empty	= BUG_NO_EMPTY
tests/students/consumer_%: docs/solutions/consumer.c
	$(CC) $(STUDENT_CFLAGS) -D$(BUG_consumer_$*) -o $@ $<
tests/students/producer_%: docs/solutions/producer.c
	$(CC) $(STUDENT_CFLAGS) -D$(BUG_producer_$*) -o $@ $<

# The teacher's reference solutions (docs/solutions/), in one command.
solutions:
	$(MAKE) -C docs/solutions

# Sanitizers slow the programs down: give Check's timeouts room.
ifneq ($(SANITIZE),)
CHECK_ENV	= CK_TIMEOUT_MULTIPLIER=3 SHMLAB_SANITIZED=1
endif

check: deps-check all tests/tamper $(STUDENTS) $(TESTS)
	./tests/po_check.sh
	$(CHECK_ENV) ./tests/run_tests.sh $(TESTS)

# The adversary: random kills, damage and hostile options, with seeds.
tests/tamper: tests/tamper.o $(LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ tests/tamper.o $(LIB) $(BSD_LIBS)

torture: all tests/tamper
	./tests/torture.sh $(TORTURE_ARGS)

# Minutes of load and faults: 64 consumers x 1M items with random kills.
stress: all
	./tests/stress.sh

# Throughput against baselines built with the project's flags; see
# tests/bench/ and docs/PERFORMANCE.md.  BENCH_FULL=1 runs the whole matrix.
BENCH_PROGS	= tests/bench/bench_pipe tests/bench/bench_posix \
		  tests/bench/bench_lockstep

tests/bench/bench_%: tests/bench/bench_%.c tests/bench/kids.c $(FLAGS_STAMP) | deps-lib
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< tests/bench/kids.c $(BSD_LIBS) -pthread

bench: all $(BENCH_PROGS)
	./tests/bench/bench.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(PROGS) $(DESTDIR)$(BINDIR)/
	install -m 0755 run_demo.sh $(DESTDIR)$(BINDIR)/run_demo.sh
	install -m 0644 docs/*.1 $(DESTDIR)$(MANDIR)/man1/
	for l in $(LINGUAS); do \
	  install -d $(DESTDIR)$(LOCALEDIR)/$$l/LC_MESSAGES && \
	  install -m 0644 locale/$$l/LC_MESSAGES/shmlab.mo \
	    $(DESTDIR)$(LOCALEDIR)/$$l/LC_MESSAGES/ || exit 1; \
	done

clean:
	rm -f common/*.o common/*.d $(LIB) producer/*.o producer/*.d \
	  consumer/*.o consumer/*.d monitor/*.o monitor/*.d tests/*.o tests/*.d \
	  grader/*.o grader/*.d \
	  $(PROGS) $(TESTS) tests/tamper $(STUDENTS) $(FLAGS_STAMP) $(BENCH_PROGS) tests/bench/*.d
	rm -rf locale

.SUFFIXES:
.PHONY: all check clean install deps-lib deps-check stress bench torture solutions \
	po-update
.SECONDARY: tests/testutil.o $(TESTS:=.o)

-include $(LIB_OBJ:.o=.d) $(PRODUCER_OBJ:.o=.d) \
  consumer/consumer.d monitor/monitor.d $(SLIDES_OBJ:.o=.d) $(GRADER_OBJ:.o=.d) $(wildcard tests/*.d) \
  $(wildcard tests/bench/*.d)
