"""The mapping table logged when a stream starts: each field, its property, how it matched,
what it is coerced to, and each ignored field with the closest property names."""

from __future__ import annotations

import typing as t

from target_hubspot_contacts.mapping import closest_properties, coercion_of

if t.TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence

    from target_hubspot_contacts.mapping import FieldPlan, PropertyDefinition

MATCHED_BY_CREATED = "created"
MATCHED_BY_WOULD_CREATE = "would create"  # in a dry run, which creates nothing
_HEADER = ("field", "property", "matched by", "coerced to")


def mapping_table(
    stream_name: str,
    fields: Sequence[str],
    plan: FieldPlan,
    properties: Mapping[str, PropertyDefinition],
    *,
    explicit_mapping: Mapping[str, str],
    created: Collection[str] = (),
    dry_run: bool = False,
) -> str:
    """The table, several lines long; `created` names the fields whose property was created
    (or, in a dry run, would be)."""
    rows: list[tuple[str, str, str, str]] = []
    ignored: list[str] = []
    matched_by = plan.matched_by or {}
    for field in fields:
        target = plan.targets.get(field)
        if target is not None:
            how = matched_by.get(field, "")
            if field in created:
                how = MATCHED_BY_WOULD_CREATE if dry_run else MATCHED_BY_CREATED
            rows.append((field, target, how, coercion_of(properties[target])))
        else:
            ignored.append(f"  {field}: {_why_ignored(field, plan, properties, explicit_mapping)}")
    table = [_HEADER, *rows]
    widths = [max(len(row[column]) for row in table) for column in range(len(_HEADER) - 1)]
    lines = [f"Stream '{stream_name}': fields -> HubSpot contact properties"]
    for *cells, last in table:
        padded = (cell.ljust(width + 2) for cell, width in zip(cells, widths, strict=True))
        lines.append("  " + "".join(padded) + last)
    if ignored:
        lines += ["Ignored fields:", *ignored]
    return "\n".join(lines)


def _why_ignored(
    field: str,
    plan: FieldPlan,
    properties: Mapping[str, PropertyDefinition],
    explicit_mapping: Mapping[str, str],
) -> str:
    explicit = explicit_mapping.get(field)
    read_only_target = (plan.read_only_targets or {}).get(field)
    if read_only_target is not None:
        return f"property '{read_only_target}' is read-only; never sent"
    if explicit and explicit not in properties:
        return (
            f"property_mapping names '{explicit}', which does not exist"
            f"{_closest(explicit, properties)}"
        )
    if field in plan.unmatched:
        return f"no property matches{_closest(field, properties)}"
    return "matches several properties; pick one with property_mapping"


def _closest(name: str, properties: Mapping[str, PropertyDefinition]) -> str:
    closest = closest_properties(name, properties)
    return f" (closest: {', '.join(closest)})" if closest else ""
