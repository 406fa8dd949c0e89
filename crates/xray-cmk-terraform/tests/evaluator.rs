//! The evaluator through the real loader and rules: unknowns in operators and functions,
//! `dynamic` blocks, `templatefile`, the instance bound and linear time.
//! The snapshots list every result as `file:line:col status rule resource`.

mod common;

use std::time::{Duration, Instant};

use common::{fixtures, listing, policy};
use xray_cmk_core::{rules, Confidence, Date, Finding, Observed, Status};

/// Scans `path` (absolute, or relative to the fixtures directory). `listing` prints locations
/// relative to the fixtures directory, so the working directory stays.
fn judge(path: &str) -> Vec<Finding> {
    let scan = xray_cmk_terraform::scan(&[fixtures().join(path)]);
    scan.judge(&policy(), Date::new(2026, 12, 1).expect("date"), rules::ALL)
}

fn find<'a>(findings: &'a [Finding], rule: &str, resource: &str) -> Option<&'a Finding> {
    findings
        .iter()
        .find(|f| f.rule() == rule && f.resource().ends_with(resource))
}

fn status_of(findings: &[Finding], rule: &str, resource: &str) -> Option<Status> {
    find(findings, rule, resource).map(|f| f.status())
}

#[test]
fn operators_and_functions_over_an_unknown_are_unknown() {
    let f = judge("eval-unknowns");
    insta::assert_snapshot!("eval-unknowns", listing(&f));
    for key in ["compared", "measured", "chosen", "negated", "unevaluated"] {
        let r = find(&f, "kms-rotation-disabled", &format!("aws_kms_key.{key}"))
            .unwrap_or_else(|| panic!("{key} judged"));
        assert_eq!(r.status(), Status::Error, "{key}");
        assert_eq!(r.confidence(), Confidence::Low, "{key}");
    }
    assert_eq!(
        status_of(&f, "kms-rotation-disabled", "aws_kms_key.either_way"),
        Some(Status::Pass)
    );
}

#[test]
fn dynamic_tracing_config_turns_tracing_on_when_its_for_each_is_known() {
    let on = judge("eval-dynamic-tracing/on");
    insta::assert_snapshot!("eval-dynamic-tracing-on", listing(&on));
    assert_eq!(
        status_of(&on, "tf-xray-encryption-missing", "eval-dynamic-tracing/on"),
        Some(Status::Fail)
    );
    let off = judge("eval-dynamic-tracing/off");
    assert!(off.is_empty(), "no tracing: {}", listing(&off));
    let unknown = judge("eval-dynamic-tracing/unknown");
    insta::assert_snapshot!("eval-dynamic-tracing-unknown", listing(&unknown));
    assert_ne!(
        status_of(
            &unknown,
            "tf-xray-encryption-missing",
            "eval-dynamic-tracing/unknown"
        ),
        Some(Status::Pass)
    );
}

#[test]
fn dynamic_statements_render_each_statement_and_an_unknown_condition_makes_the_policy_unknown() {
    let f = judge("eval-dynamic-statements");
    insta::assert_snapshot!("eval-dynamic-statements", listing(&f));
    let key = |k: &str| format!("aws_kms_key.{k}");
    assert_eq!(
        status_of(&f, "kms-key-policy-xray-access", &key("known")),
        Some(Status::Pass)
    );
    assert_eq!(
        status_of(&f, "kms-key-policy-public", &key("known")),
        Some(Status::Pass)
    );
    for rule in ["kms-key-policy-public", "kms-key-policy-xray-access"] {
        assert_eq!(
            status_of(&f, rule, &key("unknown_condition")),
            Some(Status::Error),
            "{rule}: never the statement without its condition"
        );
    }
    assert_eq!(
        status_of(&f, "kms-key-policy-public", &key("overridden")),
        Some(Status::Fail),
        "the override replaced Read"
    );
}

#[test]
fn a_key_policy_from_templatefile_is_judged() {
    let f = judge("eval-templatefile");
    insta::assert_snapshot!("eval-templatefile", listing(&f));
    for rule in [
        "kms-key-policy-xray-access",
        "kms-key-policy-public",
        "kms-key-policy-default-only",
    ] {
        assert_eq!(
            status_of(&f, rule, "aws_kms_key.xray"),
            Some(Status::Pass),
            "{rule}"
        );
    }
}

#[test]
fn a_count_above_the_bound_is_one_unknown_instance_at_once() {
    let start = Instant::now();
    let f = judge("eval-count-bound");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    insta::assert_snapshot!("eval-count-bound", listing(&f));
    assert!(f.iter().all(|f| !f.resource().contains("many[0]")));
    assert!(f
        .iter()
        .any(|f| f.resource().contains("aws_kms_key.many[*]")));
}

/// N counted keys and N aliases naming them by index, through the whole scan, N = 10,000: each
/// alias finds its key, in linear time (the release build takes about 0.6 s; a debug build under
/// load stays far below the bound, where the quadratic builder took minutes).
#[test]
fn counted_aliases_find_their_counted_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("main.tf"),
        r#"
variable "n" {
  default = 10000
}

resource "aws_kms_key" "k" {
  count               = var.n
  description         = "k-${count.index}"
  enable_key_rotation = true
}

resource "aws_kms_alias" "a" {
  count         = var.n
  name          = "alias/xray-${count.index}"
  target_key_id = aws_kms_key.k[count.index].key_id
}
"#,
    )
    .expect("write");
    let start = Instant::now();
    let scan = xray_cmk_terraform::scan(&[dir.path().to_path_buf()]);
    let took = start.elapsed();
    assert!(scan.errors.is_empty(), "{:?}", scan.errors);
    assert_eq!(scan.inventory.keys.len(), 10_000);
    let aliased = scan
        .inventory
        .keys
        .values()
        .filter(|k| {
            matches!(k, Observed::Known(k)
                if matches!(&k.aliases, Observed::Known(a) if !a.is_empty()))
        })
        .count();
    assert_eq!(aliased, 10_000, "each alias found its key");
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

/// A long chain of locals, each naming the previous one, is unknown past a depth rather than
/// the scanning thread's stack exhausted.
#[test]
fn a_long_chain_of_references_does_not_exhaust_the_stack() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut text = String::from("locals {\n  l0 = true\n");
    for i in 1..=2000 {
        text.push_str(&format!("  l{i} = local.l{} && true\n", i - 1));
    }
    text.push_str("}\nresource \"aws_kms_key\" \"k\" {\n  enable_key_rotation = local.l2000\n}\n");
    std::fs::write(dir.path().join("main.tf"), text).expect("write");
    let scan = xray_cmk_terraform::scan(&[dir.path().to_path_buf()]);
    assert_eq!(scan.inventory.keys.len(), 1);
}
