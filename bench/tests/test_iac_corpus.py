"""bench/iac/make_corpus.py: deterministic, at least 1,000 .tf files by default, every file valid HCL
(python-hcl2), and every Terraform shape the IaC benchmark is meant to exercise present."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import hcl2
import pytest

from conftest import BENCH

sys.path.insert(0, str(BENCH / "iac"))

import make_corpus  # noqa: E402

SCRIPT = BENCH / "iac" / "make_corpus.py"


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _parse(item: tuple[str, str]) -> tuple[str, Any, str | None]:
    path, text = item
    try:
        return path, hcl2.loads(text), None
    except Exception as exc:  # noqa: BLE001 - any parser error is the finding
        return path, None, f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="module")
def corpus() -> make_corpus.Corpus:
    return make_corpus.generate()


@pytest.fixture(scope="module")
def parsed(corpus: make_corpus.Corpus) -> dict[str, Any]:
    """Every file of the default corpus through python-hcl2 (a process per core: ~10 s)."""
    with ProcessPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        out = list(pool.map(_parse, corpus.files.items(), chunksize=25))
    errors = [f"{p}: {e}" for p, _, e in out if e]
    assert not errors, "\n".join(errors[:10])
    return {p: d for p, d, _ in out}


# --- reading python-hcl2's output: strings keep their quotes, labels too ------------------------------


def unq(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _walk(btype: str, labels: list[str], node: dict[str, Any]) -> Iterator[tuple[str, tuple[str, ...], dict[str, Any]]]:
    if node.get("__is_block__"):
        yield btype, tuple(labels), node
        return
    for k, v in node.items():
        yield from _walk(btype, [*labels, unq(k)], v)


def blocks(doc: dict[str, Any]) -> Iterator[tuple[str, tuple[str, ...], dict[str, Any]]]:
    """(type, labels, body) of each top-level block."""
    for btype, entries in doc.items():
        for entry in entries:
            yield from _walk(btype, [], entry)


def nested(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [b for b in body.get(name, []) if isinstance(b, dict)]


@pytest.fixture(scope="module")
def index(parsed: dict[str, Any]) -> dict[str, list[tuple[str, tuple[str, ...], dict[str, Any]]]]:
    """Module directory -> its blocks (with the file name first in each tuple's labels' place)."""
    out: dict[str, list[tuple[str, tuple[str, ...], dict[str, Any]]]] = {}
    for path, doc in parsed.items():
        if path.endswith(".tf"):
            out.setdefault(str(Path(path).parent), []).extend(blocks(doc))
    return out


def resources(index: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [body for bs in index.values() for t, labels, body in bs if t == "resource" and labels[0] == rtype]


# --- tests ----------------------------------------------------------------------------------------------


def test_same_seed_same_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        proc = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / name), "--modules", "60", "--seed", seed],
                              capture_output=True, text=True, check=True)  # fmt: skip
        assert re.fullmatch(r"\d+ \.tf files in 60 modules \(.*\) -> .*\n", proc.stdout), proc.stdout
    a, b, c = (tree_bytes(tmp_path / n) for n in "abc")
    assert a == b
    assert a != c
    # In-process generation is the same as the CLI's.
    assert {k: v.encode() for k, v in make_corpus.generate(60, 7).files.items()} == a


def test_default_tree_size_and_files(corpus: make_corpus.Corpus, tmp_path: Path) -> None:
    stats = corpus.stats()
    assert stats["modules"] == 250
    assert stats["tf_files"] >= 1000
    by_module: dict[str, set[str]] = {}
    for path in corpus.files:
        by_module.setdefault(str(Path(path).parent), set()).add(Path(path).name)
    assert len(by_module) == 250
    assert all(len(Path(m).parts) == 2 for m in by_module)  # <team>/<module>: a nested tree
    for names in by_module.values():
        assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf"} <= names
        assert names <= {"main.tf", "variables.tf", "outputs.tf", "versions.tf", "locals.tf", "kms.tf",
                         "terraform.tfvars"}  # fmt: skip
    for optional in ("locals.tf", "kms.tf", "terraform.tfvars"):
        assert 0 < sum(optional in n for n in by_module.values()) < 250, optional
    # The CLI prints the counts and writes exactly these files.
    proc = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "t"), "--manifest", str(tmp_path / "m.json")],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert proc.stdout.startswith(f"{stats['tf_files']} .tf files in 250 modules")
    assert tree_bytes(tmp_path / "t") == {k: v.encode() for k, v in corpus.files.items()}
    manifest = json.loads((tmp_path / "m.json").read_text())
    assert manifest["tf_files"] == stats["tf_files"] and manifest["seed"] == 1
    # An existing non-empty directory is refused.
    again = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "t")], capture_output=True, text=True)
    assert again.returncode == 2 and "not empty" in again.stderr


def test_every_file_is_hcl(parsed: dict[str, Any], corpus: make_corpus.Corpus) -> None:
    assert set(parsed) == set(corpus.files)  # the fixture already failed on any parse error


def test_fmt_style(corpus: make_corpus.Corpus) -> None:
    """What `terraform fmt` would keep: two-space indents, no tabs or trailing spaces, one final newline,
    no doubled blank lines, and `=` aligned within runs of one-line attributes."""
    for path, text in corpus.files.items():
        assert text.endswith("}\n") or path.endswith(".tfvars"), path
        assert "\t" not in text and "\n\n\n" not in text and not text.startswith("\n"), path
        assert not re.search(r" +\n", text), path
    sample = corpus.files[next(p for p in corpus.files if p.endswith("variables.tf"))]
    assert '  description = "' in sample and "  type        = string" in sample


def test_shapes_present(index: dict[str, Any], corpus: make_corpus.Corpus, parsed: dict[str, Any]) -> None:
    all_blocks = [b for bs in index.values() for b in bs]

    # provider "aws" with region and default_tags
    providers = [body for t, labels, body in all_blocks if t == "provider" and labels == ("aws",)]
    assert any("region" in p and nested(p, "default_tags") for p in providers)
    assert any(unq(p.get("alias")) == "replica" for p in providers)
    # variables with and without defaults, validation; locals; data sources
    variables = [body for t, _, body in all_blocks if t == "variable"]
    assert any("default" in v for v in variables) and any("default" not in v for v in variables)
    assert any(nested(v, "validation") for v in variables)
    assert any(t == "locals" for t, _, _ in all_blocks)
    assert any(t == "data" and labels[0] == "aws_caller_identity" for t, labels, _ in all_blocks)
    # count and for_each, on resources and module calls
    every_resource = [body for t, _, body in all_blocks if t == "resource"]
    assert any("count" in r for r in every_resource) and any("for_each" in r for r in every_resource)
    modules = [body for t, _, body in all_blocks if t == "module"]
    assert any(unq(m["source"]).startswith("../") and not unq(m["source"]).startswith("../../") for m in modules)
    assert any(unq(m["source"]).startswith("../../") for m in modules)
    assert any("for_each" in m for m in modules)

    # tracing
    lambdas = resources(index, "aws_lambda_function")
    modes = {unq(tc.get("mode")) for fn in lambdas for tc in nested(fn, "tracing_config")}
    assert {"Active", "PassThrough"} <= modes
    assert any(not nested(fn, "tracing_config") for fn in lambdas)
    stages = resources(index, "aws_api_gateway_stage")
    assert {s.get("xray_tracing_enabled") for s in stages} >= {True, False, None, "${var.xray_tracing_enabled}"}
    sfn = resources(index, "aws_sfn_state_machine")
    assert {tc.get("enabled") for s in sfn for tc in nested(s, "tracing_configuration")} == {True, False}
    assert any(not nested(s, "tracing_configuration") for s in sfn)
    assert resources(index, "aws_xray_sampling_rule") and resources(index, "aws_xray_group")

    # X-Ray encryption configs
    enc = resources(index, "aws_xray_encryption_config")
    types = {unq(e["type"]) for e in enc}
    assert types == {"KMS", "NONE"}
    key_ids = [str(unq(e.get("key_id"))) for e in enc if unq(e["type"]) == "KMS"]
    assert any(re.fullmatch(r"\$\{aws_kms_key\.\w+\.arn\}", k) for k in key_ids)
    assert "alias/aws/xray" in key_ids
    assert any(re.fullmatch(r"\$\{data\.aws_kms_alias\.\w+\.(target_key_arn|arn)\}", k) for k in key_ids)
    assert any(re.fullmatch(r"\$\{aws_kms_alias\.\w+\.(arn|name)\}", k) for k in key_ids)
    assert any(k.startswith("${var.") for k in key_ids)
    assert any(k.startswith("${var.create_kms_key ? aws_kms_key.") for k in key_ids)
    assert any(k.startswith("arn:aws:kms:") for k in key_ids)
    assert any(k.startswith("${module.") for k in key_ids)
    assert any("provider" in e for e in enc)  # a second region, through a provider alias
    data_aliases = [body for t, labels, body in all_blocks if t == "data" and labels[0] == "aws_kms_alias"]
    assert any(unq(d["name"]) == "alias/aws/xray" for d in data_aliases)
    # stacks (modules with a provider block) with and without an encryption config
    stacks = [m for m, bs in index.items() if any(t == "provider" for t, _, _ in bs)]
    with_enc = {m for m, bs in index.items() if any(t == "resource" and lb[0] == "aws_xray_encryption_config"
                                                    for t, lb, _ in bs)}  # fmt: skip
    assert any(s in with_enc for s in stacks) and any(s not in with_enc for s in stacks)

    # KMS keys
    keys = resources(index, "aws_kms_key")
    assert {k.get("enable_key_rotation") for k in keys} == {True, False, None}
    assert any("rotation_period_in_days" in k for k in keys)
    specs = {unq(k.get("customer_master_key_spec")) for k in keys}
    assert {"SYMMETRIC_DEFAULT", None} <= specs and any(str(s).startswith(("RSA_", "ECC_")) for s in specs)
    assert {k.get("is_enabled") for k in keys} == {True, False, None}
    policies = [str(k["policy"]) for k in keys if "policy" in k]
    assert any(p.startswith("${jsonencode({") for p in policies)
    assert any(p.startswith('"<<EOF') for p in policies) and any(p.startswith('"<<-EOT') for p in policies)
    assert any(re.fullmatch(r"\$\{data\.aws_iam_policy_document\.\w+\.json\}", p) for p in policies)
    assert any("policy" not in k for k in keys)
    assert resources(index, "aws_kms_key_policy") and resources(index, "aws_kms_alias")
    docs = [body for t, labels, body in all_blocks if t == "data" and labels[0] == "aws_iam_policy_document"]
    statements = [s for d in docs for s in nested(d, "statement")]
    assert any(nested(s, "principals") and nested(s, "condition") for s in statements)
    # heredoc policies hold JSON (with ${...} interpolations inside strings)
    for p in policies:
        if p.startswith('"<<'):
            body = unq(p).split("\n", 1)[1].rsplit("\n", 1)[0]
            assert json.loads(body)["Version"] == "2012-10-17"

    # unrelated resources, so that it looks like real code
    for rtype in ("aws_s3_bucket", "aws_iam_role", "aws_security_group", "aws_cloudwatch_log_group", "aws_sqs_queue",
                  "aws_dynamodb_table", "aws_iam_role_policy_attachment"):  # fmt: skip
        assert resources(index, rtype), rtype
    assert any(nested(sg, "dynamic") for sg in resources(index, "aws_security_group"))

    # terraform.tfvars parse to plain values
    tfvars = [d for p, d in parsed.items() if p.endswith("terraform.tfvars")]
    assert tfvars and all("name" in d for d in tfvars)


def test_small_trees_are_valid_too() -> None:
    for n in (1, 2, 5):
        c = make_corpus.generate(n, seed=3)
        assert c.stats()["modules"] == n
        for path, text in c.files.items():
            assert _parse((path, text))[2] is None, path
    with pytest.raises(ValueError):
        make_corpus.generate(0)
