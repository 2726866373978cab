"""Print what the local HubSpot server holds after the demo, and the records it rejected."""

from __future__ import annotations

import json
import pathlib
import sys

import requests

COLUMNS = ("email", "firstname", "lastname", "jobtitle", "plan", "lifetime_value", "signup_date")


def main(api_url: str, rejects_path: str) -> None:
    """Summarise contacts and rejects."""
    contacts = requests.get(f"{api_url}/_emulator/contacts", timeout=10).json()["results"]
    stats = requests.get(f"{api_url}/_emulator/stats", timeout=10).json()
    print(f"\nLocal HubSpot now holds {len(contacts)} contacts. Server stats: {json.dumps(stats)}")
    print(" | ".join(COLUMNS))
    for contact in contacts[:5]:
        properties = contact["properties"]
        print(" | ".join(str(properties.get(column, "")) for column in COLUMNS))
    print(f"... and {max(0, len(contacts) - 5)} more.")
    rejects = pathlib.Path(rejects_path)
    lines = rejects.read_text().splitlines() if rejects.exists() else []
    print(f"\n{len(lines)} record(s) rejected, kept in {rejects_path}:")
    for line in lines:
        entry = json.loads(line)
        shown_id = json.dumps(entry["id"], ensure_ascii=False)  # as the target's log shows it
        print(f"  id {shown_id}: {entry['reason']['message']}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
