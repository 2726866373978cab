"""The mapping table a stream logs when it starts: each field, its property, how it matched and
what it is coerced to; each ignored field with the closest property names; every mapping
problem at once."""

from __future__ import annotations

from tests.helpers import lines, record, run_target, schema

TEXT = {"type": ["string", "null"]}
FIELDS = {
    "email": TEXT,  # matches the property's name
    "Company Name": TEXT,  # matches the label of `company`
    "notes": TEXT,  # matches the label of `notes_text` ("Notes")
    "joined": TEXT,  # mapped by property_mapping to a date property
    "mobile": TEXT,  # matches nothing; `mobilephone` is close
    "createdate": TEXT,  # a read-only property
}
ADA = {"email": "ada@example.com", "Company Name": "Engines", "joined": "2024-05-01"}
TABLE_TITLE = "Stream 'contacts': fields -> HubSpot contact properties"


def table(stderr: str) -> list[str]:
    """The lines of the mapping table in the log, title first, spaces collapsed."""
    block = stderr.split(TABLE_TITLE, 1)[1].splitlines()[1:]
    rows = [TABLE_TITLE]
    for line in block:
        if not (line.startswith("  ") or line == "Ignored fields:"):
            break
        rows.append(" ".join(line.split()))
    return rows


def contacts_stream(fields: dict = FIELDS, data: dict = ADA) -> str:
    return lines([schema(properties=fields), record(data)])


def test_a_stream_logs_its_fields_properties_matches_and_types_as_one_table(config, tmp_path):
    config["property_mapping"] = {"joined": "signup_date"}

    result = run_target(tmp_path, config, contacts_stream())

    assert result.returncode == 0, result.stderr
    assert result.stderr.count(TABLE_TITLE) == 1
    assert table(result.stderr) == [
        TABLE_TITLE,
        "field property matched by coerced to",
        "email email name email",
        "Company Name company label text",
        "notes notes_text label text",
        "joined signup_date property_mapping date",
        "Ignored fields:",
        "mobile: no property matches (closest: mobilephone)",
        "createdate: property 'createdate' is read-only; never sent",
    ]


def test_a_field_whose_property_the_target_created_is_shown_as_created(config, tmp_path):
    config["create_missing_properties"] = True
    fields = {"email": TEXT, "Loyalty Points": {"type": ["integer", "null"]}}

    result = run_target(tmp_path, config, contacts_stream(fields, {"email": "a@example.com"}))

    assert result.returncode == 0, result.stderr
    assert "Loyalty Points loyalty_points created number" in table(result.stderr)


def test_a_field_whose_property_a_dry_run_would_create_is_shown_as_would_create(config, tmp_path):
    config.update(create_missing_properties=True, dry_run=True)
    fields = {"email": TEXT, "Loyalty Points": {"type": ["integer", "null"]}}

    result = run_target(tmp_path, config, contacts_stream(fields, {"email": "a@example.com"}))

    assert result.returncode == 0, result.stderr
    assert "Loyalty Points loyalty_points would create number" in table(result.stderr)


def test_a_dry_run_logs_the_table_too(config, tmp_path):
    config["dry_run"] = True

    result = run_target(tmp_path, config, contacts_stream())

    assert result.returncode == 0, result.stderr
    assert "mobile: no property matches (closest: mobilephone)" in table(result.stderr)


def test_a_repeated_schema_does_not_log_the_table_again(config, tmp_path):
    messages = [schema(properties=FIELDS), record(ADA), schema(properties=FIELDS), record(ADA)]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert result.stderr.count(TABLE_TITLE) == 1


def test_a_property_mapping_target_that_does_not_exist_is_shown_with_the_closest_names(
    hubspot, config, tmp_path
):
    config["property_mapping"] = {"joined": "signupdate"}

    result = run_target(tmp_path, config, contacts_stream())

    assert result.returncode != 0
    assert (
        "joined: property_mapping names 'signupdate', which does not exist "
        "(closest: signup_date)" in table(result.stderr)
    )
    assert (
        "'signupdate', which does not exist (use the property's internal name). "
        "Did you mean signup_date?"
    ) in result.stderr
    assert hubspot.calls("/batch/upsert") == []


def test_every_mapping_problem_is_reported_at_once(hubspot, config, tmp_path):
    config.update(property_mapping={"joined": "signupdate"}, unmapped_fields="fail")
    fields = {**FIELDS, "first_name": TEXT, "First Name": TEXT}

    result = run_target(tmp_path, config, contacts_stream(fields))

    assert result.returncode != 0
    (error,) = [line for line in result.stderr.splitlines() if "3 mapping problems:" in line]
    assert error.endswith("Stream 'contacts': 3 mapping problems:")
    problems = result.stderr.split(error, 1)[1].splitlines()[1:4]
    assert problems[0].startswith("  - property_mapping maps field 'joined' to HubSpot property")
    assert problems[1].startswith("  - fields 'first_name' and 'First Name' both map to")
    assert problems[2].startswith("  - fields mobile match no HubSpot contact property")
    assert hubspot.calls("/batch/upsert") == []
