#!/usr/bin/env bash
# Builds a program's image without a Docker engine: an OCI image-layout tarball (for
# `ctr images import`, `skopeo copy oci-archive:...`, `podman load`) made of busybox-static, the
# program and its shared libraries (images/rootfs.sh), on tests/support/make_oci_image.sh.
# usage: images/build-oci.sh tracer-node|tracer-svc BUILD_DIR OUT.tar [IMAGE_REF]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
program=$1 build=$2 out=$3
ref=${4:-docker.io/container-tracer/$program:local}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/rootfs.sh" "$program" "$build" "$work/root"
case $program in
  tracer-node) user=0:0 ;;          # ftrace, /proc of every process, runtime sockets: root
  tracer-svc) user=65532:65532 ;;   # needs nothing privileged
  *) echo "build-oci: unknown program $program" >&2; exit 2 ;;
esac
EXTRA_ROOT=$work/root IMAGE_USER=$user "$here/../tests/support/make_oci_image.sh" "$out" "$ref" \
  "[\"/usr/bin/$program\"]" '[]'
