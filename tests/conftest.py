"""Fixtures: a local HubSpot server per test, and settings pointing the target at it."""

from __future__ import annotations

import pytest

from target_hubspot_contacts.emulator import HubSpotEmulator
from tests.helpers import TOKEN


@pytest.fixture
def hubspot():
    """A fresh local HubSpot server on a free loopback port."""
    with HubSpotEmulator(access_token=TOKEN) as emulator:
        yield emulator


@pytest.fixture
def config(hubspot) -> dict:
    """Target settings for the local server."""
    return {
        "access_token": TOKEN,
        "api_url": hubspot.url,
        "max_retry_seconds": 20,
        "request_timeout": 10,
    }
