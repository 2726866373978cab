"""Odd input never stops the run: values no JSON reader agrees on, STATE numbers, odd schemas."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal

import pytest

from tests.helpers import (
    FIXTURES,
    clean_env,
    contact,
    fixture_text,
    lines,
    printed_states,
    record,
    run_target,
    schema,
    state,
    target_command,
    write_config,
)


def read_rejects(path) -> list[dict]:
    text = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line, parse_float=Decimal, parse_int=Decimal) for line in text]


def test_nan_infinity_and_lone_surrogates_reject_their_record_alone(hubspot, config, tmp_path):
    rejects = tmp_path / "rejects.jsonl"
    config.update(rejects_path=str(rejects), max_rejects=3)

    result = run_target(tmp_path, config, fixture_text("odd_values.singer"))

    assert result.returncode == 0, result.stderr
    assert sorted(c["properties"]["email"] for c in hubspot.contacts) == [
        "ada@example.com",
        "grace@example.com",
    ]
    assert hubspot.contact("grace@example.com")["properties"]["firstname"] == "Grace \U0001f600"
    reasons = {entry["id"]: entry["reason"] for entry in read_rejects(rejects)}
    assert set(reasons) == {"nan@example.com", "inf@example.com", "surrogate@example.com"}
    assert "not a finite number" in reasons["nan@example.com"]["message"]
    assert "not a finite number" in reasons["inf@example.com"]["message"]
    assert reasons["surrogate@example.com"]["code"] == "INVALID_TEXT"
    surrogate = next(e for e in read_rejects(rejects) if e["id"] == "surrogate@example.com")
    assert surrogate["record"]["first_name"] == "Half \ud800 a pair"  # kept as sent


def test_state_is_relayed_exactly_as_the_tap_wrote_it(config, tmp_path):
    config.update(rejects_path=str(tmp_path / "rejects.jsonl"), max_rejects=3)

    result = run_target(tmp_path, config, fixture_text("odd_values.singer"))

    assert result.returncode == 0, result.stderr
    sent = ['{"bookmark": 1.10, "at": 1e5}', '{"bookmark": 2.50, "seen": [1.0, 0.000001]}']
    printed = result.stdout.splitlines()
    assert printed[-1] == sent[-1]
    assert set(printed) <= set(sent)  # the first may be passed over when both settle at once


def test_a_state_line_only_the_tolerant_reader_takes_keeps_its_numbers(config, tmp_path):
    text = lines([schema(), record(contact(1))]) + (
        '{"type": "STATE", "value": {"bookmark": 1.10, "odd": NaN}}\n'
    )

    result = run_target(tmp_path, config, text)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ['{"bookmark":1.10,"odd":NaN}']


def test_a_number_in_a_field_with_multiple_of_is_written(hubspot, config, tmp_path):
    properties = {
        "email": {"type": "string"},
        "lifetime_value": {"type": ["number", "null"], "multipleOf": 0.01},
        "visits": {"type": ["integer", "null"], "multipleOf": 1e-38},
    }
    messages = [
        schema(properties=properties),
        record({"email": "ada@example.com", "lifetime_value": 12.34, "visits": 3}),
        record({"email": "grace@example.com", "lifetime_value": 0.3}),
        state({"n": 2}),
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert hubspot.contact("ada@example.com")["properties"]["lifetime_value"] == "12.34"
    assert hubspot.contact("grace@example.com")["properties"]["lifetime_value"] == "0.3"
    assert printed_states(result.stdout) == [{"n": 2}]


def test_an_epoch_in_a_date_time_field_that_also_allows_integers_is_written(
    hubspot, config, tmp_path
):
    moment = {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "integer"}]}
    properties = {"email": {"type": "string"}, "last_login_at": moment}
    messages = [
        schema(properties=properties),
        record({"email": "ada@example.com", "last_login_at": 1714571100}),
        record({"email": "grace@example.com", "last_login_at": "2024-05-01T13:45:00Z"}),
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    for email in ("ada@example.com", "grace@example.com"):
        assert hubspot.contact(email)["properties"]["last_login_at"] == "2024-05-01T13:45:00.000Z"


def test_an_integer_date_without_validation_is_read_not_a_crash(hubspot, config, tmp_path):
    config.update(validate_records=False)
    properties = {
        "email": {"type": "string"},
        "last_login_at": {"type": "string", "format": "date-time"},
        "signup_date": {"type": "string", "format": "date"},
    }
    messages = [
        schema(properties=properties),
        record(
            {"email": "ada@example.com", "last_login_at": 1714571100000, "signup_date": 20240501}
        ),
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    written = hubspot.contact("ada@example.com")["properties"]
    assert written["last_login_at"] == "2024-05-01T13:45:00.000Z"
    assert written["signup_date"] == "2024-05-01"


def test_integer_dates_are_read_by_their_digits_and_never_land_in_1970(hubspot, config, tmp_path):
    rejects = tmp_path / "rejects.jsonl"
    config.update(rejects_path=str(rejects), max_rejects=1)
    properties = {"email": {"type": "string"}, "signup_date": {"type": ["integer", "null"]}}
    messages = [
        schema(properties=properties),
        record({"email": "basic@example.com", "signup_date": 20240501}),
        record({"email": "seconds@example.com", "signup_date": 1714521600}),
        record({"email": "millis@example.com", "signup_date": 1714521600000}),
        record({"email": "unclear@example.com", "signup_date": 17145216001}),
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    for email in ("basic@example.com", "seconds@example.com", "millis@example.com"):
        assert hubspot.contact(email)["properties"]["signup_date"] == "2024-05-01"
    assert hubspot.contact("unclear@example.com") is None
    (rejected,) = read_rejects(rejects)
    assert rejected["reason"]["code"] == "INVALID_DATE"
    assert "epoch milliseconds (12 or 13 digits)" in rejected["reason"]["message"]


def test_an_empty_string_never_erases_crm_data_with_null_values_skip(hubspot, config, tmp_path):
    first = lines([schema(), record(contact(1, last_name="Lovelace", company="Acme"))])
    assert run_target(tmp_path, config, first).returncode == 0

    result = run_target(
        tmp_path, config, lines([schema(), record(contact(1, last_name="", company=None))])
    )

    assert result.returncode == 0, result.stderr
    kept = hubspot.contact("person1@example.com")["properties"]
    assert (kept["lastname"], kept["company"]) == ("Lovelace", "Acme")


def test_an_empty_string_clears_with_null_values_clear(hubspot, config, tmp_path):
    first = lines([schema(), record(contact(1, last_name="Lovelace"))])
    assert run_target(tmp_path, config, first).returncode == 0
    config.update(null_values="clear")

    result = run_target(tmp_path, config, lines([schema(), record(contact(1, last_name=""))]))

    assert result.returncode == 0, result.stderr
    assert "lastname" not in hubspot.contact("person1@example.com")["properties"]


def test_a_value_with_nothing_left_to_send_never_erases_crm_data_with_null_values_skip(
    hubspot, config, tmp_path
):
    properties = {"email": {"type": "string"}, "interests": {}, "last_name": {"type": "string"}}
    first = {"email": "ada@example.com", "interests": ["crm"], "last_name": "Lovelace"}
    seeded = run_target(tmp_path, config, lines([schema(properties=properties), record(first)]))
    assert seeded.returncode == 0, seeded.stderr
    emptied = [
        {"email": "ada@example.com", "interests": [], "last_name": "\u0000"},
        {"email": "ada@example.com", "interests": "[]"},
        {"email": "ada@example.com", "interests": ";"},
    ]

    result = run_target(
        tmp_path, config, lines([schema(properties=properties), *map(record, emptied)])
    )

    assert result.returncode == 0, result.stderr
    kept = hubspot.contact("ada@example.com")["properties"]
    assert (kept["interests"], kept["lastname"]) == ("crm", "Lovelace")


def test_an_empty_list_clears_a_multi_select_with_null_values_clear(hubspot, config, tmp_path):
    properties = {"email": {"type": "string"}, "interests": {}}
    first = {"email": "ada@example.com", "interests": ["crm"]}
    seeded = run_target(tmp_path, config, lines([schema(properties=properties), record(first)]))
    assert seeded.returncode == 0, seeded.stderr
    config.update(null_values="clear")

    emptied = {"email": "ada@example.com", "interests": []}
    result = run_target(tmp_path, config, lines([schema(properties=properties), record(emptied)]))

    assert result.returncode == 0, result.stderr
    assert "interests" not in hubspot.contact("ada@example.com")["properties"]


def test_blank_lines_between_messages_are_skipped(hubspot, config, tmp_path):
    text = "\n" + lines([schema(), record(contact(1))]) + "  \n\n" + lines([record(contact(2))])

    result = run_target(tmp_path, config, text)

    assert result.returncode == 0, result.stderr
    assert len(hubspot.contacts) == 2


# --- the ends of the calendar ----------------------------------------------------------------


def test_a_date_time_an_offset_carries_past_the_calendar_rejects_its_record_alone(
    hubspot, config, tmp_path
):
    rejects = tmp_path / "rejects.jsonl"
    config.update(rejects_path=str(rejects), max_rejects=3)

    result = run_target(tmp_path, config, fixture_text("calendar_ends.singer"))

    assert result.returncode == 0, result.stderr
    reasons = {entry["id"]: entry["reason"] for entry in read_rejects(rejects)}
    assert {email: reason["code"] for email, reason in reasons.items()} == {
        "end-of-time-est@example.com": "INVALID_DATETIME",
        "start-of-time-cet@example.com": "INVALID_DATETIME",
        "end-of-time-date@example.com": "INVALID_DATE",
    }
    assert reasons["end-of-time-est@example.com"]["message"] == (
        "field 'last_login_at' (HubSpot property 'last_login_at'): "
        '"9999-12-31T23:59:59-05:00" is outside the years 0001 to 9999 once converted to UTC '
        "(HubSpot's date formats have four-digit years); send it as UTC text within those "
        "years, e.g. 9999-12-31T23:59:59Z"
    )
    written = hubspot.contact("end-of-time-utc@example.com")["properties"]
    assert (written["last_login_at"], written["signup_date"]) == (
        "9999-12-31T23:59:59.000Z",
        "9999-12-31",
    )
    assert printed_states(result.stdout)[-1] == {"bookmark": 5}


# --- schemas Python's validators cannot take as they are ------------------------------------


def test_a_pattern_python_cannot_compile_is_left_unchecked_with_one_warning(
    hubspot, config, tmp_path
):
    rejects = tmp_path / "rejects.jsonl"
    config.update(rejects_path=str(rejects), max_rejects=1)

    result = run_target(tmp_path, config, fixture_text("ecma_patterns.singer"))

    assert result.returncode == 0, result.stderr
    written = hubspot.contact("rene@example.com")["properties"]
    assert (written["firstname"], written["company"]) == ("René", "Société Générale")
    (warning,) = [line for line in result.stderr.splitlines() if "are not checked" in line]
    assert "Stream 'people'" in warning
    assert "field 'first_name': pattern '^\\p{L}+$'" in warning
    assert "field 'company'" in warning
    assert "the record: patternProperties key '^\\p{Lu}'" in warning
    (rejected,) = read_rejects(rejects)  # the patterns Python can compile are still checked
    assert (rejected["id"], rejected["reason"]["code"]) == ("not-an-address", "INVALID_RECORD")
    assert printed_states(result.stdout) == [{"bookmark": 2}]


NOT_JSON_SCHEMA = [
    pytest.param({"type": "strnig"}, "'strnig'", id="misspelt-type"),
    pytest.param({"type": 5}, "5 is not valid", id="number-type"),
    pytest.param({"anyOf": 3}, "not iterable", id="any-of-not-a-list"),
]


@pytest.mark.parametrize(("field_schema", "named"), NOT_JSON_SCHEMA)
def test_a_schema_that_is_not_json_schema_stops_the_run_naming_the_stream(
    config, tmp_path, field_schema, named
):
    properties = {"email": {"type": "string"}, "first_name": field_schema}
    messages = [schema(properties=properties), record(contact(1))]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 1
    last_line = result.stderr.rstrip().splitlines()[-1]
    assert "Stream 'contacts' sent a schema its records cannot be checked against" in last_line
    assert named in last_line
    assert "set `validate_records` to false" in last_line
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("field_schema", [param.values[0] for param in NOT_JSON_SCHEMA])
def test_such_a_schema_loads_with_validate_records_false(hubspot, config, tmp_path, field_schema):
    config.update(validate_records=False, create_missing_properties=True)
    properties = {"email": {"type": "string"}, "first_name": field_schema, "nickname": field_schema}
    row = contact(1, nickname="Ada")

    result = run_target(tmp_path, config, lines([schema(properties=properties), record(row)]))

    assert result.returncode == 0, result.stderr
    written = hubspot.contact("person1@example.com")["properties"]
    assert (written["firstname"], written["nickname"]) == ("Person1", "Ada")


def test_a_field_schema_of_true_takes_any_value(hubspot, config, tmp_path):
    properties = {"email": {"type": "string"}, "first_name": True, "lifetime_value": True}
    row = contact(1, lifetime_value=12.5)

    result = run_target(tmp_path, config, lines([schema(properties=properties), record(row)]))

    assert result.returncode == 0, result.stderr
    written = hubspot.contact("person1@example.com")["properties"]
    assert (written["firstname"], written["lifetime_value"]) == ("Person1", "12.5")


# --- bytes that are not UTF-8 ----------------------------------------------------------------

LATIN1_STATE = b'{"bookmark": 1.10, "name": "caf\xc3\xa9"}'


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({"LC_ALL": "C.UTF-8"}, id="c-utf8-surrogateescape"),
        pytest.param({"LC_ALL": "C", "LANG": "C"}, id="posix-locale"),
        pytest.param({"PYTHONIOENCODING": "utf-8:strict"}, id="strict-utf8"),
        pytest.param({"PYTHONIOENCODING": "latin-1"}, id="latin-1"),
    ],
)
def test_a_byte_that_is_not_utf8_rejects_its_record_alone_whatever_the_locale(
    hubspot, config, tmp_path, env
):
    rejects = tmp_path / "rejects.jsonl"
    config.update(rejects_path=str(rejects), max_rejects=1)

    result = run_target_on_bytes(tmp_path, config, fixture_bytes("latin1_byte.singer"), env)

    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert hubspot.contact("utf8@example.com")["properties"]["firstname"] == "Zoë 😀"
    assert hubspot.contact("latin1@example.com") is None
    (rejected,) = read_rejects(rejects)
    assert rejected["reason"]["code"] == "INVALID_TEXT"
    assert "a byte of the input that is not UTF-8" in rejected["reason"]["message"]
    assert rejected["record"]["first_name"] == "Ren\udce9"  # the byte, as its escape
    assert result.stdout == LATIN1_STATE + b"\n"  # relayed as sent


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def run_target_on_bytes(
    tmp_path, config: dict, data: bytes, env: dict[str, str]
) -> subprocess.CompletedProcess[bytes]:
    """Run the target as a process fed raw bytes, in the given locale or encoding."""
    return subprocess.run(
        target_command(write_config(tmp_path, config)),
        input=data,
        capture_output=True,
        timeout=120,
        env=clean_env(**env),
        cwd=tmp_path,
        check=False,
    )


# --- values no property can hold: huge numbers, deep nesting, records and ids of the wrong kind


def test_values_of_the_wrong_size_or_shape_reject_their_record_alone(hubspot, config, tmp_path):
    rejects = tmp_path / "rejects.jsonl"
    config.update(rejects_path=str(rejects), max_rejects=10, validate_records=False)

    result = run_target(tmp_path, config, fixture_text("wrong_size_or_shape.singer"))

    assert result.returncode == 0, result.stderr
    assert [c["properties"]["email"] for c in hubspot.contacts] == ["ok@example.com"]
    by_position = {entry["position"]: entry for entry in read_rejects(rejects)}
    assert {position: entry["reason"]["code"] for position, entry in by_position.items()} == {
        1: "INVALID_NUMBER",  # 5,000 digits in a number property
        2: "INVALID_NUMBER",  # 5,000 digits in a text property
        3: "INVALID_TEXT",  # nested 600 levels deep in a text property
        4: "INVALID_ID",  # an id that is an object
        5: "INVALID_ID",  # an id that is an array
        6: "INVALID_RECORD",  # a record that is null
        7: "INVALID_RECORD",  # a record that is an array
        8: "INVALID_LONG_STRING",  # 70,000 characters
    }
    assert by_position[1]["record"]["lifetime_value"] == Decimal("9" * 5000)  # kept whole
    assert "is out of range" in by_position[1]["reason"]["message"]
    assert by_position[3]["reason"]["message"].endswith(
        "nests objects or arrays more than 100 levels deep"
    )
    assert by_position[6]["record"] is None
    assert by_position[7]["reason"]["message"] == "Record is not a JSON object: it is [1,2]"
    assert printed_states(result.stdout) == [{"bookmark": 9}]


def test_a_line_nested_too_deep_for_any_json_reader_stops_the_run_naming_the_line(config, tmp_path):
    too_deep = (
        '{"type": "RECORD", "stream": "contacts", "record": ' + "[" * 5000 + "]" * 5000 + "}\n"
    )

    result = run_target(tmp_path, config, lines([schema(), record(contact(1))]) + too_deep)

    assert result.returncode == 1
    last_line = result.stderr.rstrip().splitlines()[-1]
    assert "Input line 3 nests objects or arrays about 1,000 levels deep" in last_line
    assert "Fix the tap's output" in last_line
    assert "Traceback" not in result.stderr


# --- reasons quote values as the tap sent them -----------------------------------------------


def test_reasons_the_log_and_the_tally_quote_values_as_json_text(config, tmp_path):
    rejects = tmp_path / "rejects.jsonl"
    config.update(rejects_path=str(rejects), max_rejects=3)

    result = run_target(tmp_path, config, fixture_text("values_as_sent.singer"))

    assert result.returncode == 0, result.stderr
    date_field = "field 'signup_date' (HubSpot property 'signup_date'): "
    assert [entry["reason"]["message"] for entry in read_rejects(rejects)] == [
        f"{date_field}1E+20 is not a date (expected YYYY-MM-DD)",
        f"{date_field}true is not a date (expected YYYY-MM-DD)",
        "field 'plan' (HubSpot property 'plan'): 1.0 is not an option of this property "
        "(allowed values: free, pro, enterprise)",
    ]
    assert "Rejected record from stream 'people' (id \"a@example.com\")" in result.stderr
    assert "  2 INVALID_DATE signup_date, e.g. 1E+20" in result.stderr
    assert "  1 INVALID_OPTION plan, e.g. 1.0" in result.stderr
    assert "Decimal(" not in result.stderr
