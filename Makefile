# pgdts top-level build.
#
# The extension (output plugin, SQL objects) is built with PGXS against the
# pg_config on PATH (or PG_CONFIG=...); the applier `pgdts` with CMake under
# build/applier. `make && make install` builds and installs both;
# `make installcheck` runs pg_regress on a temporary instance; `make test`
# runs every suite (pg_regress, applier unit tests, pytest integration).

EXTENSION = pgdts
MODULE_big = pgdts
OBJS = \
	plugin/gen/pgdts.pb-c.o \
	plugin/pgdts.o \
	plugin/encode.o \
	plugin/record_batch.o \
	plugin/row_filter.o \
	plugin/transform.o \
	plugin/inspect.o \
	plugin/ddl_capture.o \
	plugin/ddl_statement.o \
	plugin/ddl_literals.o \
	plugin/ddl_names.o \
	plugin/ddl_settings.o \
	plugin/ddl_objects.o \
	plugin/ddl_record.o \
	plugin/ddl_rewrite.o \
	plugin/ddl_guard.o \
	plugin/ddl_identity.o
# relative to srcdir, which PGXS prefixes (pg_buildext builds in another
# directory with VPATH=<this tree>)
DATA = $(patsubst $(srcdir)/%,%,$(wildcard $(srcdir)/sql/pgdts--*.sql))
PGFILEDESC = "pgdts - protobuf logical decoding output plugin"

PG_CPPFLAGS = -I$(srcdir)/plugin -Iplugin/gen
SHLIB_LINK = -lprotobuf-c

# pg_regress runs on its own temporary instance with wal_level=logical and
# pgdts allowed as an output plugin (see test/regress/logical.conf).
REGRESS = $(patsubst test/regress/sql/%.sql,%,$(sort $(wildcard test/regress/sql/*.sql)))
REGRESS_OPTS = --inputdir=test/regress --outputdir=test/regress \
	--encoding=UTF8 --no-locale \
	--temp-instance=test/regress/tmp_check \
	--temp-config=test/regress/logical.conf \
	--load-extension=pgdts
EXTRA_CLEAN = plugin/gen test/regress/results test/regress/tmp_check \
	test/regress/log test/regress/regression.diffs test/regress/regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Generated protobuf-c code is produced at build time, never committed.
plugin/gen/pgdts.pb-c.c plugin/gen/pgdts.pb-c.h: proto/pgdts.proto
	@mkdir -p plugin/gen
	protoc-c --c_out=plugin/gen -I$(dir $<) $<

$(filter-out plugin/gen/pgdts.pb-c.o,$(OBJS)): plugin/gen/pgdts.pb-c.h $(wildcard $(srcdir)/plugin/*.h)

# ---- applier -------------------------------------------------------------

APPLIER_BUILD ?= build/applier
CMAKE_BUILD_TYPE ?= RelWithDebInfo
PREFIX ?= /usr/local

.PHONY: applier install-applier unittest test fuzz demo deb indent indent-check

# SKIP_APPLIER=1 builds and installs the extension alone.
ifneq ($(SKIP_APPLIER),1)
all: applier
install: install-applier
endif

applier:
	cmake -S applier -B $(APPLIER_BUILD) -DCMAKE_BUILD_TYPE=$(CMAKE_BUILD_TYPE) >/dev/null
	cmake --build $(APPLIER_BUILD) -j2

install-applier: applier
	install -D -m 755 $(APPLIER_BUILD)/pgdts $(DESTDIR)$(PREFIX)/bin/pgdts

unittest: applier
	cd $(APPLIER_BUILD) && ctest --output-on-failure

# The whole suite; test/run-all handles running servers as a non-root user.
test:
	test/run-all

# libFuzzer targets of the applier (applier/fuzz/README.md): built with
# clang, ASan and UBSan in build/fuzz, each run FUZZ_SECONDS in turn.
FUZZ_SECONDS ?= 300

fuzz:
	applier/fuzz/run $(FUZZ_SECONDS)

demo:
	./demo.sh

# The plugin's C in PostgreSQL's own format (pgindent's pg_bsd_indent settings).
indent: all
	tools/indent-c

indent-check: all
	tools/indent-c --check

# ---- Debian packages -----------------------------------------------------
# postgresql-15-pgdts and pgdts (debian/), into build/deb/. The plugin is
# built by pg_buildext under build/pg-15; the applier tree build/applier is
# reused, so after `make` this compiles only the plugin. Versions come from
# debian/changelog.
DEB_DIR ?= build/deb

deb:
	dpkg-buildpackage -b -us -uc --no-pre-clean -j2
	@mkdir -p $(DEB_DIR)
	@v=$$(dpkg-parsechangelog -S Version); a=$$(dpkg-architecture -qDEB_HOST_ARCH); \
	for f in ../pgdts_$${v}_$$a.deb ../postgresql-*-pgdts_$${v}_$$a.deb ../pgdts-dbgsym_$${v}_$$a.deb \
	         ../postgresql-*-pgdts-dbgsym_$${v}_$$a.deb ../pgdts_$${v}_$$a.buildinfo ../pgdts_$${v}_$$a.changes; do \
	  [ -e "$$f" ] && mv -f "$$f" $(DEB_DIR)/ || true; done
	@ls -1 $(DEB_DIR)/*.deb
