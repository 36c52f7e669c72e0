#!/usr/bin/env bash
# End-to-end OTLP/gRPC ingest benchmark: builds Release, then for each shard count starts `spindle` on free
# loopback ports, drives it with spindle-loadgen (OTLP/gRPC) for a fixed time, and reports spans/s, MB/s, the server's
# CPU-seconds per million spans, its peak RSS and request latency. Each configuration runs several times on a
# fresh server; the median of each figure is reported (these machines are noisy). See bench/README.md.
#
#   bench/ingest_bench.sh                       full: 3 runs x 10 s for 1 and 2 shards and each WAL ack mode
#                                               (synced, written, none) at full speed, then 3 runs each at half
#                                               that rate (latency under load); appends to RESULTS.md
#   bench/ingest_bench.sh --quick               smoke: 1 run x 2 s each, acks synced and none, fails on any error
#   options: --duration S  --runs N  --shards "1 2"  --wal-ack "synced written none"  --head-max-bytes SIZE
#            --out FILE (where to append the results: default bench/RESULTS.md for full runs, none for --quick;
#            --out '' to skip)
#            --build-dir DIR (default build-release)  --no-build  --spindle BIN  --loadgen BIN
#            --connections C  --in-flight S  --spans-per-request N  --attrs N
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/bench_common.sh
. "$root/bench/bench_common.sh"

duration=10
runs=3
shard_list="1 2"
ack_list="synced written none"
ack_given=0
# The head cuts its oldest traces into blocks past 3/4 of this, so memory stays bounded whatever the run length.
head_max_bytes=1GiB
build_dir="$root/build-release"
build=1
quick=0
out="$root/bench/RESULTS.md"  # full runs append here (issue 5); --quick and --out '' do not
spindle_bin=""
loadgen_bin=""
loadgen_args=()

die() { echo "ingest_bench: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; runs=1; duration=2; out=""; shift ;;
    --duration) duration=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --shards) shard_list=$2; shift 2 ;;
    --wal-ack) ack_list=$2; ack_given=1; shift 2 ;;
    --head-max-bytes) head_max_bytes=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --spindle) spindle_bin=$2; shift 2 ;;
    --loadgen|--driver) loadgen_bin=$2; shift 2 ;;
    --connections|--driver-connections) loadgen_args+=(--connections "$2"); shift 2 ;;
    --in-flight|--driver-streams) loadgen_args+=(--in-flight "$2"); shift 2 ;;
    --spans-per-request) loadgen_args+=(--spans-per-request "$2"); shift 2 ;;
    --attrs) loadgen_args+=(--attrs "$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"
# The smoke run checks the path with and without the WAL (not "written", which differs from "synced" only in
# when the WAL acknowledges), to stay well under a minute.
if [ $quick = 1 ] && [ $ack_given = 0 ]; then ack_list="synced none"; fi
for ack in $ack_list; do
  case "$ack" in synced|written|none) ;; *) die "--wal-ack: '$ack' is not synced, written or none" ;; esac
done

if [ $build = 1 ]; then
  cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build_dir" --target spindle spindle-loadgen -j"$(nproc)" >/dev/null
fi
spindle_bin=${spindle_bin:-$build_dir/api/spindle}
loadgen_bin=${loadgen_bin:-$build_dir/bench/spindle-loadgen}
[ -x "$spindle_bin" ] || die "no spindle binary at $spindle_bin"
[ -x "$loadgen_bin" ] || die "no spindle-loadgen binary at $loadgen_bin"

work=$(mktemp -d "${TMPDIR:-/tmp}/spindle-ingest-bench.XXXXXX")
server_pid=""
trap cleanup EXIT

peak_rss_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
json_errors() { grep -o '"errors_by_status":{[^}]*}' "$1" | cut -d: -f2- ; }

# start_server SHARDS ACK LOG: starts spindle on free loopback ports with -wal.ack=ACK; sets server_pid,
# grpc_port, query_port.
start_server() {
  local shards=$1 ack=$2 log=$3
  # Every run starts from empty storage of its own, under $work (removed at exit).
  data_dir=$(mktemp -d "$work/data.XXXXXX")
  : >"$log"  # exists before the poll below reads it (the server's redirection happens in the child)
  "$spindle_bin" -shards="$shards" -head.max-bytes="$head_max_bytes" -wal.ack="$ack" \
    -storage.trace.wal.path="$data_dir/wal" -storage.trace.local.path="$data_dir/blocks" \
    -otlp.grpc-endpoint=127.0.0.1:0 -otlp.http-endpoint=127.0.0.1:0 \
    -server.http-listen-address=127.0.0.1 -server.http-listen-port=0 2>"$log" &
  server_pid=$!
  await_spindle_ready "$log" 30
}

# stop_run: stop_server (bench_common.sh) with 60 s to exit, then drop the run's data.
stop_run() {
  stop_server 60
  rm -rf "$data_dir"
}

median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2];
                                            else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit+dirty"; fi
cpu_model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
busy_ticks() {  # all CPUs' non-idle time, in clock ticks (user nice system irq softirq steal)
  awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}
# spindle_receiver_spans_total{protocol="grpc"} from /metrics; empty if the server does not export it.
server_spans() {
  curl -fsS --max-time 5 "http://127.0.0.1:$query_port/metrics" 2>/dev/null |
    awk '/^spindle_receiver_spans_total\{protocol="grpc"\}/ {print $2}'
}

report="$work/report.md"
{
  echo "### Ingest benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $commit"
  echo
  echo "Machine: $(nproc) cores ($cpu_model), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)" \
       "RAM, $(uname -sr); load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "spindle-loadgen (OTLP/gRPC) on the same machine: ${loadgen_args[*]:-defaults (2 connections x 16 in flight, 100 spans/request)}."
  echo "Each figure is the median of $runs run(s) of ${duration} s on a fresh server (-head.max-bytes=$head_max_bytes," \
       "default cut rules; -wal.ack as in the table: synced = after fdatasync, written = after write(2)," \
       "none = no WAL, the head alone)."
  echo
  echo "| shards | WAL ack | spans/s | MB/s | server CPU-s / M spans | server cores | peak RSS MiB | p50 ms | p90 ms | p99 ms" \
       "| max ms | loadgen cores | other cores | failed requests |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} >"$report"

failed=0
# One measured run: run_load SHARDS ACK RATE ROWS-FILE LABEL (RATE 0 = as fast as possible). Appends one row:
# spans/s MB/s cpu_s_per_M server_cores rss_mib p50 p90 p99 max errors loadgen_cores other_cores (CPU used by
# anything but the server and the loadgen: noise from other work on the machine).
run_load() {
  local shards=$1 ack=$2 rate=$3 rows=$4 label=$5
  local log="$work/spindle.$shards.$ack.${label// /_}.log"
  start_server "$shards" "$ack" "$log"
  local spans_before before busy_before drv_status=0
  spans_before=$(server_spans)
  before=$(cpu_ticks "$server_pid")
  busy_before=$(busy_ticks)
  TIMEFORMAT='%U %S'
  { time "$loadgen_bin" --target "127.0.0.1:$grpc_port" --duration "$duration" --rate "$rate" --json \
      "${loadgen_args[@]}" >"$work/loadgen.json" 2>"$work/loadgen.err"; } 2>"$work/loadgen.time" || drv_status=$?
  local after busy_after rss_kb spans_after trace_id trace_spans
  after=$(cpu_ticks "$server_pid")
  busy_after=$(busy_ticks)
  rss_kb=$(peak_rss_kb "$server_pid")
  spans_after=$(server_spans)
  # A trace of the first request must be readable back: the loadgen's in-place ID rewriting made real traces.
  trace_id=$(grep -o '"first_trace_id":"[0-9a-f]*"' "$work/loadgen.json" | cut -d'"' -f4 || true)
  trace_spans=$(curl -fsS --max-time 10 -H 'Accept: application/json' \
                  "http://127.0.0.1:$query_port/api/traces/$trace_id" 2>/dev/null | grep -o '"spanId"' | wc -l)
  stop_run
  if [ "$trace_spans" = 0 ]; then
    echo "ingest_bench: trace $trace_id of the first request is not found by /api/traces" >&2
    failed=1
  fi
  if [ $drv_status != 0 ] && [ $drv_status != 3 ]; then
    cat "$work/loadgen.err" >&2
    die "spindle-loadgen failed (exit $drv_status) against $shards shard(s)"
  fi
  local spans seconds errors drv_user drv_sys
  spans=$(json_num spans "$work/loadgen.json")
  seconds=$(json_num seconds "$work/loadgen.json")
  errors=$(json_num error_count "$work/loadgen.json")
  [ "$errors" = 0 ] || failed=1
  # The server must have stored exactly what it acknowledged. A refused request (head full) may still have had
  # the spans of its other owner shards stored: then the server counts up to that many more (a retry would be
  # dropped as duplicates).
  local per_request stored slack
  per_request=$(json_num spans_per_request "$work/loadgen.json")
  if [ -n "$spans_before" ] && [ -n "$spans_after" ]; then
    stored=$((spans_after - spans_before))
    slack=$(( shards > 1 ? errors * per_request : 0 ))
    if [ "$stored" -lt "$spans" ] || [ "$stored" -gt $((spans + slack)) ]; then
      echo "ingest_bench: loadgen saw $spans spans acknowledged, server counted $stored" \
           "(at most $slack more allowed: parts of refused requests)" >&2
      failed=1
    fi
  fi
  read -r drv_user drv_sys <"$work/loadgen.time"
  awk -v spans="$spans" -v secs="$seconds" -v ticks=$((after - before)) -v hz="$clk_tck" -v rss="$rss_kb" \
      -v busy=$((busy_after - busy_before)) \
      -v sps="$(json_num spans_per_second "$work/loadgen.json")" -v mbs="$(json_num mb_per_second "$work/loadgen.json")" \
      -v p50="$(json_num p50 "$work/loadgen.json")" -v p90="$(json_num p90 "$work/loadgen.json")" \
      -v p99="$(json_num p99 "$work/loadgen.json")" -v max="$(json_num max "$work/loadgen.json")" \
      -v errs="$errors" -v du="$drv_user" -v ds="$drv_sys" 'BEGIN {
        cpu = ticks / hz; drv = du + ds; other = busy / hz - cpu - drv
        printf "%.0f %.2f %.2f %.2f %.0f %s %s %s %s %s %.2f %.2f\n", sps, mbs,
               (spans > 0 ? cpu / (spans / 1e6) : 0), cpu / secs, rss / 1024, p50, p90, p99, max, errs,
               drv / secs, (other > 0 ? other : 0) / secs }' >>"$rows"
  echo "shards=$shards ack=$ack $label: $(tail -1 "$rows")  errors=$(json_errors "$work/loadgen.json")" \
       "first trace: $trace_spans spans" >&2
}

col() { awk -v c="$2" '{print $c}' "$1" | median; }
table_row() {  # table_row LABEL ACK ROWS-FILE
  local r=$3
  echo "| $1 | $2 | $(col "$r" 1) | $(col "$r" 2) | $(col "$r" 3) | $(col "$r" 4) | $(col "$r" 5) | $(col "$r" 6) |" \
       "$(col "$r" 7) | $(col "$r" 8) | $(col "$r" 9) | $(col "$r" 11) | $(col "$r" 12) |" \
       "$(awk '{s += $10} END {print s}' "$r") (all runs) |"
}

rated_rows=""
for shards in $shard_list; do
  for ack in $ack_list; do
    rows="$work/rows.$shards.$ack"
    : >"$rows"
    for run in $(seq 1 "$runs"); do run_load "$shards" "$ack" 0 "$rows" "run=$run"; done
    table_row "$shards" "$ack" "$rows" >>"$report"
    # Latency under load: the same runs paced at half the median maximum.
    half=$(awk -v m="$(col "$rows" 1)" 'BEGIN {printf "%.0f", m / 2}')
    rated="$work/rated.$shards.$ack"
    : >"$rated"
    for run in $(seq 1 "$runs"); do run_load "$shards" "$ack" "$half" "$rated" "rate=$half run=$run"; done
    rated_rows+="$(table_row "$shards (rate $half spans/s)" "$ack" "$rated")"$'\n'
  done
done
{
  echo
  echo "At a fixed rate of half the maximum above (latency under load):"
  echo
  echo "| shards | WAL ack | spans/s | MB/s | server CPU-s / M spans | server cores | peak RSS MiB | p50 ms | p90 ms" \
       "| p99 ms | max ms | loadgen cores | other cores | failed requests |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s' "$rated_rows"
} >>"$report"
{
  echo
  echo "Columns: see bench/README.md. The loadgen shares the $(nproc)-core machine with the server: with 2 shards" \
       "it competes with the shards for CPU. \"other cores\" is CPU used by everything else during the runs" \
       "(noise: anything above ~0.05 means the figures are disturbed)."
} >>"$report"

cat "$report"
if [ -n "$out" ]; then { cat "$report"; echo; } >>"$out"; fi
if [ $failed = 1 ]; then
  echo "ingest_bench: some requests failed or were not stored (see above)" >&2
  [ $quick = 1 ] && exit 1
fi
exit 0
