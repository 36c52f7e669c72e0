#!/usr/bin/env bash
# Installs the dependencies, builds Spindle (Release) and starts it with the embedded default configuration
# (OTLP/gRPC :4317, OTLP/HTTP :4318, Tempo query API :3200). Extra arguments go to spindle, e.g.
#   deploy/run.sh -config.file=deploy/config.example.yaml
# Data goes to ./spindle-data/ under the current directory unless the config or flags say otherwise.
# The load generator is built beside it: build-release/bench/spindle-loadgen --help
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/deploy/install_deps.sh"
cmake -S "$root" -B "$root/build-release" -DCMAKE_BUILD_TYPE=Release -DSPINDLE_TESTS=OFF >/dev/null
cmake --build "$root/build-release" --target spindle spindle-loadgen -j"$(nproc)"
exec "$root/build-release/api/spindle" "$@"
