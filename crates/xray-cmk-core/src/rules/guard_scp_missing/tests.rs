use super::*;
use crate::model::{Inventory, OrgNode};
use crate::rules::test_support::*;
use crate::Status;

const FULL_ACCESS: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

const POLICY: &str = r#"
[guard]
automation_roles = ["arn:aws:iam::{account}:role/XrayCmkAutomation", "arn:aws:iam::999988887777:role/central/Pipeline"]
break_glass_roles = ["arn:aws:iam::{account}:role/BreakGlass"]
"#;

/// What `xray-cmk guard generate` writes for [`POLICY`].
fn generated_scp() -> String {
    let policy = policy(POLICY);
    crate::guard::scp_text(&policy.guard, "aws").expect("the generated SCP")
}

fn scp(id: &str, content: Observed<String>) -> Scp {
    Scp {
        id: id.into(),
        name: Some(format!("name-{id}")),
        content,
    }
}

fn path(at_ou: Vec<Scp>, management_account: bool) -> ScpPath {
    ScpPath {
        management_account,
        nodes: vec![
            OrgNode {
                id: ACCOUNT.into(),
                policies: vec![],
            },
            OrgNode {
                id: "ou-exam-11111111".into(),
                policies: at_ou,
            },
            OrgNode {
                id: "r-exam".into(),
                policies: vec![scp("p-FullAWSAccess", Observed::Known(FULL_ACCESS.into()))],
            },
        ],
    }
}

fn judged(p: Observed<ScpPath>) -> (Status, String) {
    let mut inv: Inventory = none_config();
    inv.scp_paths.insert(ACCOUNT.into(), p);
    let pol = policy(POLICY);
    let f = GuardScpMissing
        .check_target(&inv.targets[0], &context(&inv, &pol))
        .expect("a result");
    (f.status, f.message)
}

fn with_ou_scp(text: &str) -> (Status, String) {
    judged(Observed::Known(path(
        vec![scp("p-guard", Observed::Known(text.into()))],
        false,
    )))
}

#[test]
fn the_generated_scp_on_an_ou_passes() {
    let (s, m) = with_ou_scp(&generated_scp());
    assert_eq!(s, Status::Pass, "{m}");
    assert!(
        m.contains("p-guard (name-p-guard) attached to ou-exam-11111111"),
        "{m}"
    );
    assert!(
        m.contains("111122223333 → ou-exam-11111111 → r-exam"),
        "{m}"
    );
}

#[test]
fn only_full_access_fails() {
    let (s, m) = judged(Observed::Known(path(vec![], false)));
    assert_eq!(s, Status::Fail, "{m}");
    assert!(m.contains("1 SCP attached"), "{m}");
}

#[test]
fn the_management_account_fails_whatever_is_attached() {
    let (s, m) = judged(Observed::Known(path(
        vec![scp("p-guard", Observed::Known(generated_scp()))],
        true,
    )));
    assert_eq!(s, Status::Fail);
    assert!(m.contains("management account"), "{m}");
}

#[test]
fn a_deny_that_leaves_someone_out_fails() {
    let cases = [
        // Only the roles: a user of the account still may.
        r#"{"Statement":{"Effect":"Deny","Action":"xray:PutEncryptionConfig","Resource":"*",
            "Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"}}}}"#,
        // Another action.
        r#"{"Statement":[{"Effect":"Deny","Action":"xray:PutTraceSegments","Resource":"*"}]}"#,
        // A resource PutEncryptionConfig never has.
        r#"{"Statement":[{"Effect":"Deny","Action":"xray:*","Resource":"arn:aws:xray:*:*:group/*",
            "Condition":{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/XrayCmkAutomation"}}}]}"#,
        // Another region only.
        r#"{"Statement":[{"Effect":"Deny","Action":"xray:PutEncryptionConfig","Resource":"*",
            "Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"},
            "ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/XrayCmkAutomation"}}}]}"#,
        // An Allow is not a guard.
        r#"{"Statement":[{"Effect":"Allow","Action":"xray:PutEncryptionConfig","Resource":"*"}]}"#,
    ];
    for text in cases {
        let (s, m) = with_ou_scp(text);
        assert_eq!(s, Status::Fail, "{text}: {m}");
    }
}

#[test]
fn equivalent_spellings_of_the_guard_pass() {
    let cases = [
        r#"{"Statement":[{"Effect":"Deny","NotAction":["xray:Get*","xray:Batch*","xray:Put*Segments"],"Resource":"*",
            "Condition":{"ArnNotLike":{"aws:PrincipalArn":["arn:aws:iam::*:role/XrayCmkAutomation","arn:aws:iam::*:role/BreakGlass"]}}}]}"#,
        r#"{"Statement":[{"Effect":"Deny","Action":"xray:put*","NotResource":"arn:aws:s3:::x",
            "Condition":{"StringNotLike":{"aws:PrincipalArn":["arn:aws:iam::*:role/XrayCmkAutomation","arn:aws:iam::*:role/BreakGlass"]}}}]}"#,
    ];
    for text in cases {
        let (s, m) = with_ou_scp(text);
        assert_eq!(s, Status::Pass, "{text}: {m}");
    }
}

#[test]
fn a_deny_of_everyone_fails_because_automation_is_denied_too() {
    let (s, m) =
        with_ou_scp(r#"{"Statement":[{"Effect":"Deny","Action":"xray:*","Resource":"*"}]}"#);
    assert_eq!(s, Status::Fail);
    assert!(
        m.contains("arn:aws:iam::111122223333:role/XrayCmkAutomation")
            && m.contains("arn:aws:iam::111122223333:role/BreakGlass"),
        "{m}"
    );
    // The central pipeline is another account's role: this account's SCPs do not apply to it.
    assert!(!m.contains("Pipeline"), "{m}");
}

#[test]
fn unknown_is_an_error_never_a_pass() {
    let (s, m) = judged(Observed::Unknown(denied("organizations:ListParents")));
    assert_eq!(s, Status::Error);
    assert!(m.contains("organizations:ListParents"), "{m}");
    let (s, m) = judged(Observed::Known(path(
        vec![scp(
            "p-x",
            Observed::Unknown(denied("organizations:DescribePolicy")),
        )],
        false,
    )));
    assert_eq!(s, Status::Error);
    assert!(m.contains("organizations:DescribePolicy"), "{m}");
    // A condition the model does not evaluate decides nothing.
    let (s, m) = with_ou_scp(
        r#"{"Statement":[{"Effect":"Deny","Action":"xray:PutEncryptionConfig","Resource":"*",
            "Condition":{"StringNotEquals":{"aws:PrincipalTag/team":"${aws:username}"}}}]}"#,
    );
    assert_ne!(s, Status::Pass, "{m}");
    let (s, _) = with_ou_scp("not json");
    assert_eq!(s, Status::Error);
}

#[test]
fn without_an_org_scan_there_is_no_result() {
    let inv = none_config();
    let pol = policy(POLICY);
    assert!(GuardScpMissing
        .check_target(&inv.targets[0], &context(&inv, &pol))
        .is_none());
}
