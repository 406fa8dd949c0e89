//! Hostile input never panics and never takes long: random and mutated policy files, plans and key
//! policies (proptest), and pathological shapes (deep nesting, huge flat documents).

use std::time::{Duration, Instant};

use proptest::prelude::*;
use xray_cmk_core::key_policy::{Context, PolicyDocument, Request};
use xray_cmk_core::remediation::plan::Plan;
use xray_cmk_core::OrgPolicy;

/// The most one parse or evaluation may take, however hostile its input (generous for debug
/// builds on a loaded machine; real runs take microseconds).
const BOUND: Duration = Duration::from_millis(500);

const KEY_POLICY: &str = r#"{"Version":"2012-10-17","Id":"k","Statement":[
 {"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
 {"Sid":"X","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:role/XrayAdmin","*"]},
  "Action":["kms:CreateGrant","kms:Describe*"],"NotResource":"arn:aws:kms:*:*:key/other",
  "Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"},"ForAnyValue:StringLike":{"kms:ViaService":["xray.*.amazonaws.com"]},
   "Bool":{"kms:GrantIsForAWSResource":"true"},"NumericLessThanIfExists":{"x:n":"3"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
 {"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"NotAction":"kms:Decrypt","Resource":"*"}]}"#;

const POLICY_FILE: &str = r#"[rotation]
max_period_days = 365
[tags]
required = ["owner", "data-classification"]
values = { owner = "platform" }
[keys]
approved = ["alias/xray-*"]
[access]
key_admins = ["arn:aws:iam::{account}:role/KeyAdmin"]
trace_readers = ["arn:aws:iam::{account}:role/TraceReader"]
trusted_accounts = ["444455556666"]
[[exemptions]]
account = "*"
region = "eu-west-1"
rule = "kms-rotation-disabled"
reason = "migration"
expires = "2027-01-01"
"#;

const PLAN: &str = r#"{"schema_version":3,"tool_version":"0.0.0","created_at":"2026-12-01T00:00:00Z",
"digest":"x","caller":"arn:aws:iam::111122223333:role/A","targets":[{"account":"111122223333",
"region":"eu-west-1","principal":"arn:aws:iam::111122223333:role/A","steps":[{"action":{"kind":"verify"},
"precondition":{"kind":"none"},"because":"x"}]}]}"#;

/// `seed` with `edits` applied: each an (offset, replacement) where the replacement may be empty
/// (a deletion) or a few characters.
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

fn edits() -> impl Strategy<Value = Vec<(usize, String)>> {
    prop::collection::vec(
        (
            any::<usize>(),
            "[\\[\\]{}\",:*.=a-z0-9 \\\\\\n\u{0}\u{202e}é-]{0,4}",
        ),
        1..12,
    )
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    let took = started.elapsed();
    assert!(took < BOUND, "{what} took {took:?}");
    out
}

fn known_rules() -> Vec<&'static str> {
    xray_cmk_core::rules::ALL
        .iter()
        .map(|r| r.meta().id.as_str())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mutated_key_policies_parse_and_evaluate_without_panic(e in edits()) {
        let text = mutate(KEY_POLICY, &e);
        if let Ok(doc) = timed("parse", || PolicyDocument::parse(&text)) {
            let cx = Context::new().with("kms:ViaService", "xray.eu-west-1.amazonaws.com");
            for action in ["kms:Decrypt", "kms:CreateGrant", "kms:PutKeyPolicy"] {
                let _ = timed("evaluate", || doc.evaluate(&Request::new(
                    "arn:aws:iam::111122223333:role/XrayAdmin", action, &cx)));
            }
        }
    }

    #[test]
    fn arbitrary_text_as_a_key_policy_never_panics(text in "\\PC{0,200}") {
        let _ = timed("parse", || PolicyDocument::parse(&text));
    }

    #[test]
    fn mutated_policy_files_never_panic(e in edits()) {
        let text = mutate(POLICY_FILE, &e);
        let known = known_rules();
        let _ = timed("policy file", || OrgPolicy::parse(&text, "p.toml", &known));
    }

    #[test]
    fn mutated_plans_never_panic(e in edits()) {
        let text = mutate(PLAN, &e);
        let _ = timed("plan", || Plan::from_json(&text, "0.0.0"));
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(timed("key policy", || PolicyDocument::parse(&deep)).is_err());
    assert!(timed("plan", || Plan::from_json(&deep, "0.0.0")).is_err());
    let deep_toml = format!("x = {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let known = known_rules();
    assert!(timed("policy file", || OrgPolicy::parse(
        &deep_toml, "p.toml", &known
    ))
    .is_err());
}

#[test]
fn a_huge_flat_key_policy_stays_fast() {
    let statements: Vec<String> = (0..5_000)
        .map(|i| format!(r#"{{"Sid":"S{i}","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:role/R{i}"}},"Action":"kms:Decrypt","Resource":"*"}}"#))
        .collect();
    let text = format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        statements.join(",")
    );
    let doc = timed("parse", || PolicyDocument::parse(&text)).expect("valid");
    let cx = Context::new();
    let _ = timed("evaluate", || {
        doc.evaluate(&Request::new(
            "arn:aws:iam::111122223333:role/R4999",
            "kms:Decrypt",
            &cx,
        ))
    });
}
