"""The runner's parsing, comparison and measuring logic over small hand-written JSONL samples."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import runner


def res(account: str, region: str, rule: str, status: str, resource: str = "xray-encryption-config",
        **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {"type": "result", "rule": rule, "status": status, "severity": "high", "confidence": "high",
            "account": account, "region": region, "resource": resource, "key": None, "message": "m",
            "suppressed": False, "exemption": None, **extra}  # fmt: skip


def jsonl(*objs: dict[str, Any]) -> str:
    return "\n".join(json.dumps(o) for o in objs) + "\n"


SUMMARY = {"type": "summary", "targets": 2, "results": {"pass": 1, "fail": 1, "error": 0}}
A, B = "111111111111", "222222222222"
KEY = "arn:aws:kms:us-east-1:111111111111:key/k1"


def test_parse_jsonl_results_and_summary() -> None:
    text = jsonl(res(A, "us-east-1", "xray-default-encryption", "pass"),
                 res(A, "eu-west-1", "xray-default-encryption", "fail"), SUMMARY)  # fmt: skip
    out = runner.parse_jsonl(text + "\n")  # a trailing blank line is fine
    assert [r["status"] for r in out.results] == ["pass", "fail"]
    assert out.summary == SUMMARY
    assert out.errors == []


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (jsonl(res(A, "us-east-1", "r", "pass")), "no summary line"),
        (jsonl(SUMMARY, res(A, "us-east-1", "r", "pass")), "line 1: summary is not the last line"),
        ("{not json\n" + jsonl(SUMMARY), "line 1: not JSON"),
        (jsonl({"type": "result", "rule": "r", "status": "pass"}, SUMMARY), "line 1: result without account"),
    ],
)
def test_parse_jsonl_reports_broken_output(text: str, error: str) -> None:
    assert any(e.startswith(error) for e in runner.parse_jsonl(text).errors)


def test_parse_jsonl_ignores_unknown_line_types() -> None:
    out = runner.parse_jsonl(jsonl({"type": "progress", "done": 3}, SUMMARY))
    assert out.results == [] and out.errors == []


def test_identical_verdicts_compare_equal_regardless_of_order_and_message() -> None:
    a = [res(A, "us-east-1", "xray-default-encryption", "pass"),
         res(A, "us-east-1", "kms-rotation-disabled", "fail", KEY)]  # fmt: skip
    b = [dict(a[1], message="other words", confidence="low"), a[0]]
    assert runner.compare_verdicts(runner.verdicts(a), runner.verdicts(b)) == []


def test_compare_reports_changed_missing_and_extra_verdicts() -> None:
    base = runner.verdicts([res(A, "us-east-1", "r1", "pass"), res(A, "us-east-1", "r2", "fail"),
                            res(B, "eu-west-1", "r1", "fail")])  # fmt: skip
    other = runner.verdicts([res(A, "us-east-1", "r1", "error"), res(B, "eu-west-1", "r1", "fail"),
                             res(B, "eu-west-1", "r3", "pass")])  # fmt: skip
    assert runner.compare_verdicts(base, other) == [
        f"{A} us-east-1 r1 xray-encryption-config: pass -> error",
        f"{A} us-east-1 r2 xray-encryption-config: fail -> missing",
        f"{B} eu-west-1 r3 xray-encryption-config: missing -> pass",
    ]


def test_key_results_are_told_apart_by_resource() -> None:
    other_key = KEY.replace("k1", "k2")
    v = runner.verdicts([res(A, "us-east-1", "kms-rotation-disabled", "fail", KEY),
                         res(A, "us-east-1", "kms-rotation-disabled", "pass", other_key)])  # fmt: skip
    assert len(v) == 2


def test_duplicate_verdict_keys_keep_every_status() -> None:
    v = runner.verdicts([res(A, "us-east-1", "r", "pass"), res(A, "us-east-1", "r", "fail")])
    assert v == {(A, "us-east-1", "r", "xray-encryption-config"): "fail|pass"}
    assert runner.compare_verdicts(v, runner.verdicts([res(A, "us-east-1", "r", "pass")]))


def test_verdicts_can_leave_out_dead_accounts() -> None:
    rs = [res(A, "us-east-1", "r", "pass"), res(B, "us-east-1", "r", "error")]
    assert list(runner.verdicts(rs, frozenset({B}))) == [(A, "us-east-1", "r", "xray-encryption-config")]


def test_dead_account_must_have_only_errors() -> None:
    assert runner.dead_account_problems([res(B, "us-east-1", "r", "error"), res(A, "us-east-1", "r", "pass")], B) == []
    problems = runner.dead_account_problems([res(B, "us-east-1", "r", "error"), res(B, "eu-west-1", "r", "pass")], B)
    assert problems == [f"account {B} eu-west-1 r xray-encryption-config: pass, expected error"]
    assert runner.dead_account_problems([res(A, "us-east-1", "r", "pass")], B) == [
        f"account {B}: no results at all (silently skipped)"
    ]


def test_missing_targets() -> None:
    rs = [res(A, "us-east-1", "r", "pass"), res(B, "eu-west-1", "r", "error")]
    assert runner.missing_targets(rs, [A, B], ["us-east-1", "eu-west-1"]) == [f"{A} eu-west-1", f"{B} us-east-1"]


def test_run_metrics() -> None:
    out = runner.parse_jsonl(jsonl(res(A, "us-east-1", "r", "pass"), res(A, "eu-west-1", "r", "fail", suppressed=True),
                                   res(A, "eu-west-1", "k", "error"), res(A, "ca-central-1", "k", "pass"),
                                   SUMMARY))  # fmt: skip
    stats = {"by_operation": {"xray:GetEncryptionConfig": 2, "kms:DescribeKey": 3, "sts:AssumeRole": 1},
             "faults": {"throttle": 1, "error": 0, "drop": 0, "dead_account": 0}}  # fmt: skip
    m = runner.run_metrics(out, stats, targets={(A, "us-east-1"), (A, "eu-west-1")})
    assert m["api_calls"]["total"] == 6
    assert m["calls_per_target"] == 3.0
    assert m["calls_per_target_beyond_get_encryption_config"] == 2.0
    # ca-central-1 (say, a key's own region) is not an audited target
    assert m["results"] == {"total": 4, "by_status": {"pass": 2, "fail": 1, "error": 1}, "suppressed": 1,
                            "targets_with_results": 2}  # fmt: skip
    assert m["faults"]["throttle"] == 1
    assert m["summary"] == SUMMARY


def test_resolve_dead_accounts_by_id_or_index() -> None:
    accounts = [{"index": i, "account_id": a} for i, a in enumerate(["123456789012", A, B])]
    assert runner.resolve_dead_accounts(["2", A], accounts) == [B, A]
    for bad in ("123456789012", "0", "999999999999", "7"):
        with pytest.raises(runner.BenchError):
            runner.resolve_dead_accounts([bad], accounts)


def test_run_measured_reports_exit_code_wall_time_and_peak_rss_of_that_child(tmp_path: Path) -> None:
    code = "import sys, time; b = bytearray(150 * 1024 * 1024); time.sleep(0.2); print('hi'); sys.exit(3)"
    m = runner.run_measured([sys.executable, "-c", code], {}, tmp_path / "out", tmp_path / "err", timeout=60)
    assert m["exit_code"] == 3
    assert m["wall_seconds"] >= 0.2
    assert 150 <= m["peak_rss_mib"] < 400
    assert (tmp_path / "out").read_text() == "hi\n"
    small = runner.run_measured([sys.executable, "-c", "pass"], {}, tmp_path / "o2", tmp_path / "e2", timeout=60)
    assert small["peak_rss_mib"] < 100  # not the earlier child's peak (RUSAGE_CHILDREN would be)


def test_run_measured_kills_at_timeout(tmp_path: Path) -> None:
    m = runner.run_measured([sys.executable, "-c", "import time; time.sleep(30)"], {}, tmp_path / "o", tmp_path / "e",
                            timeout=0.5)  # fmt: skip
    assert m["timed_out"] and m["exit_code"] == -9 and m["wall_seconds"] < 10


def test_render_markdown_shows_each_run_and_check() -> None:
    run = {"label": "faults", "faults_config": {"throttle_rate": 0.1, "error_rate": 0.0, "drop_rate": 0.0,
                                                "dead_accounts": [B]},
           "wall_seconds": 1.5, "exit_code": 1, "peak_rss_mib": 30.0, "cpu_seconds": 0.4,
           **runner.run_metrics(runner.parse_jsonl(jsonl(res(A, "us-east-1", "r", "pass"), SUMMARY)),
                                {"by_operation": {"xray:GetEncryptionConfig": 1}, "faults": {"throttle": 2}},
                                {(A, "us-east-1")})}  # fmt: skip
    report = {"options": {"latency_ms": 50}, "machine": runner.machine_info(), "binary": {"command": ["xray-cmk"]},
              "seed": {"seconds": 1.0, "regions": ["us-east-1"], "expected": {"accounts": 1, "targets": 1}},
              "runs": [run],
              "checks": [{"name": "verdicts identical", "ok": False, "details": ["x: pass -> error"]}]}  # fmt: skip
    text = runner.render_markdown(report)
    assert "| faults (throttle 0.1, dead 222222222222) |" in text
    assert "| wall time (s) | 1.5 |" in text
    assert "| `xray:GetEncryptionConfig` | 1 |" in text
    assert "| faults throttle / 5xx / drop / dead | 2 / 0 / 0 / 0 |" in text
    assert "- FAILED: verdicts identical\n    - x: pass -> error" in text


def test_machine_info() -> None:
    m = runner.machine_info()
    assert m["nproc"] >= 1 and m["cpu_model"] and m["memory_gib"] > 0


def test_bad_options_are_usage_errors() -> None:
    for bad in (["--regions", "18"], ["--accounts", "0"], ["--throttle-rate", "0.7", "--drop-rate", "0.4"]):
        with pytest.raises(SystemExit):
            runner.parse_args(bad)
