"""The xray-cmk benchmark runner (``bench/run`` execs this with the emulator venv's python).

Builds xray-cmk (release), starts the emulator, seeds a synthetic organization,
puts the latency-and-fault proxy in front of the emulator and times
``xray-cmk audit --org`` through it. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
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
    for server in sorted({s for r in runs for s in r.get("server_cpu_seconds", {})}):
        row(f"{server} CPU time during the run (s)", lambda r, s=server: r.get("server_cpu_seconds", {}).get(s, ""))
    row("results pass / fail / error", by_status)
    row("suppressed", lambda r: r["results"]["suppressed"])
    row("account-regions with results", lambda r: f"{r['results']['targets_with_results']} / {targets}")
    row(
        "faults throttle / 5xx / drop / dead",
        lambda r: " / ".join(str(r["faults"].get(k, 0)) for k in ("throttle", "error", "drop", "dead_account")),
    )
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
        seeded = seed_synthetic.seed(emulator, args.accounts, args.regions)
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
    plan = [("fault-free", {"throttle_rate": 0.0, "error_rate": 0.0, "drop_rate": 0.0, "dead_accounts": []}),
            ("faults", faults)] if args.compare else [("run", faults)]  # fmt: skip

    audit_cmd = command + ["audit", "--org", "--profile", seed_synthetic.PROFILE, "--regions", ",".join(regions),
                           "--format", "jsonl", "--quiet"]  # fmt: skip
    if args.concurrency:
        audit_cmd += ["--concurrency", str(args.concurrency)]

    runs, outputs = [], []
    for label, cfg in plan:
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
        log(f"{label}: {shlex.join(audit_cmd)} (through the {proxy_name.split('-')[0]} at {endpoint})")
        servers = {n: pid for n, pid in procs.pids().items() if n in (proxy_name, "emulator")}
        cpu_before = {n: process_cpu_seconds(pid) for n, pid in servers.items()}
        measured = run_measured(
            audit_cmd, audit_env(endpoint, aws_config, work, label),
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
        stderr_tail = (work / f"{label}.stderr").read_text(errors="replace")[-2000:]
        run = {"label": label, "faults_config": cfg, **measured, **run_metrics(output, stats, targets),
               "stderr_tail": stderr_tail}  # fmt: skip
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
    for account in dead:
        check(f"dead account {account}: every result is error", dead_account_problems(outputs[-1].results, account))
    if args.compare:
        base, other = verdicts(outputs[0].results, frozenset(dead)), verdicts(outputs[1].results, frozenset(dead))
        excluded = ", dead accounts excluded" if dead else ""
        check(f"verdicts identical with and without faults ({len(base)} verdicts{excluded})",
              compare_verdicts(base, other))  # fmt: skip

    report = {
        "schema": SCHEMA,
        "started_at": started_at,
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": machine_info(),
        "git": git_info(),
        "binary": {"command": command, "built_by_runner": built, "audit_command": audit_cmd},
        "seed": {"seconds": seeded["seed_seconds"], "regions": regions, "expected": seeded["expected"],
                 "accounts": [{k: a[k] for k in ("index", "account_id", "ou", "posture")} for a in seeded["accounts"]]},
        "runs": runs,
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
