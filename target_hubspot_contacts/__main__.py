"""Run the target as `python -m target_hubspot_contacts`."""

from __future__ import annotations

from target_hubspot_contacts.target import TargetHubSpotContacts

TargetHubSpotContacts.cli()
