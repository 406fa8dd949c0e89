//! Parsing: every accepted shape and every error.

use crate::key_policy::{
    ActionElement, Effect, KeyPolicyError, PolicyDocument, PrincipalElement, PrincipalEntry,
    ResourceElement,
};

fn parse(json: &str) -> PolicyDocument {
    PolicyDocument::parse(json).expect("policy parses")
}

fn error(json: &str) -> KeyPolicyError {
    PolicyDocument::parse(json).expect_err("policy is rejected")
}

fn statement(body: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":{body}}}"#)
}

fn principal_entries(json_principal: &str) -> Vec<PrincipalEntry> {
    let doc = parse(&statement(&format!(
        r#"{{"Effect":"Allow","Principal":{json_principal},"Action":"kms:*","Resource":"*"}}"#
    )));
    match &doc.statements[0].principal {
        PrincipalElement::Principal(p) => p.entries.clone(),
        PrincipalElement::NotPrincipal(_) => panic!("expected Principal"),
    }
}

#[test]
fn document_fields_and_single_statement_object() {
    let doc = parse(
        r#"{"Version":"2012-10-17","Id":"key-default-1","Statement":{"Sid":"Enable IAM policies",
            "Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},
            "Action":"kms:*","Resource":"*"}}"#,
    );
    assert_eq!(doc.version.as_deref(), Some("2012-10-17"));
    assert_eq!(doc.id.as_deref(), Some("key-default-1"));
    assert_eq!(doc.statements.len(), 1);
    let s = &doc.statements[0];
    assert_eq!(s.sid.as_deref(), Some("Enable IAM policies"));
    assert_eq!(s.effect, Effect::Allow);
    assert_eq!(s.action, ActionElement::Action(vec!["kms:*".into()]));
    assert_eq!(s.resource, ResourceElement::Resource(vec!["*".into()]));
    assert!(s.conditions.is_empty());
}

#[test]
fn statement_object_and_one_element_array_are_the_same() {
    let body = r#"{"Effect":"Deny","Principal":"*","NotAction":["kms:Decrypt"],"NotResource":"*"}"#;
    assert_eq!(
        parse(&statement(body)),
        parse(&statement(&format!("[{body}]")))
    );
}

#[test]
fn every_principal_form() {
    assert_eq!(principal_entries(r#""*""#), vec![PrincipalEntry::Everyone]);
    assert_eq!(
        principal_entries(r#"{"AWS":"*"}"#),
        vec![PrincipalEntry::Aws("*".into())]
    );
    assert_eq!(
        principal_entries(r#"{"AWS":["111122223333","arn:aws:iam::444455556666:role/R"]}"#),
        vec![
            PrincipalEntry::Aws("111122223333".into()),
            PrincipalEntry::Aws("arn:aws:iam::444455556666:role/R".into())
        ]
    );
    assert_eq!(
        principal_entries(r#"{"Service":["xray.amazonaws.com","logs.amazonaws.com"]}"#),
        vec![
            PrincipalEntry::Service("xray.amazonaws.com".into()),
            PrincipalEntry::Service("logs.amazonaws.com".into())
        ]
    );
    assert_eq!(
        principal_entries(r#"{"Federated":"cognito-identity.amazonaws.com"}"#),
        vec![PrincipalEntry::Federated(
            "cognito-identity.amazonaws.com".into()
        )]
    );
    assert_eq!(
        principal_entries(r#"{"CanonicalUser":"79a59df900b949e55d96a1e698fbace"}"#),
        vec![PrincipalEntry::CanonicalUser(
            "79a59df900b949e55d96a1e698fbace".into()
        )]
    );
}

#[test]
fn not_principal_and_condition_value_types() {
    let doc = parse(&statement(
        r#"[{"Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*",
            "Condition":{"Bool":{"kms:GrantIsForAWSResource":true},
                         "NumericLessThan":{"s3:max-keys":10},
                         "StringEquals":{"kms:ViaService":["a","b"],"kms:CallerAccount":"111122223333"}}}]"#,
    ));
    let s = &doc.statements[0];
    assert!(matches!(s.principal, PrincipalElement::NotPrincipal(_)));
    let flat: Vec<(&str, &str, Vec<&str>)> = s
        .conditions
        .iter()
        .map(|c| {
            (
                c.operator(),
                c.key(),
                c.values().iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        flat,
        vec![
            ("Bool", "kms:GrantIsForAWSResource", vec!["true"]),
            ("NumericLessThan", "s3:max-keys", vec!["10"]),
            ("StringEquals", "kms:CallerAccount", vec!["111122223333"]),
            ("StringEquals", "kms:ViaService", vec!["a", "b"]),
        ]
    );
}

#[test]
fn document_level_errors() {
    assert!(matches!(error("{"), KeyPolicyError::InvalidJson(_)));
    assert_eq!(error("[]"), KeyPolicyError::NotAnObject);
    assert_eq!(
        error(r#"{"Version":"2012-10-17"}"#),
        KeyPolicyError::MissingStatement
    );
    assert_eq!(
        error(r#"{"Statement":"Allow"}"#),
        KeyPolicyError::InvalidStatementList
    );
    assert_eq!(
        error(r#"{"Statement":[1]}"#),
        KeyPolicyError::InvalidStatementList
    );
    assert!(matches!(
        error(r#"{"Statement":[],"Statements":[]}"#),
        KeyPolicyError::UnknownElement { name, .. } if name == "Statements"
    ));
    assert!(matches!(
        error(r#"{"Version":20121017,"Statement":[]}"#),
        KeyPolicyError::InvalidField {
            field: "Version",
            ..
        }
    ));
}

#[test]
fn statement_level_errors_name_the_statement() {
    let ok = r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}"#;
    let e = error(&statement(&format!(
        r#"[{ok},{{"Sid":"Second","Principal":"*","Action":"kms:*","Resource":"*"}}]"#
    )));
    assert_eq!(
        e,
        KeyPolicyError::MissingEffect {
            at: "statement 2 (Sid \"Second\")".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "statement 2 (Sid \"Second\"): missing `Effect`"
    );

    let e = error(&statement(
        r#"{"Effect":"allow","Principal":"*","Action":"kms:*","Resource":"*"}"#,
    ));
    assert_eq!(
        e.to_string(),
        "statement 1: unknown `Effect` `allow` (expected `Allow` or `Deny`)"
    );

    let e = error(&statement(
        r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","NotAction":"kms:Decrypt","Resource":"*"}"#,
    ));
    assert_eq!(
        e.to_string(),
        "statement 1: has both `Action` and `NotAction`"
    );

    let e = error(&statement(
        r#"{"Effect":"Allow","Principal":"*","Resource":"*"}"#,
    ));
    assert_eq!(
        e.to_string(),
        "statement 1: missing `Action` or `NotAction`"
    );

    let e = error(&statement(
        r#"{"Effect":"Allow","Action":"kms:*","Resource":"*"}"#,
    ));
    assert!(matches!(
        e,
        KeyPolicyError::MissingElement {
            first: "Principal",
            ..
        }
    ));

    let e = error(&statement(
        r#"{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"kms:*","Resource":"*"}"#,
    ));
    assert!(matches!(
        e,
        KeyPolicyError::BothElements {
            first: "Principal",
            ..
        }
    ));

    let e = error(&statement(
        r#"{"Effect":"Allow","Principal":"*","Action":"kms:*"}"#,
    ));
    assert!(matches!(
        e,
        KeyPolicyError::MissingElement {
            first: "Resource",
            ..
        }
    ));

    let e = error(&statement(
        r#"{"Effect":"Allow","Principal":"*","Action":["kms:*",3],"Resource":"*"}"#,
    ));
    assert!(matches!(
        e,
        KeyPolicyError::InvalidField {
            field: "Action",
            ..
        }
    ));

    let e = error(&statement(
        r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Conditions":{}}"#,
    ));
    assert!(matches!(e, KeyPolicyError::UnknownElement { name, .. } if name == "Conditions"));
}

#[test]
fn principal_and_condition_errors() {
    let with_principal = |p: &str| {
        error(&statement(&format!(
            r#"{{"Effect":"Allow","Principal":{p},"Action":"kms:*","Resource":"*"}}"#
        )))
    };
    assert!(matches!(
        with_principal(r#""111122223333""#),
        KeyPolicyError::InvalidPrincipal { .. }
    ));
    assert!(matches!(
        with_principal(r#"{"Group":"x"}"#),
        KeyPolicyError::InvalidPrincipal { .. }
    ));
    assert!(matches!(
        with_principal(r#"{"AWS":7}"#),
        KeyPolicyError::InvalidPrincipal { .. }
    ));
    assert!(matches!(
        with_principal("[]"),
        KeyPolicyError::InvalidPrincipal { .. }
    ));

    let with_condition = |c: &str| {
        error(&statement(&format!(
            r#"{{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{c}}}"#
        )))
    };
    assert!(matches!(
        with_condition("[]"),
        KeyPolicyError::InvalidCondition { .. }
    ));
    assert!(matches!(
        with_condition(r#"{"StringEquals":"x"}"#),
        KeyPolicyError::InvalidCondition { .. }
    ));
    assert!(matches!(
        with_condition(r#"{"StringEquals":{"k":{"nested":1}}}"#),
        KeyPolicyError::InvalidCondition { .. }
    ));
    assert!(matches!(
        with_condition(r#"{"StringEquals":{"k":null}}"#),
        KeyPolicyError::InvalidCondition { .. }
    ));
}

#[test]
fn unknown_operators_parse_and_are_kept() {
    let doc = parse(&statement(
        r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*",
            "Condition":{"BinaryEquals":{"k":"QmluYXJ5"}}}"#,
    ));
    assert_eq!(doc.statements[0].conditions[0].operator(), "BinaryEquals");
}
