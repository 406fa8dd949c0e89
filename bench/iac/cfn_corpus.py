#!/usr/bin/env python3
"""``xray-cmk iac scan`` on public CloudFormation/SAM/CDK repositories, one tree each: files, templates,
parse errors (each file, and optionally what cfn-lint says of it), wall and CPU time.

    python3 bench/iac/cfn_corpus.py [--list bench/iac/cfn-corpus.txt] [--mirror-root /work/.mirror]
                                    [--tree DIR] [--xray-cmk PATH] [--runs 1] [--cfn-lint [CMD]]
                                    [--checkov [CMD]] [--json-out FILE] [--markdown-out FILE] [--keep]

The list (``owner/name commit [subdir]`` per line, ``#`` comments) pins each repository at a commit,
optionally to one directory of it. Each must be a git directory under --mirror-root, found as
real_corpus.py finds it (``ROOT/owner+name/repo``, the layout of this project's ``fetch`` tool, and
the others). The pinned commit's files (under subdir) are written into WORK/tree/owner+name/ from
``git ls-tree`` and ``git cat-file --batch``, not ``git archive``: a snapshot may lack its largest
blobs (zip files, generated schemas), which makes ``git archive`` stop; those are left out and
counted. --tree DIR scans an already exported tree of that layout instead. No network at run time.

Then, per tree, without network (``unshare -n`` where it works), ``xray-cmk iac scan TREE/owner+name
--format json`` (--runs times, the median quoted), timed with ``/usr/bin/time -v`` where present,
else the children's rusage. The figures come from its stderr summary lines (``N CloudFormation
templates of M YAML/JSON files, K parse errors`` and the Terraform one) and the ``iac-parse-error``
results of its JSON. With --cfn-lint, ``cfn-lint --format json`` runs on the templates that did not
parse, classifying each: ``duplicate key`` (cfn-lint E0000 "Duplicate found"), ``invalid for PyYAML
too`` (another E0000), or ``strict-only`` (cfn-lint reads it: xray-cmk is stricter than
CloudFormation's tooling).

With --checkov, rotation against Checkov's CKV_AWS_7, key by key: every template that holds an
``AWS::KMS::Key`` (named by xray-cmk's ``kms-rotation-disabled`` results, or declaring the type in its
text: a template xray-cmk could not parse, a key it does not judge) goes to ``checkov -f FILE --framework cloudformation --check CKV_AWS_7
-o json``, one file at a time (``checkov -d`` stopped with a TypeError on two of these trees), and each
directory holding a Terraform key xray-cmk judged to ``checkov -d DIR --framework terraform --check
CKV_AWS_7 -o json --compact --skip-download``. The verdicts are joined by file and logical id (the
Terraform address): xray-cmk's (pass, fail, error, parse error, not reported) against Checkov's
(passed, failed, parsing error, not reported). A key xray-cmk also judges as a nested-stack instance
(``key/PARENT/Nested/child.yaml/Key``: the child's key with the parent's parameters) is compared on
its standalone verdict, the template on its own as Checkov judges it; the instances are listed beside.
CMD defaults to bench/iac/.venv-checkov, created from requirements-checkov.txt (PyPI) when missing.

Exit code 0 when every run exited 0, 1 or 3 and printed JSON, 1 otherwise, 2 for a setup error.
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

IAC = Path(__file__).resolve().parent
sys.path.insert(0, str(IAC))

from compare import BUILD_HINT, CHECKOV_ENV, SetupError, default_xray_cmk, ensure_checkov_venv, git_info, log  # noqa: E402
from compare import machine_info, netns_prefix, resolve_command, tool_version  # noqa: E402
from real_corpus import find_git_dir, run_measured, slug, summarize_runs  # noqa: E402

SCHEMA = "xray-cmk-iac-cfn-corpus/1"
DEFAULT_LIST = IAC / "cfn-corpus.txt"
XRAY_OK = (0, 1, 3)
PARSE_RULE = "iac-parse-error"
CFN_LINE = re.compile(r"xray-cmk: (\d+) CloudFormation templates of (\d+) YAML/JSON files, (\d+) parse errors")
TF_LINE = re.compile(r"xray-cmk: (\d+) files in (\d+) modules, (\d+) parse errors")
TEMPLATE_EXT = (".yaml", ".yml", ".json", ".template")
ROTATION_RULE = "kms-rotation-disabled"
CHECK = "CKV_AWS_7"
CHECKOV_OK = (0, 1)  # 1: a check failed
# `Type: AWS::KMS::Key` in YAML (quoted or not) or `"Type": "AWS::KMS::Key"` in JSON, not AWS::KMS::KeyXyz.
KMS_KEY_TYPE = re.compile(r"""\bType["']?\s*:\s*["']?AWS::KMS::Key(?![\w:])""")
# xray-cmk's word for a key against Checkov's: the pairs that agree.
AGREE = {("pass", "passed"), ("fail", "failed"), ("parse error", "parsing error"), ("not reported", "not reported")}


# --- the corpus --------------------------------------------------------------------------------------


def read_list(path: Path) -> list[tuple[str, str, str | None]]:
    repos = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if (len(parts) not in (2, 3) or "/" not in parts[0] or not re.fullmatch(r"[0-9a-f]{7,40}", parts[1])
                or (len(parts) == 3 and (parts[2].startswith("/") or ".." in parts[2].split("/")))):  # fmt: skip
            raise SetupError(f"{path}:{n}: want `owner/name commit [subdir]`, got {line!r}")
        repos.append((parts[0], parts[1], parts[2].strip("/") if len(parts) == 3 else None))
    if not repos:
        raise SetupError(f"{path}: no repositories")
    return repos


def export_one(git_dir: Path, commit: str, subdir: str | None, dest: Path) -> dict[str, int]:
    """The commit's files (under subdir) into dest; blobs absent from the mirror are counted, not fatal."""
    ls = subprocess.run(["git", "--git-dir", str(git_dir), "ls-tree", "-r", "-z", commit, *([subdir] if subdir else [])],
                        capture_output=True, check=True).stdout  # fmt: skip
    entries = []
    for rec in ls.split(b"\0"):
        if rec:
            meta, _, name = rec.partition(b"\t")
            mode, kind, sha = meta.split()
            if kind == b"blob":
                entries.append((mode.decode(), sha.decode(), os.fsdecode(name)))
    cat = subprocess.Popen(["git", "--git-dir", str(git_dir), "cat-file", "--batch"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE)  # fmt: skip
    assert cat.stdin and cat.stdout
    written = absent = 0
    try:
        for mode, sha, name in entries:
            cat.stdin.write(sha.encode() + b"\n")
            cat.stdin.flush()
            header = cat.stdout.readline().split()
            if len(header) < 3 or header[1] == b"missing":
                absent += 1
                continue
            data = cat.stdout.read(int(header[2]))
            cat.stdout.read(1)
            out = dest / name
            out.parent.mkdir(parents=True, exist_ok=True)
            if mode == "120000":
                os.symlink(os.fsdecode(data), out)
            else:
                out.write_bytes(data)
            written += 1
    finally:
        cat.stdin.close()
        cat.wait()
    return {"files_written": written, "blobs_absent": absent}


def export(repos: list[tuple[str, str, str | None]], mirror_root: Path, tree: Path) -> dict[str, dict[str, int]]:
    missing, out = [], {}
    for repo, commit, subdir in repos:
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
        out[repo] = export_one(git_dir, commit, subdir, dest)
        if out[repo]["files_written"] == 0:
            missing.append(f"{repo}: no files at {commit}" + (f" under {subdir}" if subdir else ""))
    if missing:
        raise SetupError("cannot build the corpus: " + "; ".join(missing)
                         + " (mirror each repository first, e.g. this project's `fetch` tool, or `git clone --mirror "
                           "https://github.com/OWNER/NAME ROOT/OWNER+NAME`)")  # fmt: skip
    return out


# --- reading a scan ----------------------------------------------------------------------------------


def rel(path: str, root: Path) -> str:
    p = path.replace("\\", "/")
    for prefix in (root.as_posix().rstrip("/") + "/", "./"):
        if p.startswith(prefix):
            p = p[len(prefix):]
    return p


def summarize_scan(stdout: str, stderr: str, root: Path) -> dict[str, Any]:
    """Files, templates and parse errors of one scan, from its stderr summary and its JSON results."""
    doc = json.loads(stdout)
    errors = []
    for r in doc.get("results") or []:
        if r.get("rule") != PARSE_RULE:
            continue
        loc = r.get("location") or {}
        errors.append({"file": rel(str(loc.get("file") or r.get("resource", "?")), root), "line": loc.get("line"),
                       "message": r.get("message", "")})  # fmt: skip
    errors.sort(key=lambda e: (e["file"], e["line"] or 0))
    cfn = [e for e in errors if not e["file"].endswith(".tf")]
    out: dict[str, Any] = {"parse_errors": len(cfn), "parse_error_files": cfn,
                           "tf_parse_errors": len(errors) - len(cfn), "results": (doc.get("summary") or {}).get("results")}  # fmt: skip
    m = CFN_LINE.search(stderr)
    if m:
        out.update(templates=int(m[1]), yaml_json_files=int(m[2]))
        if int(m[3]) != len(cfn):
            out["summary_parse_errors"] = int(m[3])
    else:
        out.update(templates=None, yaml_json_files=None)
    t = TF_LINE.search(stderr)
    out.update(tf_files=int(t[1]) if t else None, tf_modules=int(t[2]) if t else None)
    return out


def classify(cfn_lint_json: str) -> dict[str, dict[str, str]]:
    """Filename -> {class, message} from cfn-lint's JSON: its E0000 says whether PyYAML reads the file."""
    by_file: dict[str, dict[str, str]] = {}
    for m in json.loads(cfn_lint_json or "[]"):
        if (m.get("Rule") or {}).get("Id") != "E0000":
            continue
        msg = str(m.get("Message", ""))
        cls = "duplicate key" if "Duplicate" in msg else "invalid for PyYAML too"
        prior = by_file.get(m.get("Filename", "?"))
        if prior is None or cls == "duplicate key":
            by_file[m.get("Filename", "?")] = {"class": cls, "cfn_lint": msg.splitlines()[0] if msg else ""}
    return by_file


def run_cfn_lint(cmd: list[str], files: list[Path], netns: list[str], timeout: float) -> dict[str, dict[str, str]]:
    if not files:
        return {}
    proc = subprocess.run([*netns, *cmd, "--format", "json", *map(str, files)], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)  # fmt: skip
    return classify(proc.stdout)


# --- rotation against Checkov's CKV_AWS_7 ------------------------------------------------------------


def split_key_resource(resource: str, file: str) -> tuple[str, str | None]:
    """(logical id, instance) of a key result's ``arn:aws:kms:R:A:key/PATH``, file its location.file.

    PATH is ``FILE/LOGICALID`` for the template on its own (CDK output adds `` (construct/path)``),
    ``PARENT/Nested/FILE/LOGICALID`` for a nested-stack instance (instance ``PARENT/Nested``), and for
    Terraform ``DIR/aws_kms_key.NAME`` (or ``DIR/module.m.aws_kms_key.NAME[0]``: instance ``module.m``).
    """
    path = resource.split(":key/", 1)[-1]
    path = re.sub(r" \([^()]*\)$", "", path)
    head, _, last = path.rpartition("/")
    if file.endswith(".tf"):
        block = re.sub(r"\[[^\]]*\]", "", last)
        i = block.rfind("aws_kms_key.")
        return (block[i:], block[:i].rstrip(".") or None) if i >= 0 else (block, None)
    if head == file or not head:
        return last, None
    if head.endswith("/" + file):
        return last, head[: -len(file) - 1]
    return last, head


def xray_rotation(doc: dict[str, Any], root: Path) -> dict[tuple[str, str], list[tuple[str | None, str]]]:
    """(file relative to root, logical id or Terraform address) -> [(instance or None, pass|fail|error)]."""
    out: dict[tuple[str, str], list[tuple[str | None, str]]] = {}
    for r in doc.get("results") or []:
        if r.get("rule") != ROTATION_RULE:
            continue
        file = str((r.get("location") or {}).get("file") or "")
        if not file:
            continue
        logical, inst = split_key_resource(str(r.get("resource", "")), file)
        inst = rel(inst, root) if inst else inst
        out.setdefault((rel(file, root), logical), []).append((inst, str(r.get("status", "?"))))
    return out


def checkov_rotation(text: str, root: Path) -> tuple[dict[tuple[str, str], str], set[str], dict[str, int]]:
    """One Checkov JSON report: (file relative to root, logical id or address) -> passed|failed|skipped,
    the files it could not parse, and its summary counts."""
    doc = json.loads(text) if text.strip() else {}
    reports = doc if isinstance(doc, list) else [doc]
    verdicts: dict[tuple[str, str], str] = {}
    unparsed: set[str] = set()
    summary: dict[str, int] = {}
    for rep in reports:
        if not isinstance(rep, dict):
            continue
        summ = rep.get("summary") if isinstance(rep.get("summary"), dict) else rep
        for k, v in summ.items():
            if isinstance(v, int) and not isinstance(v, bool):
                summary[k] = summary.get(k, 0) + v
        results = rep.get("results") or {}
        for f in results.get("parsing_errors") or []:
            unparsed.add(rel(str(f), root).lstrip("/"))
        for kind, word in (("passed_checks", "passed"), ("failed_checks", "failed"), ("skipped_checks", "skipped")):
            for c in results.get(kind) or []:
                if c.get("check_id") != CHECK:
                    continue
                file = rel(str(c.get("file_abs_path") or c.get("file_path") or "?"), root).lstrip("/")
                res = str(c.get("resource") or "?")
                if res.startswith("AWS::"):
                    res = res.split(".", 1)[-1]
                else:
                    res = re.sub(r"\[[^\]]*\]", "", res)
                    res = res[res.rfind("aws_kms_key."):] if "aws_kms_key." in res else res
                verdicts[(file, res)] = word
    return verdicts, unparsed, summary


def join_rotation(xray: dict[tuple[str, str], list[tuple[str | None, str]]], xray_unparsed: set[str],
                  checkov: dict[tuple[str, str], str], checkov_unparsed: set[str], files: list[str]) -> dict[str, Any]:
    """Key by key, xray-cmk's verdict against Checkov's, over the files both were given.

    A file one tool could not parse gives every key the other names there that tool's "parse error"
    (one row named "-" when neither names a key); a key one tool does not report is "not reported". A
    key with a standalone verdict is compared on it, its nested-stack instances listed beside; with
    instances only, on their common verdict (else "mixed ...", a disagreement)."""
    rows = []
    silent = []
    for file in sorted(set(files)):
        names = sorted({n for f, n in xray if f == file} | {n for f, n in checkov if f == file})
        if not names:
            if file in xray_unparsed or file in checkov_unparsed:
                names = ["-"]
            else:
                silent.append(file)
                continue
        for name in names:
            items = xray.get((file, name), [])
            alone = [s for i, s in items if i is None]
            inst = sorted((i, s) for i, s in items if i is not None)
            if alone:
                xv = alone[0] if len(set(alone)) == 1 else "mixed (" + ", ".join(sorted(alone)) + ")"
            elif inst:
                words = sorted({s for _, s in inst})
                xv = words[0] if len(words) == 1 else "mixed (" + ", ".join(words) + ")"
            else:
                xv = "parse error" if file in xray_unparsed else "not reported"
            cv = checkov.get((file, name)) or ("parsing error" if file in checkov_unparsed else "not reported")
            rows.append({"file": file, "key": name, "xray_cmk": xv, "checkov": cv, "agree": (xv, cv) in AGREE,
                         "xray_cmk_instances": [f"{i}: {s}" for i, s in inst]})  # fmt: skip
    pairs: dict[str, int] = {}
    for r in rows:
        pairs[f"{r['xray_cmk']} / {r['checkov']}"] = pairs.get(f"{r['xray_cmk']} / {r['checkov']}", 0) + 1
    agree = sum(r["agree"] for r in rows)
    both = sum(r["xray_cmk"] in ("pass", "fail", "error") and r["checkov"] in ("passed", "failed") for r in rows)
    return {"rows_total": len(rows), "judged_by_both": both, "agree": agree, "disagree": len(rows) - agree,
            "by_verdicts": dict(sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))), "rows": rows,
            "files_without_a_verdict": silent}  # fmt: skip


def key_files(root: Path, scan_doc: dict[str, Any]) -> tuple[list[str], list[str]]:
    """What to give Checkov, relative to root: the templates of xray-cmk's rotation results and every
    other template file declaring an AWS::KMS::Key (one xray-cmk could not parse, or whose keys it does
    not judge), and the directories of the Terraform keys xray-cmk judged."""
    cfn: set[str] = set()
    tf: set[str] = set()
    for r in scan_doc.get("results") or []:
        f = (r.get("location") or {}).get("file") if r.get("rule") == ROTATION_RULE else None
        if f:
            f = rel(str(f), root)
            if f.endswith(".tf"):
                tf.add(str(Path(f).parent))
            else:
                cfn.add(f)
    for p in sorted(root.rglob("*")):
        if p.suffix in TEMPLATE_EXT and not p.is_symlink() and p.is_file():
            try:
                if KMS_KEY_TYPE.search(p.read_text(errors="replace")):
                    cfn.add(rel(p.as_posix(), root))
            except OSError:
                pass
    return sorted(cfn), sorted(tf)


def run_checkov_rotation(cmd: list[str], root: Path, scan_doc: dict[str, Any], parse_errors: list[dict[str, Any]],
                         netns: list[str], timeout: float, out_dir: Path) -> tuple[dict[str, Any], list[str]]:
    """Checkov file by file (templates) and directory by directory (Terraform keys), then the join."""
    cfn_files, tf_dirs = key_files(root, scan_doc)
    env = dict(os.environ, **CHECKOV_ENV)
    out_dir.mkdir(parents=True, exist_ok=True)
    verdicts: dict[tuple[str, str], str] = {}
    unparsed: set[str] = set()
    problems: list[str] = []
    runs = []
    jobs = [(f, ["-f", f, "--framework", "cloudformation", "--check", CHECK, "-o", "json"]) for f in cfn_files]
    jobs += [(d, ["-d", d, "--framework", "terraform", "--check", CHECK, "-o", "json", "--compact", "--skip-download"])
             for d in tf_dirs]  # fmt: skip
    for n, (target, args) in enumerate(jobs):
        t0 = time.monotonic()
        try:
            proc = subprocess.run([*netns, *cmd, *args], cwd=root, env=env, capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            problems.append(f"checkov on {target}: {exc}")
            continue
        (out_dir / f"{n:03d}.json").write_text(proc.stdout)
        (out_dir / f"{n:03d}.err").write_text(proc.stderr)
        runs.append({"target": target, "exit_code": proc.returncode, "seconds": round(time.monotonic() - t0, 2),
                     "output": str(out_dir / f"{n:03d}.json")})  # fmt: skip
        if proc.returncode not in CHECKOV_OK:
            problems.append(f"checkov on {target}: exit code {proc.returncode}: {proc.stderr.strip()[-300:]}")
        try:
            v, u, _ = checkov_rotation(proc.stdout, root)
        except json.JSONDecodeError as exc:
            problems.append(f"checkov on {target}: output is not JSON: {exc}")
            continue
        verdicts.update(v)
        unparsed |= u
    xray = xray_rotation(scan_doc, root)
    xray_unparsed = {e["file"] for e in parse_errors}
    files = cfn_files + sorted({f for f, _ in xray if f.endswith(".tf")} | {f for f, _ in verdicts if f.endswith(".tf")})
    joined = join_rotation(xray, xray_unparsed, verdicts, unparsed, files)
    joined.update(templates=cfn_files, terraform_dirs=tf_dirs, checkov_runs=runs)
    return joined, problems


# --- report ------------------------------------------------------------------------------------------


def _f(v: Any, digits: int = 2) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def render(report: dict[str, Any]) -> str:
    lines = ["| tree | YAML/JSON files | templates | parse errors | wall | CPU |", "|---|---:|---:|---:|---:|---:|"]
    for t in report["trees"]:
        name = f"`{t['repo']}` @{t['commit'][:7]}" + (f", `{t['subdir']}`" if t.get("subdir") else "")
        s, f = t.get("scan") or {}, t["figures"]
        lines.append(f"| {name} | {_f(s.get('yaml_json_files'))} | {_f(s.get('templates'))} | {_f(s.get('parse_errors'))} "
                     f"| {_f(f.get('wall_seconds'))} s | {_f(f.get('cpu_seconds'))} s |")  # fmt: skip
    lines.append("")
    for t in report["trees"]:
        s = t.get("scan") or {}
        extra = []
        if s.get("tf_files"):
            extra.append(f"{s['tf_files']:,} .tf files in {s['tf_modules']:,} modules scanned in the same run"
                         + (f", {s['tf_parse_errors']} Terraform parse errors" if s.get("tf_parse_errors") else ""))  # fmt: skip
        if t.get("export", {}).get("blobs_absent"):
            extra.append(f"{t['export']['blobs_absent']} blobs absent from the mirror, left out")
        runs = t["runs"]
        if runs:
            extra.append((f"median of {len(runs)} runs" if len(runs) > 1 else "1 run") + "; exit code "
                         + ", ".join(str(r["exit_code"]) for r in runs) + f"; timed by {runs[0].get('measured_by', '?')}")  # fmt: skip
        lines.append(f"* **{t['repo']}**: " + "; ".join(extra))
        errs = s.get("parse_error_files") or []
        if errs:
            counts: dict[str, int] = {}
            for e in errs:
                counts[e.get("class", "unclassified")] = counts.get(e.get("class", "unclassified"), 0) + 1
            lines.append("  * parse errors: " + ", ".join(f"{n} {c}" for c, n in sorted(counts.items())))
            for e in errs:
                cls = f" [{e['class']}]" if e.get("class") else ""
                lines.append(f"    * `{e['file']}:{e['line']}`{cls} {e['message']}")
    if report.get("rotation_totals"):
        lines.extend(render_rotation(report))
    cmd = report.get("command")
    if cmd:
        lines.append(f"\nxray-cmk ({report.get('version') or '?'}): `{shlex.join(cmd)} TREE --format json`")
    m = report["machine"]
    lines.append(f"\nMachine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB; load average before / after: "
                 f"{report['load_average']['before'][0]:.2f} / {report['load_average']['after'][0]:.2f}; "
                 f"network isolated: {report['network_isolated']}; {report['generated_at']}")  # fmt: skip
    for p in report["problems"]:
        lines.append(f"* PROBLEM: {p}")
    return "\n".join(lines) + "\n"


def render_rotation(report: dict[str, Any]) -> list[str]:
    tot = report["rotation_totals"]
    lines = ["", f"### Rotation: `{ROTATION_RULE}` against Checkov's `{CHECK}` ({report.get('checkov') or '?'})", "",
             "A row is a key, or (`-`) a template holding a key that a tool could not read; judged by both: "
             "pass, fail or error against passed or failed.", "",
             "| tree | rows | judged by both | agree | disagree |", "|---|---:|---:|---:|---:|"]  # fmt: skip
    for t in report["trees"]:
        r = t.get("rotation")
        if r:
            lines.append(f"| `{t['repo']}` | {r['rows_total']} | {r['judged_by_both']} | {r['agree']} | {r['disagree']} |")
    lines.append(f"| all | {tot['rows_total']} | {tot['judged_by_both']} | {tot['agree']} | {tot['disagree']} |")
    lines.append("")
    lines.append("xray-cmk / Checkov: " + ", ".join(f"{n} {pair}" for pair, n in tot["by_verdicts"].items()))
    lines.extend(["", "| tree | file | key | xray-cmk | Checkov | agree | nested-stack instances (xray-cmk) |",
                  "|---|---|---|---|---|---|---|"])  # fmt: skip
    for t in report["trees"]:
        for row in (t.get("rotation") or {}).get("rows", []):
            inst = "; ".join(row["xray_cmk_instances"]) or ""
            lines.append(f"| {t['repo'].split('/')[-1]} | `{row['file']}` | `{row['key']}` | {row['xray_cmk']} "
                         f"| {row['checkov']} | {'yes' if row['agree'] else '**no**'} | {inst} |")  # fmt: skip
    for t in report["trees"]:
        silent = (t.get("rotation") or {}).get("files_without_a_verdict") or []
        if silent:
            lines.append(f"\n* {t['repo']}: declare `AWS::KMS::Key` with no verdict from either tool: "
                         + ", ".join(f"`{f}`" for f in silent))  # fmt: skip
    if report.get("checkov_command"):
        lines.append(f"\nCheckov: `{shlex.join(report['checkov_command'])} -f FILE --framework cloudformation --check "
                     f"{CHECK} -o json` per template, `-d DIR --framework terraform --check {CHECK} -o json --compact "
                     "--skip-download` per Terraform key's directory")  # fmt: skip
    return lines


# --- main --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--list", type=Path, default=DEFAULT_LIST, help="`owner/name commit [subdir]` per line (default %(default)s)")
    p.add_argument("--mirror-root", type=Path, default=Path("/work/.mirror"), help="where the git directories are (default %(default)s)")
    p.add_argument("--tree", type=Path, help="scan this already exported tree (DIR/owner+name/) instead")
    p.add_argument("--xray-cmk", help="the binary or a shell-quoted command line (default: $XRAY_CMK_BIN, else "
                   "$CARGO_TARGET_DIR/release/xray-cmk, else ~/.cache/xray-cmk/target/release/xray-cmk)")
    p.add_argument("--runs", type=int, default=1, help="runs per tree (default 1); the median is reported")
    p.add_argument("--cfn-lint", nargs="?", const="cfn-lint", metavar="CMD",
                   help="classify the templates that did not parse with cfn-lint (CMD, default `cfn-lint` on PATH)")
    p.add_argument("--checkov", nargs="?", const="", metavar="CMD",
                   help="compare kms-rotation-disabled with Checkov's CKV_AWS_7, key by key (CMD, default "
                        "bench/iac/.venv-checkov, installed from requirements-checkov.txt when missing)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per run (default 1800)")
    p.add_argument("--json-out", type=Path, help="write the figures, parse errors and machine info here")
    p.add_argument("--markdown-out", type=Path, help="write the markdown report here too")
    p.add_argument("--keep", action="store_true", help="keep the work directory (tree, outputs)")
    p.add_argument("--no-netns", action="store_true", help="do not run the tools under `unshare -n`")
    a = p.parse_args(argv)
    if a.runs < 1:
        p.error("--runs must be at least 1")
    return a


def run(a: argparse.Namespace, work: Path) -> tuple[dict[str, Any], bool]:
    repos = read_list(a.list)
    xray_cmd = resolve_command(a.xray_cmk or default_xray_cmk(), "xray-cmk binary", BUILD_HINT)
    lint_cmd = resolve_command(a.cfn_lint, "cfn-lint", "pip install cfn-lint, or pass --cfn-lint CMD") if a.cfn_lint else None
    checkov_cmd = None
    if a.checkov is not None:
        checkov_cmd = (resolve_command(a.checkov, "checkov", "pip install -r bench/iac/requirements-checkov.txt")
                       if a.checkov else ensure_checkov_venv())  # fmt: skip
    exported: dict[str, dict[str, int]] = {}
    if a.tree:
        tree = a.tree.resolve()
        absent = [slug(r) for r, _, _ in repos if not (tree / slug(r)).is_dir()]
        if absent:
            raise SetupError(f"{tree} lacks " + ", ".join(absent))
    else:
        tree = work / "tree"
        log(f"exporting {len(repos)} repositories from {a.mirror_root} into {tree}")
        exported = export(repos, a.mirror_root, tree)
    netns = netns_prefix(not a.no_netns)
    load_before = list(os.getloadavg())
    problems: list[str] = []
    trees = []
    for repo, commit, subdir in repos:
        root = tree / slug(repo)
        cmd = [*xray_cmd, "iac", "scan", str(root), "--format", "json"]
        runs, first_out, first_err = [], "", ""
        for i in range(a.runs):
            log(f"{repo}: run {i + 1}/{a.runs}")
            out, err = work / f"{slug(repo)}.{i}.out", work / f"{slug(repo)}.{i}.err"
            r = run_measured(cmd, dict(os.environ), work, out, err, a.timeout, netns)
            runs.append(r)
            if r["exit_code"] not in XRAY_OK:
                problems.append(f"{repo} run {i + 1}: exit code {r['exit_code']}" + (" (timed out)" if r["timed_out"] else "")
                                + f": {err.read_text(errors='replace').strip()[-300:]}")  # fmt: skip
            if i == 0:
                first_out, first_err = out.read_text(errors="replace"), err.read_text(errors="replace")
        entry: dict[str, Any] = {"repo": repo, "commit": commit, "subdir": subdir, "runs": runs,
                                 "figures": summarize_runs(runs, 1), "export": exported.get(repo, {})}  # fmt: skip
        entry["figures"].pop("files_per_second", None)
        try:
            entry["scan"] = summarize_scan(first_out, first_err, root)
        except json.JSONDecodeError as exc:
            problems.append(f"{repo}: xray-cmk output is not JSON: {exc}")
            entry["scan"] = None
        if entry["scan"] and entry["scan"].get("summary_parse_errors") is not None:
            problems.append(f"{repo}: stderr says {entry['scan']['summary_parse_errors']} parse errors, the JSON has "
                            f"{entry['scan']['parse_errors']}")  # fmt: skip
        if lint_cmd and entry["scan"]:
            errs = entry["scan"]["parse_error_files"]
            files = sorted({root / e["file"] for e in errs if e["file"].endswith(TEMPLATE_EXT)})
            try:
                verdicts = run_cfn_lint(lint_cmd, files, netns, a.timeout)
            except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
                problems.append(f"{repo}: cfn-lint failed: {exc}")
                verdicts = {}
            for e in errs:
                v = verdicts.get(str(root / e["file"]))
                e["class"] = v["class"] if v else "strict-only"
                if v:
                    e["cfn_lint"] = v["cfn_lint"]
        if checkov_cmd and entry["scan"]:
            log(f"{repo}: Checkov {CHECK}, file by file")
            entry["rotation"], more = run_checkov_rotation(checkov_cmd, root, json.loads(first_out),
                                                           entry["scan"]["parse_error_files"], netns, a.timeout,
                                                           work / "checkov" / slug(repo))  # fmt: skip
            problems.extend(f"{repo}: {m}" for m in more)
        trees.append(entry)
    report: dict[str, Any] = {
        "schema": SCHEMA, "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "trees": trees,
        "command": xray_cmd + ["iac", "scan"], "version": tool_version(xray_cmd, dict(os.environ)),
        "cfn_lint": tool_version(lint_cmd, dict(os.environ)) if lint_cmd else None, "problems": problems,
        "checkov": tool_version(checkov_cmd, dict(os.environ, **CHECKOV_ENV)) if checkov_cmd else None,
        "checkov_command": checkov_cmd,
        "machine": machine_info(checkov_cmd), "git": git_info(), "network_isolated": bool(netns),
        "load_average": {"before": load_before, "after": list(os.getloadavg())},
    }  # fmt: skip
    if checkov_cmd:
        report["rotation_totals"] = rotation_totals([t["rotation"] for t in trees if t.get("rotation")])
    return report, not problems


def rotation_totals(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"rows_total": 0, "judged_by_both": 0, "agree": 0, "disagree": 0, "by_verdicts": {}}
    for part in parts:
        for k in ("rows_total", "judged_by_both", "agree", "disagree"):
            out[k] += part[k]
        for pair, n in part["by_verdicts"].items():
            out["by_verdicts"][pair] = out["by_verdicts"].get(pair, 0) + n
    out["by_verdicts"] = dict(sorted(out["by_verdicts"].items(), key=lambda kv: (-kv[1], kv[0])))
    return out


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="xray-cmk-cfn-corpus-"))
    try:
        report, ok = run(a, work)
    except (SetupError, subprocess.CalledProcessError) as exc:
        print(f"cfn_corpus.py: {exc}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted; work directory kept: {work}", file=sys.stderr)
        return 130
    text = render(report)
    print(text, end="")
    if a.markdown_out:
        a.markdown_out.write_text(text)
    if a.json_out:
        a.json_out.parent.mkdir(parents=True, exist_ok=True)
        a.json_out.write_text(json.dumps(report, indent=2) + "\n")
        log(f"wrote {a.json_out}")
    if a.keep or not ok:
        log(f"work directory kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
