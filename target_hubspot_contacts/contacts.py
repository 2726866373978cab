"""HubSpot's contact batch endpoints: trace ids, one outcome per input, refused calls split."""

from __future__ import annotations

import dataclasses
import typing as t

from target_hubspot_contacts.client import RejectedCallError
from target_hubspot_contacts.errors import ConfigurationError, HubSpotAPIError
from target_hubspot_contacts.outcomes import (
    Archived,
    Outcome,
    Reason,
    Rejected,
    Skipped,
    Written,
    reason_from_hubspot_error,
)

if t.TYPE_CHECKING:
    import logging

    from target_hubspot_contacts.client import Answer, HubSpotClient

MAX_INPUTS_PER_CALL = 100  # HubSpot refuses a batch call with more inputs
WRITE_MODES = ("upsert", "update_only", "create_only")
# Refusals about a property rather than a value: every later record would fail the same way.
PORTAL_ERROR_CODES = frozenset({"PROPERTY_DOESNT_EXIST", "READ_ONLY_VALUE"})


def conflict_key(id_value: str) -> str:
    """HubSpot refuses one call holding two ids that differ only by case or surrounding space."""
    return id_value.strip().lower()


@dataclasses.dataclass(frozen=True)
class ContactInput:
    """One contact to write: its id value and its properties."""

    id_value: str
    properties: dict[str, str]


class ContactsAPI:
    """Writes, finds and archives contacts by `id_property`, one outcome per input, in order."""

    def __init__(
        self,
        client: HubSpotClient,
        *,
        id_property: str,
        write_mode: str = "upsert",
        dry_run: bool = False,
        logger: logging.Logger,
    ) -> None:
        self._client = client
        self._id_property = id_property
        self._write_mode = write_mode
        self._dry_run = dry_run
        self._logger = logger

    def identity(self, id_value: str) -> str:
        """Which ids are one contact: emails in any case (HubSpot lowercases them), others exact."""
        value = id_value.strip()
        return value.lower() if self._id_property == "email" else value

    def write(self, contacts: list[ContactInput]) -> list[Outcome]:
        """Write contacts as the write mode says (or, in a dry run, say what would happen)."""
        if self._write_mode == "upsert" and not self._dry_run:
            return self._traced("upsert", contacts, self._upsert_input)
        existing = self.find([contact.id_value for contact in contacts])
        if self._dry_run:
            return [self._dry_run_outcome(contact, existing) for contact in contacts]
        if self._write_mode == "update_only":
            return self._update_existing(contacts, existing)
        return self._create_missing(contacts, existing, look_again_on_conflict=True)

    def archive(self, id_values: list[str]) -> list[Outcome]:
        """Archive the contacts with these ids; a contact that does not exist is counted."""
        existing = self.find(id_values)
        record_ids = [existing[self.identity(v)] for v in id_values if self.identity(v) in existing]
        if record_ids and not self._dry_run:
            inputs = [{"id": record_id} for record_id in record_ids]
            self._batch("archive", {"inputs": inputs})
        return [Archived(found=self.identity(v) in existing) for v in id_values]

    def find(self, id_values: list[str]) -> dict[str, str]:
        """HubSpot record ids of the contacts that exist, by contact key."""
        body = {
            "idProperty": self._id_property,
            "inputs": [{"id": id_value} for id_value in id_values],
            "properties": [self._id_property],
        }
        answer = self._batch("read", body)
        found: dict[str, str] = {}
        for result in (answer.body or {}).get("results") or []:
            value = (result.get("properties") or {}).get(self._id_property)
            if value is not None:
                found[self.identity(str(value))] = str(result["id"])
        return found

    def _batch(self, action: str, body: dict) -> Answer:
        """POST to one batch endpoint (`upsert`, `read`, ...) of the run's API version."""
        return self._client.request(
            "POST", f"{self._client.paths.contacts_batch}/{action}", json=body
        )

    def _dry_run_outcome(self, contact: ContactInput, existing: dict[str, str]) -> Outcome:
        exists = self.identity(contact.id_value) in existing
        if self._write_mode == "update_only" and not exists:
            return Skipped(self._not_found(contact))
        if self._write_mode == "create_only" and exists:
            return Skipped(self._already_exists(contact))
        return Written(new=not exists)

    def _update_existing(
        self, contacts: list[ContactInput], existing: dict[str, str]
    ) -> list[Outcome]:
        to_update = [c for c in contacts if self.identity(c.id_value) in existing]

        def update_input(contact: ContactInput) -> dict:
            return {
                "id": existing[self.identity(contact.id_value)],
                "properties": contact.properties,
            }

        written = iter(self._traced("update", to_update, update_input))
        return [
            next(written) if self.identity(c.id_value) in existing else Skipped(self._not_found(c))
            for c in contacts
        ]

    def _create_missing(
        self,
        contacts: list[ContactInput],
        existing: dict[str, str],
        *,
        look_again_on_conflict: bool,
    ) -> list[Outcome]:
        to_create = [c for c in contacts if self.identity(c.id_value) not in existing]

        def create_input(contact: ContactInput) -> dict:
            return {"properties": {**contact.properties, self._id_property: contact.id_value}}

        try:
            created = iter(self._traced("create", to_create, create_input))
        except RejectedCallError as exc:
            if exc.status != 409 or not look_again_on_conflict:
                raise
            # Created by someone else since we looked: look again, then create the rest.
            self._logger.info("A contact appeared since it was looked up (409); looking again.")
            existing = self.find([c.id_value for c in contacts])
            return self._create_missing(contacts, existing, look_again_on_conflict=False)
        return [
            Skipped(self._already_exists(c))
            if self.identity(c.id_value) in existing
            else next(created)
            for c in contacts
        ]

    def _not_found(self, contact: ContactInput) -> str:
        return (
            f"no contact with {self._id_property} {contact.id_value!r}; update_only never creates"
        )

    def _already_exists(self, contact: ContactInput) -> str:
        return (
            f"a contact with {self._id_property} {contact.id_value!r} exists; "
            "create_only never modifies one"
        )

    def _upsert_input(self, contact: ContactInput) -> dict:
        return {
            "id": contact.id_value,
            "idProperty": self._id_property,
            "properties": contact.properties,
        }

    def _traced(
        self, action: str, contacts: list[ContactInput], to_input: t.Callable[[ContactInput], dict]
    ) -> list[Outcome]:
        """Send one call with a trace id per input; split it if HubSpot refuses it whole."""
        if not contacts:
            return []
        inputs = [
            {**to_input(contact), "objectWriteTraceId": str(index)}
            for index, contact in enumerate(contacts)
        ]
        try:
            answer = self._batch(action, {"inputs": inputs})
        except RejectedCallError as exc:
            if exc.status != 400 or exc.category != "VALIDATION_ERROR":
                raise
            return self._split(action, contacts, to_input, exc)
        return _match_answer(action, len(contacts), answer)

    def _split(
        self,
        action: str,
        contacts: list[ContactInput],
        to_input: t.Callable[[ContactInput], dict],
        error: RejectedCallError,
    ) -> list[Outcome]:
        """HubSpot refused a whole call for a bad input: halve it until the culprits stand alone."""
        message = str(error.body.get("message", "")) if isinstance(error.body, dict) else ""
        if "non-unique" in message:
            msg = f"HubSpot cannot {action} by `id_property` '{self._id_property}': {message}"
            raise ConfigurationError(msg)
        if len(contacts) == 1:
            return [_record_rejection(reason_from_hubspot_error(error.body, error.correlation_id))]
        self._logger.info(
            "HubSpot refused a %s of %d contacts for a bad value; splitting it to find which.",
            action,
            len(contacts),
        )
        middle = len(contacts) // 2
        return self._traced(action, contacts[:middle], to_input) + self._traced(
            action, contacts[middle:], to_input
        )


def _record_rejection(reason: Reason) -> Rejected:
    """A rejection of this record, unless the fault is the portal's and would refuse them all."""
    if reason.code in PORTAL_ERROR_CODES:
        msg = (
            f"HubSpot refused property '{reason.property}' for every contact ({reason.code}: "
            f"{reason.message}); it was removed or made read-only in the portal during the run. "
            "Rerun from the last STATE to map against the portal as it is now."
        )
        raise ConfigurationError(msg)
    return Rejected(reason)


def _match_answer(action: str, sent: int, answer: Answer) -> list[Outcome]:
    """Pair each input with its result or error by trace id; all must be accounted for."""
    body = answer.body if isinstance(answer.body, dict) else {}
    outcomes: dict[str, Outcome] = {}
    for result in body.get("results") or []:
        new = bool(result.get("new", action == "create"))
        outcomes[str(result.get("objectWriteTraceId"))] = Written(new=new)
    for error in body.get("errors") or []:
        for trace_id in (error.get("context") or {}).get("objectWriteTraceId") or []:
            outcomes[str(trace_id)] = _record_rejection(
                reason_from_hubspot_error(error, answer.correlation_id)
            )
    missing = [str(index) for index in range(sent) if str(index) not in outcomes]
    if missing:
        msg = (
            f"HubSpot answered {answer.status} to a batch {action} of {sent} contacts but "
            f"accounted for only {sent - len(missing)} of them, so the rest cannot be assumed "
            "written; stopping before STATE moves past them. Rerun from the last STATE "
            f"(writes are safe to repeat). [correlation id {answer.correlation_id}]"
        )
        raise HubSpotAPIError(msg, status=answer.status, body=answer.body)
    return [outcomes[str(index)] for index in range(sent)]
