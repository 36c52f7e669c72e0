#!/usr/bin/env bash
# Search benchmark (bench/README.md): TraceQL search latency over --spans spans in blocks, with ingest running.
#
#   1. The real `spindle` (2 shards, -wal.ack=synced, ingester.trace_idle_period 1s, compaction inputs 4) on
#      loopback. spindle-loadgen sends --spans spans (default corpus: services frontend..recommend, 5% error
#      spans, 5-15 ms spans, http.method GET) while a second loadgen trickles 20 spans/s of a wider corpus
#      (--services 100: service-10..service-99 appear only there, every span an error), so the selective
#      query's service is spread thinly over every block. Then wait until the head is empty and compaction
#      has settled.
#   2. With a third loadgen sending --background-rate spans/s the whole time, each query runs --runs times
#      (sequential curl, GET /api/search?q=...&limit=20&start&end over the whole data): median, min, max
#      wall time, traces returned and the response's inspectedTraces/inspectedBytes.
#   3. The same again after restarting the server with every block's `search` file deleted (and compaction
#      off, so it does not write them back): searches then decode every trace, which is what the columns save.
#
#   bench/search_bench.sh          10 M spans; appends the report to bench/RESULTS.md
#   options: --spans N (default 10000000)  --shards N (2)  --runs N (11)  --background-rate N (spans/s, 50000)
#            --settle-timeout S (900)  --data-dir DIR (default: a fresh directory under $TMPDIR; a real disk)
#            --out FILE (default bench/RESULTS.md; '' to skip)  --build-dir DIR (default build-release)
#            --no-build  --spindle BIN  --loadgen BIN  --keep (leave the work directory, logs and data)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/bench_common.sh
. "$root/bench/bench_common.sh"

spans=10000000
shards=2
runs=11
background_rate=50000
settle_timeout=900
data_root=""
out="$root/bench/RESULTS.md"
build_dir="$root/build-release"
build=1
keep=0
spindle_bin=""
loadgen_bin=""

die() { echo "search_bench: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --spans) spans=$2; shift 2 ;;
    --shards) shards=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --background-rate) background_rate=$2; shift 2 ;;
    --settle-timeout) settle_timeout=$2; shift 2 ;;
    --data-dir) data_root=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --keep) keep=1; shift ;;
    --spindle) spindle_bin=$2; shift 2 ;;
    --loadgen) loadgen_bin=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

if [ $build = 1 ]; then
  cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build_dir" --target spindle spindle-loadgen -j"$(nproc)" >/dev/null
fi
spindle_bin=${spindle_bin:-$build_dir/api/spindle}
loadgen_bin=${loadgen_bin:-$build_dir/bench/spindle-loadgen}
for b in "$spindle_bin" "$loadgen_bin"; do [ -x "$b" ] || die "no binary at $b"; done

work=$(mktemp -d "${data_root:-${TMPDIR:-/tmp}}/spindle-search-bench.XXXXXX")
server_pid=""
loadgen_pids=()
stop_loadgens() {
  local p
  for p in "${loadgen_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  loadgen_pids=()
}
on_exit() {
  stop_loadgens
  if [ $keep = 1 ]; then
    [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null
    echo "search_bench: kept $work" >&2
  else
    cleanup
  fi
}
trap on_exit EXIT

data="$work/data"
config="$work/spindle.yaml"
printf 'ingester:\n  trace_idle_period: 1s\n  flush_check_period: 1s\nspindle:\n  compaction:\n    inputs: 4\n' >"$config"

start_server() {  # start_server LOG
  "$spindle_bin" -config.file="$config" -shards="$shards" -wal.ack=synced -head.max-bytes=1GiB \
    -storage.trace.wal.path="$data/wal" -storage.trace.local.path="$data/blocks" \
    -otlp.grpc-endpoint=127.0.0.1:0 -otlp.http-endpoint=127.0.0.1:0 \
    -server.http-listen-address=127.0.0.1 -server.http-listen-port=0 2>"$1" &
  server_pid=$!
  await_spindle_ready "$1" 600
}

# background LABEL ARGS...: a loadgen sending until stopped (stop_loadgens).
background() {
  local label=$1
  shift
  "$loadgen_bin" --target "127.0.0.1:$grpc_port" --duration 86400s "$@" >"$work/$label.json" 2>"$work/$label.err" &
  loadgen_pids+=($!)
}

queries=(
  '{ resource.service.name = "service-57" && status = error }'
  '{ duration > 1s }'
  '{ duration > 10ms }'
  '{ span.http.method = "GET" } >> { status = error }'
)

# query_rows LABEL: one table row per query.
query_rows() {
  local label=$1 q i t times n inspected_traces inspected_bytes
  for q in "${queries[@]}"; do
    times=()
    for ((i = 0; i < runs; i++)); do
      t=$(curl -fsS --max-time 120 -o "$work/resp.json" -w '%{time_total}' --get \
            --data-urlencode "q=$q" --data "limit=20&start=$range_start&end=$range_end" \
            "http://127.0.0.1:$query_port/api/search") || die "search failed: $q"
      times+=("$t")
    done
    n=$({ grep -o '"traceID"' "$work/resp.json" || true; } | wc -l)
    inspected_traces=$(grep -o '"inspectedTraces":"*[0-9]*' "$work/resp.json" | grep -o '[0-9]*$' || echo 0)
    inspected_bytes=$(grep -o '"inspectedBytes":"*[0-9]*' "$work/resp.json" | grep -o '[0-9]*$' || echo 0)
    printf '%s\n' "${times[@]}" | sort -g | awk -v label="$label" -v q="$q" -v n="$n" -v it="$inspected_traces" \
      -v ib="$inspected_bytes" '{t[NR] = $1 * 1000} END {
        printf "| %s | `%s` | %.1f | %.1f | %.1f | %d | %s | %.1f MB |\n", label, q, t[int((NR + 1) / 2)], t[1],
               t[NR], n, it, ib / 1e6 }'
  done
}

range_start=$(($(date +%s) - 60))
start_server "$work/server.log"
t_ingest=$(now_s)
background rare --services 100 --error-ratio 1 --rate 20 --spans-per-request 100 --seed 57
status=0
"$loadgen_bin" --target "127.0.0.1:$grpc_port" --count "$spans" --json --fail-on-error \
  >"$work/main.json" 2>"$work/main.err" || status=$?
[ $status = 0 ] || { cat "$work/main.err" >&2; die "spindle-loadgen failed (exit $status)"; }
stop_loadgens
echo "search_bench: ingested $(json_num spans "$work/main.json") spans in $(json_num seconds "$work/main.json") s" >&2
await_settled "$settle_timeout"
settle_s=$(awk -v a="$t_ingest" -v b="$(now_s)" -v i="$(json_num seconds "$work/main.json")" 'BEGIN {printf "%.0f", b - a - i}')
spans_stored=$(metric "$work/m.txt" spindle_receiver_spans_total)
nblocks=$(metric "$work/m.txt" spindle_storage_blocks)
levels_text=$(levels "$work/m.txt")
search_bytes=$(find "$data/blocks" -name search -printf '%s\n' | awk '{s += $1} END {print s + 0}')
data_bytes=$(find "$data/blocks" -name data -printf '%s\n' | awk '{s += $1} END {print s + 0}')
range_end=$(($(date +%s) + 3600))

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit+dirty"; fi
report="$work/report.md"
{
  echo "### Search benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $commit"
  echo
  echo "Machine: $(nproc) cores ($(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))," \
       "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, $(uname -sr); load average" \
       "before: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "\`bench/search_bench.sh --spans $spans --runs $runs --background-rate $background_rate\`:" \
       "$spans_stored spans stored in $nblocks blocks ($levels_text), settled ${settle_s} s after ingest;" \
       "block data $(awk -v b="$data_bytes" 'BEGIN {printf "%.0f MB", b / 1e6}'), search columns" \
       "$(awk -v b="$search_bytes" -v s="$spans_stored" 'BEGIN {printf "%.0f MB (%.1f B/span)", b / 1e6, b / s}')." \
       "Queries with limit=20 over the whole time range, $runs sequential runs each, while a loadgen sends" \
       "$background_rate spans/s."
  echo
  echo "| blocks | query | median ms | min ms | max ms | traces | inspectedTraces | inspectedBytes |"
  echo "|---|---|---|---|---|---|---|---|"
} >"$report"

background ingest --rate "$background_rate"
query_rows "with columns" >>"$report"
metrics >"$work/metrics.columns.txt"
stop_loadgens
stop_server

# The same blocks without their columns. Compaction is switched off: it would write the columns back.
find "$data/blocks" -name search -delete
printf 'ingester:\n  trace_idle_period: 1s\n  flush_check_period: 1s\nspindle:\n  compaction:\n    inputs: 64\n' >"$config"
start_server "$work/server2.log"
background ingest2 --rate "$background_rate"
query_rows "columns deleted" >>"$report"
metrics >"$work/metrics.nocolumns.txt"
stop_loadgens
stop_server

cat "$report"
if [ -n "$out" ]; then
  { echo; cat "$report"; } >>"$out"
  echo "search_bench: appended to $out" >&2
fi
