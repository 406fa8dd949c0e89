"""AWS Config as botocore's model has it where moto 5.2.5 falls short.

- ``PutConfigRule`` accepts ``Source.Owner`` ``CUSTOM_POLICY`` (moto knows only ``AWS`` and
  ``CUSTOM_LAMBDA``), with ``Source.CustomPolicyDetails`` as the model defines it:
  ``PolicyRuntime`` (required, pattern ``guard\\-2\\.x\\.x``, 1-64 characters), ``PolicyText``
  (required, at most 10,000 characters) and ``EnableDebugLogDelivery`` (boolean). As on AWS a custom
  policy rule needs ``SourceDetails`` (what triggers it) and takes no ``SourceIdentifier``
  (``InvalidParameterValueException`` otherwise); ``CustomPolicyDetails`` with another owner is
  refused too. ``DescribeConfigRules`` returns ``CustomPolicyDetails`` without ``PolicyText``, which
  AWS serves only through ``GetCustomRulePolicy``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from moto.config import models as config_models
from moto.config.exceptions import InvalidParameterValueException, ValidationException

POLICY_RUNTIME = re.compile(r"guard\-2\.x\.x")
POLICY_TEXT_MAX = 10_000


def _custom_policy_details(details: Any) -> dict[str, Any]:
    if not isinstance(details, dict):
        raise ValidationException("configRule.source.customPolicyDetails must be a structure")
    runtime = details.get("PolicyRuntime")
    text = details.get("PolicyText")
    if runtime is None or text is None:
        missing = "PolicyRuntime" if runtime is None else "PolicyText"
        raise ValidationException(
            f"1 validation error detected: Value null at 'configRule.source.customPolicyDetails.{missing.lower()}' "
            "failed to satisfy constraint: Member must not be null"
        )
    if not isinstance(runtime, str) or not (1 <= len(runtime) <= 64) or not POLICY_RUNTIME.fullmatch(runtime):
        raise ValidationException(
            f"1 validation error detected: Value '{runtime}' at 'configRule.source.customPolicyDetails.policyRuntime' "
            "failed to satisfy constraint: Member must satisfy regular expression pattern: guard\\-2\\.x\\.x"
        )
    if not isinstance(text, str) or len(text) > POLICY_TEXT_MAX:
        raise ValidationException(
            "1 validation error detected: Value at 'configRule.source.customPolicyDetails.policyText' "
            f"failed to satisfy constraint: Member must have length less than or equal to {POLICY_TEXT_MAX}"
        )
    debug = details.get("EnableDebugLogDelivery", False)
    if not isinstance(debug, bool):
        raise ValidationException("configRule.source.customPolicyDetails.enableDebugLogDelivery must be a boolean")
    return {"PolicyRuntime": runtime, "PolicyText": text, "EnableDebugLogDelivery": debug}


def _source_init(original: Any) -> Any:
    @functools.wraps(original)
    def init(
        self: Any,
        account_id: str,
        region: str,
        owner: str,
        source_identifier: str | None = None,
        source_details: Any = None,
        custom_policy_details: Any = None,
    ) -> None:
        if owner != "CUSTOM_POLICY":
            if custom_policy_details is not None:
                raise InvalidParameterValueException(
                    "CustomPolicyDetails can be provided only if the owner is CUSTOM_POLICY"
                )
            original(self, account_id, region, owner, source_identifier, source_details)
            self._policy_text = None
            return
        config_models.ConfigEmptyDictable.__init__(self, capitalize_start=True, capitalize_arn=False)
        if source_identifier:
            raise InvalidParameterValueException(
                "SourceIdentifier should be null/empty if the owner is CUSTOM_POLICY"
            )
        if custom_policy_details is None:
            raise InvalidParameterValueException(
                "CustomPolicyDetails should be provided if the owner is CUSTOM_POLICY"
            )
        if not source_details:
            raise InvalidParameterValueException(
                "SourceDetails should be provided if the owner is CUSTOM_POLICY"
            )
        details = _custom_policy_details(custom_policy_details)
        self.owner = owner
        self.source_identifier = None
        self.source_details = [
            config_models.SourceDetail(**config_models.convert_to_class_args(d)) for d in source_details
        ]
        self._policy_text = details["PolicyText"]
        self.custom_policy_details = {
            "PolicyRuntime": details["PolicyRuntime"],
            "EnableDebugLogDelivery": details["EnableDebugLogDelivery"],
        }

    return init


def policy_text(account_id: str, region: str, rule_name: str) -> str | None:
    """The Guard rule of a custom policy rule, or None (no such rule, or not a custom policy)."""
    backend = config_models.config_backends[account_id][region]
    rule = backend.config_rules.get(rule_name)
    if rule is None:
        return None
    return getattr(rule.source, "_policy_text", None)


@functools.cache
def apply() -> None:
    source = config_models.Source
    source.OWNERS = {"AWS", "CUSTOM_LAMBDA", "CUSTOM_POLICY"}
    source.__init__ = _source_init(source.__init__)  # type: ignore[method-assign]
