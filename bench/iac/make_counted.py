#!/usr/bin/env python3
"""One Terraform module of N repeated KMS keys and N aliases that refer to them, instance by instance.

    python3 bench/iac/make_counted.py OUT_DIR [--count 2000] [--repeat count|for_each]

The shape that makes a naive evaluator quadratic: every ``aws_kms_alias.a[i]`` refers to
``aws_kms_key.k[i]``, so resolving each of the N references must not walk the N key instances.
OUT_DIR/main.tf holds (for ``--repeat count``, the default):

    resource "aws_kms_key" "k" {
      count               = N
      description         = "k-${count.index}"
      enable_key_rotation = count.index % 2 == 0
    }

    resource "aws_kms_alias" "a" {
      count         = N
      name          = "alias/k-${count.index}"
      target_key_id = aws_kms_key.k[count.index].key_id
    }

    resource "aws_xray_encryption_config" "this" {
      type   = "KMS"
      key_id = aws_kms_key.k[0].arn
    }

plus versions.tf (required_providers) and a provider with a region, so nothing else is unknown.
``--repeat for_each`` writes the same with ``for_each`` over the names "k-0" ... "k-(N-1)" and
``each.key``/``each.value``. Half the keys have rotation off, so a scan reports N/2 failures of
kms-rotation-disabled. Standard library only; the output is in ``terraform fmt`` style.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

VERSIONS = """terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

provider "aws" {
  region              = "eu-west-1"
  allowed_account_ids = ["111122223333"]
}
"""

COUNT = """resource "aws_kms_key" "k" {{
  count               = {n}
  description         = "k-${{count.index}}"
  enable_key_rotation = count.index % 2 == 0
}}

resource "aws_kms_alias" "a" {{
  count         = {n}
  name          = "alias/k-${{count.index}}"
  target_key_id = aws_kms_key.k[count.index].key_id
}}

resource "aws_xray_encryption_config" "this" {{
  type   = "KMS"
  key_id = aws_kms_key.k[0].arn
}}
"""

FOR_EACH = """locals {{
  keys = {{ for i in range({n}) : "k-${{i}}" => i % 2 == 0 }}
}}

resource "aws_kms_key" "k" {{
  for_each            = local.keys
  description         = each.key
  enable_key_rotation = each.value
}}

resource "aws_kms_alias" "a" {{
  for_each      = local.keys
  name          = "alias/${{each.key}}"
  target_key_id = aws_kms_key.k[each.key].key_id
}}

resource "aws_xray_encryption_config" "this" {{
  type   = "KMS"
  key_id = aws_kms_key.k["k-0"].arn
}}
"""


def module_text(n: int, repeat: str) -> str:
    return (COUNT if repeat == "count" else FOR_EACH).format(n=n)


def write(out: Path, n: int, repeat: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "versions.tf", out / "main.tf"]
    files[0].write_text(VERSIONS)
    files[1].write_text(module_text(n, repeat))
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="directory to write the module into (created)")
    p.add_argument("--count", type=int, default=2000, help="instances of the key and of the alias (default 2000)")
    p.add_argument("--repeat", choices=["count", "for_each"], default="count", help="count (default) or for_each")
    a = p.parse_args(argv)
    if a.count < 1:
        p.error("--count must be at least 1")
    for f in write(a.out, a.count, a.repeat):
        print(f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
