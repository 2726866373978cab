"""Turn Singer records into HubSpot contact properties: field matching and value coercion.

Pure functions, no HTTP. HubSpot takes every property value as a string; this module
decides which record field feeds which property and renders each value in the format
HubSpot's property type expects, rejecting values it would refuse.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from anyascii import anyascii

from target_hubspot_contacts.errors import ConfigurationError
from target_hubspot_contacts.logvalues import shown

MAX_STRING_LENGTH = 65_536
NULL_VALUES = ("skip", "clear")

_UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)
# Integer dates by digit count: disjoint, so no integer has two readings (see _from_integer).
_EPOCH_SECONDS_DIGITS = (9, 10)
_EPOCH_MILLISECONDS_DIGITS = (12, 13)
_NO_INTEGER_READING = 10**14  # from here on (14 digits) no integer is read as a date
_OUTSIDE_FOUR_DIGIT_YEARS = (
    "is outside the years 0001 to 9999 once converted to UTC (HubSpot's date formats have "
    "four-digit years); send it as UTC text within those years, e.g. 9999-12-31T23:59:59Z"
)
_MAX_DECIMAL_EXPONENT = 1000  # guards against rendering 1E+999999999 as a billion digits
_MAX_JSON_DEPTH = 100  # nesting a text property takes: far beyond real data, short of the stack
_SHOWN_OPTIONS = 20
_MAX_NAME_STEM = 60

_NAME_NOISE = re.compile(r"[\s_\-]+")
_NUMERIC = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_ISO = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
    r"(?:[Tt ](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d+))?)?"
    r"(?P<tz>[Zz]|[+-]\d{2}(?::?\d{2})?)?)?"
)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "on"})
_FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "off"})


# --- property definitions -------------------------------------------------------------


@dataclass(frozen=True)
class PropertyOption:
    """One choice of an enumeration property: internal value and display label."""

    value: str
    label: str


@dataclass(frozen=True)
class PropertyDefinition:
    """The parts of a HubSpot contact property definition that mapping needs."""

    name: str
    label: str
    type: str
    field_type: str
    options: tuple[PropertyOption, ...] = ()
    unique: bool = False
    read_only: bool = False

    @classmethod
    def from_api(cls, payload: dict) -> PropertyDefinition:
        """Build from one item of `GET /crm/v3/properties/contacts`; missing keys get defaults."""
        name = str(payload.get("name") or "")
        metadata = payload.get("modificationMetadata") or {}
        options = tuple(
            PropertyOption(value=str(option["value"]), label=str(option.get("label") or ""))
            for option in payload.get("options") or ()
            if isinstance(option, Mapping) and option.get("value") is not None
        )
        return cls(
            name=name,
            label=str(payload.get("label") or name),
            type=str(payload.get("type") or "string"),
            field_type=str(payload.get("fieldType") or "text"),
            options=options,
            unique=bool(payload.get("hasUniqueValue")),
            read_only=bool(metadata.get("readOnlyValue")) or bool(payload.get("calculated")),
        )


# --- errors -----------------------------------------------------------------------------


class CoercionError(ValueError):
    """A value cannot be written to a property; `code` is HubSpot-like, `reason` human text
    that shows the value, `summary` the same without it (for a log that must not show values).
    """

    def __init__(self, code: str, value: object, predicate: str) -> None:
        """`predicate` says what is wrong with the value: "is not a valid email address"."""
        self.code = code
        self.reason = f"{shown(value)} {predicate}"
        self.summary = f"the value {predicate}"
        super().__init__(code, self.reason)

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class FieldProblem:
    """One value of a record that cannot be sent: the field, its property, the value and why."""

    field: str
    property: str
    value: object
    code: str
    reason: str
    summary: str | None = None  # the reason without the value (for a log that must not show it)

    def __str__(self) -> str:
        return f"field {self.field!r} (HubSpot property {self.property!r}): {self.reason}"


class RecordRejected(Exception):  # noqa: N818 - the sink's interface names it so
    """A record that cannot be sent, naming every bad value in it (`problems`, in field order).

    `field`, `property`, `value`, `code` and `reason` are those of the first problem.
    """

    def __init__(self, problems: Iterable[FieldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__(*self.problems)
        first = self.problems[0]
        self.field = first.field
        self.property = first.property
        self.value = first.value
        self.code = first.code
        self.reason = first.reason

    def __str__(self) -> str:
        return "; ".join(str(problem) for problem in self.problems)


# --- coercion: numbers and text ----------------------------------------------------------


def _plain_decimal(number: Decimal, original: object) -> str:
    """Render a finite Decimal without exponent or trailing fractional zeros ("1.50" -> "1.5")."""
    if not number.is_finite():
        raise CoercionError("INVALID_NUMBER", original, "is not a finite number")
    if abs(number.adjusted()) > _MAX_DECIMAL_EXPONENT:
        raise CoercionError(
            "INVALID_NUMBER",
            original,
            f"is out of range (written out, it would have over {_MAX_DECIMAL_EXPONENT:,} digits)",
        )
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _to_number(value: object) -> str:
    """Plain decimal string from an int, Decimal, float or numeric string."""
    if isinstance(value, bool):
        raise CoercionError("INVALID_NUMBER", value, "is a boolean, not a number")
    if isinstance(value, int):  # a huge one meets the same limit as a Decimal
        return str(value) if value.bit_length() <= 64 else _plain_decimal(Decimal(value), value)
    if isinstance(value, Decimal):
        return _plain_decimal(value, value)
    if isinstance(value, float):
        # repr gives the shortest round-tripping digits, so 0.1 stays 0.1.
        return _plain_decimal(Decimal(repr(value)), value)
    if isinstance(value, str) and _NUMERIC.fullmatch(value.strip()):
        return _plain_decimal(Decimal(value.strip()), value)
    raise CoercionError("INVALID_NUMBER", value, "is not a number")


class _NestedTooDeep(Exception):  # noqa: N818 - caught within this module only
    """A value nests objects or arrays deeper than _MAX_JSON_DEPTH."""


# Not jsontext.json_text: a text property gets plain decimals (no exponent), never NaN tokens.
def _json_text(value: object, depth: int = 0) -> str:
    """Compact JSON that writes Decimals (and floats) as plain numbers."""
    if depth > _MAX_JSON_DEPTH:
        raise _NestedTooDeep
    if isinstance(value, Mapping):
        items = (
            f"{_json_text(str(key))}:{_json_text(item, depth + 1)}" for key, item in value.items()
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_json_text(item, depth + 1) for item in value) + "]"
    if isinstance(value, (Decimal, float)):
        return _to_number(value)
    if isinstance(value, (dt.date, dt.time)):
        return json.dumps(value.isoformat())
    return json.dumps(value, ensure_ascii=False, default=str)


def _scalar_text(value: object) -> str:
    """Text for a scalar: bools as true/false, numbers plain, dates ISO, containers as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal, float)):
        return _to_number(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (Mapping, list, tuple)):
        try:
            return _json_text(value)
        except _NestedTooDeep:
            why = f"nests objects or arrays more than {_MAX_JSON_DEPTH} levels deep"
            raise CoercionError("INVALID_TEXT", value, why) from None
    return str(value)


def _to_text(value: object) -> str:
    """Text for string-like properties: NULs removed, at most 65,536 characters."""
    text = _scalar_text(value)
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii() and _LONE_SURROGATE.search(text):
        raise CoercionError(
            "INVALID_TEXT",
            value,
            "holds a lone surrogate (an unpaired \\ud800-\\udfff escape, or a byte of the "
            "input that is not UTF-8), which is not Unicode text HubSpot can store",
        )
    if len(text) > MAX_STRING_LENGTH:
        raise CoercionError(
            "INVALID_LONG_STRING",
            value,
            f"is {len(text):,} characters long (HubSpot allows at most {MAX_STRING_LENGTH:,})",
        )
    return text


def _to_email(value: object) -> str:
    """A trimmed email address; case is kept (HubSpot lowercases it)."""
    text = "" if isinstance(value, (Mapping, list, tuple)) else _to_text(value).strip()
    if not _EMAIL.fullmatch(text):
        raise CoercionError("INVALID_EMAIL", value, "is not a valid email address")
    return text


def _to_bool(value: object) -> str:
    """`true`/`false` from a bool, 0/1 or a yes/no-style word."""
    if isinstance(value, int) and value in (0, 1):  # bools are ints too
        return "true" if value else "false"
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return "true"
        if word in _FALSE_WORDS:
            return "false"
    raise CoercionError(
        "INVALID_BOOLEAN", value, "is not a boolean (expected true/false, yes/no, 1/0)"
    )


# --- coercion: dates and times -----------------------------------------------------------


def _parse_iso(text: str) -> dt.date | dt.datetime | None:
    """Parse an ISO 8601 date or date-time (`Z` or offsets allowed); None if it is not one."""
    match = _ISO.fullmatch(text.strip())
    if not match:
        return None
    part = match.groupdict()
    try:
        if part["h"] is None:
            return dt.date(int(part["y"]), int(part["mo"]), int(part["d"]))
        micro = int((part["f"] or "0")[:6].ljust(6, "0"))
        fields = (part["y"], part["mo"], part["d"], part["h"], part["mi"], part["s"] or "0")
        return dt.datetime(*map(int, fields), micro, tzinfo=_parse_offset(part["tz"]))
    except ValueError:
        return None


def _parse_offset(text: str | None) -> dt.tzinfo | None:
    """`Z`, `+HH`, `+HHMM` or `+HH:MM` as a timezone; None for no offset."""
    if text is None:
        return None
    if text in ("Z", "z"):
        return _UTC
    digits = text[1:].replace(":", "")
    delta = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    return dt.timezone(-delta if text[0] == "-" else delta)


def _as_utc(moment: dt.datetime, value: object, code: str) -> dt.datetime:
    """Aware UTC datetime; naive ones are taken as UTC. An offset that carries the moment past
    the years 0001 to 9999 is a CoercionError (as in 9999-12-31T23:59:59-05:00)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=_UTC)
    try:
        return moment.astimezone(_UTC)
    except OverflowError:
        raise CoercionError(code, value, _OUTSIDE_FOUR_DIGIT_YEARS) from None


def _epoch_number(value: object) -> int | None:
    """An int (not bool) or a string of digits as an int; None otherwise. A string of more
    digits than any reading takes is `_NO_INTEGER_READING` (int() refuses 4,300 digits)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    digits = value.strip()
    if not (digits.isdigit() and digits.isascii()):
        return None
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) < len(str(_NO_INTEGER_READING)) else _NO_INTEGER_READING


def _from_integer(number: int, code: str, value: object) -> dt.date | dt.datetime:
    """Read an integer date by its digits, where the reading is certain; else say why not."""
    digits = len(str(number)) if 0 < number < _NO_INTEGER_READING else 0
    if digits == 8:
        try:
            return dt.date(number // 10_000, number // 100 % 100, number % 100)
        except ValueError:
            raise CoercionError(
                code, value, "has 8 digits but is not a valid date as YYYYMMDD"
            ) from None
    if digits in _EPOCH_SECONDS_DIGITS:
        return _EPOCH + dt.timedelta(seconds=number)
    if digits in _EPOCH_MILLISECONDS_DIGITS:
        return _EPOCH + dt.timedelta(milliseconds=number)
    raise CoercionError(
        code,
        value,
        "cannot be read as a date with certainty: integers are read as YYYYMMDD "
        "(8 digits), epoch seconds (9 or 10 digits) or epoch milliseconds (12 or 13 digits), "
        "each covering 1973-03-03 to 2286-11-20; send other dates as ISO 8601 text",
    )


def _moment(value: object, code: str) -> dt.date | dt.datetime | None:
    """A date or UTC datetime from any accepted input; None if the value is not one."""
    if isinstance(value, dt.datetime):
        return _as_utc(value, value, code)
    if isinstance(value, dt.date):
        return value
    number = _epoch_number(value)
    if number is not None:
        return _from_integer(number, code, value)
    parsed = _parse_iso(value) if isinstance(value, str) else None
    return _as_utc(parsed, value, code) if isinstance(parsed, dt.datetime) else parsed


def _to_date(value: object) -> str:
    """`YYYY-MM-DD` (the UTC date) from a date, datetime, ISO string or epoch milliseconds."""
    moment = _moment(value, "INVALID_DATE")
    if moment is None:
        raise CoercionError("INVALID_DATE", value, "is not a date (expected YYYY-MM-DD)")
    day = moment.date() if isinstance(moment, dt.datetime) else moment
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


def _to_datetime(value: object) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC; milliseconds are truncated, not rounded."""
    moment = _moment(value, "INVALID_DATETIME")
    if moment is None:
        raise CoercionError(
            "INVALID_DATETIME",
            value,
            "is not a date-time "
            "(expected ISO 8601 such as 2024-05-01T13:45:00Z, or epoch seconds/milliseconds)",
        )
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime(moment.year, moment.month, moment.day, tzinfo=_UTC)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}."
        f"{moment.microsecond // 1000:03d}Z"
    )


# --- coercion: enumerations --------------------------------------------------------------


def _option_key(value: object) -> str:
    return _scalar_text(value).strip().casefold()


def _json_array(text: str) -> list | None:
    """The items of a JSON array of scalars (SDK flattening turns lists into such text)."""
    if not text.lstrip().startswith("["):
        return None
    try:
        items = json.loads(text)
    except ValueError:
        return None
    if not isinstance(items, list) or any(isinstance(i, (list, dict)) for i in items):
        return None
    return items


def _enumeration_coercer(definition: PropertyDefinition) -> Callable[[object], str]:
    """Coercer resolving option values or labels (case-insensitive) to option values."""
    lookup: dict[str, str] = {}
    for option in definition.options:  # values take precedence over labels
        lookup.setdefault(option.value.strip().casefold(), option.value)
    for option in definition.options:
        lookup.setdefault(option.label.strip().casefold(), option.value)
    values = [option.value for option in definition.options]
    allowed = ", ".join(values[:_SHOWN_OPTIONS])
    if len(values) > _SHOWN_OPTIONS:
        allowed += f" and {len(values) - _SHOWN_OPTIONS} more"

    def resolve(item: object, original: object) -> str:
        found = lookup.get(_option_key(item))
        if found is None:
            raise CoercionError(
                "INVALID_OPTION",
                original,
                f"is not an option of this property (allowed values: {allowed})",
            )
        return found

    def single(value: object) -> str:
        if isinstance(value, (list, tuple)):
            raise CoercionError(
                "INVALID_OPTION", value, "is a list but this property takes one option"
            )
        return resolve(value, value)

    def multiple(value: object) -> str:
        items = _json_array(value) if isinstance(value, str) else None
        if items is None:
            items = value if isinstance(value, (list, tuple)) else _scalar_text(value).split(";")
        chosen = (resolve(item, value) for item in items if _option_key(item))
        return ";".join(dict.fromkeys(chosen))

    return multiple if definition.field_type == "checkbox" else single


_TYPE_COERCERS: dict[str, Callable[[object], str]] = {
    "date": _to_date,
    "datetime": _to_datetime,
    "bool": _to_bool,
    "number": _to_number,
}


def _coercer_for(definition: PropertyDefinition) -> Callable[[object], str]:
    """The coercion function for one property, chosen once per stream."""
    if definition.type in _TYPE_COERCERS:
        return _TYPE_COERCERS[definition.type]
    # Enumerations without listed options (e.g. owner ids) cannot be checked: send as text.
    if definition.type == "enumeration" and definition.options:
        return _enumeration_coercer(definition)
    if definition.name == "email":
        return _to_email
    return _to_text


_COERCION_NAMES: dict[Callable[[object], str], str] = {
    _to_date: "date",
    _to_datetime: "datetime",
    _to_bool: "bool",
    _to_number: "number",
    _to_email: "email",
    _to_text: "text",
}


def coercion_of(definition: PropertyDefinition) -> str:
    """What a value for this property is coerced to, in a word or two (for the mapping table)."""
    name = _COERCION_NAMES.get(_coercer_for(definition))
    if name is not None:
        return name
    kind = "options" if definition.field_type == "checkbox" else "option"
    return f"{kind} ({len(definition.options)})"


def coerce_value(definition: PropertyDefinition, value: object) -> str:
    """Render a non-None value as HubSpot expects for this property; raises CoercionError."""
    return _coercer_for(definition)(value)


# --- field matching ----------------------------------------------------------------------


def normalize_name(text: str) -> str:
    """Comparison key ignoring case, whitespace, `_` and `-`: "First Name" -> "firstname"."""
    return _NAME_NOISE.sub("", text).casefold()


# How a field found its property, for the mapping table.
MATCHED_BY_NAME = "name"
MATCHED_BY_LABEL = "label"
MATCHED_BY_MAPPING = "property_mapping"
_HINTS = 3
_HINT_SIMILARITY = 0.75


@dataclass(frozen=True)
class FieldPlan:
    """Which record fields feed which HubSpot properties, decided once per stream schema.

    `problems` lists every reason the plan cannot be used; `plan_fields` raises them.
    """

    targets: dict[str, str]
    id_field: str | None
    id_property: str
    unmatched: tuple[str, ...]
    read_only: tuple[str, ...]
    matched_by: dict[str, str] | None = None  # field (in targets or read_only) -> how
    read_only_targets: dict[str, str] | None = None  # field in read_only -> its property
    problems: tuple[str, ...] = ()


def closest_properties(
    name: str, properties: Mapping[str, PropertyDefinition], limit: int = _HINTS
) -> list[str]:
    """Writable properties whose name or label is most like `name`, best first; only the
    exact ones (ignoring case, spaces, `_` and `-`) when there are any."""
    key = normalize_name(name)
    if not key:
        return []
    scored: list[tuple[float, str]] = []
    for prop_name, definition in properties.items():
        if definition.read_only:
            continue
        similarity = max(
            _similarity(key, normalize_name(prop_name)),
            _similarity(key, normalize_name(definition.label)),
        )
        if similarity >= _HINT_SIMILARITY:
            scored.append((-similarity, prop_name))
    scored.sort()
    exact = [prop_name for score, prop_name in scored if score == -1.0]
    return exact or [prop_name for _, prop_name in scored[:limit]]


def _similarity(key: str, other: str) -> float:
    """How alike two normalized names are, 0 to 1; one inside the other counts as close."""
    if not other:
        return 0.0
    if key == other:
        return 1.0
    ratio = difflib.SequenceMatcher(None, key, other).ratio()
    if min(len(key), len(other)) >= 4 and (key in other or other in key):
        ratio = max(ratio, 0.8)
    return ratio


def _hint(name: str, properties: Mapping[str, PropertyDefinition]) -> str:
    closest = closest_properties(name, properties)
    return f" Did you mean {', '.join(closest)}?" if closest else ""


def _can_identify(definition: PropertyDefinition) -> bool:
    return definition.name == "email" or (definition.unique and not definition.read_only)


def _id_property_problem(
    id_property: str, properties: Mapping[str, PropertyDefinition]
) -> str | None:
    """Why HubSpot cannot upsert contacts by this property, or None when it can."""
    definition = properties.get(id_property)
    if definition is not None and _can_identify(definition):
        return None
    unique = sorted(name for name, prop in properties.items() if prop.unique and not prop.read_only)
    problem = "does not exist" if definition is None else "does not have unique values"
    return (
        f"id_property {id_property!r} {problem} in this portal: HubSpot upserts contacts only "
        "by 'email' or by a property created with unique values (hasUniqueValue). "
        f"Unique properties in this portal: {', '.join(unique) or 'none'}."
    )


def _explicit_problems(
    explicit_mapping: Mapping[str, str], properties: Mapping[str, PropertyDefinition]
) -> list[str]:
    """A problem for each property_mapping entry naming a property the portal does not have."""
    return [
        f"property_mapping maps field {field!r} to HubSpot property {target!r}, "
        f"which does not exist (use the property's internal name).{_hint(target, properties)}"
        for field, target in explicit_mapping.items()
        if target not in properties
    ]


def _name_index(properties: Mapping[str, PropertyDefinition]) -> dict[str, set[str]]:
    """Normalized name and label -> names of the properties they belong to."""
    index: dict[str, set[str]] = {}
    for name, definition in properties.items():
        for key in {normalize_name(name), normalize_name(definition.label)} - {""}:
            index.setdefault(key, set()).add(name)
    return index


def _match(
    field: str, properties: Mapping[str, PropertyDefinition], index: dict[str, set[str]]
) -> list[str]:
    """The properties a field matches by name or label: one, none, or several (ambiguous)."""
    if field in properties:  # an exact internal name is never ambiguous
        return [field]
    made_for = _made_for(field, properties)  # nor is the property created for this field
    if made_for is not None:
        return [made_for]
    return sorted(index.get(normalize_name(field), ()))


def _ambiguity_problem(field: str, candidates: list[str]) -> str:
    return (
        f"field {field!r} matches several HubSpot properties: {', '.join(candidates)}. "
        f'Pick one with property_mapping, e.g. {{"{field}": "{candidates[0]}"}}.'
    )


def _shared_target_problems(targets: Mapping[str, str]) -> list[str]:
    """Two fields writing the same property (which value wins is unclear)."""
    seen: dict[str, str] = {}
    problems = []
    for field, target in targets.items():
        if target in seen:
            problems.append(
                f"fields {seen[target]!r} and {field!r} both map to HubSpot property "
                f"{target!r}; map one elsewhere with property_mapping or drop it with "
                "stream_maps."
            )
        else:
            seen[target] = field
    return problems


def _missing_id_problem(id_property: str, definition: PropertyDefinition) -> str:
    label = f" (or its label {definition.label!r})" if definition.label != id_property else ""
    return (
        f"the stream has no field for HubSpot property {id_property!r}, which identifies "
        f"contacts for the upsert. Name a field {id_property!r}{label}, or map one with "
        f'property_mapping, e.g. {{"<your field>": "{id_property}"}}.'
    )


def _matched_by(field: str, target: str, explicit_mapping: Mapping[str, str]) -> str:
    if explicit_mapping.get(field) == target:
        return MATCHED_BY_MAPPING
    if field == target or normalize_name(field) == normalize_name(target):
        return MATCHED_BY_NAME
    return MATCHED_BY_LABEL


def draft_plan(
    field_names: Iterable[str],
    properties: Mapping[str, PropertyDefinition],
    *,
    id_property: str = "email",
    explicit_mapping: Mapping[str, str] | None = None,
) -> FieldPlan:
    """Decide for each stream field which HubSpot property it writes, noting every problem."""
    explicit_mapping = explicit_mapping or {}
    id_problem = _id_property_problem(id_property, properties)
    problems = [id_problem] if id_problem else []
    problems += _explicit_problems(explicit_mapping, properties)
    index = _name_index(properties)
    targets: dict[str, str] = {}
    matched_by: dict[str, str] = {}
    unmatched: list[str] = []
    read_only: dict[str, str] = {}
    for field in field_names:
        explicit = explicit_mapping.get(field)
        candidates = [explicit] if explicit else _match(field, properties, index)
        if explicit and explicit not in properties:
            continue  # a problem already
        if len(candidates) > 1:
            problems.append(_ambiguity_problem(field, candidates))
            continue
        if not candidates:
            unmatched.append(field)
            continue
        target = candidates[0]
        matched_by[field] = _matched_by(field, target, explicit_mapping)
        if properties[target].read_only:
            read_only[field] = target
        else:
            targets[field] = target
    problems += _shared_target_problems(targets)
    id_field = next((field for field, target in targets.items() if target == id_property), None)
    if id_field is None and id_problem is None:
        problems.append(_missing_id_problem(id_property, properties[id_property]))
    return FieldPlan(
        targets=targets,
        id_field=id_field,
        id_property=id_property,
        unmatched=tuple(unmatched),
        read_only=tuple(read_only),
        matched_by=matched_by,
        read_only_targets=read_only,
        problems=tuple(problems),
    )


def problems_error(problems: Iterable[str], prefix: str = "") -> ConfigurationError:
    """One error naming every problem: the problem itself when there is one, else a list."""
    problems = list(problems)
    if len(problems) == 1:
        return ConfigurationError(f"{prefix}{problems[0]}")
    listed = "".join(f"\n  - {problem}" for problem in problems)
    return ConfigurationError(f"{prefix}{len(problems)} mapping problems:{listed}")


def plan_fields(
    field_names: Iterable[str],
    properties: Mapping[str, PropertyDefinition],
    *,
    id_property: str = "email",
    explicit_mapping: Mapping[str, str] | None = None,
) -> FieldPlan:
    """Decide for each stream field which HubSpot property it writes; raises ConfigurationError
    naming every problem at once."""
    plan = draft_plan(
        field_names, properties, id_property=id_property, explicit_mapping=explicit_mapping
    )
    if plan.problems:
        raise problems_error(plan.problems)
    return plan


# --- record mapping ----------------------------------------------------------------------

_ABSENT = object()
_FieldStep = tuple[str, str, Callable[[object], str]]


class RecordMapper:
    """Maps one stream's records; built once per stream schema.

    `id_field` and `id_property` are public: the sink reads the raw id of a rejected record.
    """

    def __init__(
        self,
        plan: FieldPlan,
        properties: Mapping[str, PropertyDefinition],
        *,
        null_values: str = "skip",
    ) -> None:
        if null_values not in NULL_VALUES:
            raise ConfigurationError(
                f"null_values must be one of {', '.join(NULL_VALUES)}, not {null_values!r}"
            )
        if plan.problems or plan.id_field is None:
            raise problems_error(plan.problems or ["the plan has no id field"])
        self._clear = null_values == "clear"
        self.id_field: str = plan.id_field
        self.id_property = plan.id_property
        self._id_coercer = _coercer_for(properties[plan.id_property])
        self._fields = tuple(
            (field, target, _coercer_for(properties[target]))
            for field, target in plan.targets.items()
            if field != plan.id_field
        )

    def map(self, record: Mapping[str, object]) -> tuple[str, dict[str, str]]:
        """Return (id value, {property: value}) for one record; raises RecordRejected
        naming every value that cannot be sent, not only the first."""
        problems: list[FieldProblem] = []
        try:
            id_value = self.id_value(record)
        except RecordRejected as rejected:
            problems.extend(rejected.problems)
            id_value = ""
        properties = {self.id_property: id_value}
        for field, target, coerce in self._fields:
            value = record.get(field, _ABSENT)
            if value is _ABSENT:
                continue
            # A blank string is a missing value, as CSV taps send every empty cell.
            if value is None or (isinstance(value, str) and not value.strip()):
                if self._clear:
                    properties[target] = ""
                continue
            try:
                coerced = coerce(value)
            except CoercionError as error:
                problem = FieldProblem(
                    field, target, value, error.code, error.reason, error.summary
                )
                problems.append(problem)
                continue
            # A value with nothing left to send (`[]`, `;`, only NULs) is missing too.
            if coerced or self._clear:
                properties[target] = coerced
        if problems:
            raise RecordRejected(problems)
        return id_value, properties

    def id_value(self, record: Mapping[str, object]) -> str:
        """The trimmed, coerced id value; MISSING_ID when absent, null or blank."""
        value = record.get(self.id_field)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise self._missing_id(value)
        if isinstance(value, (Mapping, list, tuple)):
            why = "is a JSON object or array, and a contact's id is one value (text or a number)"
            problem = FieldProblem(
                self.id_field,
                self.id_property,
                value,
                "INVALID_ID",
                f"{shown(value)} {why}",
                f"the value {why}",
            )
            raise RecordRejected([problem])
        try:
            id_value = self._id_coercer(value).strip()
        except CoercionError as error:
            problem = FieldProblem(
                self.id_field, self.id_property, value, error.code, error.reason, error.summary
            )
            raise RecordRejected([problem]) from None
        if not id_value:  # e.g. nothing but NUL characters
            raise self._missing_id(value)
        return id_value

    def _missing_id(self, value: object) -> RecordRejected:
        why = (
            "the record has no id value (missing, null or blank); "
            "HubSpot needs it to upsert the contact"
        )
        problem = FieldProblem(self.id_field, self.id_property, value, "MISSING_ID", why, why)
        return RecordRejected([problem])


# --- creating properties for unmatched fields --------------------------------------------


def _schema_types(schema: object) -> tuple[set[str], str | None]:
    """The non-null JSON types a schema allows (through `anyOf`) and its string format; none
    for a schema of another shape (`true`, `"type": 5`), which allows anything here."""
    if not isinstance(schema, Mapping):
        return set(), None
    declared = schema.get("type")
    types = {declared} if isinstance(declared, str) else set()
    if isinstance(declared, list):
        types = {item for item in declared if isinstance(item, str)}
    fmt = schema.get("format") if isinstance(schema.get("format"), str) else None
    branches = schema.get("anyOf")
    for branch in branches if isinstance(branches, list) else ():
        if isinstance(branch, Mapping):
            branch_types, branch_fmt = _schema_types(branch)
            types |= branch_types
            fmt = fmt or branch_fmt
    return types - {"null"}, fmt


def _infer_type(schema: object) -> tuple[str, str]:
    """HubSpot (type, fieldType) for a JSON schema."""
    types, fmt = _schema_types(schema)
    if types == {"string"}:
        return {"date": ("date", "date"), "date-time": ("datetime", "date")}.get(
            fmt or "", ("string", "text")
        )
    if types and types <= {"integer", "number"}:
        return "number", "number"
    if types == {"boolean"}:
        return "bool", "booleancheckbox"
    return "string", "textarea"


def _name_stem(field_name: str) -> str:
    """Lowercase ASCII letters, digits and `_`, from a letter: the readable part of a name."""
    stem = re.sub(r"[^a-z0-9]+", "_", anyascii(field_name).lower()).strip("_")
    stem = stem[:_MAX_NAME_STEM].rstrip("_") or "field"
    return stem if stem[0].isalpha() else f"p_{stem}"


def _hashed_name(field_name: str) -> str:
    """The stem and a short hash of the field name as written: one field's name alone."""
    digest = hashlib.blake2s(field_name.encode("utf-8", "surrogatepass"), digest_size=3)
    return f"{_name_stem(field_name)}_{digest.hexdigest()}"


def _internal_name(field_name: str) -> str:
    """HubSpot-safe internal name (lowercase ASCII letters, digits, `_`, from a letter),
    transliterated to stay readable (`Prénom` -> `prenom_…`, `名前` -> `mingqian_…`). A name
    that is not the field name as written (up to case, spaces and `-`) gets a short hash of
    it, and the same field gets the same name in every run (see plan_new_properties)."""
    stem = _name_stem(field_name)
    if stem == re.sub(r"[\s\-]+", "_", field_name.strip()).lower():
        return stem
    return _hashed_name(field_name)


def _made_for(field_name: str, properties: Mapping[str, PropertyDefinition]) -> str | None:
    """The property this target creates for a field (one of its names, labelled with the
    field name as written), if the portal has it."""
    for name in dict.fromkeys((_internal_name(field_name), _hashed_name(field_name))):
        definition = properties.get(name)
        if definition is not None and definition.label == field_name:
            return name
    return None


def plan_new_properties(
    fields: Iterable[str],
    field_schemas: Mapping[str, object],
    *,
    claimed: Collection[str] = (),
) -> dict[str, dict]:
    """The POST body of each unmatched field's property, one name per field. A name two fields
    would share (`Loyalty Tier`, `loyalty_tier`), or that an existing property another field
    writes already has (`claimed`), stays with the field written exactly so; the others take
    their hashed name (`loyalty_tier_5c1e0a`), which is theirs alone in every run."""
    bodies = {
        field: infer_property_definition(field, field_schemas.get(field) or {}) for field in fields
    }
    wanted = Counter(body["name"] for body in bodies.values())
    for field, body in bodies.items():
        name = body["name"]
        shared = wanted[name] > 1 or name in claimed
        if shared and name != field:
            body["name"] = _hashed_name(field)
    return bodies


def infer_property_definition(field_name: str, field_schema: object) -> dict:
    """The POST body that creates a custom contact property for an unmatched field."""
    hubspot_type, field_type = _infer_type(field_schema)
    body: dict[str, object] = {
        "name": _internal_name(field_name),
        "label": field_name,
        "type": hubspot_type,
        "fieldType": field_type,
        "groupName": "contactinformation",
    }
    if hubspot_type == "bool":
        body["options"] = [
            {"label": "True", "value": "true"},
            {"label": "False", "value": "false"},
        ]
    return body
