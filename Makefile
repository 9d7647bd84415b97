# lisod — one GNU Makefile. Variants build into build/<variant>/ so objects
# never mix: release (./lisod), asan (ASan+UBSan), fuzz (clang libFuzzer).
#   make            build ./lisod
#   make check      unit tests, fuzz-corpus replay, integration tests
#   make asan       the same suites against an ASan+UBSan build
#   make valgrind   the echo and HTTP integration tests under valgrind
#   make fuzz       run every libFuzzer target for FUZZ_SECONDS each
#   make soak       mixed load against one server for SOAK_SECONDS (120), every
#                   answer checked, RSS/fds/children back to baseline at the end
#                   (SOAK_ARGS for more options, LISOD=... for another binary;
#                   make soak-asan: the same against the ASan+UBSan build)
#   make run        build and start lisod in the foreground with its defaults
#   make bench      side-by-side benchmark (bench/run)
#   make install    the binary, man page, docs, example site and systemd units
#                   under PREFIX (/usr/local), staged in DESTDIR if given;
#                   make uninstall removes exactly those files again
# Each target first asks scripts/deps.sh for its profile of packages (check,
# asan, valgrind, fuzz, soak, build; deb for packaging/ci-deb.sh; ci for
# .ci/run): installed as root on Debian, otherwise named in one line.
# `make deps-PROFILE` runs one alone.

CC       ?= cc
PYTHON   ?= /usr/bin/python3
PKG_CONFIG ?= pkg-config
FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 120
SOAK_ARGS ?=
PYTEST_ARGS ?=

WARN     := -Wall -Wextra -Werror -Wshadow -Wconversion -Wno-sign-conversion \
            -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wundef -Wvla
CSTD     := -std=c17 -D_GNU_SOURCE
SSL_CFLAGS := $(shell $(PKG_CONFIG) --cflags openssl 2>/dev/null)
SSL_LIBS   := $(shell $(PKG_CONFIG) --libs openssl 2>/dev/null || echo -lssl -lcrypto)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)
INIH_LIBS  := $(shell $(PKG_CONFIG) --libs inih 2>/dev/null || echo -linih)
ZLIB_LIBS  := $(shell $(PKG_CONFIG) --libs zlib 2>/dev/null || echo -lz)
# HTTP/2 (src/h2.c) with libnghttp2 where pkg-config finds it; HTTP2=no
# builds without it (the h2 functions are stubs, HTTP/2 is never offered).
HTTP2      ?= auto
ifneq ($(HTTP2),no)
  NGHTTP2_LIBS := $(shell $(PKG_CONFIG) --libs libnghttp2 2>/dev/null)
endif
ifneq ($(NGHTTP2_LIBS),)
  H2_CFLAGS := -DLISOD_HTTP2=1 $(shell $(PKG_CONFIG) --cflags libnghttp2 2>/dev/null)
endif
LIBS       := $(SSL_LIBS) $(INIH_LIBS) $(ZLIB_LIBS) $(NGHTTP2_LIBS)

SRCS     := $(sort $(wildcard src/*.c))
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))

VARIANT  ?= release
B        := build/$(VARIANT)
ifeq ($(VARIANT),asan)
  VFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
else ifeq ($(VARIANT),debug)
  VFLAGS := -O0 -g
else
  VFLAGS := -O2 -g
endif
CFLAGS_ALL := $(CSTD) $(WARN) $(VFLAGS) $(SSL_CFLAGS) $(H2_CFLAGS) $(CPPFLAGS) $(CFLAGS)
LDFLAGS_ALL := $(VFLAGS) $(LDFLAGS)

LIB_OBJS  := $(LIB_SRCS:src/%.c=$(B)/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/%)

.PHONY: all check unit integ fuzz-regress asan valgrind fuzz fuzz-run soak soak-asan run bench clean deps
.PHONY: install uninstall
DEPS_PROFILES := build check asan valgrind fuzz soak deb ci
.PHONY: $(DEPS_PROFILES:%=deps-%)
all: lisod

ifeq ($(VARIANT),release)
lisod: $(B)/lisod
	@cp $< $@.tmp && mv -f $@.tmp $@   # rename: a running ./lisod is not "busy"
else
lisod: $(B)/lisod
endif

$(B)/lisod: $(B)/main.o $(LIB_OBJS)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

$(B)/liblisod.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(B)/%.o: src/%.c | $(B)
	@echo "  CC      $@"
	@$(CC) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

# A unit test may #include the .c it tests to reach static functions; the
# linker then takes that module from the test object, not from the archive.
$(B)/test_%: tests/unit/test_%.c $(B)/liblisod.a | $(B)
	$(CC) $(CFLAGS_ALL) -Wno-missing-prototypes -Isrc -MMD -MP -o $@ $< $(B)/liblisod.a $(CMOCKA_LIBS) $(LIBS)

# Replay the committed fuzz corpora and crash regressions without libFuzzer.
$(B)/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c $(B)/liblisod.a | $(B)
	$(CC) $(CFLAGS_ALL) -Wno-missing-prototypes -Isrc -o $@ $< tests/fuzz/replay_main.c $(B)/liblisod.a $(LIBS)

$(B):
	mkdir -p $@

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

fuzz-regress: $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=$(B)/replay_%)
	@set -e; for r in $^; do n=$${r##*/replay_}; \
	  $$r tests/fuzz/corpus/$$n tests/fuzz/regress/$$n; done

integ: lisod $(B)/lisod
	LISOD=$(abspath $(B)/lisod) $(PYTHON) -m pytest -q tests/integ $(PYTEST_ARGS)

# The dependencies are checked (and installed) before the sub-make reads this
# file again: pkg-config's flags are only known once it is installed.
check: deps-check
	$(MAKE) lisod
	$(MAKE) unit fuzz-regress integ

asan: deps-asan
	$(MAKE) VARIANT=asan unit fuzz-regress integ

valgrind: deps-valgrind
	$(MAKE) lisod
	LISOD_VALGRIND=1 LISOD=$(abspath build/release/lisod) $(PYTHON) -m pytest -q \
	  tests/integ -m valgrind $(PYTEST_ARGS)

FUZZ_B := build/fuzz
$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRCS)
	mkdir -p $(FUZZ_B)
	clang $(CSTD) -g -O1 -fsanitize=fuzzer,address,undefined $(SSL_CFLAGS) $(H2_CFLAGS) -Isrc \
	  -o $@ $< $(LIB_SRCS) $(LIBS)

fuzz: deps-fuzz
	$(MAKE) fuzz-run

fuzz-run: $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=$(FUZZ_B)/fuzz_%)
	@set -e; for f in $^; do n=$${f##*/fuzz_}; mkdir -p build/fuzz/corpus-$$n; \
	  dict=tests/fuzz/$$n.dict; [ -f $$dict ] || dict=tests/fuzz/http.dict; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -dict=$$dict \
	    -artifact_prefix=build/fuzz/ build/fuzz/corpus-$$n tests/fuzz/corpus/$$n; done

# The soak script's own --help lists its options (clients, workers, --skip ...).
soak: deps-soak
	$(MAKE) lisod
	LISOD=$(abspath $(or $(LISOD),lisod)) $(PYTHON) tests/soak/soak.py \
	  --seconds $(SOAK_SECONDS) $(SOAK_ARGS)

soak-asan: deps-soak
	$(MAKE) VARIANT=asan lisod
	LISOD=$(abspath build/asan/lisod) $(PYTHON) tests/soak/soak.py \
	  --seconds $(SOAK_SECONDS) $(SOAK_ARGS)

run: deps-build
	$(MAKE) lisod
	./lisod

bench: deps-build
	$(MAKE) lisod
	bench/run

# Installs what a profile needs when we can (root on Debian), otherwise names
# the missing packages in one line. `make deps` is `make deps-check`.
deps: deps-check

# CC matters to the asan profile only (clang needs libclang-rt).
$(DEPS_PROFILES:%=deps-%): deps-%:
	@CC="$(CC)" scripts/deps.sh $*

clean:
	rm -rf build lisod

# ---- install / uninstall (GNU conventions) ----------------------------------
# Every directory can be overridden on the command line; DESTDIR stages the
# whole tree elsewhere (packages: DESTDIR=debian/lisod PREFIX=/usr). Nothing
# outside these files is written: no /etc, no /var, no user, no enabling of
# units (the Debian package does those, see debian/ and docs/operations.md).
# The installed binary does not find the installed site by itself (its default
# root is the www/ beside the executable, else ./www): the units pass --root.
PREFIX      ?= /usr/local
EXEC_PREFIX ?= $(PREFIX)
BINDIR      ?= $(EXEC_PREFIX)/bin
SBINDIR     ?= $(EXEC_PREFIX)/sbin
DATAROOTDIR ?= $(PREFIX)/share
DATADIR     ?= $(DATAROOTDIR)
MANDIR      ?= $(DATAROOTDIR)/man
DOCDIR      ?= $(DATAROOTDIR)/doc/lisod
# systemd searches /usr/local/lib/systemd/system as well as /usr/lib/...;
# Debian 12's own packages use /lib/systemd/system (debian/rules says so).
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL     ?= install

SITEDIR    := $(DATADIR)/lisod/www
DOC_FILES  := README.md $(sort $(wildcard docs/*.md))
# The example site is flat (files only): install -m 0644 refuses a directory.
SITE_FILES := $(sort $(wildcard www/*))
UNIT_FILES := packaging/lisod.service packaging/lisod.socket packaging/lisod-https.socket

# The units name /usr/sbin/lisod (what the package installs, and what
# systemd-analyze verifies); another SBINDIR is written into the copies.
install: lisod
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	  $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SITEDIR) \
	  $(DESTDIR)$(SYSTEMDUNITDIR)
	$(INSTALL) -m 0755 lisod $(DESTDIR)$(SBINDIR)/lisod
	$(INSTALL) -m 0644 docs/lisod.8 $(DESTDIR)$(MANDIR)/man8/lisod.8
	$(INSTALL) -m 0644 docs/lisod.conf.5 $(DESTDIR)$(MANDIR)/man5/lisod.conf.5
	$(INSTALL) -m 0644 $(DOC_FILES) docs/lisod.conf.example $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 0644 $(SITE_FILES) $(DESTDIR)$(SITEDIR)/
	@set -e; for u in $(UNIT_FILES); do d=$(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/}; \
	  echo "  UNIT    $$d"; sed 's|/usr/sbin/lisod|$(SBINDIR)/lisod|g' $$u > $$d.tmp; \
	  chmod 0644 $$d.tmp; mv -f $$d.tmp $$d; done

# Removes the files install wrote, then lisod's own directories if they are
# empty (rmdir: a file someone added keeps its directory). Shared directories
# (sbin, man8, the unit directory, ...) stay: install may not have made them.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/lisod $(DESTDIR)$(MANDIR)/man8/lisod.8
	rm -f $(DESTDIR)$(MANDIR)/man5/lisod.conf.5
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOC_FILES)) lisod.conf.example)
	rm -f $(addprefix $(DESTDIR)$(SITEDIR)/,$(notdir $(SITE_FILES)))
	rm -f $(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(notdir $(UNIT_FILES)))
	@for d in $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SITEDIR) $(DESTDIR)$(DATADIR)/lisod; do \
	  if [ -d $$d ]; then rmdir --ignore-fail-on-non-empty $$d; fi; done

-include $(wildcard $(B)/*.d)
