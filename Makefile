# Tracer Sensor — build, test and install.
#   make            build/tracer-sensor (optimised, with debug info)
#   make run        install missing Debian packages, build, run on the default interface
#   make test       install missing packages, build with ASan+UBSan, run every test,
#                   plus the ring and pipeline under ThreadSanitizer
#   make asan|tsan  sanitizer builds in build/asan, build/tsan (unit tests included)
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean

CC      ?= cc
BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
SANFLAGS ?=
OPT     ?= -O2
PYTHON  ?= /usr/bin/python3

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
PKGS    := libpcap libcurl libcjson libcrypto zlib libmnl
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wpointer-arith -Wvla -Wformat=2 -Wno-missing-field-initializers
CPPFLAGS += -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DTRACER_VERSION='"$(VERSION)"' -I.
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 $(WARN) -pthread -MMD -MP $(SANFLAGS) \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) \
           $(shell net-snmp-config --netsnmp-libs 2>/dev/null) -pthread
LDFLAGS += $(SANFLAGS)

MODULES  := common config capture processor models sender hooks
LIB_SRCS := $(foreach m,$(MODULES),$(wildcard $(m)/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
MAIN_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard cmd/*.c))
LIB_A    := $(BUILD)/libtracer.a
BIN      := $(BUILD)/tracer-sensor
TEST_SRCS := $(wildcard tests/unit/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
DEPS     := $(LIB_OBJS:.o=.d) $(MAIN_OBJS:.o=.d) $(TEST_BINS:=.d)

ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer

.PHONY: all run test asan tsan unit unit-bins deps test-deps install clean e2e tsan-check

all: $(BIN)

$(BIN): $(MAIN_OBJS) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $(MAIN_OBJS) $(LIB_A) $(LDLIBS)

$(LIB_A): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(shell pkg-config --cflags cmocka) -o $@ $< $(LIB_A) \
	      $(LDFLAGS) $(shell pkg-config --libs cmocka) $(LDLIBS)

unit-bins: $(TEST_BINS)

# Runs every unit test binary of this $(BUILD); fails on the first failure.
unit: unit-bins
	@set -e; for t in $(TEST_BINS); do echo "== $$t"; $$t; done

deps:
	scripts/install-deps.sh

test-deps:
	scripts/install-deps.sh --test

asan:
	$(MAKE) BUILD=build/asan SANFLAGS="$(ASAN_FLAGS)" OPT=-O1 all unit-bins

tsan:
	$(MAKE) BUILD=build/tsan SANFLAGS="$(TSAN_FLAGS)" OPT=-O1 all build/tsan/tests/test_ring

# ThreadSanitizer: the ring's two-thread test and the whole pipeline on a pcap.
tsan-check: tsan
	TSAN_OPTIONS="halt_on_error=1 exitcode=66" build/tsan/tests/test_ring
	TSAN_OPTIONS="halt_on_error=1 exitcode=66" tests/tsan_pipeline.sh build/tsan/tracer-sensor

e2e:
	TRACER_BIN=$(abspath build/asan/tracer-sensor) $(PYTHON) -m pytest -q tests/e2e

test: test-deps
	$(MAKE) asan
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    $(MAKE) BUILD=build/asan SANFLAGS="$(ASAN_FLAGS)" OPT=-O1 unit
	$(MAKE) tsan-check
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(MAKE) e2e

run: deps all
	@echo "running $(BIN) (live capture needs root: use 'sudo make run' if this fails)" >&2
	$(BIN)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/tracer-sensor

clean:
	rm -rf build

-include $(DEPS)
