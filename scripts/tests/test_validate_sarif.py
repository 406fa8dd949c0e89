"""Tests of scripts/validate_sarif.py: run with `scripts/validate-sarif --self-test`, which sets
XRAY_CMK_SARIF_SCHEMA to the pinned OASIS SARIF 2.1.0 schema."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SCRIPTS))

import validate_sarif  # noqa: E402

VALID = Path(__file__).resolve().parent / "data" / "valid.sarif"
RESULT = ("runs", 0, "results", 0)
RULE = ("runs", 0, "tool", "driver", "rules", 0)
PHYSICAL = RESULT + ("locations", 0, "physicalLocation")


@pytest.fixture(scope="session")
def schema_path() -> str:
    path = os.environ.get("XRAY_CMK_SARIF_SCHEMA")
    if not path:
        pytest.fail("XRAY_CMK_SARIF_SCHEMA is not set: run these tests with scripts/validate-sarif --self-test")
    return path


@pytest.fixture(scope="session")
def validator(schema_path):
    return validate_sarif.load_validator(schema_path)


@pytest.fixture
def doc() -> dict:
    return json.loads(VALID.read_text(encoding="utf-8"))


def at(doc: dict, path: tuple):
    for part in path:
        doc = doc[part]
    return doc


def write(tmp_path: Path, doc, name: str = "scan.sarif") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


def problems(tmp_path, validator, doc) -> list[str]:
    lines, _ = validate_sarif.validate_file(write(tmp_path, doc), validator)
    return lines


def field_of(line: str) -> str:
    """The `path.to.field` of a `file: path.to.field: problem` line."""
    return line.split(": ", 2)[1]


def test_schema_is_the_oasis_sarif_2_1_0_schema(schema_path, validator):
    schema = json.loads(Path(schema_path).read_text(encoding="utf-8"))
    assert schema["id"] == "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    # The validator is the draft the schema declares.
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert type(validator).__name__ == "Draft4Validator"


def test_the_handcrafted_file_is_valid(tmp_path, validator, doc):
    assert problems(tmp_path, validator, doc) == []
    lines, results = validate_sarif.validate_file(str(VALID), validator)
    assert (lines, results) == ([], 1)


def test_cli_accepts_valid_files_and_counts_their_results(tmp_path, schema_path, doc):
    second = copy.deepcopy(doc)
    second["runs"][0]["results"].append(copy.deepcopy(doc["runs"][0]["results"][0]))
    out = subprocess.run(
        [sys.executable, str(SCRIPTS / "validate_sarif.py"), "--schema", schema_path,
         str(VALID), write(tmp_path, second)],
        capture_output=True, text=True,
    )
    assert (out.returncode, out.stdout) == (0, "ok: 3 results validated\n")


def test_cli_prints_one_line_per_problem_and_exits_1(tmp_path, schema_path, doc):
    del at(doc, RESULT)["ruleId"]
    at(doc, PHYSICAL)["artifactLocation"]["uri"] = "/envs/prod/main.tf"
    bad = write(tmp_path, doc, "bad.sarif")
    out = subprocess.run(
        [sys.executable, str(SCRIPTS / "validate_sarif.py"), "--schema", schema_path, str(VALID), bad],
        capture_output=True, text=True,
    )
    assert out.returncode == 1
    assert out.stdout.splitlines() == [
        f"{bad}: runs[0].results[0].ruleId: required: a non-empty string",
        f"{bad}: runs[0].results[0].locations[0].physicalLocation.artifactLocation.uri: "
        "must be relative to the repository root, without a leading slash: '/envs/prod/main.tf'",
    ]
    assert "ok:" not in out.stdout


def _set(path, value):
    def mutate(doc):
        parent = at(doc, path[:-1])
        parent[path[-1]] = value
    return mutate


def _delete(path):
    def mutate(doc):
        del at(doc, path[:-1])[path[-1]]
    return mutate


MUTATIONS = {
    # id: (mutation, field reported, words in the problem)
    "absolute-uri-leading-slash": (
        _set(PHYSICAL + ("artifactLocation", "uri"), "/work/envs/prod/main.tf"),
        PHYSICAL + ("artifactLocation", "uri"), "leading slash"),
    "absolute-uri-file-scheme": (
        _set(PHYSICAL + ("artifactLocation", "uri"), "file:///work/envs/prod/main.tf"),
        PHYSICAL + ("artifactLocation", "uri"), "URI scheme"),
    "windows-path": (
        _set(PHYSICAL + ("artifactLocation", "uri"), "envs\\prod\\main.tf"),
        PHYSICAL + ("artifactLocation", "uri"), "forward slashes"),
    "missing-uri": (
        _delete(PHYSICAL + ("artifactLocation", "uri")),
        PHYSICAL + ("artifactLocation", "uri"), "required"),
    "missing-ruleId": (_delete(RESULT + ("ruleId",)), RESULT + ("ruleId",), "required"),
    "empty-ruleId": (_set(RESULT + ("ruleId",), ""), RESULT + ("ruleId",), "non-empty"),
    "unknown-ruleId": (
        _set(RESULT + ("ruleId",), "xray-no-such-rule"), RESULT + ("ruleId",), "not the id of a rule"),
    "ruleIndex-points-elsewhere": (_set(RESULT + ("ruleIndex",), 1), RESULT + ("ruleIndex",), "does not point"),
    "startLine-0": (_set(PHYSICAL + ("region", "startLine"), 0), PHYSICAL + ("region", "startLine"), "minimum"),
    "startLine-string": (
        _set(PHYSICAL + ("region", "startLine"), "3"), PHYSICAL + ("region", "startLine"), "is not of type 'integer'"),
    "missing-region": (_delete(PHYSICAL + ("region",)), PHYSICAL + ("region", "startLine"), "required"),
    "no-locations": (_set(RESULT + ("locations",), []), RESULT + ("locations",), "at least one location"),
    "location-without-physicalLocation": (
        _set(RESULT + ("locations", 0), {"message": {"text": "somewhere"}}),
        RESULT + ("locations", 0, "physicalLocation"), "required"),
    "bad-level": (_set(RESULT + ("level",), "critical"), RESULT + ("level",), "is not one of"),
    "bad-default-level": (
        _set(RULE + ("defaultConfiguration", "level"), "high"), RULE + ("defaultConfiguration", "level"),
        "is not one of"),
    "missing-message-text": (_set(RESULT + ("message",), {"id": "default"}), RESULT + ("message", "text"), "required"),
    "empty-message-text": (_set(RESULT + ("message", "text"), ""), RESULT + ("message", "text"), "non-empty"),
    "fingerprint-not-a-string": (
        _set(RESULT + ("partialFingerprints", "xrayCmk/v1"), 42),
        RESULT + ("partialFingerprints", "xrayCmk/v1"), "is not of type 'string'"),
    "missing-driver-name": (
        _delete(("runs", 0, "tool", "driver", "name")), ("runs", 0, "tool", "driver"), "'name' is a required property"),
    "missing-rules": (
        _delete(("runs", 0, "tool", "driver", "rules")), ("runs", 0, "tool", "driver", "rules"), "required"),
    "missing-results": (_delete(("runs", 0, "results")), ("runs", 0, "results"), "required"),
    "rule-without-shortDescription": (
        _delete(RULE + ("shortDescription",)), RULE + ("shortDescription", "text"), "required"),
    "rule-without-help-or-fullDescription": (
        lambda doc: [at(doc, RULE).pop(k) for k in ("help", "fullDescription")],
        RULE + ("help", "text"), "help.text or fullDescription.text"),
    "duplicate-rule-id": (
        lambda doc: at(doc, RULE[:-1]).append({**copy.deepcopy(at(doc, RULE)), "name": "Again"}),
        ("runs", 0, "tool", "driver", "rules", 1, "id"), "duplicate rule id"),
    "security-severity-word": (
        _set(RULE + ("properties", "security-severity"), "high"),
        RULE + ("properties", "security-severity"), "0.0 to 10.0"),
    "security-severity-over-10": (
        _set(RULE + ("properties", "security-severity"), "10.5"),
        RULE + ("properties", "security-severity"), "0.0 to 10.0"),
    "security-severity-number": (
        _set(RULE + ("properties", "security-severity"), 8.0),
        RULE + ("properties", "security-severity"), "must be a string"),
    "too-many-tags": (
        _set(RULE + ("properties", "tags"), [f"t{i}" for i in range(21)]), RULE + ("properties", "tags"),
        "GitHub allows 20"),
    "wrong-version": (_set(("version",), "2.0.0"), ("version",), "is not one of ['2.1.0']"),
    "missing-$schema": (_delete(("$schema",)), ("$schema",), "required"),
    "schema-additional-property": (
        _set(RESULT + ("severity",), "high"), RESULT, "Additional properties are not allowed"),
    "informationUri-not-a-uri": (
        _set(("runs", 0, "tool", "driver", "informationUri"), "not a uri"),
        ("runs", 0, "tool", "driver", "informationUri"), "is not a 'uri'"),
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_a_mutation_is_reported_on_its_field(tmp_path, validator, doc, name):
    mutate, path, words = MUTATIONS[name]
    mutate(doc)
    lines = problems(tmp_path, validator, doc)
    fields = [field_of(line) for line in lines]
    assert validate_sarif.format_path(path) in fields, lines
    assert any(words in line for line in lines), lines


def test_a_bad_field_is_reported_once_even_when_both_passes_catch_it(tmp_path, validator, doc):
    at(doc, RESULT)["level"] = "critical"
    at(doc, PHYSICAL)["region"]["startLine"] = 0
    lines = problems(tmp_path, validator, doc)
    assert len(lines) == 2, lines
    assert all(": schema: " in line for line in lines), lines


def test_region_without_any_start_is_a_schema_violation(tmp_path, validator, doc):
    at(doc, PHYSICAL)["region"] = {"endLine": 3}
    lines = problems(tmp_path, validator, doc)
    region = validate_sarif.format_path(PHYSICAL + ("region",))
    assert any(field_of(line) == region and "'startLine' is a required property" in line for line in lines), lines


def test_limits_on_results_and_file_size(tmp_path, validator, doc, monkeypatch):
    result = at(doc, RESULT)
    doc["runs"][0]["results"] = [copy.deepcopy(result) for _ in range(4)]
    monkeypatch.setattr(validate_sarif, "MAX_RESULTS_PER_RUN", 3)
    monkeypatch.setattr(validate_sarif, "MAX_FILE_BYTES", 100)
    lines = problems(tmp_path, validator, doc)
    assert any(field_of(line) == "runs[0].results" and "GitHub rejects more than 3" in line for line in lines), lines
    assert any(field_of(line) == "(file)" and "GitHub rejects uploads over 10 MB" in line for line in lines), lines


def test_the_real_limits_are_github_s():
    assert validate_sarif.MAX_FILE_BYTES == 10 * 1024 * 1024
    assert validate_sarif.MAX_RESULTS_PER_RUN == 25_000
    assert validate_sarif.MAX_RUNS == 20


def test_not_json_and_not_strict_json(tmp_path, validator):
    broken = tmp_path / "broken.sarif"
    broken.write_text('{"version": "2.1.0", ', encoding="utf-8")
    lines, _ = validate_sarif.validate_file(str(broken), validator)
    assert len(lines) == 1 and ": (root): not valid JSON: " in lines[0]
    nan = tmp_path / "nan.sarif"
    nan.write_text('{"version": "2.1.0", "runs": [], "x": NaN}', encoding="utf-8")
    lines, _ = validate_sarif.validate_file(str(nan), validator)
    assert len(lines) == 1 and "NaN is not valid JSON" in lines[0]


def test_a_missing_file_is_a_problem_not_a_crash(tmp_path, validator):
    lines, results = validate_sarif.validate_file(str(tmp_path / "absent.sarif"), validator)
    assert results == 0 and len(lines) == 1 and ": (file): cannot read: " in lines[0]


def test_an_empty_run_is_fine(tmp_path, validator, doc):
    doc["runs"][0]["results"] = []
    lines, results = validate_sarif.validate_file(write(tmp_path, doc), validator)
    assert (lines, results) == ([], 0)
