# shellcheck shell=bash disable=SC2154  # server_pid and work are set by the sourcing script
# Sourced by the benchmark scripts (which define die(), work and server_pid).

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  # Only the server this script started, by its pid.
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}

cpu_ticks() {  # utime+stime of a process, in clock ticks (fields 14 and 15; comm may contain spaces)
  sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

# await_spindle_ready LOG TIMEOUT_S: waits for the "spindle ready:" line a starting spindle (pid $server_pid, stderr
# in LOG) prints once its listeners are bound, sets grpc_port and query_port from it, then polls /ready until it
# answers 200 (after the WAL replay).
await_spindle_ready() {
  local log=$1 timeout=$2 deadline line=""
  deadline=$((SECONDS + timeout))
  while [ $SECONDS -lt $deadline ]; do
    line=$(grep -m1 'spindle ready:' "$log" 2>/dev/null || true)
    [ -n "$line" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; die "spindle exited during startup"; }
    sleep 0.02
  done
  [ -n "$line" ] || { cat "$log" >&2; die "spindle did not log 'spindle ready' within $timeout s"; }
  grpc_port=$(sed -n 's/.*otlp_grpc=[0-9.]*:\([0-9]*\).*/\1/p' <<<"$line")
  query_port=$(sed -n 's/.*query=[0-9.]*:\([0-9]*\).*/\1/p' <<<"$line")
  if [ -z "$grpc_port" ] || [ -z "$query_port" ]; then die "cannot parse ports from: $line"; fi
  while [ $SECONDS -lt $deadline ]; do
    curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$query_port/ready" 2>/dev/null && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; die "spindle exited before /ready"; }
    sleep 0.02
  done
  die "spindle /ready did not answer 200 within $timeout s"
}

clk_tck=$(getconf CLK_TCK)
rss_mib() { awk -v k="$2" '$1 == k":" {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
json_num() { grep -o "\"$1\":[0-9.eE+-]*" "$2" | head -1 | cut -d: -f2; }
now_s() { date +%s.%N; }
metrics() { curl -fsS --max-time 10 "http://127.0.0.1:$query_port/metrics"; }
# metric FILE NAME: sum of every sample of NAME (any labels) in a /metrics dump.
metric() { awk -v n="$2" '$1 == n || index($1, n "{") == 1 {s += $2} END {printf "%.0f\n", s}' "$1"; }
metric_max() { awk -v n="$2" 'index($1, n "{") == 1 && $2 > m {m = $2} END {print m + 0}' "$1"; }
levels() {  # "level:blocks" for every non-empty level
  awk '/^spindle_storage_blocks\{/ && $2 > 0 {match($1, /"[0-9]+"/); printf "L%s:%s ", substr($1, RSTART + 1,
       RLENGTH - 2), $2}' "$1"
}

# stop_server [TIMEOUT_S]: SIGTERM to spindle (pid $server_pid); requires exit status 0 within TIMEOUT_S
# (default 120) seconds.
stop_server() {
  local timeout=${1:-120}
  kill -TERM "$server_pid"
  local deadline=$((SECONDS + timeout)) status=0
  while kill -0 "$server_pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  kill -0 "$server_pid" 2>/dev/null && die "spindle (pid $server_pid) did not exit within $timeout s of SIGTERM"
  wait "$server_pid" || status=$?
  server_pid=""
  [ $status = 0 ] || die "spindle exited with status $status after SIGTERM"
}

# await_settled TIMEOUT_S: waits until no span is in the head, the blocks and compaction counters are unchanged
# and the server is idle (< 0.05 core) over the last 10 s. Polled once a second; leaves the last /metrics dump
# in $work/m.txt.
await_settled() {
  local deadline=$((SECONDS + $1)) last_sig="" sig stable_since=$SECONDS last_ticks last_t=$SECONDS idle settled=0
  last_ticks=$(cpu_ticks "$server_pid")
  while [ $SECONDS -lt $deadline ]; do
    sleep 1
    metrics >"$work/m.txt"
    sig="$(metric "$work/m.txt" spindle_head_spans) $(levels "$work/m.txt")$(metric "$work/m.txt" spindle_storage_compactions_total)"
    if [ "$sig" != "$last_sig" ]; then
      last_sig=$sig stable_since=$SECONDS last_ticks=$(cpu_ticks "$server_pid") last_t=$SECONDS
      continue
    fi
    if [ "$(metric "$work/m.txt" spindle_head_spans)" = 0 ] && [ $((SECONDS - stable_since)) -ge 10 ]; then
      idle=$(awk -v t=$(($(cpu_ticks "$server_pid") - last_ticks)) -v hz="$clk_tck" -v s=$((SECONDS - last_t)) \
             'BEGIN {print (t / hz / s < 0.05) ? 1 : 0}')
      if [ "$idle" = 1 ]; then settled=1; break; fi
      last_ticks=$(cpu_ticks "$server_pid") last_t=$SECONDS
    fi
  done
  [ $settled = 1 ] || die "storage did not settle within $1 s (last: $last_sig)"
}
