#!/bin/sh
# One command: install what is needed, build, install, run the whole suite.
set -e
cd "$(dirname "$0")"
./deps.sh
make
make install
exec make --no-print-directory test
