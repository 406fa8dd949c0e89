"""bench/iac/cfn_corpus.py with stand-ins for xray-cmk and cfn-lint (written here): the list, the export
of a pinned commit (a subdirectory, a blob the mirror lacks), the figures read from a scan, and the
classification of parse errors. Neither real tool is run here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BENCH

sys.path.insert(0, str(BENCH / "iac"))

import cfn_corpus  # noqa: E402

TEMPLATE = "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  K:\n    Type: AWS::KMS::Key\n"
DUP = "Resources:\n  K:\n    Type: AWS::KMS::Key\n  K:\n    Type: AWS::KMS::Key\n"
BAD = "Resources:\n  K: [unclosed\n"

# Like xray-cmk: every YAML file counts; dup.yaml and bad.yaml do not parse, the others are templates;
# a .tf file with `broken` in it is a Terraform parse error. Summary lines on stderr, JSON on stdout.
STUB_XRAY = r'''
import json, sys
from pathlib import Path
args = sys.argv[1:]
if args == ["--version"]:
    print("xray-cmk 0.0.0-stub"); sys.exit(0)
tree = Path(args[2])
ymls = sorted(tree.rglob("*.yaml"))
tfs = sorted(tree.rglob("*.tf"))
errs = [p for p in ymls if p.name in ("dup.yaml", "bad.yaml")] + [p for p in tfs if "broken" in p.read_text()]
def e(p):
    return {"rule": "iac-parse-error", "status": "error", "resource": str(p), "message": f"cannot read {p.name}",
            "location": {"file": str(p), "line": 4, "column": 3}}
results = [e(p) for p in errs] + [{"rule": "kms-rotation-disabled", "status": "fail", "resource": "k",
                                   "message": "off", "location": {"file": str(ymls[0]), "line": 3}}]
print(json.dumps({"summary": {"results": {"pass": 0, "fail": 1, "error": len(errs)}}, "results": results}))
n_tf = len([p for p in errs if p.suffix == ".tf"])
print(f"xray-cmk: {len(tfs)} files in {len({p.parent for p in tfs})} modules, {n_tf} parse errors · 0.01 s (1 files/s)",
      file=sys.stderr)
n = len(errs) - n_tf
print(f"xray-cmk: {len(ymls) - n} CloudFormation templates of {len(ymls)} YAML/JSON files, {n} parse errors",
      file=sys.stderr)
sys.exit(3 if errs else 1)
'''

# Like cfn-lint --format json: an E0000 per file it cannot read, a duplicate for dup.yaml.
STUB_CFN_LINT = r'''
import json, sys
files = [a for a in sys.argv[1:] if a.endswith(".yaml")]
out = []
for f in files:
    if f.endswith("dup.yaml"):
        out.append({"Filename": f, "Rule": {"Id": "E0000"}, "Message": 'Duplicate found "K" (line 4)'})
    elif f.endswith("bad.yaml"):
        out.append({"Filename": f, "Rule": {"Id": "E0000"}, "Message": "could not find expected ':'"})
print(json.dumps(out))
sys.exit(2 if out else 0)
'''


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def mirror(tmp_path: Path) -> tuple[Path, str, Path]:
    """A mirror root with owner+name/repo (a bare git dir whose big.zip blob is gone) and its commit."""
    src = tmp_path / "src"
    files = {"top/template.yaml": TEMPLATE, "sub/a/template.yaml": TEMPLATE, "sub/a/dup.yaml": DUP,
             "sub/b/bad.yaml": BAD, "sub/b/main.tf": 'resource "x" "y" { broken', "sub/big.zip": "zip" * 100}  # fmt: skip
    for name, text in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    git("init", "-q", cwd=src)
    git("add", ".", cwd=src)
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "one", cwd=src)
    commit = git("rev-parse", "HEAD", cwd=src)
    big = git("rev-parse", f"{commit}:sub/big.zip", cwd=src)
    root = tmp_path / "mirror"
    bare = root / "owner+name" / "repo"
    git("clone", "-q", "--bare", str(src), str(bare), cwd=tmp_path)
    (bare / "objects" / big[:2] / big[2:]).unlink()  # as a snapshot without its largest files
    return root, commit, tmp_path


def stub(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / f"{name}.py"
    p.write_text(text)
    return f"{sys.executable} {p}"


def test_read_list_takes_an_optional_subdir_and_rejects_the_rest(tmp_path: Path) -> None:
    good = tmp_path / "l.txt"
    good.write_text("# c\na/b 1234567\nc/d 89abcdef tests/input/  # comment\n")
    assert cfn_corpus.read_list(good) == [("a/b", "1234567", None), ("c/d", "89abcdef", "tests/input")]
    for bad in ("a/b\n", "a/b xyz\n", "a/b 1234567 ../up\n", "a/b 1234567 /abs\n", "a/b 1234567 x y\n", "# only\n"):
        good.write_text(bad)
        with pytest.raises(cfn_corpus.SetupError):
            cfn_corpus.read_list(good)


def test_export_scan_and_classify(mirror: tuple[Path, str, Path]) -> None:
    root, commit, tmp_path = mirror
    listing = tmp_path / "list.txt"
    listing.write_text(f"owner/name {commit} sub\n")
    out = tmp_path / "r.json"
    md = tmp_path / "r.md"
    code = cfn_corpus.main(["--list", str(listing), "--mirror-root", str(root), "--no-netns", "--runs", "2",
                            "--xray-cmk", stub(tmp_path, "x", STUB_XRAY), "--cfn-lint", stub(tmp_path, "l", STUB_CFN_LINT),
                            "--json-out", str(out), "--markdown-out", str(md)])  # fmt: skip
    assert code == 0
    rep = json.loads(out.read_text())
    (tree,) = rep["trees"]
    assert tree["export"] == {"files_written": 4, "blobs_absent": 1}  # top/ is outside the subdir
    assert len(tree["runs"]) == 2 and tree["figures"]["wall_seconds"] is not None
    scan = tree["scan"]
    assert (scan["yaml_json_files"], scan["templates"], scan["parse_errors"]) == (3, 1, 2)
    assert (scan["tf_files"], scan["tf_modules"], scan["tf_parse_errors"]) == (1, 1, 1)
    files = {e["file"]: e for e in scan["parse_error_files"]}
    assert set(files) == {"sub/a/dup.yaml", "sub/b/bad.yaml"}
    assert files["sub/a/dup.yaml"]["class"] == "duplicate key"
    assert files["sub/b/bad.yaml"]["class"] == "invalid for PyYAML too"
    assert rep["problems"] == []
    text = md.read_text()
    assert f"| `owner/name` @{commit[:7]}, `sub` | 3 | 1 | 2 |" in text
    assert "1 duplicate key, 1 invalid for PyYAML too" in text and "1 blobs absent from the mirror" in text


def test_summarize_scan_reads_both_summaries_and_keeps_terraform_apart(tmp_path: Path) -> None:
    root = tmp_path / "t"
    doc = {"summary": {"results": {"error": 2}}, "results": [
        {"rule": "iac-parse-error", "message": "m", "location": {"file": f"{root}/a/t.yaml", "line": 7}},
        {"rule": "iac-parse-error", "message": "tf", "location": {"file": f"{root}/m/main.tf", "line": 1}},
        {"rule": "kms-rotation-disabled", "message": "x", "location": {"file": f"{root}/a/t.yaml", "line": 2}}]}  # fmt: skip
    err = ("xray-cmk: 3 files in 2 modules, 1 parse errors · 0.10 s (30 files/s)\n"
           "xray-cmk: 9 CloudFormation templates of 40 YAML/JSON files, 1 parse errors\n")  # fmt: skip
    s = cfn_corpus.summarize_scan(json.dumps(doc), err, root)
    assert (s["yaml_json_files"], s["templates"], s["parse_errors"], s["tf_parse_errors"]) == (40, 9, 1, 1)
    assert s["parse_error_files"] == [{"file": "a/t.yaml", "line": 7, "message": "m"}]
    assert "summary_parse_errors" not in s
    # A scan without the summary lines (--quiet) still gives its parse errors.
    assert cfn_corpus.summarize_scan(json.dumps(doc), "", root)["templates"] is None


def test_classify_prefers_the_duplicate_and_ignores_other_rules() -> None:
    lint = [{"Filename": "a.yaml", "Rule": {"Id": "E0000"}, "Message": "could not find expected ':'"},
            {"Filename": "a.yaml", "Rule": {"Id": "E0000"}, "Message": "Duplicate found 'K'"},
            {"Filename": "b.yaml", "Rule": {"Id": "E3012"}, "Message": "wrong type"}]  # fmt: skip
    got = cfn_corpus.classify(json.dumps(lint))
    assert got == {"a.yaml": {"class": "duplicate key", "cfn_lint": "Duplicate found 'K'"}}


# --- rotation against Checkov's CKV_AWS_7 -------------------------------------------------------------

ROOT = Path("/w/tree/o+n")
ARN = "arn:aws:kms:-:000000000000:key/"


def rot(file: str, resource_path: str, status: str) -> dict:
    return {"rule": "kms-rotation-disabled", "status": status, "resource": ARN + resource_path,
            "location": {"file": file, "line": 3}}  # fmt: skip


def ckv(file: str, resource: str, result: str) -> dict:
    return {"check_id": "CKV_AWS_7", "resource": resource, "file_path": "/" + file.rsplit("/", 1)[-1],
            "file_abs_path": f"{ROOT}/{file}", "check_result": {"result": result.upper()}}  # fmt: skip


def test_split_key_resource_standalone_nested_cdk_and_terraform() -> None:
    f = f"{ROOT}/sub/child.yaml"
    assert cfn_corpus.split_key_resource(f"{ARN}{f}/Key", f) == ("Key", None)
    assert cfn_corpus.split_key_resource(f"{ARN}{ROOT}/parent.yaml/Nested/{f}/Key", f) == ("Key", f"{ROOT}/parent.yaml/Nested")
    cdk = "cdk.out/App.template.json"
    assert cfn_corpus.split_key_resource(f"{ARN}{cdk}/Key1234 (App/Key/Resource)", cdk) == ("Key1234", None)
    tf = f"{ROOT}/m/main.tf"
    assert cfn_corpus.split_key_resource(f"arn:aws:kms:us-east-1:0:key/{ROOT}/m/aws_kms_key.k", tf) == ("aws_kms_key.k", None)
    assert cfn_corpus.split_key_resource(f"{ARN}{ROOT}/m/module.a.aws_kms_key.k[0]", tf) == ("aws_kms_key.k", "module.a")


def test_join_rotation_compares_the_standalone_verdict_and_explains_each_side() -> None:
    scan = {"results": [
        rot(f"{ROOT}/a.yaml", f"{ROOT}/a.yaml/K", "pass"),
        rot(f"{ROOT}/sub/child.yaml", f"{ROOT}/sub/child.yaml/Key", "pass"),  # alone, with its default
        rot(f"{ROOT}/sub/child.yaml", f"{ROOT}/parent.yaml/Nested/{ROOT}/sub/child.yaml/Key", "fail"),  # as nested
        rot(f"{ROOT}/s.yaml", f"{ROOT}/s.yaml/StrKey", "error"),
        rot(f"{ROOT}/only-xray.yaml", f"{ROOT}/only-xray.yaml/K", "fail"),
        rot(f"{ROOT}/m/main.tf", f"{ROOT}/m/aws_kms_key.k", "fail"),
        {"rule": "kms-key-policy-public", "status": "fail", "resource": ARN + f"{ROOT}/a.yaml/K",
         "location": {"file": f"{ROOT}/a.yaml"}}]}  # fmt: skip
    xray = cfn_corpus.xray_rotation(scan, ROOT)
    assert xray[("sub/child.yaml", "Key")] == [(None, "pass"), ("parent.yaml/Nested", "fail")]
    report = [{"check_type": "cloudformation", "results": {
        "passed_checks": [ckv("a.yaml", "AWS::KMS::Key.K", "passed"), ckv("sub/child.yaml", "AWS::KMS::Key.Key", "passed"),
                          ckv("asym.yaml", "AWS::KMS::Key.Asym", "passed")],
        "failed_checks": [ckv("s.yaml", "AWS::KMS::Key.StrKey", "failed"), ckv("m/main.tf", "aws_kms_key.k", "failed"),
                          {"check_id": "CKV_AWS_1", "resource": "AWS::KMS::Key.K", "file_abs_path": f"{ROOT}/a.yaml"}],
        "parsing_errors": [f"{ROOT}/dup.yaml", "/bad-ckv.yaml"]},
        "summary": {"passed": 3, "failed": 2, "parsing_errors": 2}}, {"passed": 0, "failed": 0}]  # fmt: skip
    verdicts, unparsed, summary = cfn_corpus.checkov_rotation(json.dumps(report), ROOT)
    assert verdicts[("m/main.tf", "aws_kms_key.k")] == "failed" and ("a.yaml", "K") in verdicts
    assert unparsed == {"dup.yaml", "bad-ckv.yaml"} and summary["passed"] == 3
    verdicts[("bad-xray.yaml", "B")] = "failed"
    files = ["a.yaml", "sub/child.yaml", "s.yaml", "only-xray.yaml", "asym.yaml", "dup.yaml", "bad-xray.yaml",
             "bad-ckv.yaml", "cond.yaml", "m/main.tf"]  # fmt: skip
    j = cfn_corpus.join_rotation(xray, {"dup.yaml", "bad-xray.yaml"}, verdicts, unparsed, files)
    rows = {(r["file"], r["key"]): (r["xray_cmk"], r["checkov"], r["agree"]) for r in j["rows"]}
    assert rows == {
        ("a.yaml", "K"): ("pass", "passed", True),
        ("sub/child.yaml", "Key"): ("pass", "passed", True),  # the standalone verdict is compared
        ("s.yaml", "StrKey"): ("error", "failed", False),
        ("only-xray.yaml", "K"): ("fail", "not reported", False),
        ("asym.yaml", "Asym"): ("not reported", "passed", False),
        ("dup.yaml", "-"): ("parse error", "parsing error", True),
        ("bad-xray.yaml", "B"): ("parse error", "failed", False),
        ("bad-ckv.yaml", "-"): ("not reported", "parsing error", False),
        ("m/main.tf", "aws_kms_key.k"): ("fail", "failed", True),
    }
    (child,) = [r for r in j["rows"] if r["key"] == "Key"]
    assert child["xray_cmk_instances"] == ["parent.yaml/Nested: fail"]
    assert j["files_without_a_verdict"] == ["cond.yaml"]
    assert (j["rows_total"], j["agree"], j["disagree"], j["judged_by_both"]) == (9, 4, 5, 4)
    assert j["by_verdicts"]["pass / passed"] == 2
    tot = cfn_corpus.rotation_totals([j, j])
    assert (tot["rows_total"], tot["agree"], tot["by_verdicts"]["pass / passed"]) == (18, 8, 4)


def test_a_key_judged_only_as_instances_is_compared_on_them() -> None:
    xray = {("c.yaml", "K"): [("p.yaml/A", "fail"), ("p.yaml/B", "pass")]}
    j = cfn_corpus.join_rotation(xray, set(), {("c.yaml", "K"): "failed"}, set(), ["c.yaml"])
    assert (j["rows"][0]["xray_cmk"], j["rows"][0]["agree"]) == ("mixed (fail, pass)", False)


STUB_CHECKOV = r'''
import json, sys
args = sys.argv[1:]
if args == ["--version"]:
    print("3.3.30"); sys.exit(0)
target = args[args.index("-f" if "-f" in args else "-d") + 1]
assert "--check" in args and args[args.index("--check") + 1] == "CKV_AWS_7"
if target.endswith("bad.yaml"):
    print(json.dumps({"check_type": "cloudformation", "results": {"passed_checks": [], "failed_checks": [],
                      "parsing_errors": [target]}, "summary": {"parsing_errors": 1}}))
elif "-d" in args:
    print(json.dumps({"results": {"failed_checks": [{"check_id": "CKV_AWS_7", "resource": "aws_kms_key.k",
                      "file_path": "/main.tf", "file_abs_path": __import__("os").path.abspath(target + "/main.tf")}]}}))
elif target.endswith("t.yaml"):
    print(json.dumps({"results": {"passed_checks": [{"check_id": "CKV_AWS_7", "resource": "AWS::KMS::Key.K",
                      "file_path": "/" + target, "file_abs_path": __import__("os").path.abspath(target)}]}}))
else:
    print(json.dumps({"passed": 0, "failed": 0, "parsing_errors": 0, "resource_count": 0}))
sys.exit(0)
'''


def test_run_checkov_rotation_file_by_file(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    for name, text in {"a/t.yaml": TEMPLATE, "a/bad.yaml": "Type: AWS::KMS::Key\n  x: [",
                       "b/other.json": '{"doc": "resources of type AWS::KMS::Key"}', "m/main.tf": "",
                       "c/cond.yml": "Resources:\n  C:\n    Type: 'AWS::KMS::Key'\n"}.items():  # fmt: skip
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    scan = {"results": [rot(f"{root}/a/t.yaml", f"{root}/a/t.yaml/K", "pass"),
                        rot(f"{root}/m/main.tf", f"{root}/m/aws_kms_key.k", "pass")]}  # fmt: skip
    errs = [{"file": "a/bad.yaml", "line": 2, "message": "m"}]
    cmd = stub(tmp_path, "c", STUB_CHECKOV).split()
    j, problems = cfn_corpus.run_checkov_rotation(cmd, root, scan, errs, [], 60, tmp_path / "out")
    assert problems == []
    assert j["templates"] == ["a/bad.yaml", "a/t.yaml", "c/cond.yml"]  # not the JSON that only mentions the type
    assert j["terraform_dirs"] == ["m"] and len(j["checkov_runs"]) == 4
    rows = {(r["file"], r["key"]): (r["xray_cmk"], r["checkov"]) for r in j["rows"]}
    assert rows == {("a/t.yaml", "K"): ("pass", "passed"), ("a/bad.yaml", "-"): ("parse error", "parsing error"),
                    ("m/main.tf", "aws_kms_key.k"): ("pass", "failed")}  # fmt: skip
    assert j["files_without_a_verdict"] == ["c/cond.yml"]
    assert (j["agree"], j["disagree"]) == (2, 1)
