#!/usr/bin/env bash
# Builds the WebAssembly module (build/wasm/lightningdb.mjs + lightningdb.wasm)
# from the same C core as the native library.
#
# zstd, lz4 and snappy are compiled from their Debian source packages, fetched
# here at build time into third_party/ (gitignored; never committed): same
# versions as the native libzstd-dev / liblz4-dev / libsnappy-dev. Needs the `emscripten` package
# (scripts/setup-system.sh --browser); fetching the sources needs root for the
# deb-src entry and `apt-get update` the first time.
#
# Usage: scripts/build-wasm.sh [--debug]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tp="$root/third_party"
build_type=Release
[ "${1:-}" = "--debug" ] && build_type=Debug

command -v emcc >/dev/null || { echo "build-wasm: emcc not found; run scripts/setup-system.sh --browser" >&2; exit 1; }
# Debian's emscripten 3.1.6 needs acorn & co. from the system node modules.
export NODE_PATH=/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}

fetch_sources() {
  mkdir -p "$tp"
  if ! ls "$tp"/lz4_*.orig.tar.gz >/dev/null 2>&1 || ! ls "$tp"/libzstd_*.orig.tar.* >/dev/null 2>&1 ||
     ! ls "$tp"/snappy_*.orig.tar.* >/dev/null 2>&1; then
    local src=/etc/apt/sources.list.d/lightningdb-debian-src.sources
    if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
      if [ "$(id -u)" != 0 ]; then
        echo "build-wasm: need a deb-src apt entry to fetch zstd/lz4 sources; run as root once" >&2
        exit 1
      fi
      printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' > "$src"
      "$root/scripts/apt-locked.sh" update -qq
    fi
    (cd "$tp" && apt-get source --download-only lz4 libzstd snappy >/dev/null 2>&1) || {
      [ "$(id -u)" = 0 ] && "$root/scripts/apt-locked.sh" update -qq
      (cd "$tp" && apt-get source --download-only lz4 libzstd snappy)
    }
  fi
  if [ ! -d "$tp/lz4" ]; then
    rm -rf "$tp/lz4.tmp" && mkdir "$tp/lz4.tmp"
    tar -xf "$(ls "$tp"/lz4_*.orig.tar.gz | head -1)" -C "$tp/lz4.tmp" --strip-components=1
    mv "$tp/lz4.tmp" "$tp/lz4"
  fi
  if [ ! -d "$tp/snappy" ]; then
    rm -rf "$tp/snappy.tmp" && mkdir "$tp/snappy.tmp"
    tar -xf "$(ls "$tp"/snappy_*.orig.tar.* | head -1)" -C "$tp/snappy.tmp" --strip-components=1
    mv "$tp/snappy.tmp" "$tp/snappy"
  fi
  if [ ! -d "$tp/zstd" ]; then
    rm -rf "$tp/zstd.tmp" && mkdir "$tp/zstd.tmp"
    tar -xf "$(ls "$tp"/libzstd_*.orig.tar.* | head -1)" -C "$tp/zstd.tmp" --strip-components=1
    mv "$tp/zstd.tmp" "$tp/zstd"
  fi
}

fetch_sources
emcmake cmake -S . -B build/wasm -DCMAKE_BUILD_TYPE=$build_type -DLDB_THIRD_PARTY="$tp" >/dev/null
cmake --build build/wasm -j2
ls -l build/wasm/lightningdb.wasm build/wasm/lightningdb.mjs
