//! Snapshot tests of both renderers over one hand-built report.

use xray_cmk_core::model::*;
use xray_cmk_report::{json_v1, table, Report, Scope};

const KEY: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// Exempts us-east-1's default encryption, so the renderers show a suppressed result.
fn policy() -> xray_cmk_core::OrgPolicy {
    let known: Vec<&str> = xray_cmk_core::rules::ALL
        .iter()
        .map(|r| r.meta().id.as_str())
        .collect();
    xray_cmk_core::OrgPolicy::parse(
        "[[exemptions]]\naccount = \"111122223333\"\nregion = \"us-east-1\"\nrule = \"xray-default-encryption\"\nreason = \"sandbox\"\nexpires = 2027-01-31\n",
        "xray-cmk.toml",
        &known,
    )
    .expect("valid policy")
}

fn report() -> Report {
    let target = |region: &str, encryption| XrayTarget {
        account: "111122223333".into(),
        region: region.into(),
        origin: Origin::Live,
        encryption,
        trails: None,
        segment_destination: None,
    };
    let inventory = Inventory {
        targets: vec![
            target(
                "eu-west-1",
                Observed::Known(XrayEncryption {
                    encryption_type: EncryptionType::Kms,
                    key_id: Some(KEY.into()),
                    status: Some("ACTIVE".into()),
                }),
            ),
            target(
                "us-east-1",
                Observed::Known(XrayEncryption {
                    encryption_type: EncryptionType::None,
                    key_id: None,
                    status: Some("ACTIVE".into()),
                }),
            ),
            target(
                "eu-north-1",
                Observed::Unknown(CollectionError {
                    operation: "xray:GetEncryptionConfig".into(),
                    kind: ErrorKind::AccessDenied,
                    code: Some("AccessDeniedException".into()),
                    message: "explicit deny".into(),
                }),
            ),
        ],
        keys: [(
            KEY.to_owned(),
            Observed::Known(KmsKey {
                arn: Some(KEY.into()),
                key_manager: Some(KeyManager::Aws),
                key_state: Some(KeyState::Enabled),
                key_spec: Some("SYMMETRIC_DEFAULT".into()),
                key_usage: Some("ENCRYPT_DECRYPT".into()),
                ..KmsKey::described("1234abcd-12ab-34cd-56ef-1234567890ab")
            }),
        )]
        .into_iter()
        .collect(),
        trails: Default::default(),
        keys_judged_elsewhere: Default::default(),
        keys_read_across_accounts: Default::default(),
        terraform_modules: Vec::new(),
        cloudformation_templates: Vec::new(),
        iam_answers: Default::default(),
        iam_scope: Default::default(),
        unaliased_keys: Default::default(),
        guardrails: Default::default(),
        scp_paths: Default::default(),
        config_sourced: Default::default(),
    };
    Report::new(
        "0.0.0-test",
        "2026-11-28T00:00:00Z",
        Scope {
            accounts: vec!["111122223333".into()],
            regions: vec!["eu-north-1".into(), "eu-west-1".into(), "us-east-1".into()],
            policy: Some("xray-cmk.toml".into()),
        },
        xray_cmk_core::evaluate(&xray_cmk_core::Context {
            inventory: &inventory,
            policy: &policy(),
            today: xray_cmk_core::Date::new(2026, 11, 28).expect("date"),
            // The key listing this inventory does not have is not what the renderers are about.
            rules: &xray_cmk_core::select(&[], &["kms-orphaned-xray-cmk-key".into()])
                .expect("rules"),
        }),
    )
}

#[test]
fn table_snapshot() {
    insta::assert_snapshot!(table::render(&report(), false));
}

/// The audit's terminal view: failures and errors grouped by account and region, the count of
/// passes left out, a line per rule, the summary; with `--show-passes` every row.
#[test]
fn grouped_table_snapshots() {
    let without = table::render_grouped(&report(), false, false);
    insta::assert_snapshot!("grouped_table", without);
    let with = table::render_grouped(&report(), false, true);
    insta::assert_snapshot!("grouped_table_with_passes", with);
    let rows = |t: &str| t.lines().filter(|l| l.starts_with("pass ")).count();
    assert_eq!(rows(&without), 0);
    assert_eq!(rows(&with), report().summary.passed_results);
    assert!(table::render_grouped(&report(), true, false).contains("\x1b[33merror"));
}

#[test]
fn table_colours_only_when_asked() {
    assert!(!table::render(&report(), false).contains('\x1b'));
    assert!(table::render(&report(), true).contains("\x1b[31mfail"));
}

#[test]
fn json_v1_snapshot() {
    insta::assert_snapshot!(json_v1::render(&report()));
}

#[test]
fn jsonl_streams_results_then_a_summary() {
    let r = report();
    let mut text: String = r.findings.iter().map(json_v1::result_line).collect();
    text.push_str(&json_v1::summary_line(&r));
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), r.findings.len() + 1);
    let (last, results) = lines.split_last().expect("lines");
    assert!(results
        .iter()
        .all(|l| l["type"] == "result" && l["rule"].is_string()));
    assert_eq!(results[0]["account"], "111122223333");
    assert_eq!(last["type"], "summary");
    assert_eq!(last["schema_version"], json_v1::SCHEMA_VERSION);
    assert_eq!(last["summary"]["targets"], 3);
    assert!(
        last.get("results").is_none(),
        "results were streamed before"
    );
}

#[test]
fn text_from_aws_is_escaped_in_the_table() {
    // An error message AWS sent, with a terminal escape and a bidi override in it.
    let mut r = report();
    let meta = xray_cmk_core::rules::ALL[0].meta();
    r.findings.push(
        xray_cmk_core::finding::FindingBuilder::new(meta, "111122223333", "eu-north-1", "x")
            .error("denied \u{1b}]0;pwned\u{7} by \u{202e}txt.exe"),
    );
    let table = table::render(&r, false);
    assert!(
        table.contains("denied \\u{1b}]0;pwned\\u{7} by \\u{202e}txt.exe"),
        "{table}"
    );
    assert!(!table.contains('\u{1b}') && !table.contains('\u{202e}'));
}
