#!/usr/bin/env bash
# Snapshot format 2 benchmark (issue: "Snapshot format 2"), all in one run, release build:
#  (a) 100,000 files of 100 bytes in 1,000 folders: the first commit and a one-file commit, Cairn (3-of-10
#      local grid) against restic (its own local repository) and git: time, peak RSS, repository growth;
#  (b) a commit of one changed file into a repository whose history holds 200,000 file versions against
#      the same commit into an empty repository (same one-file worktree).
#
#   Benchmarks/format2.sh [WORKDIR]
#
# Installs restic from Debian if missing; drops the page cache before each timed step when run as root.
# Prints a table with ratios; nothing here runs in `swift test`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/cairn-format2}
export LC_ALL=C TZ=UTC

command -v restic >/dev/null || { apt-get update -qq && apt-get install -y -qq restic >/dev/null; }
(cd "$here" && swift build -c release --product cairn >/dev/null)
cairn=$here/.build/release/cairn

rm -rf "$work" && mkdir -p "$work"
. "$here/Benchmarks/measure.sh"

# tree ROOT DIR FILE WORD: 1,000 folders ROOT/DIRdddd of 100 files FILEfff.txt, 100 bytes each, distinct.
tree() {
  python3 - "$@" <<'EOF'
import os, sys
root, folder, name, word = sys.argv[1:5]
for d in range(1000):
    os.makedirs(f"{root}/{folder}{d:04}", exist_ok=True)
    for f in range(100):
        n = d * 100 + f
        with open(f"{root}/{folder}{d:04}/{name}{f:03}.txt", "w") as out:
            out.write((f"{word} {n:06} " * 10)[:99] + "\n")
EOF
}
tree "$work/data" d f file

export CAIRN_GRID=$work/grid RESTIC_REPOSITORY=$work/restic RESTIC_PASSWORD=bench GIT_DIR=$work/git GIT_WORK_TREE=$work/data
export CAIRN_AUTHOR_NAME=bench CAIRN_AUTHOR_EMAIL=b@b
mkdir -p "$work/state"
"$cairn" grid create "$work/grid" --servers 10 --encoding 3-of-10 --happy 7 >/dev/null
(cd "$work/state" && "$cairn" init --work-tree "$work/data" >/dev/null 2>&1)
restic init >/dev/null 2>&1
git init -q && git config user.email b@b && git config user.name b
# /usr/bin/time runs programs, not shell functions: a two-line script runs cairn in the state folder.
printf '#!/bin/sh\ncd "%s/state" && exec "%s" "$@"\n' "$work" "$cairn" > "$work/cairn-in" && chmod +x "$work/cairn-in"
cairn_in() { "$work/cairn-in" "$@"; }

m cairn_first "$work/cairn-in" commit -m first
m restic_first restic backup --host bench "$work/data"
m git_first sh -c 'git add -A && git commit -q -m first'
G0=$(size "$work/grid"); RS0=$(size "$work/restic"); GT0=$(size "$work/git")

echo "changed" >> "$work/data/d0500/f050.txt"
m cairn_one "$work/cairn-in" commit -m one
m restic_one restic backup --host bench "$work/data"
m git_one sh -c 'git add -A && git commit -q -m one'
G1=$(size "$work/grid"); RS1=$(size "$work/restic"); GT1=$(size "$work/git")

# (b) History without worktree: 100,000 more files committed (200,000 file versions and their trees in
# history), then the worktree cut down to one small file and committed; a change to
# that file is the measured commit. Against the same commit in an empty repository: what a commit costs
# beyond its worktree comes from history (refs, index segments).
tree "$work/data" e g more
cairn_in commit -m grow >/dev/null
mv "$work/data" "$work/data-full" && mkdir "$work/data" && echo "one file" > "$work/data/only.txt"
cairn_in commit -m shrink >/dev/null
echo "changed" >> "$work/data/only.txt"
m cairn_big "$work/cairn-in" commit -m big

mkdir -p "$work/empty-data" "$work/empty-state"
echo "one file" > "$work/empty-data/only.txt"
(cd "$work/empty-state" && CAIRN_GRID=$work/grid2 "$cairn" init --work-tree "$work/empty-data" >/dev/null 2>&1)
(cd "$work/empty-state" && CAIRN_GRID=$work/grid2 "$cairn" commit -m first >/dev/null)
echo "changed" >> "$work/empty-data/only.txt"
m cairn_empty sh -c "cd '$work/empty-state' && CAIRN_GRID='$work/grid2' '$cairn' commit -m one"

ratio() { echo "scale=2; $1 / $2" | bc -l; }
kb() { echo "$(( ($1 + 512) / 1024 )) KB"; }
printf '\n(a) 100,000 files of 100 bytes in 1,000 folders\n'
printf '%-34s %10s %10s %10s   %s\n' step cairn restic git "cairn/restic"
printf '%-34s %9ss %9ss %9ss   %s\n' "first commit, time" "$S_cairn_first" "$S_restic_first" "$S_git_first" "$(ratio "$S_cairn_first" "$S_restic_first")"
printf '%-34s %8sMiB %8sMiB %8sMiB   %s\n' "first commit, peak RSS" "$R_cairn_first" "$R_restic_first" "$R_git_first" "$(ratio "$R_cairn_first" "$R_restic_first")"
printf '%-34s %10s %10s %10s\n' "repository after first commit" "$(kb "$G0")" "$(kb "$RS0")" "$(kb "$GT0")"
printf '%-34s %9ss %9ss %9ss   %s\n' "one-file commit, time" "$S_cairn_one" "$S_restic_one" "$S_git_one" "$(ratio "$S_cairn_one" "$S_restic_one")"
printf '%-34s %8sMiB %8sMiB %8sMiB\n' "one-file commit, peak RSS" "$R_cairn_one" "$R_restic_one" "$R_git_one"
printf '%-34s %10s %10s %10s\n' "one-file commit, growth" "$(kb $((G1 - G0)))" "$(kb $((RS1 - RS0)))" "$(kb $((GT1 - GT0)))"
printf '\n(b) one-file commit, history of 200,000 file versions: %ss (%s MiB RSS); empty history: %ss; ratio %s\n' \
  "$S_cairn_big" "$R_cairn_big" "$S_cairn_empty" "$(ratio "$S_cairn_big" "$S_cairn_empty")"
