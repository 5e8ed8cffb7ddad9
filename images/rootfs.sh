#!/usr/bin/env bash
# Assembles the files of one program's image into OUT_DIR: the binary at /usr/bin/<program>, the
# ctrace command line at /usr/bin/ctrace (in both images: `kubectl exec` into tracer-svc to use
# the cluster's API, into a tracer-node to use one node's — both listen on :8080, ctrace's default),
# every shared library they load (ldd) at its own path, the dynamic loader, and for tracer-node
# the trace hook managers at /usr/lib/container-tracer/trace-hooks. Used by the Dockerfiles
# (runtime stage copies OUT_DIR) and by images/build-oci.sh (no Docker engine), so both ship the
# same files.
# usage: images/rootfs.sh tracer-node|tracer-svc BUILD_DIR OUT_DIR
set -euo pipefail
program=$1 build=$2 out=$3
bin=$build/$program/$program
ctrace=$build/cli/ctrace
for b in "$bin" "$ctrace"; do
  [ -x "$b" ] || { echo "rootfs: $b not built" >&2; exit 1; }
done
mkdir -p "$out/usr/bin"
install -m 0755 "$bin" "$out/usr/bin/$program"
install -m 0755 "$ctrace" "$out/usr/bin/ctrace"
copy_libs() {  # copy_libs FILE: the shared objects FILE needs, at their paths
  ldd "$1" 2>/dev/null | awk '/=> \// {print $3} /^\t\/[^ ]+ \(/ {print $1}' | while read -r lib; do
    [ -e "$out$lib" ] && continue
    mkdir -p "$out$(dirname "$lib")"
    cp -L "$lib" "$out$lib"
  done
}
copy_libs "$bin"
copy_libs "$ctrace"
if [ "$program" = tracer-node ]; then
  hooks=$out/usr/lib/container-tracer/trace-hooks
  mkdir -p "$hooks"
  # Only <hook>/manager: the build tree also holds CMake's files.
  for manager in "$build"/trace-hooks/*/manager; do
    [ -x "$manager" ] || continue
    name=$(basename "$(dirname "$manager")")
    mkdir -p "$hooks/$name"
    install -m 0755 "$manager" "$hooks/$name/manager"
    copy_libs "$manager"
  done
fi
