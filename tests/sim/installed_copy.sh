#!/bin/sh
# The plugin as a user of an installed byzgrid builds it: `cmake --install` into a temporary prefix, then the
# example compiled with nothing but `pkg-config --cflags --libs byzgrid`, run against the installed data,
# platform and scenario. Usage: installed_copy.sh BUILD_DIR SOURCE_DIR [EXTRA_CFLAGS] (the sanitizer build passes
# its -fsanitize flags: its installed libraries need the runtime)
set -eu
build=$1
src=$2
extra=${3:-}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cmake --install "$build" --prefix "$t/prefix" > "$t/install.log"
pc=$(find "$t/prefix" -name byzgrid.pc | head -n 1)
test -n "$pc" || { echo "installed_copy: no byzgrid.pc under the prefix" >&2; exit 1; }
test -f "$t/prefix/include/byzgrid/bg_plugin.h" || { echo "installed_copy: bg_plugin.h not installed" >&2; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")"
cp "$src/examples/embed_jobs.c" "$t/embed_jobs.c"
# shellcheck disable=SC2046
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror -O2 $extra "$t/embed_jobs.c" -o "$t/embed_jobs" $(pkg-config --cflags --libs byzgrid)
share="$t/prefix/share/byzgrid"
cd "$t"
BYZGRID_DATA_DIR="$share/data" ./embed_jobs "$share/platforms/star-hetero.xml" \
    "q=$share/scenarios/quickstart.ini:$t/q" > out.txt
cat out.txt
grep -q '^q: 1000 rounds, simulated 532.757 s, test_acc 0.8444$' out.txt
test -s "$t/q/trace.csv" && test -s "$t/q/summary.json"
echo "installed_copy: ok"
