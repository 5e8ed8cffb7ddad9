#!/usr/bin/env bash
# Installs the npm package @paulirish/trace_engine (the trace model of Chrome DevTools'
# Performance panel) into <dir>/npm-trace-engine, for the tests that load our Chrome trace JSON
# with a real viewer's parser (tests/support/trace_engine_summary.mjs). Pinned; idempotent.
# Usage: scripts/trace-engine.sh [tools-dir]; prints the package's directory on success.
set -euo pipefail

version=0.0.65
tools=${1:-"$(cd "$(dirname "$0")/.." && pwd)/build/tools"}
prefix="$tools/npm-trace-engine"
pkg="$prefix/node_modules/@paulirish/trace_engine"
if [ -f "$pkg/package.json" ] && grep -q "\"version\": \"$version\"" "$pkg/package.json"; then
  echo "$pkg"
  exit 0
fi
command -v npm >/dev/null || { echo "trace-engine: npm is missing (scripts/deps.sh installs it)" >&2; exit 1; }
mkdir -p "$prefix"
# A lock shared by concurrent test processes: one installs, the others wait.
exec 9>"$prefix/.lock"
flock 9
if ! grep -qs "\"version\": \"$version\"" "$pkg/package.json"; then
  npm install --silent --no-audit --no-fund --prefix "$prefix" "@paulirish/trace_engine@$version" >&2
fi
[ -f "$pkg/models/trace/trace.js" ] || { echo "trace-engine: $pkg/models/trace/trace.js not found" >&2; exit 1; }
echo "$pkg"
