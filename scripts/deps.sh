#!/usr/bin/env bash
# Installs every build, test and run dependency from Debian's packages. Idempotent and quiet
# when everything is present: apt runs only when a package is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ccache
  libboost1.81-dev libboost-json1.81-dev
  libtracefs-dev libtraceevent-dev
  libfmt-dev libspdlog-dev libcli11-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  prometheus-cpp-dev catch2
  util-linux procps curl jq iproute2
  containerd runc containernetworking-plugins busybox-static
  dnsmasq-base openssl libssl-dev unzip
  clang-16 libclang-rt-16-dev  # make fuzz: libFuzzer + a clang that compiles libstdc++ 12's <expected>
  libzstd-dev trace-cmd        # recordings (zstd chunks); trace.dat tests read them with trace-cmd
  clang libbpf-dev bpftool     # trace-hooks/ebpf: BPF CO-RE object (clang -target bpf), skeleton, libbpf
  strace                       # tests/integration/ebpf_manager_test.cpp compares counts with strace -c -f
)
# npm for the node packages tests install (scripts/helm-tools.sh, scripts/trace-engine.sh); a
# node that ships its own npm (NodeSource) needs no Debian npm.
command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
