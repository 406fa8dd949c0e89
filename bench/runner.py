"""The xray-cmk benchmark runner (``bench/run`` execs this with the emulator venv's python).

Builds xray-cmk (release), starts the emulator, seeds a synthetic organization,
puts the latency-and-fault proxy in front of the emulator and times
``xray-cmk audit --org`` through it; with ``--source both``, live and then from
the AWS Config aggregator ``org-xray``, requiring identical results. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import seed_synthetic  # noqa: E402

SCHEMA = "xray-cmk-bench/1"
GET_ENCRYPTION_CONFIG = "xray:GetEncryptionConfig"
SELECT_AGGREGATE = "config:SelectAggregateResourceConfig"
AGGREGATOR_GOAL = 0.05  # issue 18: calls to the aggregator per account-region below this
SOURCES = ("live", "config", "both")
AUDIT_OK_EXIT_CODES = (0, 1, 3)  # clean, findings, incomplete scan; 2 and anything else: the run failed
AWS_ENV_DROPPED = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
)  # fmt: skip


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """A setup problem: reported on one line, exit code 2."""


# --- the audit's JSONL output ----------------------------------------------------------------


@dataclass
class AuditOutput:
    results: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)  # lines that are not what the format promises


def parse_jsonl(text: str) -> AuditOutput:
    """Results (``type: result``) and the summary (``type: summary``, the last line)."""
    out = AuditOutput()
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    for n, line in lines:
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            out.errors.append(f"line {n}: not JSON ({exc.msg})")
            continue
        kind = obj.get("type") if isinstance(obj, dict) else None
        if kind == "result":
            missing = [k for k in ("rule", "status", "account", "region", "resource") if k not in obj]
            if missing:
                out.errors.append(f"line {n}: result without {', '.join(missing)}")
            else:
                out.results.append(obj)
        elif kind == "summary":
            if n != lines[-1][0]:
                out.errors.append(f"line {n}: summary is not the last line")
            out.summary = obj
    if out.summary is None:
        out.errors.append("no summary line")
    return out


VerdictKey = tuple[str, str, str, str]


def verdicts(results: list[dict[str, Any]], exclude_accounts: frozenset[str] = frozenset()) -> dict[VerdictKey, str]:
    """(account, region, rule, resource) -> status; a key seen twice keeps every status, sorted."""
    seen: dict[VerdictKey, list[str]] = {}
    for r in results:
        if r["account"] not in exclude_accounts:
            seen.setdefault((r["account"], r["region"], r["rule"], str(r["resource"])), []).append(r["status"])
    return {k: "|".join(sorted(v)) for k, v in seen.items()}


def compare_verdicts(base: dict[VerdictKey, str], other: dict[VerdictKey, str]) -> list[str]:
    """Human-readable differences; empty when the verdicts are identical."""
    diffs = []
    for key in sorted(base.keys() | other.keys()):
        a, b = base.get(key), other.get(key)
        if a != b:
            diffs.append(f"{' '.join(key)}: {a or 'missing'} -> {b or 'missing'}")
    return diffs


ResultKey = tuple[str, str, str, str]  # (rule, account, region, resource)


def result_verdicts(
    results: list[dict[str, Any]], exclude_accounts: frozenset[str] = frozenset()
) -> dict[ResultKey, list[tuple[str, str]]]:  # fmt: skip
    """(rule, account, region, resource) -> [(status, message)], sorted; what two sources of the same
    configuration must agree on, word for word."""
    seen: dict[ResultKey, list[tuple[str, str]]] = {}
    for r in results:
        if r["account"] not in exclude_accounts:
            key = (r["rule"], r["account"], r["region"], str(r["resource"]))
            seen.setdefault(key, []).append((r["status"], str(r.get("message"))))
    return {k: sorted(v) for k, v in seen.items()}


def compare_results(
    base: dict[ResultKey, list[tuple[str, str]]], other: dict[ResultKey, list[tuple[str, str]]]
) -> list[str]:  # fmt: skip
    """Human-readable differences of (status, message); empty when identical."""

    def show(v: list[tuple[str, str]] | None) -> str:
        return "missing" if v is None else "; ".join(f"{status} {json.dumps(message)}" for status, message in v)

    return [
        f"{' '.join(key)}: {show(base.get(key))} -> {show(other.get(key))}"
        for key in sorted(base.keys() | other.keys())
        if base.get(key) != other.get(key)
    ]


_AGGREGATOR_USED = re.compile(
    r"AWS Config aggregator (?P<aggregator>.+?): X-Ray configuration of (?P<from_config>\d+) of (?P<targets>\d+) "
    r"account-regions from configuration items \((?P<queries>\d+) quer(?:y|ies)\); (?P<read_live>\d+) read live"
    r"(?: \(items not used: (?P<unused>[^)]*)\))?"
)
_AGGREGATOR_UNREADABLE = re.compile(
    r"AWS Config aggregator (?P<aggregator>.+?): cannot be read \((?P<error>.*)\); no X-Ray"
)


def parse_aggregator_line(stderr: str) -> dict[str, Any] | None:
    """The last line of xray-cmk's stderr about the aggregator: how many account-regions came from
    configuration items, in how many queries, how many were read live and why; or that it could not
    be read. None when there is no such line."""
    found = None
    for line in stderr.splitlines():
        if m := _AGGREGATOR_USED.search(line):
            unused = {}
            for part in filter(None, (m["unused"] or "").split(", ")):
                count, _, why = part.partition(" ")
                unused[why] = int(count) if count.isdigit() else count
            found = {"aggregator": m["aggregator"], "readable": True, "from_config": int(m["from_config"]),
                     "targets": int(m["targets"]), "queries": int(m["queries"]), "read_live": int(m["read_live"]),
                     "items_not_used": unused}  # fmt: skip
        elif m := _AGGREGATOR_UNREADABLE.search(line):
            found = {"aggregator": m["aggregator"], "readable": False, "error": m["error"]}
    return found


def source_metrics(
    source: str, stats: dict[str, Any], tool_stats: dict[str, Any] | None, stderr: str, targets: int
) -> dict[str, Any]:  # fmt: skip
    """What a run with --source config|both adds: where X-Ray's configuration was read, the calls to
    the aggregator per account-region, and the calls by service (the proxy's, and xray-cmk's own
    --stats-out operations, retries not included)."""
    by_op = stats.get("by_operation", {})
    by_service: Counter[str] = Counter()
    for op, n in by_op.items():
        by_service[op.split(":", 1)[0]] += n
    tool_ops = (tool_stats or {}).get("operations") or {}
    tool_by_service: Counter[str] = Counter()
    for op, n in tool_ops.items():
        tool_by_service[op.split(":", 1)[0]] += n
    select = by_op.get(SELECT_AGGREGATE, 0)
    return {
        "source": source,
        "aggregator": parse_aggregator_line(stderr) if source == "config" else None,
        "select_aggregate_calls": select,
        "select_aggregate_calls_per_target": round(select / targets, 5) if targets else None,
        "get_encryption_config_calls": by_op.get(GET_ENCRYPTION_CONFIG, 0),
        "calls_by_service": dict(sorted(by_service.items())),
        "tool_stats": tool_stats,
        "tool_operations_by_service": dict(sorted(tool_by_service.items())),
    }


def aggregator_problems(run: dict[str, Any], expected_from_items: int) -> list[str]:
    """A config run must say, on stderr, that exactly the seeded fresh items were used."""
    agg = run.get("aggregator")
    if agg is None:
        return ["no 'AWS Config aggregator ...' line on xray-cmk's stderr"]
    if not agg["readable"]:
        return [f"aggregator {agg['aggregator']} could not be read: {agg['error']}"]
    if agg["from_config"] != expected_from_items:
        return [f"{agg['from_config']} account-regions from configuration items, {expected_from_items} seeded fresh"]
    return []


def source_comparison(live: dict[str, Any], config: dict[str, Any], differences: list[str],
                      verdict_count: int) -> dict[str, Any]:  # fmt: skip
    """Live against config on the same organization: the calls saved and what the aggregator cost."""
    saved = live["get_encryption_config_calls"] - config["get_encryption_config_calls"]
    per_target = config["select_aggregate_calls_per_target"]
    agg = config.get("aggregator") or {}
    return {
        "verdicts": verdict_count,
        "identical": not differences,
        "differences": differences,
        "get_encryption_config_saved": saved,
        "get_encryption_config_saved_share": (
            round(saved / live["get_encryption_config_calls"], 4) if live["get_encryption_config_calls"] else None
        ),
        "api_calls_saved": live["api_calls"]["total"] - config["api_calls"]["total"],
        "from_config": agg.get("from_config"),
        "queries": agg.get("queries"),
        "select_aggregate_calls_per_target": per_target,
        "aggregator_goal": AGGREGATOR_GOAL,
        "aggregator_goal_met": per_target is not None and per_target < AGGREGATOR_GOAL,
        "wall_seconds": {"live": live["wall_seconds"], "config": config["wall_seconds"]},
        "cpu_seconds": {"live": live["cpu_seconds"], "config": config["cpu_seconds"]},
    }


def dead_account_problems(results: list[dict[str, Any]], account: str) -> list[str]:
    """Every result of a dead account must be ``error``: unknown is never a pass (nor a fail)."""
    mine = [r for r in results if r["account"] == account]
    if not mine:
        return [f"account {account}: no results at all (silently skipped)"]
    return [
        f"account {account} {r['region']} {r['rule']} {r['resource']}: {r['status']}, expected error"
        for r in mine
        if r["status"] != "error"
    ]


def missing_targets(results: list[dict[str, Any]], accounts: list[str], regions: list[str]) -> list[str]:
    seen = {(r["account"], r["region"]) for r in results}
    return [f"{a} {r}" for a in accounts for r in regions if (a, r) not in seen]


def run_metrics(output: AuditOutput, stats: dict[str, Any], targets: set[tuple[str, str]]) -> dict[str, Any]:
    """Calls per target are per seeded (account, region); key results under a key's own region outside
    the audited regions do not count as targets."""
    by_op = stats.get("by_operation", {})
    total = sum(by_op.values())
    statuses = Counter(r["status"] for r in output.results)
    return {
        "api_calls": {"total": total, "by_operation": by_op},
        "calls_per_target": round(total / len(targets), 3) if targets else None,
        "calls_per_target_beyond_get_encryption_config": (
            round((total - by_op.get(GET_ENCRYPTION_CONFIG, 0)) / len(targets), 3) if targets else None
        ),
        "faults": stats.get("faults", {}),
        "faults_by_operation": stats.get("faults_by_operation", {}),
        "results": {
            "total": len(output.results),
            "by_status": {s: statuses.get(s, 0) for s in ("pass", "fail", "error")}
            | {s: n for s, n in statuses.items() if s not in ("pass", "fail", "error")},
            "suppressed": sum(1 for r in output.results if r.get("suppressed")),
            "targets_with_results": len(targets & {(r["account"], r["region"]) for r in output.results}),
        },
        "summary": output.summary,
        "output_errors": output.errors,
    }


# --- processes ---------------------------------------------------------------------------------


class Processes:
    """Every long-running process the runner starts, so that all of them are stopped on any exit."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, cmd: list[str], env: dict[str, str] | None = None, timeout: float = 90) -> int:
        """Start a server that writes its port to ``--port-file``; return the port."""
        port_file = self.work / f"{name}.port"
        log_path = self.work / f"{name}.log"
        with open(log_path, "wb") as log_fh:
            proc = subprocess.Popen(
                cmd + ["--port-file", str(port_file)], env=env, stdout=log_fh, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        self.started.append((name, proc))
        deadline = time.monotonic() + timeout
        while not port_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"{name} did not start; log {log_path}:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.05)
        return int(port_file.read_text().strip())

    def stop(self, name: str, timeout: float = 15) -> None:
        for n, proc in self.started:
            if n == name and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    def stop_all(self) -> None:
        for name, _ in reversed(self.started):
            self.stop(name)

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.started}


def run_measured(cmd: list[str], env: dict[str, str], stdout: Path, stderr: Path, timeout: float) -> dict[str, Any]:
    """Run to completion; wall time and the peak RSS of this child alone (wait4's rusage)."""
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    reaped = None
    try:
        reaped = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
        if reaped is None:  # interrupted: do not leave it running
            proc.kill()
            proc.wait()
    _, status, usage = reaped
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "exit_code": proc.returncode,
        "wall_seconds": round(wall, 3),
        "timed_out": wall >= timeout,
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
    }


# --- environment ----------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpu_model = mem_kib = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": cpu_model or platform.processor() or "unknown",
        "memory_gib": round(mem_kib / 1024 / 1024, 1) if mem_kib else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def git_info() -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain")
    return {"commit": commit.strip() if commit else None, "dirty": bool(status and status.strip())}


def xray_cmk_command() -> tuple[list[str], bool]:
    """XRAY_CMK_BIN (a path or a shell-quoted command line) or the release build; (argv, built)."""
    override = os.environ.get("XRAY_CMK_BIN")
    if override:
        return shlex.split(override), False
    target = Path(os.environ.get("CARGO_TARGET_DIR") or Path.home() / ".cache/xray-cmk/target")
    env = dict(os.environ, CARGO_TARGET_DIR=str(target))
    log(f"building xray-cmk (release, CARGO_TARGET_DIR={target}); the first build takes several minutes")
    cmd = ["cargo", "build", "--release", "--quiet", "--manifest-path", str(ROOT / "Cargo.toml"), "-p", "xray-cmk"]
    try:
        subprocess.run(cmd, env=env, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BenchError(f"cargo build failed: {exc}") from None
    return [str(target / "release" / "xray-cmk")], True


# --- the stub backend (bench/stub) ------------------------------------------------------------------


def stub_command() -> list[str]:
    """XRAY_CMK_STUB_BIN (a path or a shell-quoted command line) or the release build of bench/stub."""
    override = os.environ.get("XRAY_CMK_STUB_BIN")
    if override:
        return shlex.split(override)
    target = Path(os.environ.get("CARGO_TARGET_DIR") or Path.home() / ".cache/xray-cmk/target")
    log(f"building the stub (release, CARGO_TARGET_DIR={target})")
    cmd = ["cargo", "build", "--release", "--quiet", "--manifest-path", str(ROOT / "Cargo.toml"),
           "-p", "xray-cmk-bench-stub"]  # fmt: skip
    try:
        subprocess.run(cmd, env=dict(os.environ, CARGO_TARGET_DIR=str(target)), check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BenchError(f"cargo build of the stub failed: {exc}") from None
    return [str(target / "release" / "xray-cmk-bench-stub")]


def stub_seed(stub: list[str], accounts: int, regions: int) -> dict[str, Any]:
    """The stub's organization, described as seed_synthetic.py describes a seeded one."""
    try:
        out = subprocess.run(stub + ["--accounts", str(accounts), "--regions", str(regions), "--print-org"],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BenchError(f"the stub did not describe its organization: {exc}") from None
    org = json.loads(out)
    accounts_ = [seed_synthetic.Account(**a) for a in org["accounts"]]
    return seed_synthetic.describe(org["organization"], org["ous"], accounts_, org["regions"], 0.0)


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a running process so far (Linux /proc), None if unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def audit_env(endpoint: str, aws_config: Path, work: Path, label: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in AWS_ENV_DROPPED}
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_CONFIG_FILE": str(aws_config),
            "AWS_SHARED_CREDENTIALS_FILE": str(work / "no-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "XRAY_CMK_BENCH_RUN": label,  # lets a test stub tell the runs apart; xray-cmk ignores it
        }
    )
    return env


def resolve_dead_accounts(values: list[str], accounts: list[dict[str, Any]]) -> list[str]:
    """A 12-digit id or an account index (1 = the first member) -> member account ids."""
    members = {a["account_id"]: a for a in accounts if a["index"] > 0}
    by_index = {str(a["index"]): a["account_id"] for a in accounts if a["index"] > 0}
    resolved = []
    for value in values:
        account = by_index.get(value, value)
        if account not in members:
            raise BenchError(
                f"--dead-account {value}: not a member account of the seeded organization (give a member's "
                f"12-digit id or its index 1..{len(accounts) - 1}; the management account signs with static "
                "keys the proxy cannot attribute)"
            )
        resolved.append(account)
    return resolved


# --- reporting ----------------------------------------------------------------------------------


def _faults_label(faults: dict[str, Any]) -> str:
    names = {"throttle_rate": "throttle", "error_rate": "5xx", "drop_rate": "drop"}
    parts = [f"{name} {faults[k]:g}" for k, name in names.items() if faults.get(k)]
    if faults.get("dead_accounts"):
        parts.append("dead " + ",".join(faults["dead_accounts"]))
    return ", ".join(parts) or "no faults"


def _source_label(run: dict[str, Any]) -> str:
    agg = run.get("aggregator")
    return f"aggregator `{agg['aggregator']}`" if agg else run.get("source", "live")


def _from_items_label(run: dict[str, Any]) -> str:
    agg = run.get("aggregator")
    if run.get("source") != "config":
        return "-"
    if agg is None:
        return "no aggregator line on stderr"
    if not agg["readable"]:
        return "aggregator unreadable"
    label = f"{agg['from_config']} / {agg['targets']} ({agg['queries']} queries), {agg['read_live']} live"
    if agg["items_not_used"]:
        label += " (" + ", ".join(f"{n} {why}" for why, n in agg["items_not_used"].items()) + ")"
    return label


def render_markdown(report: dict[str, Any]) -> str:
    opts, seed, runs = report["options"], report["seed"], report["runs"]
    m = report["machine"]
    targets = seed["expected"]["targets"]
    lines = [
        f"## xray-cmk benchmark: {seed['expected']['accounts']} accounts x {len(seed['regions'])} regions "
        f"({targets} account-regions), {opts['latency_ms']:g} ms added latency, backend {opts.get('backend', 'emulator')}",
        "",
        f"machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB; "
        f"seeding {seed['seconds']} s; binary `{' '.join(report['binary']['command'])}`",
        "",
        "| | " + " | ".join(f"{r['label']} ({_faults_label(r['faults_config'])})" for r in runs) + " |",
        "|---|" + "---:|" * len(runs),
    ]

    def row(name: str, fn: Any) -> None:
        lines.append(f"| {name} | " + " | ".join(str(fn(r)) for r in runs) + " |")

    def by_status(r: dict[str, Any]) -> str:
        s = r["results"]["by_status"]
        return f"{s['pass']} / {s['fail']} / {s['error']}"

    row("wall time (s)", lambda r: r["wall_seconds"])
    row("exit code", lambda r: r["exit_code"])
    row("API calls", lambda r: r["api_calls"]["total"])
    row("calls per account-region", lambda r: r["calls_per_target"])
    row(f"... beyond `{GET_ENCRYPTION_CONFIG}`", lambda r: r["calls_per_target_beyond_get_encryption_config"])
    row("peak RSS (MiB)", lambda r: r["peak_rss_mib"])
    row("CPU time (s)", lambda r: r["cpu_seconds"])
    if any("load_average" in r for r in runs):
        row("machine load (1 min) before / after", lambda r: " / ".join(map(str, r.get("load_average") or ["-"])))
    for server in sorted({s for r in runs for s in r.get("server_cpu_seconds", {})}):
        row(f"{server} CPU time during the run (s)", lambda r, s=server: r.get("server_cpu_seconds", {}).get(s, ""))
    row("results pass / fail / error", by_status)
    row("suppressed", lambda r: r["results"]["suppressed"])
    row("account-regions with results", lambda r: f"{r['results']['targets_with_results']} / {targets}")
    row(
        "faults throttle / 5xx / drop / dead",
        lambda r: " / ".join(str(r["faults"].get(k, 0)) for k in ("throttle", "error", "drop", "dead_account")),
    )
    if any("source" in r for r in runs):
        row("X-Ray configuration read from", _source_label)
        row("... account-regions from configuration items", _from_items_label)
        row(f"`{SELECT_AGGREGATE}` calls", lambda r: r.get("select_aggregate_calls", 0))
        row("... per account-region", lambda r: r.get("select_aggregate_calls_per_target"))
        row(f"`{GET_ENCRYPTION_CONFIG}` calls", lambda r: r.get("get_encryption_config_calls"))
        services = sorted({s for r in runs for s in (r.get("tool_operations_by_service") or {})}
                          | {s for r in runs for s in r.get("calls_by_service", {})})  # fmt: skip
        lines += ["", "| calls by service: proxy (xray-cmk `--stats-out` operations) | "
                  + " | ".join(r["label"] for r in runs) + " |", "|---|" + "---:|" * len(runs)]  # fmt: skip
        def by_service(r: dict[str, Any], svc: str) -> str:
            tool = (r.get("tool_operations_by_service") or {}).get(svc, 0)
            return f"{r.get('calls_by_service', {}).get(svc, 0)} ({tool})"

        for svc in services:
            lines.append(f"| {svc} | " + " | ".join(by_service(r, svc) for r in runs) + " |")
    cmp = report.get("source_comparison")
    if cmp:
        share = cmp["get_encryption_config_saved_share"]
        lines += [
            "",
            f"live vs config: {cmp['verdicts']} results, (status, message) "
            + ("identical" if cmp["identical"] else f"DIFFERENT ({len(cmp['differences'])})")
            + f"; `{GET_ENCRYPTION_CONFIG}` calls saved: {cmp['get_encryption_config_saved']}"
            + (f" ({share:.1%})" if share is not None else "")
            + f"; API calls saved: {cmp['api_calls_saved']}; `{SELECT_AGGREGATE}` per account-region "
            f"{cmp['select_aggregate_calls_per_target']} (goal < {cmp['aggregator_goal']:g}: "
            + ("met" if cmp["aggregator_goal_met"] else "NOT met") + ")",
        ]  # fmt: skip
    ops = sorted({op for r in runs for op in r["api_calls"]["by_operation"]})
    lines += ["", "| API calls by operation | " + " | ".join(r["label"] for r in runs) + " |",
              "|---|" + "---:|" * len(runs)]  # fmt: skip
    for op in ops:
        lines.append(f"| `{op}` | " + " | ".join(str(r["api_calls"]["by_operation"].get(op, 0)) for r in runs) + " |")
    lines += ["", "checks:"]
    for check in report["checks"]:
        lines.append(f"- {'ok' if check['ok'] else 'FAILED'}: {check['name']}")
        lines += [f"    - {d}" for d in check["details"][:20]]
        if len(check["details"]) > 20:
            lines.append(f"    - ... {len(check['details']) - 20} more")
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], results_dir: Path) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = results_dir / f"{stamp}.json"
    n = 1
    while path.exists():
        n += 1
        path = results_dir / f"{stamp}-{n}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


# --- the benchmark --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run", description="Benchmark xray-cmk audit --org (bench/README.md).")
    p.add_argument("--accounts", type=int, default=100, help="accounts, management included (default 100)")
    p.add_argument("--regions", type=int, default=17, help="first R of the 17 default regions (default 17)")
    p.add_argument("--latency-ms", type=float, default=50, help="added to every API call (default 50)")
    p.add_argument("--throttle-rate", type=float, default=0.0)
    p.add_argument("--error-rate", type=float, default=0.0, help="HTTP 500 rate")
    p.add_argument("--drop-rate", type=float, default=0.0, help="connections closed without a response")
    p.add_argument("--dead-account", action="append", default=[],
                   help="member account (12-digit id, or index 1..N-1) whose every call is dropped")  # fmt: skip
    p.add_argument("--seed", type=int, default=1, help="seed of the proxy's fault RNG (default 1)")
    p.add_argument("--concurrency", type=int, help="passed to xray-cmk audit --concurrency")
    p.add_argument("--compare", action="store_true",
                   help="run fault-free, then with the faults; fail unless the verdicts are identical")  # fmt: skip
    p.add_argument("--source", choices=SOURCES, default="live",
                   help="where xray-cmk reads X-Ray's configuration: live (default), config (the aggregator "
                   "org-xray, --from-config-aggregator), or both: live then config on the same organization, "
                   "failing unless every (status, message) is identical")  # fmt: skip
    p.add_argument("--config-coverage", type=float, default=0.0, metavar="F",
                   help="share of account-regions seeded with an AWS Config recorder (default 0)")
    p.add_argument("--stale-fraction", type=float, default=0.0, metavar="S",
                   help="share of the recorded account-regions whose item is made 48 h old (default 0)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds allowed per audit run")
    p.add_argument("--results-dir", type=Path, default=BENCH / "results")
    p.add_argument("--keep-work", action="store_true", help="keep the work directory (logs, outputs)")
    p.add_argument("--backend", choices=("emulator", "stub"), default="emulator",
                   help="emulator (moto) behind bench/proxy.py, or bench/stub with latency and faults built in")  # fmt: skip
    args = p.parse_args(argv)
    if not 1 <= args.regions <= len(seed_synthetic.DEFAULT_REGIONS) or args.accounts < 1:
        p.error(f"--accounts must be >= 1 and --regions 1..{len(seed_synthetic.DEFAULT_REGIONS)}")
    rates = (args.throttle_rate, args.error_rate, args.drop_rate)
    if min(rates) < 0 or sum(rates) > 1:
        p.error("fault rates must be >= 0 and sum to at most 1")
    if not 0 <= args.config_coverage <= 1 or not 0 <= args.stale_fraction <= 1:
        p.error("--config-coverage and --stale-fraction must be in 0..1")
    if args.compare and args.source == "both":
        p.error("--compare and --source both each make two runs: give one of them")
    return args


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM unwinds like Ctrl-C, so main's finally stops what was started


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    work = Path(tempfile.mkdtemp(prefix="xray-cmk-bench-"))
    procs = Processes(work)
    ok = False
    try:
        ok = bench(args, work, procs)
        return 0 if ok else 1
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    finally:
        procs.stop_all()
        if ok and not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"bench: work directory kept: {work}", file=sys.stderr)


def bench(args: argparse.Namespace, work: Path, procs: Processes) -> bool:
    started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    command, built = xray_cmk_command()
    python = sys.executable

    if args.backend == "stub":
        if args.source != "live":
            raise BenchError("--backend stub serves no AWS Config aggregator: use --source live")
        stub = stub_command()
        seeded = stub_seed(stub, args.accounts, args.regions)
    else:
        log("starting the emulator")
        emu_env = dict(os.environ, XRAY_CMK_EMULATOR_UPDATING_SECONDS="0")
        emu_port = procs.start(
            "emulator", [python, str(BENCH / "emulator.py"), "--host", "127.0.0.1", "--port", "0", "--quiet"], emu_env
        )
        emulator = f"http://127.0.0.1:{emu_port}"
        log(f"seeding {args.accounts} accounts x {args.regions} regions")
        seeded = seed_synthetic.seed(emulator, args.accounts, args.regions, config_coverage=args.config_coverage,
                                     stale_fraction=args.stale_fraction, aggregator=args.source != "live" or None)
    aws_config = work / "aws-config"
    aws_config.write_text(seed_synthetic.aws_config_text())
    (work / "seed.json").write_text(json.dumps(seeded, indent=2))
    log(f"seeded in {seeded['seed_seconds']} s")
    regions = seeded["regions"]
    account_ids = [a["account_id"] for a in seeded["accounts"]]
    dead = resolve_dead_accounts(args.dead_account, seeded["accounts"])
    targets = {(a, r) for a in account_ids for r in regions}

    faults = {"throttle_rate": args.throttle_rate, "error_rate": args.error_rate, "drop_rate": args.drop_rate,
              "dead_accounts": dead}  # fmt: skip
    source = {"live": "live", "config": "config", "both": None}[args.source]
    if args.compare:
        plan = [("fault-free", {"throttle_rate": 0.0, "error_rate": 0.0, "drop_rate": 0.0, "dead_accounts": []},
                 source), ("faults", faults, source)]  # fmt: skip
    elif args.source == "both":
        plan = [("live", faults, "live"), ("config", faults, "config")]
    else:
        plan = [("run", faults, source)]

    # With a source (config or both), every run also writes xray-cmk's --stats-out and leaves out --quiet,
    # which would hide the stderr line that says how many account-regions came from configuration items.
    with_source = args.source != "live"
    audit_cmd = command + ["audit", "--org", "--profile", seed_synthetic.PROFILE, "--regions", ",".join(regions),
                           "--format", "jsonl"] + ([] if with_source else ["--quiet"])  # fmt: skip
    if args.concurrency:
        audit_cmd += ["--concurrency", str(args.concurrency)]
    aggregator_args = ["--from-config-aggregator", seed_synthetic.AGGREGATOR]

    runs, outputs = [], []
    commands = {}
    for label, cfg, run_source in plan:
        run_cmd = audit_cmd + (aggregator_args if run_source == "config" else [])
        if with_source:
            run_cmd = run_cmd + ["--stats-out", str(work / f"{label}.xray-cmk-stats.json")]
        # Each run records into its own new history, as a first audit does: the history is part of
        # what is measured, and a shared one would grow from run to run.
        run_cmd = run_cmd + ["--db", str(work / f"{label}.history.db")]
        commands[label] = run_cmd
        front = stub + ["--accounts", str(args.accounts), "--regions", str(args.regions)] if args.backend == "stub" \
            else [python, str(BENCH / "proxy.py"), "--upstream", emulator]  # fmt: skip
        proxy_cmd = [*front, "--port", "0",
                     "--latency-ms", str(args.latency_ms), "--seed", str(args.seed),
                     "--throttle-rate", str(cfg["throttle_rate"]), "--error-rate", str(cfg["error_rate"]),
                     "--drop-rate", str(cfg["drop_rate"]),
                     "--stats-out", str(work / f"{label}.stats.json")]  # fmt: skip
        for account in cfg["dead_accounts"]:
            proxy_cmd += ["--dead-account", account]
        proxy_name = f"{'stub' if args.backend == 'stub' else 'proxy'}-{label}"
        endpoint = f"http://127.0.0.1:{procs.start(proxy_name, proxy_cmd)}"
        log(f"{label}: {shlex.join(run_cmd)} (through the {proxy_name.split('-')[0]} at {endpoint})")
        load_before = round(os.getloadavg()[0], 2)
        servers = {n: pid for n, pid in procs.pids().items() if n in (proxy_name, "emulator")}
        cpu_before = {n: process_cpu_seconds(pid) for n, pid in servers.items()}
        measured = run_measured(
            run_cmd, audit_env(endpoint, aws_config, work, label),
            work / f"{label}.jsonl", work / f"{label}.stderr", args.timeout,
        )  # fmt: skip
        cpu_after = {n: process_cpu_seconds(pid) for n, pid in servers.items()}
        measured["server_cpu_seconds"] = {
            n.split("-")[0]: round(cpu_after[n] - cpu_before[n], 2)
            for n in servers if cpu_before[n] is not None and cpu_after[n] is not None
        }  # fmt: skip
        with urllib.request.urlopen(f"{endpoint}/_proxy/stats", timeout=30) as resp:
            stats = json.load(resp)
        procs.stop(proxy_name)
        output = parse_jsonl((work / f"{label}.jsonl").read_text(errors="replace"))
        stderr = (work / f"{label}.stderr").read_text(errors="replace")
        run = {"label": label, "faults_config": cfg, **measured, **run_metrics(output, stats, targets),
               "load_average": [load_before, round(os.getloadavg()[0], 2)], "stderr_tail": stderr[-2000:]}  # fmt: skip
        if with_source:
            tool_stats_path = work / f"{label}.xray-cmk-stats.json"
            try:
                tool_stats = json.loads(tool_stats_path.read_text())
            except (OSError, json.JSONDecodeError):
                tool_stats = None
            run.update(source_metrics(run_source, stats, tool_stats, stderr, len(targets)))
        log(f"{label}: exit {run['exit_code']} in {run['wall_seconds']} s, {run['api_calls']['total']} API calls")
        runs.append(run)
        outputs.append(output)

    checks = []

    def check(name: str, details: list[str]) -> None:
        checks.append({"name": name, "ok": not details, "details": details})

    for run, output in zip(runs, outputs):
        problems = []
        if run["exit_code"] not in AUDIT_OK_EXIT_CODES:
            problems.append(f"exit code {run['exit_code']}; stderr: {run['stderr_tail'][-500:].strip()}")
        problems += output.errors
        check(f"{run['label']}: audit completed with well-formed JSONL (exit 0, 1 or 3)", problems)
        check(f"{run['label']}: every seeded account-region has results",
              missing_targets(output.results, account_ids, regions))  # fmt: skip
        if run.get("source") == "config" and not run["faults_config"]["dead_accounts"]:
            fresh = (seeded.get("config") or {}).get("fresh_targets", 0)
            check(f"{run['label']}: X-Ray configuration of the {fresh} account-regions with a fresh item read "
                  "from the aggregator", aggregator_problems(run, fresh))  # fmt: skip
    for account in dead:
        check(f"dead account {account}: every result is error", dead_account_problems(outputs[-1].results, account))
    if args.compare:
        base, other = verdicts(outputs[0].results, frozenset(dead)), verdicts(outputs[1].results, frozenset(dead))
        excluded = ", dead accounts excluded" if dead else ""
        check(f"verdicts identical with and without faults ({len(base)} verdicts{excluded})",
              compare_verdicts(base, other))  # fmt: skip
    comparison = None
    if args.source == "both":
        live_v = result_verdicts(outputs[0].results, frozenset(dead))
        config_v = result_verdicts(outputs[1].results, frozenset(dead))
        differences = compare_results(live_v, config_v)
        excluded = ", dead accounts excluded" if dead else ""
        check(f"live and config: identical (status, message) per (rule, account, region, resource) "
              f"({len(live_v)} results{excluded})", differences)  # fmt: skip
        comparison = source_comparison(runs[0], runs[1], differences, len(live_v))

    report = {
        "schema": SCHEMA,
        "started_at": started_at,
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": machine_info(),
        "git": git_info(),
        "binary": {"command": command, "built_by_runner": built, "audit_command": audit_cmd,
                   "audit_commands": commands},
        "seed": {"seconds": seeded["seed_seconds"], "regions": regions, "expected": seeded["expected"],
                 "accounts": [{k: a[k] for k in ("index", "account_id", "ou", "posture")} for a in seeded["accounts"]],
                 "config": seeded.get("config") and {k: v for k, v in seeded["config"].items()
                                                     if k not in ("covered", "stale")}},
        "runs": runs,
        "source_comparison": comparison,
        "checks": checks,
        "ok": all(c["ok"] for c in checks),
        "processes": procs.pids(),
    }  # fmt: skip
    path = write_report(report, args.results_dir)
    sys.stdout.write(render_markdown(report))
    print(f"\nresults: {path}", flush=True)
    return report["ok"]


if __name__ == "__main__":
    sys.exit(main())
