# zcnet: GNU Make build. `make` builds the library and tools, `make check`
# runs every test through tests/run, `make install PREFIX=... DESTDIR=...`.
# SAN=1 builds with AddressSanitizer + UndefinedBehaviorSanitizer.

VERSION   := 0.1.0
SOVERSION := 0
PREFIX    ?= /usr/local
LIBDIR    ?= $(PREFIX)/lib
INCDIR    ?= $(PREFIX)/include
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
DESTDIR   ?=

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	    -Wpointer-arith -Wformat=2 -Wno-unused-parameter
ZC_CFLAGS := -std=gnu11 -D_GNU_SOURCE -Iinclude -Isrc $(WARN) $(CFLAGS)
LIBS     := -luring
ifeq ($(SAN),1)
ZC_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	     -fno-sanitize-recover=undefined
LDSAN    := -fsanitize=address,undefined
endif

# Sanitizer builds live apart, so `make SAN=1 check` never mixes objects
# with the normal build (or slows down the next benchmark).
B := build$(if $(filter 1,$(SAN)),-san)
LIB_SRCS   := $(wildcard src/*.c)
LIB_OBJS   := $(LIB_SRCS:src/%.c=$(B)/src/%.o)
STATIC_LIB := $(B)/libzcnet.a
SHARED_LIB := $(B)/libzcnet.so.$(VERSION)
SONAME     := libzcnet.so.$(SOVERSION)

# Every directory under tools/ is one program built from its .c files.
TOOLS      := $(notdir $(wildcard tools/*))
TOOL_BINS  := $(TOOLS:%=$(B)/%)
EXAMPLE_BINS := $(patsubst examples/%.c,$(B)/examples/%,$(wildcard examples/*.c))
# Every tests/unit/test_*.c is one cmocka binary; tests/integration/*.c are
# helper programs the integration scripts drive.
UNIT_BINS  := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))
ITEST_BINS := $(patsubst tests/integration/%.c,$(B)/tests/%,$(wildcard tests/integration/*.c))

all: $(STATIC_LIB) $(SHARED_LIB) $(TOOL_BINS) $(EXAMPLE_BINS) $(B)/zcnet.pc

$(B)/src/%.o: src/%.c $(wildcard src/*.h) include/zcnet.h
	@mkdir -p $(dir $@)
	$(CC) $(ZC_CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(STATIC_LIB): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(SHARED_LIB): $(LIB_OBJS) src/libzcnet.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=src/libzcnet.map \
		$(LDSAN) $(LDFLAGS) -o $@ $(LIB_OBJS) $(LIBS)
	ln -sf libzcnet.so.$(VERSION) $(B)/$(SONAME)
	ln -sf $(SONAME) $(B)/libzcnet.so

# Tools link the static library: they run from the build tree unchanged.
.SECONDEXPANSION:
$(B)/%: $$(wildcard tools/%/*.c) $$(wildcard tools/%/*.h) $(STATIC_LIB)
	$(CC) $(ZC_CFLAGS) -Itools/$* $(LDSAN) $(LDFLAGS) -o $@ \
		$(wildcard tools/$*/*.c) $(STATIC_LIB) $(LIBS) -lpthread -lm

$(B)/examples/%: examples/%.c $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ZC_CFLAGS) $(LDSAN) $(LDFLAGS) -o $@ $< $(STATIC_LIB) $(LIBS) -lpthread

$(B)/tests/test_%: tests/unit/test_%.c $(wildcard tests/unit/*.h) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ZC_CFLAGS) $(LDSAN) $(LDFLAGS) -o $@ $< $(STATIC_LIB) $(LIBS) -lcmocka -lpthread

$(B)/tests/%: tests/integration/%.c $(wildcard tests/integration/*.h) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ZC_CFLAGS) $(LDSAN) $(LDFLAGS) -o $@ $< $(STATIC_LIB) $(LIBS) -lpthread

# The .pc file records the install paths: regenerate it on every run and
# replace it only when PREFIX, LIBDIR or INCDIR changed its contents.
$(B)/zcnet.pc: zcnet.pc.in Makefile FORCE
	@mkdir -p $(B)
	@sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCDIR@|$(INCDIR)|' -e 's|@VERSION@|$(VERSION)|' $< > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi

FORCE:

tests: all $(UNIT_BINS) $(ITEST_BINS)

# Installs missing Debian packages (as root) or says which are missing.
deps:
	@scripts/deps.sh

# The README's quick start: `make demo` and `make check` on a fresh machine.
demo: deps
	$(MAKE) all
	$(B)/zcperf

# TESTS="rx_veth unit/test_rx" narrows the run.
check: deps
	$(MAKE) tests
	ZC_BUILD=$(CURDIR)/$(B) tests/run $(TESTS)

install: all
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR) $(DESTDIR)$(BINDIR)
	install -m 644 $(STATIC_LIB) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(SHARED_LIB) $(DESTDIR)$(LIBDIR)/
	ln -sf libzcnet.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libzcnet.so
	install -m 644 include/zcnet.h $(DESTDIR)$(INCDIR)/
	install -m 644 $(B)/zcnet.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	install -m 755 $(TOOL_BINS) $(DESTDIR)$(BINDIR)/
	for m in $(wildcard man/*.[0-9]); do \
		s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libzcnet.a $(DESTDIR)$(LIBDIR)/libzcnet.so* \
	      $(DESTDIR)$(LIBDIR)/pkgconfig/zcnet.pc $(DESTDIR)$(INCDIR)/zcnet.h \
	      $(addprefix $(DESTDIR)$(BINDIR)/,$(TOOLS))
	for m in $(notdir $(wildcard man/*.[0-9])); do \
		rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$$m; done

format:
	clang-format -i $(wildcard src/*.[ch] include/*.h tools/*/*.[ch] tests/*/*.[ch] examples/*.c)

clean:
	rm -rf $(B)

.PHONY: FORCE all deps demo tests check install uninstall format clean
