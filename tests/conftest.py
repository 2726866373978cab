"""Fixtures: a local HubSpot server per test, and settings pointing the target at it."""

from __future__ import annotations

import pytest

from tests.helpers import TOKEN, local_hubspot


@pytest.fixture
def hubspot():
    """A fresh local HubSpot server on a free loopback port, serving only dated paths.

    A test that calls a retired path (`/crm/v3/...`, `/oauth/v1/...`) fails at teardown.
    """
    with local_hubspot() as emulator:
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
