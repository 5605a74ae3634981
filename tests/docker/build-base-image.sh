#!/usr/bin/env bash
# Build the local base image the Docker end-to-end test builds Dockerfile.production on, from
# Debian packages (no image registry is needed):
#
#   debootstrap --variant=minbase trixie + python3, python3-venv, python3-pip, ca-certificates and
#   python3-torch (Debian's CPU-only torch build: pip then keeps it instead of pulling the CUDA wheel
#   and its ~3 GB of nvidia libraries)  ->  docker import  ->  $HOLOLOOM_TEST_BASE_IMAGE
#
# The Debian mirror is read from this machine's apt sources. The host's CA bundle is copied in so pip
# inside a build (run with host networking) trusts what the host trusts. The image is labelled with a
# hash of this script; a second run with an unchanged script does nothing.
#
# Usage: tests/docker/build-base-image.sh [IMAGE]     (default hololoom-test/python:trixie)
set -euo pipefail

IMAGE="${1:-${HOLOLOOM_TEST_BASE_IMAGE:-hololoom-test/python:trixie}}"
SUITE=trixie
PACKAGES=python3,python3-venv,python3-pip,ca-certificates,python3-torch
DOCKER="${DOCKER:-docker}"
HASH="$(sha256sum "$0" | cut -c1-16)"

if [ "$("$DOCKER" image inspect -f '{{ index .Config.Labels "hololoom.recipe" }}' "$IMAGE" 2>/dev/null)" = "$HASH" ]; then
  echo "build-base-image: $IMAGE is up to date"
  exit 0
fi

apt_mirror() {
  # The first non-security Debian archive URI this machine's apt uses.
  local uri
  uri="$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n1 || true)"
  if [ -z "$uri" ]; then
    uri="$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}' | grep -v security | head -n1 || true)"
  fi
  [ -n "$uri" ] || { echo "build-base-image: no Debian mirror in this machine's apt sources" >&2; return 1; }
  echo "$uri"
}

MIRROR="$(apt_mirror)"
ROOTFS="$(mktemp -d /tmp/hololoom-rootfs.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT
started=$SECONDS
echo "build-base-image: debootstrap $SUITE ($PACKAGES)"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1 || {
  tail -n 30 "$ROOTFS.log" >&2; exit 1; }
rm -f "$ROOTFS.log"
cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
tar -C "$ROOTFS" -c . | "$DOCKER" import \
  --change "LABEL hololoom.recipe=$HASH" \
  --change 'ENV LANG=C.UTF-8 PIP_CERT=/etc/ssl/certs/ca-certificates.crt REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["/bin/bash"]' - "$IMAGE" >/dev/null
echo "build-base-image: $IMAGE built in $((SECONDS - started)) s ($("$DOCKER" image inspect -f '{{ .Size }}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
