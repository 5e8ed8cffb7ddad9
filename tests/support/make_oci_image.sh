#!/usr/bin/env bash
# Builds an OCI image-layout tarball from the host's static busybox, for `ctr images import`
# (see shared/design/cri-lab.md). One uncompressed layer: diff_id == digest.
# usage: make_oci_image.sh OUT.tar IMAGE_REF ENTRYPOINT_JSON CMD_JSON
#   e.g. make_oci_image.sh busybox.tar docker.io/library/busybox:local '[]' '["/bin/sh"]'
# Optional environment: EXTRA_ROOT=DIR (copied over the busybox root, e.g. a program and its
# shared libraries: images/rootfs.sh), IMAGE_USER=uid:gid (config User; default root).
set -euo pipefail
out=$1 ref=$2 entrypoint=$3 cmd=$4
busybox=${BUSYBOX:-/bin/busybox}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,dev,etc,proc,sys,tmp,var,root}
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  case $applet in busybox|*/*|'['|'[[') continue ;; esac
  ln -s busybox "$root/bin/$applet"
done
ln -s busybox "$root/bin/["
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
if [ -n "${EXTRA_ROOT:-}" ]; then cp -a "$EXTRA_ROOT"/. "$root"/; fi

blobs=$work/layout/blobs/sha256
mkdir -p "$blobs"
tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$root" -cf "$work/layer.tar" .
layer_digest=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
layer_size=$(stat -c %s "$work/layer.tar")
mv "$work/layer.tar" "$blobs/$layer_digest"

printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin:/bin"],"User":"%s","Entrypoint":%s,"Cmd":%s,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "${IMAGE_USER:-}" "$entrypoint" "$cmd" "$layer_digest" >"$work/config.json"
config_digest=$(sha256sum "$work/config.json" | cut -d' ' -f1)
config_size=$(stat -c %s "$work/config.json")
mv "$work/config.json" "$blobs/$config_digest"

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
  "$config_digest" "$config_size" "$layer_digest" "$layer_size" >"$work/manifest.json"
manifest_digest=$(sha256sum "$work/manifest.json" | cut -d' ' -f1)
manifest_size=$(stat -c %s "$work/manifest.json")
mv "$work/manifest.json" "$blobs/$manifest_digest"

printf '{"imageLayoutVersion":"1.0.0"}' >"$work/layout/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"local"}}]}' \
  "$manifest_digest" "$manifest_size" "$ref" >"$work/layout/index.json"

tar --numeric-owner --owner=0 --group=0 -C "$work/layout" -cf "$out" oci-layout index.json blobs
