"""bench/run --backend stub (the Rust load stub, bench/stub) against the emulator: the same verdicts
per posture for the same parameters, faults and dead accounts through the stub, its CPU reported.

Needs a real xray-cmk: $XRAY_CMK_BIN, else ~/.cache/xray-cmk/target/{release,debug}/xray-cmk (not
built here: that takes minutes); skipped without one. The stub is $XRAY_CMK_STUB_BIN, else built by
the runner (cargo, about a minute the first time).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import BENCH

TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or Path.home() / ".cache/xray-cmk/target")


def xray_cmk() -> str | None:
    if os.environ.get("XRAY_CMK_BIN"):
        return os.environ["XRAY_CMK_BIN"]
    found = [TARGET / p / "xray-cmk" for p in ("release", "debug") if (TARGET / p / "xray-cmk").exists()]
    return str(found[0]) if found else None


pytestmark = pytest.mark.skipif(xray_cmk() is None, reason="no xray-cmk binary (set XRAY_CMK_BIN)")


def bench_run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], Path]:
    proc = subprocess.run(
        [str(BENCH / "run"), "--results-dir", str(tmp_path / "results"), "--keep-work", *args],
        env=dict(os.environ, XRAY_CMK_BIN=xray_cmk() or "", TMPDIR=str(tmp_path)),
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    reports = sorted((tmp_path / "results").glob("*.json"))
    assert reports, proc.stdout + proc.stderr
    work = re.search(r"work directory kept: (\S+)", proc.stderr)
    assert work, proc.stderr
    return proc, json.loads(reports[-1].read_text()), Path(work.group(1))


def verdicts_by_posture(work: Path, label: str = "run") -> Counter[tuple[str, str, str, str]]:
    """(posture, region, rule, status) counts: account ids differ between the backends, postures do not."""
    posture = {a["account_id"]: a["posture"] for a in json.loads((work / "seed.json").read_text())["accounts"]}
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for line in (work / f"{label}.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r.get("type") == "result":
            counts[(posture[r["account"]], r["region"], r["rule"], r["status"])] += 1
    return counts


def test_stub_gives_the_emulators_verdicts(tmp_path: Path) -> None:
    size = ("--accounts", "41", "--regions", "2", "--latency-ms", "0")  # 41: every posture, both key defects
    _, emu, emu_work = bench_run(tmp_path / "emulator", *size)
    proc, stub, stub_work = bench_run(tmp_path / "stub", *size, "--backend", "stub")
    assert stub["ok"], proc.stdout
    assert stub["seed"]["expected"] == emu["seed"]["expected"]
    assert stub["runs"][0]["results"] == emu["runs"][0]["results"]
    assert verdicts_by_posture(stub_work) == verdicts_by_posture(emu_work)
    # The same calls, but for ListAccounts (the stub pages by 20 as AWS does, moto by 100).
    ops = lambda r: {k: v for k, v in r["runs"][0]["api_calls"]["by_operation"].items()  # noqa: E731
                     if k != "organizations:ListAccounts"}  # fmt: skip
    assert ops(stub) == ops(emu)
    assert "stub" in stub["runs"][0]["server_cpu_seconds"]
    assert "| stub CPU time during the run (s) |" in proc.stdout


def test_stub_faults_keep_verdicts_and_a_dead_account_is_all_errors(tmp_path: Path) -> None:
    faults = ("--throttle-rate", "0.1", "--error-rate", "0.02", "--drop-rate", "0.01", "--dead-account", "3")
    proc, report, _ = bench_run(tmp_path, "--backend", "stub", "--accounts", "21", "--regions", "2",
                                "--latency-ms", "5", "--compare", *faults)  # fmt: skip
    assert report["ok"], proc.stdout
    free, faulty = report["runs"]
    assert sum(free["faults"].values()) == 0
    assert all(faulty["faults"][k] > 0 for k in ("throttle", "error", "drop", "dead_account")), faulty["faults"]
    assert faulty["exit_code"] == 3
