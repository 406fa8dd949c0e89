//! Key policy model against the policies AWS documents (fixtures) and properties that must hold for
//! any policy (proptest).

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::{json, Value};
use xray_cmk_core::key_policy::{
    allowed_accounts, is_default_only, public_statements, Context, Decision, PolicyDocument,
    Request,
};

const OWNER: &str = "111122223333";
const EXTERNAL: &str = "444455556666";
const OWNER_ROOT: &str = "arn:aws:iam::111122223333:root";
const OWNER_SESSION: &str = "arn:aws:sts::111122223333:assumed-role/AppRole/i-0123456789";
const EXTERNAL_SESSION: &str = "arn:aws:sts::444455556666:assumed-role/AppRole/i-0123456789";
const XRAY: &str = "xray.amazonaws.com";
const VIA_XRAY: &str = "xray.us-east-1.amazonaws.com";

fn fixture(name: &str) -> PolicyDocument {
    let json = match name {
        "kms_default" => include_str!("fixtures/key_policies/kms_default.json"),
        "console_default" => include_str!("fixtures/key_policies/console_default.json"),
        "aws_managed_xray" => include_str!("fixtures/key_policies/aws_managed_xray.json"),
        "cross_account" => include_str!("fixtures/key_policies/cross_account.json"),
        "principal_org_id" => include_str!("fixtures/key_policies/principal_org_id.json"),
        "public" => include_str!("fixtures/key_policies/public.json"),
        other => panic!("no fixture {other}"),
    };
    PolicyDocument::parse(json).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn decide(doc: &PolicyDocument, principal: &str, action: &str, ctx: &Context) -> Decision {
    doc.evaluate(&Request::new(principal, action, ctx))
}

fn allowed(sid: &str) -> Decision {
    Decision::Allowed {
        sid: Some(sid.into()),
    }
}

fn delegated(account: &str, sid: &str) -> Decision {
    Decision::DelegatedToIam {
        account: account.into(),
        sid: Some(sid.into()),
    }
}

fn accounts(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|a| a.to_string()).collect()
}

fn public_sids(doc: &PolicyDocument) -> Vec<String> {
    public_statements(doc)
        .iter()
        .map(|s| s.sid.clone().unwrap_or_default())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

#[test]
fn kms_default_policy_is_default_only_and_delegates_to_iam() {
    let doc = fixture("kms_default");
    let none = Context::new();
    assert_eq!(doc.id.as_deref(), Some("key-default-1"));
    assert!(is_default_only(&doc, OWNER));
    assert!(!is_default_only(&doc, EXTERNAL));
    assert!(public_statements(&doc).is_empty());
    assert_eq!(allowed_accounts(&doc), accounts(&[OWNER]));

    let sid = "Enable IAM policies";
    assert_eq!(
        decide(&doc, OWNER_ROOT, "kms:PutKeyPolicy", &none),
        allowed(sid)
    );
    assert_eq!(
        decide(&doc, OWNER_SESSION, "kms:Decrypt", &none),
        delegated(OWNER, sid)
    );
    assert_eq!(
        decide(
            &doc,
            "arn:aws:iam::111122223333:user/alice",
            "kms:Encrypt",
            &none
        ),
        delegated(OWNER, sid)
    );
    assert_eq!(
        decide(&doc, EXTERNAL_SESSION, "kms:Decrypt", &none),
        Decision::NotAllowed
    );
    assert_eq!(
        decide(&doc, XRAY, "kms:Decrypt", &none),
        Decision::NotAllowed
    );
    assert_eq!(
        doc.statements[0].summary(),
        "Allow arn:aws:iam::111122223333:root kms:*"
    );
}

#[test]
fn console_default_policy_names_admins_users_and_an_external_account() {
    let doc = fixture("console_default");
    let none = Context::new();
    let admin = "arn:aws:sts::111122223333:assumed-role/KMSAdminRole/alice";
    let user = "arn:aws:sts::111122223333:assumed-role/ExampleRole/app";
    let admins = "Allow access for Key Administrators";
    let users = "Allow use of the key";
    let grants = "Allow attachment of persistent resources";

    assert!(!is_default_only(&doc, OWNER));
    assert!(public_statements(&doc).is_empty());
    assert_eq!(allowed_accounts(&doc), accounts(&[OWNER, EXTERNAL]));

    // Administrators manage the key directly; they use it only if IAM lets them.
    assert_eq!(
        decide(&doc, admin, "kms:PutKeyPolicy", &none),
        allowed(admins)
    );
    assert_eq!(
        decide(&doc, admin, "kms:ScheduleKeyDeletion", &none),
        allowed(admins)
    );
    assert_eq!(
        decide(&doc, admin, "kms:Decrypt", &none),
        delegated(OWNER, "Enable IAM policies")
    );
    assert_eq!(
        decide(
            &doc,
            "arn:aws:iam::111122223333:user/KMSAdminUser",
            "kms:CreateAlias",
            &none
        ),
        allowed(admins)
    );

    // Users encrypt and decrypt directly, and create grants only for AWS resources.
    assert_eq!(decide(&doc, user, "kms:Decrypt", &none), allowed(users));
    assert_eq!(
        decide(&doc, user, "kms:GenerateDataKeyWithoutPlaintext", &none),
        allowed(users)
    );
    let for_resource = Context::new().with_bool("kms:GrantIsForAWSResource", true);
    assert_eq!(
        decide(&doc, user, "kms:CreateGrant", &for_resource),
        allowed(grants)
    );
    assert_eq!(
        decide(&doc, user, "kms:CreateGrant", &none),
        delegated(OWNER, "Enable IAM policies")
    );

    // The external account's principals: delegated to that account's IAM policies.
    assert_eq!(
        decide(&doc, EXTERNAL_SESSION, "kms:Decrypt", &none),
        delegated(EXTERNAL, users)
    );
    assert_eq!(
        decide(&doc, EXTERNAL_SESSION, "kms:CreateGrant", &for_resource),
        delegated(EXTERNAL, grants)
    );
    assert_eq!(
        decide(&doc, EXTERNAL_SESSION, "kms:PutKeyPolicy", &none),
        Decision::NotAllowed
    );
    assert_eq!(
        doc.statements[3].summary(),
        "Allow arn:aws:iam::111122223333:user/ExampleUser, arn:aws:iam::111122223333:role/ExampleRole, \
         arn:aws:iam::444455556666:root kms:CreateGrant, kms:ListGrants, kms:RevokeGrant \
         if kms:GrantIsForAWSResource=true"
    );
}

#[test]
fn aws_managed_key_pattern_is_not_public_and_works_only_through_xray() {
    let doc = fixture("aws_managed_xray");
    let via = "Allow access through AWS X-Ray for all principals in the account that are authorized to use AWS X-Ray";
    let through_xray = Context::new()
        .with("kms:ViaService", VIA_XRAY)
        .with("kms:CallerAccount", OWNER);
    let direct = Context::new().with("kms:CallerAccount", OWNER);

    assert!(
        public_statements(&doc).is_empty(),
        "pinned by kms:CallerAccount"
    );
    assert!(!is_default_only(&doc, OWNER));
    assert_eq!(allowed_accounts(&doc), accounts(&[OWNER]));

    assert_eq!(
        decide(&doc, OWNER_SESSION, "kms:Decrypt", &through_xray),
        allowed(via)
    );
    assert_eq!(
        decide(&doc, OWNER_SESSION, "kms:GenerateDataKey", &through_xray),
        allowed(via)
    );
    assert_eq!(
        decide(&doc, OWNER_SESSION, "kms:Decrypt", &direct),
        Decision::NotAllowed
    );
    assert_eq!(
        decide(&doc, OWNER_SESSION, "kms:DescribeKey", &direct),
        delegated(OWNER, "Allow direct access to key metadata to the account")
    );
    let other_account = Context::new()
        .with("kms:ViaService", VIA_XRAY)
        .with("kms:CallerAccount", EXTERNAL);
    assert_eq!(
        decide(&doc, EXTERNAL_SESSION, "kms:Decrypt", &other_account),
        Decision::NotAllowed
    );
    assert_eq!(
        doc.statements[0].summary(),
        format!(
            "Allow * kms:Encrypt, kms:Decrypt, kms:ReEncrypt*, kms:GenerateDataKey*, kms:CreateGrant, \
             kms:DescribeKey if kms:CallerAccount={OWNER} and kms:ViaService={VIA_XRAY}"
        )
    );
}

#[test]
fn cross_account_policy_names_the_other_account() {
    let doc = fixture("cross_account");
    let none = Context::new();
    let external = "Allow an external account to use this CMK";
    assert_eq!(allowed_accounts(&doc), accounts(&[OWNER, EXTERNAL]));
    assert!(public_statements(&doc).is_empty());
    assert!(!is_default_only(&doc, OWNER));

    assert_eq!(
        decide(&doc, EXTERNAL_SESSION, "kms:Decrypt", &none),
        delegated(EXTERNAL, external)
    );
    assert_eq!(
        decide(&doc, "arn:aws:iam::444455556666:root", "kms:Encrypt", &none),
        allowed(external)
    );
    // The documented condition value is the string "true"; a boolean context matches it.
    let for_resource = Context::new().with_bool("kms:GrantIsForAWSResource", true);
    assert_eq!(
        decide(&doc, EXTERNAL_SESSION, "kms:CreateGrant", &for_resource),
        delegated(EXTERNAL, "Allow attachment of persistent resources")
    );
    assert_eq!(
        decide(&doc, EXTERNAL_SESSION, "kms:CreateGrant", &none),
        Decision::NotAllowed
    );
    assert_eq!(
        decide(&doc, EXTERNAL_SESSION, "kms:ScheduleKeyDeletion", &none),
        Decision::NotAllowed
    );
}

#[test]
fn principal_org_id_pins_an_open_statement() {
    let doc = fixture("principal_org_id");
    let org = "Allow use of the key by the organization";
    let in_org = Context::new().with("aws:PrincipalOrgID", "o-a1b2c3d4e5");
    let other_org = Context::new().with("aws:PrincipalOrgID", "o-zzzzzzzzzz");
    let none = Context::new();

    assert!(public_statements(&doc).is_empty());
    assert_eq!(
        allowed_accounts(&doc),
        accounts(&[OWNER]),
        "an org id names no account"
    );

    assert_eq!(
        decide(&doc, EXTERNAL_SESSION, "kms:Decrypt", &in_org),
        allowed(org)
    );
    assert_eq!(
        decide(&doc, EXTERNAL_SESSION, "kms:Decrypt", &other_org),
        Decision::NotAllowed
    );
    assert_eq!(
        decide(&doc, EXTERNAL_SESSION, "kms:Decrypt", &none),
        Decision::NotAllowed
    );
    // Inside the owner account the org statement allows directly, ahead of delegation.
    assert_eq!(
        decide(&doc, OWNER_SESSION, "kms:Decrypt", &in_org),
        allowed(org)
    );
    assert_eq!(
        decide(&doc, OWNER_SESSION, "kms:Decrypt", &none),
        delegated(OWNER, "Enable IAM policies")
    );
}

#[test]
fn public_policy_is_reported_and_allows_anyone() {
    let doc = fixture("public");
    let sid = "Allow everyone to use the key";
    let none = Context::new();
    assert_eq!(public_sids(&doc), [sid]);
    assert_eq!(allowed_accounts(&doc), accounts(&[OWNER]));
    for who in [
        EXTERNAL_SESSION,
        OWNER_SESSION,
        XRAY,
        "arn:aws:iam::999999999999:user/mallory",
    ] {
        assert_eq!(
            decide(&doc, who, "kms:Decrypt", &none),
            allowed(sid),
            "{who}"
        );
    }
    assert_eq!(
        decide(&doc, EXTERNAL_SESSION, "kms:PutKeyPolicy", &none),
        Decision::NotAllowed
    );
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const PRINCIPALS: &[&str] = &[
    OWNER_ROOT,
    OWNER,
    "arn:aws:iam::111122223333:role/AppRole",
    OWNER_SESSION,
    "arn:aws:sts::111122223333:assumed-role/Other/s",
    "arn:aws:iam::111122223333:user/alice",
    EXTERNAL_SESSION,
    "arn:aws:iam::444455556666:root",
    XRAY,
];

const ACTIONS: &[&str] = &[
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:CreateGrant",
    "kms:DescribeKey",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "xray:PutEncryptionConfig",
];

const PATTERNS: &[&str] = &[
    "kms:*",
    "*",
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:?ecrypt",
    "kms:Create*",
    "kms:Describe*",
    "kms:GenerateDataKey*",
    "KMS:DECRYPT",
];

fn principal_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("*")),
        Just(json!({"AWS": "*"})),
        Just(json!({"AWS": OWNER_ROOT})),
        Just(json!({"AWS": OWNER})),
        Just(json!({"AWS": ["arn:aws:iam::111122223333:role/AppRole", EXTERNAL]})),
        Just(json!({"AWS": "arn:aws:iam::444455556666:role/AppRole"})),
        Just(json!({"Service": XRAY})),
    ]
}

fn condition_value() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(json!({"StringEquals": {"kms:ViaService": VIA_XRAY}}))),
        Just(Some(json!({"Bool": {"kms:GrantIsForAWSResource": true}}))),
        Just(Some(
            json!({"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}})
        )),
        Just(Some(
            json!({"StringEqualsIfExists": {"aws:SourceAccount": OWNER}})
        )),
        Just(Some(json!({"BinaryEquals": {"k": "QmluYXJ5"}}))),
    ]
}

fn patterns() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop::sample::select(PATTERNS).prop_map(str::to_string),
        1..4,
    )
}

/// A statement as JSON, with a fixed `Sid` so that statements stay distinguishable.
fn statement_value(sid: String) -> impl Strategy<Value = Value> {
    (
        prop::bool::ANY,
        prop::bool::ANY,
        principal_value(),
        prop::bool::ANY,
        patterns(),
        condition_value(),
    )
        .prop_map(
            move |(allow, not_principal, principal, not_action, actions, condition)| {
                let mut s = json!({
                    "Sid": sid,
                    "Effect": if allow { "Allow" } else { "Deny" },
                    "Resource": "*",
                });
                s[if not_principal {
                    "NotPrincipal"
                } else {
                    "Principal"
                }] = principal;
                s[if not_action { "NotAction" } else { "Action" }] = json!(actions);
                if let Some(condition) = condition {
                    s["Condition"] = condition;
                }
                s
            },
        )
}

fn statements() -> impl Strategy<Value = Vec<Value>> {
    (1usize..6).prop_flat_map(|n| {
        (0..n)
            .map(|i| statement_value(format!("S{i}")))
            .collect::<Vec<_>>()
    })
}

fn context() -> impl Strategy<Value = Context> {
    (prop::bool::ANY, prop::bool::ANY, prop::bool::ANY).prop_map(|(via, grant, org)| {
        let mut ctx = Context::new();
        if via {
            ctx = ctx.with("kms:ViaService", VIA_XRAY);
        }
        if grant {
            ctx = ctx.with_bool("kms:GrantIsForAWSResource", true);
        }
        if org {
            ctx = ctx.with("aws:PrincipalOrgID", "o-a1b2c3d4e5");
        }
        ctx
    })
}

fn document(statements: &[Value]) -> PolicyDocument {
    let json = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    PolicyDocument::parse(&json).expect("generated policy parses")
}

/// The decision without the statement that produced it: which statement is reported first may
/// follow document order, the kind of decision may not.
fn kind(decision: &Decision) -> String {
    match decision {
        Decision::Allowed { .. } => "allowed".into(),
        Decision::DelegatedToIam { account, .. } => format!("delegated:{account}"),
        Decision::ExplicitDeny { .. } => "deny".into(),
        Decision::NotAllowed => "not-allowed".into(),
        Decision::Undetermined { .. } => "undetermined".into(),
    }
}

const IF_EXISTS_OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "ArnEquals",
    "ArnNotLike",
    "Bool",
    "NumericEquals",
    "NumericLessThan",
    "DateGreaterThan",
    "IpAddress",
    "NotIpAddress",
    "ForAnyValue:StringEquals",
    "ForAllValues:StringLike",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_statement_object_parses_like_a_one_element_array(statement in statement_value("S".into())) {
        let object = json!({"Version": "2012-10-17", "Statement": statement.clone()}).to_string();
        let array = json!({"Version": "2012-10-17", "Statement": [statement]}).to_string();
        prop_assert_eq!(
            PolicyDocument::parse(&object).expect("object form"),
            PolicyDocument::parse(&array).expect("array form")
        );
    }

    #[test]
    fn evaluation_does_not_depend_on_statement_order(
        (original, shuffled) in statements().prop_flat_map(|s| (Just(s.clone()), Just(s).prop_shuffle())),
        principal in prop::sample::select(PRINCIPALS),
        action in prop::sample::select(ACTIONS),
        ctx in context(),
    ) {
        let req = Request::new(principal, action, &ctx);
        prop_assert_eq!(
            kind(&document(&original).evaluate(&req)),
            kind(&document(&shuffled).evaluate(&req))
        );
    }

    #[test]
    fn a_deny_everything_statement_denies_every_request(
        mut statements in statements(),
        position in any::<prop::sample::Index>(),
        principal in prop::sample::select(PRINCIPALS),
        action in prop::sample::select(ACTIONS),
        ctx in context(),
    ) {
        let at = position.index(statements.len() + 1);
        statements.insert(at, json!({"Sid": "DenyAll", "Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}));
        let decision = document(&statements).evaluate(&Request::new(principal, action, &ctx));
        prop_assert!(matches!(decision, Decision::ExplicitDeny { .. }), "{:?}", decision);
    }

    #[test]
    fn action_matching_ignores_case_and_star_matches_everything(
        action in "[a-zA-Z0-9]{1,12}:[a-zA-Z0-9*?]{0,20}",
        flips in prop::collection::vec(any::<bool>(), 40),
        principal in prop::sample::select(PRINCIPALS),
    ) {
        let none = Context::new();
        let everything = document(&[json!({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"})]);
        prop_assert_eq!(
            everything.evaluate(&Request::new(principal, &action, &none)),
            Decision::Allowed { sid: None }
        );
        // The same action spelled with other letter cases, in the policy and in the request.
        let recased: String = action
            .chars()
            .zip(flips.iter().cycle())
            .map(|(c, &up)| if up { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
            .collect();
        let exact = document(&[json!({"Effect": "Allow", "Principal": "*", "Action": recased, "Resource": "*"})]);
        prop_assert_eq!(
            exact.evaluate(&Request::new(principal, &action.to_ascii_uppercase(), &none)),
            Decision::Allowed { sid: None }
        );
    }

    #[test]
    fn not_action_allows_exactly_what_its_action_twin_does_not(
        actions in patterns(),
        action in prop::sample::select(ACTIONS),
        principal in prop::sample::select(PRINCIPALS),
    ) {
        let none = Context::new();
        let twin = |element: &str| {
            document(&[json!({"Effect": "Allow", "Principal": "*", element: actions.clone(), "Resource": "*"})])
                .evaluate(&Request::new(principal, action, &none))
        };
        let by_action = twin("Action") != Decision::NotAllowed;
        let by_not_action = twin("NotAction") != Decision::NotAllowed;
        prop_assert_ne!(by_action, by_not_action);
    }

    #[test]
    fn if_exists_with_the_key_absent_is_true(
        operator in prop::sample::select(IF_EXISTS_OPERATORS),
        values in prop::collection::vec("[a-z0-9.:/*-]{0,16}", 1..4),
        principal in prop::sample::select(PRINCIPALS),
    ) {
        let doc = document(&[json!({
            "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
            "Condition": {format!("{operator}IfExists"): {"aws:SomeAbsentKey": values}},
        })]);
        prop_assert_eq!(
            doc.evaluate(&Request::new(principal, "kms:Decrypt", &Context::new())),
            Decision::Allowed { sid: None }
        );
    }

    #[test]
    fn parsing_and_summaries_never_panic(text in "\\PC{0,200}") {
        if let Ok(doc) = PolicyDocument::parse(&text) {
            for statement in &doc.statements {
                let _ = statement.summary();
            }
        }
    }

    #[test]
    fn summaries_of_generated_statements_are_one_line(statements in statements()) {
        for statement in &document(&statements).statements {
            let summary = statement.summary();
            prop_assert!(!summary.contains('\n'));
            prop_assert!(summary.starts_with("Allow ") || summary.starts_with("Deny "));
        }
    }
}
