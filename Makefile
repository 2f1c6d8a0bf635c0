# Link Loom — build, test, install.
#
#   make                 libloom and every program, warnings are errors
#   make check           every test (unit + bats), ends with "N passed, N failed"
#   make check-asan      unit and CLI tests built with ASan + UBSan
#   make check-asan-daemons  the daemons built so, under the bats files;
#                        any sanitizer report in any process fails it
#   make check-valgrind  unit tests under valgrind (leaks are errors), and
#                        the threaded time zone test under helgrind
#   make check-tsan      the threaded time zone test built with clang's
#                        ThreadSanitizer
#   make check-fuzz      every fuzz target (tests/fuzz/README), FUZZ_TIME
#                        seconds each (clang with libFuzzer; skipped without)
#   make stress          tests/stress.bats at full size: 60 fan-outs of
#                        10,000 tasks beside one busy loop per CPU (LOOM_STRESS_*
#                        in the environment change it)
#   make bench           benchmarks, figures printed beside their targets
#   make sdk-java        the Java SDK with javac into $(BUILD)/sdk/java (the
#                        C SDK, libloomclient, is part of make)
#   make deps            install the Debian packages the build and tests need,
#                        and the web UI's npm packages (npm ci in ui/)
#   make ui              the web UI only (ui/, React + Vite): npm ci when
#                        ui/package-lock.json changed, npm run build into
#                        ui/dist, copied to $(BUILD)/share/loom/ui where
#                        $(BUILD)/bin/loom-api finds it; skipped without npm
#   make install PREFIX=/usr/local DESTDIR=
#                        programs in bin, daemons in sbin, units where
#                        pkg-config's systemd says (UNITDIR=), sysusers.d
#                        and tmpfiles.d files, /etc/loom/loom.conf if absent;
#                        libloomclient and its libloomclient.pc in
#                        LIBDIR= (PREFIX/lib), loom/client.h in PREFIX/include
#   make deb             the Debian package (debian/) into $(BUILD)/deb,
#                        with the web UI as make ui built it
#   make lint            mandoc -Tlint on every man page, clang-format
#                        --dry-run on every C file, no function over 80
#                        lines without a reason
#   make format [FILES=…] clang-format the given files, or the whole tree
#                        (SQL built from literals and macros is fenced with
#                        clang-format off/on)
#
# CC=clang works as well as the default gcc.  BUILD= moves the build tree.

CC	?= cc
BUILD	?= build
PREFIX	?= /usr/local
DESTDIR	?=
BINDIR	 = $(PREFIX)/bin
SBINDIR	 = $(PREFIX)/sbin
MANDIR	 = $(PREFIX)/share/man
DATADIR	 = $(PREFIX)/share/loom
SYSCONFDIR ?= /etc
# where systemd looks (/lib/systemd/system on Debian 12, whatever PREFIX)
UNITDIR	?= $(or $(shell pkg-config --variable=systemdsystemunitdir systemd \
	   2>/dev/null),$(PREFIX)/lib/systemd/system)
SYSUSERSDIR ?= $(or $(shell pkg-config --variable=sysusersdir systemd \
	   2>/dev/null),$(PREFIX)/lib/sysusers.d)
TMPFILESDIR ?= $(or $(shell pkg-config --variable=tmpfilesdir systemd \
	   2>/dev/null),$(PREFIX)/lib/tmpfiles.d)
BASHCOMPDIR = $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR = $(PREFIX)/share/zsh/site-functions
LIBDIR	 = $(PREFIX)/lib
INCDIR	 = $(PREFIX)/include
PKGCONFIGDIR = $(LIBDIR)/pkgconfig

VERSION	:= $(shell cat VERSION 2>/dev/null || echo 0.0.0)
PKGS	 = yaml-0.1 libcurl libpq inih libmicrohttpd libsystemd libcrypto \
	   libmongoc-1.0

CFLAGS	?= -O2 -g
CFLAGS	+= -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
	   -Wstrict-prototypes -Wmissing-prototypes -D_GNU_SOURCE \
	   -DLOOM_VERSION='"$(VERSION)"' -DLOOM_DATADIR='"$(DATADIR)"' \
	   -Ilib -I. $(SANFLAGS) \
	   $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# Each program needs only the libraries it uses (gcc on Debian says so by
# default, clang does not): libmongoc, loaded, makes a /dev/shm/mongoc-PID
# file at start and prints a warning when a killed process left one for
# the same pid, so only loom-api and loom-log may load it.
LDFLAGS	+= $(SANFLAGS) -Wl,--as-needed
LDLIBS	+= $(shell pkg-config --libs $(PKGS) 2>/dev/null) -ljq -lonig -lm

# lib/core/ is the pure core: its own archive, linkable with libc, libyaml
# and libjq alone (tests/core.bats proves it).  lib/util, lib/net,
# lib/store and lib/run are libloom; a daemon's own code is cmd/<daemon>/.
CORE_SRC = $(wildcard lib/core/*.c)
CORE_OBJ = $(CORE_SRC:%.c=$(BUILD)/%.o)
LIBCORE	 = $(BUILD)/libloomcore.a
LIB_SRC	 = $(wildcard lib/util/*.c lib/net/*.c lib/store/*.c lib/run/*.c)
LIB_OBJ	 = $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/schema_sql.o
SCHEMA_SQL = $(sort $(wildcard schema/[0-9]*.sql))
LIBLOOM	 = $(BUILD)/libloom.a
LIBS_ALL = $(LIBLOOM) $(LIBCORE)

PROGS	 = $(notdir $(patsubst %/,%,$(wildcard cmd/*/)))
PROG_BIN = $(PROGS:%=$(BUILD)/bin/%)

UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

MAN_PAGES = $(wildcard man/*.[1-8])

# The daemons go to sbin; loom and the sample backend to bin.
DAEMONS	 = $(filter-out loom,$(PROGS))

# systemd units: systemd/*.in with @SBINDIR@ filled in.  make builds them
# into $(BUILD)/systemd pointing at $(BUILD)/bin (systemd-analyze verify
# and tests/units.bats check those); make install writes them again for
# $(SBINDIR).
UNIT_IN	 = $(wildcard systemd/*.in)
UNITS	 = $(UNIT_IN:systemd/%.in=$(BUILD)/systemd/%)
$(BUILD)/systemd/%: systemd/%.in
	@mkdir -p $(dir $@)
	sed 's|@SBINDIR@|$(abspath $(BUILD))/bin|g' $< > $@.tmp && mv $@.tmp $@
all tests: $(UNITS)

.PHONY: ui all sdk-java check check-unit check-bats check-asan check-asan-daemons \
	check-valgrind check-fuzz \
	check-tsan stress bench \
	deps install uninstall deb lint lint-man lint-format lint-functions format \
	clean \
	tests

all: $(PROG_BIN) ui

# The web UI (ui/README.md).  npm ci runs again only when the lockfile
# changed; the build only when a source did.
UI_SRC	 = $(shell find ui/src ui/index.html ui/vite.config.ts \
	   ui/tsconfig.json ui/package.json -type f 2>/dev/null)
UI_STAMP = ui/node_modules/.package-lock.json
UI_OUT	 = $(BUILD)/share/loom/ui/index.html

ui:
	@if [ "$(UI_BUILD)" = no ]; then \
	    echo "ui: not built (UI_BUILD=no): ui/dist is installed as it is"; \
	elif command -v npm >/dev/null 2>&1; then \
	    $(MAKE) --no-print-directory $(UI_OUT); \
	else echo "ui: skipped: npm not found (make deps installs it)"; fi

$(UI_STAMP): ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund
	@touch $@

ui/dist/index.html: $(UI_SRC) $(UI_STAMP)
	cd ui && npm run build
	@touch $@

$(UI_OUT): ui/dist/index.html
	@rm -rf $(BUILD)/share/loom/ui
	@mkdir -p $(BUILD)/share/loom
	cp -R ui/dist $(BUILD)/share/loom/ui

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

# schema.list names the migrations the embedded schema was made from, and
# is written again (when make reads this file) only when that set changes:
# a migration renamed or removed makes the schema again too, not only one
# added or changed.
SCHEMA_LIST = $(BUILD)/gen/schema.list
$(shell mkdir -p $(BUILD)/gen && { echo '$(SCHEMA_SQL)' | \
    cmp -s - $(SCHEMA_LIST) || echo '$(SCHEMA_SQL)' >$(SCHEMA_LIST); })

$(BUILD)/gen/schema_sql.c: $(SCHEMA_SQL) $(SCHEMA_LIST) \
    contrib/embed-schema.sh
	@mkdir -p $(dir $@)
	contrib/embed-schema.sh $(SCHEMA_SQL) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/schema_sql.o: $(BUILD)/gen/schema_sql.c
	$(CC) $(CFLAGS) -Wno-missing-variable-declarations -c -o $@ $<

$(LIBLOOM): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(LIBCORE): $(CORE_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# Each program is its main.o plus an archive of the rest of cmd/<name>/
# (tests link a daemon's archive to test its parts).
define PROG_RULE
$(BUILD)/cmd/$(1).a: $(patsubst %.c,$(BUILD)/%.o,$(filter-out cmd/$(1)/main.c,$(wildcard cmd/$(1)/*.c)))
	@rm -f $$@
	$$(AR) rcs $$@ $$^
$(BUILD)/bin/$(1): $(BUILD)/cmd/$(1)/main.o $(BUILD)/cmd/$(1).a $(LIBS_ALL)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach p,$(PROGS),$(eval $(call PROG_RULE,$(p))))
CMD_LIBS = $(PROGS:%=$(BUILD)/cmd/%.a)

# The sample's user backend (contrib/examples/backend/), run by `loom up`.
EXAMPLE_BACKEND = $(BUILD)/bin/loom-example-backend
$(EXAMPLE_BACKEND): $(BUILD)/contrib/examples/backend/example-backend.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
all tests: $(EXAMPLE_BACKEND)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(CMD_LIBS) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< -Wl,--start-group $(CMD_LIBS) $(LIBS_ALL) \
	    -Wl,--end-group $(LDLIBS)

# The HTTP user backend the bats tests talk to (tests/backend/).
TEST_BACKEND = $(BUILD)/tests/loom-test-backend
$(TEST_BACKEND): $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/backend/*.c)) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# libloomclient, the C SDK (sdk/c/, libloomclient(3)): its own files plus
# lib/net's HTTP client, event-stream parser and signature, built -fPIC into
# an archive of one object and a shared library, both exporting loom_*
# alone (objcopy -G and a version script) so lib/'s names cannot clash
# with a user's.  Its unit test and examples link nothing else of Link Loom.
SDKC_SRC = $(wildcard sdk/c/src/*.c) lib/net/client.c lib/net/sse.c \
	   lib/net/sign.c lib/util/digest.c lib/core/buf.c lib/core/xalloc.c
SDKC_OBJ = $(SDKC_SRC:%.c=$(BUILD)/sdkc/%.o)
SDKC_LIBS = -lcurl -lmicrohttpd -lcrypto -ljq -lonig -lpthread
SDKC_SONAME = libloomclient.so.1
SDKC_ALL = $(BUILD)/libloomclient.a $(BUILD)/$(SDKC_SONAME) \
	   $(BUILD)/libloomclient.so $(BUILD)/tests/test_sdk_c \
	   $(BUILD)/tests/sdk-c-live \
	   $(BUILD)/sdk/c/loom-c-example-backend $(BUILD)/sdk/c/loom-c-quickstart

$(BUILD)/sdkc/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -Isdk/c/include -MMD -MP -c -o $@ $<

$(BUILD)/sdkc/libloomclient.o: $(SDKC_OBJ)
	$(LD) -r -o $@.tmp $^
	objcopy -w -G 'loom_*' $@.tmp $@ && rm -f $@.tmp

$(BUILD)/libloomclient.a: $(BUILD)/sdkc/libloomclient.o
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/$(SDKC_SONAME): $(SDKC_OBJ) sdk/c/libloomclient.map
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(SDKC_SONAME) \
	    -Wl,--version-script=sdk/c/libloomclient.map -o $@ $(SDKC_OBJ) \
	    $(SDKC_LIBS)

$(BUILD)/libloomclient.so: $(BUILD)/$(SDKC_SONAME)
	ln -sf $(SDKC_SONAME) $@

$(BUILD)/sdkc/sdk/c/tests/test_sdk_c.o: \
    CFLAGS += -DSDK_TEST_DATA='"$(abspath sdk/c/tests/data)"'
$(BUILD)/tests/test_sdk_c: $(BUILD)/sdkc/sdk/c/tests/test_sdk_c.o \
    $(BUILD)/libloomclient.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(SDKC_LIBS)

$(BUILD)/tests/sdk-c-live: $(BUILD)/sdkc/sdk/c/tests/sdk_c_live.o \
    $(BUILD)/libloomclient.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(SDKC_LIBS)

$(BUILD)/sdk/c/%: $(BUILD)/sdkc/sdk/c/examples/%.o $(BUILD)/libloomclient.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(SDKC_LIBS)

all tests: $(SDKC_ALL)

# The Java SDK (sdk/java/) with javac alone; tests/sdk-java.bats runs it.
sdk-java:
	sdk/java/build.sh $(BUILD)/sdk/java

tests: $(UNIT_BIN) $(PROG_BIN) $(TEST_BACKEND) ui

check: tests
	@BUILD=$(BUILD) tests/run-tests.sh

check-unit: tests
	@BUILD=$(BUILD) tests/run-tests.sh unit

check-bats: tests
	@BUILD=$(BUILD) tests/run-tests.sh bats

# Large fan-outs on two engines and two executors until every run has
# finished with every task row (tests/stress.bats; make check runs it small).
stress: tests
	LOOM_BIN=$(abspath $(BUILD))/bin \
	LOOM_STRESS_RUNS=$${LOOM_STRESS_RUNS:-60} \
	LOOM_STRESS_TASKS=$${LOOM_STRESS_TASKS:-10000} \
	LOOM_STRESS_PARALLEL=$${LOOM_STRESS_PARALLEL:-4} \
	LOOM_STRESS_HOGS=$${LOOM_STRESS_HOGS:-$$(nproc)} \
	    bats tests/stress.bats

check-asan:
	$(MAKE) BUILD=build-asan CC=clang \
	    SANFLAGS='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' \
	    tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    BUILD=build-asan tests/run-tests.sh unit cli

# The daemons built the same way, under every bats file that can run them
# (tests/run-tests.sh asan): any report of ASan, LeakSanitizer or UBSan, in
# any process, fails it, whether or not its test noticed.
ASAN_LOGS = build-asan/asan-logs
check-asan-daemons:
	$(MAKE) BUILD=build-asan CC=clang \
	    SANFLAGS='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' \
	    tests
	rm -rf $(ASAN_LOGS) && mkdir -p $(ASAN_LOGS)
	ASAN_OPTIONS=detect_leaks=1:log_path=$(CURDIR)/$(ASAN_LOGS)/asan:log_exe_name=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$(CURDIR)/$(ASAN_LOGS)/ubsan:log_exe_name=1 \
	    BUILD=build-asan tests/run-tests.sh asan
	@if [ -n "$$(ls $(ASAN_LOGS))" ]; then \
		for f in $(ASAN_LOGS)/*; do echo "--- $$f"; head -40 "$$f"; done; \
		echo "check-asan-daemons: sanitizer reports above"; exit 1; \
	fi

check-valgrind: tests
	@BUILD=$(BUILD) VALGRIND=1 tests/run-tests.sh unit
	valgrind -q --tool=helgrind --error-exitcode=99 \
	    $(BUILD)/tests/test_tz_threads >/dev/null

# Fire times in several threads at once (loom-api's workers) race on
# nothing: the test built with ThreadSanitizer fails on the first race.
check-tsan:
	$(MAKE) BUILD=build-tsan CC=clang \
	    SANFLAGS='-fsanitize=thread -fno-omit-frame-pointer' \
	    build-tsan/tests/test_tz_threads
	TSAN_OPTIONS=halt_on_error=1:exitcode=66 build-tsan/tests/test_tz_threads

# The fuzz targets (tests/fuzz/fuzz_*.c, tests/fuzz/README) and libloom
# built again with clang's coverage and sanitizers.  Each target runs for
# FUZZ_TIME seconds on its seeds (tests/fuzz/corpus/NAME) and the inputs
# that once crashed (tests/fuzz/regress/NAME); new inputs go to
# $(FUZZ)/corpus/NAME, crashes to $(FUZZ)/NAME-crash-*.  FUZZ_TARGETS= picks
# some.  tests/fuzz.bats replays the same files through fuzz-replay
# programs built with $(CC) by `make tests`.
FUZZ_CC	?= clang
FUZZ_TIME ?= 60
# The longest input libFuzzer makes.  fuzz_sse parses each stream three
# ways, one byte at a time among them, so its time grows with the length;
# the parser works a byte and a line at a time and fails only past
# SSE_MAX_LINE (16 MiB, beyond any length here), so 4 KiB streams reach
# all it does, at some ten times the executions of 64 KiB ones.
FUZZ_MAX_LEN = 65536
FUZZ_MAX_LEN_sse = 4096
FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ	 = $(BUILD)/fuzz
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all \
	   -fno-omit-frame-pointer
FUZZ_SRC = $(CORE_SRC) $(LIB_SRC) \
	   $(filter-out %/main.c,$(wildcard cmd/loom-api/*.c cmd/loom-log/*.c))
FUZZ_OBJ = $(FUZZ_SRC:%.c=$(FUZZ)/%.o) $(FUZZ)/gen/schema_sql.o

$(FUZZ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_SAN) -c -o $@ $<

$(FUZZ)/gen/schema_sql.o: $(BUILD)/gen/schema_sql.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS) -Wno-missing-variable-declarations $(FUZZ_SAN) \
	    -c -o $@ $<

$(FUZZ)/libfuzzloom.a: $(FUZZ_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ)/fuzz_%: $(FUZZ)/tests/fuzz/fuzz_%.o $(FUZZ)/libfuzzloom.a
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(LDLIBS)

check-fuzz:
	@if ! printf 'int LLVMFuzzerTestOneInput(const char *d, long n)%s\n' \
	    '{ return 0; }' | $(FUZZ_CC) -fsanitize=fuzzer -x c -o /dev/null - \
	    2>/dev/null; then \
	    echo "check-fuzz: skipped: $(FUZZ_CC) has no libFuzzer" \
	        "(Debian: clang and libclang-rt-14-dev, see make deps)"; \
	    exit 0; fi; \
	$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=$(FUZZ)/fuzz_%) && \
	for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ)/corpus/$$t tests/fuzz/regress/$$t && \
	    echo "check-fuzz: $$t, $(FUZZ_TIME) s" && \
	    ASAN_OPTIONS=detect_leaks=1 $(FUZZ)/fuzz_$$t \
	        -max_total_time=$(FUZZ_TIME) -timeout=60 -rss_limit_mb=2048 \
	        -max_len=$$(case $$t in sse) echo $(FUZZ_MAX_LEN_sse);; \
	            *) echo $(FUZZ_MAX_LEN);; esac) -print_final_stats=1 \
	        -artifact_prefix=$(FUZZ)/$$t- \
	        $$(test -f tests/fuzz/$$t.dict && echo -dict=tests/fuzz/$$t.dict) \
	        $(FUZZ)/corpus/$$t tests/fuzz/corpus/$$t \
	        tests/fuzz/regress/$$t || exit 1; \
	done

# The same targets, without libFuzzer: a main() that runs each file named.
$(BUILD)/tests/fuzz-replay/%: $(BUILD)/tests/fuzz/fuzz_%.o \
    $(BUILD)/tests/fuzz/replay.o $(CMD_LIBS) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) -Wl,--start-group $(CMD_LIBS) \
	    $(LIBS_ALL) -Wl,--end-group $(LDLIBS)
FUZZ_REPLAY = $(FUZZ_TARGETS:%=$(BUILD)/tests/fuzz-replay/%)
tests: $(FUZZ_REPLAY)

$(BUILD)/bench/%: $(BUILD)/contrib/bench/%.o $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench: all $(BUILD)/bench/dagbench $(BUILD)/bench/noopd
	contrib/bench/run $(BUILD)

# tests/bench-peers.bats runs the harness at a toy size in make check
tests: $(BUILD)/bench/noopd

deps:
	@contrib/deps.sh
	@$(MAKE) --no-print-directory $(UI_STAMP)

# What tests/lint.bats checks too (so make check runs it): the man pages,
# the C style of .clang-format, and no function over 80 lines without a
# "Long: why" comment above it (contrib/lint/long-functions.sh).
C_FILES	 = $(shell git ls-files '*.c' '*.h' 2>/dev/null || \
	   find cmd lib tests contrib -name '*.[ch]')

lint: lint-man lint-format lint-functions

lint-format:
	clang-format --dry-run -Werror $(C_FILES)

lint-man:
	mandoc -Tlint -W warning $(MAN_PAGES)

lint-functions:
	contrib/lint/long-functions.sh 80

format:
	clang-format -i $(or $(FILES),$(C_FILES))

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DATADIR)/schema \
	    $(DESTDIR)$(DATADIR)/examples $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/loom \
	    $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	install -m 755 $(BUILD)/bin/loom $(EXAMPLE_BACKEND) $(DESTDIR)$(BINDIR)
	install -m 755 $(DAEMONS:%=$(BUILD)/bin/%) $(DESTDIR)$(SBINDIR)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR)/loom
	install -m 644 $(BUILD)/libloomclient.a $(DESTDIR)$(LIBDIR)
	install -m 755 $(BUILD)/$(SDKC_SONAME) $(DESTDIR)$(LIBDIR)
	ln -sf $(SDKC_SONAME) $(DESTDIR)$(LIBDIR)/libloomclient.so
	install -m 644 sdk/c/include/loom/client.h $(DESTDIR)$(INCDIR)/loom
	install -d $(DESTDIR)$(PKGCONFIGDIR)
	sed -e 's|@PREFIX@|$(PREFIX)|' \
	    -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|' \
	    -e 's|@INCDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCDIR))|' \
	    -e 's|@VERSION@|$(VERSION)|' sdk/c/libloomclient.pc.in \
	    >$(DESTDIR)$(PKGCONFIGDIR)/libloomclient.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/libloomclient.pc
	for m in $(MAN_PAGES); do \
	    s=$${m##*.}; install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	install -m 644 schema/*.sql schema/*.json schema/*.yaml \
	    $(DESTDIR)$(DATADIR)/schema
	install -m 644 contrib/completions/loom.bash \
	    $(DESTDIR)$(BASHCOMPDIR)/loom
	install -m 644 contrib/completions/_loom $(DESTDIR)$(ZSHCOMPDIR)/_loom
	install -m 644 contrib/examples/*.yaml $(DESTDIR)$(DATADIR)/examples
	install -m 644 contrib/deploy/loom.conf $(DESTDIR)$(DATADIR)/loom.conf.example
	[ -e $(DESTDIR)$(SYSCONFDIR)/loom/loom.conf ] || \
	    install -m 644 contrib/deploy/loom.conf \
	        $(DESTDIR)$(SYSCONFDIR)/loom/loom.conf
	if [ -f ui/dist/index.html ]; then \
	    rm -rf $(DESTDIR)$(DATADIR)/ui && \
	    cp -R ui/dist $(DESTDIR)$(DATADIR)/ui && \
	    chmod -R u=rwX,go=rX $(DESTDIR)$(DATADIR)/ui; fi
	for u in $(UNIT_IN); do n=$${u##*/}; n=$${n%.in}; \
	    sed 's|@SBINDIR@|$(SBINDIR)|g' $$u > $(DESTDIR)$(UNITDIR)/$$n; \
	    chmod 644 $(DESTDIR)$(UNITDIR)/$$n; done
	install -m 644 systemd/loom.sysusers $(DESTDIR)$(SYSUSERSDIR)/loom.conf
	install -m 644 systemd/loom.tmpfiles $(DESTDIR)$(TMPFILESDIR)/loom.conf

# The configuration file stays when it was changed.
uninstall:
	for p in loom loom-example-backend; do \
	    rm -f $(DESTDIR)$(BINDIR)/$$p; done
	for p in $(DAEMONS); do rm -f $(DESTDIR)$(SBINDIR)/$$p; done
	for m in $(MAN_PAGES); do \
	    s=$${m##*.}; rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done
	! cmp -s contrib/deploy/loom.conf $(DESTDIR)$(SYSCONFDIR)/loom/loom.conf || \
	    rm -f $(DESTDIR)$(SYSCONFDIR)/loom/loom.conf
	-rmdir $(DESTDIR)$(SYSCONFDIR)/loom 2>/dev/null
	rm -rf $(DESTDIR)$(DATADIR) $(DESTDIR)$(INCDIR)/loom
	rm -f $(DESTDIR)$(LIBDIR)/libloomclient.a \
	    $(DESTDIR)$(LIBDIR)/libloomclient.so $(DESTDIR)$(LIBDIR)/$(SDKC_SONAME) \
	    $(DESTDIR)$(PKGCONFIGDIR)/libloomclient.pc
	rm -f $(DESTDIR)$(BASHCOMPDIR)/loom $(DESTDIR)$(ZSHCOMPDIR)/_loom
	for u in $(UNIT_IN); do n=$${u##*/}; \
	    rm -f $(DESTDIR)$(UNITDIR)/$${n%.in}; done
	rm -f $(DESTDIR)$(SYSUSERSDIR)/loom.conf $(DESTDIR)$(TMPFILESDIR)/loom.conf

# A Debian package from this tree (debian/, dpkg-buildpackage), into
# $(BUILD)/deb; tests/deb.bats installs it into a throwaway root.
deb: ui
	DEB_BUILD_OPTIONS="parallel=$$(nproc) $$DEB_BUILD_OPTIONS" \
	    contrib/deploy/build-deb $(BUILD)/deb

clean:
	rm -rf build build-asan ui/dist

.SECONDARY:

-include $(LIB_OBJ:.o=.d) $(CORE_OBJ:.o=.d) $(SDKC_OBJ:.o=.d) $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%.d) \
	$(patsubst %.c,$(BUILD)/%.d,$(wildcard cmd/*/*.c tests/fuzz/*.c))
