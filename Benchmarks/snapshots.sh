#!/usr/bin/env bash
# Snapshot benchmark (issue: snapshot store): Cairn on a 3-of-10 local grid against restic (its own local
# repository) and git, on the realistic dataset and its day-2 change, all in one run.
#
#   Benchmarks/snapshots.sh [WORKDIR] [SCRIPTS_DIR]
#
# Steps that change nothing (no-change commit, one file as of a date) run five times; the median counts.
# SCRIPTS_DIR holds make-dataset.sh and mutate-day2.sh (default: ../shared/scripts next to the checkout).
# Builds cairn in release mode, installs restic from Debian if missing, and drops the page cache before
# each timed step when run as root. Prints a table with ratios; nothing here runs in `swift test`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/cairn-snapbench}
scripts=${2:-$here/../shared/scripts}
export LC_ALL=C TZ=UTC

command -v restic >/dev/null || { apt-get update -qq && apt-get install -y -qq restic >/dev/null; }
(cd "$here" && swift build -c release --static-swift-stdlib --product cairn >/dev/null)
cairn=$here/.build/release/cairn

rm -rf "$work" && mkdir -p "$work"
echo "building the dataset…" >&2
bash "$scripts/make-dataset.sh" "$work/data" 42 >/dev/null 2>&1
files=$(find "$work/data" -type f | wc -l); bytes=$(du -sb "$work/data" | cut -f1)

drop() { sync; if [ "$(id -u)" = 0 ]; then echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; fi; }
# t NAME CMD…: drop caches, run, record seconds in $T_NAME.
t() { local name=$1; shift; drop; local s=$(date +%s.%N); "$@" >/dev/null 2>"$work/$name.err" || { echo "$name failed:" >&2; cat "$work/$name.err" >&2; exit 1; }; local e=$(date +%s.%N); printf -v "T_$name" '%.3f' "$(echo "$e - $s" | bc -l)"; }
# tm NAME CMD…: like t, five times (commands that change nothing), the median kept: short steps are noisy.
tm() { local name=$1; shift; local runs=(); for i in 1 2 3 4 5; do t "$name" "$@"; local v="T_$name"; runs+=("${!v}"); done
  printf -v "T_$name" '%s' "$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 3p)"; }

export CAIRN_GRID=$work/grid RESTIC_REPOSITORY=$work/restic RESTIC_PASSWORD=bench GIT_DIR=$work/git GIT_WORK_TREE=$work/data
mkdir -p "$work/state"
"$cairn" grid create "$work/grid" --servers 10 --encoding 3-of-10 --happy 7 >/dev/null
(cd "$work/state" && "$cairn" init --work-tree "$work/data" >/dev/null 2>&1)
restic init >/dev/null 2>&1
git init -q && git config user.email b@b && git config user.name b

cairn_in() { (cd "$work/state" && "$cairn" "$@"); }
t cairn_initial cairn_in commit -m day1 --date "2026-03-01T12:00:00Z"
t restic_initial restic backup --host bench "$work/data"
git add -A && git commit -q -m day1

bash "$scripts/mutate-day2.sh" "$work/data" 42 "$work/day2.log" >/dev/null
t cairn_day2 cairn_in commit -m day2 --date "2026-03-02T12:00:00Z"
t restic_day2 restic backup --host bench "$work/data"
git add -A && git commit -q -m day2

tm cairn_nochange cairn_in commit -m day3 --date "2026-03-03T12:00:00Z"
tm git_nochange sh -c 'git add -A && git commit -q -m day3 || true'
t restic_nochange restic backup --host bench "$work/data"

mkdir -p "$work/out-cairn" "$work/out-restic"
t cairn_checkout "$cairn" clone "$(cairn_in cap | sed -n 's/^read: *//p')" "$work/out-cairn"
t restic_checkout restic restore latest --target "$work/out-restic"

file=big/server.log
first=$(restic snapshots --json | python3 -c 'import json,sys; print(sorted(json.load(sys.stdin), key=lambda s: s["time"])[0]["short_id"])')
tm cairn_onefile cairn_in restore "$file" --at "2026-03-01T12:00:00Z" -o "$work/one-cairn"
tm restic_onefile restic restore "$first" --include "$work/data/$file" --target "$work/one-restic"
cmp "$work/one-cairn" "$work/one-restic/$work/data/$file"

grid_bytes=$(du -sb "$work/grid" | cut -f1); restic_bytes=$(du -sb "$work/restic" | cut -f1)
drop; s=$(date +%s.%N); "$cairn" --help >/dev/null; e=$(date +%s.%N); cold=$(echo "$e - $s" | bc -l)
s=$(date +%s.%N); "$cairn" --help >/dev/null; e=$(date +%s.%N); warm=$(echo "$e - $s" | bc -l)

r() { printf '%.2f' "$(echo "scale=4; $1 / $2" | bc -l)"; }
echo "Cairn snapshot benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, dataset $files files, $((bytes / 1048576)) MiB"
printf '%-34s %10s %10s %8s  %s\n' step cairn anchor ratio goal
printf '%-34s %9ss %9ss %8s  %s\n' "initial commit vs restic backup" "$T_cairn_initial" "$T_restic_initial" "$(r $T_cairn_initial $T_restic_initial)" "≤ 1.0"
printf '%-34s %9ss %9ss %8s  %s\n' "day-2 commit vs restic backup" "$T_cairn_day2" "$T_restic_day2" "$(r $T_cairn_day2 $T_restic_day2)" "≤ 1.0"
printf '%-34s %9ss %9ss %8s  %s\n' "no-change commit vs git add+commit" "$T_cairn_nochange" "$T_git_nochange" "$(r $T_cairn_nochange $T_git_nochange)" "≤ 1.0"
printf '%-34s %9ss %9ss %8s  %s\n' "  (restic no-change backup)" "$T_cairn_nochange" "$T_restic_nochange" "$(r $T_cairn_nochange $T_restic_nochange)" "-"
printf '%-34s %9ss %9ss %8s  %s\n' "full checkout vs restic restore" "$T_cairn_checkout" "$T_restic_checkout" "$(r $T_cairn_checkout $T_restic_checkout)" "-"
printf '%-34s %9ss %9ss %8s  %s\n' "one file as of day 1 vs --include" "$T_cairn_onefile" "$T_restic_onefile" "$(r $T_cairn_onefile $T_restic_onefile)" "≤ 0.25"
printf '%-34s %10s %10s %8s  %s\n' "stored MiB (grid vs restic×10/3)" "$((grid_bytes / 1048576))" "$((restic_bytes * 10 / 3 / 1048576))" "$(r $grid_bytes $((restic_bytes * 10 / 3)))" "≤ 1.25"
printf '%-34s %9ss %9ss\n' "cairn start (cold, warm)" "$(printf %.3f $cold)" "$(printf %.3f $warm)"
