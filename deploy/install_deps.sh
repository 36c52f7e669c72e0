#!/usr/bin/env bash
# Installs every build, test and runtime dependency of Spindle from Debian's packages (bookworm + backports)
# and the npm test clients. Idempotent; used by README's commands and by .ci/run.
#   deploy/install_deps.sh          build + runtime deps
#   deploy/install_deps.sh --test   also the real clients the integration tests drive
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
want_test=0
[ "${1:-}" = "--test" ] && want_test=1
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
pkgs=(build-essential cmake pkg-config libuv1-dev libnghttp2-dev libzstd-dev zlib1g-dev libxxhash-dev
      libyaml-cpp-dev libjemalloc-dev node-llhttp libprotobuf-dev protobuf-compiler libre2-dev)
backports=(opentelemetry-proto)
if [ $want_test = 1 ]; then
  # gtest/benchmark for unit tests and micro-benchmarks; nghttp2-client (h2load, nghttp) for load and
  # framing checks; curl for black-box HTTP checks; the OpenTelemetry C++ SDK as a second real client.
  pkgs+=(libgtest-dev libgmock-dev libbenchmark-dev nghttp2-client curl nodejs npm)
  backports+=(opentelemetry-cpp-dev libopentelemetry-proto-dev)
  # Debian's opentelemetry-cpp is built with HAVE_ABSEIL: its headers need absl's variant to match the libraries.
  pkgs+=(libabsl-dev)
fi
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
bp_missing=()
for p in "${backports[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || bp_missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ] || [ ${#bp_missing[@]} -gt 0 ]; then
  # The OTLP .proto files and the OpenTelemetry C++ SDK live in bookworm-backports; add it where it is missing.
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' |
      $SUDO tee /etc/apt/sources.list.d/spindle-backports.sources >/dev/null
  fi
  $SUDO apt-get update -q
  # nodejs may already come from another repository (it does on the CI image); skip it if a node is on PATH.
  if command -v node >/dev/null && command -v npm >/dev/null; then
    missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
  fi
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | grep -v '^$' || true)
  [ ${#missing[@]} -eq 0 ] || $SUDO apt-get install -y -q "${missing[@]}"
  [ ${#bp_missing[@]} -eq 0 ] || $SUDO apt-get install -y -q -t bookworm-backports "${bp_missing[@]}"
fi
if [ $want_test = 1 ]; then
  (cd "$here/tests/clients" && npm ci --no-audit --no-fund --loglevel=error)
fi
