#!/usr/bin/env bash
# Sets everything up and runs the demo pipeline:
#   tap-jsonl (demo/contacts.jsonl) -> target-hubspot-contacts -> local HubSpot server
# then prints what reached the server. Needs only Python 3.10+.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
mkdir -p output
rm -f output/rejects.jsonl output/emulator.port

# The local HubSpot server, on a free port, with a demo token and HubSpot's Pro rate limit,
# answering only dated API paths, as HubSpot will once /v1/-/v4/ paths are retired.
python -m target_hubspot_contacts.emulator --port 0 --port-file output/emulator.port \
  --token pat-demo-token --rate-limit 190 --latency-ms 40 --dated-only > output/emulator.log 2>&1 &
emulator_pid=$!
trap 'kill "$emulator_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s output/emulator.port ] && break; sleep 0.1; done
port=$(cat output/emulator.port)

export TARGET_HUBSPOT_CONTACTS_API_URL="http://127.0.0.1:$port"
export TARGET_HUBSPOT_CONTACTS_ACCESS_TOKEN=pat-demo-token
meltano install
meltano run --full-refresh tap-jsonl target-hubspot-contacts
python scripts/show_contacts.py "$TARGET_HUBSPOT_CONTACTS_API_URL" output/rejects.jsonl
echo "Last STATE saved by Meltano:"
meltano --environment=demo state get demo:tap-jsonl-to-target-hubspot-contacts
