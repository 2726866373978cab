"""Settings checked before any call: unknown keys (with the closest known one), SDK settings that
do nothing here, the shape of `api_url`, credentials that can be sent, and files (rejects,
outcomes, sync store) that can be written. No message here quotes a secret."""

from __future__ import annotations

import difflib
import os
import pathlib
import typing as t
import unicodedata
import urllib.parse

from target_hubspot_contacts.reach import HUBSPOT_API_URL
from target_hubspot_contacts.syncstore import project_root, store_path

# Settings the Meltano SDK offers every target that this one does not act on, and why.
UNSUPPORTED_SDK_SETTINGS = {
    "load_method": "contacts are always matched by `id_property`; choose how with `write_mode`",
    "add_record_metadata": "Singer metadata columns (`_sdc_*`) are never sent to HubSpot",
    "process_activate_version_messages": "ACTIVATE_VERSION messages are ignored",
    "batch_config": "this target reads RECORD messages, not BATCH files",
    "hard_delete": "deleted records archive their contact when `archive_deleted` is set",
}
# Settings that hold credentials HubSpot is sent (HubSpot's are printable ASCII, no spaces).
CREDENTIAL_SETTINGS = ("access_token", "client_id", "client_secret", "refresh_token")


def withdraw_unsupported(config_jsonschema: dict) -> None:
    """Take the SDK settings that do nothing here out of the schema `--about` advertises."""
    for name in UNSUPPORTED_SDK_SETTINGS:
        config_jsonschema.get("properties", {}).pop(name, None)


def problems(config: t.Mapping[str, t.Any], known: t.Collection[str]) -> list[str]:
    """Every mistake in the settings that must stop the run before it makes a call."""
    return [
        *unknown_setting_problems(config, known),
        *api_url_problems(config.get("api_url")),
        *credential_problems(config),
        *rejects_problems(config.get("rejects_path"), config.get("max_rejects")),
        *file_problems("outcomes_path", config.get("outcomes_path")),
        *sync_store_problems(config.get("sync_store")),
        *shared_file_problems(config.get("rejects_path"), config.get("outcomes_path")),
    ]


def unknown_setting_problems(config: t.Mapping[str, t.Any], known: t.Collection[str]) -> list[str]:
    """One message per key that is not a setting, naming the closest setting there is."""
    messages = []
    for key in config:
        if key in UNSUPPORTED_SDK_SETTINGS:
            messages.append(
                f"Setting `{key}` does nothing for this target ({UNSUPPORTED_SDK_SETTINGS[key]}); "
                "remove it."
            )
        elif key not in known:
            closest = closest_setting(key, known)
            hint = f"did you mean `{closest}`?" if closest else "it matches no setting."
            messages.append(
                f"Unknown setting `{key}`: {hint} "
                "(`target-hubspot-contacts --about` lists the settings.)"
            )
    return messages


def closest_setting(key: str, known: t.Collection[str]) -> str | None:
    """The known setting a misspelled key most likely meant, if any is close."""
    by_normal_form = {_normal_form(name): name for name in known}
    if _normal_form(key) in by_normal_form:  # `dry-run`, `Dry_Run`
        return by_normal_form[_normal_form(key)]
    matches = difflib.get_close_matches(_normal_form(key), list(by_normal_form), n=1, cutoff=0.6)
    return by_normal_form[matches[0]] if matches else None


def _normal_form(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def api_url_problems(api_url: object) -> list[str]:
    """`api_url` must be an http(s) URL with a host and nothing after it."""
    if api_url is None:
        return []
    if isinstance(api_url, str) and "@" in urllib.parse.urlsplit(api_url.strip()).netloc:
        return [
            "`api_url` holds a user name or password (`user:password@host`; not shown here). "
            "Remove it: the target authenticates to HubSpot with `access_token` or OAuth, "
            "and a proxy's credentials belong in the HTTPS_PROXY environment variable."
        ]
    shown = f"`api_url` {str(api_url)!r}"
    if not isinstance(api_url, str) or not api_url.strip():
        return [f"{shown} is empty; leave it unset for {HUBSPOT_API_URL}."]
    if api_url != api_url.strip():
        return [f"{shown} has spaces around it; remove them."]
    why = _why_not_a_base_url(api_url)
    return [f"{shown} {why}"] if why else []


def _why_not_a_base_url(api_url: str) -> str | None:
    parts = urllib.parse.urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return (
            f"is not an http or https URL with a host: write it as {HUBSPOT_API_URL} "
            "(or http://127.0.0.1:PORT for the local HubSpot server)."
        )
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number from 0 to 65535
    except ValueError:
        return f"has an invalid port: write it as {HUBSPOT_API_URL}."
    if not parts.hostname:
        return f"has no host: write it as {HUBSPOT_API_URL}."
    if parts.path.rstrip("/") or parts.query or parts.fragment:
        base = f"{parts.scheme}://{parts.netloc}"
        return (
            f"has a path ({api_url[len(base) :]!r}): give only the scheme and host, {base!r}; "
            "the target adds the API paths itself."
        )
    return None


def credential_problems(config: t.Mapping[str, t.Any]) -> list[str]:
    """Credentials holding a character that cannot be sent to HubSpot, named without their value:
    a zero-width space or line break pasted along with a token, say."""
    messages = []
    for setting in CREDENTIAL_SETTINGS:
        value = config.get(setting)
        if not isinstance(value, str):
            continue
        odd = next((char for char in value.strip() if not "!" <= char <= "~"), None)
        if odd is not None:
            name = unicodedata.name(odd, "a control character")
            messages.append(
                f"`{setting}` holds a character that cannot be sent to HubSpot: U+{ord(odd):04X} "
                f"({name.lower()}), likely pasted along with it (the value is not shown). "
                "HubSpot credentials are plain ASCII with no spaces: copy the value again."
            )
    return messages


def hide_secret_values(errors: list[str], config_jsonschema: dict) -> list[str]:
    """The SDK's schema errors, with those about a secret setting rewritten not to quote it
    (`918273645546372819 is not of type 'string' in config['client_secret']`)."""
    properties = config_jsonschema.get("properties", {})
    secrets = [name for name, schema in properties.items() if schema.get("secret")]
    hidden = []
    for error in errors:
        secret = next((name for name in secrets if f"in config[{name!r}]" in error), None)
        if secret is None:
            hidden.append(error)
            continue
        expected = _expected_type(properties[secret])
        hidden.append(
            f"`{secret}` must be {expected}, and the value given is not (it is not shown: "
            "the setting is secret)."
        )
    return hidden


def _expected_type(schema: dict) -> str:
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else [kind for kind in types if kind != "null"]
    return " or ".join(f"a {kind}" for kind in types) or "valid"


def rejects_problems(rejects_path: object, max_rejects: object) -> list[str]:
    """A rejects file that can be created or appended to; `max_rejects` only with one."""
    if rejects_path is None:
        if isinstance(max_rejects, int) and max_rejects > 0:
            return [
                f"`max_rejects` is {max_rejects} but `rejects_path` is not set: rejected records "
                "would be kept nowhere, so the first one would hold STATE back and fail the run. "
                "Set `rejects_path` to a file for them, or remove `max_rejects`."
            ]
        return []
    return file_problems("rejects_path", rejects_path)


def file_problems(setting: str, path: object) -> list[str]:
    """A file setting, when set, must name a file that can be created or appended to."""
    if path is None:
        return []
    if not isinstance(path, str) or not path.strip():
        return [f"`{setting}` is empty: set it to a file path, or leave it unset."]
    why = _why_not_appendable(pathlib.Path(path))
    return [f"`{setting}` {path!r} cannot be written: {why}."] if why else []


def sync_store_problems(location: object) -> list[str]:
    """A `sync_store` that is a file path (not a URL) must be a file SQLite can create or
    open, with room beside it for the side files SQLite and the run's lock keep there."""
    if location is None or (isinstance(location, str) and "://" in location):
        return []  # a database URL is checked when the store opens
    if not isinstance(location, str) or not location.strip():
        return ["`sync_store` is empty: set it to a file path or a database URL, or leave it out."]
    path = store_path(location, project_root())  # relative to the Meltano project
    why = _why_not_appendable(path)
    if why is None and path.exists() and not os.access(path.parent, os.W_OK | os.X_OK):
        why = (
            "SQLite keeps its journal and the run's lock beside it, and there is no "
            f"permission to create files in {str(path.parent)!r}"
        )
    return [f"`sync_store` {location!r} cannot be written: {why}."] if why else []


def shared_file_problems(rejects_path: object, outcomes_path: object) -> list[str]:
    """`rejects_path` and `outcomes_path` must name two files: each holds its own kind of line."""
    paths = [rejects_path, outcomes_path]
    if not all(isinstance(path, str) and path.strip() for path in paths):
        return []
    if not _same_file(*t.cast("list[str]", paths)):
        return []
    return [
        f"`rejects_path` ({rejects_path!r}) and `outcomes_path` ({outcomes_path!r}) name the "
        "same file, but one file cannot be both: the rejects file keeps rejected records for "
        "replay, the outcomes file a line per record read. Set them to two different files, "
        "such as output/rejects.jsonl and output/outcomes.jsonl."
    ]


def _same_file(first: str, second: str) -> bool:
    """Whether two paths name one file (through links too, or before it exists)."""
    if os.path.realpath(first) == os.path.realpath(second):
        return True
    try:
        return os.path.samefile(first, second)
    except OSError:  # one of them does not exist yet
        return False


def _why_not_appendable(path: pathlib.Path) -> str | None:
    """Why records could not be appended to `path`, judged without creating anything."""
    if path.is_dir():
        return "it is a directory"
    if path.exists():
        return None if os.access(path, os.W_OK) else "no permission to write to it"
    parent = path.parent
    while not parent.exists():  # the rejects file creates missing directories
        parent = parent.parent
    if not parent.is_dir():
        return f"{str(parent)!r} is a file, not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"no permission to create files in {str(parent)!r}"
    return None
