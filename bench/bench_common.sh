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
