"""Singer target that upserts contacts into HubSpot."""

from __future__ import annotations
