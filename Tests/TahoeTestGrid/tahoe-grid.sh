#!/usr/bin/env bash
# Starts a throwaway Tahoe-LAFS 1.20 grid on loopback for Cairn's tests and benchmarks (adapted from the
# team's shared script): an introducer, N storage nodes and a gateway (a client node without storage).
#
#   tahoe-grid.sh start DIR PORT0 PORT1 … PORTN PORTWEB   introducer on PORT0, node i on PORTi, gateway web on PORTWEB
#   tahoe-grid.sh stop DIR                                  stops exactly the PIDs recorded in DIR/pids
#
# TAHOE names the tahoe executable. WATCH_PID (optional): the grid stops itself when that process ends,
# so a test run that crashes leaves nothing running. K/HAPPY/NTOTAL are the gateway's encoding.
set -u
TAHOE=${TAHOE:?set TAHOE to the tahoe executable}
K=${K:-3}; HAPPY=${HAPPY:-4}; NTOTAL=${NTOTAL:-5}
READY_TIMEOUT=${READY_TIMEOUT:-120}

run_node() {  # $1 = node dir, $2 = grid dir
  "$TAHOE" run --allow-stdin-close "$1" >"$1/run.out" 2>&1 </dev/null &
  echo "$! $1" >>"$2/pids"
}

stop() {
  local D=$1
  [ -f "$D/pids" ] || return 0
  while read -r pid _; do kill "$pid" 2>/dev/null; done <"$D/pids"
  for _ in $(seq 1 50); do
    local alive=0
    while read -r pid _; do kill -0 "$pid" 2>/dev/null && alive=1; done <"$D/pids"
    [ $alive -eq 0 ] && break
    sleep 0.2
  done
  while read -r pid _; do kill -9 "$pid" 2>/dev/null; done <"$D/pids"
  rm -f "$D/pids"
}

start() {
  local D=$1; shift
  local ports=("$@")
  local n=$(( ${#ports[@]} - 2 ))
  [ $n -ge 1 ] || { echo "usage: start DIR PORT0 PORT1..PORTN PORTWEB" >&2; return 2; }
  mkdir -p "$D"; D=$(cd "$D" && pwd)
  : >"$D/pids"
  if [ -n "${WATCH_PID:-}" ]; then
    ( trap '' HUP; while kill -0 "$WATCH_PID" 2>/dev/null; do sleep 1; done; "$0" stop "$D" ) >/dev/null 2>&1 </dev/null &
  fi
  [ -d "$D/introducer" ] || "$TAHOE" create-introducer --listen=tcp --port="tcp:${ports[0]}:interface=127.0.0.1" \
      --location="tcp:127.0.0.1:${ports[0]}" "$D/introducer" >/dev/null || return 1
  run_node "$D/introducer" "$D"
  local i=0
  while [ ! -s "$D/introducer/private/introducer.furl" ]; do
    sleep 0.2; i=$((i + 1)); [ $i -gt 300 ] && { echo "the introducer did not start" >&2; return 1; }
  done
  local furl; furl=$(cat "$D/introducer/private/introducer.furl")
  for s in $(seq 1 $n); do
    local p=${ports[$s]}
    if [ ! -d "$D/storage$s" ]; then
      "$TAHOE" create-node --nickname="storage$s" --introducer="$furl" --listen=tcp \
        --port="tcp:$p:interface=127.0.0.1" --location="tcp:127.0.0.1:$p" --webport=none "$D/storage$s" >/dev/null || return 1
      sed -i 's/^reserved_space = .*/reserved_space = 0/' "$D/storage$s/tahoe.cfg"
    fi
    run_node "$D/storage$s" "$D"
  done
  local web=${ports[$((n + 1))]}
  [ -d "$D/gateway" ] || "$TAHOE" create-client --nickname=gateway --introducer="$furl" \
      --shares-needed="$K" --shares-happy="$HAPPY" --shares-total="$NTOTAL" \
      --webport="tcp:$web:interface=127.0.0.1" "$D/gateway" >/dev/null || return 1
  run_node "$D/gateway" "$D"
  echo "http://127.0.0.1:$web/" >"$D/gateway.url"
  # Ready: the gateway's cache of announcements names every storage node (with its NURL).
  local deadline=$(( $(date +%s) + READY_TIMEOUT ))
  while :; do
    local c; c=$(grep -c "anonymous-storage-NURLs" "$D/gateway/private/introducer_default_cache.yaml" 2>/dev/null)
    [ "${c:-0}" -ge "$n" ] && break
    [ "$(date +%s)" -ge "$deadline" ] && { echo "the grid was not ready after ${READY_TIMEOUT}s ($c of $n nodes announced)" >&2; return 1; }
    sleep 0.3
  done
  # The gateway must also be connected to every node (for tests that upload through it).
  while :; do
    local connected
    connected=$(curl -s --max-time 2 "http://127.0.0.1:$web/?t=json" 2>/dev/null | grep -o '"connection_status": "[Cc]onnected' | wc -l)
    [ "${connected:-0}" -ge "$n" ] && break
    [ "$(date +%s)" -ge "$deadline" ] && { echo "the gateway connected to only $connected of $n nodes" >&2; return 1; }
    sleep 0.3
  done
}

case ${1:-} in
  start) shift; start "$@" ;;
  stop) stop "$2" ;;
  *) sed -n 2,12p "$0"; exit 2 ;;
esac
