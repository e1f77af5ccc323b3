#!/usr/bin/env bash
# A first run with no account: start the Fivetran emulator on loopback, then drive it with `eltops fivetran`
# exactly as a DataOps job would (variables only), and stop the emulator again.
set -uo pipefail
BIN="${BIN:-.venv/bin}"
log="$(mktemp)"
"$BIN/eltops" emulate fivetran --port 0 >"$log" 2>&1 &
emulator=$!
trap 'kill "$emulator" 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 50); do grep -q '^http://' "$log" && break; sleep 0.1; done
url="$(grep -m1 '^http://' "$log")" || { cat "$log"; exit 1; }

export FIVETRAN_API_URL="$url" FIVETRAN_API_KEY=emulator-key FIVETRAN_API_SECRET=emulator-secret
export FIVETRAN_POLL_INTERVAL=1 FIVETRAN_TIMEOUT=120

echo "== STATUS of demo_shop (the connection object, on stdout)"
FIVETRAN_ACTION=STATUS CONNECTOR_ID=demo_shop "$BIN/eltops" fivetran | head -n 12
echo "== START demo_shop and demo_crm together (demo_crm's sync fails, so this exits 1)"
FIVETRAN_ACTION=START CONNECTOR_ID=demo_shop,demo_crm "$BIN/eltops" fivetran
echo "exit code: $?"
echo "== TEST demo_billing"
FIVETRAN_ACTION=TEST CONNECTOR_ID=demo_billing "$BIN/eltops" fivetran
echo "exit code: $?"
