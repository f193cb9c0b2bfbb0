#!/usr/bin/env bash
# Vendor the dashboard's third-party browser assets into src/cipulse/web/static/vendor/ from
# npm, at pinned exact versions, so the server never needs a CDN:
#
#   scripts/vendor_assets.sh          # needs npm and network access to the npm registry
#
# Writes echarts.min.js (Apache ECharts' UMD bundle, as published) and echarts.LICENSE.txt
# (ECharts' LICENSE and NOTICE, the d3 licence it refers to, and the licence of zrender, which
# the bundle embeds), then prints their sha256. The bundle's sha256 is pinned below and checked:
# to update, set ECHARTS_VERSION, run with ECHARTS_SHA256= (empty) to see the new hash, review,
# pin it here and in static/vendor/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

ECHARTS_VERSION=5.6.0
ECHARTS_SHA256="${ECHARTS_SHA256-bf4a223524e40b77c304bec67e1222cf551f14880cf42c69dc046558e11c07b1}"
VENDOR=src/cipulse/web/static/vendor

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# npm pack checks the tarball against the registry's integrity hash; it runs no install scripts.
fetch() { # fetch NAME VERSION -> unpacked into $work/NAME/package
  local name="$1" version="$2"
  mkdir -p "$work/$name"
  (cd "$work/$name" && npm pack --silent "$name@$version" >/dev/null)
  tar -xzf "$work/$name/$name-$version.tgz" -C "$work/$name"
}

fetch echarts "$ECHARTS_VERSION"
echarts="$work/echarts/package"
# The zrender version the bundle was built with: the exact pin in ECharts' package.json.
ZRENDER_VERSION="$(node -p "require('$echarts/package.json').dependencies.zrender")"
fetch zrender "$ZRENDER_VERSION"
zrender="$work/zrender/package"

actual="$(sha256sum "$echarts/dist/echarts.min.js" | cut -d' ' -f1)"
if [ -n "$ECHARTS_SHA256" ] && [ "$actual" != "$ECHARTS_SHA256" ]; then
  echo "echarts@$ECHARTS_VERSION dist/echarts.min.js has sha256 $actual," >&2
  echo "expected $ECHARTS_SHA256; nothing written" >&2
  exit 1
fi

section() { printf '\n\n==== %s ====\n\n' "$1"; }

mkdir -p "$VENDOR"
cp "$echarts/dist/echarts.min.js" "$VENDOR/echarts.min.js"
{
  echo "Apache ECharts $ECHARTS_VERSION (npm package echarts@$ECHARTS_VERSION), dist/echarts.min.js"
  echo "License: Apache-2.0. It embeds zrender $ZRENDER_VERSION (BSD-3-Clause) and tslib (0BSD)."
  section "LICENSE (echarts)"
  cat "$echarts/LICENSE"
  if [ -f "$echarts/NOTICE" ]; then
    section "NOTICE (echarts)"
    cat "$echarts/NOTICE"
  fi
  for extra in "$echarts"/licenses/*; do
    [ -f "$extra" ] || continue
    section "licenses/$(basename "$extra") (echarts)"
    cat "$extra"
  done
  section "LICENSE (zrender $ZRENDER_VERSION)"
  cat "$zrender/LICENSE"
  echo
} >"$VENDOR/echarts.LICENSE.txt"

echo "vendored echarts@$ECHARTS_VERSION (zrender@$ZRENDER_VERSION) into $VENDOR:"
(cd "$VENDOR" && sha256sum echarts.min.js echarts.LICENSE.txt)
