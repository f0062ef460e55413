#!/usr/bin/env bash
# Installs every Debian package dlc's build, tests and benchmarks need.
# Idempotent: run as root on a fresh Debian 12 machine; re-running is a no-op.
set -euo pipefail

PKGS=(
  # build
  build-essential cmake pkg-config git ca-certificates
  # libraries (DESIGN.md "Dependencies")
  libuv1-dev libzmq3-dev libmsgpack-dev libsqlite3-dev sqlite3
  libxgboost-dev libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev libseccomp-dev
  libdlpack-dev uthash-dev libcmocka-dev
  # cross boards, emulated with qemu-user
  gcc-aarch64-linux-gnu gcc-riscv64-linux-gnu qemu-user
  libgomp1-arm64-cross libgomp1-riscv64-cross
  # cross headers/libc for linking (only Recommended by gcc-*-linux-gnu, so
  # --no-install-recommends would skip them)
  libc6-dev-arm64-cross libc6-dev-riscv64-cross
  # benchmarks' peers
  libopenblas-dev libdnnl-dev
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: need root to install: ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
