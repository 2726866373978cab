"""The command line: --about, --version, and settings from the environment."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import TOKEN, clean_env, contact, lines, record, schema

COMMAND = [sys.executable, "-m", "target_hubspot_contacts"]


def test_about_json_lists_every_setting_and_marks_secrets():
    result = subprocess.run(
        [*COMMAND, "--about", "--format", "json"], capture_output=True, text=True, check=True
    )

    about = json.loads(result.stdout)
    settings = about["settings"]["properties"]
    for name in (
        "access_token",
        "client_id",
        "client_secret",
        "refresh_token",
        "api_url",
        "id_property",
        "batch_size_rows",
        "rejects_path",
        "max_rejects",
    ):
        assert name in settings
    for secret in ("access_token", "client_secret", "refresh_token"):
        assert settings[secret].get("secret") is True
    assert about["name"] == "target-hubspot-contacts"


def test_version_names_the_package():
    result = subprocess.run([*COMMAND, "--version"], capture_output=True, text=True, check=True)

    assert "target-hubspot-contacts v0.1.0" in result.stdout + result.stderr


def test_config_env_reads_settings_from_the_environment(hubspot):
    env = clean_env(
        TARGET_HUBSPOT_CONTACTS_ACCESS_TOKEN=TOKEN,
        TARGET_HUBSPOT_CONTACTS_API_URL=hubspot.url,
    )
    text = lines([schema(), record(contact(1))])

    result = subprocess.run(
        [*COMMAND, "--config", "ENV"],
        input=text,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert hubspot.contact(email="person1@example.com") is not None
