"""Contacts: the store, its unique-value indexes and the batch endpoints that read and write it."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from target_hubspot_contacts.emulator.properties import normalize_value, validate_value
from target_hubspot_contacts.emulator.property_endpoints import PropertyCatalog
from target_hubspot_contacts.emulator.replies import ApiRequest, Reply, error_reply, timestamp
from target_hubspot_contacts.emulator.validation_rules import ValidationRules
from target_hubspot_contacts.emulator.versions import dated, enforces_validation_rules

# Each serves `{path}/batch/{action}`.
CONTACT_OBJECT_PATHS = ("/crm/v3/objects/contacts", *dated("/crm/objects/{version}/contacts"))
ERROR_SHAPES = ("embedded", "listed")  # where a validation error names its code and property
WRITE_MODES = ("upsert", "create", "update")
BATCH_LIMIT = 100
FIRST_CONTACT_ID = 1001
RECORD_ID = "hs_object_id"
DEFAULT_READ_PROPERTIES = ("createdate", "email", "firstname", "lastmodifieddate", "lastname")
NOT_FOUND_MESSAGE = (
    "Could not get some CONTACT objects, they may be deleted or not exist. "
    "Check that ids are valid."
)


def batch_paths(action: str) -> tuple[str, ...]:
    """Every path of one batch endpoint, e.g. `.../contacts/batch/upsert` for "upsert"."""
    return tuple(f"{path}/batch/{action}" for path in CONTACT_OBJECT_PATHS)


@dataclass
class _Write:
    """One batch write input after lookup and validation."""

    index: int
    trace_id: str | None
    values: dict[str, str]
    errors: list[dict[str, Any]]
    contact_id: str | None = None  # the existing contact to write; None = create one
    id_property: str | None = None  # upsert only: the identifying property and value
    id_value: str | None = None
    missing: str | None = None  # update only: the id that matched no contact

    @property
    def failed(self) -> bool:
        """Whether this input is refused."""
        return bool(self.errors) or self.missing is not None


def _invalid_message(errors: list[dict[str, Any]]) -> str:
    """HubSpot's "Property values were not valid: [...]" message, JSON list inside."""
    return "Property values were not valid: " + json.dumps(
        errors, separators=(",", ":"), ensure_ascii=False
    )


def _duplicates_error(ids: list[str]) -> Reply:
    return error_reply(
        400,
        f"Duplicate IDs found in batch input: [{', '.join(ids)}]. IDs must be unique",
        "VALIDATION_ERROR",
        context={"ids": ids},
    )


def _batch_inputs(
    body: Any, *, require_id: bool, allow_missing: bool = False
) -> tuple[list[dict[str, Any]], Reply | None]:
    """The `inputs` list of a batch body, or a 400 when its shape is wrong."""
    if allow_missing and isinstance(body, dict) and body.get("inputs") is None:
        return [], None
    problem = _inputs_problem(body, require_id=require_id)
    if problem is not None:
        return [], error_reply(400, problem, "VALIDATION_ERROR")
    return body["inputs"], None


def _inputs_problem(body: Any, *, require_id: bool) -> str | None:
    """What is wrong with the shape of a batch body, if anything."""
    if not isinstance(body, dict):
        return "Invalid input JSON: expected an object"
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(item, dict) for item in inputs):
        return 'Invalid input: "inputs" must be a list of objects'
    if len(inputs) > BATCH_LIMIT:
        return f"Batch input size of {len(inputs)} exceeds the limit of {BATCH_LIMIT} inputs"
    if require_id and not all(isinstance(i.get("id"), str) and i["id"].strip() for i in inputs):
        return 'Invalid input: every input needs a non-empty string "id"'
    if not all(isinstance(item.get("properties") or {}, dict) for item in inputs):
        return 'Invalid input: "properties" must be an object'
    return None


def _duplicate_ids(inputs: list[dict[str, Any]]) -> Reply | None:
    """The whole-call 400 when two inputs name the same id (trimmed, case-insensitive)."""
    seen: set[tuple[str, str]] = set()
    duplicates: list[str] = []
    for item in inputs:
        key = (item.get("idProperty") or RECORD_ID, item["id"].strip().lower())
        if key in seen and item["id"] not in duplicates:
            duplicates.append(item["id"])
        seen.add(key)
    return _duplicates_error(duplicates) if duplicates else None


def _details(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The `errors` list of a validation error: each with its code and property name."""
    return [
        {"message": e["message"], "code": e["error"], "context": {"propertyName": [e["name"]]}}
        for e in errors
    ]


def _validation_message(errors: list[dict[str, Any]], shape: str) -> str:
    """The message of a validation error in either shape (see `ERROR_SHAPES`).

    "embedded": the JSON list inside the message, as recorded live for a bad email.
    "listed": a plain message; codes and property names are only in the `errors` list.
    """
    return _invalid_message(errors) if shape == "embedded" else errors[0]["message"]


def _whole_call_error(failed: list[_Write], shape: str) -> Reply:
    """The 400 HubSpot sends when an input without a trace id is invalid: nothing is written."""
    errors = [error for write in failed for error in write.errors]
    if not errors:
        ids = [write.missing for write in failed]
        return error_reply(400, NOT_FOUND_MESSAGE, "OBJECT_NOT_FOUND", context={"ids": ids})
    message = _validation_message(errors, shape)
    return error_reply(400, message, "VALIDATION_ERROR", errors=_details(errors))


def _input_error(write: _Write, shape: str, *, traced: bool) -> dict[str, Any]:
    """One entry of a 207 `errors` list, naming its input by trace id when `traced`."""
    context: dict[str, list[str | None]] = (
        {"objectWriteTraceId": [write.trace_id]} if traced else {}
    )
    entry: dict[str, Any] = {"status": "error"}
    if write.errors:
        entry.update(category="VALIDATION_ERROR")
        entry.update(message=_validation_message(write.errors, shape))
        if shape == "listed":
            entry.update(errors=_details(write.errors))
    else:
        entry.update(category="OBJECT_NOT_FOUND", message=NOT_FOUND_MESSAGE)
        context = {"ids": [write.missing], **context}
    return {**entry, "context": context}


def _batch_reply(
    results: list[dict[str, Any]], errors: list[dict[str, Any]], ok_status: int, started: str
) -> Reply:
    """A batch answer; results come back reversed so nobody can match them by position."""
    body: dict[str, Any] = {"status": "COMPLETE", "results": results[::-1]}
    if errors:
        body.update(numErrors=len(errors), errors=errors)
    body.update(startedAt=started, completedAt=timestamp())
    return Reply(207 if errors else ok_status, body)


def _public(contact: dict[str, Any], properties: dict[str, Any] | None = None) -> dict[str, Any]:
    """A contact as the API shows it (a copy)."""
    return {
        "id": contact["id"],
        "properties": dict(contact["properties"] if properties is None else properties),
        "createdAt": contact["createdAt"],
        "updatedAt": contact["updatedAt"],
        "archived": contact["archived"],
    }


def _index_key(name: str, value: str) -> str:
    """How a unique property value is matched: emails ignore case and surrounding space."""
    return value.strip().lower() if name == "email" else value


def _append_options(current: str | None, value: str) -> str:
    """A multi-select value with a leading `;` adds options instead of replacing them."""
    parts = [part for part in (current or "").split(";") if part]
    parts += [part for part in value.split(";") if part and part not in parts]
    return ";".join(parts)


class ContactStore:
    """Contacts by id, indexes of their unique property values, and the batch endpoints.

    Called with `HubSpotState.lock` held.
    """

    def __init__(
        self,
        catalog: PropertyCatalog,
        rules: ValidationRules,
        *,
        partial_upserts: bool,
        error_shape: str = "embedded",
    ) -> None:
        if error_shape not in ERROR_SHAPES:
            raise ValueError(f"error_shape must be one of {ERROR_SHAPES}")
        self._catalog = catalog
        self._rules = rules
        self.partial_upserts = partial_upserts
        self.error_shape = error_shape
        self.traced_errors = True  # False: 207 errors do not say which input they are about
        self.clear()

    def clear(self) -> None:
        """Forget every contact; ids start over."""
        self._contacts: dict[str, dict[str, Any]] = {}
        self._unique: dict[str, dict[str, str]] = {}  # property -> index key -> live contact id
        self._next_id = FIRST_CONTACT_ID

    # ----- inspection -----

    def snapshot(self) -> list[dict[str, Any]]:
        """A deep copy of every stored contact, archived ones included."""
        return copy.deepcopy(list(self._contacts.values()))

    def find(self, criteria: Mapping[str, Any]) -> dict[str, Any] | None:
        """A copy of the contact whose properties match all criteria; live contacts first."""
        if not criteria:
            raise ValueError("name at least one property to match")
        wanted = {name: _index_key(name, str(value)) for name, value in criteria.items()}
        found = [
            contact
            for contact in self._contacts.values()
            if all(
                name in contact["properties"]
                and _index_key(name, contact["properties"][name]) == value
                for name, value in wanted.items()
            )
        ]
        found.sort(key=lambda contact: contact["archived"])
        return copy.deepcopy(found[0]) if found else None

    def counts(self) -> tuple[int, int]:
        """How many contacts are live and how many archived."""
        live = sum(1 for contact in self._contacts.values() if not contact["archived"])
        return live, len(self._contacts) - live

    # ----- lookup and indexes -----

    def _lookup(self, name: str, value: str) -> str | None:
        """The id of the live contact whose identifying property holds value."""
        if name == RECORD_ID:
            contact = self._contacts.get(value.strip())
            return contact["id"] if contact is not None and not contact["archived"] else None
        return self._unique.get(name, {}).get(_index_key(name, value))

    def _index_change(self, contact_id: str, name: str, old: str | None, new: str | None) -> None:
        if not self._catalog.is_unique(name):
            return
        index = self._unique.setdefault(name, {})
        if old is not None and index.get(_index_key(name, old)) == contact_id:
            del index[_index_key(name, old)]
        if new is not None:
            index[_index_key(name, new)] = contact_id

    def reindex(self, name: str) -> None:
        """Rebuild one property's index after its definition changed."""
        self._unique.pop(name, None)
        for contact in self._contacts.values():
            value = contact["properties"].get(name)
            if not contact["archived"] and value is not None:
                self._index_change(contact["id"], name, None, value)

    # ----- batch endpoints -----

    def batch_write(self, request: ApiRequest, mode: str) -> Reply:
        """batch/upsert, batch/create and batch/update."""
        started = timestamp()
        inputs, reply = _batch_inputs(
            request.body, require_id=mode != "create", allow_missing=mode == "upsert"
        )
        if reply is not None:
            return reply
        if not inputs:  # also the real quirk: no `inputs` wrapper answers COMPLETE, writes nothing
            return _batch_reply([], [], 201 if mode == "create" else 200, started)
        if mode != "create":
            reply = self._check_id_properties(inputs, mode) or _duplicate_ids(inputs)
            if reply is not None:
                return reply
        ruled = enforces_validation_rules(request.path)
        writes = [self._plan(index, item, mode, ruled) for index, item in enumerate(inputs)]
        failed = [write for write in writes if write.failed]
        # HubSpot's docs say partial upserts keyed on email are unsupported; a recording shows
        # 207s. `partial_upserts=False` plays the documented behaviour: the whole call fails.
        whole_call = not self.partial_upserts or any(write.trace_id is None for write in writes)
        if failed and whole_call:
            return _whole_call_error(failed, self.error_shape)
        valid = [write for write in writes if not write.failed]
        reply = self._check_conflicts(valid)
        if reply is not None:
            return reply
        results = [self._apply(write, mode) for write in valid]
        errors = [_input_error(w, self.error_shape, traced=self.traced_errors) for w in failed]
        return _batch_reply(results, errors, 201 if mode == "create" else 200, started)

    def _check_id_properties(self, inputs: list[dict[str, Any]], mode: str) -> Reply | None:
        """400 unless every idProperty is unique (update may also use record ids)."""
        for item in inputs:
            name = item.get("idProperty") or RECORD_ID
            if not (self._catalog.is_unique(name) or (mode == "update" and name == RECORD_ID)):
                message = f"Unable to perform update/upsert by non-unique 0-1 property {name}"
                return error_reply(400, message, "VALIDATION_ERROR")
        return None

    def _plan(self, index: int, item: dict[str, Any], mode: str, ruled: bool) -> _Write:
        """Validate one input and find the contact it writes to; `ruled`: apply portal rules."""
        trace_id = item.get("objectWriteTraceId")
        properties = item.get("properties") or {}
        values, errors = self._validate(properties)
        write = _Write(index, None if trace_id is None else str(trace_id), values, errors)
        if mode != "create":
            name, value = item.get("idProperty") or RECORD_ID, item["id"]
            write.contact_id = self._lookup(name, value)
        if mode == "update":
            write.missing = value if write.contact_id is None else None
        elif mode == "upsert":
            write.id_property, write.id_value = name, value
            id_error = validate_value(self._catalog.get(name), name, value)
            if id_error is not None and id_error not in errors:
                errors.insert(0, id_error)
        if ruled and write.missing is None:
            errors.extend(self._rule_violations(write, properties))
        return write

    def _rule_violations(self, write: _Write, properties: dict[str, Any]) -> list[dict[str, Any]]:
        """What the portal's validation rules say of this write, given the contact it changes."""
        stored = self._contacts[write.contact_id]["properties"] if write.contact_id else {}
        written = dict(properties)
        if write.contact_id is None and write.id_property and write.id_value:
            written.setdefault(write.id_property, write.id_value)
        return self._rules.violations(stored, written)

    def _validate(self, properties: dict[str, Any]) -> tuple[dict[str, str], list[dict[str, Any]]]:
        """The values to write, or the validation errors of every bad value."""
        errors = []
        for name, value in properties.items():
            error = validate_value(self._catalog.get(name), name, value)
            if error is not None:
                errors.append(error)
        return ({} if errors else dict(properties)), errors

    def _unique_values(self, write: _Write) -> Iterator[tuple[str, str]]:
        """The identifying property values this write would store."""
        if write.contact_id is None and write.id_property and write.id_value:
            yield write.id_property, write.id_value
        for name, value in write.values.items():
            if value and self._catalog.is_unique(name):
                yield name, value

    def _check_conflicts(self, writes: list[_Write]) -> Reply | None:
        """409 when a write would give a unique value (e.g. an email) to a second contact."""
        claimed: dict[tuple[str, str], str] = {}
        for write in writes:
            owner = write.contact_id or f"new-{write.index}"
            for name, value in self._unique_values(write):
                key = (name, _index_key(name, value))
                holder = self._unique.get(name, {}).get(key[1])
                if holder is not None and holder != write.contact_id:
                    return error_reply(
                        409, f"Contact already exists. Existing ID: {holder}", "CONFLICT"
                    )
                if claimed.setdefault(key, owner) != owner:
                    return _duplicates_error([value])
        return None

    def _apply(self, write: _Write, mode: str) -> dict[str, Any]:
        """Store one valid write and return its result entry."""
        now = timestamp()
        if write.contact_id is None:
            contact = self._create_contact(now)
            if write.id_property and write.id_value:
                self._set(contact, write.id_property, write.id_value)
        else:
            contact = self._contacts[write.contact_id]
        for name, value in write.values.items():
            self._set(contact, name, value)
        contact["updatedAt"] = contact["properties"]["lastmodifieddate"] = now
        result = _public(contact)
        if mode == "upsert":
            result["new"] = write.contact_id is None
        if write.trace_id is not None:
            result["objectWriteTraceId"] = write.trace_id
        return result

    def _create_contact(self, now: str) -> dict[str, Any]:
        contact_id = str(self._next_id)
        self._next_id += 1
        contact = {
            "id": contact_id,
            "properties": {RECORD_ID: contact_id, "createdate": now, "lastmodifieddate": now},
            "createdAt": now,
            "updatedAt": now,
            "archived": False,
        }
        self._contacts[contact_id] = contact
        return contact

    def _set(self, contact: dict[str, Any], name: str, value: str) -> None:
        """Write one validated value; `""` clears it."""
        properties = contact["properties"]
        definition = self._catalog.definitions[name]
        old = properties.get(name)
        if value == "":
            properties.pop(name, None)
        elif value.startswith(";") and definition["fieldType"] == "checkbox":
            properties[name] = _append_options(old, value)
        else:
            properties[name] = normalize_value(definition, name, value)
        if name == "email":
            domain = properties.get("email", "").partition("@")[2]
            properties["hs_email_domain"] = domain
            if not domain:
                properties.pop("hs_email_domain")
        self._index_change(contact["id"], name, old, properties.get(name))

    def batch_read(self, request: ApiRequest) -> Reply:
        """batch/read: the wanted properties of each contact found, and the ids not found."""
        started, body = timestamp(), request.body
        inputs, reply = _batch_inputs(body, require_id=True)
        if reply is not None:
            return reply
        name = body.get("idProperty") or RECORD_ID
        if name != RECORD_ID and not self._catalog.is_unique(name):
            message = f"Unable to perform read by non-unique 0-1 property {name}"
            return error_reply(400, message, "VALIDATION_ERROR")
        wanted = body.get("properties") or DEFAULT_READ_PROPERTIES
        if not isinstance(wanted, (list, tuple)) or not all(isinstance(p, str) for p in wanted):
            return error_reply(
                400, 'Invalid input: "properties" must be a list', "VALIDATION_ERROR"
            )
        results, missing, seen = [], [], set()
        for item in inputs:
            contact_id = self._lookup(name, item["id"])
            if contact_id is None:
                missing.append(item["id"])
            elif contact_id not in seen:
                seen.add(contact_id)
                results.append(self._read_view(contact_id, wanted))
        errors = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": NOT_FOUND_MESSAGE,
                "context": {"ids": missing},
            }
        ]
        return _batch_reply(results, errors if missing else [], 200, started)

    def _read_view(self, contact_id: str, wanted: list[str] | tuple[str, ...]) -> dict[str, Any]:
        """A contact with only the requested properties (unset ones as null) and its record id."""
        contact = self._contacts[contact_id]
        properties = {name: contact["properties"].get(name) for name in wanted}
        properties[RECORD_ID] = contact_id
        return _public(contact, properties)

    def batch_archive(self, request: ApiRequest) -> Reply:
        """batch/archive: archive each live contact named by record id; unknown ids are ignored."""
        inputs, reply = _batch_inputs(request.body, require_id=True)
        if reply is not None:
            return reply
        for item in inputs:
            contact = self._contacts.get(item["id"].strip())
            if contact is not None and not contact["archived"]:
                self._archive(contact)
        return Reply(204)

    def _archive(self, contact: dict[str, Any]) -> None:
        contact["archived"] = True
        contact["archivedAt"] = contact["updatedAt"] = timestamp()
        for name, value in contact["properties"].items():
            self._index_change(contact["id"], name, value, None)
