"""Write meltano-plugin.yml, the loader's definition for `meltano add --from-ref`, from meltano.yml.

The repo's meltano.yml installs this checkout (`pip_url: -e .`); the definition installs the
package by name instead. Run it after changing the loader's settings in meltano.yml:
`.venv/bin/python scripts/plugin_definition.py`.
"""

from __future__ import annotations

import pathlib

import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent
DEFINITION = REPO / "meltano-plugin.yml"
PIP_URL = "target-hubspot-contacts"
HEADER = """\
# The loader's definition for your own Meltano project:
#   meltano add target-hubspot-contacts --from-ref <path or URL of this file>
# pip_url installs the package by name; to install from git instead, change it to
# git+https://<git host>/<owner>/target-hubspot-contacts.git@<tag>, or to a checkout's path.
# Generated from meltano.yml by scripts/plugin_definition.py: edit meltano.yml, then run it.
"""


def definition_text() -> str:
    """The definition file's text, from the loader block of meltano.yml."""
    project = yaml.safe_load((REPO / "meltano.yml").read_text())
    (loader,) = (p for p in project["plugins"]["loaders"] if p["name"] == "target-hubspot-contacts")
    loader = {**loader, "pip_url": PIP_URL}
    loader.pop("config", None)  # the demo's own values stay in the demo
    return HEADER + yaml.safe_dump(loader, sort_keys=False, width=100, allow_unicode=True)


if __name__ == "__main__":
    DEFINITION.write_text(definition_text())
    print(f"wrote {DEFINITION.relative_to(REPO)}")
