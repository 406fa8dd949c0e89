//! Evaluation: principals, actions, NotAction / NotPrincipal / NotResource, Deny precedence and
//! undetermined statements.

use crate::key_policy::{Context, Decision, PolicyDocument, Request};

const ACCOUNT: &str = "111122223333";
const ROOT: &str = "arn:aws:iam::111122223333:root";
const ROLE: &str = "arn:aws:iam::111122223333:role/XrayWriter";
const SESSION: &str = "arn:aws:sts::111122223333:assumed-role/XrayWriter/i-0abc";
const OTHER_ROLE: &str = "arn:aws:iam::111122223333:role/Other";
const FOREIGN_ROLE: &str = "arn:aws:iam::444455556666:role/XrayWriter";

fn policy(statements: &str) -> PolicyDocument {
    PolicyDocument::parse(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#
    ))
    .expect("policy parses")
}

fn decide(doc: &PolicyDocument, principal: &str, action: &str) -> Decision {
    decide_in(doc, principal, action, &Context::new())
}

fn decide_in(doc: &PolicyDocument, principal: &str, action: &str, ctx: &Context) -> Decision {
    doc.evaluate(&Request::new(principal, action, ctx))
}

fn allowed(sid: &str) -> Decision {
    Decision::Allowed {
        sid: Some(sid.into()),
    }
}

fn delegated(sid: &str) -> Decision {
    Decision::DelegatedToIam {
        account: ACCOUNT.into(),
        sid: Some(sid.into()),
    }
}

fn denied(sid: &str) -> Decision {
    Decision::ExplicitDeny {
        sid: Some(sid.into()),
    }
}

fn allow_role(sid: &str, actions: &str) -> String {
    format!(
        r#"{{"Sid":"{sid}","Effect":"Allow","Principal":{{"AWS":"{ROLE}"}},"Action":{actions},"Resource":"*"}}"#
    )
}

const ENABLE_IAM: &str = r#"{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}"#;

#[test]
fn role_arn_allows_the_role_and_its_sessions() {
    let doc = policy(&allow_role("Use", r#""kms:Decrypt""#));
    assert_eq!(decide(&doc, ROLE, "kms:Decrypt"), allowed("Use"));
    assert_eq!(decide(&doc, SESSION, "kms:Decrypt"), allowed("Use"));
    assert_eq!(
        decide(&doc, OTHER_ROLE, "kms:Decrypt"),
        Decision::NotAllowed
    );
    assert_eq!(
        decide(&doc, FOREIGN_ROLE, "kms:Decrypt"),
        Decision::NotAllowed
    );
    assert_eq!(decide(&doc, ROLE, "kms:Encrypt"), Decision::NotAllowed);
}

#[test]
fn account_root_allows_root_and_delegates_everyone_else_in_the_account() {
    for principal in [
        r#"{"AWS":"arn:aws:iam::111122223333:root"}"#,
        r#"{"AWS":"111122223333"}"#,
    ] {
        let doc = policy(&format!(
            r#"{{"Sid":"Root","Effect":"Allow","Principal":{principal},"Action":"kms:*","Resource":"*"}}"#
        ));
        assert_eq!(decide(&doc, ROOT, "kms:Decrypt"), allowed("Root"));
        assert_eq!(decide(&doc, ACCOUNT, "kms:Decrypt"), allowed("Root"));
        assert_eq!(decide(&doc, SESSION, "kms:Decrypt"), delegated("Root"));
        assert_eq!(
            decide(&doc, OTHER_ROLE, "kms:PutKeyPolicy"),
            delegated("Root")
        );
        assert_eq!(
            decide(&doc, FOREIGN_ROLE, "kms:Decrypt"),
            Decision::NotAllowed
        );
        assert_eq!(
            decide(&doc, "xray.amazonaws.com", "kms:Decrypt"),
            Decision::NotAllowed
        );
    }
}

#[test]
fn a_direct_allow_outranks_delegation() {
    let doc = policy(&format!(
        "{ENABLE_IAM},{}",
        allow_role("Use", r#""kms:Decrypt""#)
    ));
    assert_eq!(decide(&doc, SESSION, "kms:Decrypt"), allowed("Use"));
    assert_eq!(decide(&doc, SESSION, "kms:Encrypt"), delegated("Root"));
}

#[test]
fn action_wildcards_are_case_insensitive() {
    let doc = policy(&allow_role("Use", r#"["kms:Create*","kms:?ecrypt"]"#));
    assert_eq!(decide(&doc, ROLE, "kms:CreateGrant"), allowed("Use"));
    assert_eq!(decide(&doc, ROLE, "KMS:creategrant"), allowed("Use"));
    assert_eq!(decide(&doc, ROLE, "kms:Decrypt"), allowed("Use"));
    assert_eq!(
        decide(&doc, ROLE, "kms:ReEncryptFrom"),
        Decision::NotAllowed
    );
    let star = policy(&allow_role("All", r#""*""#));
    assert_eq!(decide(&star, ROLE, "xray:PutTraceSegments"), allowed("All"));
}

#[test]
fn not_action_allows_everything_else() {
    let doc = policy(&format!(
        r#"{{"Sid":"Most","Effect":"Allow","Principal":{{"AWS":"{ROLE}"}},"NotAction":["kms:ScheduleKeyDeletion","kms:Put*"],"Resource":"*"}}"#
    ));
    assert_eq!(decide(&doc, ROLE, "kms:Decrypt"), allowed("Most"));
    assert_eq!(
        decide(&doc, ROLE, "kms:ScheduleKeyDeletion"),
        Decision::NotAllowed
    );
    assert_eq!(decide(&doc, ROLE, "kms:PutKeyPolicy"), Decision::NotAllowed);
}

#[test]
fn not_principal_allow_is_not_supported_by_aws_so_it_decides_nothing() {
    // "NotPrincipal must be used with Deny. Using it with Allow is not supported." (IAM guide)
    let doc = policy(&format!(
        r#"{{"Sid":"AllBut","Effect":"Allow","NotPrincipal":{{"AWS":["{ROLE}","{ROOT}"]}},"Action":"kms:Decrypt","Resource":"*"}}"#
    ));
    for caller in [OTHER_ROLE, SESSION, "xray.amazonaws.com"] {
        assert!(
            matches!(decide(&doc, caller, "kms:Decrypt"), Decision::Undetermined { ref reason } if reason.contains("NotPrincipal")),
            "{caller}"
        );
    }
    // The principals it names, and other actions, are outside it either way.
    assert_eq!(decide(&doc, ROLE, "kms:Decrypt"), Decision::NotAllowed);
    assert_eq!(
        decide(&doc, OTHER_ROLE, "kms:Encrypt"),
        Decision::NotAllowed
    );
}

#[test]
fn not_principal_deny_spares_only_the_exact_identity() {
    let doc = policy(&format!(
        r#"{{"Sid":"Use","Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}},{{"Sid":"AllBut","Effect":"Deny","NotPrincipal":{{"AWS":["{ROLE}","{ROOT}"]}},"Action":"kms:Decrypt","Resource":"*"}}"#
    ));
    assert_eq!(decide(&doc, ROLE, "kms:Decrypt"), allowed("Use"));
    assert_eq!(decide(&doc, OTHER_ROLE, "kms:Decrypt"), denied("AllBut"));
    // The IAM guide lists a session separately from its role: naming the role does not spare it.
    assert_eq!(decide(&doc, SESSION, "kms:Decrypt"), denied("AllBut"));
}

#[test]
fn explicit_deny_wins_in_any_order() {
    let deny = format!(
        r#"{{"Sid":"NoDecrypt","Effect":"Deny","Principal":{{"AWS":"{ROLE}"}},"Action":"kms:Decrypt","Resource":"*"}}"#
    );
    let allow = allow_role("Use", r#""kms:*""#);
    for doc in [
        policy(&format!("{deny},{allow}")),
        policy(&format!("{allow},{deny}")),
    ] {
        assert_eq!(decide(&doc, SESSION, "kms:Decrypt"), denied("NoDecrypt"));
        assert_eq!(decide(&doc, SESSION, "kms:Encrypt"), allowed("Use"));
    }
}

#[test]
fn a_deny_naming_the_account_covers_its_principals() {
    let doc = policy(&format!(
        r#"{ENABLE_IAM},{{"Sid":"NoDelete","Effect":"Deny","Principal":{{"AWS":"{ACCOUNT}"}},"Action":"kms:ScheduleKeyDeletion","Resource":"*"}}"#
    ));
    assert_eq!(
        decide(&doc, SESSION, "kms:ScheduleKeyDeletion"),
        denied("NoDelete")
    );
    assert_eq!(
        decide(&doc, ROOT, "kms:ScheduleKeyDeletion"),
        denied("NoDelete")
    );
    assert_eq!(
        decide(&doc, FOREIGN_ROLE, "kms:ScheduleKeyDeletion"),
        Decision::NotAllowed
    );
}

#[test]
fn a_deny_with_a_negated_condition_applies_when_the_key_is_missing() {
    let doc = policy(&format!(
        r#"{ENABLE_IAM},{{"Sid":"OrgOnly","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*",
            "Condition":{{"StringNotEquals":{{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}}}}"#
    ));
    let in_org = Context::new().with("aws:PrincipalOrgID", "o-a1b2c3d4e5");
    assert_eq!(
        decide_in(&doc, SESSION, "kms:Decrypt", &in_org),
        delegated("Root")
    );
    assert_eq!(decide(&doc, SESSION, "kms:Decrypt"), denied("OrgOnly"));
}

#[test]
fn conditions_gate_allows() {
    let doc = policy(&format!(
        r#"{{"Sid":"ViaXray","Effect":"Allow","Principal":{{"AWS":"*"}},"Action":"kms:Decrypt","Resource":"*",
            "Condition":{{"StringEquals":{{"kms:ViaService":"xray.us-east-1.amazonaws.com","kms:CallerAccount":"{ACCOUNT}"}}}}}}"#
    ));
    let via_xray = Context::new()
        .with("kms:ViaService", "xray.us-east-1.amazonaws.com")
        .with("kms:CallerAccount", ACCOUNT);
    assert_eq!(
        decide_in(&doc, SESSION, "kms:Decrypt", &via_xray),
        allowed("ViaXray")
    );
    let direct = Context::new().with("kms:CallerAccount", ACCOUNT);
    assert_eq!(
        decide_in(&doc, SESSION, "kms:Decrypt", &direct),
        Decision::NotAllowed
    );
}

#[test]
fn not_resource() {
    let with = |not_resource: &str| {
        policy(&format!(
            r#"{{"Sid":"S","Effect":"Allow","Principal":"*","Action":"kms:Decrypt","NotResource":{not_resource}}}"#
        ))
    };
    assert_eq!(
        decide(&with(r#""*""#), ROLE, "kms:Decrypt"),
        Decision::NotAllowed
    );
    assert_eq!(
        decide(&with(r#""arn:aws:s3:::bucket/*""#), ROLE, "kms:Decrypt"),
        allowed("S")
    );
    assert!(matches!(
        decide(&with(r#""arn:aws:kms:*:*:key/*""#), ROLE, "kms:Decrypt"),
        Decision::Undetermined { .. }
    ));
}

#[test]
fn unsupported_operators_make_applicable_statements_undetermined() {
    let binary = r#""Condition":{"BinaryEquals":{"k":"QmluYXJ5"}}"#;
    let allow = policy(&format!(
        r#"{{"Sid":"Odd","Effect":"Allow","Principal":{{"AWS":"{ROLE}"}},"Action":"kms:Decrypt","Resource":"*",{binary}}}"#
    ));
    match decide(&allow, ROLE, "kms:Decrypt") {
        Decision::Undetermined { reason } => {
            assert!(
                reason.contains("Odd") && reason.contains("BinaryEquals"),
                "{reason}"
            )
        }
        other => panic!("expected Undetermined, got {other:?}"),
    }
    // A statement that does not apply anyway (other principal, other action) decides nothing.
    assert_eq!(
        decide(&allow, OTHER_ROLE, "kms:Decrypt"),
        Decision::NotAllowed
    );
    assert_eq!(decide(&allow, ROLE, "kms:Encrypt"), Decision::NotAllowed);
    // A definite false condition beside the unknown one settles it.
    let settled = policy(&format!(
        r#"{{"Sid":"Odd","Effect":"Allow","Principal":{{"AWS":"{ROLE}"}},"Action":"kms:Decrypt","Resource":"*",
            "Condition":{{"BinaryEquals":{{"k":"QmluYXJ5"}},"Bool":{{"aws:SecureTransport":"true"}}}}}}"#
    ));
    assert_eq!(decide(&settled, ROLE, "kms:Decrypt"), Decision::NotAllowed);

    // An uncertain Deny blocks a certain Allow from being reported as allowed.
    let deny = policy(&format!(
        r#"{},{{"Sid":"MaybeDeny","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*",{binary}}}"#,
        allow_role("Use", r#""kms:*""#)
    ));
    assert!(matches!(
        decide(&deny, ROLE, "kms:Decrypt"),
        Decision::Undetermined { .. }
    ));
    // …but a certain Deny still wins.
    let both = policy(&format!(
        r#"{{"Sid":"MaybeDeny","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*",{binary}}},
           {{"Sid":"Deny","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*"}}"#
    ));
    assert_eq!(decide(&both, ROLE, "kms:Decrypt"), denied("Deny"));
}

#[test]
fn an_uncertain_direct_allow_outranks_a_certain_delegation() {
    let doc = policy(&format!(
        r#"{ENABLE_IAM},{{"Sid":"Odd","Effect":"Allow","Principal":{{"AWS":"{ROLE}"}},"Action":"kms:Decrypt","Resource":"*",
            "Condition":{{"StringEquals":{{"aws:username":"${{aws:username}}"}}}}}}"#
    ));
    let ctx = Context::new().with("aws:username", "alice");
    assert!(matches!(
        decide_in(&doc, ROLE, "kms:Decrypt", &ctx),
        Decision::Undetermined { .. }
    ));
    assert_eq!(
        decide_in(&doc, ROLE, "kms:Encrypt", &ctx),
        delegated("Root")
    );
}

#[test]
fn service_principals_match_by_name() {
    let doc = policy(
        r#"{"Sid":"Xray","Effect":"Allow","Principal":{"Service":"xray.amazonaws.com"},"Action":["kms:Decrypt","kms:GenerateDataKey*"],"Resource":"*"}"#,
    );
    assert_eq!(
        decide(&doc, "xray.amazonaws.com", "kms:GenerateDataKey"),
        allowed("Xray")
    );
    assert_eq!(
        decide(&doc, "logs.amazonaws.com", "kms:Decrypt"),
        Decision::NotAllowed
    );
    assert_eq!(decide(&doc, ROLE, "kms:Decrypt"), Decision::NotAllowed);
}

#[test]
fn decisions_read_well() {
    assert_eq!(allowed("Use").to_string(), "allowed by statement \"Use\"");
    assert_eq!(
        delegated("Root").to_string(),
        "delegated to the IAM policies of account 111122223333 by statement \"Root\""
    );
    assert_eq!(
        Decision::NotAllowed.to_string(),
        "not allowed by the key policy"
    );
    assert_eq!(
        Decision::ExplicitDeny { sid: None }.to_string(),
        "explicitly denied"
    );
}
