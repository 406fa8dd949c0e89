"""The differential test of the two key-policy evaluators (emulator/differential.py): the generator
on its own, a short comparison against the built `xray-cmk` binary, and the fixture cases, each
checked against both evaluators.

The binary is `$XRAY_CMK_BIN`, else `$CARGO_TARGET_DIR/debug/xray-cmk` (default target directory
~/.cache/xray-cmk/target, as scripts/test uses); tests that need it are skipped when it is absent.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

EMULATOR_DIR = Path(__file__).resolve().parent.parent
FIXTURES = sorted((Path(__file__).resolve().parent / "fixtures" / "differential").glob("*.json"))
sys.path.insert(0, str(EMULATOR_DIR))

import differential  # noqa: E402
from xray_cmk_emulator.iam_eval import Unsupported, key_policy_decision  # noqa: E402

DECISIONS = {"allowed", "delegated", "explicit_deny", "not_allowed"}


def _binary() -> tuple[Path | None, str]:
    """The binary to test and, when there is none usable, why."""
    if os.environ.get("XRAY_CMK_BIN"):
        path = Path(os.environ["XRAY_CMK_BIN"])
        assert path.is_file(), f"XRAY_CMK_BIN={path} does not exist"
    else:
        target = Path(os.environ.get("CARGO_TARGET_DIR") or Path.home() / ".cache/xray-cmk/target")
        path = target / "debug" / "xray-cmk"
        if not path.is_file():
            return None, f"no xray-cmk binary at {path} (build it, or set XRAY_CMK_BIN)"
    probe = subprocess.run([path, "debug", "decide-key-policy"], input="", capture_output=True, text=True)
    if probe.returncode != 0:
        return None, f"{path} has no `debug decide-key-policy` (an older build?): {probe.stderr.strip()[:200]}"
    return path, ""


@pytest.fixture(scope="module")
def binary() -> Path:
    path, why = _binary()
    if path is None:
        pytest.skip(why)
    return path


# -- the generator, without the binary --------------------------------------------------------


def test_the_same_seed_gives_the_same_cases_and_another_seed_others() -> None:
    assert differential.generate_cases(7, 300) == differential.generate_cases(7, 300)
    assert differential.generate_cases(7, 300) != differential.generate_cases(8, 300)


#: What the generator may write: the brief's constructs, all of which both evaluators document.
OPERATOR = re.compile(
    r"^(ForAnyValue:|ForAllValues:)?"
    r"(String(Not)?Equals(IgnoreCase)?|String(Not)?Like|Arn(Not)?(Equals|Like)|Bool|(Not)?IpAddress"
    r"|Numeric(Not)?Equals|Numeric(LessThan|GreaterThan)(Equals)?"
    r"|Date(Not)?Equals|Date(LessThan|GreaterThan)(Equals)?)(IfExists)?$|^Null$"
)
CONDITION_KEYS = {k.lower() for k in differential.KEYS}


def _principal_ok(element: Any) -> bool:
    if element == "*":
        return True
    if not isinstance(element, dict) or not element or not set(element) <= {"AWS", "Service"}:
        return False
    ids = [v for vs in element.values() for v in (vs if isinstance(vs, list) else [vs])]
    return bool(ids) and all(isinstance(v, str) and "${" not in v for v in ids)


def _strings(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_generated_cases_stay_inside_the_supported_set() -> None:
    for case in differential.generate_cases(11, 3000):
        text = json.dumps(case)
        assert "${" not in text, "policy variables are undetermined by design"
        statements = _strings(case["policy"]["Statement"])
        assert 1 <= len(statements) <= 5
        for st in statements:
            assert set(st) <= {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
                               "Resource", "NotResource", "Condition"}  # fmt: skip
            assert st["Effect"] in ("Allow", "Deny")
            assert ("Principal" in st) != ("NotPrincipal" in st)
            assert _principal_ok(st.get("Principal", st.get("NotPrincipal")))
            assert ("Action" in st) != ("NotAction" in st)
            assert all(isinstance(a, str) for a in _strings(st.get("Action", st.get("NotAction"))))
            assert st.get("NotResource", "*") == "*"
            for operator, keys in st.get("Condition", {}).items():
                assert OPERATOR.match(operator), operator
                for key, values in keys.items():
                    assert key.lower() in CONDITION_KEYS, key
                    assert all(isinstance(v, (str, bool, int)) for v in _strings(values))
                    if "IpAddress" in operator:
                        assert all(":" not in v for v in _strings(values)), "no IPv6"
        assert case["action"] in differential.ACTIONS
        for key, values in case["context"].items():
            assert key.lower() in CONDITION_KEYS
            assert isinstance(values, list) and all(isinstance(v, str) for v in values)
            if key.lower() == "aws:sourceip":
                assert all(":" not in v for v in values), "no IPv6"


def test_the_python_evaluator_supports_every_generated_case_and_every_decision_is_reached() -> None:
    kinds: dict[str, int] = {}
    cases = differential.generate_cases(12, 3000)
    for case in cases:
        answer = differential.run_python(key_policy_decision, Unsupported, case)
        assert answer["decision"] in DECISIONS, (answer, case)
        kinds[answer["decision"]] = kinds.get(answer["decision"], 0) + 1
    # A generator that mostly produced one answer would compare little.
    assert all(kinds.get(k, 0) > 0.05 * len(cases) for k in DECISIONS), kinds


def test_a_random_seed_is_printed_first() -> None:
    out = subprocess.run(
        [sys.executable, EMULATOR_DIR / "differential.py", "--binary", "/nonexistent/xray-cmk", "--cases", "1"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 2
    assert re.fullmatch(r"seed: \d+", out.stdout.splitlines()[0]), out.stdout


# -- against the binary -----------------------------------------------------------------------


def test_rust_and_python_agree_on_generated_cases(binary: Path, tmp_path: Path) -> None:
    out = tmp_path / "failures.json"
    run = subprocess.run(
        [sys.executable, EMULATOR_DIR / "differential.py", "--binary", binary, "--cases", "500", "--seed", "20240601",
         "--out", out],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.stdout.splitlines()[0] == "seed: 20240601"
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(out.read_text())
    assert report["counts"]["cases"] == 500
    assert report["counts"]["agreed"] + report["counts"]["skipped"] == 500
    assert report["disagreements"] == []


def test_a_planted_bug_is_found_and_shrunk(binary: Path) -> None:
    """The comparison is not vacuous: an evaluator that lets an Allow beat a Deny is caught, and the
    shrunk case still shows the bug with at most the two statements it needs."""

    def allow_beats_deny(policy, principal, action, context):  # type: ignore[no-untyped-def]
        d = key_policy_decision(policy, principal, action, context)
        if d.kind == "explicit_deny":
            return type(d)("allowed", None, None)
        return d

    result = differential.compare(str(binary), allow_beats_deny, Unsupported, differential.generate_cases(3, 500))
    assert result["disagreements"], result["counts"]
    first = result["disagreements"][0]
    shrunk = differential.shrink(str(binary), allow_beats_deny, Unsupported, first["case"])
    assert len(differential.statements_of(shrunk["policy"])) <= 2
    rust = differential.run_rust(binary, [shrunk])[0]
    assert rust["decision"] == "explicit_deny"
    assert differential.run_python(allow_beats_deny, Unsupported, shrunk)["decision"] == "allowed"


# -- the fixture cases ------------------------------------------------------------------------


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture_is_well_formed(path: Path) -> None:
    fx = _load(path)
    assert set(fx) <= {"policy", "principal", "action", "context", "expected", "expected_account", "why"}
    assert {"policy", "principal", "action", "context", "expected", "why"} <= set(fx)
    assert fx["expected"] in DECISIONS
    assert ("expected_account" in fx) == (fx["expected"] == "delegated")
    assert fx["why"].strip()


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture_python(path: Path) -> None:
    fx = _load(path)
    d = key_policy_decision(fx["policy"], fx["principal"], fx["action"], fx["context"])
    assert (d.kind, d.account) == (fx["expected"], fx.get("expected_account")), fx["why"]


@pytest.fixture(scope="module")
def rust_fixture_answers(binary: Path) -> dict[str, dict[str, Any]]:
    cases = [{"id": p.stem, **{k: v for k, v in _load(p).items() if k in ("policy", "principal", "action", "context")}}
             for p in FIXTURES]  # fmt: skip
    return {a["id"]: a for a in differential.run_rust(binary, cases)} if cases else {}


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture_rust(path: Path, rust_fixture_answers: dict[str, dict[str, Any]]) -> None:
    fx = _load(path)
    answer = rust_fixture_answers[path.stem]
    assert (answer["decision"], answer.get("account")) == (fx["expected"], fx.get("expected_account")), (
        f"{fx['why']} (Rust: {answer})"
    )
