#!/usr/bin/env bash
# The main job on the embedded local grid: create a grid, put a file, delete 7 of the 10 server folders,
# get the file back and verify it byte for byte.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product cairn
cairn=.build/release/cairn
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
$cairn grid create "$work/grid" --servers 10 --encoding 3-of-10 --happy 7
head -c 5000000 /dev/urandom > "$work/original"
cap=$($cairn put --grid "$work/grid" "$work/original")
echo "read cap: $cap"
$cairn check --grid "$work/grid" --verify "$cap"
for s in 0 2 3 5 6 8 9; do rm -rf "$work/grid/servers/0$s"; done
echo "deleted 7 of the 10 server folders"
$cairn get --grid "$work/grid" "$cap" -o "$work/restored"
cmp "$work/original" "$work/restored"
echo "OK: the file came back intact from 3 of 10 servers"
