"""Settings mistakes stop the run before any call, each named with what to write instead."""

from __future__ import annotations

import json
import pathlib
import re
import runpy
import subprocess
import sys

import pytest
import yaml

from target_hubspot_contacts.settings import (
    UNSUPPORTED_SDK_SETTINGS,
    api_url_problems,
    closest_setting,
    hide_secret_values,
    shared_file_problems,
)
from tests.helpers import contact, lines, record, run_target, schema

REPO = pathlib.Path(__file__).resolve().parent.parent
ONE_CONTACT = lines([schema(), record(contact(1))])
KNOWN = ("dry_run", "write_mode", "id_property", "rejects_path", "max_rejects", "api_url")


def about_settings() -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "target_hubspot_contacts", "--about", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)["settings"]["properties"]


def assert_stopped_before_any_call(result, hubspot) -> None:
    assert result.returncode == 1, result.stderr
    assert hubspot.requests == []
    assert hubspot.contacts == []


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("dry-run", "dry_run"), ("write_mod", "write_mode"), ("id_propery", "id_property")],
)
def test_a_misspelled_setting_stops_the_run_naming_the_closest_setting(
    typo, meant, hubspot, config, tmp_path
):
    config[typo] = "create_only" if typo == "write_mod" else True

    result = run_target(tmp_path, config, ONE_CONTACT)

    assert_stopped_before_any_call(result, hubspot)
    assert f"Unknown setting `{typo}`: did you mean `{meant}`?" in result.stderr


def test_a_refused_settings_reason_is_the_runs_last_line(hubspot, config, tmp_path):
    config["write_mode"] = "upsrt"

    result = run_target(tmp_path, config, ONE_CONTACT)

    assert_stopped_before_any_call(result, hubspot)
    last_line = result.stderr.rstrip().splitlines()[-1]
    assert "'upsrt' is not one of ['upsert', 'update_only', 'create_only']" in last_line


def test_every_unknown_setting_is_named_at_once(hubspot, config, tmp_path):
    config.update({"dry-run": True, "colour_scheme": "dark"})

    result = run_target(tmp_path, config, ONE_CONTACT)

    assert_stopped_before_any_call(result, hubspot)
    assert "Unknown setting `dry-run`: did you mean `dry_run`?" in result.stderr
    assert "Unknown setting `colour_scheme`: it matches no setting." in result.stderr


def test_an_sdk_setting_that_does_nothing_here_is_refused_and_not_advertised(
    hubspot, config, tmp_path
):
    config["load_method"] = "upsert"

    result = run_target(tmp_path, config, ONE_CONTACT)

    assert_stopped_before_any_call(result, hubspot)
    assert "Setting `load_method` does nothing for this target" in result.stderr
    assert "`write_mode`" in result.stderr
    assert not set(UNSUPPORTED_SDK_SETTINGS) & set(about_settings())


@pytest.mark.parametrize("name", sorted(set(UNSUPPORTED_SDK_SETTINGS) - {"load_method"}))
def test_every_refused_sdk_setting_stops_the_run_saying_why(name, hubspot, config, tmp_path):
    config[name] = True

    result = run_target(tmp_path, config, ONE_CONTACT)

    assert_stopped_before_any_call(result, hubspot)
    assert f"Setting `{name}` does nothing for this target ({UNSUPPORTED_SDK_SETTINGS[name]})" in (
        result.stderr
    )


def test_the_readme_lists_every_refused_sdk_setting():
    readme = " ".join((REPO / "README.md").read_text().split())
    listed = re.search(r"The SDK's ((?:`\w+`,? (?:and )?)+)do nothing for this target", readme)

    assert listed, "the README's sentence on refused SDK settings is gone"
    assert set(re.findall(r"`(\w+)`", listed[1])) == set(UNSUPPORTED_SDK_SETTINGS)


def test_the_sdk_settings_that_work_here_are_accepted(hubspot, config, tmp_path):
    config.update(
        stream_maps={"contacts": {"company": "'Acme'"}},
        stream_map_config={},
        flattening_enabled=True,
        flattening_max_depth=1,
        validate_records=True,
        batch_size_rows=10,
    )

    result = run_target(tmp_path, config, ONE_CONTACT)

    assert result.returncode == 0, result.stderr
    assert hubspot.contact(email="person1@example.com")["properties"]["company"] == "Acme"


def test_every_setting_has_its_three_homes():
    advertised = set(about_settings())
    loader = yaml.safe_load((REPO / "meltano.yml").read_text())["plugins"]["loaders"][0]
    in_meltano = {setting["name"] for setting in loader["settings"]}
    readme = (REPO / "README.md").read_text()

    assert in_meltano == advertised
    assert not set(UNSUPPORTED_SDK_SETTINGS) & advertised
    assert [name for name in sorted(advertised) if f"`{name}`" not in readme] == []


def test_the_plugin_definition_file_is_the_loader_of_meltano_yml_installed_by_name():
    made = runpy.run_path(str(REPO / "scripts" / "plugin_definition.py"))["definition_text"]()
    definition = yaml.safe_load(made)

    assert (REPO / "meltano-plugin.yml").read_text() == made, (
        "meltano-plugin.yml is stale: run scripts/plugin_definition.py"
    )
    assert definition["pip_url"] == "target-hubspot-contacts"
    assert {s["name"] for s in definition["settings"]} == set(about_settings())


@pytest.mark.parametrize(
    ("api_url", "complaint"),
    [
        ("api.hubapi.com", "is not an http or https URL with a host"),
        ("ftp://api.hubapi.com", "is not an http or https URL with a host"),
        ("https://api.hubapi.com/crm/v3", "has a path ('/crm/v3')"),
        ("https://api.hubapi.com:99999", "has an invalid port"),
    ],
)
def test_a_malformed_api_url_stops_the_run_at_the_start(api_url, complaint, config, tmp_path):
    config["api_url"] = api_url

    result = run_target(tmp_path, config, ONE_CONTACT, timeout=30)

    assert result.returncode == 1
    assert f"`api_url` {api_url!r} {complaint}" in result.stderr


def test_an_api_url_with_a_path_is_refused_before_calling_the_server(hubspot, config, tmp_path):
    config["api_url"] = hubspot.url + "/crm/v3"

    result = run_target(tmp_path, config, ONE_CONTACT)

    assert_stopped_before_any_call(result, hubspot)
    assert f"give only the scheme and host, {hubspot.url!r}" in result.stderr


@pytest.mark.parametrize("userinfo", ["proxyuser:Pr0xyPassw0rd@", "Pr0xyPassw0rd@"])
def test_an_api_url_holding_a_password_is_refused_without_echoing_it(
    userinfo, hubspot, config, tmp_path
):
    config["api_url"] = hubspot.url.replace("http://", f"http://{userinfo}") + "/crm/v3"

    result = run_target(tmp_path, config, ONE_CONTACT)

    assert_stopped_before_any_call(result, hubspot)
    assert "`api_url` holds a user name or password" in result.stderr
    assert "Pr0xyPassw0rd" not in result.stderr + result.stdout


def test_a_rejects_path_that_is_a_directory_stops_the_run_at_the_start(hubspot, config, tmp_path):
    config["rejects_path"] = str(tmp_path)

    result = run_target(tmp_path, config, ONE_CONTACT)

    assert_stopped_before_any_call(result, hubspot)
    assert f"`rejects_path` {str(tmp_path)!r} cannot be written: it is a directory" in (
        result.stderr
    )


def test_a_rejects_path_under_a_file_stops_the_run_at_the_start(hubspot, config, tmp_path):
    (tmp_path / "notes.txt").write_text("not a directory")
    config["rejects_path"] = str(tmp_path / "notes.txt" / "rejects.jsonl")

    result = run_target(tmp_path, config, ONE_CONTACT)

    assert_stopped_before_any_call(result, hubspot)
    assert "notes.txt' is a file, not a directory" in result.stderr


def test_a_rejects_path_in_a_missing_directory_is_fine_and_created_on_first_reject(
    config, tmp_path
):
    rejects = tmp_path / "output" / "today" / "rejects.jsonl"
    config.update(rejects_path=str(rejects), max_rejects=1)

    result = run_target(tmp_path, config, lines([schema(), record({"email": "bad"})]))

    assert result.returncode == 0, result.stderr
    assert json.loads(rejects.read_text())["id"] == "bad"


def test_max_rejects_without_a_rejects_path_stops_the_run_at_the_start(hubspot, config, tmp_path):
    config["max_rejects"] = 5

    result = run_target(tmp_path, config, ONE_CONTACT)

    assert_stopped_before_any_call(result, hubspot)
    assert "`max_rejects` is 5 but `rejects_path` is not set" in result.stderr


def test_outcomes_path_and_rejects_path_naming_one_file_stop_the_run_at_the_start(
    hubspot, config, tmp_path
):
    shared = tmp_path / "output" / "records.jsonl"
    config.update(rejects_path=str(shared), outcomes_path=str(shared), max_rejects=1)

    result = run_target(tmp_path, config, ONE_CONTACT)

    assert_stopped_before_any_call(result, hubspot)
    assert (
        f"`rejects_path` ({str(shared)!r}) and `outcomes_path` ({str(shared)!r}) name the same file"
    ) in result.stderr
    assert "Set them to two different files" in result.stderr
    assert not shared.exists()


# --- the pure checks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("dry-run", "dry_run"),
        ("DRY_RUN", "dry_run"),
        ("write_mod", "write_mode"),
        ("id_propery", "id_property"),
        ("reject_path", "rejects_path"),
        ("max_reject", "max_rejects"),
        ("api-url", "api_url"),
    ],
)
def test_closest_setting_finds_what_a_typo_meant(key, meant):
    assert closest_setting(key, KNOWN) == meant


def test_closest_setting_is_none_for_a_key_like_no_setting():
    assert closest_setting("colour_scheme", KNOWN) is None


@pytest.mark.parametrize(
    "api_url",
    [
        "https://api.hubapi.com",
        "https://api.hubapi.com/",
        "http://127.0.0.1:8765",
        "http://[::1]:8765",
        None,
    ],
)
def test_a_base_url_passes(api_url):
    assert api_url_problems(api_url) == []


@pytest.mark.parametrize(
    "api_url",
    [
        "",
        " https://api.hubapi.com",
        "https://",
        "https://api.hubapi.com?portal=1",
        "https://api.hubapi.com/#x",
        "//api.hubapi.com",
    ],
)
def test_other_api_urls_are_refused(api_url):
    assert len(api_url_problems(api_url)) == 1


def test_schema_errors_about_a_secret_setting_do_not_quote_its_value():
    schema = {
        "properties": {
            "client_secret": {"type": ["string"], "secret": True},
            "batch_size_rows": {"type": ["integer"]},
        }
    }
    errors = [
        "918273645546372819 is not of type 'string' in config['client_secret']",
        "'ten' is not of type 'integer' in config['batch_size_rows']",
    ]

    assert hide_secret_values(errors, schema) == [
        "`client_secret` must be a string, and the value given is not (it is not shown: "
        "the setting is secret).",
        "'ten' is not of type 'integer' in config['batch_size_rows']",
    ]


def test_two_spellings_of_one_path_are_one_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    assert len(shared_file_problems("out/records.jsonl", "./out/../out/records.jsonl")) == 1


def test_a_link_to_the_other_file_is_the_same_file(tmp_path):
    (tmp_path / "rejects.jsonl").touch()
    (tmp_path / "outcomes.jsonl").symlink_to(tmp_path / "rejects.jsonl")

    problems = shared_file_problems(
        str(tmp_path / "rejects.jsonl"), str(tmp_path / "outcomes.jsonl")
    )

    assert len(problems) == 1


@pytest.mark.parametrize(
    ("rejects", "outcomes"),
    [("rejects.jsonl", "outcomes.jsonl"), ("records.jsonl", None), (None, None)],
)
def test_two_files_or_one_setting_pass(rejects, outcomes, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    assert shared_file_problems(rejects, outcomes) == []
