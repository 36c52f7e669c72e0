#!/usr/bin/env bash
# Durable-storage benchmark (bench/README.md): the real `spindle` binary (2 shards, -wal.ack=synced) on loopback,
# fed by spindle-loadgen (OTLP/gRPC, default corpus), in two phases, each on a fresh server and empty data dirs:
#
#   blocks  short cut rules (ingester.trace_idle_period 1s, flush_check_period 1s, spindle.compaction.inputs 4,
#           default compaction window): ingest --spans spans, wait until the head is empty and compaction has
#           settled, then report bytes on disk per span against the OTLP bytes received, and trace-by-ID latency
#           from blocks for --lookups traces sampled from what the loadgen had acknowledged;
#   head    long cut rules (idle 1h, max_block_duration 2h) and a head large enough to hold everything: ingest
#           --spans spans (all stay in the head and the WAL), report trace-by-ID latency from the head, then
#           kill -9 the server, restart it on the same directories and report the time until /ready = 200
#           (WAL replay) per GB of WAL, and check that every sampled trace reads back whole after the replay.
#
#   bench/storage_bench.sh                      both phases, 10 M spans each; appends the report to RESULTS.md
#   options: --spans N (default 10000000)  --phases "blocks head"  --shards N (default 2)  --lookups N (2000)
#            --passes N (lookup passes over the same sample, default 3)  --settle-timeout S (default 900)
#            --data-dir DIR (default: a fresh directory under $TMPDIR; must be a real disk, not tmpfs)
#            --out FILE (default bench/RESULTS.md; '' to skip)  --build-dir DIR (default build-release)
#            --no-build  --spindle BIN  --loadgen BIN  --lookup BIN
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/bench_common.sh
. "$root/bench/bench_common.sh"

spans=10000000
phases="blocks head"
shards=2
lookups=2000
passes=3
settle_timeout=900
data_root=""
out="$root/bench/RESULTS.md"
build_dir="$root/build-release"
build=1
spindle_bin=""
loadgen_bin=""
lookup_bin=""

die() { echo "storage_bench: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --spans) spans=$2; shift 2 ;;
    --phases) phases=$2; shift 2 ;;
    --shards) shards=$2; shift 2 ;;
    --lookups) lookups=$2; shift 2 ;;
    --passes) passes=$2; shift 2 ;;
    --settle-timeout) settle_timeout=$2; shift 2 ;;
    --data-dir) data_root=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --spindle) spindle_bin=$2; shift 2 ;;
    --loadgen) loadgen_bin=$2; shift 2 ;;
    --lookup) lookup_bin=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
for p in $phases; do case "$p" in blocks|head) ;; *) die "--phases: '$p' is not blocks or head" ;; esac; done

if [ $build = 1 ]; then
  cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build_dir" --target spindle spindle-loadgen spindle-trace-lookup -j"$(nproc)" >/dev/null
fi
spindle_bin=${spindle_bin:-$build_dir/api/spindle}
loadgen_bin=${loadgen_bin:-$build_dir/bench/spindle-loadgen}
lookup_bin=${lookup_bin:-$build_dir/bench/spindle-trace-lookup}
for b in "$spindle_bin" "$loadgen_bin" "$lookup_bin"; do [ -x "$b" ] || die "no binary at $b"; done

work=$(mktemp -d "${data_root:-${TMPDIR:-/tmp}}/spindle-storage-bench.XXXXXX")
server_pid=""
trap cleanup EXIT

# start_server CONFIG DATA LOG: spindle on free loopback ports (-head.max-bytes=$head_bytes); sets server_pid,
# grpc_port, query_port and ready_s (seconds from exec to the first /ready = 200, polled every 20 ms).
start_server() {
  local config=$1 data=$2 log=$3 t0
  t0=$(now_s)
  "$spindle_bin" -config.file="$config" -shards="$shards" -wal.ack=synced -head.max-bytes="$head_bytes" \
    -storage.trace.wal.path="$data/wal" -storage.trace.local.path="$data/blocks" \
    -otlp.grpc-endpoint=127.0.0.1:0 -otlp.http-endpoint=127.0.0.1:0 \
    -server.http-listen-address=127.0.0.1 -server.http-listen-port=0 2>"$log" &
  server_pid=$!
  await_spindle_ready "$log" 600
  ready_s=$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN {printf "%.2f", b - a}')
}

# ingest LABEL: sends $spans spans with an ack log, fails on any refused request; leaves $work/LABEL.json.
ingest() {
  local status=0
  "$loadgen_bin" --target "127.0.0.1:$grpc_port" --count "$spans" --json --fail-on-error \
    --ack-log "$work/$1.acklog" >"$work/$1.json" 2>"$work/$1.loadgen.err" || status=$?
  [ $status = 0 ] || { cat "$work/$1.loadgen.err" >&2; die "spindle-loadgen failed (exit $status)"; }
  # The sample of traces to look up, then the (large) ack log goes.
  "$lookup_bin" --ack-log "$work/$1.acklog" --sample "$lookups" --write-ids "$work/$1.ids" 2>/dev/null
  rm -f "$work/$1.acklog"
  echo "storage_bench: $1: $(json_num spans "$work/$1.json") spans in $(json_num seconds "$work/$1.json") s" \
       "($(json_num spans_per_second "$work/$1.json") spans/s)" >&2
}

# lookup_rows LABEL IDS: one pass of GET /ready (the floor: loopback, HTTP, scheduling noise), then $passes passes
# over the sample; prints one table row per pass; fails on missing or short traces.
lookup_rows() {
  local label=$1 ids=$2 status=0
  "$lookup_bin" --ids "$ids" --target "127.0.0.1:$query_port" --passes "$passes" --baseline /ready --json \
    >"$work/lookup.json" || status=$?
  [ $status = 0 ] || { cat "$work/lookup.json" >&2; die "$label: some sampled traces came back short or missing"; }
  local what pass
  while read -r line; do
    pass=$(grep -o '"pass":[0-9]*' <<<"$line" | cut -d: -f2)
    what=$label
    [ "$pass" = 0 ] && what="$label: GET /ready (floor)"
    echo "| $what | $pass |" \
         "$(grep -o '"whole":[0-9]*' <<<"$line" | cut -d: -f2)/$(grep -o '"requests":[0-9]*' <<<"$line" | cut -d: -f2) |" \
         "$(grep -o '"p50":[0-9.]*' <<<"$line" | cut -d: -f2) | $(grep -o '"p90":[0-9.]*' <<<"$line" | cut -d: -f2) |" \
         "$(grep -o '"p99":[0-9.]*' <<<"$line" | cut -d: -f2) | $(grep -o '"max":[0-9.]*' <<<"$line" | cut -d: -f2) |" \
         "$(grep -o '"mean_response_bytes":[0-9]*' <<<"$line" | cut -d: -f2) |" \
         "$(grep -o '"client_cpu_seconds":[0-9.]*' <<<"$line" | cut -d: -f2) s |"
  done <"$work/lookup.json"
}

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit+dirty"; fi
report="$work/report.md"
{
  echo "### Storage benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $commit"
  echo
  echo "Machine: $(nproc) cores ($(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))," \
       "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, $(uname -sr), data on" \
       "$(df -T "$work" | awk 'NR == 2 {print $2}'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "spindle -shards=$shards -wal.ack=synced; spindle-loadgen --count $spans (OTLP/gRPC, default corpus:" \
       "2 connections x 16 in flight, 100 spans/request, 10 spans/trace) on the same machine."
  echo
} >"$report"
lookup_header() {
  echo "| from | pass | answers whole | p50 ms | p90 ms | p99 ms | max ms | response bytes | client CPU |"
  echo "|---|---|---|---|---|---|---|---|---|"
}

for phase in $phases; do
  data="$work/data.$phase"
  mkdir -p "$data"
  config="$work/$phase.yaml"
  if [ "$phase" = blocks ]; then
    printf 'ingester:\n  trace_idle_period: 1s\n  flush_check_period: 1s\nspindle:\n  compaction:\n    inputs: 4\n' >"$config"
    head_bytes=1GiB
  else
    printf 'ingester:\n  trace_idle_period: 1h\n  max_block_duration: 2h\n  flush_check_period: 10s\n' >"$config"
    # Nothing may be cut early: the head cuts past 3/4 of its budget, and the WAL keeps about a head's worth.
    head_bytes=$(( (spans / 1000000 + 1) * 800 ))MiB
  fi
  start_server "$config" "$data" "$work/$phase.log"
  t_ingest=$(now_s)
  ingest "$phase"

  if [ "$phase" = blocks ]; then
    await_settled "$settle_timeout"
    settle_s=$(awk -v a="$t_ingest" -v b="$(now_s)" -v i="$(json_num seconds "$work/$phase.json")" \
               'BEGIN {printf "%.0f", b - a - i}')
    received=$(metric "$work/m.txt" 'spindle_receiver_bytes_total')
    got_spans=$(metric "$work/m.txt" 'spindle_receiver_spans_total')
    block_bytes=$(metric "$work/m.txt" spindle_storage_block_bytes)
    du_blocks=$(du -sb "$data/blocks" | cut -f1)
    du_wal=$(du -sb "$data/wal" | cut -f1)
    nblocks=$(metric "$work/m.txt" spindle_storage_blocks)
    {
      echo "**Bytes on disk** (phase blocks: idle 1s, flush check 1s, compaction inputs 4, -head.max-bytes=$head_bytes):" \
           "ingest $(json_num spans_per_second "$work/$phase.json") spans/s; head empty and compaction settled" \
           "${settle_s} s after the loadgen finished; $nblocks blocks ($(levels "$work/m.txt"))," \
           "$(metric "$work/m.txt" spindle_storage_compactions_total) compactions, server CPU" \
           "$(awk -v t="$(cpu_ticks "$server_pid")" -v hz="$clk_tck" 'BEGIN {printf "%.1f", t / hz}') s in all," \
           "peak RSS $(rss_mib "$server_pid" VmHWM) MiB."
      echo
      echo "| spans | OTLP bytes received | block data bytes (metric) | du blocks dir | du WAL dir | bytes/span on disk | OTLP bytes/span | OTLP / disk |"
      echo "|---|---|---|---|---|---|---|---|"
      awk -v s="$got_spans" -v r="$received" -v b="$block_bytes" -v d="$du_blocks" -v w="$du_wal" 'BEGIN {
        printf "| %.0f | %.0f | %.0f | %.0f | %.0f | %.1f | %.1f | %.2fx |\n", s, r, b, d, w, d / s, r / s, r / d }'
      echo
      echo "Trace by ID from blocks ($lookups traces sampled uniformly from the acknowledged requests, sequential" \
           "GET /api/v2/traces/<id> over one keep-alive connection, Accept: application/protobuf):"
      echo
      lookup_header
      lookup_rows blocks "$work/$phase.ids"
      echo
    } >>"$report"
    stop_server
  else
    metrics >"$work/m.txt"
    in_head=$(metric "$work/m.txt" spindle_head_spans)
    cuts=$(metric "$work/m.txt" spindle_storage_cuts_total)
    [ "$cuts" = 0 ] || echo "storage_bench: head: $cuts blocks were cut during ingest (head too small?)" >&2
    rss_head=$(rss_mib "$server_pid" VmRSS)
    {
      echo "**From the head, then WAL replay** (phase head: idle 1h, -head.max-bytes=$head_bytes):" \
           "ingest $(json_num spans_per_second "$work/$phase.json") spans/s; $in_head spans in the head," \
           "$cuts blocks cut, server RSS $rss_head MiB."
      echo
      lookup_header
      lookup_rows head "$work/$phase.ids"
    } >>"$report"
    wal_bytes=$(du -sb "$data/wal" | cut -f1)
    kill -KILL "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    start_server "$config" "$data" "$work/$phase.restart.log"
    metrics >"$work/m2.txt"
    replay_bytes=$(metric "$work/m2.txt" spindle_wal_replay_bytes_total)
    replay_max=$(metric_max "$work/m2.txt" spindle_wal_replay_duration_seconds)
    replayed_spans=$(metric "$work/m2.txt" spindle_head_spans)
    {
      lookup_rows "head after replay" "$work/$phase.ids"
      echo
      echo "| WAL on disk at kill -9 | replayed bytes (metric) | spans in head after replay | exec to /ready = 200 | replay duration (metric, slowest shard) | s per GB of WAL (ready) | s per GB (metric) | RSS after replay |"
      echo "|---|---|---|---|---|---|---|---|"
      awk -v w="$wal_bytes" -v r="$replay_bytes" -v s="$replayed_spans" -v t="$ready_s" -v m="$replay_max" \
          -v rss="$(rss_mib "$server_pid" VmRSS)" 'BEGIN {
        printf "| %.2f GB | %.2f GB | %.0f | %.2f s | %.2f s | %.2f | %.2f | %s MiB |\n", w / 1e9, r / 1e9, s, t, m,
               t / (w / 1e9), m / (r / 1e9), rss }'
      echo
    } >>"$report"
    stop_server
  fi
  rm -rf "$data"
done

cat "$report"
if [ -n "$out" ]; then { cat "$report"; echo; } >>"$out"; fi
