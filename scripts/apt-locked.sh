#!/usr/bin/env bash
# apt-get with the same arguments, waiting while another apt (unattended-
# upgrades on a fresh machine, a second setup run in parallel) holds dpkg's
# or the package lists' lock, up to 15 minutes, instead of failing at once.
# dpkg's lock has apt's own timeout (DPkg::Lock::Timeout); the lists lock of
# `apt-get update` has none in apt 2.6, so a failure naming a lock is
# retried every 5 s. Any other failure: apt's message and its exit status.
# Usage: scripts/apt-locked.sh <apt-get arguments>
set -uo pipefail
deadline=$((SECONDS + 900))
err=$(mktemp)
trap 'rm -f "$err"' EXIT
while :; do
  apt-get -o DPkg::Lock::Timeout=900 "$@" 2>"$err" && exit 0
  rc=$?
  if grep -q 'Could not get lock' "$err" && [ $SECONDS -lt $deadline ]; then
    echo "apt-locked: apt is busy (another apt-get holds its lock); waiting" >&2
    sleep 5
    continue
  fi
  cat "$err" >&2
  exit $rc
done
