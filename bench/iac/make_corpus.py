#!/usr/bin/env python3
"""A deterministic, realistic Terraform tree for the ``xray-cmk iac scan`` benchmark.

    python3 bench/iac/make_corpus.py OUT_DIR [--modules 250] [--seed 1] [--manifest FILE]

OUT_DIR/<team>/<module>/ holds one module each: main.tf, variables.tf, outputs.tf, versions.tf, and
sometimes locals.tf, kms.tf and terraform.tfvars (about 1,250 .tf files for the default 250
modules). About a fifth of the modules are root "stacks" (provider "aws" with default_tags, an s3
backend, module calls with local sources such as "../orders-api"); the others are leaf modules:
services (Lambda, API Gateway, Step Functions), KMS, observability (X-Ray groups, sampling rules,
encryption config), data (S3, DynamoDB, SQS). X-Ray encryption configs appear with a customer
managed key by reference, "NONE", the AWS managed alias (literal or data.aws_kms_alias), a
variable, a conditional, a literal ARN, a module output, or not at all; KMS keys with and without
rotation, rotation periods, asymmetric specs, disabled keys, and policies as jsonencode(), heredoc
JSON, data "aws_iam_policy_document" or a separate aws_kms_key_policy.

Same seed and module count, same bytes: one random.Random(seed) drives everything, in a fixed
order. Every option of every shape dimension (see DIMENSIONS) is used by the first picks of that
dimension, so any tree of 40 modules or more contains each at least once. The output is written
in ``terraform fmt`` style (two-space indents, aligned ``=`` in runs of one-line attributes).
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


# --- a small HCL writer ----------------------------------------------------------------------------


@dataclass
class Obj:
    """An object constructor; pairs are (key, expression)."""

    pairs: list[tuple[str, Expr]]


@dataclass
class Arr:
    items: list[Expr]


@dataclass
class Call:
    """fn(arg, ...): only the last argument may span lines (``jsonencode({`` ... ``})``)."""

    fn: str
    args: list[Expr]


@dataclass
class Heredoc:
    lines: list[str]
    indented: bool = False  # <<-EOT with the body indented one level; else <<EOF with lines as given


Expr = str | Obj | Arr | Call | Heredoc  # a str is one line of HCL, already written


@dataclass
class Attr:
    name: str
    value: Expr


@dataclass
class Block:
    type: str
    labels: list[str] = field(default_factory=list)
    body: list[Item] = field(default_factory=list)
    comment: str | None = None  # a "# ..." line above the block


class _Blank:
    pass


BLANK = _Blank()
Item = Attr | Block | _Blank
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def q(text: str) -> str:
    """A quoted HCL string; ${...} in text stays an interpolation."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ref_or_q(text: str) -> str:
    """A template that is only one interpolation becomes the bare reference."""
    m = re.fullmatch(r"\$\{([^{}]+)\}", text)
    return m.group(1) if m else q(text)


def _pad(level: int) -> str:
    return "  " * level


def expr_lines(e: Expr, level: int) -> list[str]:
    """The first line continues after ``key = ``; later lines carry their own indentation."""
    if isinstance(e, str):
        return [e]
    if isinstance(e, Obj):
        if not e.pairs:
            return ["{}"]
        return ["{", *body_lines([Attr(k, v) for k, v in e.pairs], level + 1, object_keys=True), _pad(level) + "}"]
    if isinstance(e, Arr):
        rendered = [expr_lines(i, level + 1) for i in e.items]
        if all(len(r) == 1 for r in rendered) and sum(len(r[0]) + 2 for r in rendered) <= 72:
            return ["[" + ", ".join(r[0] for r in rendered) + "]"]
        out = ["["]
        for r in rendered:
            out.append(_pad(level + 1) + r[0])
            out.extend(r[1:])
            out[-1] += ","
        return [*out, _pad(level) + "]"]
    if isinstance(e, Call):
        rendered = [expr_lines(a, level) for a in e.args]
        if all(len(r) == 1 for r in rendered):
            return [e.fn + "(" + ", ".join(r[0] for r in rendered) + ")"]
        assert all(len(r) == 1 for r in rendered[:-1]), "only the last argument may span lines"
        head = e.fn + "(" + "".join(r[0] + ", " for r in rendered[:-1])
        last = rendered[-1]
        return [head + last[0], *last[1:-1], last[-1] + ")"]
    if isinstance(e, Heredoc):
        if e.indented:
            return ["<<-EOT", *[(_pad(level + 1) + ln) if ln else "" for ln in e.lines], _pad(level) + "EOT"]
        return ["<<EOF", *e.lines, "EOF"]
    raise TypeError(e)


def _key(name: str, object_keys: bool) -> str:
    return name if not object_keys or IDENT.match(name) else q(name)


def body_lines(items: list[Item], level: int, object_keys: bool = False) -> list[str]:
    # No blank line at either end of a body, never two in a row.
    cleaned: list[Item] = []
    for it in items:
        if isinstance(it, _Blank) and (not cleaned or isinstance(cleaned[-1], _Blank)):
            continue
        cleaned.append(it)
    while cleaned and isinstance(cleaned[-1], _Blank):
        cleaned.pop()

    out: list[str] = []
    run: list[tuple[str, str]] = []  # one-line attributes waiting to be aligned

    def flush() -> None:
        width = max((len(k) for k, _ in run), default=0)
        out.extend(f"{_pad(level)}{k.ljust(width)} = {v}" for k, v in run)
        run.clear()

    for it in cleaned:
        if isinstance(it, _Blank):
            flush()
            out.append("")
        elif isinstance(it, Block):
            flush()
            out.extend(block_lines(it, level))
        else:
            key = _key(it.name, object_keys)
            lines = expr_lines(it.value, level)
            if len(lines) == 1:
                run.append((key, lines[0]))
            elif isinstance(it.value, Heredoc):  # `key = <<EOF` lines up with the run above it
                run.append((key, lines[0]))
                flush()
                out.extend(lines[1:])
            else:  # `key = {` opens a multi-line value: it is not aligned
                flush()
                out.append(f"{_pad(level)}{key} = {lines[0]}")
                out.extend(lines[1:])
    flush()
    return out


def block_lines(b: Block, level: int) -> list[str]:
    head = _pad(level) + b.type + "".join(f" {q(label)}" for label in b.labels) + " {"
    out = [_pad(level) + "# " + b.comment] if b.comment else []
    body = body_lines(b.body, level + 1)
    if not body:  # data "aws_region" "current" {}
        return [*out, head + "}"]
    return [*out, head, *body, _pad(level) + "}"]


def file_text(items: list[Item]) -> str:
    """Top-level items; consecutive blocks are separated by one blank line."""
    spaced: list[Item] = []
    for it in items:
        if spaced and isinstance(it, Block) and not isinstance(spaced[-1], _Blank):
            spaced.append(BLANK)
        spaced.append(it)
    return "\n".join(body_lines(spaced, 0)) + "\n"


# --- the generator -----------------------------------------------------------------------------------

# Each dimension's options; the first len(options) picks of a dimension use every option once, in
# this order, then picks are weighted-random. The tests look for each of these shapes in the tree.
DIMENSIONS: dict[str, list[tuple[str, int]]] = {
    "kind": [("stack", 20), ("service", 32), ("kms", 14), ("observability", 12), ("data", 22)],
    "xray_encryption": [
        ("kms_ref", 22), ("none", 12), ("alias_literal", 8), ("alias_data", 8), ("absent", 30),
        ("kms_alias_ref", 6), ("kms_var", 6), ("conditional", 4), ("literal_arn", 4),
    ],
    "key_spec": [("SYMMETRIC_DEFAULT", 30), ("absent", 55), ("RSA_2048", 5), ("ECC_NIST_P256", 5), ("RSA_4096", 2),
                 ("HMAC_256", 3)],
    "key_rotation": [("true", 60), ("false", 15), ("absent", 25)],
    "rotation_period": [("absent", 70), ("90", 10), ("180", 10), ("365", 10)],
    "key_enabled": [("absent", 80), ("true", 12), ("false", 8)],
    "key_policy": [("jsonencode", 30), ("heredoc", 15), ("policy_document", 30), ("key_policy_resource", 10),
                   ("none", 15)],
    "key_repeat": [("single", 80), ("count", 12), ("for_each", 8)],
    "lambda_tracing": [("Active", 45), ("PassThrough", 15), ("absent", 40)],
    "lambda_repeat": [("single", 60), ("count", 15), ("for_each", 25)],
    "apigw_tracing": [("true", 50), ("false", 20), ("absent", 20), ("var", 10)],
    "sfn_tracing": [("true", 50), ("false", 20), ("absent", 30)],
    "heredoc_style": [("plain", 60), ("indented", 40)],
}  # fmt: skip

TEAMS = ["platform", "payments", "identity", "analytics", "edge", "observability", "checkout", "search"]
APPS = [
    "orders", "billing", "ledger", "catalog", "inventory", "shipping", "accounts", "sessions", "tokens",
    "reports", "events", "metrics", "media", "notify", "profile", "pricing", "cart", "reviews", "fraud",
    "audit", "gateway", "scheduler", "ingest", "exports", "webhooks", "partners", "support", "loyalty",
]  # fmt: skip
COMPONENTS = {
    "stack": ["stack", "env", "live", "root"],
    "service": ["api", "worker", "handler", "workflow", "consumer", "processor"],
    "kms": ["kms", "keys", "encryption"],
    "observability": ["tracing", "xray", "monitoring", "telemetry"],
    "data": ["store", "bucket", "table", "queue", "archive"],
}
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "ap-northeast-1"]
RUNTIMES = ["python3.12", "python3.11", "nodejs20.x", "nodejs18.x", "java21", "provided.al2023"]
ACCOUNT = "${data.aws_caller_identity.current.account_id}"
PARTITION = "${data.aws_partition.current.partition}"
REGION = "${data.aws_region.current.name}"


@dataclass
class Var:
    name: str
    type: Expr
    description: str
    default: Expr | None  # None: required
    sample: Expr  # a value a caller or terraform.tfvars passes
    sensitive: bool = False
    validation: tuple[str, str] | None = None
    nullable: bool | None = None


@dataclass
class Key:
    """A generated aws_kms_key and how to refer to one instance of it."""

    resource: str
    repeat: str  # single, count, for_each
    instance: str  # "", "[0]" or '["traces"]'
    symmetric: bool

    def attr(self, name: str) -> str:
        return f"aws_kms_key.{self.resource}{self.instance}.{name}"


class Module:
    def __init__(self, gen: Generator, team: str, name: str, kind: str) -> None:
        self.gen, self.rng, self.team, self.name, self.kind = gen, gen.rng, team, name, kind
        self.vars: dict[str, Var] = {}
        self.locals: list[tuple[str, Expr]] = []
        self.data: dict[str, Block] = {}
        self.main: list[Block] = []
        self.kms: list[Block] = []
        self.outputs: list[Block] = []
        self.keys: list[Key] = []
        self.calls: list[tuple[str, Module, bool]] = []  # (module block name, callee, with for_each)
        self.stack_replica = False
        self.split_kms = self.rng.random() < 0.5
        self.locals_file = self.rng.random() < 0.45
        self.tfvars = self.rng.random() < (0.6 if kind == "stack" else 0.08)
        self.ident = name.replace("-", "_")

    # references that declare what they need
    def var(self, name: str, type_: Expr, description: str, default: Expr | None, sample: Expr | None = None,
            **kw: object) -> str:  # fmt: skip
        if name not in self.vars:
            self.vars[name] = Var(name, type_, description, default, sample if sample is not None else default or '""',
                                  **kw)  # type: ignore[arg-type]  # fmt: skip
        return f"var.{name}"

    def datasource(self, type_: str, name: str, body: list[Item] | None = None) -> str:
        key = f"{type_}.{name}"
        if key not in self.data:
            self.data[key] = Block("data", [type_, name], body or [])
        return f"data.{key}"

    def account(self) -> str:
        self.datasource("aws_caller_identity", "current")
        return ACCOUNT

    def partition(self) -> str:
        self.datasource("aws_partition", "current")
        return PARTITION

    def region(self) -> str:
        self.datasource("aws_region", "current")
        return REGION

    def output(self, name: str, value: Expr, description: str, sensitive: bool = False) -> None:
        body: list[Item] = [Attr("description", q(description)), Attr("value", value)]
        if sensitive:
            body.append(Attr("sensitive", "true"))
        self.outputs.append(Block("output", [name], body))

    def add(self, *blocks: Block, kms: bool = False) -> None:
        (self.kms if kms and self.split_kms else self.main).extend(blocks)


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.picks: Counter[str] = Counter()
        self.shapes: Counter[str] = Counter()
        self.uuid_count = 0

    def pick(self, dim: str) -> str:
        options = DIMENSIONS[dim]
        n = self.picks[dim]
        self.picks[dim] += 1
        value = options[n][0] if n < len(options) else self.rng.choices([o for o, _ in options],
                                                                          [w for _, w in options])[0]  # fmt: skip
        self.shapes[f"{dim}:{value}"] += 1
        return value

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def uuid(self) -> str:
        r = self.rng.getrandbits(128)
        h = f"{r:032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


# --- common pieces ------------------------------------------------------------------------------------


def standard_vars(m: Module) -> None:
    m.var("name", "string", "Name of the service; prefixes every resource name.", None, q(m.name))
    if m.gen.chance(0.5):
        m.var("environment", "string", "Deployment environment (dev, staging or prod).", q("dev"), q("prod"),
              validation=('contains(["dev", "staging", "prod"], var.environment)',
                          "environment must be one of dev, staging or prod."))  # fmt: skip
    else:
        m.var("environment", "string", "Deployment environment.", None, q(m.gen.rng.choice(["prod", "staging"])))
    m.var("tags", "map(string)", "Tags added to every resource.", "{}", "local.common_tags")
    m.locals.append(("name_prefix", q("${var.name}-${var.environment}")))
    m.locals.append(("common_tags", Call("merge", ["var.tags", Obj([
        ("Environment", "var.environment"), ("ManagedBy", q("terraform")), ("Module", q(m.name)),
        ("Team", q(m.team)),
    ])])))  # fmt: skip


def tags(m: Module, extra: dict[str, str] | None = None) -> Attr:
    if not extra:
        return Attr("tags", "local.common_tags")
    return Attr("tags", Call("merge", ["local.common_tags", Obj(list(extra.items()))]))


def assume_role(m: Module, role: str, service: str) -> Expr:
    """An assume-role policy, as jsonencode() or from a policy document."""
    if m.gen.chance(0.5):
        return Call("jsonencode", [Obj([("Version", q("2012-10-17")), ("Statement", Arr([Obj([
            ("Effect", q("Allow")), ("Action", q("sts:AssumeRole")), ("Principal", Obj([("Service", q(service))])),
        ])]))])])  # fmt: skip
    doc = m.datasource("aws_iam_policy_document", f"{role}_assume", [
        Block("statement", body=[
            Attr("actions", '["sts:AssumeRole"]'), BLANK,
            Block("principals", body=[Attr("type", q("Service")), Attr("identifiers", f"[{q(service)}]")]),
        ]),
    ])  # fmt: skip
    return f"{doc}.json"


def iam_role(m: Module, role: str, service: str, managed: list[str]) -> str:
    m.add(Block("resource", ["aws_iam_role", role], [
        Attr("name", q(f"${{local.name_prefix}}-{role.replace('_', '-')}")),
        Attr("assume_role_policy", assume_role(m, role, service)), BLANK, tags(m),
    ]))  # fmt: skip
    m.add(*managed_attachments(m, role, managed))
    return f"aws_iam_role.{role}"


def managed_attachments(m: Module, role: str, managed: list[str]) -> list[Block]:
    if not managed:
        return []
    if len(managed) == 1 or m.gen.chance(0.5):
        return [Block("resource", ["aws_iam_role_policy_attachment", f"{role}_{p.split('/')[-1].lower()}"], [
            Attr("role", f"aws_iam_role.{role}.name"),
            Attr("policy_arn", q(f"arn:aws:iam::aws:policy/{p}")),
        ]) for p in managed]  # fmt: skip
    return [Block("resource", ["aws_iam_role_policy_attachment", role], [
        Attr("for_each", Call("toset", [Arr([q(f"arn:aws:iam::aws:policy/{p}") for p in managed])])), BLANK,
        Attr("role", f"aws_iam_role.{role}.name"), Attr("policy_arn", "each.value"),
    ])]  # fmt: skip


def log_group(m: Module, name: str, path: str, key: Key | None = None) -> str:
    body: list[Item] = [
        Attr("name", q(path)),
        Attr("retention_in_days", m.var("log_retention_days", "number", "Days to keep logs.",
                                        str(m.gen.rng.choice([14, 30, 90, 365])))),
    ]  # fmt: skip
    if key is not None:
        body.append(Attr("kms_key_id", key.attr("arn")))
    body += [BLANK, tags(m)]
    m.add(Block("resource", ["aws_cloudwatch_log_group", name], body))
    return f"aws_cloudwatch_log_group.{name}"


# --- KMS ---------------------------------------------------------------------------------------------


@dataclass
class Statement:
    sid: str
    principals: list[tuple[str, list[str]]]  # (AWS|Service, templates)
    actions: list[str]
    effect: str = "Allow"
    conditions: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (test, variable, templates)


def key_statements(m: Module, purpose: str) -> list[Statement]:
    rng = m.gen.rng
    root = f"arn:{m.partition()}:iam::{m.account()}:root"
    out = [Statement("EnableRootPermissions", [("AWS", [root])], ["kms:*"])]
    if rng.random() < 0.6:
        out.append(Statement("AllowKeyAdministration", [("AWS", [f"arn:{PARTITION}:iam::{ACCOUNT}:role/KeyAdmin"])], [
            "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
            "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
            "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
        ]))  # fmt: skip
    if purpose == "xray":
        if rng.random() < 0.5:
            out.append(Statement("AllowXRayService", [("Service", ["xray.amazonaws.com"])],
                                 ["kms:Decrypt", "kms:GenerateDataKey*"],
                                 conditions=[("StringEquals", "aws:SourceAccount", [ACCOUNT])]))  # fmt: skip
        else:
            out.append(Statement("AllowUseThroughXRay", [("AWS", ["*"])], ["kms:Decrypt", "kms:GenerateDataKey"],
                                 conditions=[("StringEquals", "kms:ViaService", [f"xray.{m.region()}.amazonaws.com"]),
                                             ("StringEquals", "kms:CallerAccount", [ACCOUNT])]))  # fmt: skip
    elif purpose == "logs":
        out.append(Statement("AllowCloudWatchLogs", [("Service", [f"logs.{m.region()}.amazonaws.com"])],
                             ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                              "kms:Describe*"],
                             conditions=[("ArnLike", "kms:EncryptionContext:aws:logs:arn",
                                          [f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:*"])]))  # fmt: skip
    else:
        out.append(Statement("AllowServiceRoles", [("AWS", [f"arn:{PARTITION}:iam::{ACCOUNT}:role/{m.name}-app"])],
                             ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"]))  # fmt: skip
    if rng.random() < 0.2:
        break_glass = f"arn:{PARTITION}:iam::{ACCOUNT}:role/BreakGlass"
        out.append(Statement("DenyKeyDeletion", [("AWS", ["*"])], ["kms:ScheduleKeyDeletion", "kms:DisableKey"], "Deny",
                             [("StringNotLike", "aws:PrincipalArn", [break_glass])]))
    return out


def _one_or_list(values: list[str]) -> object:
    return values[0] if len(values) == 1 else values


def policy_json_doc(statements: list[Statement]) -> dict[str, object]:
    stmts = []
    for s in statements:
        st: dict[str, object] = {"Sid": s.sid, "Effect": s.effect}
        st["Principal"] = {t: _one_or_list(ids) for t, ids in s.principals}
        st["Action"] = _one_or_list(s.actions)
        st["Resource"] = "*"
        if s.conditions:
            cond: dict[str, dict[str, object]] = {}
            for test, variable, values in s.conditions:
                cond.setdefault(test, {})[variable] = _one_or_list(values)
            st["Condition"] = cond
        stmts.append(st)
    return {"Version": "2012-10-17", "Statement": stmts}


def to_hcl(value: object) -> Expr:
    if isinstance(value, dict):
        return Obj([(k, to_hcl(v)) for k, v in value.items()])
    if isinstance(value, list):
        return Arr([to_hcl(v) for v in value])
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return ref_or_q(str(value))


def policy_document(m: Module, name: str, statements: list[Statement]) -> str:
    body: list[Item] = []
    for s in statements:
        st: list[Item] = [Attr("sid", q(s.sid))]
        if s.effect != "Allow" or m.gen.chance(0.5):
            st.append(Attr("effect", q(s.effect)))
        st += [Attr("actions", Arr([q(a) for a in s.actions])), Attr("resources", '["*"]'), BLANK]
        for t, ids in s.principals:
            st += [Block("principals", body=[Attr("type", q(t)), Attr("identifiers", Arr([ref_or_q(i) for i in ids]))]),
                   BLANK]  # fmt: skip
        for test, variable, values in s.conditions:
            st += [Block("condition", body=[Attr("test", q(test)), Attr("variable", q(variable)),
                                            Attr("values", Arr([ref_or_q(v) for v in values]))]), BLANK]  # fmt: skip
        body += [Block("statement", body=st), BLANK]
    return m.datasource("aws_iam_policy_document", name, body) + ".json"


def policy_expr(m: Module, style: str, name: str, statements: list[Statement]) -> Expr:
    if style == "jsonencode":
        return Call("jsonencode", [to_hcl(policy_json_doc(statements))])
    if style == "heredoc":
        indented = m.gen.pick("heredoc_style") == "indented"
        lines = json.dumps(policy_json_doc(statements), indent=2).splitlines()
        return Heredoc(lines, indented=indented)
    return policy_document(m, name, statements)


def kms_key(m: Module, resource: str, purpose: str, description: str, symmetric_only: bool = False,
            repeat: str | None = None, provider: str | None = None) -> Key:  # fmt: skip
    g = m.gen
    spec = g.pick("key_spec")
    if symmetric_only and spec not in ("SYMMETRIC_DEFAULT", "absent"):
        spec = "SYMMETRIC_DEFAULT"
    symmetric = spec in ("SYMMETRIC_DEFAULT", "absent")
    repeat = repeat or g.pick("key_repeat")
    style = g.pick("key_policy")
    if repeat == "for_each" and style in ("heredoc", "key_policy_resource"):
        style = "jsonencode"

    meta: list[Item] = [Attr("provider", provider)] if provider else []
    instance = ""
    if repeat == "count":
        meta.append(Attr("count", m.var("create_kms_key", "bool", "Create the KMS key (else use kms_key_arn).",
                                        "true") + " ? 1 : 0"))  # fmt: skip
        instance = "[0]"
    elif repeat == "for_each":
        names = g.rng.sample(["traces", "logs", "data", "events", "backups", "secrets"], 2)
        meta.append(Attr("for_each", m.var("key_names", "set(string)", "One customer managed key per name.",
                                           Arr([q(n) for n in names]))))  # fmt: skip
        instance = f'["{names[0]}"]'
        description = f"{description} (${{each.key}})"

    body: list[Item] = [*meta, BLANK, Attr("description", q(description))]
    body.append(Attr("deletion_window_in_days", str(g.rng.choice([7, 10, 14, 30]))))
    if spec != "absent":
        body.append(Attr("customer_master_key_spec", q(spec)))
        if not symmetric:
            body.append(Attr("key_usage", q("GENERATE_VERIFY_MAC" if spec == "HMAC_256" else "SIGN_VERIFY")))
        elif g.chance(0.4):
            body.append(Attr("key_usage", q("ENCRYPT_DECRYPT")))
    if symmetric:
        rotation = g.pick("key_rotation")
        if rotation != "absent":
            body.append(Attr("enable_key_rotation", rotation))
        if rotation == "true":
            period = g.pick("rotation_period")
            if period != "absent":
                body.append(Attr("rotation_period_in_days", period))
    elif g.chance(0.3):
        body.append(Attr("enable_key_rotation", "false"))
    enabled = g.pick("key_enabled")
    if enabled != "absent":
        body.append(Attr("is_enabled", enabled))
    if g.chance(0.15):
        body.append(Attr("multi_region", "true"))
    if style not in ("none", "key_policy_resource"):
        expr = policy_expr(m, style, f"{resource}_key", key_statements(m, purpose))
        if isinstance(expr, Heredoc):
            body += [BLANK, Attr("policy", expr), BLANK]
        else:
            body.append(Attr("policy", expr))
    body += [BLANK, tags(m, {"Purpose": q(purpose)} if g.chance(0.5) else None)]
    if g.chance(0.2):
        body += [BLANK, Block("lifecycle", body=[Attr("prevent_destroy", "true")])]
    blocks = [Block("resource", ["aws_kms_key", resource], body)]

    key = Key(resource, repeat, instance, symmetric)
    if style == "key_policy_resource":
        inner = g.rng.choice(["jsonencode", "policy_document"])
        kp_meta: list[Item] = [*meta, BLANK]
        blocks.append(Block("resource", ["aws_kms_key_policy", resource], [
            *kp_meta, Attr("key_id", key.attr("id")),
            Attr("policy", policy_expr(m, inner, f"{resource}_key", key_statements(m, purpose))),
        ]))  # fmt: skip
    if g.chance(0.7) or purpose == "xray":
        if repeat == "for_each":
            alias = [*meta[:-1], Attr("for_each", f"aws_kms_key.{resource}"), BLANK,
                     Attr("name", q("alias/${local.name_prefix}-${each.key}")),
                     Attr("target_key_id", "each.value.key_id")]  # fmt: skip
        else:
            alias = [*meta, BLANK,
                     Attr("name", q(f"alias/${{local.name_prefix}}-{resource.replace('_', '-')}")),
                     Attr("target_key_id", key.attr("key_id"))]  # fmt: skip
        blocks.append(Block("resource", ["aws_kms_alias", resource], alias))
    m.add(*blocks, kms=True)
    m.keys.append(key)

    if repeat == "for_each":
        m.output(f"{resource}_key_arns", f"{{ for name, key in aws_kms_key.{resource} : name => key.arn }}",
                 f"ARNs of the {purpose} keys, by name.")  # fmt: skip
    elif repeat == "count":
        m.var("kms_key_arn", "string", "An existing key to use when create_kms_key is false.", "null",
              q(f"arn:aws:kms:us-east-1:111122223333:key/{g.uuid()}"))  # fmt: skip
        m.output(f"{resource}_key_arn", f"one(aws_kms_key.{resource}[*].arn)", f"ARN of the {purpose} key, if created.")
    else:
        m.output(f"{resource}_key_arn", key.attr("arn"), f"ARN of the {purpose} key.")
    return key


def xray_encryption(m: Module, variant: str | None = None, provider: str | None = None) -> None:
    """One aws_xray_encryption_config (or none, for "absent"); a second one in another region with
    provider set, whose new resources are named *_replica and use that provider."""
    g = m.gen
    variant = variant or g.pick("xray_encryption")
    if variant == "absent":
        return
    res = "xray_replica" if provider else "xray"
    body: list[Item] = []
    if provider:
        body += [Attr("provider", provider), BLANK]
    if g.chance(0.15):
        body += [Attr("count", m.var("manage_xray_encryption", "bool", "Manage the account's X-Ray encryption.",
                                     "true") + " ? 1 : 0"), BLANK]  # fmt: skip
    kms = [Attr("type", q("KMS"))]

    def new_key(repeat: str = "single") -> Key:
        return kms_key(m, res, "xray", "X-Ray traces for ${local.name_prefix}", symmetric_only=g.chance(0.95),
                       repeat=repeat, provider=provider)  # fmt: skip

    if variant == "none":
        body.append(Attr("type", q("NONE")))
    elif variant == "kms_ref":
        existing = [k for k in m.keys if k.symmetric and k.repeat == "single"]
        key = existing[0] if existing and not provider and g.chance(0.5) else new_key()
        body += [*kms, Attr("key_id", key.attr(g.rng.choice(["arn", "arn", "key_id", "id"])))]
    elif variant == "kms_alias_ref":
        key = new_key()
        body += [*kms, Attr("key_id", f"aws_kms_alias.{key.resource}.{g.rng.choice(['arn', 'name'])}")]
    elif variant == "alias_literal":
        body += [*kms, Attr("key_id", q("alias/aws/xray"))]
    elif variant == "alias_data":
        name = "alias/aws/xray" if g.chance(0.7) else "alias/platform-xray"
        ref = m.datasource("aws_kms_alias", res, [*([Attr("provider", provider)] if provider else []),
                                                  Attr("name", q(name))])  # fmt: skip
        body += [*kms, Attr("key_id", f"{ref}.{g.rng.choice(['target_key_arn', 'arn'])}")]
    elif variant == "kms_var":
        v = m.var("xray_kms_key_arn", "string", "ARN of the customer managed key X-Ray encrypts traces with.", None,
                  q(f"arn:aws:kms:{g.rng.choice(REGIONS)}:111122223333:key/{g.uuid()}"))  # fmt: skip
        body += [*kms, Attr("key_id", v)]
    elif variant == "conditional":
        key = new_key("count")
        body += [*kms, Attr("key_id", f"var.create_kms_key ? {key.attr('arn')} : var.kms_key_arn")]
    elif variant == "literal_arn":
        body += [*kms, Attr("key_id", q(f"arn:aws:kms:{g.rng.choice(REGIONS)}:111122223333:key/{g.uuid()}"))]
    elif variant == "module_output":
        callee = next(c for c in m.calls if "xray_key_arn" in _output_names(c[1]) and not c[2])
        body += [*kms, Attr("key_id", f"module.{callee[0]}.xray_key_arn")]
    else:
        raise ValueError(variant)
    g.shapes[f"xray_encryption_block:{variant}"] += 1
    m.add(Block("resource", ["aws_xray_encryption_config", "replica" if provider else "this"], body))


def _output_names(m: Module) -> list[str]:
    return [b.labels[0] for b in m.outputs]


# --- tracing resources ---------------------------------------------------------------------------------


def lambda_functions(m: Module, role: str, key: Key | None) -> None:
    g = m.gen
    tracing = g.pick("lambda_tracing")
    repeat = g.pick("lambda_repeat")
    fn = g.rng.choice(["handler", "worker", "api", "processor"])
    meta: list[Item] = []
    name = q(f"${{local.name_prefix}}-{fn}")
    handler, memory = q(g.rng.choice(["index.handler", "app.lambda_handler", "main"])), None
    if repeat == "count":
        meta.append(Attr("count", m.var("enabled", "bool", "Create the functions.", "true") + " ? 1 : 0"))
    elif repeat == "for_each":
        default = Obj([(n, Obj([("handler", q(f"{n}.handler")), ("memory_size", str(g.rng.choice([128, 256, 512])))]))
                       for n in g.rng.sample(["ingest", "transform", "publish", "notify", "cleanup"], 2)])  # fmt: skip
        v = m.var("functions", Call("map", [Call("object", [Obj([("handler", "string"),
                                                                ("memory_size", "optional(number, 128)")])])]),
                  "Functions to create, by name.", default)  # fmt: skip
        meta.append(Attr("for_each", v))
        name, handler, memory = q("${local.name_prefix}-${each.key}"), "each.value.handler", "each.value.memory_size"
    body: list[Item] = [*meta, BLANK,
        Attr("function_name", name), Attr("role", f"{role}.arn"), Attr("handler", handler),
        Attr("runtime", q(g.rng.choice(RUNTIMES))),
        Attr("memory_size", memory or m.var("memory_size", "number", "Lambda memory in MiB.",
                                            str(g.rng.choice([128, 256, 512, 1024])))),
        Attr("timeout", str(g.rng.choice([3, 10, 30, 60, 900]))),
        Attr("s3_bucket", m.var("artifact_bucket", "string", "Bucket holding the deployment packages.", None,
                                q(f"{m.team}-artifacts-{g.rng.randrange(10**11, 10**12)}"))),
        Attr("s3_key", q(f"{m.name}/{fn}.zip")),
    ]  # fmt: skip
    if key is not None and g.chance(0.5):
        body.append(Attr("kms_key_arn", key.attr("arn")))
    body += [BLANK, Block("environment", body=[Attr("variables", Obj([
        ("LOG_LEVEL", m.var("log_level", "string", "Log level of the functions.", q("INFO"))),
        ("SERVICE_NAME", "var.name"),
        *([("POWERTOOLS_TRACER_CAPTURE_RESPONSE", q("false"))] if tracing == "Active" else []),
    ]))])]  # fmt: skip
    if tracing != "absent":
        body += [BLANK, Block("tracing_config", body=[Attr("mode", q(tracing))])]
    if g.chance(0.3):
        body += [BLANK, Block("vpc_config", body=[
            Attr("subnet_ids", m.var("subnet_ids", "list(string)", "Private subnets.", None,
                                     Arr([q(f"subnet-{g.rng.getrandbits(64):017x}"[:24]) for _ in range(2)]))),
            Attr("security_group_ids", "[aws_security_group.this.id]"),
        ])]  # fmt: skip
        security_group(m)
    body += [BLANK, tags(m)]
    m.add(Block("resource", ["aws_lambda_function", fn], body))
    g.shapes[f"lambda:{repeat}:{tracing}"] += 1
    if repeat == "for_each":
        m.output("function_arns", f"{{ for name, fn in aws_lambda_function.{fn} : name => fn.arn }}", "Function ARNs.")
    elif repeat == "count":
        m.output("function_arn", f"one(aws_lambda_function.{fn}[*].arn)", "ARN of the function, if created.")
    else:
        m.output("function_arn", f"aws_lambda_function.{fn}.arn", "ARN of the function.")
        m.output("invoke_arn", f"aws_lambda_function.{fn}.invoke_arn", "Invoke ARN, for API Gateway.")


def api_gateway(m: Module) -> None:
    g = m.gen
    tracing = g.pick("apigw_tracing")
    m.add(Block("resource", ["aws_api_gateway_rest_api", "this"], [
        Attr("name", q("${local.name_prefix}-api")), Attr("description", q(f"Public API of {m.name}")), BLANK,
        Block("endpoint_configuration", body=[Attr("types", f'["{g.rng.choice(["REGIONAL", "EDGE", "PRIVATE"])}"]')]),
        BLANK, tags(m),
    ]))  # fmt: skip
    m.add(Block("resource", ["aws_api_gateway_deployment", "this"], [
        Attr("rest_api_id", "aws_api_gateway_rest_api.this.id"), BLANK,
        Attr("triggers", Obj([("redeployment", "sha1(jsonencode([aws_api_gateway_rest_api.this.id]))")])), BLANK,
        Block("lifecycle", body=[Attr("create_before_destroy", "true")]),
    ]))  # fmt: skip
    body: list[Item] = [
        Attr("deployment_id", "aws_api_gateway_deployment.this.id"),
        Attr("rest_api_id", "aws_api_gateway_rest_api.this.id"),
        Attr("stage_name", m.var("stage_name", "string", "API Gateway stage.",
                                 q(g.rng.choice(["v1", "prod", "live"])))),
    ]  # fmt: skip
    if tracing == "var":
        body.append(Attr("xray_tracing_enabled", m.var("xray_tracing_enabled", "bool", "Trace API requests.", "true")))
    elif tracing != "absent":
        body.append(Attr("xray_tracing_enabled", tracing))
    if g.chance(0.5):
        lg = log_group(m, "api_access", "/aws/apigateway/${local.name_prefix}")
        body += [BLANK, Block("access_log_settings", body=[
            Attr("destination_arn", f"{lg}.arn"),
            Attr("format", Call("jsonencode", [Obj([
                ("requestId", q("$context.requestId")), ("ip", q("$context.identity.sourceIp")),
                ("status", q("$context.status")), ("xrayTraceId", q("$context.xrayTraceId")),
            ])])),
        ])]  # fmt: skip
    body += [BLANK, tags(m)]
    m.add(Block("resource", ["aws_api_gateway_stage", "this"], body))
    m.output("api_stage_arn", "aws_api_gateway_stage.this.arn", "ARN of the API stage.")


def state_machine(m: Module) -> None:
    g = m.gen
    tracing = g.pick("sfn_tracing")
    role = iam_role(m, "sfn", "states.amazonaws.com", ["AWSXrayWriteOnlyAccess"] if tracing == "true" else [])
    lg = log_group(m, "sfn", "/aws/vendedlogs/states/${local.name_prefix}")
    definition = Call("jsonencode", [Obj([
        ("Comment", q(f"{m.name} workflow")), ("StartAt", q("Validate")),
        ("States", Obj([
            ("Validate", Obj([("Type", q("Pass")), ("Next", q("Wait"))])),
            ("Wait", Obj([("Type", q("Wait")), ("Seconds", "5"), ("Next", q("Done"))])),
            ("Done", Obj([("Type", q("Succeed"))])),
        ])),
    ])])  # fmt: skip
    body: list[Item] = [
        Attr("name", q("${local.name_prefix}-workflow")), Attr("role_arn", f"{role}.arn"),
        Attr("type", q(g.rng.choice(["STANDARD", "EXPRESS"]))), BLANK, Attr("definition", definition), BLANK,
        Block("logging_configuration", body=[
            Attr("log_destination", q(f"${{{lg}.arn}}:*")), Attr("include_execution_data", "true"),
            Attr("level", q(g.rng.choice(["ERROR", "ALL"]))),
        ]),
    ]  # fmt: skip
    if tracing != "absent":
        body += [BLANK, Block("tracing_configuration", body=[Attr("enabled", tracing)])]
    body += [BLANK, tags(m)]
    m.add(Block("resource", ["aws_sfn_state_machine", "this"], body))
    m.output("state_machine_arn", "aws_sfn_state_machine.this.arn", "ARN of the state machine.")


def xray_sampling_rule(m: Module) -> None:
    g = m.gen
    m.add(Block("resource", ["aws_xray_sampling_rule", "default"], [
        Attr("rule_name", q(f"{m.name[:20]}-{g.rng.randrange(100)}")), Attr("priority", str(g.rng.randrange(1, 9999))),
        Attr("version", "1"), Attr("reservoir_size", str(g.rng.choice([1, 5, 10]))),
        Attr("fixed_rate", g.rng.choice(["0.05", "0.1", "0.01", "1"])),
        Attr("url_path", q(g.rng.choice(["*", "/api/*"]))),
        Attr("host", q("*")), Attr("http_method", q(g.rng.choice(["*", "GET", "POST"]))), Attr("service_type", q("*")),
        Attr("service_name", q("${local.name_prefix}-*")), Attr("resource_arn", q("*")), BLANK,
        Attr("attributes", Obj([("Team", q(m.team))])), BLANK, tags(m),
    ]))  # fmt: skip


def xray_group(m: Module) -> None:
    g = m.gen
    expr = g.rng.choice([
        'service("${local.name_prefix}") { fault OR error }', "responsetime > 5", "fault = true AND http.status = 500",
        'annotation.team = "' + m.team + '"',
    ])  # fmt: skip
    body: list[Item] = [Attr("group_name", q("${local.name_prefix}-errors")), Attr("filter_expression", q(expr))]
    if g.chance(0.7):
        body += [BLANK, Block("insights_configuration", body=[
            Attr("insights_enabled", "true"), Attr("notifications_enabled", g.rng.choice(["true", "false"]))])]
    body += [BLANK, tags(m)]
    m.add(Block("resource", ["aws_xray_group", "errors"], body))
    m.output("xray_group_arn", "aws_xray_group.errors.arn", "ARN of the X-Ray group.")


# --- unrelated resources -------------------------------------------------------------------------------


def s3_bucket(m: Module, key: Key | None) -> None:
    g = m.gen
    res = g.rng.choice(["this", "artifacts", "logs", "data"])
    m.add(Block("resource", ["aws_s3_bucket", res], [
        Attr("bucket", q(f"${{local.name_prefix}}-{res}-${{{m.account()[2:-1]}}}")),
        Attr("force_destroy", m.var("force_destroy", "bool", "Allow destroying non-empty buckets.", "false")), BLANK,
        tags(m, {"DataClass": q(g.rng.choice(["internal", "confidential", "public"]))}),
    ]))  # fmt: skip
    m.add(Block("resource", ["aws_s3_bucket_versioning", res], [
        Attr("bucket", f"aws_s3_bucket.{res}.id"), BLANK,
        Block("versioning_configuration", body=[Attr("status", q(g.rng.choice(["Enabled", "Suspended"])))]),
    ]))  # fmt: skip
    rule: list[Item] = [Attr("sse_algorithm", q("aws:kms" if key else "AES256"))]
    if key:
        rule.append(Attr("kms_master_key_id", key.attr("arn")))
    m.add(Block("resource", ["aws_s3_bucket_server_side_encryption_configuration", res], [
        Attr("bucket", f"aws_s3_bucket.{res}.id"), BLANK,
        Block("rule", body=[Block("apply_server_side_encryption_by_default", body=rule),
                            *([Attr("bucket_key_enabled", "true")] if key else [])]),
    ]))  # fmt: skip
    m.add(Block("resource", ["aws_s3_bucket_public_access_block", res], [
        Attr("bucket", f"aws_s3_bucket.{res}.id"), BLANK,
        *[Attr(a, "true") for a in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                    "restrict_public_buckets")],
    ]))  # fmt: skip
    m.output(f"{res}_bucket", f"aws_s3_bucket.{res}.bucket", "Name of the bucket.")


def security_group(m: Module) -> None:
    if any(b.labels[:2] == ["aws_security_group", "this"] for b in m.main):
        return
    g = m.gen
    m.var("vpc_id", "string", "VPC of the service.", None, q(f"vpc-{g.rng.getrandbits(68):017x}"))
    m.var("ingress_rules", Call("list", [Call("object", [Obj([("description", "string"), ("port", "number"),
                                                              ("cidr_blocks", "list(string)")])])]),
          "Ingress rules.", Arr([Obj([("description", q("HTTPS from the VPC")), ("port", "443"),
                                      ("cidr_blocks", '["10.0.0.0/8"]')])]))  # fmt: skip
    m.add(Block("resource", ["aws_security_group", "this"], [
        Attr("name_prefix", q("${local.name_prefix}-")), Attr("description", q(f"{m.name} service")),
        Attr("vpc_id", "var.vpc_id"), BLANK,
        Block("dynamic", ["ingress"], [Attr("for_each", "var.ingress_rules"), BLANK, Block("content", body=[
            Attr("description", "ingress.value.description"), Attr("from_port", "ingress.value.port"),
            Attr("to_port", "ingress.value.port"), Attr("protocol", q("tcp")),
            Attr("cidr_blocks", "ingress.value.cidr_blocks"),
        ])]), BLANK,
        Block("egress", body=[Attr("from_port", "0"), Attr("to_port", "0"), Attr("protocol", q("-1")),
                              Attr("cidr_blocks", '["0.0.0.0/0"]')]), BLANK,
        tags(m), BLANK, Block("lifecycle", body=[Attr("create_before_destroy", "true")]),
    ]))  # fmt: skip


def queue_and_table(m: Module, key: Key | None) -> None:
    g = m.gen
    if g.chance(0.6):
        body: list[Item] = [Attr("name", q("${local.name_prefix}-events")),
                            Attr("visibility_timeout_seconds", str(g.rng.choice([30, 60, 300]))),
                            Attr("message_retention_seconds", "1209600")]  # fmt: skip
        body.append(Attr("kms_master_key_id", key.attr("arn") if key else q("alias/aws/sqs")))
        m.add(Block("resource", ["aws_sqs_queue", "events"], [*body, BLANK, tags(m)]))
        m.output("queue_url", "aws_sqs_queue.events.url", "URL of the queue.")
    if g.chance(0.6):
        body = [Attr("name", q("${local.name_prefix}-items")), Attr("billing_mode", q("PAY_PER_REQUEST")),
                Attr("hash_key", q("pk")), Attr("range_key", q("sk")), BLANK]  # fmt: skip
        for a in ("pk", "sk"):
            body += [Block("attribute", body=[Attr("name", q(a)), Attr("type", q("S"))]), BLANK]
        body += [Block("point_in_time_recovery", body=[Attr("enabled", "true")]), BLANK]
        sse: list[Item] = [Attr("enabled", "true")]
        if key:
            sse.append(Attr("kms_key_arn", key.attr("arn")))
        body += [Block("server_side_encryption", body=sse), BLANK, tags(m)]
        m.add(Block("resource", ["aws_dynamodb_table", "items"], body))
        m.output("table_name", "aws_dynamodb_table.items.name", "Name of the table.")
    if g.chance(0.4):
        m.add(Block("resource", ["aws_sns_topic", "alerts"], [
            Attr("name", q("${local.name_prefix}-alerts")), Attr("kms_master_key_id", q("alias/aws/sns")), BLANK,
            tags(m),
        ]))  # fmt: skip
        m.add(Block("resource", ["aws_cloudwatch_metric_alarm", "errors"], [
            Attr("alarm_name", q("${local.name_prefix}-errors")),
            Attr("comparison_operator", q("GreaterThanThreshold")),
            Attr("evaluation_periods", "2"), Attr("metric_name", q("Errors")), Attr("namespace", q("AWS/Lambda")),
            Attr("period", "300"), Attr("statistic", q("Sum")), Attr("threshold", "5"),
            Attr("alarm_actions", "[aws_sns_topic.alerts.arn]"), BLANK,
            Attr("dimensions", Obj([("FunctionName", q("${local.name_prefix}-handler"))])),
        ]))  # fmt: skip
    if g.chance(0.3):
        m.add(Block("resource", ["aws_ssm_parameter", "config"], [
            Attr("name", q("/${var.environment}/${var.name}/config")), Attr("type", q("SecureString")),
            Attr("value", Call("jsonencode", [Obj([("feature_flags", '["tracing"]'), ("timeout", "30")])])),
            *([Attr("key_id", key.attr("key_id"))] if key else []),
        ]))  # fmt: skip


# --- module kinds --------------------------------------------------------------------------------------


def build_service(m: Module) -> None:
    g = m.gen
    key = kms_key(m, "service", "data", f"{m.name} data") if g.chance(0.35) else None
    uses_key = key if key and key.symmetric else None
    role = iam_role(m, "lambda", "lambda.amazonaws.com",
                    ["service-role/AWSLambdaBasicExecutionRole", "AWSXRayDaemonWriteAccess"])  # fmt: skip
    lambda_functions(m, role, uses_key)
    if g.chance(0.6):
        api_gateway(m)
    if g.chance(0.4):
        state_machine(m)
    if g.chance(0.3):
        queue_and_table(m, uses_key)
    if g.chance(0.2):
        xray_sampling_rule(m)


def build_kms(m: Module) -> None:
    g = m.gen
    xray_first = g.chance(0.5)  # else the config may point at one of the keys below, made for other data
    if xray_first and g.chance(0.7):
        xray_encryption(m)
    for purpose in g.rng.sample(["logs", "data", "backups"], g.rng.randrange(1, 3)):
        kms_key(m, purpose, purpose if purpose == "logs" else "data",
                f"{purpose.title()} key for ${{local.name_prefix}}")
    if not xray_first and g.chance(0.7):
        xray_encryption(m)
    if not any(b.labels[:1] == ["aws_xray_encryption_config"] for b in m.main + m.kms) and g.chance(0.5):
        kms_key(m, "xray", "xray", "X-Ray traces", symmetric_only=True, repeat="single")


def build_observability(m: Module) -> None:
    g = m.gen
    xray_encryption(m)
    xray_group(m)
    if g.chance(0.7):
        xray_sampling_rule(m)
    logs_key = kms_key(m, "logs", "logs", "CloudWatch Logs") if g.chance(0.4) else None
    usable = logs_key if logs_key and logs_key.symmetric else None
    log_group(m, "app", "/${var.environment}/${var.name}/application", usable)
    if g.chance(0.4):
        iam_role(m, "collector", "ec2.amazonaws.com", ["AWSXRayDaemonWriteAccess", "CloudWatchAgentServerPolicy"])


def build_data(m: Module) -> None:
    g = m.gen
    key = kms_key(m, "data", "data", f"{m.name} data at rest") if g.chance(0.5) else None
    uses_key = key if key and key.symmetric else None
    s3_bucket(m, uses_key)
    queue_and_table(m, uses_key)
    if g.chance(0.3):
        security_group(m)


def build_stack(m: Module, leaves: list[Module]) -> None:
    g = m.gen
    region = m.var("region", "string", "Primary region.", q(g.rng.choice(REGIONS)))
    replica = g.chance(0.25)
    if replica:
        m.var("replica_region", "string", "Region of the replicas.", q(g.rng.choice(REGIONS)))
    same_team = [x for x in leaves if x.team == m.team]
    chosen = g.rng.sample(same_team, min(len(same_team), g.rng.randrange(1, 4))) if same_team else []
    if leaves and (not chosen or g.chance(0.2)):
        other = g.rng.choice(leaves)
        if other not in chosen:
            chosen.append(other)
    for callee in chosen:
        label = callee.ident
        source = f"../{callee.name}" if callee.team == m.team else f"../../{callee.team}/{callee.name}"
        body: list[Item] = []
        for_each = g.chance(0.1)
        if for_each:
            body += [Attr("for_each", 'toset(["blue", "green"])'), BLANK]
        body += [Attr("source", q(source)), BLANK]
        for v in callee.vars.values():
            if v.name == "name":
                body.append(Attr("name", q("${local.name_prefix}-${each.key}") if for_each else "local.name_prefix"))
            elif v.name == "environment":
                body.append(Attr("environment", "var.environment"))
            elif v.name == "tags":
                body.append(Attr("tags", "local.common_tags"))
            elif v.default is None or g.chance(0.15):
                body.append(Attr(v.name, v.sample))
        m.main.append(Block("module", [label], body))
        m.calls.append((label, callee, for_each))
    has_key_output = any("xray_key_arn" in _output_names(c) and not fe for _, c, fe in m.calls)
    if has_key_output and g.chance(0.5):
        g.shapes["xray_encryption:module_output"] += 1
        xray_encryption(m, "module_output")
    else:
        xray_encryption(m)
    if replica and g.chance(0.6):
        xray_encryption(m, provider="aws.replica")
    if g.chance(0.5):
        s3_bucket(m, None)
    if g.chance(0.3):
        xray_group(m)
    m.output("region", region, "Primary region of the stack.")
    m.stack_replica = replica


# --- files ---------------------------------------------------------------------------------------------


def variables_tf(m: Module) -> str:
    blocks: list[Item] = []
    for v in m.vars.values():
        body: list[Item] = [Attr("description", q(v.description)), Attr("type", v.type)]
        if v.default is not None:
            body.append(Attr("default", v.default))
        if v.sensitive:
            body.append(Attr("sensitive", "true"))
        if v.nullable is not None:
            body.append(Attr("nullable", "true" if v.nullable else "false"))
        if v.validation:
            body += [BLANK, Block("validation", body=[Attr("condition", v.validation[0]),
                                                      Attr("error_message", q(v.validation[1]))])]  # fmt: skip
        blocks.append(Block("variable", [v.name], body))
    return file_text(blocks)


def versions_tf(m: Module) -> str:
    g = m.gen
    required = Obj([("aws", Obj([("source", q("hashicorp/aws")),
                                 ("version", q(g.rng.choice([">= 5.0", "~> 5.40", ">= 5.30, < 7.0", "~> 6.0"])))]))])
    tf_body: list[Item] = [Attr("required_version", q(g.rng.choice([">= 1.5.0", ">= 1.6", "~> 1.9"]))), BLANK,
                           Block("required_providers", body=[Attr("aws", required.pairs[0][1])])]  # fmt: skip
    blocks: list[Item] = []
    if m.kind == "stack":
        tf_body += [BLANK, Block("backend", ["s3"], [
            Attr("bucket", q(f"{m.team}-terraform-state")), Attr("key", q(f"{m.name}/terraform.tfstate")),
            Attr("region", q("us-east-1")), Attr("dynamodb_table", q("terraform-locks")), Attr("encrypt", "true"),
        ])]  # fmt: skip
    blocks.append(Block("terraform", body=tf_body))
    if m.kind == "stack":
        default_tags = Block("default_tags", body=[Attr("tags", Obj([
            ("Environment", "var.environment"), ("Team", q(m.team)), ("Repository", q(f"{m.team}-infrastructure")),
            ("ManagedBy", q("terraform")),
        ]))])  # fmt: skip
        blocks.append(Block("provider", ["aws"], [Attr("region", "var.region"), BLANK, default_tags]))
        if m.stack_replica:
            blocks.append(Block("provider", ["aws"], [Attr("alias", q("replica")), Attr("region", "var.replica_region"),
                                                      BLANK, default_tags]))  # fmt: skip
    return file_text(blocks)


def locals_block(m: Module) -> Block:
    return Block("locals", body=[Attr(k, v) for k, v in m.locals])


def tfvars_text(m: Module) -> str:
    items: list[Item] = []
    for v in m.vars.values():
        if v.name == "tags":
            items.append(Attr("tags", Obj([("CostCenter", q(f"cc-{m.gen.rng.randrange(1000, 9999)}"))])))
        elif v.default is None or m.gen.chance(0.3):
            items.append(Attr(v.name, v.sample if v.name != "name" else q(m.name)))
    return "\n".join(body_lines(items, 0)) + "\n"


def module_files(m: Module) -> dict[str, str]:
    files: dict[str, str] = {}
    data = list(m.data.values())
    main: list[Item] = []
    if not m.locals_file:
        main.append(locals_block(m))
    main += data + m.main
    files["main.tf"] = file_text(main)
    files["variables.tf"] = variables_tf(m)
    files["outputs.tf"] = file_text(m.outputs)  # type: ignore[arg-type]
    files["versions.tf"] = versions_tf(m)
    if m.locals_file:
        files["locals.tf"] = file_text([locals_block(m)])
    if m.kms:
        files["kms.tf"] = file_text(m.kms)  # type: ignore[arg-type]
    if m.tfvars:
        files["terraform.tfvars"] = tfvars_text(m)
    return files


@dataclass
class Corpus:
    files: dict[str, str]  # relative path -> text
    modules: list[str]  # relative module directories
    shapes: Counter[str]

    @property
    def tf_files(self) -> list[str]:
        return [p for p in self.files if p.endswith(".tf")]

    def stats(self) -> dict[str, object]:
        return {
            "modules": len(self.modules), "tf_files": len(self.tf_files),
            "tfvars_files": sum(p.endswith(".tfvars") for p in self.files),
            "bytes": sum(len(self.files[p].encode()) for p in self.tf_files),  # of the .tf files
            "lines": sum(self.files[p].count("\n") for p in self.tf_files),
        }  # fmt: skip


def generate(modules: int = 250, seed: int = 1) -> Corpus:
    """The whole tree in memory."""
    if modules < 1:
        raise ValueError("modules must be at least 1")
    g = Generator(seed)
    names: set[str] = set()
    specs: list[Module] = []
    for i in range(modules):
        kind = g.pick("kind")
        team = TEAMS[i % len(TEAMS)]
        base = f"{g.rng.choice(APPS)}-{g.rng.choice(COMPONENTS[kind])}"
        name, n = base, 2
        while f"{team}/{name}" in names:
            name, n = f"{base}-{n}", n + 1
        names.add(f"{team}/{name}")
        specs.append(Module(g, team, name, kind))
    # Leaves first: a stack passes its callees' required variables and may use their outputs.
    leaves = [m for m in specs if m.kind != "stack"]
    builders = {"service": build_service, "kms": build_kms, "observability": build_observability, "data": build_data}
    for m in specs:
        standard_vars(m)
    for m in leaves:
        builders[m.kind](m)
    for m in specs:
        if m.kind == "stack":
            build_stack(m, leaves)
    files: dict[str, str] = {}
    for m in specs:
        for fname, text in module_files(m).items():
            files[f"{m.team}/{m.name}/{fname}"] = text
    return Corpus(dict(sorted(files.items())), sorted(f"{m.team}/{m.name}" for m in specs), g.shapes)


def write(corpus: Corpus, out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    for rel, text in corpus.files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out_dir", type=Path, help="where to write the tree (must be empty or absent)")
    p.add_argument("--modules", type=int, default=250, help="number of modules (default 250)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--manifest", type=Path, help="also write a JSON manifest (counts and shapes) here")
    args = p.parse_args(argv)
    try:
        corpus = generate(args.modules, args.seed)
        write(corpus, args.out_dir)
    except (ValueError, FileExistsError) as exc:
        print(f"make_corpus: {exc}", file=sys.stderr)
        return 2
    stats = corpus.stats()
    if args.manifest:
        shapes = dict(sorted(corpus.shapes.items()))
        manifest = {"seed": args.seed, **stats, "module_dirs": corpus.modules, "shapes": shapes}
        args.manifest.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{stats['tf_files']} .tf files in {stats['modules']} modules ({stats['bytes']} bytes, {stats['lines']} "
          f"lines; and {stats['tfvars_files']} terraform.tfvars) -> {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
