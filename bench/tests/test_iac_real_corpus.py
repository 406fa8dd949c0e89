"""bench/iac/real_corpus.py with stand-ins for both tools (written here): the export of pinned commits
from a mirror, the commands, the figures, and the per-key agreement of kms-rotation-disabled with
CKV_AWS_7; and bench/iac/make_counted.py's module. Checkov itself is never run here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import hcl2
import pytest

from conftest import BENCH

sys.path.insert(0, str(BENCH / "iac"))

import make_counted  # noqa: E402
import real_corpus  # noqa: E402

MAIN_TF = '''resource "aws_kms_key" "on" {
  enable_key_rotation = true
}

resource "aws_kms_key" "off" {
  count = 2
}

resource "aws_kms_key" "var" {
  enable_key_rotation = var.rotate
}
'''

# xray-cmk: `on` passes, `off[0]`/`off[1]` fail, `var` is unknown. Checkov: `on` passes, `off` fails,
# `var` passes under a module call and is not judged on its own.
STUB_XRAY = r'''
import json, sys
from pathlib import Path
args = sys.argv[1:]
if args == ["--version"]:
    print("xray-cmk 0.0.0-stub"); sys.exit(0)
tree = Path(args[2])
f = next(tree.rglob("main.tf"))
def r(addr, status):
    return {"rule": "kms-rotation-disabled", "status": status, "account": str(f.parent), "region": "-",
            "resource": f"arn:aws:kms:-:000000000000:key/{addr}", "location": {"file": str(f), "line": 1}}
print(json.dumps({"summary": {"results": {"pass": 1, "fail": 2, "error": 1}},
                  "results": [r("aws_kms_key.on", "pass"), r("aws_kms_key.off[0]", "fail"),
                              r("aws_kms_key.off[1]", "fail"), r("aws_kms_key.var", "error")]}))
sys.exit(3)
'''

STUB_CHECKOV = r'''
import json, sys
from pathlib import Path
args = sys.argv[1:]
if args == ["--version"]:
    print("3.3.30"); sys.exit(0)
tree = Path(args[args.index("-d") + 1])
rel = "/" + next(tree.rglob("main.tf")).relative_to(tree).as_posix()
def c(res):
    return {"check_id": "CKV_AWS_7", "file_path": rel, "resource": res}
print(json.dumps({"check_type": "terraform",
                  "results": {"passed_checks": [c("aws_kms_key.on"), c("module.m.aws_kms_key.var")],
                              "failed_checks": [c("aws_kms_key.off")], "skipped_checks": []},
                  "summary": {"passed": 2, "failed": 1, "skipped": 0, "parsing_errors": 0}}))
sys.exit(1)
'''


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def mirror(tmp_path: Path) -> tuple[Path, Path]:
    """A mirror root holding owner+name/repo (a bare git dir) and a list pinning its commit."""
    src = tmp_path / "src"
    (src / "modules" / "k").mkdir(parents=True)
    (src / "modules" / "k" / "main.tf").write_text(MAIN_TF)
    git("init", "-q", cwd=src)
    git("add", ".", cwd=src)
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "one", cwd=src)
    commit = git("rev-parse", "HEAD", cwd=src)
    root = tmp_path / "mirror"
    (root / "owner+name").mkdir(parents=True)
    git("clone", "-q", "--bare", str(src), str(root / "owner+name" / "repo"), cwd=tmp_path)
    listing = tmp_path / "list.txt"
    listing.write_text(f"# a comment\nowner/name {commit}\n")
    return root, listing


def stub(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / f"{name}.py"
    p.write_text(text)
    return f"{sys.executable} {p}"


def test_read_list_rejects_malformed_lines(tmp_path: Path) -> None:
    bad = tmp_path / "l.txt"
    bad.write_text("owner/name\n")
    with pytest.raises(real_corpus.SetupError):
        real_corpus.read_list(bad)


def test_export_and_agreement(tmp_path: Path, mirror: tuple[Path, Path]) -> None:
    root, listing = mirror
    out = tmp_path / "r.json"
    code = real_corpus.main(["--list", str(listing), "--mirror-root", str(root), "--no-netns", "--runs", "2",
                             "--xray-cmk", stub(tmp_path, "x", STUB_XRAY),
                             "--checkov", stub(tmp_path, "c", STUB_CHECKOV), "--json-out", str(out)])  # fmt: skip
    assert code == 0
    rep = json.loads(out.read_text())
    assert rep["corpus"]["tf_files"] == 1 and rep["corpus"]["kms_key_blocks"] == 3
    assert [len(t["runs"]) for t in rep["tools"]] == [2, 1]
    assert all(t["figures"]["files_per_second"] for t in rep["tools"])
    rows = {r["address"]: r for r in rep["agreement"]["rows"]}
    assert set(rows) == {"aws_kms_key.on", "aws_kms_key.off", "aws_kms_key.var"}
    assert {r["file"] for r in rows.values()} == {"owner+name/modules/k/main.tf"}
    assert rows["aws_kms_key.on"]["agree"] and rows["aws_kms_key.off"]["agree"]
    assert rows["aws_kms_key.off"]["xray_cmk"] == "fail"  # both instances fold into the block
    assert (rows["aws_kms_key.var"]["xray_cmk"], rows["aws_kms_key.var"]["checkov"]) == ("error", "pass")
    assert rep["agreement"]["agree"] == 2 and rep["agreement"]["disagree"] == 1


def test_missing_commit_is_a_setup_error(tmp_path: Path, mirror: tuple[Path, Path]) -> None:
    root, listing = mirror
    listing.write_text("owner/name " + "0" * 40 + "\n")
    code = real_corpus.main(["--list", str(listing), "--mirror-root", str(root), "--no-netns",
                             "--xray-cmk", stub(tmp_path, "x", STUB_XRAY),
                             "--checkov", stub(tmp_path, "c", STUB_CHECKOV)])  # fmt: skip
    assert code == 2


def test_verdict_folds_instances() -> None:
    assert real_corpus.verdict([]) == "none"
    assert real_corpus.verdict([("a[0]", "fail"), ("a[1]", "fail")]) == "fail"
    assert real_corpus.verdict([("a[0]", "fail"), ("a[1]", "pass")]) == "mixed (1 fail, 1 pass)"


@pytest.mark.parametrize("repeat", ["count", "for_each"])
def test_make_counted_writes_valid_hcl(tmp_path: Path, repeat: str) -> None:
    make_counted.main([str(tmp_path), "--count", "7", "--repeat", repeat])
    main = hcl2.loads((tmp_path / "main.tf").read_text())
    hcl2.loads((tmp_path / "versions.tf").read_text())
    types = [next(iter(r)).strip('"') for r in main["resource"]]
    assert types == ["aws_kms_key", "aws_kms_alias", "aws_xray_encryption_config"]
    text = (tmp_path / "main.tf").read_text()
    assert ("count               = 7" in text) if repeat == "count" else ("range(7)" in text)


def test_checkov_report_instead_of_a_run(tmp_path: Path, mirror: tuple[Path, Path]) -> None:
    root, listing = mirror
    tree = tmp_path / "tree"
    real_corpus.export(real_corpus.read_list(listing), root, tree)
    saved = tmp_path / "checkov.json"
    saved.write_text(subprocess.run([sys.executable, stub(tmp_path, "c", STUB_CHECKOV).split()[1], "-d", str(tree)],
                                    capture_output=True, text=True).stdout)  # fmt: skip
    out = tmp_path / "r.json"
    code = real_corpus.main(["--list", str(listing), "--tree", str(tree), "--no-netns", "--runs", "1",
                             "--xray-cmk", stub(tmp_path, "x", STUB_XRAY), "--checkov", "/nonexistent/checkov",
                             "--checkov-report", str(saved), "--json-out", str(out)])  # fmt: skip
    assert code == 0
    rep = json.loads(out.read_text())
    assert [t["label"] for t in rep["tools"]] == ["xray-cmk"] and rep["checkov_report"] == str(saved)
    assert rep["agreement"]["agree"] == 2 and rep["agreement"]["disagree"] == 1
