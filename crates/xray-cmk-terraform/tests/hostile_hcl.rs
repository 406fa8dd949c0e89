//! Random and mutated Terraform never panics the scanner and never takes long: the parser, the
//! evaluator (operators, functions, dynamic blocks, counts) and the inventory builder together.

use std::time::{Duration, Instant};

use proptest::prelude::*;

/// A module that exercises most of the evaluator, to be mutated.
const SEED: &str = r#"
variable "n" {
  type    = number
  default = 3
}
variable "cfg" {
  type = object({ mode = optional(string, "Active"), tags = optional(map(string), {}) })
  default = {}
}
locals {
  names = [for i in range(var.n) : "k-${i}"]
  by    = { for n in local.names : n => upper(n) if length(n) > 1 }
  doc   = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "kms:*", Resource = "*", Principal = { AWS = "arn:aws:iam::111122223333:root" } }] })
}
resource "aws_kms_key" "k" {
  count               = var.n > 0 ? var.n : 0
  description         = try(local.by[local.names[count.index]], "none")
  enable_key_rotation = count.index % 2 == 0 && contains(keys(local.by), "k-0")
  policy              = local.doc
  tags                = merge(var.cfg.tags, { owner = coalesce(lookup(var.cfg.tags, "owner", null), "platform") })
}
resource "aws_kms_alias" "a" {
  for_each      = toset(local.names)
  name          = "alias/${each.key}"
  target_key_id = aws_kms_key.k[index(local.names, each.key)].key_id
}
data "aws_iam_policy_document" "p" {
  dynamic "statement" {
    for_each = local.by
    content {
      sid       = replace(statement.key, "-", "")
      actions   = ["kms:Decrypt"]
      resources = ["*"]
    }
  }
}
resource "aws_lambda_function" "f" {
  function_name = "f"
  role          = "arn:aws:iam::111122223333:role/r"
  dynamic "tracing_config" {
    for_each = var.cfg.mode == null ? [] : [var.cfg.mode]
    content { mode = tracing_config.value }
  }
}
resource "aws_xray_encryption_config" "x" {
  type   = "KMS"
  key_id = aws_kms_alias.a["k-0"].arn
}
"#;

const BOUND: Duration = Duration::from_secs(3);

fn mutate(seed: &str, edits: &[(usize, String)]) -> String {
    let mut chars: Vec<char> = seed.chars().collect();
    for (at, with) in edits {
        if chars.is_empty() {
            break;
        }
        let at = at % chars.len();
        let remove = usize::from(with.len() % 2 == 0).min(chars.len() - at);
        chars.splice(at..at + remove, with.chars());
    }
    chars.into_iter().collect()
}

fn scan_text(text: &str) {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("main.tf"), text).expect("write");
    let started = Instant::now();
    let scanned = xray_cmk_terraform::scan(&[dir.path().to_path_buf()]);
    let _ = scanned.judge(
        &xray_cmk_core::OrgPolicy::default(),
        xray_cmk_core::Date::new(2026, 12, 1).expect("date"),
        xray_cmk_core::rules::ALL,
    );
    let took = started.elapsed();
    assert!(took < BOUND, "took {took:?} on:\n{text}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn mutated_modules_never_panic_and_stay_fast(
        edits in prop::collection::vec(
            (any::<usize>(), "[\\[\\]{}()\"=:?.,*%!<>&|$#a-z0-9 \\n-]{0,5}"),
            1..10,
        )
    ) {
        scan_text(&mutate(SEED, &edits));
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,300}") {
        scan_text(&text);
    }
}

#[test]
fn the_seed_itself_is_judged() {
    scan_text(SEED);
}
