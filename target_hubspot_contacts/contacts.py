"""HubSpot's contact batch endpoints: trace ids, one outcome per input, refused calls split."""

from __future__ import annotations

import dataclasses
import typing as t

from target_hubspot_contacts.client import RejectedCallError
from target_hubspot_contacts.errors import ConfigurationError, HubSpotAPIError
from target_hubspot_contacts.logvalues import hubspot_message
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
# Whole-call refusals one bad input can cause (a value, a unique value taken, a size limit).
CONFLICT, TOO_LARGE = 409, 413


def concerns_one_record(error: RejectedCallError) -> bool:
    """Whether HubSpot may have refused the whole call for a single input's sake."""
    if error.status in (CONFLICT, TOO_LARGE):
        return True
    return error.status == 400 and error.category == "VALIDATION_ERROR"


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
        to_create = [c for c in contacts if self.identity(c.id_value) not in existing]
        created = iter(self._create(to_create))
        return [
            self._already_exists(c, existing[self.identity(c.id_value)])
            if self.identity(c.id_value) in existing
            else next(created)
            for c in contacts
        ]

    def archive(self, id_values: list[str]) -> list[Outcome]:
        """Archive the contacts with these ids; a contact that does not exist is counted."""
        existing = self.find(id_values)
        record_ids = [existing[self.identity(v)] for v in id_values if self.identity(v) in existing]
        if record_ids and not self._dry_run:
            inputs = [{"id": record_id} for record_id in record_ids]
            self._batch("archive", {"inputs": inputs})
        return [
            Archived(found=self.identity(v) in existing, record_id=existing.get(self.identity(v)))
            for v in id_values
        ]

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
        record_id = existing.get(self.identity(contact.id_value))
        if self._write_mode == "update_only" and record_id is None:
            return self._not_found(contact)
        if self._write_mode == "create_only" and record_id is not None:
            return self._already_exists(contact, record_id)
        return Written(new=record_id is None, record_id=record_id)

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
            next(written) if self.identity(c.id_value) in existing else self._not_found(c)
            for c in contacts
        ]

    def _create(self, contacts: list[ContactInput]) -> list[Outcome]:
        """Create contacts that did not exist when looked up; one outcome each."""
        try:
            return self._traced("create", contacts, self._create_input, parts=self._create)
        except RejectedCallError as exc:
            if exc.status != CONFLICT:
                raise
            return self._after_create_conflict(contacts, exc)

    def _after_create_conflict(
        self, contacts: list[ContactInput], conflict: RejectedCallError
    ) -> list[Outcome]:
        """A 409: some contact exists now. Look again; create the rest, or find the culprit."""
        existing = self.find([contact.id_value for contact in contacts])
        rest = [c for c in contacts if self.identity(c.id_value) not in existing]
        if len(rest) == len(contacts):  # none appeared: another unique value is taken
            if len(contacts) == 1:
                return [_lone_refusal(conflict)]
            middle = len(contacts) // 2
            return self._create(contacts[:middle]) + self._create(contacts[middle:])
        if conflict.after_lost_answer:
            self._logger.warning(
                "The answer to a batch create was lost and its retry found %d of its contacts "
                "already there. They are counted as created, unconfirmed: this run most likely "
                "created them, but another writer could have in the meantime.",
                len(contacts) - len(rest),
            )
        else:
            self._logger.info("A contact appeared since it was looked up (409); looking again.")
        created = iter(self._create(rest))
        lost = conflict.after_lost_answer
        return [
            next(created)
            if self.identity(c.id_value) not in existing
            else self._already_there(c, existing[self.identity(c.id_value)], lost=lost)
            for c in contacts
        ]

    def _create_input(self, contact: ContactInput) -> dict:
        return {"properties": {**contact.properties, self._id_property: contact.id_value}}

    def _already_there(self, contact: ContactInput, record_id: str, *, lost: bool) -> Outcome:
        """A contact found on looking again: created unconfirmed if our lost answer likely did."""
        if lost:
            return Written(new=True, confirmed=False, record_id=record_id)
        return self._already_exists(contact, record_id)

    def _not_found(self, contact: ContactInput) -> Skipped:
        rule = "update_only never creates"
        return Skipped(
            f"no contact with {self._id_property} {contact.id_value!r}; {rule}",
            summary=f"no contact with its {self._id_property}; {rule}",
        )

    def _already_exists(self, contact: ContactInput, record_id: str) -> Skipped:
        rule = "create_only never modifies one"
        return Skipped(
            f"a contact with {self._id_property} {contact.id_value!r} exists; {rule}",
            record_id=record_id,
            summary=f"a contact with its {self._id_property} exists; {rule}",
        )

    def _upsert_input(self, contact: ContactInput) -> dict:
        return {
            "id": contact.id_value,
            "idProperty": self._id_property,
            "properties": contact.properties,
        }

    def _traced(
        self,
        action: str,
        contacts: list[ContactInput],
        to_input: t.Callable[[ContactInput], dict],
        parts: t.Callable[[list[ContactInput]], list[Outcome]] | None = None,
    ) -> list[Outcome]:
        """Send one call with a trace id per input; if HubSpot refuses it whole for one input's
        sake, or leaves inputs unaccounted for, send `parts` of it until each stands alone."""
        if not contacts:
            return []
        parts = parts or (lambda part: self._traced(action, part, to_input))
        inputs = [
            {**to_input(contact), "objectWriteTraceId": str(index)}
            for index, contact in enumerate(contacts)
        ]
        try:
            answer = self._batch(action, {"inputs": inputs})
        except RejectedCallError as exc:
            if not concerns_one_record(exc) or (exc.status == CONFLICT and action == "create"):
                raise  # a create's 409 is looked into by _create
            self._check_id_property(action, exc)
            if len(contacts) == 1:
                return [_lone_refusal(exc)]
            self._logger.info(
                "HubSpot refused a %s of %d contacts (%s); splitting it to find which.",
                action,
                len(contacts),
                exc.status,
            )
            return _in_halves(contacts, parts)
        outcomes, untraced = _match_answer(action, len(contacts), answer)
        missing = [index for index, outcome in enumerate(outcomes) if outcome is None]
        if not missing:
            return t.cast("list[Outcome]", outcomes)
        if len(contacts) == 1:  # refused, and this is the only input it can be about
            return [
                _record_rejection(reason_from_hubspot_error(untraced[0], answer.correlation_id))
            ]
        self._logger.info(
            "HubSpot refused %d of a %s of %d contacts without naming them; sending them again.",
            len(missing),
            action,
            len(contacts),
        )
        unaccounted = [contacts[index] for index in missing]
        again = iter(
            _in_halves(unaccounted, parts) if len(missing) == len(contacts) else parts(unaccounted)
        )
        return [next(again) if outcome is None else outcome for outcome in outcomes]

    def _check_id_property(self, action: str, error: RejectedCallError) -> None:
        """A refusal of the id property itself would refuse every record: stop the run."""
        message = str(error.body.get("message", "")) if isinstance(error.body, dict) else ""
        if "non-unique" in message:
            msg = (
                f"HubSpot cannot {action} by `id_property` '{self._id_property}': "
                f"{hubspot_message(message)}"
            )
            raise ConfigurationError(msg)


def _in_halves(
    contacts: list[ContactInput], send: t.Callable[[list[ContactInput]], list[Outcome]]
) -> list[Outcome]:
    middle = len(contacts) // 2
    return send(contacts[:middle]) + send(contacts[middle:])


def _lone_refusal(error: RejectedCallError) -> Rejected:
    """The rejection of the one record a whole-call refusal was about."""
    if error.status == TOO_LARGE:
        reason = Reason(
            source="hubspot",
            message="the record alone is larger than HubSpot accepts in one call "
            "(413 Payload Too Large)",
            code="PAYLOAD_TOO_LARGE",
            correlation_id=error.correlation_id,
        )
        return Rejected(reason)
    return _record_rejection(reason_from_hubspot_error(error.body, error.correlation_id))


def _record_rejection(reason: Reason) -> Rejected:
    """A rejection of this record, unless the fault is the portal's and would refuse them all."""
    if reason.code in PORTAL_ERROR_CODES:
        msg = (
            f"HubSpot refused property '{reason.property}' for every contact ({reason.code}: "
            f"{hubspot_message(reason.message)}); it was removed or made read-only in the portal "
            "during the run. "
            "Rerun from the last STATE to map against the portal as it is now."
        )
        raise ConfigurationError(msg)
    return Rejected(reason)


def _match_answer(
    action: str, sent: int, answer: Answer
) -> tuple[list[Outcome | None], list[dict]]:
    """Each input's result or error by trace id (None where HubSpot named neither), and the
    errors that name no input. Unaccounted inputs with no such error to explain them stop
    the run: nothing says they were refused, so they cannot be sent again blindly."""
    body = answer.body if isinstance(answer.body, dict) else {}
    outcomes: dict[str, Outcome] = {}
    for result in body.get("results") or []:
        new = bool(result.get("new", action == "create"))
        record_id = str(result["id"]) if result.get("id") is not None else None
        outcomes[str(result.get("objectWriteTraceId"))] = Written(new=new, record_id=record_id)
    untraced = []
    for error in body.get("errors") or []:
        trace_ids = (error.get("context") or {}).get("objectWriteTraceId") or []
        if not trace_ids:
            untraced.append(error)
        for trace_id in trace_ids:
            outcomes[str(trace_id)] = _record_rejection(
                reason_from_hubspot_error(error, answer.correlation_id)
            )
    matched = [outcomes.get(str(index)) for index in range(sent)]
    if None in matched and not untraced:
        accounted = sent - matched.count(None)
        msg = (
            f"HubSpot answered {answer.status} to a batch {action} of {sent} contacts but "
            f"accounted for only {accounted} of them, so the rest cannot be assumed "
            "written; stopping before STATE moves past them. Rerun from the last STATE "
            f"(writes are safe to repeat). [correlation id {answer.correlation_id}]"
        )
        raise HubSpotAPIError(msg, status=answer.status, body=answer.body)
    return matched, untraced
