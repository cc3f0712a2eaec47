#!/usr/bin/env bash
# Big-files benchmark (issue: "Big files"), all in one run, release build, against restic on the same data:
# a 1.5 GB incompressible file — first commit, append 9 bytes, insert 92 bytes in the middle, 100 scattered
# 4 KiB overwrites, restore of the first version, a 1 MiB range of it (median of 3) — time, peak RSS and
# repository growth each. Cairn on a 3-of-10 local grid (state kept outside the tree), restic on its own
# local repository (growth × 10/3 for the grid's coding).
#
#   Benchmarks/bigfiles.sh [WORKDIR] [SIZE_MB]
#
# Installs restic from Debian if missing; drops the page cache before each timed step when run as root.
# Prints a table with ratios; nothing here runs in `swift test`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/cairn-bigfiles}
mb=${2:-1500}
export LC_ALL=C TZ=UTC

command -v restic >/dev/null || { apt-get update -qq && apt-get install -y -qq restic >/dev/null; }
(cd "$here" && swift build -c release --product cairn >/dev/null)
cairn=$here/.build/release/cairn

rm -rf "$work" && mkdir -p "$work/data" "$work/state"
. "$here/Benchmarks/measure.sh"
# m3 NAME CMD…: three runs, the median time and the largest RSS kept.
m3() {
  local name=$1; shift; local times=() rss=0
  for i in 1 2 3; do m "$name" "$@"; local s="S_$name" r="R_$name"; times+=("${!s}"); [ "${!r}" -gt "$rss" ] && rss=${!r}; done
  printf -v "S_$name" '%s' "$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)"; printf -v "R_$name" '%d' "$rss"
}

file=$work/data/video.bin
head -c "$((mb * 1000000))" /dev/urandom > "$file"
cp "$file" "$work/first.bin"

export CAIRN_GRID=$work/grid RESTIC_REPOSITORY=$work/restic RESTIC_PASSWORD=bench
export CAIRN_AUTHOR_NAME=bench CAIRN_AUTHOR_EMAIL=b@b
"$cairn" grid create "$work/grid" --servers 10 --encoding 3-of-10 --happy 7 >/dev/null
(cd "$work/state" && "$cairn" init --work-tree "$work/data" >/dev/null 2>&1)
restic init >/dev/null 2>&1
printf '#!/bin/sh\ncd "%s/state" && exec "%s" "$@"\n' "$work" "$cairn" > "$work/cairn-in" && chmod +x "$work/cairn-in"

# step NAME DAY: commit with both (Cairn dated 2026-03-DAY), recording time, RSS and growth of each store.
step() {
  local name=$1 day=$2 g0 r0
  g0=$(size "$work/grid"); r0=$(size "$work/restic")
  m "cairn_$name" "$work/cairn-in" commit -m "$name" --date "2026-03-0${day}T12:00:00Z"
  m "restic_$name" restic backup --host bench "$work/data"
  printf -v "G_$name" '%d' "$(( $(size "$work/grid") - g0 ))"
  printf -v "RG_$name" '%d' "$(( ($(size "$work/restic") - r0) * 10 / 3 ))"
}
step first 1
printf 'nine byte' >> "$file"; step append 2
python3 - "$file" <<'EOF'
import os, sys
path = sys.argv[1]
size = os.path.getsize(path)
mid = size // 2
with open(path, "r+b") as f:
    f.seek(mid); rest = f.read()
    f.seek(mid); f.write(os.urandom(92)); f.write(rest)
EOF
step insert 3
python3 - "$file" <<'EOF'
import os, random, sys
path = sys.argv[1]
size = os.path.getsize(path)
random.seed(7)
with open(path, "r+b") as f:
    for _ in range(100):
        f.seek(random.randrange(0, size - 4096)); f.write(os.urandom(4096))
EOF
step scattered 4

first_id=$(restic snapshots --json | python3 -c 'import json,sys; print(sorted(json.load(sys.stdin), key=lambda s: s["time"])[0]["short_id"])')
m cairn_restore "$work/cairn-in" restore video.bin --at 2026-03-01T12:00:00Z -o "$work/restored-cairn.bin"
rm -rf "$work/restored-restic"
m restic_restore restic restore "$first_id" --target "$work/restored-restic"
cmp "$work/restored-cairn.bin" "$work/first.bin"
cmp "$work/restored-restic/$file" "$work/first.bin"

start=$(( mb * 1000000 / 3 )); end=$(( start + 1048575 ))
m3 cairn_range sh -c "'$work/cairn-in' cat --range $start-$end HEAD~3:video.bin > '$work/range-cairn.bin'"
cmp "$work/range-cairn.bin" <(tail -c +"$((start + 1))" "$work/first.bin" | head -c 1048576)

r() { printf '%.2f' "$(echo "scale=4; $1 / $2" | bc -l)"; }
mbs() { printf '%.1f' "$(echo "scale=2; $1 / 1048576" | bc -l)"; }
echo "Cairn big-file benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, one ${mb} MB incompressible file"
printf '%-28s %10s %10s %7s %9s %9s %11s %11s  %s\n' step cairn restic ratio "cairn RSS" "restic RSS" "cairn grow" "restic×10/3" goal
for s in first append insert scattered; do
  c="S_cairn_$s" rs="S_restic_$s" cr="R_cairn_$s" rr="R_restic_$s" g="G_$s" rg="RG_$s"
  goal="RSS ≤ 256 MiB"; [ "$s" = first ] && goal="$goal, ≤ 1.0×"
  [ "$s" = append ] || [ "$s" = insert ] && goal="$goal, growth ≤ 1 % of first ($(mbs $((G_first / 100))) MiB)"
  [ "$s" = scattered ] && goal="$goal, growth ≤ 5 MB"
  printf '%-28s %9ss %9ss %7s %6s MiB %6s MiB %7s MiB %7s MiB  %s\n' "commit: $s" "${!c}" "${!rs}" "$(r "${!c}" "${!rs}")" "${!cr}" "${!rr}" "$(mbs "${!g}")" "$(mbs "${!rg}")" "$goal"
done
printf '%-28s %9ss %9ss %7s %6s MiB %6s MiB %23s  %s\n' "restore first version" "$S_cairn_restore" "$S_restic_restore" "$(r $S_cairn_restore $S_restic_restore)" "$R_cairn_restore" "$R_restic_restore" "" "≤ 1.0×"
printf '%-28s %9ss %9ss %7s %6s MiB %34s  %s\n' "1 MiB range of it (median 3)" "$S_cairn_range" "$S_cairn_restore" "$(r $S_cairn_range $S_cairn_restore)" "$R_cairn_range" "(vs the full restore)" "≤ 0.05×"
