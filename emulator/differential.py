"""Differential test of two independent key-policy evaluators.

The Rust model (``xray-cmk debug decide-key-policy``) and the emulator's Python evaluator
(``xray_cmk_emulator.iam_eval``) were written separately from AWS's documentation. This script
generates random key policies and requests from small pools (so that principals, actions and
conditions match often), asks both, and reports every case where they disagree:

    emulator/.venv/bin/python emulator/differential.py --binary PATH --cases N [--seed S] [--out F]

The seed is printed first; ``--seed`` replays a run. Cases the Rust model calls ``undetermined``
are skipped (it says so only for constructs outside its model); more than 20% skipped fails the
run, since such a generator would test little. Exit code 0 when both agree on every other case,
1 on any disagreement (or too many skips), 2 on usage errors. Each disagreement is also shrunk to
a smaller case that disagrees the same way, to start the analysis from.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

A = "111122223333"
B = "444455556666"
KEY_ARN = f"arn:aws:kms:us-east-1:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"

ROOT_A = f"arn:aws:iam::{A}:root"
ROOT_B = f"arn:aws:iam::{B}:root"
ADMIN_A = f"arn:aws:iam::{A}:role/Admin"
# Each role name has exactly one path in these pools: a session ARN carries only the name, and two
# roles cannot share a name in one account, so naming the role at another path would be invalid.
WRITER_A = f"arn:aws:iam::{A}:role/ops/XrayWriter"
ADMIN_B = f"arn:aws:iam::{B}:role/Admin"
ADMIN_A_S1 = f"arn:aws:sts::{A}:assumed-role/Admin/s1"
ADMIN_A_S2 = f"arn:aws:sts::{A}:assumed-role/Admin/s2"
WRITER_A_S1 = f"arn:aws:sts::{A}:assumed-role/XrayWriter/s1"
ADMIN_B_S1 = f"arn:aws:sts::{B}:assumed-role/Admin/s1"
ALICE_A = f"arn:aws:iam::{A}:user/alice"
BOB_B = f"arn:aws:iam::{B}:user/bob"
CAROL_A = f"arn:aws:sts::{A}:federated-user/carol"
XRAY = "xray.amazonaws.com"
LOGS = "logs.amazonaws.com"

#: Who may ask: every form ``Request.principal`` documents except the bare account id.
CALLERS = [
    ROOT_A, ROOT_B, ADMIN_A, WRITER_A, ADMIN_B, ADMIN_A_S1, ADMIN_A_S2, WRITER_A_S1, ADMIN_B_S1,
    ALICE_A, BOB_B, CAROL_A, XRAY, LOGS,
]  # fmt: skip
#: What a policy's ``{"AWS": ...}`` may name.
AWS_PRINCIPALS = [
    ROOT_A, A, ROOT_B, B, ADMIN_A, WRITER_A, ADMIN_B, ADMIN_A_S1, WRITER_A_S1, ALICE_A, BOB_B, CAROL_A,
]  # fmt: skip
SERVICE_PRINCIPALS = [XRAY, LOGS]

ACTIONS = [
    "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:CreateGrant", "kms:DescribeKey",
    "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:ListResourceTags",
]  # fmt: skip
ACTION_PATTERNS = ACTIONS + [
    "kms:*", "*", "kms:Gen*", "kms:?ecrypt", "kms:*Key*", "kms:Describe*", "kms:*Grant",
    "kms:Get*", "kms:List*", "kms:GenerateDataKey*", "kms:ReEncrypt*", "KMS:decrypt",
    "kms:generatedatakey", "KMS:GEN*", "kms:*crypt", "kms:Put?eyPolicy",
]  # fmt: skip

#: Condition keys, each with its type. `aws:MultiFactorAuthAge` is here because the numeric
#: operators need a numeric key.
KEYS: dict[str, str] = {
    "aws:PrincipalArn": "arn",
    "aws:PrincipalAccount": "account",
    "aws:PrincipalOrgID": "org",
    "aws:RequestedRegion": "region",
    "aws:ResourceTag/owner": "tag",
    "kms:CallerAccount": "account",
    "kms:ViaService": "service",
    "kms:GrantIsForAWSResource": "bool",
    "aws:SourceIp": "ip",
    "aws:CurrentTime": "date",
    "kms:EncryptionContextKeys": "context_keys",
    "aws:MultiFactorAuthAge": "number",
}
MULTI_VALUED = {"kms:EncryptionContextKeys"}

STRING_OPERATORS = [
    "StringEquals", "StringNotEquals", "StringLike", "StringNotLike", "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
]  # fmt: skip
ARN_OPERATORS = ["ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"]
NUMERIC_OPERATORS = [
    "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
    "NumericGreaterThan", "NumericGreaterThanEquals",
]  # fmt: skip
DATE_OPERATORS = [
    "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
    "DateGreaterThanEquals",
]  # fmt: skip
OPERATORS_BY_TYPE: dict[str, list[str]] = {
    "arn": STRING_OPERATORS + ARN_OPERATORS,
    "account": STRING_OPERATORS,
    "org": STRING_OPERATORS,
    "region": STRING_OPERATORS,
    "tag": STRING_OPERATORS,
    "service": STRING_OPERATORS,
    "context_keys": STRING_OPERATORS,
    "bool": ["Bool"],
    "ip": ["IpAddress", "NotIpAddress"],
    "date": DATE_OPERATORS,
    "number": NUMERIC_OPERATORS,
}
#: Every base operator the generator may write (before `IfExists` and a set qualifier).
BASE_OPERATORS = sorted({op for ops in OPERATORS_BY_TYPE.values() for op in ops} | {"Null"})
SET_QUALIFIERS = ["ForAnyValue:", "ForAllValues:"]

#: Values a policy may compare with, per key type; wildcards only where the operator reads them.
POLICY_VALUES: dict[str, list[Any]] = {
    "arn": [
        ADMIN_A, WRITER_A, ADMIN_B, ALICE_A, ROOT_A, f"arn:aws:iam::{A}:role/*",
        "arn:aws:iam::*:role/Admin", f"arn:aws:iam::{B}:*", f"arn:aws:iam::{A}:ROLE/admin",
        "arn:aws:iam::1111222233??:role/Admin", "arn:aws:iam::*", "*",
    ],
    "account": [A, B, "1111*", "44445555666?", "*"],
    "org": ["o-abc123", "o-xyz789", "o-*", "O-ABC123"],
    "region": ["us-east-1", "eu-west-1", "us-*", "US-EAST-1", "*-west-?"],
    "tag": ["alice", "Alice", "bob", "team-*", "a?ice"],
    "service": [
        "xray.us-east-1.amazonaws.com", "logs.us-east-1.amazonaws.com", "xray.*.amazonaws.com",
        "*.amazonaws.com", "XRAY.US-EAST-1.AMAZONAWS.COM",
    ],
    "context_keys": ["aws:xray:trace", "tenant", "app", "aws:*", "ten*", "TENANT"],
    "bool": ["true", "false", True, False],
    "ip": ["10.0.0.0/8", "10.1.2.0/24", "192.0.2.0/24", "203.0.113.7/32", "0.0.0.0/0",
           "203.0.113.7", "10.1.2.99/24"],
    # The same instant in three spellings (ISO with Z, with an offset, epoch seconds).
    "date": ["2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "2024-06-01T12:00:00Z",
             "2024-06-01T14:00:00+02:00", "1717243200"],
    "number": ["0", "300", "3600", 300, 3600, "300.0"],
}
#: Values a request may carry, per key type.
REQUEST_VALUES: dict[str, list[str]] = {
    "arn": [ADMIN_A, WRITER_A, ADMIN_B, ALICE_A, BOB_B, ROOT_A],
    "account": [A, B],
    "org": ["o-abc123", "o-xyz789"],
    "region": ["us-east-1", "eu-west-1", "ap-south-1"],
    "tag": ["alice", "Alice", "bob", "team-red"],
    "service": [
        "xray.us-east-1.amazonaws.com", "xray.eu-west-1.amazonaws.com",
        "logs.us-east-1.amazonaws.com",
    ],
    "context_keys": ["aws:xray:trace", "tenant", "app", "Tenant"],
    "bool": ["true", "false"],
    "ip": ["10.1.2.3", "10.200.0.1", "192.0.2.44", "203.0.113.7", "198.51.100.1"],
    "date": ["2023-12-31T23:59:59Z", "2024-06-01T12:00:00Z", "2025-03-01T00:00:00Z"],
    "number": ["0", "300", "3600", "86400"],
}  # fmt: skip

DECISIONS = {"allowed", "delegated", "explicit_deny", "not_allowed"}
MAX_SKIPPED = 0.20
SHOWN = 3
SHRUNK = 10


# -- the generator ----------------------------------------------------------------------------


class Generator:
    """Random key policies and requests, inside the constructs both evaluators support."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.hint = Hint(CALLERS[0], ACTIONS[0], {})

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def some(self, pool: list[Any], most: int) -> list[Any]:
        return self.rng.sample(pool, self.rng.randint(1, min(most, len(pool))))

    def one_or_list(self, values: list[Any]) -> Any:
        return values[0] if len(values) == 1 and self.chance(0.6) else values

    def case(self, case_id: int) -> dict[str, Any]:
        # The request first, so that the policy can be biased towards naming it: random policies
        # over the full pools would mostly be about someone else.
        # Now and then the account asks as itself in its bare-id spelling.
        principal = A if self.chance(0.01) else self.rng.choice(CALLERS)
        action = self.rng.choice(ACTIONS)
        context = self.context(principal)
        self.hint = Hint(principal, action, context)
        return {
            "id": case_id,
            "policy": self.policy(),
            "principal": principal,
            "action": action,
            "context": context,
        }

    def policy(self) -> dict[str, Any]:
        statements = [self.statement(i) for i in range(self.rng.randint(1, 5))]
        policy: dict[str, Any] = {}
        if self.chance(0.9):
            policy["Version"] = "2012-10-17"
        if self.chance(0.2):
            policy["Id"] = "key-policy-1"
        policy["Statement"] = statements[0] if len(statements) == 1 and self.chance(0.2) else statements
        return policy

    def statement(self, index: int) -> dict[str, Any]:
        effect = "Allow" if self.chance(0.65) else "Deny"
        statement: dict[str, Any] = {}
        if self.chance(0.6):
            statement["Sid"] = f"S{index + 1}"
        statement["Effect"] = effect
        # NotPrincipal only with Deny: "Using it with Allow is not supported" (IAM User Guide), so
        # both evaluators refuse to decide it (fixtures pin that).
        if effect == "Deny" and self.chance(0.2):
            statement["NotPrincipal"] = self.principal(allow_star=False)
        else:
            statement["Principal"] = self.principal(allow_star=True)
        actions = self.some(ACTION_PATTERNS, 3)
        if self.chance(0.3):
            actions[0] = self.respell(self.hint.action)
        statement["NotAction" if self.chance(0.15) else "Action"] = self.one_or_list(actions)
        if self.chance(0.02):
            statement["NotResource"] = "*"  # excludes the key itself: the statement never applies
        else:
            statement["Resource"] = self.rng.choices(
                ["*", KEY_ARN, ["*"], [KEY_ARN], [KEY_ARN, "*"]], weights=[85, 6, 3, 3, 3]
            )[0]
        if self.chance(0.6):
            statement["Condition"] = self.condition()
        return statement

    def respell(self, name: str) -> str:
        """An action name in another letter case, now and then: action names are case-insensitive."""
        return self.rng.choice([name, name, name.lower(), name.upper()])

    def principal(self, allow_star: bool) -> Any:
        roll = self.rng.random()
        if allow_star and roll < 0.12:
            return "*"
        if roll < 0.22:
            return {"AWS": self.rng.choice(["*", ["*"], ["*", A]])}
        element: dict[str, Any] = {}
        caller = self.hint.principal
        if self.chance(0.85):
            ids = self.some(AWS_PRINCIPALS, 3)
            if self.chance(0.35) and caller not in SERVICE_PRINCIPALS:
                ids[0] = self.rng.choice(covering(caller))
            element["AWS"] = self.one_or_list(list(dict.fromkeys(ids)))
        if "AWS" not in element or self.chance(0.15):
            element["Service"] = self.one_or_list(self.some(SERVICE_PRINCIPALS, 2))
        return element

    def condition(self) -> dict[str, dict[str, Any]]:
        block: dict[str, dict[str, Any]] = {}
        for _ in range(self.rng.randint(1, 3)):
            key = self.rng.choice(list(KEYS))
            operator = self.operator(key)
            values = self.policy_values(key, operator)
            # Condition keys are case-insensitive; exercise that now and then.
            written = key.upper() if self.chance(0.05) else key.lower() if self.chance(0.05) else key
            # One key per operator: the same key twice under one operator in different cases would
            # be one key twice, which a JSON object cannot say unambiguously.
            keys = block.setdefault(operator, {})
            if all(k.lower() != key.lower() for k in keys):
                keys[written] = values
        return block

    def operator(self, key: str) -> str:
        if self.chance(0.1):
            return "Null"
        base = self.rng.choice(OPERATORS_BY_TYPE[KEYS[key]])
        if self.chance(0.2):
            base += "IfExists"
        if self.chance(0.6 if key in MULTI_VALUED else 0.08):
            base = self.rng.choice(SET_QUALIFIERS) + base
        return base

    def policy_values(self, key: str, operator: str) -> Any:
        if operator == "Null":
            return self.rng.choice(["true", "false", True, False, ["true", "false"]])
        values = self.some(POLICY_VALUES[KEYS[key]], 3)
        carried = next((v for k, v in self.hint.context.items() if k.lower() == key.lower()), None)
        if carried and self.chance(0.3):
            values[0] = self.rng.choice(carried)
        return self.one_or_list(list(dict.fromkeys(values)))

    def context(self, principal: str) -> dict[str, list[str]]:
        derived = derived_context(principal)
        context: dict[str, list[str]] = {}
        for key, kind in KEYS.items():
            if not self.chance(0.5):
                continue
            if self.chance(0.01):
                values = []  # carried without a value: the same as absent, on both sides
            elif key in derived and self.chance(0.85):
                values = [derived[key]]
            elif key in MULTI_VALUED or (kind not in ("bool", "date", "number") and self.chance(0.05)):
                values = self.some(REQUEST_VALUES[kind], 3)
            else:
                values = [self.rng.choice(REQUEST_VALUES[kind])]
            context[key.lower() if self.chance(0.05) else key] = values
        return context


class Hint:
    """The request a policy is being generated for."""

    def __init__(self, principal: str, action: str, context: dict[str, list[str]]) -> None:
        self.principal, self.action, self.context = principal, action, context


def covering(caller: str) -> list[str]:
    """`AWS` principal entries that name `caller` or its account (or, for a session, its role)."""
    account = derived_context(caller)["aws:PrincipalAccount"]
    entries = [caller, account, f"arn:aws:iam::{account}:root"]
    if ":assumed-role/" in caller:
        entries.append(derived_context(caller)["aws:PrincipalArn"])
    return entries


def derived_context(principal: str) -> dict[str, str]:
    """The keys AWS would set from the caller itself, so that conditions naming the caller match."""
    if principal == A:
        principal = ROOT_A
    if not principal.startswith("arn:"):
        return {}
    account = principal.split(":")[4]
    arn = principal
    if ":assumed-role/" in principal:
        role = principal.split("/")[1]
        arn = WRITER_A if role == "XrayWriter" and account == A else f"arn:aws:iam::{account}:role/{role}"
    return {"aws:PrincipalArn": arn, "aws:PrincipalAccount": account, "kms:CallerAccount": account}


def generate_cases(seed: int, count: int) -> list[dict[str, Any]]:
    generator = Generator(random.Random(seed))
    return [generator.case(i) for i in range(count)]


# -- the two evaluators -----------------------------------------------------------------------


def run_rust(binary: str | os.PathLike[str], cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """All cases through one `xray-cmk debug decide-key-policy`, answers in case order. The cases
    are written from a thread while this one reads, so neither pipe can fill up and block."""
    proc = subprocess.Popen(
        [os.fspath(binary), "debug", "decide-key-policy"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    assert proc.stdin and proc.stdout and proc.stderr
    lines = [json.dumps(c, separators=(",", ":")) + "\n" for c in cases]

    def write() -> None:
        try:
            proc.stdin.writelines(lines)  # type: ignore[union-attr]
        except BrokenPipeError:
            pass
        finally:
            try:
                proc.stdin.close()  # type: ignore[union-attr]
            except BrokenPipeError:
                pass

    errors: list[str] = []
    writer = threading.Thread(target=write, daemon=True)
    drain = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    writer.start()
    drain.start()
    answers = [json.loads(line) for line in proc.stdout]
    writer.join()
    code = proc.wait()
    drain.join()
    if code != 0 or len(answers) != len(cases):
        raise RuntimeError(
            f"{binary} exited {code} after {len(answers)} of {len(cases)} answers: {''.join(errors)}"
        )
    for case, answer in zip(cases, answers):
        if answer.get("id") != case["id"]:
            raise RuntimeError(f"answer {answer} is not for case {case['id']}")
    return answers


Evaluate = Callable[[dict[str, Any], str, str, dict[str, list[str]]], Any]


def load_python_evaluator(module: str = "xray_cmk_emulator.iam_eval") -> tuple[Evaluate, type[BaseException]]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    mod = importlib.import_module(module)
    return mod.key_policy_decision, mod.Unsupported


def run_python(evaluate: Evaluate, unsupported: type[BaseException], case: dict[str, Any]) -> dict[str, Any]:
    """The Python answer in the Rust answer's shape; `unsupported` and `error` are failures."""
    try:
        d = evaluate(copy.deepcopy(case["policy"]), case["principal"], case["action"],
                     copy.deepcopy(case["context"]))  # fmt: skip
    except unsupported as e:
        return {"decision": "unsupported", "reason": str(e)}
    except Exception as e:  # noqa: BLE001 - any crash is a finding, not the end of the run
        return {"decision": "error", "reason": f"{type(e).__name__}: {e}"}
    answer: dict[str, Any] = {"decision": d.kind}
    if getattr(d, "account", None) is not None:
        answer["account"] = d.account
    if getattr(d, "sid", None) is not None:
        answer["sid"] = d.sid
    return answer


def verdict(rust: dict[str, Any], python: dict[str, Any]) -> str:
    """`agree`, `skip` (Rust undetermined), or what is wrong."""
    if python["decision"] == "unsupported":
        return "python-unsupported"
    if python["decision"] == "error":
        return "python-error"
    if python["decision"] not in DECISIONS:
        return "python-bad-kind"
    if rust["decision"] == "undetermined":
        return "skip"
    if rust["decision"] not in DECISIONS:
        return "rust-" + rust["decision"]
    if rust["decision"] != python["decision"]:
        return "kind"
    if rust["decision"] == "delegated" and rust.get("account") != python.get("account"):
        return "account"
    return "agree"


def signature(rust: dict[str, Any], python: dict[str, Any]) -> tuple[str, ...]:
    """What a shrunk case must keep to disagree "the same way"."""
    return (verdict(rust, python), rust["decision"], str(rust.get("account")),
            python["decision"], str(python.get("account")))  # fmt: skip


# -- shrinking --------------------------------------------------------------------------------


def statements_of(policy: dict[str, Any]) -> list[dict[str, Any]]:
    s = policy.get("Statement")
    return s if isinstance(s, list) else [s]


Where = tuple[Any, ...]  # keys and indexes from the case down to one element
DROP = object()


def _shorter(path: Where, value: Any) -> Iterator[tuple[Where, Any]]:
    """Edits that make the list at `path` one shorter (or a one-element list its bare value)."""
    if isinstance(value, list) and len(value) == 1:
        yield path, value[0]
    elif isinstance(value, list):
        for i in range(len(value)):
            yield path, value[:i] + value[i + 1 :]


def _edits(case: dict[str, Any]) -> Iterator[tuple[Where, Any]]:
    """Every one-step simplification of `case`, as (path, new value); DROP removes the element."""
    statements = case["policy"]["Statement"]
    if len(statements) > 1:
        yield from _shorter(("policy", "Statement"), statements)
    for field in ("Version", "Id"):
        if field in case["policy"]:
            yield ("policy", field), DROP
    for i, st in enumerate(statements):
        at: Where = ("policy", "Statement", i)
        for field in ("Sid", "Condition"):
            if field in st:
                yield at + (field,), DROP
        if st.get("Resource", "*") != "*":
            yield at + ("Resource",), "*"
        for field in ("Action", "NotAction"):
            yield from _shorter(at + (field,), st.get(field))
        for field in ("Principal", "NotPrincipal"):
            element = st.get(field)
            if isinstance(element, dict):
                for kind, ids in element.items():
                    if len(element) > 1:
                        yield at + (field, kind), DROP
                    yield from _shorter(at + (field, kind), ids)
        block = st.get("Condition") or {}
        for op, keys in block.items():
            if len(block) > 1:
                yield at + ("Condition", op), DROP
            for key, values in keys.items():
                if len(keys) > 1:
                    yield at + ("Condition", op, key), DROP
                yield from _shorter(at + ("Condition", op, key), values)
    for key, values in case["context"].items():
        yield ("context", key), DROP
        if len(values) > 1:
            for i in range(len(values)):
                yield ("context", key), values[:i] + values[i + 1 :]


def smaller(case: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every case one step smaller than `case`: a statement, condition, value, principal, action
    or context key less, or a simpler element."""
    base = copy.deepcopy(case)
    base["policy"]["Statement"] = statements_of(base["policy"])
    for path, value in list(_edits(base)):
        c = copy.deepcopy(base)
        parent = c
        for step in path[:-1]:
            parent = parent[step]
        if value is DROP:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
        yield c


def shrink(binary: str, evaluate: Evaluate, unsupported: type[BaseException],
           case: dict[str, Any], rounds: int = 200) -> dict[str, Any]:  # fmt: skip
    """A smaller case that disagrees the same way: one step at a time, while any step keeps it."""
    rust = run_rust(binary, [case])[0]
    want = signature(rust, run_python(evaluate, unsupported, case))
    for _ in range(rounds):
        candidates = list(smaller(case))
        if not candidates:
            break
        for n, c in enumerate(candidates):
            c["id"] = n
        answers = run_rust(binary, candidates)
        for c, r in zip(candidates, answers):
            if signature(r, run_python(evaluate, unsupported, c)) == want:
                c["id"] = case["id"]
                case = c
                break
        else:
            break
    return case


# -- the run ----------------------------------------------------------------------------------


def compare(binary: str, evaluate: Evaluate, unsupported: type[BaseException],
            cases: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    rust_answers = run_rust(binary, cases)
    counts = {"cases": len(cases), "agreed": 0, "skipped": 0, "disagreements": 0}
    disagreements = []
    for case, rust in zip(cases, rust_answers):
        python = run_python(evaluate, unsupported, case)
        v = verdict(rust, python)
        if v == "agree":
            counts["agreed"] += 1
        elif v == "skip":
            counts["skipped"] += 1
        else:
            counts["disagreements"] += 1
            disagreements.append({"problem": v, "case": case, "rust": rust, "python": python})
    return {"counts": counts, "disagreements": disagreements}


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True, help="the xray-cmk binary")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, help="replay a run (default: a random seed)")
    parser.add_argument("--out", type=Path, help="write every disagreement here as JSON")
    parser.add_argument("--evaluator", default="xray_cmk_emulator.iam_eval",
                        help="the Python module with key_policy_decision and Unsupported")  # fmt: skip
    parser.add_argument("--no-shrink", action="store_true", help="do not shrink disagreements")
    args = parser.parse_args(list(argv) if argv is not None else None)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    print(f"seed: {seed}", flush=True)
    if not Path(args.binary).is_file():
        print(f"error: no binary at {args.binary}", file=sys.stderr)
        return 2
    evaluate, unsupported = load_python_evaluator(args.evaluator)

    started = time.monotonic()
    cases = generate_cases(seed, args.cases)
    result = compare(args.binary, evaluate, unsupported, cases)
    counts, disagreements = result["counts"], result["disagreements"]
    elapsed = time.monotonic() - started

    if not args.no_shrink:
        for d in disagreements[:SHRUNK]:
            d["shrunk"] = shrink(args.binary, evaluate, unsupported, d["case"])
            d["shrunk_rust"] = run_rust(args.binary, [d["shrunk"]])[0]
            d["shrunk_python"] = run_python(evaluate, unsupported, d["shrunk"])
    for d in disagreements[:SHOWN]:
        print(f"\n-- disagreement ({d['problem']}) in case {d['case']['id']}:")
        print(json.dumps({k: v for k, v in d.items() if k != "problem"}, indent=2))
    by_problem: dict[str, int] = {}
    for d in disagreements:
        by_problem[d["problem"]] = by_problem.get(d["problem"], 0) + 1
    print(
        f"\nseed {seed}: {counts['cases']} cases, {counts['agreed']} agreed, "
        f"{counts['skipped']} skipped as undetermined, {counts['disagreements']} disagreements"
        + (f" {by_problem}" if by_problem else "")
        + f" ({elapsed:.1f}s)"
    )
    if args.out:
        args.out.write_text(json.dumps(
            {"seed": seed, "counts": counts, "disagreements": disagreements}, indent=2) + "\n")  # fmt: skip
    failed = False
    if disagreements:
        print(f"FAIL: {len(disagreements)} disagreements (replay with --seed {seed})")
        failed = True
    if counts["cases"] and counts["skipped"] > MAX_SKIPPED * counts["cases"]:
        print(f"FAIL: {counts['skipped']} of {counts['cases']} cases skipped as undetermined "
              f"(more than {MAX_SKIPPED:.0%}): the generator tests too little")  # fmt: skip
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
