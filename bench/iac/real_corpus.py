#!/usr/bin/env python3
"""``xray-cmk iac scan`` and Checkov's CKV_AWS_7 side by side on public Terraform module repositories.

    python3 bench/iac/real_corpus.py [--list bench/iac/real-corpus.txt] [--mirror-root /work/.mirror]
                                     [--tree DIR] [--xray-cmk PATH] [--runs 3] [--checkov-runs 1]
                                     [--json-out FILE] [--markdown-out FILE] [--keep]

The list (``owner/name commit`` per line, ``#`` comments) pins each repository at a commit. Each
must be present as a git directory under --mirror-root, looked for as ``ROOT/owner+name/repo``
(the layout of this project's ``fetch`` tool), ``ROOT/owner+name``, ``ROOT/owner/name.git`` or
``ROOT/owner/name`` (a clone; ``git clone --mirror https://github.com/owner/name`` works too). The
pinned commit of each is exported with ``git --git-dir=GIT archive COMMIT | tar -x`` into
WORK/tree/owner+name/; --tree DIR scans an already exported tree of that layout instead.

Then, over the whole tree, each without network (``unshare -n`` where it works):
  * ``xray-cmk iac scan TREE --format json`` (--runs times), and
  * ``checkov -d TREE --framework terraform --check CKV_AWS_7 -o json --compact --skip-download``
    (--checkov-runs times; not ``--quiet``, which leaves the passed checks out of the JSON report),
timed with ``/usr/bin/time -v`` where present (wall, user and system CPU, peak RSS), else with the
child's rusage. The report gives files, wall time, CPU time, files per second and peak RSS of each,
and the agreement per key between xray-cmk's ``kms-rotation-disabled`` and Checkov's ``CKV_AWS_7``:
a key is an ``aws_kms_key`` block, matched on its file and address (``aws_kms_key.NAME``; count
and for_each instances and Checkov's ``module.X.`` prefixes are folded into their block, each
tool's verdict then being the one its instances agree on, or "mixed"). Every block of the tree is
listed, so a key neither tool judges shows too. Every disagreement is listed with both verdicts.

--checkov-report JSON skips the Checkov run and takes its verdicts from a saved report of the same
tree (the Checkov command above, run on --tree DIR), for a machine where Checkov takes too long to
run twice; the report then has xray-cmk's figures only.

Exit code 0 when both tools ran, 1 when one failed, 2 for a setup error. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

IAC = Path(__file__).resolve().parent
sys.path.insert(0, str(IAC))

from compare import (  # noqa: E402
    BUILD_HINT,
    CHECKOV_ENV,
    SetupError,
    count_tree,
    default_xray_cmk,
    ensure_checkov_venv,
    git_info,
    log,
    machine_info,
    netns_prefix,
    resolve_command,
    tool_version,
)

SCHEMA = "xray-cmk-iac-real-corpus/1"
DEFAULT_LIST = IAC / "real-corpus.txt"
XRAY_OK = (0, 1, 3)
CHECKOV_OK = (0, 1)
RULE = "kms-rotation-disabled"
CHECK = "CKV_AWS_7"
GNU_TIME = Path("/usr/bin/time")
KEY_BLOCK = re.compile(r'^\s*resource\s+"aws_kms_key"\s+"([^"]+)"', re.M)
INDEX = re.compile(r"\[[^\]]*\]")


# --- the corpus --------------------------------------------------------------------------------------


def read_list(path: Path) -> list[tuple[str, str]]:
    repos = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2 or "/" not in parts[0] or not re.fullmatch(r"[0-9a-f]{7,40}", parts[1]):
            raise SetupError(f"{path}:{n}: want `owner/name commit`, got {line!r}")
        repos.append((parts[0], parts[1]))
    if not repos:
        raise SetupError(f"{path}: no repositories")
    return repos


def slug(repo: str) -> str:
    return repo.replace("/", "+")


def find_git_dir(root: Path, repo: str) -> Path | None:
    owner, name = repo.split("/", 1)
    for cand in (root / slug(repo) / "repo", root / slug(repo), root / owner / f"{name}.git", root / owner / name):
        if cand.is_dir():
            probe = subprocess.run(["git", "--git-dir", str(cand / ".git" if (cand / ".git").is_dir() else cand),
                                    "rev-parse", "--git-dir"], capture_output=True, text=True)  # fmt: skip
            if probe.returncode == 0:
                return cand / ".git" if (cand / ".git").is_dir() else cand
    return None


def export(repos: list[tuple[str, str]], mirror_root: Path, tree: Path) -> None:
    """Each pinned commit, as files, into tree/owner+name/ (git archive | tar -x)."""
    missing = []
    for repo, commit in repos:
        git_dir = find_git_dir(mirror_root, repo)
        if git_dir is None:
            missing.append(f"{repo}: no git directory under {mirror_root}")
            continue
        if subprocess.run(["git", "--git-dir", str(git_dir), "cat-file", "-e", f"{commit}^{{commit}}"],
                          capture_output=True).returncode != 0:  # fmt: skip
            missing.append(f"{repo}: commit {commit} is not in {git_dir}")
            continue
        dest = tree / slug(repo)
        dest.mkdir(parents=True)
        archive = subprocess.Popen(["git", "--git-dir", str(git_dir), "archive", "--format=tar", commit],
                                   stdout=subprocess.PIPE)  # fmt: skip
        untar = subprocess.run(["tar", "-x", "-C", str(dest)], stdin=archive.stdout)
        archive.stdout.close()  # type: ignore[union-attr]
        if archive.wait() != 0 or untar.returncode != 0:
            missing.append(f"{repo}: git archive {commit} | tar -x failed")
    if missing:
        raise SetupError("cannot build the corpus: " + "; ".join(missing)
                         + " (mirror each repository first, e.g. `git clone --mirror https://github.com/OWNER/NAME "
                           "ROOT/OWNER+NAME`, or this project's `fetch` tool)")  # fmt: skip


def repo_counts(tree: Path, repos: list[tuple[str, str]]) -> list[dict[str, Any]]:
    out = []
    for repo, commit in repos:
        c = count_tree(tree / slug(repo))
        c.update(repo=repo, commit=commit, kms_key_blocks=len(key_blocks(tree / slug(repo), tree)))
        out.append(c)
    return out


def tf_files(root: Path) -> list[Path]:
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "node_modules")
        files += [Path(dirpath) / f for f in sorted(filenames) if f.endswith(".tf")]
    return files


def key_blocks(root: Path, rel_to: Path) -> list[tuple[str, str]]:
    """(file relative to rel_to, aws_kms_key.NAME) of every resource "aws_kms_key" block."""
    out = []
    for f in tf_files(root):
        for m in KEY_BLOCK.finditer(f.read_text(errors="replace")):
            out.append((f.relative_to(rel_to).as_posix(), f"aws_kms_key.{m.group(1)}"))
    return out


# --- running -----------------------------------------------------------------------------------------


def parse_gnu_time(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        k, _, v = line.strip().rpartition(": ")
        if k == "User time (seconds)":
            out["user"] = float(v)
        elif k == "System time (seconds)":
            out["sys"] = float(v)
        elif k == "Maximum resident set size (kbytes)":
            out["rss_kib"] = float(v)
        elif k.startswith("Elapsed (wall clock) time"):
            secs = 0.0
            for part in v.split(":"):
                secs = secs * 60 + float(part)
            out["elapsed"] = secs
    return out


def run_measured(cmd: list[str], env: dict[str, str], cwd: Path, stdout: Path, stderr: Path,
                 timeout: float, netns: list[str]) -> dict[str, Any]:  # fmt: skip
    """Wall time (here), user and system CPU and peak RSS (``/usr/bin/time -v``, else getrusage of
    the children: its ru_maxrss is then the largest child so far, of this or an earlier run)."""
    timing = stderr.with_suffix(".time")
    use_time = GNU_TIME.is_file() and os.access(GNU_TIME, os.X_OK)
    argv = [*netns, *([str(GNU_TIME), "-v", "-o", str(timing)] if use_time else []), *cmd]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        try:
            proc = subprocess.run(argv, env=env, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                  timeout=timeout)  # fmt: skip
            code, timed_out = proc.returncode, False
        except subprocess.TimeoutExpired:
            code, timed_out = None, True
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    r: dict[str, Any] = {"exit_code": code, "timed_out": timed_out, "wall_seconds": round(wall, 3)}
    t = parse_gnu_time(timing.read_text(errors="replace")) if use_time and timing.exists() else {}
    if "user" in t:
        r.update(user_seconds=t["user"], sys_seconds=t["sys"], peak_rss_mib=round(t["rss_kib"] / 1024, 1),
                 measured_by="/usr/bin/time -v")  # fmt: skip
    else:
        r.update(user_seconds=round(after.ru_utime - before.ru_utime, 3),
                 sys_seconds=round(after.ru_stime - before.ru_stime, 3),
                 peak_rss_mib=round(after.ru_maxrss / 1024, 1), measured_by="getrusage(RUSAGE_CHILDREN)")  # fmt: skip
    r["cpu_seconds"] = round(r["user_seconds"] + r["sys_seconds"], 3)
    return r


def summarize_runs(runs: list[dict[str, Any]], files: int) -> dict[str, Any]:
    ok = [r for r in runs if not r["timed_out"]]
    if not ok:
        return {"wall_seconds": None}
    wall = statistics.median(r["wall_seconds"] for r in ok)
    return {
        "wall_seconds": round(wall, 3),
        "wall_min": min(r["wall_seconds"] for r in ok), "wall_max": max(r["wall_seconds"] for r in ok),
        "user_seconds": round(statistics.median(r["user_seconds"] for r in ok), 3),
        "sys_seconds": round(statistics.median(r["sys_seconds"] for r in ok), 3),
        "cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in ok), 3),
        "peak_rss_mib": max(r["peak_rss_mib"] for r in ok),
        "files_per_second": round(files / wall, 1) if wall > 0 else None,
    }  # fmt: skip


# --- verdicts ----------------------------------------------------------------------------------------


def rel_file(path: str, tree: Path) -> str:
    p = path.replace("\\", "/")
    for prefix in (tree.as_posix().rstrip("/") + "/", "./", "/"):
        if p.startswith(prefix):
            p = p[len(prefix):]
    return p


def xray_verdicts(doc: dict[str, Any], tree: Path) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(file, aws_kms_key.NAME) -> [(instance address, pass|fail|error)] for kms-rotation-disabled."""
    out: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for r in doc.get("results") or []:
        if r.get("rule") != RULE:
            continue
        loc = r.get("location") or {}
        address = str(r.get("resource", "")).split(":key/", 1)[-1]
        block = INDEX.sub("", address)
        block = block[block.rfind("aws_kms_key."):] if "aws_kms_key." in block else block
        out[(rel_file(str(loc.get("file", "?")), tree), block)].append((address, r.get("status", "?")))
    return out


def checkov_verdicts(text: str, tree: Path) -> tuple[dict[tuple[str, str], list[tuple[str, str]]], dict[str, Any]]:
    """(file, aws_kms_key.NAME) -> [(Checkov's resource, pass|fail|skipped)] for CKV_AWS_7."""
    doc = json.loads(text)
    reports = doc if isinstance(doc, list) else [doc]
    out: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    summary: Counter[str] = Counter()
    for rep in reports:
        if not isinstance(rep, dict):
            continue
        for k, v in (rep.get("summary") or {}).items():
            if isinstance(v, int):
                summary[k] += v
        results = rep.get("results") or {}
        for kind, status in (("passed_checks", "pass"), ("failed_checks", "fail"), ("skipped_checks", "skipped")):
            for c in results.get(kind) or []:
                if c.get("check_id") != CHECK:
                    continue
                res = c.get("resource_address") or c.get("resource") or "?"
                block = INDEX.sub("", str(c.get("resource") or res))
                block = block[block.rfind("aws_kms_key."):] if "aws_kms_key." in block else block
                out[(rel_file(str(c.get("file_path", "?")), tree), block)].append((res, status))
    return out, dict(summary)


def verdict(items: list[tuple[str, str]]) -> str:
    """One word when every instance agrees, else "mixed (2 fail, 1 pass)"; "none" without a result."""
    if not items:
        return "none"
    c = Counter(s for _, s in items)
    if len(c) == 1:
        return next(iter(c))
    return "mixed (" + ", ".join(f"{n} {s}" for s, n in sorted(c.items())) + ")"


def agreement(blocks: list[tuple[str, str]], xray: dict, checkov: dict) -> dict[str, Any]:
    # xray-cmk's key rules also report a key it could not identify (an X-Ray config's unknown
    # key_id, under `aws_xray_encryption_config.NAME.key_id`): no block, no Checkov counterpart.
    unidentified = sorted(k for k in xray if not k[1].startswith("aws_kms_key."))
    keys = sorted((set(blocks) | set(xray) | set(checkov)) - set(unidentified))
    rows = []
    pairs: Counter[str] = Counter()
    for k in keys:
        xv, cv = verdict(xray.get(k, [])), verdict(checkov.get(k, []))
        agree = xv == cv
        pairs[f"{xv} / {cv}"] += 1
        rows.append({"file": k[0], "address": k[1], "xray_cmk": xv, "checkov": cv, "agree": agree,
                     "xray_cmk_instances": [f"{a}: {s}" for a, s in sorted(xray.get(k, []))],
                     "checkov_instances": [f"{a}: {s}" for a, s in sorted(checkov.get(k, []))]})  # fmt: skip
    agreed = sum(r["agree"] for r in rows)
    return {"keys": len(rows), "agree": agreed, "disagree": len(rows) - agreed,
            "by_verdicts": dict(sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))), "rows": rows,
            "unidentified_keys": [{"file": f, "address": a, "xray_cmk": verdict(xray[(f, a)])} for f, a in unidentified]}  # fmt: skip


# --- report ------------------------------------------------------------------------------------------


def _f(v: Any, digits: int = 2) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def render(report: dict[str, Any]) -> str:
    c = report["corpus"]
    what = f"{len(c['repos'])} repositories" if c["repos"] else "a tree"
    lines = [f"## Real corpus: {what}, {c['tf_files']:,} .tf files in {c['modules']:,} "
             f"modules ({c['lines']:,} lines, {c['kms_key_blocks']} aws_kms_key blocks)", "",
             "| repository | commit | .tf files | modules | lines | aws_kms_key blocks |", "|---|---|---:|---:|---:|---:|"]  # fmt: skip
    for r in c["repos"]:
        lines.append(f"| {r['repo']} | `{r['commit'][:12]}` | {r['tf_files']:,} | {r['modules']:,} | {r['lines']:,} | "
                     f"{r['kms_key_blocks']} |")  # fmt: skip
    lines += ["", "| | wall time (median) | min–max | CPU user+sys | files/s | peak RSS | runs | exit codes |",
              "|---|---:|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    for t in report["tools"]:
        s = t["figures"]
        lines.append(f"| {t['label']} | {_f(s.get('wall_seconds'))} s | {_f(s.get('wall_min'))}–{_f(s.get('wall_max'))} s"
                     f" | {_f(s.get('cpu_seconds'))} s ({_f(s.get('user_seconds'))} + {_f(s.get('sys_seconds'))}) | "
                     f"{_f(s.get('files_per_second'), 1)} | {_f(s.get('peak_rss_mib'), 1)} MiB | {len(t['runs'])} | "
                     + ", ".join(str(r["exit_code"]) for r in t["runs"]) + " |")  # fmt: skip
    lines.append("")
    for t in report["tools"]:
        lines.append(f"* {t['label']} ({t.get('version') or '?'}): `{shlex.join(t['command'])}`")
    if report.get("checkov_report"):
        lines.append(f"* Checkov not run: verdicts from `{report['checkov_report']}`")
    if report.get("ratio"):
        r = report["ratio"]
        lines.append(f"\n**xray-cmk is {_f(r['wall'], 1)}× faster in wall time, {_f(r['cpu'], 1)}× less CPU.**")
    a = report.get("agreement")
    if a:
        lines += ["", f"### {RULE} vs {CHECK}: {a['keys']} keys, {a['agree']} agree, {a['disagree']} disagree", "",
                  "| xray-cmk / Checkov | keys |", "|---|---:|"]  # fmt: skip
        lines += [f"| {k} | {n} |" for k, n in a["by_verdicts"].items()]
        lines += ["", "Disagreements:", "", "| file | address | xray-cmk | Checkov | instances |", "|---|---|---|---|---|"]
        for row in a["rows"]:
            if not row["agree"]:
                inst = "; ".join(row["xray_cmk_instances"] + [f"checkov {i}" for i in row["checkov_instances"]])
                lines.append(f"| {row['file']} | `{row['address']}` | {row['xray_cmk']} | {row['checkov']} | {inst} |")
        for u in a.get("unidentified_keys", []):
            lines.append(f"* not a key block: {u['file']} `{u['address']}`: xray-cmk {u['xray_cmk']} (its key is unknown)")
    m = report["machine"]
    lines.append(f"\nMachine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB; load average before / after: "
                 f"{report['load_average']['before'][0]:.2f} / {report['load_average']['after'][0]:.2f}; "
                 f"network isolated: {report['network_isolated']}; {report['generated_at']}")  # fmt: skip
    for p in report["problems"]:
        lines.append(f"* PROBLEM: {p}")
    return "\n".join(lines) + "\n"


# --- main --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--list", type=Path, default=DEFAULT_LIST, help="`owner/name commit` per line (default %(default)s); `-` for none: any --tree")
    p.add_argument("--mirror-root", type=Path, default=Path("/work/.mirror"),
                   help="where the git directories are (default %(default)s)")
    p.add_argument("--tree", type=Path, help="scan this already exported tree (DIR/owner+name/) instead")
    p.add_argument("--xray-cmk", help="the binary or a shell-quoted command line (default: $XRAY_CMK_BIN, else "
                   "$CARGO_TARGET_DIR/release/xray-cmk, else ~/.cache/xray-cmk/target/release/xray-cmk)")
    p.add_argument("--checkov", help="Checkov command line instead of the bench/iac/.venv-checkov one")
    p.add_argument("--runs", type=int, default=3, help="xray-cmk runs (default 3); the median is reported")
    p.add_argument("--checkov-runs", type=int, default=1, help="Checkov runs (default 1)")
    p.add_argument("--checkov-report", type=Path, metavar="JSON",
                   help="do not run Checkov: take its verdicts from this report of the same tree (the command "
                   "above, -o json, run on --tree); the report then has no Checkov figures")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed per run (default 3600)")
    p.add_argument("--json-out", type=Path, help="write the figures, verdicts and machine info here")
    p.add_argument("--markdown-out", type=Path, help="write the markdown report here too")
    p.add_argument("--keep", action="store_true", help="keep the work directory (tree, outputs)")
    p.add_argument("--no-netns", action="store_true", help="do not run the tools under `unshare -n`")
    a = p.parse_args(argv)
    if a.runs < 1 or a.checkov_runs < 1:
        p.error("--runs and --checkov-runs must be at least 1")
    return a


def run(a: argparse.Namespace, work: Path) -> tuple[dict[str, Any], bool]:
    if str(a.list) == "-" and not a.tree:
        raise SetupError("--list - (no list) needs --tree DIR")
    repos = [] if str(a.list) == "-" else read_list(a.list)
    xray_cmd = resolve_command(a.xray_cmk or default_xray_cmk(), "xray-cmk binary", BUILD_HINT)
    checkov_cmd = shlex.split(a.checkov) if a.checkov else (None if a.checkov_report else ensure_checkov_venv())
    if a.tree:
        tree = a.tree.resolve()
        absent = [r for r, _ in repos if not (tree / slug(r)).is_dir()]
        if absent:
            raise SetupError(f"{tree} lacks " + ", ".join(slug(r) for r in absent))
    else:
        tree = work / "tree"
        log(f"exporting {len(repos)} repositories from {a.mirror_root} into {tree}")
        export(repos, a.mirror_root, tree)
    per_repo = repo_counts(tree, repos)
    corpus = count_tree(tree)
    blocks = key_blocks(tree, tree)
    corpus.update(repos=per_repo, kms_key_blocks=len(blocks))
    netns = netns_prefix(not a.no_netns)
    load_before = list(os.getloadavg())
    problems: list[str] = []
    tools = []

    specs = [
        ("xray-cmk", [*xray_cmd, "iac", "scan", str(tree), "--format", "json"], dict(os.environ), a.runs, XRAY_OK),
        ("checkov --check CKV_AWS_7",
         [*(checkov_cmd or ["checkov"]), "-d", str(tree), "--framework", "terraform", "--check", CHECK, "-o", "json", "--compact",
          "--skip-download"], dict(os.environ, **CHECKOV_ENV), a.checkov_runs, CHECKOV_OK),
    ]  # fmt: skip
    outputs: dict[str, str] = {}
    if a.checkov_report:
        specs = specs[:1]
        outputs["checkov"] = a.checkov_report.read_text(errors="replace")
    for label, cmd, env, runs, ok_codes in specs:
        results = []
        name = label.split()[0]
        for i in range(runs):
            log(f"{label}: run {i + 1}/{runs}")
            out, err = work / f"{name}.{i}.out", work / f"{name}.{i}.err"
            r = run_measured(cmd, env, work, out, err, a.timeout, netns)
            r["stderr_tail"] = err.read_text(errors="replace")[-1500:]
            results.append(r)
            if r["exit_code"] not in ok_codes:
                problems.append(f"{label} run {i + 1}: exit code {r['exit_code']}"
                                + (" (timed out)" if r["timed_out"] else "") + f": {r['stderr_tail'].strip()[-300:]}")  # fmt: skip
            outputs.setdefault(name, out.read_text(errors="replace"))
        version_cmd = xray_cmd if name == "xray-cmk" else (checkov_cmd or [])
        tools.append({"label": label, "command": cmd, "runs": results,
                      "figures": summarize_runs(results, corpus["tf_files"]),
                      "version": tool_version(version_cmd, env)})  # fmt: skip

    report: dict[str, Any] = {"schema": SCHEMA, "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              "corpus": corpus, "tools": tools, "problems": problems}  # fmt: skip
    if a.checkov_report:
        report["checkov_report"] = str(a.checkov_report)
    xw = tools[0]["figures"].get("wall_seconds")
    cw = tools[1]["figures"].get("wall_seconds") if len(tools) > 1 else None
    if xw and cw:
        report["ratio"] = {"wall": round(cw / xw, 1),
                           "cpu": round(tools[1]["figures"]["cpu_seconds"] / max(tools[0]["figures"]["cpu_seconds"], 1e-3), 1)}  # fmt: skip
    try:
        xdoc = json.loads(outputs.get("xray-cmk", ""))
        xv = xray_verdicts(xdoc, tree)
        report["xray_cmk_summary"] = (xdoc.get("summary") or {}).get("results")
    except json.JSONDecodeError as exc:
        problems.append(f"xray-cmk output is not JSON: {exc}")
        xv = {}
    try:
        cv, csum = checkov_verdicts(outputs.get("checkov", ""), tree)
        report["checkov_summary"] = csum
        if csum.get("parsing_errors"):
            problems.append(f"Checkov: {csum['parsing_errors']} parsing errors")
    except json.JSONDecodeError as exc:
        problems.append(f"Checkov output is not JSON: {exc}")
        cv = {}
    report["agreement"] = agreement(blocks, xv, cv)
    report.update(machine=machine_info(checkov_cmd), git=git_info(), network_isolated=bool(netns),
                  load_average={"before": load_before, "after": list(os.getloadavg())})  # fmt: skip
    return report, not problems


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="xray-cmk-real-corpus-"))
    keep = a.keep
    try:
        report, ok = run(a, work)
    except SetupError as exc:
        print(f"real_corpus.py: {exc}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted; work directory kept: {work}", file=sys.stderr)
        return 130
    keep = keep or not ok
    text = render(report)
    print(text, end="")
    if a.markdown_out:
        a.markdown_out.write_text(text)
    if a.json_out:
        a.json_out.parent.mkdir(parents=True, exist_ok=True)
        a.json_out.write_text(json.dumps(report, indent=2) + "\n")
        log(f"wrote {a.json_out}")
    if keep:
        log(f"work directory kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
