"""Settings checked before any call: unknown keys (with the closest known one), SDK settings that
do nothing here, the shape of `api_url`, and files (rejects, outcomes, sync store) that can be
written."""

from __future__ import annotations

import difflib
import os
import pathlib
import typing as t
import urllib.parse

from target_hubspot_contacts.syncstore import project_root, store_path

# Settings the Meltano SDK offers every target that this one does not act on, and why.
UNSUPPORTED_SDK_SETTINGS = {
    "load_method": "contacts are always matched by `id_property`; choose how with `write_mode`",
    "add_record_metadata": "Singer metadata columns (`_sdc_*`) are never sent to HubSpot",
    "process_activate_version_messages": "ACTIVATE_VERSION messages are ignored",
    "batch_config": "this target reads RECORD messages, not BATCH files",
    "hard_delete": "deleted records archive their contact when `archive_deleted` is set",
}
API_URL_EXAMPLE = "https://api.hubapi.com"


def withdraw_unsupported(config_jsonschema: dict) -> None:
    """Take the SDK settings that do nothing here out of the schema `--about` advertises."""
    for name in UNSUPPORTED_SDK_SETTINGS:
        config_jsonschema.get("properties", {}).pop(name, None)


def problems(config: t.Mapping[str, t.Any], known: t.Collection[str]) -> list[str]:
    """Every mistake in the settings that must stop the run before it makes a call."""
    return [
        *unknown_setting_problems(config, known),
        *api_url_problems(config.get("api_url")),
        *rejects_problems(config.get("rejects_path"), config.get("max_rejects")),
        *file_problems("outcomes_path", config.get("outcomes_path")),
        *sync_store_problems(config.get("sync_store")),
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
    shown = f"`api_url` {str(api_url)!r}"
    if not isinstance(api_url, str) or not api_url.strip():
        return [f"{shown} is empty; leave it unset for {API_URL_EXAMPLE}."]
    if api_url != api_url.strip():
        return [f"{shown} has spaces around it; remove them."]
    why = _why_not_a_base_url(api_url)
    return [f"{shown} {why}"] if why else []


def _why_not_a_base_url(api_url: str) -> str | None:
    parts = urllib.parse.urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return (
            f"is not an http or https URL with a host: write it as {API_URL_EXAMPLE} "
            "(or http://127.0.0.1:PORT for the local HubSpot server)."
        )
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number from 0 to 65535
    except ValueError:
        return f"has an invalid port: write it as {API_URL_EXAMPLE}."
    if not parts.hostname:
        return f"has no host: write it as {API_URL_EXAMPLE}."
    if parts.path.rstrip("/") or parts.query or parts.fragment:
        base = f"{parts.scheme}://{parts.netloc}"
        return (
            f"has a path ({api_url[len(base) :]!r}): give only the scheme and host, {base!r}; "
            "the target adds the API paths itself."
        )
    return None


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
