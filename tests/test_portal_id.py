"""Which HubSpot portal the sync store keys its memory by: from the account details or, when
HubSpot forbids those, from the OAuth token answer (`hub_id`); else an error naming the scope."""

from __future__ import annotations

import pytest

from target_hubspot_contacts.emulator import ALL_SCOPES
from tests.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    TOKEN,
    contact,
    lines,
    local_hubspot,
    oauth_config,
    record,
    run_target,
    schema,
)
from tests.sync_stores import Store

TWO_CONTACTS = lines([schema(), record(contact(1)), record(contact(2))])
ACCOUNT_DETAILS = "/account-info/2026-03/details"


def test_account_details_are_read_with_the_scope_they_need(tmp_path):
    store = tmp_path / "sync.db"
    scopes = [*ALL_SCOPES, "oauth"]
    with local_hubspot(account_details_scope="oauth", scopes=scopes, portal_id=4242) as hubspot:
        config = {"access_token": TOKEN, "api_url": hubspot.url, "skip_unchanged": True}
        config["sync_store"] = str(store)

        result = run_target(tmp_path, config, TWO_CONTACTS)

        assert result.returncode == 0, result.stderr
        assert len(hubspot.calls(ACCOUNT_DETAILS)) == 1
        assert len(hubspot.contacts) == 2
    assert len(Store(str(store)).rows(portal_id=4242)) == 2


def test_forbidden_account_details_fall_back_to_the_portal_the_oauth_token_answer_names(
    tmp_path,
):
    store = tmp_path / "sync.db"
    with local_hubspot(access_token=None, portal_id=777, account_details_scope="oauth") as hubspot:
        hubspot.add_oauth_client(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)
        config = oauth_config(hubspot, skip_unchanged=True, sync_store=str(store))

        result = run_target(tmp_path, config, TWO_CONTACTS)

        assert result.returncode == 0, result.stderr
        assert [call.status for call in hubspot.calls(ACCOUNT_DETAILS)] == [403]
        assert len(hubspot.contacts) == 2
    assert len(Store(str(store)).rows(portal_id=777)) == 2


FORBIDDEN_WITHOUT_CATEGORY = {"status": "error", "message": "This app lacks a required scope."}


@pytest.mark.parametrize(
    ("credentials", "forbidden"),
    [("token", None), ("oauth_without_hub_id", None), ("token", FORBIDDEN_WITHOUT_CATEGORY)],
    ids=["service-key", "oauth-answer-without-hub_id", "403-without-category"],
)
def test_forbidden_account_details_with_no_other_source_name_the_scope_and_settings(
    credentials, forbidden, tmp_path
):
    options = {"account_details_scope": "oauth", "token_hub_id": False}
    with local_hubspot(**options) as hubspot:
        hubspot.add_oauth_client(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)
        config = {"access_token": TOKEN, "api_url": hubspot.url}
        if credentials != "token":
            config = oauth_config(hubspot)
        config.update(skip_unchanged=True, sync_store=str(tmp_path / "sync.db"))
        if forbidden is not None:
            hubspot.inject(ACCOUNT_DETAILS, status=403, body=forbidden)

        result = run_target(tmp_path, config, TWO_CONTACTS)

        assert result.returncode == 1
        assert hubspot.contacts == []
    last_line = result.stderr.splitlines()[-1]
    assert "lack the scope(s) oauth needed to read the account details" in last_line
    assert "the store is used with `skip_unchanged` or `full_resync`" in last_line
