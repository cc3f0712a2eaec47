# Shared by the benchmark scripts (sourced; expects $work): timed steps on a cold page cache.

# drop: flush and drop the page cache (as root; otherwise the steps run warm).
drop() { sync; if [ "$(id -u)" = 0 ]; then echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; fi; }

# m NAME CMD…: drop caches, run under /usr/bin/time; seconds in S_NAME, peak RSS (MiB) in R_NAME.
m() {
  local name=$1; shift; drop
  /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" >/dev/null 2>"$work/$name.err" || { echo "$name failed:" >&2; cat "$work/$name.err" >&2; exit 1; }
  read -r secs kb < "$work/$name.time"
  printf -v "S_$name" '%.2f' "$secs"; printf -v "R_$name" '%d' "$((kb / 1024))"
}

# size PATH: bytes under PATH.
size() { du -sb "$1" | cut -f1; }
