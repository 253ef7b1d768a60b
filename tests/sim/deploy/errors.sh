#!/bin/sh
# workers.deployment mistakes: each is one line on stderr naming the deployment file and line, exit 2, and no
# output folder. Usage: errors.sh BYZGRID SOURCE_DIR WORK_DIR
set -u
bin=$1
src=$2
work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
d=$src/tests/sim/deploy
fails=0
check() {   # name, expected fragment of the message; the deployment is $1.xml
    sed -e "s|^deployment = .*|deployment = $PWD/$1.xml|" -e "s|^file = .*|file = $src/platforms/star-hetero.xml|" \
        "$d/quickstart.ini" > "$1.ini"
    "$bin" run "$1.ini" --out "out-$1" --quiet 2> "$1.err"
    rc=$?
    lines=$(wc -l < "$1.err")
    if [ "$rc" -ne 2 ] || [ "$lines" -ne 1 ] || ! grep -qF -- "$2" "$1.err" || [ -e "out-$1" ]; then
        echo "FAIL $1: rc=$rc lines=$lines, expected '$2':"; cat "$1.err"
        fails=$((fails + 1))
    else
        echo "ok   $1: $(cat "$1.err")"
    fi
}
# one honest worker missing
grep -v 'value="5"/>' "$d/quickstart.xml" > missing.xml
check missing "missing.xml:5: 10 byzgrid_worker and 9 byzgrid_byzantine actors for job 'qs', but the scenario has 11 honest and 9 Byzantine"
# a Byzantine rank on a host the platform does not have
sed 's/host="w19"/host="nohost"/' "$d/quickstart.xml" > unknown.xml
check unknown "unknown.xml:26: host 'nohost' of byzgrid_byzantine rank 19 is not in platform"
# an honest rank under the Byzantine function
sed 's/byzgrid_worker"><argument value="qs"\/><argument value="3"/byzgrid_byzantine"><argument value="qs"\/><argument value="3"/' \
    "$d/quickstart.xml" > role.xml
check role "role.xml:10: <actor host=\"w3\" function=\"byzgrid_byzantine\">: rank 3 is an honest rank"
# a rank twice
sed 's/<argument value="4"\/>/<argument value="3"\/>/' "$d/quickstart.xml" > twice.xml
check twice "twice.xml:11: <actor host=\"w4\" function=\"byzgrid_worker\">: rank 3 is deployed twice (also on line 10)"
# an actor byzgrid run cannot start
sed 's|</platform>|  <actor host="w0" function="mine"/>\n</platform>|' "$d/quickstart.xml" > foreign.xml
check foreign "foreign.xml:27: <actor host=\"w0\" function=\"mine\">: not a byzgrid actor"
# not XML
printf 'garbage<' > broken.xml
check broken "broken.xml:1: not well-formed XML"
# workers.hosts as well
sed 's|^\[workers\]|[workers]\nhosts = w0..w19|' "$d/quickstart.ini" > both.tmp && cp "$d/quickstart.xml" both.xml
sed -e "s|^deployment = .*|deployment = $PWD/both.xml|" -e "s|^file = .*|file = $src/platforms/star-hetero.xml|" \
    both.tmp > both.ini
"$bin" run both.ini --out out-both --quiet 2> both.err
rc=$?
if [ "$rc" -ne 2 ] || [ "$(wc -l < both.err)" -ne 1 ] || ! grep -q "workers.hosts and workers.deployment both place actors" both.err; then
    echo "FAIL both:"; cat both.err; fails=$((fails + 1))
else
    echo "ok   both: $(cat both.err)"
fi
exit $fails
