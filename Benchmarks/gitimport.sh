#!/usr/bin/env bash
# Git importer benchmark (issue: "Git importer"), all in one run, release build, page cache dropped before
# each step (as root): a synthetic history (Benchmarks/make-git-history.py: COMMITS commits over ~3,000
# files, realistic edits, topic branches and merges, tags), repacked as git gc would; then
#   git fast-export --all --signed-tags=verbatim > /dev/null   (the anchor)
#   cairn import-git into a fresh 3-of-10 local grid, the re-import with nothing new, --verify, export-git.
# Goals: import ≤ 6× fast-export, peak RSS ≤ 512 MiB, re-import ≤ 1 s, grid bytes ≤ 2 × pack × n/k.
#
#   Benchmarks/gitimport.sh [WORKDIR] [COMMITS]
#
# Prints a table with ratios; nothing here runs in `swift test`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/cairn-gitbench}
commits=${2:-20000}
export LC_ALL=C TZ=UTC

(cd "$here" && swift build -c release --product cairn >/dev/null)
cairn=$here/.build/release/cairn
mkdir -p "$work"
. "$here/Benchmarks/measure.sh"

src=$work/src-$commits.git
if [ ! -d "$src" ]; then
  git init -q --bare "$src"
  python3 "$here/Benchmarks/make-git-history.py" "$commits" 3000 1 | git -C "$src" fast-import --quiet
  git -C "$src" repack -adf --window=10 --depth=50 -q
fi
rm -rf "$work/grid" "$work/repo" "$work/export.git"
export CAIRN_GRID=$work/grid CAIRN_AUTHOR_NAME=bench CAIRN_AUTHOR_EMAIL=b@b
"$cairn" grid create "$work/grid" --servers 10 --encoding 3-of-10 --happy 7 >/dev/null
# /usr/bin/time runs programs: a two-line script runs cairn in the repository folder.
printf '#!/bin/sh\ncd "%s/repo" && exec "%s" "$@"\n' "$work" "$cairn" > "$work/cairn-in" && chmod +x "$work/cairn-in"
printf '#!/bin/sh\nexec git -C "%s" fast-export --all --signed-tags=verbatim\n' "$src" > "$work/fast-export" && chmod +x "$work/fast-export"

m fastexport "$work/fast-export"
mkdir -p "$work/repo" && (cd "$work/repo" && "$cairn" init >/dev/null 2>&1)
m import "$work/cairn-in" import-git "$src" --name bench
m reimport "$work/cairn-in" import-git "$src" --name bench
m verify "$work/cairn-in" import-git "$src" --name bench --verify --all
m export "$work/cairn-in" export-git "$work/export.git"

pack=$(du -cb "$src"/objects/pack/*.pack | tail -1 | cut -f1)
grid=$(size "$work/grid")
same=$([ "$(git -C "$src" for-each-ref | sort)" = "$(git -C "$work/export.git" for-each-ref | sort)" ] && echo yes || echo NO)
objects=$(git -C "$src" count-objects -v | awk '/in-pack/ {print $2}')
exported=$(git -C "$work/export.git" cat-file --batch-all-objects --batch-check | wc -l)
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
echo
echo "history: $commits commits, $objects objects, git pack $((pack >> 20)) MiB"
printf '%-34s %9s %9s %8s\n' step seconds "RSS MiB" "× anchor"
printf '%-34s %9s %9s %8s\n' "git fast-export (anchor)" "$S_fastexport" "$R_fastexport" 1.00
printf '%-34s %9s %9s %8s\n' "cairn import-git" "$S_import" "$R_import" "$(ratio "$S_import" "$S_fastexport")"
printf '%-34s %9s %9s %8s\n' "cairn import-git, nothing new" "$S_reimport" "$R_reimport" "-"
printf '%-34s %9s %9s %8s\n' "cairn import-git --verify" "$S_verify" "$R_verify" "$(ratio "$S_verify" "$S_fastexport")"
printf '%-34s %9s %9s %8s\n' "cairn export-git" "$S_export" "$R_export" "$(ratio "$S_export" "$S_fastexport")"
echo "commits/s (import): $(python3 -c "print(int($commits/$S_import))")"
echo "grid bytes: $((grid >> 20)) MiB = $(ratio "$grid" "($pack * 10 / 3)") × (git pack × 10/3)   (goal ≤ 2)"
echo "export: refs equal the source's: $same; $exported objects (source: $objects)"
