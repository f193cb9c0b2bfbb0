#!/usr/bin/env bash
# Build a local base image for the Containerfile where no container registry is reachable
# (only Debian's package archive): a minimal Debian bookworm with Python 3.11 and venv, made
# with debootstrap and imported into podman. Needs root, debootstrap and podman.
#
#   scripts/container_base.sh [IMAGE] [MIRROR]
#   podman build --build-arg BASE=localhost/cipulse-base:bookworm -t cipulse -f Containerfile .
#
# Where docker.io is reachable, skip this: the Containerfile's default BASE is
# python:3.11-slim-bookworm.
set -euo pipefail
image="${1:-localhost/cipulse-base:bookworm}"
mirror="${2:-http://deb.debian.org/debian}"
rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$rootfs" "$mirror" >/dev/null
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
echo "$image"
