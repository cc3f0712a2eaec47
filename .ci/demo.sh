#!/usr/bin/env bash
# The main job on the embedded local grid:
#  1. create a grid, put a file, delete 7 of the 10 server folders, get it back and verify it;
#  2. back up a folder into a repository twice, restore a file as it was at the first backup, and clone
#     the whole repository on "another machine" from its write cap and the grid alone;
#  3. move a small git repository (a branch, a merge, an annotated tag) onto the grid with its history,
#     prove it by recomputing every git id, and export it back.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --static-swift-stdlib --product cairn
cairn=$PWD/.build/release/cairn
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== 1. a file on a 3-of-10 grid"
$cairn grid create "$work/grid" --servers 10 --encoding 3-of-10 --happy 7
head -c 5000000 /dev/urandom > "$work/original"
cap=$($cairn put --grid "$work/grid" "$work/original")
echo "read cap: $cap"
$cairn check --grid "$work/grid" --verify "$cap"
cp -a "$work/grid" "$work/grid-copy"
for s in 0 2 3 5 6 8 9; do rm -rf "$work/grid-copy/servers/0$s"; done
echo "deleted 7 of the 10 server folders (in a copy of the grid)"
$cairn get --grid "$work/grid-copy" "$cap" -o "$work/restored"
cmp "$work/original" "$work/restored"
echo "OK: the file came back intact from 3 of 10 servers"

echo "== 1b. one flipped byte in 8 of the 10 shares: repaired block by block, nothing deleted"
i=0
for f in $(ls "$work"/grid/servers/*/large/*/*/* | head -8); do
  off=$((126 + (i / 2) * 349526 + 9))   # header+UEB, then block i/2: two damaged shares per segment
  byte=$(dd if="$f" bs=1 skip=$off count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
  printf "$(printf '\\%03o' $(( byte ^ 33 )))" | dd of="$f" bs=1 seek=$off conv=notrunc 2>/dev/null
  i=$((i + 1))
done
$cairn check --grid "$work/grid" --verify "$cap" | tail -1 || true
$cairn repair --grid "$work/grid" "$cap" | tail -3
$cairn get --grid "$work/grid" "$cap" -o "$work/repaired"
cmp "$work/original" "$work/repaired"
$cairn grid reclaim-quarantine --grid "$work/grid"
echo "OK: repaired from the blocks that verify; the superseded copies were kept until reclaimed"

echo "== 2. versioned backups"
export CAIRN_GRID=$work/grid
mkdir -p "$work/docs/notes" && cd "$work/docs"
echo "plan, version 1" > plan.txt; echo "a note" > notes/a.txt
writecap=$($cairn init 2>/dev/null)
$cairn commit -m "first backup" --date "2026-03-01 09:00"
echo "plan, version 2" > plan.txt; rm notes/a.txt; echo "b" > notes/b.txt
$cairn commit -m "second backup" --date "2026-03-04 09:00"
$cairn log --oneline
echo "plan.txt as of 2026-03-02: $($cairn restore plan.txt --at 2026-03-02 -o -)"
$cairn clone "$writecap" "$work/new-machine" 2>/dev/null
diff -r --exclude=.cairn "$work/docs" "$work/new-machine"
echo "OK: a clone from the write cap and the grid equals the backed-up folder"

echo "== 3. a git repository, with its history, onto the grid and back"
if command -v git >/dev/null; then
  src=$work/project && mkdir -p "$src" && cd "$src"
  git init -q -b main && git config user.name Dev && git config user.email dev@example.com
  echo "v1" > README && git add README && git commit -qm "start"
  git checkout -qb topic && echo "idea" > IDEA && git add IDEA && git commit -qm "an idea"
  git checkout -q main && echo "v2" > README && git commit -qam "second" && git merge -q --no-edit topic
  git tag -a v1.0 -m "first release"
  $cairn import-git "$src" --init "$work/project-on-grid" 2>/dev/null
  cd "$work/project-on-grid" && $cairn log --oneline
  $cairn import-git "$src" --verify
  $cairn export-git "$work/project-again.git" >/dev/null
  [ "$(git -C "$src" for-each-ref)" = "$(git -C "$work/project-again.git" for-each-ref)" ]
  echo "OK: every git id recomputed from the grid; the export has the source's refs and objects"
else
  echo "(skipped: git is not installed)"
fi
