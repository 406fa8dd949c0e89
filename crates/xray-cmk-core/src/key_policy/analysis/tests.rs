//! The analyses on hand-written statements; the AWS-documented policies are in the integration
//! tests.

use crate::key_policy::{allowed_accounts, is_default_only, public_statements, PolicyDocument};

fn policy(statements: &str) -> PolicyDocument {
    PolicyDocument::parse(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#
    ))
    .expect("policy parses")
}

fn open(sid: &str, principal: &str, condition: &str) -> String {
    let condition = if condition.is_empty() {
        String::new()
    } else {
        format!(r#","Condition":{condition}"#)
    };
    format!(
        r#"{{"Sid":"{sid}","Effect":"Allow",{principal},"Action":"kms:Decrypt","Resource":"*"{condition}}}"#
    )
}

fn public_sids(doc: &PolicyDocument) -> Vec<&str> {
    public_statements(doc)
        .iter()
        .filter_map(|s| s.sid.as_deref())
        .collect()
}

#[test]
fn open_statements_without_pinning_are_public() {
    let doc = policy(
        &[
            open("Star", r#""Principal":"*""#, ""),
            open("AwsStar", r#""Principal":{"AWS":"*"}"#, ""),
            open(
                "ListStar",
                r#""Principal":{"AWS":["*","111122223333"]}"#,
                "",
            ),
            open(
                "NotPrincipal",
                r#""NotPrincipal":{"AWS":"111122223333"}"#,
                "",
            ),
            open("Named", r#""Principal":{"AWS":"111122223333"}"#, ""),
            open(
                "ViaOnly",
                r#""Principal":"*""#,
                r#"{"StringEquals":{"kms:ViaService":"xray.us-east-1.amazonaws.com"}}"#,
            ),
        ]
        .join(","),
    );
    assert_eq!(
        public_sids(&doc),
        ["Star", "AwsStar", "ListStar", "NotPrincipal", "ViaOnly"]
    );
}

#[test]
fn positive_conditions_on_pinning_keys_pin() {
    let pinned = [
        r#"{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}"#,
        r#"{"StringLike":{"aws:PrincipalOrgPaths":"o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"}}"#,
        r#"{"StringEquals":{"kms:CallerAccount":"111122223333"}}"#,
        r#"{"StringEquals":{"KMS:CALLERACCOUNT":"111122223333"}}"#,
        r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*"}}"#,
        r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:xray:us-east-1:111122223333:*"}}"#,
        r#"{"ForAnyValue:StringEquals":{"aws:SourceAccount":"111122223333"}}"#,
    ];
    for condition in pinned {
        let doc = policy(&open("S", r#""Principal":"*""#, condition));
        assert!(public_statements(&doc).is_empty(), "{condition}");
    }
    let not_pinned = [
        r#"{"StringEquals":{"aws:PrincipalOrgID":"*"}}"#,
        r#"{"StringLike":{"aws:PrincipalAccount":["*","111122223333"]}}"#,
        r#"{"StringEqualsIfExists":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}"#,
        r#"{"StringNotEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}"#,
        r#"{"ForAllValues:StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}"#,
        r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
        r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
    ];
    for condition in not_pinned {
        let doc = policy(&open("S", r#""Principal":"*""#, condition));
        assert_eq!(public_statements(&doc).len(), 1, "{condition}");
    }
}

#[test]
fn deny_statements_are_never_public() {
    let doc = policy(r#"{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*"}"#);
    assert!(public_statements(&doc).is_empty());
}

#[test]
fn default_only_needs_exactly_the_default_statement() {
    let root = |principal: &str, action: &str, extra: &str| {
        format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":{principal}}},"Action":{action},"Resource":"*"{extra}}}"#
        )
    };
    let acct = "111122223333";
    for principal in [
        r#""arn:aws:iam::111122223333:root""#,
        r#""111122223333""#,
        r#"["111122223333","arn:aws:iam::111122223333:root"]"#,
    ] {
        assert!(
            is_default_only(&policy(&root(principal, r#""kms:*""#, "")), acct),
            "{principal}"
        );
    }
    assert!(is_default_only(
        &policy(&root(r#""111122223333""#, r#"["KMS:*"]"#, "")),
        acct
    ));
    // Another account, a role, fewer actions, a condition, or a second statement: not the default.
    assert!(!is_default_only(
        &policy(&root(r#""111122223333""#, r#""kms:*""#, "")),
        "444455556666"
    ));
    assert!(!is_default_only(
        &policy(&root(
            r#""arn:aws:iam::111122223333:role/Admin""#,
            r#""kms:*""#,
            ""
        )),
        acct
    ));
    assert!(!is_default_only(
        &policy(&root(r#""111122223333""#, r#""kms:Decrypt""#, "")),
        acct
    ));
    assert!(!is_default_only(
        &policy(&root(
            r#""111122223333""#,
            r#""kms:*""#,
            r#","Condition":{"Bool":{"aws:SecureTransport":"true"}}"#
        )),
        acct
    ));
    let two = format!(
        "{},{}",
        root(r#""111122223333""#, r#""kms:*""#, ""),
        root(r#""444455556666""#, r#""kms:Decrypt""#, "")
    );
    assert!(!is_default_only(&policy(&two), acct));
    assert!(!is_default_only(
        &policy(
            r#"{"Effect":"Deny","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}"#
        ),
        acct
    ));
}

#[test]
fn allowed_accounts_from_principals_and_caller_conditions() {
    let doc = policy(&[
        open("Roles", r#""Principal":{"AWS":["arn:aws:iam::111122223333:role/A","444455556666","arn:aws:sts::555555555555:assumed-role/R/s"]}"#, ""),
        open("Service", r#""Principal":{"Service":"xray.amazonaws.com"}"#, ""),
        open("Caller", r#""Principal":{"AWS":"*"}"#, r#"{"StringEquals":{"kms:CallerAccount":"777788889999","kms:ViaService":"xray.us-east-1.amazonaws.com"}}"#),
        open("Principal", r#""Principal":"*""#, r#"{"StringEquals":{"aws:PrincipalAccount":["888888888888","12345"]}}"#),
        open("Negated", r#""Principal":"*""#, r#"{"StringNotEquals":{"aws:PrincipalAccount":"999999999999"}}"#),
        r#"{"Effect":"Deny","Principal":{"AWS":"000000000000"},"Action":"kms:*","Resource":"*"}"#.to_string(),
    ]
    .join(","));
    let accounts: Vec<String> = allowed_accounts(&doc).into_iter().collect();
    assert_eq!(
        accounts,
        [
            "111122223333",
            "444455556666",
            "555555555555",
            "777788889999",
            "888888888888"
        ]
    );
}
