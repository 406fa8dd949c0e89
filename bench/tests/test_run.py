"""bench/run end to end with the stub xray-cmk (tests/stub_xray_cmk.py): emulator, seed, proxy, audit,
report, checks, and that everything it started is stopped."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import BENCH

STUB = f"{shlex.quote(sys.executable)} {shlex.quote(str(BENCH / 'tests' / 'stub_xray_cmk.py'))}"


def bench_run(tmp_path: Path, *args: str, bin: str = STUB,
              **env: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any] | None]:  # fmt: skip
    proc = subprocess.run(
        [str(BENCH / "run"), "--results-dir", str(tmp_path / "results"), "--latency-ms", "5", *args],
        # TMPDIR: the work directories kept by failing runs land in pytest's tmp_path, not /tmp.
        env=dict(os.environ, XRAY_CMK_BIN=bin, TMPDIR=str(tmp_path), **env), capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    reports = sorted((tmp_path / "results").glob("*.json")) if (tmp_path / "results").exists() else []
    report = json.loads(reports[-1].read_text()) if reports else None
    if report:
        for name, pid in report["processes"].items():  # emulator and proxies: all stopped
            assert not Path(f"/proc/{pid}").exists(), (name, pid)
    return proc, report


def no_process_uses(work_dir: str) -> bool:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if work_dir.encode() in cmdline.read_bytes():
                return False
        except OSError:
            pass
    return True


def test_compare_with_faults_gives_identical_verdicts(tmp_path: Path) -> None:
    # --concurrency 1: the stub then calls in a fixed order, so the seeded faults hit the same calls every time.
    faults = ("--throttle-rate", "0.1", "--error-rate", "0.05", "--drop-rate", "0.05", "--seed", "3")
    proc, report = bench_run(tmp_path, "--accounts", "21", "--regions", "2", "--compare", *faults, "--concurrency", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert report and report["ok"] and [r["label"] for r in report["runs"]] == ["fault-free", "faults"]
    free, faulty = report["runs"]
    assert sum(free["faults"].values()) == 0 and sum(faulty["faults"].values()) > 0
    assert faulty["api_calls"]["total"] > free["api_calls"]["total"]  # the retries
    assert free["results"]["targets_with_results"] == 42
    assert free["calls_per_target"] == round(free["api_calls"]["total"] / 42, 3)
    assert free["peak_rss_mib"] > 10 and free["wall_seconds"] > 0
    assert report["binary"]["audit_command"][2:] == [
        "audit", "--org", "--profile", "bench-admin", "--regions", "ap-northeast-1,ap-northeast-2",
        "--format", "jsonl", "--quiet", "--concurrency", "1",
    ]  # fmt: skip
    assert report["seed"]["expected"]["accounts_by_posture"]["cmk-disabled"] == 1
    assert "| API calls by operation | fault-free | faults |" in proc.stdout
    assert "- ok: verdicts identical with and without faults" in proc.stdout
    assert re.search(r"results: .*/results/\d{8}T\d{6}Z\.json", proc.stdout)


def test_dead_account_results_are_all_errors(tmp_path: Path) -> None:
    proc, report = bench_run(tmp_path, "--accounts", "3", "--regions", "2", "--dead-account", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    dead = report["seed"]["accounts"][1]["account_id"]
    (run,) = report["runs"]
    assert run["faults_config"]["dead_accounts"] == [dead]
    assert run["faults"]["dead_account"] > 0
    assert run["exit_code"] == 3  # incomplete scan
    assert {c["name"]: c["ok"] for c in report["checks"]}[f"dead account {dead}: every result is error"]


def test_compare_fails_when_verdicts_differ(tmp_path: Path) -> None:
    proc, report = bench_run(tmp_path, "--accounts", "2", "--regions", "1", "--compare", STUB_FLIP_IN="faults")
    assert proc.returncode == 1
    (check,) = [c for c in report["checks"] if c["name"].startswith("verdicts identical")]
    assert not check["ok"] and len(check["details"]) == 1 and "->" in check["details"][0]
    assert "- FAILED: verdicts identical" in proc.stdout
    work = re.search(r"work directory kept: (\S+)", proc.stderr).group(1)
    assert Path(work, "faults.jsonl").exists() and no_process_uses(work)


def test_a_failing_audit_fails_the_benchmark(tmp_path: Path) -> None:
    proc, report = bench_run(tmp_path, "--accounts", "1", "--regions", "1", bin="sh -c 'echo broken >&2; exit 2' sh")
    assert proc.returncode == 1
    (run,) = report["runs"]
    assert run["exit_code"] == 2 and "broken" in run["stderr_tail"]
    failed = [c for c in report["checks"] if not c["ok"]]
    assert any("exit code 2" in d for c in failed for d in c["details"])
    assert any("no summary line" in d for c in failed for d in c["details"])


def test_setup_errors_exit_2_and_stop_everything(tmp_path: Path) -> None:
    proc, report = bench_run(tmp_path, "--accounts", "2", "--regions", "1", "--dead-account", "123456789012")
    assert proc.returncode == 2 and report is None
    assert "--dead-account 123456789012: not a member account" in proc.stderr
    work = re.search(r"work directory kept: (\S+)", proc.stderr).group(1)
    assert no_process_uses(work)


def test_source_both_audits_live_then_from_the_aggregator(tmp_path: Path) -> None:
    args = ("--accounts", "21", "--regions", "2", "--source", "both", "--config-coverage", "0.8",
            "--stale-fraction", "0.1")  # fmt: skip
    proc, report = bench_run(tmp_path, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert report and report["ok"] and [r["label"] for r in report["runs"]] == ["live", "config"]
    live, config = report["runs"]
    assert (report["seed"]["config"]["covered_targets"], report["seed"]["config"]["fresh_targets"]) == (34, 31)
    cmds = report["binary"]["audit_commands"]
    assert "--from-config-aggregator" not in cmds["live"] and "--quiet" not in cmds["live"]
    assert cmds["config"][cmds["config"].index("--from-config-aggregator") + 1] == "org-xray"
    assert (live["source"], config["source"]) == ("live", "config")
    assert config["aggregator"] | {"items_not_used": None} == {
        "aggregator": "org-xray", "readable": True, "from_config": 31, "targets": 42, "queries": 2, "read_live": 11,
        "items_not_used": None,
    }  # fmt: skip
    assert (live["get_encryption_config_calls"], config["get_encryption_config_calls"]) == (42, 11)
    assert config["select_aggregate_calls"] == 2 and config["tool_operations_by_service"]["config"] == 2
    cmp = report["source_comparison"]
    assert cmp["identical"] and cmp["get_encryption_config_saved"] == 31 and cmp["aggregator_goal_met"]
    assert "- ok: live and config: identical (status, message)" in proc.stdout
    assert "- ok: config: X-Ray configuration of the 31 account-regions with a fresh item" in proc.stdout
    assert "| calls by service: proxy (xray-cmk `--stats-out` operations) | live | config |" in proc.stdout


def test_source_both_fails_and_lists_a_message_that_differs(tmp_path: Path) -> None:
    args = ("--accounts", "3", "--regions", "1", "--source", "both", "--config-coverage", "1")
    proc, report = bench_run(tmp_path, *args, STUB_REWORD_IN="config")
    assert proc.returncode == 1
    (check,) = [c for c in report["checks"] if c["name"].startswith("live and config")]
    assert not check["ok"] and len(check["details"]) == 1
    assert re.fullmatch(r'\S+ \d{12} ap-northeast-1 \S+: (\w+) "(.*)" -> \1 "\2 \(reworded\)"', check["details"][0])
    assert report["source_comparison"]["differences"] == check["details"]
    assert "- FAILED: live and config: identical (status, message)" in proc.stdout


def test_source_config_alone_checks_what_came_from_items(tmp_path: Path) -> None:
    proc, report = bench_run(tmp_path, "--accounts", "2", "--regions", "2", "--source", "config",
                             "--config-coverage", "0.5")  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run,) = report["runs"]
    assert run["aggregator"]["from_config"] == 2 and report["source_comparison"] is None
