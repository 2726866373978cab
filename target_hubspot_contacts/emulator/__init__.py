"""A local HubSpot server for tests, demos, benchmarks and offline dry runs.

The target itself never imports this package. Its modules, outermost first:
`server` (HTTP and the `HubSpotEmulator` facade), `routing` (`HubSpotState`: the lock, route
table, scope checks, request log), `oauth` (tokens and their refresh), `limits` (rate limits and
injected faults), `objects` (contacts and the batch endpoints), `validation_rules` (a portal's
required properties), `property_endpoints` (listing and creating properties), `properties`
(definitions and value rules), `replies` (requests, replies and HubSpot's error bodies),
`versions` (dated and retired API paths).
"""

from __future__ import annotations

from target_hubspot_contacts.emulator.routing import ALL_SCOPES, RequestRecord
from target_hubspot_contacts.emulator.server import HubSpotEmulator

__all__ = ["ALL_SCOPES", "HubSpotEmulator", "RequestRecord"]
