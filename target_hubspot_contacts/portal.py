"""The portal's contact properties, read once per run, and the record mapper for each stream."""

from __future__ import annotations

import typing as t

from target_hubspot_contacts.client import RejectedCallError
from target_hubspot_contacts.mapping import (
    FieldPlan,
    PropertyDefinition,
    RecordMapper,
    draft_plan,
    plan_new_properties,
    problems_error,
)
from target_hubspot_contacts.mapping_report import mapping_table

if t.TYPE_CHECKING:
    import logging

    from target_hubspot_contacts.client import HubSpotClient

# Singer metadata columns (`_sdc_extracted_at`, a tap's `_sdc_filename`) are never contact data.
SINGER_METADATA_PREFIX = "_sdc_"


class Portal:
    """Knows the portal's contact properties and builds a mapper per stream schema."""

    def __init__(
        self,
        client: HubSpotClient,
        *,
        id_property: str,
        property_mapping: t.Mapping[str, str],
        unmapped_fields: str,
        create_missing_properties: bool,
        null_values: str,
        logger: logging.Logger,
        dry_run: bool = False,
    ) -> None:
        self._client = client
        self._dry_run = dry_run
        self._id_property = id_property
        self._property_mapping = dict(property_mapping)
        self._unmapped_fields = unmapped_fields
        self._create_missing = create_missing_properties
        self._null_values = null_values
        self._logger = logger
        self._properties: dict[str, PropertyDefinition] | None = None
        self._warned_fields: set[str] = set()
        self._tables: dict[str, str] = {}  # the mapping table last logged, by stream
        self._created_for: set[str] = set()  # fields whose property this run created

    @property
    def properties(self) -> dict[str, PropertyDefinition]:
        """Contact property definitions by internal name, fetched on first use."""
        if self._properties is None:
            definitions = self._client.contact_properties()
            self._properties = {}
            for payload in definitions:
                definition = PropertyDefinition.from_api(payload)
                self._properties[definition.name] = definition
            self._logger.info("Read %d contact property definitions.", len(self._properties))
        return self._properties

    def mapper_for(self, stream_name: str, schema: t.Mapping[str, t.Any]) -> RecordMapper:
        """Plan how this stream's fields become properties and log the plan as a table; fail
        naming every mapping problem at once, or warn about the fields left out."""
        field_schemas = {
            field: field_schema
            for field, field_schema in (schema.get("properties") or {}).items()
            if not field.startswith(SINGER_METADATA_PREFIX)
        }
        plan = self._plan(field_schemas)
        if plan.unmatched and self._create_missing and not plan.problems:
            bodies = plan_new_properties(
                plan.unmatched, field_schemas, claimed=set(plan.targets.values())
            )
            self._check_before_creating(stream_name, field_schemas, bodies)
            self._create_properties(bodies)
            plan = self._plan(field_schemas)
        self._log_table(stream_name, list(field_schemas), plan)
        problems = list(plan.problems)
        if plan.unmatched and self._unmapped_fields == "fail":
            problems.append(self._unmapped_problem(plan.unmatched))
        if problems:
            raise problems_error(problems, prefix=f"Stream '{stream_name}': ")
        self._report_leftovers(stream_name, plan.unmatched, plan.read_only)
        return RecordMapper(plan, self.properties, null_values=self._null_values)

    def _plan(
        self,
        field_schemas: t.Mapping[str, t.Any],
        planned: t.Mapping[str, PropertyDefinition] | None = None,
        pins: t.Mapping[str, str] | None = None,
    ) -> FieldPlan:
        """How the fields map; with `planned` properties as if they existed and `pins` as if
        in property_mapping: the plan that creating them would give."""
        return draft_plan(
            field_schemas.keys(),
            {**self.properties, **planned} if planned else self.properties,
            id_property=self._id_property,
            explicit_mapping={**self._property_mapping, **pins} if pins else self._property_mapping,
        )

    def _check_before_creating(
        self, stream_name: str, field_schemas: t.Mapping[str, t.Any], bodies: t.Mapping[str, dict]
    ) -> None:
        """Stop before creating anything if the plan with the new properties has problems
        (two fields, one name), so that no run creates properties and then stops."""
        planned = {
            body["name"]: self.properties.get(body["name"]) or PropertyDefinition.from_api(body)
            for body in bodies.values()
        }
        pins = {field: body["name"] for field, body in bodies.items()}
        problems = self._plan(field_schemas, planned, pins).problems
        if problems:
            prefix = f"Stream '{stream_name}' (no property was created): "
            raise problems_error(problems, prefix=prefix)

    def _log_table(self, stream_name: str, fields: list[str], plan: FieldPlan) -> None:
        """Log the stream's mapping table, unless the same one was logged already."""
        table = mapping_table(
            stream_name,
            fields,
            plan,
            self.properties,
            explicit_mapping=self._property_mapping,
            created=self._created_for,
            dry_run=self._dry_run,
        )
        if self._tables.get(stream_name) != table:
            self._tables[stream_name] = table
            self._logger.info("%s", table)

    def _unmapped_problem(self, unmatched: t.Sequence[str]) -> str:
        return (
            f"fields {', '.join(sorted(unmatched))} match no HubSpot contact property. Map them "
            "in `property_mapping`, drop them with `stream_maps`, set "
            "`create_missing_properties`, or set `unmapped_fields` to 'ignore'."
        )

    def _create_properties(self, bodies: t.Mapping[str, dict]) -> None:
        for field, body in bodies.items():
            definition = self.properties.get(body["name"])
            if definition is None:
                definition = self._create_property(body, field)
            else:
                self._logger.warning(
                    "Field '%s' writes the existing contact property '%s' (%s).",
                    field,
                    definition.name,
                    definition.type,
                )
            if definition is not None:
                self._property_mapping.setdefault(field, definition.name)

    def _create_property(self, body: dict, field: str) -> PropertyDefinition | None:
        """Create a property (a dry run only says so); if it exists already (409), use the
        portal's definition."""
        try:
            # A dry run maps the field as if the property existed, so its counts are the real ones.
            created = None if self._dry_run else self._client.create_contact_property(body)
        except RejectedCallError as exc:
            if exc.status != 409:
                raise
            self._properties = None  # created meanwhile by someone else: read them again
            return self.properties.get(body["name"])
        definition = PropertyDefinition.from_api(created or body)
        self.properties[definition.name] = definition
        self._logger.warning(
            "%s custom contact property '%s' (%s) for field '%s'.",
            "Dry run: would create" if self._dry_run else "Created",
            definition.name,
            definition.type,
            field,
        )
        self._created_for.add(field)
        return definition

    def _report_leftovers(
        self, stream_name: str, unmatched: t.Sequence[str], read_only: t.Sequence[str]
    ) -> None:
        new_unmatched = [field for field in unmatched if field not in self._warned_fields]
        if new_unmatched:
            self._logger.warning(
                "Stream '%s': ignoring fields that match no HubSpot contact property: %s",
                stream_name,
                ", ".join(sorted(new_unmatched)),
            )
        for field in read_only:
            if field in self._warned_fields:
                continue
            self._logger.warning(
                "Stream '%s': field '%s' matches a read-only HubSpot property; it is never sent.",
                stream_name,
                field,
            )
        self._warned_fields.update(unmatched, read_only)
