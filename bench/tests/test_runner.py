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


# --- --source both: live against the aggregator ---------------------------------------------------

AGG_LINE = ("xray-cmk: AWS Config aggregator org-xray: X-Ray configuration of 1290 of 1700 account-regions from "
            "configuration items (17 queries); 410 read live (items not used: 68 older than --max-config-age, "
            "2 deleted or not recorded)")  # fmt: skip


def test_result_verdicts_compare_status_and_message_per_rule_account_region_resource() -> None:
    live = [res(A, "us-east-1", "xray-default-encryption", "pass"),
            res(A, "us-east-1", "kms-rotation-disabled", "fail", KEY, message="rotation off")]  # fmt: skip
    # the source and the order may differ; the status and message may not
    config = [dict(live[1], source={"type": "config"}), dict(live[0], source={"type": "live"}, confidence="low")]
    v = runner.result_verdicts(live)
    assert v[("kms-rotation-disabled", A, "us-east-1", KEY)] == [("fail", "rotation off")]
    assert runner.compare_results(v, runner.result_verdicts(config)) == []


def test_compare_results_lists_each_difference_with_status_and_message() -> None:
    live = runner.result_verdicts([res(A, "us-east-1", "r1", "pass", message="KMS"),
                                   res(A, "us-east-1", "r2", "fail", message="NONE"),
                                   res(B, "eu-west-1", "r1", "fail", message="NONE"),
                                   res(B, "eu-west-1", "r4", "pass", message="same")])  # fmt: skip
    config = runner.result_verdicts([res(A, "us-east-1", "r1", "error", message="unknown"),
                                     res(B, "eu-west-1", "r1", "fail", message="NONE (item)"),
                                     res(B, "eu-west-1", "r3", "pass", message="new"),
                                     res(B, "eu-west-1", "r4", "pass", message="same")])  # fmt: skip
    assert runner.compare_results(live, config) == [
        f'r1 {A} us-east-1 xray-encryption-config: pass "KMS" -> error "unknown"',
        f'r1 {B} eu-west-1 xray-encryption-config: fail "NONE" -> fail "NONE (item)"',  # the message alone
        f'r2 {A} us-east-1 xray-encryption-config: fail "NONE" -> missing',
        f'r3 {B} eu-west-1 xray-encryption-config: missing -> pass "new"',
    ]


def test_result_verdicts_keep_duplicates_and_leave_out_dead_accounts() -> None:
    v = runner.result_verdicts([res(A, "us-east-1", "r", "pass", message="b"), res(A, "us-east-1", "r", "fail"),
                                res(B, "us-east-1", "r", "error")], frozenset({B}))  # fmt: skip
    assert v == {("r", A, "us-east-1", "xray-encryption-config"): [("fail", "m"), ("pass", "b")]}


def test_parse_aggregator_line() -> None:
    stderr = f"something else\n{AGG_LINE}\nxray-cmk: 1700 targets in 100 accounts: ...\n"
    assert runner.parse_aggregator_line(stderr) == {
        "aggregator": "org-xray", "readable": True, "from_config": 1290, "targets": 1700, "queries": 17,
        "read_live": 410, "items_not_used": {"older than --max-config-age": 68, "deleted or not recorded": 2},
    }  # fmt: skip
    plain = ("xray-cmk: AWS Config aggregator a:b: X-Ray configuration of 0 of 4 account-regions from "
             "configuration items (1 queries); 4 read live")
    assert runner.parse_aggregator_line(plain)["items_not_used"] == {}
    assert runner.parse_aggregator_line(plain)["aggregator"] == "a:b"
    unreadable = ("xray-cmk: AWS Config aggregator org-xray: cannot be read (NoSuchConfigurationAggregatorException "
                  "(no such aggregator)); no X-Ray configuration is judged from it, and every result that needs it is "
                  "an error")  # fmt: skip
    assert runner.parse_aggregator_line(unreadable) == {
        "aggregator": "org-xray", "readable": False,
        "error": "NoSuchConfigurationAggregatorException (no such aggregator)",
    }  # fmt: skip
    assert runner.parse_aggregator_line("xray-cmk: 4 targets in 1 accounts") is None


def test_source_metrics_and_comparison() -> None:
    live_stats = {"by_operation": {"xray:GetEncryptionConfig": 1700, "kms:DescribeKey": 80, "sts:AssumeRole": 99}}
    config_stats = {"by_operation": {"xray:GetEncryptionConfig": 410, "kms:DescribeKey": 80, "sts:AssumeRole": 99,
                                     "config:SelectAggregateResourceConfig": 17}}  # fmt: skip
    tool = {"api_calls": {"xray": 410, "config": 17}, "operations": {"xray:GetEncryptionConfig": 410,
                                                                     "config:SelectAggregateResourceConfig": 17}}
    live = runner.source_metrics("live", live_stats, None, AGG_LINE, 1700)
    assert live["aggregator"] is None  # a live run has no aggregator, whatever stderr says
    assert (live["get_encryption_config_calls"], live["select_aggregate_calls"]) == (1700, 0)
    config = runner.source_metrics("config", config_stats, tool, AGG_LINE, 1700)
    assert config["select_aggregate_calls_per_target"] == 0.01
    assert config["calls_by_service"] == {"config": 17, "kms": 80, "sts": 99, "xray": 410}
    assert config["tool_operations_by_service"] == {"config": 17, "xray": 410}
    assert config["aggregator"]["from_config"] == 1290
    live |= {"api_calls": {"total": 1879}, "wall_seconds": 20.0, "cpu_seconds": 5.0}
    config |= {"api_calls": {"total": 606}, "wall_seconds": 12.0, "cpu_seconds": 3.0}
    cmp = runner.source_comparison(live, config, [], 4000)
    assert cmp["identical"] and cmp["verdicts"] == 4000
    assert (cmp["get_encryption_config_saved"], cmp["get_encryption_config_saved_share"]) == (1290, 0.7588)
    assert cmp["api_calls_saved"] == 1273 and cmp["aggregator_goal_met"]
    assert not runner.source_comparison(live, config | {"select_aggregate_calls_per_target": 0.05}, ["d"], 1)[
        "aggregator_goal_met"
    ]


def test_aggregator_problems() -> None:
    run = {"aggregator": runner.parse_aggregator_line(AGG_LINE)}
    assert runner.aggregator_problems(run, 1290) == []
    assert runner.aggregator_problems(run, 1300) == [
        "1290 account-regions from configuration items, 1300 seeded fresh"
    ]
    assert runner.aggregator_problems({"aggregator": None}, 1)[0].startswith("no 'AWS Config aggregator")
    unreadable = {"aggregator": {"aggregator": "org-xray", "readable": False, "error": "denied"}}
    assert runner.aggregator_problems(unreadable, 1) == ["aggregator org-xray could not be read: denied"]


def test_render_markdown_with_sources() -> None:
    def run(label: str, source: str, stats: dict[str, int], stderr: str) -> dict[str, Any]:
        base = runner.run_metrics(runner.parse_jsonl(jsonl(res(A, "us-east-1", "r", "pass"), SUMMARY)),
                                  {"by_operation": stats}, {(A, "us-east-1"), (B, "us-east-1")})  # fmt: skip
        return {"label": label, "faults_config": {}, "wall_seconds": 1.0, "exit_code": 0, "peak_rss_mib": 30.0,
                "cpu_seconds": 0.4, **base, **runner.source_metrics(source, {"by_operation": stats},
                                                                    {"operations": stats}, stderr, 2)}  # fmt: skip

    line = ("xray-cmk: AWS Config aggregator org-xray: X-Ray configuration of 1 of 2 account-regions from "
            "configuration items (1 queries); 1 read live (items not used: 1 older than --max-config-age)")
    live = run("live", "live", {"xray:GetEncryptionConfig": 2}, "")
    config = run("config", "config", {"xray:GetEncryptionConfig": 1, "config:SelectAggregateResourceConfig": 1}, line)
    report = {"options": {"latency_ms": 50}, "machine": runner.machine_info(), "binary": {"command": ["xray-cmk"]},
              "seed": {"seconds": 1.0, "regions": ["us-east-1"], "expected": {"accounts": 2, "targets": 2}},
              "runs": [live, config], "source_comparison": runner.source_comparison(live, config, ["x"], 1),
              "checks": []}  # fmt: skip
    text = runner.render_markdown(report)
    assert "| X-Ray configuration read from | live | aggregator `org-xray` |" in text
    assert ("| ... account-regions from configuration items | - | 1 / 2 (1 queries), 1 live "
            "(1 older than --max-config-age) |") in text
    assert "| `config:SelectAggregateResourceConfig` calls | 0 | 1 |" in text
    assert "| ... per account-region | 0.0 | 0.5 |" in text
    assert "| xray | 2 (2) | 1 (1) |" in text
    assert "(status, message) DIFFERENT (1)" in text
    assert "`xray:GetEncryptionConfig` calls saved: 1 (50.0%)" in text
    assert "(goal < 0.05: NOT met)" in text


def test_source_options() -> None:
    assert runner.parse_args([]).source == "live"
    args = runner.parse_args(["--source", "both", "--config-coverage", "0.8", "--stale-fraction", "0.1"])
    assert (args.source, args.config_coverage, args.stale_fraction) == ("both", 0.8, 0.1)
    for bad in (["--source", "aggregator"], ["--config-coverage", "1.5"], ["--stale-fraction", "-0.1"],
                ["--source", "both", "--compare"]):  # fmt: skip
        with pytest.raises(SystemExit):
            runner.parse_args(bad)
