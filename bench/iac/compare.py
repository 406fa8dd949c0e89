#!/usr/bin/env python3
"""``xray-cmk iac scan`` against Checkov on the same generated Terraform tree: files per second.

    python3 bench/iac/compare.py [--modules 250] [--seed 1] [--xray-cmk PATH] [--json-out FILE]

Generates the corpus (make_corpus.py) into a temporary directory, then times
``xray-cmk iac scan DIR --format json`` (best of --runs, default 3) and
``checkov -d DIR --framework terraform --quiet --compact -o json`` (once; with --checkov-check ID
also a second Checkov run limited to that check), each also once on an empty directory (the fixed
start-up cost). Checkov comes from its own venv, bench/iac/.venv-checkov, created or updated from
bench/iac/requirements-checkov.txt. Both tools run without network (``unshare -n`` where it works,
and Checkov with --skip-download and its update check off).

Exit code: 0 when both ran and xray-cmk is at least --target-ratio (100) times faster, 1 when a run
failed or the ratio is below target, 2 for a setup error (no xray-cmk binary, venv install).
Standard library only; see bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

IAC = Path(__file__).resolve().parent
ROOT = IAC.parent.parent
sys.path.insert(0, str(IAC))

import make_corpus  # noqa: E402

SCHEMA = "xray-cmk-iac-bench/1"
XRAY_OK_EXIT_CODES = (0, 1, 3)  # clean, findings, incomplete scan
CHECKOV_OK_EXIT_CODES = (0, 1)  # 1: some check failed
VENV = IAC / ".venv-checkov"
REQUIREMENTS = IAC / "requirements-checkov.txt"
BUILD_HINT = "build it with `cargo build --release -p xray-cmk` (or pass --xray-cmk PATH)"
CHECKOV_ENV = {"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"}


class SetupError(Exception):
    """Reported on one line; exit code 2."""


def log(message: str) -> None:
    print(f"[iac-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- figures -----------------------------------------------------------------------------------------


def files_per_second(files: int, seconds: float | None) -> float | None:
    if seconds is None:
        return None
    return round(files / seconds, 1) if seconds > 0 else float("inf")


def speed_ratio(xray_seconds: float | None, checkov_seconds: float | None) -> float | None:
    """How many times faster xray-cmk is: Checkov's time over xray-cmk's (same files, so also the
    ratio of files per second)."""
    if xray_seconds is None or checkov_seconds is None:
        return None
    return round(checkov_seconds / xray_seconds, 1) if xray_seconds > 0 else float("inf")


def tool_figures(files: int, seconds: float | None, startup: float | None) -> dict[str, Any]:
    """seconds and files/s; 'marginal' leaves out the start-up time (the empty-directory run)."""
    marginal = None
    if seconds is not None and startup is not None and seconds > startup:
        marginal = files_per_second(files, seconds - startup)
    return {"seconds": seconds, "files_per_second": files_per_second(files, seconds),
            "startup_seconds": startup, "marginal_files_per_second": marginal}  # fmt: skip


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if value == float("inf"):
            return "∞"
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def render_markdown(report: dict[str, Any]) -> str:
    corpus = report["corpus"]
    tools = report["tools"]
    head = (f"{corpus['tf_files']:,} .tf files in {corpus['modules']:,} modules "
            f"({corpus['bytes'] / 1e6:.1f} MB, {corpus['lines']:,} lines; seed {corpus['seed']})")  # fmt: skip
    lines = [f"## IaC scan: {head}", "", "| | " + " | ".join(t["label"] for t in tools) + " |",
             "|---|" + "---:|" * len(tools)]  # fmt: skip

    def row(name: str, fn: Any) -> None:
        lines.append(f"| {name} | " + " | ".join(fn(t) for t in tools) + " |")

    row("runs", lambda t: str(len(t["runs"])))
    row("seconds (best)", lambda t: _fmt(t["seconds"]))
    row("files/s", lambda t: _fmt(t["files_per_second"], 1))
    row("start-up, empty dir (s)", lambda t: _fmt(t["startup_seconds"]))
    row("files/s without start-up", lambda t: _fmt(t["marginal_files_per_second"], 1))
    row("peak RSS (MiB)", lambda t: _fmt(max((r["peak_rss_mib"] for r in t["runs"]), default=None), 1))
    row("CPU time (s), best", lambda t: _fmt(t.get("cpu_seconds"), 2))
    row("exit codes", lambda t: ", ".join(str(r["exit_code"]) for r in t["runs"]))
    row("findings", lambda t: _fmt(t["output"].get("findings")))
    lines.append("")
    for t in tools:
        lines.append(f"* {t['label']}: `{shlex.join(t['command'])}`")
    lines.append("")
    for r in report["ratios"]:
        verdict = "ok" if r["meets_target"] else "BELOW TARGET"
        lines.append(f"**{r['label']}: xray-cmk is {_fmt(r['ratio'], 1)}× faster** "
                     f"(target ≥ {_fmt(report['target_ratio'], 0)}×: {verdict}; "
                     f"{_fmt(r.get('cpu_ratio'), 1)}× less CPU time)")  # fmt: skip
    if not report["ratios"]:
        lines.append("No ratio: only one tool was run.")
    load = report.get("load_average")
    if load:
        busy = load["before"][0] > 0.5  # "after" includes the tools' own load
        lines.append(f"\nLoad average (1 min) before / after: {load['before'][0]:.2f} / {load['after'][0]:.2f}"
                     + (" — other work was running: wall times are inflated, CPU times much less." if busy else ""))
    lines.append("")
    for c in report["checks"]:
        details = f" — {c['details']}" if c["details"] else ""
        lines.append(f"* {'ok' if c['ok'] else 'FAILED'}: {c['name']}{details}")
    return "\n".join(lines) + "\n"


# --- the tools' outputs ------------------------------------------------------------------------------


def summarize_xray_output(text: str) -> dict[str, Any]:
    """docs/json-v1.md: one document with summary.results and results[] (account = module dir)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return {"json": False, "error": f"not JSON: {exc}", "bytes": len(text.encode())}
    out: dict[str, Any] = {"json": True, "bytes": len(text.encode())}
    if isinstance(doc, dict):
        counts = (doc.get("summary") or {}).get("results") or {}
        out["result_counts"] = counts
        out["findings"] = counts.get("fail")
        results = doc.get("results")
        if isinstance(results, list):
            out["results"] = len(results)
            out["modules_with_results"] = len({r.get("account") for r in results if isinstance(r, dict)})
        out["schema_version"] = doc.get("schema_version")
    return out


def summarize_checkov_output(text: str) -> dict[str, Any]:
    """A report per framework (a dict, or a list of them), or a bare summary when nothing was found."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return {"json": False, "error": f"not JSON: {exc}", "bytes": len(text.encode())}
    reports = doc if isinstance(doc, list) else [doc]
    summary: dict[str, int] = {}
    version = None
    by_check: dict[str, int] = {}
    for r in reports:
        s = r.get("summary", r) if isinstance(r, dict) else {}
        for k in ("passed", "failed", "skipped", "parsing_errors", "resource_count"):
            if isinstance(s.get(k), int):
                summary[k] = summary.get(k, 0) + s[k]
        version = version or s.get("checkov_version")
        for f in ((r.get("results") or {}).get("failed_checks") or []) if isinstance(r, dict) else []:
            by_check[f.get("check_id")] = by_check.get(f.get("check_id"), 0) + 1
    return {"json": True, "bytes": len(text.encode()), "summary": summary, "findings": summary.get("failed"),
            "checkov_version": version, "failed_check_ids": len(by_check),
            "top_failed_checks": sorted(by_check.items(), key=lambda kv: (-kv[1], kv[0]))[:5]}  # fmt: skip


# --- running -----------------------------------------------------------------------------------------


def run_measured(cmd: list[str], env: dict[str, str], cwd: Path, stdout: Path, stderr: Path,
                 timeout: float) -> dict[str, Any]:  # fmt: skip
    """Run to completion; wall time, and CPU time and peak RSS of this child (wait4's rusage)."""
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
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
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "exit_code": proc.returncode,
        "wall_seconds": round(wall, 4),
        "timed_out": wall >= timeout,
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
    }


def resolve_command(value: str, what: str, hint: str) -> list[str]:
    """A path or a shell-quoted command line whose first word is a file or on PATH."""
    argv = shlex.split(value)
    if not argv:
        raise SetupError(f"empty {what} command")
    first = argv[0]
    if os.sep in first or first.startswith("."):
        if not (Path(first).is_file() and os.access(first, os.X_OK)):
            raise SetupError(f"{what} not found at {first}: {hint}")
    elif shutil.which(first) is None:
        raise SetupError(f"{what} not found: {first!r} is neither a file nor on PATH: {hint}")
    return argv


def default_xray_cmk() -> str:
    if os.environ.get("XRAY_CMK_BIN"):
        return os.environ["XRAY_CMK_BIN"]
    target = Path(os.environ.get("CARGO_TARGET_DIR") or Path.home() / ".cache/xray-cmk/target")
    return str(target / "release" / "xray-cmk")


def ensure_checkov_venv(venv: Path = VENV, requirements: Path = REQUIREMENTS) -> list[str]:
    """The venv with requirements-checkov.txt, installed when that file changed (sha256 stamp)."""
    stamp = venv / ".requirements-checkov.sha256"
    want = hashlib.sha256(requirements.read_bytes()).hexdigest()
    checkov = venv / "bin" / "checkov"
    if checkov.exists() and stamp.exists() and stamp.read_text().strip() == want:
        return [str(checkov)]
    try:
        if not (venv / "bin" / "python").exists():
            log(f"creating the Checkov venv {venv}")
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        stamp.unlink(missing_ok=True)
        log(f"installing {requirements.name} into {venv} (Checkov is large: a minute or two)")
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "-r", str(requirements)], check=True)  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SetupError(f"installing Checkov failed: {exc}") from None
    stamp.write_text(want + "\n")
    return [str(checkov)]


def netns_prefix(enabled: bool) -> list[str]:
    """`unshare -n` (a network namespace with only a loopback that is down) where it works."""
    if not enabled or shutil.which("unshare") is None:
        return []
    try:
        ok = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return ["unshare", "-n"] if ok else []


def count_tree(tree: Path) -> dict[str, Any]:
    """What the scanners see: .tf files, and modules (directories holding .tf files); hidden
    directories are skipped, as both tools do."""
    tf: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "node_modules")
        tf += [Path(dirpath) / f for f in filenames if f.endswith(".tf")]
    texts = [p.read_bytes() for p in tf]
    return {"tf_files": len(tf), "modules": len({p.parent for p in tf}), "bytes": sum(len(t) for t in texts),
            "lines": sum(t.count(b"\n") for t in texts)}  # fmt: skip


def machine_info(checkov_cmd: list[str] | None) -> dict[str, Any]:
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
    checkov_python = None
    if checkov_cmd:
        cfg = Path(checkov_cmd[0]).parent.parent / "pyvenv.cfg"
        if cfg.is_file():
            for line in cfg.read_text().splitlines():
                if line.split("=")[0].strip() in ("version", "version_info"):
                    checkov_python = line.split("=", 1)[1].strip()
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": cpu_model or platform.processor() or "unknown",
        "memory_gib": round(mem_kib / 1024 / 1024, 1) if mem_kib else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "checkov_python": checkov_python,
    }


def git_info() -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return None

    commit, status = git("rev-parse", "HEAD"), git("status", "--porcelain")
    return {"commit": commit.strip() if commit else None, "dirty": bool(status and status.strip())}


def tool_version(cmd: list[str], env: dict[str, str]) -> str | None:
    try:
        proc = subprocess.run([*cmd, "--version"], env=env, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip().splitlines()[-1] if proc.returncode == 0 and proc.stdout.strip() else None


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.work = args, work
        self.checks: list[dict[str, Any]] = []
        self.netns = netns_prefix(not args.no_netns)
        self.empty = work / "empty"
        self.empty.mkdir()
        self.load_before = list(os.getloadavg())

    def check(self, name: str, problems: list[str]) -> None:
        self.checks.append({"name": name, "ok": not problems, "details": "; ".join(problems[:5])})

    def run_tool(self, label: str, argv: list[str], env: dict[str, str], runs: int, ok_codes: tuple[int, ...],
                 summarize: Any, startup_argv: list[str] | None) -> dict[str, Any]:  # fmt: skip
        slug = label.replace(" ", "-").replace("/", "-")
        results = []
        best_out = None
        for i in range(runs):
            out, err = self.work / f"{slug}.{i}.out", self.work / f"{slug}.{i}.err"
            log(f"{label}: run {i + 1}/{runs}")
            r = run_measured([*self.netns, *argv], env, self.work, out, err, self.args.timeout)
            r["stderr_tail"] = err.read_text(errors="replace")[-2000:]
            results.append(r)
            if best_out is None or r["wall_seconds"] <= min(x["wall_seconds"] for x in results):
                best_out = out
        problems = [f"run {i + 1}: exit code {r['exit_code']}" + (" (timed out)" if r["timed_out"] else "")
                    + (f": {r['stderr_tail'].strip().splitlines()[-1]}" if r["stderr_tail"].strip() else "")
                    for i, r in enumerate(results) if r["exit_code"] not in ok_codes or r["timed_out"]]  # fmt: skip
        output = summarize(best_out.read_text(errors="replace")) if best_out else {}
        if not output.get("json"):
            problems.append(output.get("error", "no output"))
        self.check(f"{label}: exit codes in {list(ok_codes)} and JSON output", problems)
        startup = None
        if startup_argv is not None:
            out, err = self.work / f"{slug}.empty.out", self.work / f"{slug}.empty.err"
            s = run_measured([*self.netns, *startup_argv], env, self.work, out, err, self.args.timeout)
            startup = s["wall_seconds"] if s["exit_code"] in ok_codes else None
        ok = [r for r in results if r["exit_code"] in ok_codes and not r["timed_out"]]
        best = min((r["wall_seconds"] for r in ok), default=None)
        return {"label": label, "command": argv, "runs": results, "output": output,
                **tool_figures(self.corpus["tf_files"], best, startup),
                "cpu_seconds": min((r["cpu_seconds"] for r in ok), default=None)}  # fmt: skip

    def xray_cmk(self, cmd: list[str]) -> dict[str, Any]:
        env = dict(os.environ)

        def scan(d: Path) -> list[str]:
            return [*cmd, "iac", "scan", str(d), "--format", "json"]

        t = self.run_tool("xray-cmk", scan(self.tree), env, self.args.runs, XRAY_OK_EXIT_CODES, summarize_xray_output,
                          scan(self.empty))  # fmt: skip
        t["version"] = tool_version(cmd, env)
        return t

    def checkov(self, cmd: list[str], only_check: str | None) -> dict[str, Any]:
        env = dict(os.environ, **CHECKOV_ENV)

        def base(d: Path) -> list[str]:
            only = ["--check", only_check] if only_check else []
            return [*cmd, "-d", str(d), "--framework", "terraform", "--quiet", "--compact", "-o", "json",
                    "--skip-download", *only]  # fmt: skip

        label = f"checkov --check {only_check}" if only_check else "checkov"
        t = self.run_tool(label, base(self.tree), env, self.args.checkov_runs, CHECKOV_OK_EXIT_CODES,
                          summarize_checkov_output, base(self.empty))  # fmt: skip
        parse_errors = t["output"].get("summary", {}).get("parsing_errors")
        self.check(f"{label}: parsed every file", [f"{parse_errors} parsing errors"] if parse_errors else [])
        return t

    def run(self) -> tuple[dict[str, Any], bool]:
        a = self.args
        xray_cmd = None if a.checkov_only else resolve_command(a.xray_cmk or default_xray_cmk(), "xray-cmk binary",
                                                               BUILD_HINT)  # fmt: skip
        checkov_cmd = None
        if not a.skip_checkov:
            checkov_cmd = (resolve_command(a.checkov, "checkov", "check --checkov") if a.checkov
                           else ensure_checkov_venv())  # fmt: skip
        if a.corpus:
            self.tree = a.corpus.resolve()
            seed = None
        else:
            self.tree = self.work / "tree"
            log(f"generating the corpus: {a.modules} modules, seed {a.seed}")
            make_corpus.write(make_corpus.generate(a.modules, a.seed), self.tree)
            seed = a.seed
        self.corpus = {**count_tree(self.tree), "seed": seed, "path": str(self.tree)}
        log(f"{self.corpus['tf_files']} .tf files in {self.corpus['modules']} modules")
        if not a.corpus and a.modules >= 250:
            n = self.corpus["tf_files"]
            self.check("corpus has at least 1,000 .tf files", [] if n >= 1000 else [f"only {n}"])

        tools = []
        xray = None
        if xray_cmd:
            xray = self.xray_cmk(xray_cmd)
            tools.append(xray)
        checkovs = []
        if checkov_cmd:
            checkovs.append(self.checkov(checkov_cmd, None))
            if a.checkov_check:
                checkovs.append(self.checkov(checkov_cmd, a.checkov_check))
            tools += checkovs
        ratios = []
        if xray:
            for c in checkovs:
                ratio = speed_ratio(xray["seconds"], c["seconds"])
                if ratio is not None:
                    ratios.append({"label": f"vs {c['label']}", "ratio": ratio,
                                   "cpu_ratio": speed_ratio(xray["cpu_seconds"], c["cpu_seconds"]),
                                   "meets_target": ratio >= a.target_ratio})  # fmt: skip
        versions = {"xray_cmk": xray.get("version") if xray else None,
                    "checkov": next((c["output"].get("checkov_version") for c in checkovs
                                     if c["output"].get("checkov_version")), None)}  # fmt: skip
        report = {
            "schema": SCHEMA,
            "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "corpus": self.corpus,
            "target_ratio": a.target_ratio,
            "tools": tools,
            "ratios": ratios,
            "versions": versions,
            "machine": machine_info(checkov_cmd),
            "git": git_info(),
            "network_isolated": bool(self.netns),
            "load_average": {"before": self.load_before, "after": list(os.getloadavg())},
            "checks": self.checks,
        }
        ok = all(c["ok"] for c in self.checks) and all(r["meets_target"] for r in ratios)
        report["ok"] = ok
        return report, ok


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--modules", type=int, default=250, help="modules in the generated corpus (default 250)")
    p.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    p.add_argument("--corpus", type=Path, help="scan this existing tree instead of generating one")
    p.add_argument("--xray-cmk", help="the binary, or a shell-quoted command line (default: $XRAY_CMK_BIN, "
                   "else $CARGO_TARGET_DIR/release/xray-cmk, else ~/.cache/xray-cmk/target/release/xray-cmk)")
    p.add_argument("--runs", type=int, default=3, help="xray-cmk runs; the best counts (default 3)")
    p.add_argument("--checkov", help="Checkov command line instead of the bench/iac/.venv-checkov one")
    p.add_argument("--checkov-runs", type=int, default=1, help="Checkov runs; the best counts (default 1)")
    p.add_argument("--checkov-check", metavar="ID", help="also time Checkov with only this check (e.g. CKV_AWS_7)")
    p.add_argument("--checkov-only", action="store_true", help="time Checkov alone (no xray-cmk needed)")
    p.add_argument("--skip-checkov", action="store_true", help="time xray-cmk alone")
    p.add_argument("--target-ratio", type=float, default=100.0, help="required speed-up over Checkov (default 100)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed per run (default 3600)")
    p.add_argument("--json-out", type=Path, help="write the figures and machine info here")
    p.add_argument("--keep-corpus", action="store_true", help="keep the work directory (corpus, outputs)")
    p.add_argument("--no-netns", action="store_true", help="do not run the tools under `unshare -n`")
    args = p.parse_args(argv)
    if args.checkov_only and args.skip_checkov:
        p.error("--checkov-only and --skip-checkov exclude each other")
    if args.runs < 1 or args.checkov_runs < 1:
        p.error("--runs and --checkov-runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="xray-cmk-iac-bench-"))
    keep = args.keep_corpus
    ok = False
    try:
        report, ok = Bench(args, work).run()
        keep = keep or not ok  # a failed run's outputs are worth reading
    except SetupError as exc:
        print(f"compare.py: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        keep = True
        print(f"interrupted; work directory kept: {work}", file=sys.stderr)
        return 130
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    print(render_markdown(report), end="")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2) + "\n")
        log(f"wrote {args.json_out}")
    if keep:
        log(f"work directory kept: {work}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
