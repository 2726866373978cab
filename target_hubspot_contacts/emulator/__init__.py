"""A local HubSpot server for tests, demos, benchmarks and offline dry runs.

The target itself never imports this package.
"""

from __future__ import annotations

from target_hubspot_contacts.emulator.server import ALL_SCOPES, HubSpotEmulator, RequestRecord

__all__ = ["ALL_SCOPES", "HubSpotEmulator", "RequestRecord"]
