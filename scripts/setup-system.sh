#!/usr/bin/env bash
# Installs the Debian packages LightningDB needs to build and test, when they
# are missing. As root on Debian/Ubuntu it runs apt-get; elsewhere it prints
# the command to run. Usage: scripts/setup-system.sh [--browser] [--bench] [--cross]
set -euo pipefail

pkgs=(cmake gcc g++ clang make pkg-config libzstd-dev liblz4-dev libsnappy-dev libcmocka-dev libclang-rt-14-dev clang-format prometheus nats-server)
for arg in "$@"; do
  case "$arg" in
    --browser) pkgs+=(emscripten chromium) ;;
    --bench) pkgs+=(liblmdb-dev libleveldb-dev librocksdb-dev libsqlite3-dev) ;;
    # npm run test:cross: the linux-arm64 prebuild and its C suite under
    # qemu-user; the win32-x64 prebuild (mingw-w64) and its C suite under wine
    --cross) pkgs+=(gcc-aarch64-linux-gnu g++-aarch64-linux-gnu binutils-aarch64-linux-gnu qemu-user libcmocka-dev:arm64
                    gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 binutils-mingw-w64-x86-64 mingw-w64-x86-64-dev wine wine64) ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # arm64 packages (--cross) come from Debian's multiarch archive
  if printf '%s\n' "${missing[@]}" | grep -q ':arm64$' && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
  fi
  apt_locked="$(dirname "$0")/apt-locked.sh"
  "$apt_locked" update -qq
  "$apt_locked" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: missing packages: ${missing[*]}" >&2
  echo "setup: run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
