use super::*;
use serde_json::json;

const ARN: &str = "arn:aws:kms:eu-west-1:111122223333:key/k1";
const CALLER: &str = "arn:aws:sts::111122223333:assumed-role/PlatformDeploy/s";

fn key(state: KeyState, ours: bool) -> KeySnapshot {
    KeySnapshot {
        arn: ARN.into(),
        state: Some(state),
        manager: Some(KeyManager::Customer),
        spec: Some("SYMMETRIC_DEFAULT".into()),
        tags: Some(if ours {
            [("managed-by".to_owned(), "xray-cmk".to_owned())].into()
        } else {
            BTreeMap::new()
        }),
        ..KeySnapshot::default()
    }
}

fn planned<'a>(
    alias: &'a str,
    tags: &'a BTreeMap<String, String>,
    policy: &'a Value,
) -> PlannedKey<'a> {
    PlannedKey {
        account: "111122223333",
        region: "eu-west-1",
        alias,
        tags,
        policy,
        rotation_days: 365,
    }
}

fn today() -> Date {
    Date::new(2026, 11, 28).expect("date")
}

fn decide(
    alias: &str,
    aliased: Option<&KeySnapshot>,
    tags: &BTreeMap<String, String>,
) -> Decision<Create> {
    let policy = json!({});
    decide_create_key(
        &planned(alias, tags, &policy),
        aliased,
        &[],
        &OrgPolicy::default(),
        today(),
    )
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn create_key_runs_on_a_free_alias_skips_ours_and_refuses_anothers() {
    let want = tags(&[("owner", "platform")]);
    assert_eq!(decide("alias/x", None, &want), Decision::Run(Create::New));
    let Decision::Refuse(why) = decide("alias/x", Some(&key(KeyState::Enabled, false)), &want)
    else {
        panic!("another key's alias must be refused")
    };
    assert!(why.contains("already taken"), "{why}");
    let Decision::Refuse(why) = decide("alias/x", Some(&key(KeyState::Disabled, true)), &want)
    else {
        panic!("a disabled key of ours is not used")
    };
    assert!(why.contains("but it is Disabled"), "{why}");
    assert!(matches!(
        decide("alias/aws/xray", None, &want),
        Decision::Refuse(_)
    ));
    // Reusing or adopting a key of ours is decided by what it is (remediation::adopt's tests).
}

#[test]
fn review_values_are_never_written() {
    let Decision::Refuse(why) = decide(
        "alias/x",
        None,
        &tags(&[("owner", "REVIEW"), ("team", "a")]),
    ) else {
        panic!("REVIEW must be refused")
    };
    assert!(
        why.contains("owner") && why.contains("[tags] values"),
        "{why}"
    );
    let k = key(KeyState::Enabled, false);
    assert!(matches!(
        decide_tags(&k, &BTreeMap::new(), &tags(&[("owner", "REVIEW")])),
        Decision::Refuse(_)
    ));
}

#[test]
fn rotation_and_tags_skip_when_in_place_and_refuse_a_disabled_key() {
    let k = key(KeyState::Enabled, false);
    assert!(matches!(
        decide_rotation(&k, true, Some(365), 365),
        Decision::Skip(_)
    ));
    assert_eq!(decide_rotation(&k, true, Some(730), 365), Decision::Run(()));
    assert_eq!(decide_rotation(&k, false, None, 365), Decision::Run(()));
    assert!(matches!(
        decide_rotation(&key(KeyState::Disabled, false), false, None, 365),
        Decision::Refuse(_)
    ));
    let have = tags(&[("owner", "a"), ("empty", " ")]);
    assert_eq!(
        decide_tags(&k, &have, &tags(&[("owner", "b"), ("empty", "x")])),
        Decision::Run(tags(&[("empty", "x")]))
    );
    assert!(matches!(
        decide_tags(&k, &have, &tags(&[("owner", "b")])),
        Decision::Skip(_)
    ));
}

fn policy_text() -> String {
    json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "Root", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "kms:*", "Resource": "*"
    }]})
    .to_string()
}

fn reader() -> Value {
    json!({"Sid": "TraceReaders", "Effect": "Allow",
        "Principal": {"AWS": ["arn:aws:iam::111122223333:role/TraceReader"]},
        "Action": "kms:Decrypt", "Resource": "*"})
}

#[test]
fn merge_appends_skips_when_present_and_refuses_a_changed_policy() {
    let k = key(KeyState::Enabled, false);
    let text = policy_text();
    let sha = sha256_hex(text.as_bytes());
    let Decision::Run(merged) = decide_merge(&k, &text, &[reader()], &sha, CALLER) else {
        panic!("merge should run")
    };
    let sids = statement_sids(&merged);
    assert_eq!(sids, ["Root", "TraceReaders"], "nothing removed, one added");
    assert!(matches!(
        decide_merge(&k, &merged.to_string(), &[reader()], &sha, CALLER),
        Decision::Skip(_)
    ));
    let Decision::Refuse(why) = decide_merge(&k, &text, &[reader()], "0000", CALLER) else {
        panic!("a changed policy is stale")
    };
    assert!(why.contains("changed since the plan"), "{why}");
}

#[test]
fn merge_is_refused_when_the_caller_would_lose_administration() {
    // No root statement and no admin statement: the caller could not administer the key.
    let text = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "Other", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:role/Someone"},
        "Action": "kms:*", "Resource": "*"
    }]})
    .to_string();
    let sha = sha256_hex(text.as_bytes());
    let Decision::Refuse(why) = decide_merge(
        &key(KeyState::Enabled, false),
        &text,
        &[reader()],
        &sha,
        CALLER,
    ) else {
        panic!("lockout must be refused")
    };
    assert!(why.contains("lockout"), "{why}");
    assert!(keeps_admin(&serde_json::from_str(&policy_text()).expect("json"), CALLER).is_ok());
}

#[test]
fn xray_switch_skips_when_done_refuses_stale_and_unusable_keys() {
    let k = key(KeyState::Enabled, true);
    let none = XrayNow {
        encryption_type: EncryptionType::None,
        key_id: None,
    };
    let from_none = Precondition::XrayEncryptionIs {
        encryption_type: EncryptionType::None,
        key_id: None,
    };
    assert_eq!(decide_xray(&none, &from_none, &k), Decision::Run(()));
    let done = XrayNow {
        encryption_type: EncryptionType::Kms,
        key_id: Some(ARN.into()),
    };
    assert!(matches!(
        decide_xray(&done, &from_none, &k),
        Decision::Skip(_)
    ));
    let other = XrayNow {
        encryption_type: EncryptionType::Kms,
        key_id: Some("arn:aws:kms:eu-west-1:111122223333:key/other".into()),
    };
    let Decision::Refuse(why) = decide_xray(&other, &from_none, &k) else {
        panic!("stale")
    };
    assert!(why.contains("plan again"), "{why}");
    let mut asym = k.clone();
    asym.spec = Some("RSA_2048".into());
    assert!(matches!(
        decide_xray(&none, &from_none, &asym),
        Decision::Refuse(_)
    ));
    assert!(matches!(
        decide_xray(&none, &from_none, &key(KeyState::PendingDeletion, true)),
        Decision::Refuse(_)
    ));
}

#[test]
fn target_results_say_what_state_they_were_left_in() {
    let step = |n, action, outcome| StepResult {
        step: n,
        action,
        outcome,
        message: String::new(),
        failed_call: None,
    };
    let t = TargetResult::from_steps(
        "111122223333",
        "eu-west-1",
        vec![
            step(1, "create_key", Outcome::Done),
            step(2, "enable_rotation", Outcome::Skipped),
            step(3, "set_xray_encryption", Outcome::Failed),
            step(4, "verify", Outcome::NotRun),
        ],
    );
    assert_eq!(t.status, TargetStatus::Failed);
    assert_eq!(
        t.state,
        "done: 1. create_key; already in place: 2. enable_rotation; failed: 3. set_xray_encryption; not run: 4. verify"
    );
    let unchanged = TargetResult::from_steps("1", "r", vec![step(1, "tag_key", Outcome::Skipped)]);
    assert_eq!(unchanged.status, TargetStatus::Unchanged);
    assert_eq!(
        ApplySummary::of(&[t, unchanged]),
        ApplySummary {
            applied: 0,
            unchanged: 1,
            failed: 1
        }
    );
}

#[test]
fn only_parses_accounts_and_regions() {
    let only: Vec<Only> = ["111122223333/eu-west-1", "444455556666"]
        .iter()
        .map(|s| s.parse().expect("valid"))
        .collect();
    assert!(in_scope(&only, "111122223333", "eu-west-1"));
    assert!(!in_scope(&only, "111122223333", "us-east-1"));
    assert!(in_scope(&only, "444455556666", "us-east-1"));
    assert!(in_scope(&[], "999999999999", "us-east-1"));
    assert!("12345".parse::<Only>().is_err());
    assert!("111122223333/mars-1".parse::<Only>().is_err());
}

#[test]
fn xray_usability_is_judged_by_the_deep_check_rules() {
    let org = crate::rules::test_support::policy(
        "[access]\nxray_admins = [\"arn:aws:iam::{account}:role/XrayAdmin\"]\n",
    );
    let today = crate::rules::test_support::today();
    let key = |policy: String, state: KeyState| KmsKey {
        arn: Some(ARN.into()),
        key_manager: Some(KeyManager::Customer),
        key_state: Some(state),
        key_spec: Some("SYMMETRIC_DEFAULT".into()),
        key_usage: Some("ENCRYPT_DECRYPT".into()),
        policy: Observed::Known(policy),
        ..KmsKey::described("k1")
    };
    let generated =
        crate::remediation::key_policy::generate(&org, "111122223333", "eu-west-1", CALLER);
    assert_eq!(
        xray_can_use(
            key(generated.to_string(), KeyState::Enabled),
            "111122223333",
            "eu-west-1",
            &org,
            today
        ),
        Ok(())
    );
    // A policy that names only someone else: XrayAdmin cannot create grants.
    let locked = json!({"Statement": [{"Sid": "Other", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:role/Other"},
        "Action": "kms:*", "Resource": "*"}]});
    let err = xray_can_use(
        key(locked.to_string(), KeyState::Enabled),
        "111122223333",
        "eu-west-1",
        &org,
        today,
    )
    .expect_err("X-Ray cannot use it");
    assert_eq!(
        err.rule,
        crate::rules::ids::KMS_KEY_POLICY_XRAY_ACCESS,
        "{err}"
    );
    let err = xray_can_use(
        key(generated.to_string(), KeyState::Disabled),
        "111122223333",
        "eu-west-1",
        &org,
        today,
    )
    .expect_err("disabled");
    assert_eq!(err.rule, crate::rules::ids::XRAY_KEY_UNUSABLE, "{err}");
}
