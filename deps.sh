#!/bin/sh
# Installs every Debian package pgdts needs to build, package (make deb:
# debhelper, pg_buildext, lintian; promtool from prometheus checks the alert
# rules), test (pg-bsd-indent: the plugin's C in pgindent's format; clang
# and its libFuzzer/sanitizer runtimes: applier/fuzz), demo and bench.
# Run as root on Debian 12; safe to run again.
set -eu
PACKAGES="
  build-essential cmake pkg-config git
  postgresql-15 postgresql-client-15 postgresql-contrib postgresql-server-dev-15
  libpq-dev
  protobuf-c-compiler libprotobuf-c-dev protobuf-compiler libprotobuf-dev
  libboost-program-options-dev libpg-query-dev libspdlog-dev libfmt-dev
  libcivetweb-dev
  libgtest-dev
  clang libclang-rt-14-dev
  python3 python3-pytest python3-psycopg
  postgresql-15-wal2json pgcopydb
  procps openssl
  iproute2 nftables e2fsprogs
  debhelper postgresql-server-dev-all lintian dpkg-dev adduser
  prometheus python3-yaml
  pg-bsd-indent
"
missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# postgresql-15 must be new enough to know output_plugin_libraries (15.19+).
if [ -z "$missing" ] && ! grep -q output_plugin_libraries /usr/share/postgresql/15/postgresql.conf.sample 2>/dev/null; then
  missing="postgresql-15"
fi
if [ -n "$missing" ]; then
  echo "deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
