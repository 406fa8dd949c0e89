use super::*;
use crate::policy::GuardPolicy;

const KEY_A: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const KEY_B: &str = "arn:aws:kms:eu-west-1:444455556666:key/0987dcba-09fe-87dc-65ba-ab0987654321";

fn keys() -> Vec<KeyArn> {
    parse_key_arns(
        &format!("# approved\n{KEY_A}\n\n{KEY_B}  # eu\n{KEY_A}\n"),
        "keys.txt",
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn guard(auto_remediate: bool, topic: Option<&str>) -> GuardPolicy {
    GuardPolicy {
        automation_roles: vec![
            "arn:aws:iam::{account}:role/XrayCmkAutomation".into(),
            "arn:aws:iam::999988887777:role/central/Pipeline".into(),
        ],
        break_glass_roles: vec!["arn:aws:iam::{account}:role/BreakGlass".into()],
        alert_topic_arn: topic.map(str::to_owned),
        auto_remediate,
    }
}

fn files(guard: &GuardPolicy) -> Vec<GeneratedFile> {
    let keys = keys();
    generate(&GuardInput {
        guard,
        keys: &keys,
        remediation_alias: "alias/xray-cmk",
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

fn file<'a>(files: &'a [GeneratedFile], path: &str) -> &'a str {
    files
        .iter()
        .find(|f| f.path == path)
        .map(|f| f.text.as_str())
        .unwrap_or_else(|| panic!("no {path}"))
}

#[test]
fn every_file_for_a_fixed_policy() {
    let files = files(&guard(true, None));
    let paths: Vec<&str> = files.iter().map(|f| f.path).collect();
    insta::assert_snapshot!(paths.join("\n"), @r"
    xray-cmk-guard.stackset.yaml
    xray-cmk-guard.scp.json
    xray-cmk-encryption.guard
    terraform/main.tf
    terraform/scp/main.tf
    README.md
    ");
    for f in &files {
        insta::assert_snapshot!(format!("remediate-{}", f.path.replace('/', "-")), f.text);
    }
}

#[test]
fn every_file_with_an_existing_topic_and_no_remediation() {
    let files = files(&guard(
        false,
        Some("arn:aws:sns:us-east-1:{account}:security-alerts"),
    ));
    for f in &files {
        insta::assert_snapshot!(format!("alert-only-{}", f.path.replace('/', "-")), f.text);
    }
}

#[test]
fn the_template_rule_is_the_resolved_rule_once_substituted() {
    let keys = keys();
    let joined: Vec<&str> = keys.iter().map(KeyArn::as_str).collect();
    let substituted = rule::substituted("ApprovedKeyArnList")
        .replace("${ApprovedKeyArnList}", &joined.join("\", \""));
    assert_eq!(substituted, rule::resolved(&keys));
    assert!(rule::resolved(&keys).contains(&format!("[\"{KEY_A}\", \"{KEY_B}\"]")));
}

#[test]
fn the_scp_names_account_roles_in_any_account() {
    let files = files(&guard(true, None));
    let scp: serde_json::Value =
        serde_json::from_str(file(&files, SCP_FILE)).unwrap_or_else(|e| panic!("{e}"));
    let writers = &scp["Statement"][0]["Condition"]["ArnNotLike"]["aws:PrincipalArn"];
    assert_eq!(
        writers,
        &serde_json::json!([
            "arn:aws:iam::*:role/XrayCmkAutomation",
            "arn:aws:iam::999988887777:role/central/Pipeline",
            "arn:aws:iam::*:role/BreakGlass",
            "arn:aws:iam::*:role/xray-cmk-guard-remediation-*",
        ])
    );
    let keys = &scp["Statement"][1];
    assert_eq!(
        keys["Condition"]["ArnNotLike"]["aws:PrincipalArn"],
        serde_json::json!(["arn:aws:iam::*:role/BreakGlass"])
    );
    assert_eq!(
        keys["Condition"]["StringEquals"]["aws:ResourceTag/managed-by"],
        "xray-cmk"
    );
    assert!(!file(&files, SCP_FILE).contains("{account}"));
    // Minified: no whitespace outside strings.
    assert!(!file(&files, SCP_FILE).trim_end().contains(['\n', ' ']));
}

#[test]
fn an_scp_over_the_size_limit_is_refused() {
    let mut g = guard(false, None);
    g.automation_roles = (0..200)
        .map(|i| format!("arn:aws:iam::{{account}}:role/automation/pipeline-role-number-{i}"))
        .collect();
    let keys = keys();
    let err = generate(&GuardInput {
        guard: &g,
        keys: &keys,
        remediation_alias: "alias/xray-cmk",
    })
    .expect_err("over the limit");
    match &err {
        GuardError::ScpTooLarge { size, limit } => {
            assert_eq!(*limit, 5120);
            assert!(*size > 5120);
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("5120-character limit"), "{err}");
    // Just under the limit still fits.
    g.automation_roles.truncate(40);
    assert!(generate(&GuardInput {
        guard: &g,
        keys: &keys,
        remediation_alias: "alias/xray-cmk",
    })
    .is_ok());
}

#[test]
fn an_empty_key_list_is_refused() {
    assert_eq!(
        parse_key_arns("# nothing approved yet\n\n", "keys.txt"),
        Err(GuardError::NoKeys)
    );
    let g = guard(false, None);
    assert_eq!(
        generate(&GuardInput {
            guard: &g,
            keys: &[],
            remediation_alias: "alias/xray-cmk",
        }),
        Err(GuardError::NoKeys)
    );
}

#[test]
fn aliases_are_refused_with_their_line() {
    for alias in [
        "alias/xray-cmk",
        "arn:aws:kms:us-east-1:111122223333:alias/xray-cmk",
    ] {
        let err = parse_key_arns(&format!("{KEY_A}\n{alias}\n"), "keys.txt").expect_err(alias);
        assert!(matches!(err, GuardError::Alias { line: 2, .. }), "{err}");
        let text = err.to_string();
        assert!(text.starts_with("keys.txt:2: "), "{text}");
        assert!(text.contains("resolved key ARN"), "{text}");
    }
    for bad in [
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:11112222333:key/abc",
        "arn:aws:kms:us-east-1:111122223333:key/",
        "arn:aws:kms:*:111122223333:key/*",
        "arn:aws:kms:us-east-1:{account}:key/abc",
        "arn:aws:s3:::bucket",
    ] {
        let err = parse_key_arns(bad, "k").expect_err(bad);
        assert!(
            matches!(err, GuardError::NotKeyArn { line: 1, .. }),
            "{bad}: {err}"
        );
    }
}

#[test]
fn break_glass_is_required_and_partitions_must_agree() {
    let mut g = guard(false, None);
    g.break_glass_roles.clear();
    let keys = keys();
    let input = GuardInput {
        guard: &g,
        keys: &keys,
        remediation_alias: "alias/xray-cmk",
    };
    assert_eq!(generate(&input), Err(GuardError::NoBreakGlass));
    let g = guard(false, None);
    let mixed = parse_key_arns(
        &format!("{KEY_A}\narn:aws-cn:kms:cn-north-1:111122223333:key/abc"),
        "k",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        generate(&GuardInput {
            guard: &g,
            keys: &mixed,
            remediation_alias: "alias/xray-cmk",
        }),
        Err(GuardError::MixedPartitions(..))
    ));
}

#[test]
fn account_placeholders_are_resolved_per_format() {
    let files = files(&guard(
        false,
        Some("arn:aws:sns:us-east-1:{account}:security-alerts"),
    ));
    assert!(file(&files, STACKSET_FILE)
        .contains("!Sub 'arn:aws:sns:us-east-1:${AWS::AccountId}:security-alerts'"));
    assert!(file(&files, "terraform/main.tf").contains(
        "\"arn:aws:sns:us-east-1:${data.aws_caller_identity.current.account_id}:security-alerts\""
    ));
    for f in &files {
        if f.path != README_FILE {
            assert!(!f.text.contains("{account}"), "{}", f.path);
        }
    }
    assert!(!file(&files, STACKSET_FILE).contains("XrayCmkAlertTopic:"));
    assert!(!file(&files, STACKSET_FILE).contains("RemediationConfiguration"));
}
