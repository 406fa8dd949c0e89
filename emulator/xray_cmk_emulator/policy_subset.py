"""The small piece of IAM policy evaluation the trust-policy check shares (sts_assume_role).

Only string conditions over single-valued keys are modelled. Anything outside that subset makes
a condition *unknown*, and callers then ignore the statement rather than guess.
"""

from __future__ import annotations

import re
from typing import Any


def as_list(value: Any) -> list[Any]:
    """Policy elements take a value or a list of values."""
    return value if isinstance(value, list) else [value]


def like(value: str, pattern: str) -> bool:
    """IAM StringLike: ``*`` any run, ``?`` one character, everything else literal."""
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


_TESTS = {
    "StringEquals": lambda value, values: value in values,
    "StringNotEquals": lambda value, values: value not in values,
    "StringLike": lambda value, values: any(like(value, v) for v in values),
    "StringNotLike": lambda value, values: not any(like(value, v) for v in values),
}


def condition_holds(condition: Any, context: dict[str, str | None], operators: set[str]) -> bool | None:
    """Evaluates a ``Condition`` block against ``context`` (lower-case key -> value, ``None`` when
    the request does not carry the key). True or False, or None when the block uses an operator
    outside ``operators`` or a key outside ``context``. As in IAM, an absent key makes a positive
    operator false and a negated one true; all operators and keys must hold."""
    if not condition:
        return True
    if not isinstance(condition, dict):
        return None
    holds = True
    for operator, block in condition.items():
        if operator not in operators or operator not in _TESTS or not isinstance(block, dict):
            return None
        for key, values in block.items():
            if key.lower() not in context:
                return None
            value = context[key.lower()]
            if value is None:
                ok = operator.startswith("StringNot")
            else:
                ok = _TESTS[operator](value, [str(v) for v in as_list(values)])
            holds = holds and ok
    return holds
