"""bench/iac/compare.py with stand-ins for xray-cmk and Checkov (written here, into tmp_path): the
commands it runs, best-of-N timing, files per second, the speed ratio and its target, exit codes,
the report and its JSON. Checkov itself is never run here (minutes, and a large venv)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import BENCH

sys.path.insert(0, str(BENCH / "iac"))

import compare  # noqa: E402
import make_corpus  # noqa: E402

SCRIPT = BENCH / "iac" / "compare.py"

# Both stand-ins log their argv (and Checkov's the environment it needs) to $STUB_LOG, count the
# .tf files under the directory given, sleep $STUB_*_SLEEP seconds when there are any, and exit
# $STUB_*_EXIT (default: 1 when there are files, as with findings; 0 on an empty directory).
STUB_XRAY = r'''
import json, os, sys, time
from pathlib import Path
args = sys.argv[1:]
with open(os.environ["STUB_LOG"], "a") as f:
    f.write(json.dumps({"tool": "xray-cmk", "argv": args}) + "\n")
if args == ["--version"]:
    print("xray-cmk 0.0.0-stub")
    sys.exit(0)
assert args[:2] == ["iac", "scan"] and args[3:] == ["--format", "json"], args
tf = sorted(Path(args[2]).rglob("*.tf"))
modules = sorted({str(p.parent) for p in tf})
if tf:
    time.sleep(float(os.environ.get("STUB_XRAY_SLEEP", "0")))
results = [{"rule": "xray-default-encryption", "status": "fail", "account": m, "region": "-"} for m in modules]
print(json.dumps({"schema_version": "1.2", "tool": {"name": "xray-cmk", "version": "0.0.0"},
                  "summary": {"results": {"pass": 0, "fail": len(results), "error": 0, "suppressed": 0}},
                  "results": results}))
sys.exit(int(os.environ.get("STUB_XRAY_EXIT", "1" if tf else "0")))
'''

STUB_CHECKOV = r'''
import json, os, sys, time
from pathlib import Path
args = sys.argv[1:]
with open(os.environ["STUB_LOG"], "a") as f:
    f.write(json.dumps({"tool": "checkov", "argv": args,
                        "no_update_check": os.environ.get("CKV_SKIP_PACKAGE_UPDATE_CHECK"),
                        "skip_mapping": os.environ.get("BC_SKIP_MAPPING")}) + "\n")
tf = sorted(Path(args[args.index("-d") + 1]).rglob("*.tf"))
summary = {"passed": 3 * len(tf), "failed": len(tf), "skipped": 0,
           "parsing_errors": int(os.environ.get("STUB_PARSE_ERRORS", "0")),
           "resource_count": 2 * len(tf), "checkov_version": "9.9.9"}
if tf:
    time.sleep(float(os.environ.get("STUB_CHECKOV_SLEEP", "0")))
    failed = [{"check_id": "CKV_AWS_7" if i % 2 else "CKV_AWS_116", "file_path": str(p)} for i, p in enumerate(tf)]
    print(json.dumps([{"check_type": "terraform", "results": {"failed_checks": failed}, "summary": summary}]))
else:
    print(json.dumps(summary))
sys.exit(int(os.environ.get("STUB_CHECKOV_EXIT", "1" if tf else "0")))
'''


@pytest.fixture
def stubs(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "stub_xray.py").write_text(STUB_XRAY)
    (tmp_path / "stub_checkov.py").write_text(STUB_CHECKOV)
    return {
        "xray": f"{shlex.quote(sys.executable)} {shlex.quote(str(tmp_path / 'stub_xray.py'))}",
        "checkov": f"{shlex.quote(sys.executable)} {shlex.quote(str(tmp_path / 'stub_checkov.py'))}",
    }


Outcome = tuple[subprocess.CompletedProcess[str], dict[str, Any] | None, list[dict[str, Any]]]


def run_compare(tmp_path: Path, stubs: dict[str, str], *args: str, **env: str) -> Outcome:
    """compare.py with the stubs on a 40-module corpus; (process, --json-out report, the stubs' calls)."""
    log, out = tmp_path / "calls.jsonl", tmp_path / "report.json"
    log.unlink(missing_ok=True)
    out.unlink(missing_ok=True)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--modules", "40", "--xray-cmk", stubs["xray"], "--checkov", stubs["checkov"],
         "--json-out", str(out), *args],
        env=dict(os.environ, STUB_LOG=str(log), TMPDIR=str(tmp_path), **env),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return proc, (json.loads(out.read_text()) if out.exists() else None), calls


def test_end_to_end_with_stubs(tmp_path: Path, stubs: dict[str, str]) -> None:
    proc, report, calls = run_compare(tmp_path, stubs, "--checkov-check", "CKV_AWS_7", "--target-ratio", "2",
                                      STUB_CHECKOV_SLEEP="1.0")  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert report is not None and report["ok"] and report["schema"] == "xray-cmk-iac-bench/1"

    stats = make_corpus.generate(40, 1).stats()
    corpus = report["corpus"]
    assert (corpus["tf_files"], corpus["modules"], corpus["bytes"], corpus["seed"]) == (
        stats["tf_files"], 40, stats["bytes"], 1)
    tree = corpus["path"]
    assert not Path(tree).exists()  # the work directory is removed after a good run

    xray, checkov, single = report["tools"]
    assert [t["label"] for t in report["tools"]] == ["xray-cmk", "checkov", "checkov --check CKV_AWS_7"]
    # commands: the scan three times plus once on an empty directory, --version once
    scans = [c["argv"] for c in calls if c["tool"] == "xray-cmk" and c["argv"] != ["--version"]]
    assert scans[:3] == [["iac", "scan", tree, "--format", "json"]] * 3 and len(scans) == 4
    assert scans[3][2] != tree and not list(Path(scans[3][2]).glob("*"))  # empty directory
    assert xray["command"][-5:] == ["iac", "scan", tree, "--format", "json"]
    ck = [c for c in calls if c["tool"] == "checkov"]
    assert len(ck) == 4  # full + empty, single check + empty
    assert ck[0]["argv"] == ["-d", tree, "--framework", "terraform", "--quiet", "--compact", "-o", "json",
                             "--skip-download"]  # fmt: skip
    assert ck[2]["argv"] == [*ck[0]["argv"], "--check", "CKV_AWS_7"]
    assert all(c["no_update_check"] == "true" and c["skip_mapping"] == "TRUE" for c in ck)

    # figures
    assert len(xray["runs"]) == 3 and len(checkov["runs"]) == 1
    assert xray["seconds"] == min(r["wall_seconds"] for r in xray["runs"])
    assert checkov["seconds"] >= 1.0
    for t in report["tools"]:
        assert t["files_per_second"] == round(corpus["tf_files"] / t["seconds"], 1)
        # The stubs start and scan in about the same time, so which is faster is noise: only the
        # arithmetic is checked, when there is a marginal time to divide by.
        assert t["startup_seconds"] is not None and t["startup_seconds"] >= 0
        if t["seconds"] > t["startup_seconds"]:
            assert t["marginal_files_per_second"] == round(corpus["tf_files"] / (t["seconds"] - t["startup_seconds"]), 1)
        else:
            assert t["marginal_files_per_second"] is None
        assert all(r["peak_rss_mib"] > 1 and r["cpu_seconds"] >= 0 for r in t["runs"])
    assert [r["label"] for r in report["ratios"]] == ["vs checkov", "vs checkov --check CKV_AWS_7"]
    assert report["ratios"][0]["ratio"] == round(checkov["seconds"] / xray["seconds"], 1) >= 2
    assert xray["cpu_seconds"] == min(r["cpu_seconds"] for r in xray["runs"]) > 0
    assert report["ratios"][0]["cpu_ratio"] == compare.speed_ratio(xray["cpu_seconds"], checkov["cpu_seconds"])
    assert len(report["load_average"]["before"]) == 3
    assert all(r["meets_target"] for r in report["ratios"])
    # outputs read
    assert xray["output"]["findings"] == 40 and xray["output"]["modules_with_results"] == 40
    assert checkov["output"]["findings"] == corpus["tf_files"] and checkov["output"]["checkov_version"] == "9.9.9"
    assert report["versions"] == {"xray_cmk": "xray-cmk 0.0.0-stub", "checkov": "9.9.9"}
    # machine
    m = report["machine"]
    assert m["nproc"] >= 1 and m["cpu_model"] and m["memory_gib"] and m["python"]
    assert all(c["ok"] for c in report["checks"])
    # the markdown report on stdout
    assert f"{corpus['tf_files']:,} .tf files in 40 modules" in proc.stdout
    assert f"| files/s | {xray['files_per_second']:,.1f} | {checkov['files_per_second']:,.1f} |" in proc.stdout
    assert "xray-cmk is" in proc.stdout and "× faster" in proc.stdout and "BELOW TARGET" not in proc.stdout


def test_below_target_fails(tmp_path: Path, stubs: dict[str, str]) -> None:
    proc, report, _ = run_compare(tmp_path, stubs, "--runs", "1", "--target-ratio", "1000000")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert report and not report["ok"] and not report["ratios"][0]["meets_target"]
    assert "BELOW TARGET" in proc.stdout


def test_unexpected_exit_codes_fail_and_keep_the_work_directory(tmp_path: Path, stubs: dict[str, str]) -> None:
    proc, report, _ = run_compare(tmp_path, stubs, "--runs", "2", "--target-ratio", "0", STUB_XRAY_EXIT="2")
    assert proc.returncode == 1
    assert report and not report["ok"]
    failed = [c for c in report["checks"] if not c["ok"]]
    assert [c["name"] for c in failed] == ["xray-cmk: exit codes in [0, 1, 3] and JSON output"]
    assert "run 1: exit code 2" in failed[0]["details"] and "run 2: exit code 2" in failed[0]["details"]
    assert report["tools"][0]["seconds"] is None and report["ratios"] == []
    assert Path(report["corpus"]["path"]).is_dir()  # kept for reading

    # exit code 3 (incomplete scan) is a normal outcome; Checkov's parse errors are not
    proc, report, _ = run_compare(tmp_path, stubs, "--runs", "1", "--target-ratio", "0", STUB_XRAY_EXIT="3",
                                  STUB_PARSE_ERRORS="4")  # fmt: skip
    assert proc.returncode == 1 and report
    assert [c["details"] for c in report["checks"] if not c["ok"]] == ["4 parsing errors"]


def test_missing_binary_says_how_to_build(tmp_path: Path, stubs: dict[str, str]) -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--skip-checkov"], capture_output=True, text=True,
                          env={**{k: v for k, v in os.environ.items() if k != "XRAY_CMK_BIN"},
                               "CARGO_TARGET_DIR": str(tmp_path / "target")}, timeout=60)  # fmt: skip
    assert proc.returncode == 2
    assert str(tmp_path / "target" / "release" / "xray-cmk") in proc.stderr
    assert "cargo build --release -p xray-cmk" in proc.stderr
    proc, report, calls = run_compare(tmp_path, {**stubs, "xray": str(tmp_path / "nope")})
    assert proc.returncode == 2 and report is None and calls == []


def test_one_tool_alone(tmp_path: Path, stubs: dict[str, str]) -> None:
    proc, report, calls = run_compare(tmp_path, stubs, "--checkov-only", "--xray-cmk", str(tmp_path / "nope"))
    assert proc.returncode == 0, proc.stderr
    assert report and [t["label"] for t in report["tools"]] == ["checkov"] and report["ratios"] == []
    assert {c["tool"] for c in calls} == {"checkov"} and "No ratio" in proc.stdout
    proc, report, calls = run_compare(tmp_path, stubs, "--skip-checkov", "--runs", "1")
    assert proc.returncode == 0 and report and [t["label"] for t in report["tools"]] == ["xray-cmk"]


# --- the pure parts ---------------------------------------------------------------------------------------


def test_figures_and_ratio() -> None:
    assert compare.files_per_second(1200, 0.25) == 4800.0
    assert compare.files_per_second(1200, None) is None
    assert compare.files_per_second(1200, 0.0) == float("inf")
    assert compare.speed_ratio(0.3, 36.0) == 120.0
    assert compare.speed_ratio(None, 36.0) is None and compare.speed_ratio(0.3, None) is None
    assert compare.speed_ratio(0.0, 36.0) == float("inf")
    f = compare.tool_figures(1000, 40.0, 4.0)
    assert f == {"seconds": 40.0, "files_per_second": 25.0, "startup_seconds": 4.0, "marginal_files_per_second": 27.8}
    assert compare.tool_figures(1000, 2.0, 3.0)["marginal_files_per_second"] is None
    assert compare.tool_figures(1000, None, None)["files_per_second"] is None


def test_output_summaries() -> None:
    doc = {"schema_version": "1.2", "summary": {"results": {"pass": 2, "fail": 3, "error": 1, "suppressed": 0}},
           "results": [{"account": "a/x"}, {"account": "a/x"}, {"account": "b/y"}]}  # fmt: skip
    s = compare.summarize_xray_output(json.dumps(doc))
    assert s["json"] and s["findings"] == 3 and s["results"] == 3 and s["modules_with_results"] == 2
    assert not compare.summarize_xray_output("oops")["json"]
    report = {"check_type": "terraform", "summary": {"passed": 5, "failed": 2, "skipped": 0, "parsing_errors": 0,
                                                     "resource_count": 4, "checkov_version": "3.3.30"},
              "results": {"failed_checks": [{"check_id": "CKV_AWS_7"}, {"check_id": "CKV_AWS_7"}]}}  # fmt: skip
    for text in (json.dumps(report), json.dumps([report])):
        c = compare.summarize_checkov_output(text)
        assert c["findings"] == 2 and c["checkov_version"] == "3.3.30" and c["top_failed_checks"] == [("CKV_AWS_7", 2)]
    both = compare.summarize_checkov_output(json.dumps([report, report]))
    assert both["summary"]["passed"] == 10 and both["top_failed_checks"] == [("CKV_AWS_7", 4)]
    bare = compare.summarize_checkov_output(json.dumps(report["summary"]))  # what an empty directory gives
    assert bare["findings"] == 2 and bare["checkov_version"] == "3.3.30"


def test_markdown_rendering() -> None:
    run = {"exit_code": 1, "wall_seconds": 0.2, "peak_rss_mib": 30.0, "cpu_seconds": 0.35}
    def tool(label: str, s: float, fps: float) -> dict[str, Any]:
        return {"label": label, "command": [label, "x y"], "runs": [run], "output": {"findings": 7}, "seconds": s,
                "files_per_second": fps, "startup_seconds": None, "marginal_files_per_second": None,
                "cpu_seconds": 0.35}  # fmt: skip

    report = {"corpus": {"tf_files": 1234, "modules": 250, "bytes": 1_100_000, "lines": 47000, "seed": 1},
              "tools": [tool("xray-cmk", 0.2, 6170.0), tool("checkov", 36.0, 34.3)], "target_ratio": 100.0,
              "ratios": [{"label": "vs checkov", "ratio": 180.0, "cpu_ratio": 90.0, "meets_target": True}],
              "load_average": {"before": [1.5, 1.0, 0.5], "after": [0.1, 0.2, 0.3]},
              "checks": [{"name": "a check", "ok": True, "details": ""}]}  # fmt: skip
    md = compare.render_markdown(report)
    assert md.startswith("## IaC scan: 1,234 .tf files in 250 modules (1.1 MB, 47,000 lines; seed 1)")
    assert "| seconds (best) | 0.200 | 36.000 |" in md and "| files/s | 6,170.0 | 34.3 |" in md
    assert "| start-up, empty dir (s) | – | – |" in md and "| findings | 7 | 7 |" in md
    assert "* xray-cmk: `xray-cmk 'x y'`" in md
    assert "**vs checkov: xray-cmk is 180.0× faster** (target ≥ 100×: ok; 90.0× less CPU time)" in md
    assert "| CPU time (s), best | 0.35 | 0.35 |" in md
    assert "before / after: 1.50 / 0.10 — other work was running" in md
    assert "* ok: a check" in md
