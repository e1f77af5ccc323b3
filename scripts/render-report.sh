#!/usr/bin/env bash
# Render an eltops report to a PNG in headless Chromium, so a person can see it without a browser.
#   scripts/render-report.sh [report.html] [report.png] [width]
# Needs Debian's chromium (apt-get install chromium); nothing is fetched from the network.
set -euo pipefail
html="$(realpath "${1:-eltops-demo-report.html}")"
png="${2:-${html%.html}.png}"
width="${3:-1400}"
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
[ -n "$browser" ] || { echo "chromium is not installed (apt-get install chromium)" >&2; exit 2; }
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --virtual-time-budget=5000 \
  --window-size="${width},3000" --screenshot="$png" "file://$html" 2>/dev/null
echo "$png"
