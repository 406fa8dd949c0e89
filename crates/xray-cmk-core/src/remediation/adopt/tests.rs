use super::*;
use crate::remediation::apply::{decide_create_key, Create, Decision};
use crate::remediation::key_policy::generate;
use crate::remediation::plan::tags_for;
use serde_json::json;

const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-west-1";
const ALIAS: &str = "alias/xray-cmk-traces";
const CALLER: &str = "arn:aws:sts::111122223333:assumed-role/PlatformDeploy/s";
const ARN: &str = "arn:aws:kms:eu-west-1:111122223333:key/0f1e2d3c-aaaa-bbbb-cccc-123456789012";

const ORG: &str = r#"
[tags]
required = ["owner"]
values = { owner = "platform-security" }

[keys]
approved = ["alias/xray-cmk-*"]
alias = "alias/xray-cmk-traces"

[access]
key_admins = ["arn:aws:iam::{account}:role/KeyAdmin"]
xray_admins = ["arn:aws:iam::{account}:role/XrayAdmin"]
trace_readers = ["arn:aws:iam::{account}:role/TraceReader"]
"#;

fn org(extra: &str) -> OrgPolicy {
    crate::rules::test_support::policy(&format!("{ORG}{extra}"))
}

fn today() -> Date {
    crate::rules::test_support::today()
}

/// What a `create_key` step of a plan made with `org` holds.
struct Step {
    tags: BTreeMap<String, String>,
    policy: Value,
}

fn step(org: &OrgPolicy) -> Step {
    Step {
        tags: tags_for(org, Some(ALIAS)),
        policy: generate(org, ACCOUNT, REGION, CALLER),
    }
}

fn planned(step: &Step) -> PlannedKey<'_> {
    PlannedKey {
        account: ACCOUNT,
        region: REGION,
        alias: ALIAS,
        tags: &step.tags,
        policy: &step.policy,
        rotation_days: 365,
    }
}

/// Exactly the key the step would create, its policy as KMS might return it: pretty-printed,
/// members in another order.
fn the_planned_key(step: &Step) -> KeySnapshot {
    let mut reordered = serde_json::Map::new();
    let object = step.policy.as_object().expect("object");
    for k in object.keys().rev() {
        reordered.insert(k.clone(), object[k].clone());
    }
    KeySnapshot {
        arn: ARN.into(),
        state: Some(KeyState::Enabled),
        manager: Some(KeyManager::Customer),
        spec: Some("SYMMETRIC_DEFAULT".into()),
        usage: Some("ENCRYPT_DECRYPT".into()),
        origin: Some("AWS_KMS".into()),
        multi_region: Some(false),
        tags: Some(step.tags.clone()),
        policy: Some(serde_json::to_string_pretty(&Value::Object(reordered)).expect("json")),
    }
}

fn diffs_of(edit: impl FnOnce(&mut KeySnapshot)) -> Vec<String> {
    let org = org("");
    let step = step(&org);
    let mut key = the_planned_key(&step);
    edit(&mut key);
    differences(&key, &planned(&step), &org, today())
}

fn with_statement(key: &mut KeySnapshot, statement: Value) {
    let mut doc: Value =
        serde_json::from_str(key.policy.as_deref().expect("policy")).expect("json");
    doc["Statement"]
        .as_array_mut()
        .expect("statements")
        .push(statement);
    key.policy = Some(doc.to_string());
}

#[test]
fn the_planned_key_is_adopted_however_its_policy_json_is_formatted() {
    assert_eq!(diffs_of(|_| {}), Vec::<String>::new());
    let org = org("");
    let step = step(&org);
    let key = the_planned_key(&step);
    assert_eq!(
        choose(std::slice::from_ref(&key), &planned(&step), &org, today()),
        Ok(Some(&key))
    );
}

#[test]
fn an_extra_statement_is_refused_and_named() {
    let diffs = diffs_of(|k| {
        with_statement(
            k,
            json!({"Sid": "Planted", "Effect": "Allow", "Principal": {"AWS": "*"},
                   "Action": "kms:Decrypt", "Resource": "*"}),
        )
    });
    assert!(
        diffs.iter().any(|d| d.starts_with(
            r#"its key policy has a statement the plan does not: "Planted" {"Action":"kms:Decrypt","Effect":"Allow","Principal":{"AWS":"*"},"Resource":"*","Sid":"Planted"}"#
        )),
        "{diffs:#?}"
    );
    // The rules see it too.
    assert!(
        diffs
            .iter()
            .any(|d| d.starts_with("kms-key-policy-public fails")),
        "{diffs:#?}"
    );
}

#[test]
fn a_missing_statement_another_member_or_another_order_is_refused() {
    let diffs = diffs_of(|k| {
        let mut doc: Value = serde_json::from_str(k.policy.as_deref().expect("p")).expect("json");
        doc["Statement"]
            .as_array_mut()
            .expect("statements")
            .retain(|s| s["Sid"] != "TraceReaders");
        doc["Id"] = json!("someone-else");
        k.policy = Some(doc.to_string());
    });
    assert!(
        diffs
            .iter()
            .any(|d| d.starts_with(r#"its key policy lacks the planned statement "TraceReaders""#)),
        "{diffs:#?}"
    );
    assert!(
        diffs.contains(
            &r#"its key policy's Id is "someone-else", planned "xray-cmk-generated""#.to_owned()
        ),
        "{diffs:#?}"
    );
    let diffs = diffs_of(|k| {
        let mut doc: Value = serde_json::from_str(k.policy.as_deref().expect("p")).expect("json");
        doc["Statement"]
            .as_array_mut()
            .expect("statements")
            .reverse();
        k.policy = Some(doc.to_string());
    });
    assert_eq!(
        diffs,
        ["its key policy has the planned statements in another order"]
    );
    assert_eq!(
        diffs_of(|k| k.policy = Some("{not json".into())).first(),
        Some(&"its key policy is not JSON".to_owned())
    );
    assert!(diffs_of(|k| k.policy = None).contains(&"its key policy was not read".to_owned()));
}

#[test]
fn tags_must_be_exactly_the_planned_ones() {
    let diffs = diffs_of(|k| {
        let tags = k.tags.as_mut().expect("tags");
        tags.insert("backdoor".into(), "yes".into());
        tags.insert("owner".into(), "mallory".into());
        tags.remove(ALIAS_TAG);
    });
    assert_eq!(
        diffs,
        [
            "its tag owner is `mallory`, planned `platform-security`",
            "it lacks the planned tag xray-cmk-alias=alias/xray-cmk-traces",
            "it has the tag backdoor=yes, which the plan does not",
        ]
    );
    let unread = diffs_of(|k| k.tags = None);
    assert_eq!(unread[0], "its tags were not read");
    // Unknown is never a pass: the tag rule cannot decide either.
    assert!(
        unread[1].starts_with("kms-key-missing-tags cannot decide"),
        "{unread:?}"
    );
}

#[test]
fn each_property_of_the_key_must_be_the_planned_one() {
    type Edit = Box<dyn FnOnce(&mut KeySnapshot)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|k| k.state = Some(KeyState::Disabled)),
            "KeyState is Disabled, not Enabled",
        ),
        (
            Box::new(|k| k.state = Some(KeyState::PendingImport)),
            "KeyState is PendingImport, not Enabled",
        ),
        (
            Box::new(|k| k.manager = Some(KeyManager::Aws)),
            "KeyManager is AWS, not CUSTOMER",
        ),
        (
            Box::new(|k| k.origin = Some("EXTERNAL".into())),
            "Origin is EXTERNAL: a key with imported key material is never adopted",
        ),
        (
            Box::new(|k| k.origin = Some("AWS_CLOUDHSM".into())),
            "Origin is AWS_CLOUDHSM, not AWS_KMS",
        ),
        (
            Box::new(|k| k.spec = Some("RSA_2048".into())),
            "KeySpec is RSA_2048, not SYMMETRIC_DEFAULT",
        ),
        (
            Box::new(|k| k.usage = Some("GENERATE_VERIFY_MAC".into())),
            "KeyUsage is GENERATE_VERIFY_MAC, not ENCRYPT_DECRYPT",
        ),
        (
            Box::new(|k| k.multi_region = Some(true)),
            "it is a multi-Region key; the plan creates a single-Region key",
        ),
        (
            Box::new(|k| k.multi_region = None),
            "whether it is multi-Region is unknown",
        ),
        (
            Box::new(|k| k.origin = None),
            "Origin is unknown, not AWS_KMS",
        ),
        (
            Box::new(|k| k.arn = "arn:aws:kms:eu-west-1:444455556666:key/k".into()),
            "it is not a key of 111122223333/eu-west-1",
        ),
    ];
    for (edit, expected) in cases {
        let diffs = diffs_of(edit);
        assert_eq!(
            diffs.first().map(String::as_str),
            Some(expected),
            "{diffs:#?}"
        );
    }
}

#[test]
fn a_key_rule_failing_on_it_is_refused_even_when_policy_and_tags_match() {
    // The policy file apply judges with now requires a tag the plan did not write.
    let plan_org = org("");
    let step = step(&plan_org);
    let key = the_planned_key(&step);
    let stricter = crate::rules::test_support::policy(&ORG.replace(
        r#"required = ["owner"]"#,
        r#"required = ["owner", "cost-center"]"#,
    ));
    let diffs = differences(&key, &planned(&step), &stricter, today());
    assert_eq!(
        diffs,
        [
            "kms-key-missing-tags fails: required tags: `cost-center` missing",
            "the rules judge with the policy file apply is given (--policy): give it the one the plan was made with"
        ]
    );
}

#[test]
fn the_first_candidate_that_is_the_planned_key_is_adopted_else_every_one_is_named() {
    let org = org("");
    let step = step(&org);
    let good = the_planned_key(&step);
    let mut planted = good.clone();
    planted.arn = format!("{ARN}-planted");
    planted.origin = Some("EXTERNAL".into());
    let mut disabled = good.clone();
    disabled.arn = format!("{ARN}-disabled");
    disabled.state = Some(KeyState::Disabled);
    let both = [planted.clone(), good.clone()];
    assert_eq!(
        choose(&both, &planned(&step), &org, today()),
        Ok(Some(&good))
    );
    let Err(why) = choose(&[planted, disabled], &planned(&step), &org, today()) else {
        panic!("neither may be adopted")
    };
    assert!(why.starts_with("refused to adopt keys tagged managed-by=xray-cmk and xray-cmk-alias=alias/xray-cmk-traces that no alias names"), "{why}");
    assert!(
        why.contains(&format!("{ARN}-planted: Origin is EXTERNAL"))
            && why.contains(&format!(
                "{ARN}-disabled: KeyState is Disabled, not Enabled"
            )),
        "{why}"
    );
    assert!(why.contains("xray-cmk-orphan=<why>"), "{why}");
    assert_eq!(choose(&[], &planned(&step), &org, today()), Ok(None));
}

#[test]
fn create_key_adopts_only_the_planned_key_and_reuses_an_aliased_key_only_if_it_is_one() {
    let org = org("");
    let step = step(&org);
    let p = planned(&step);
    let good = the_planned_key(&step);
    assert_eq!(
        decide_create_key(&p, None, std::slice::from_ref(&good), &org, today()),
        Decision::Run(Create::Adopt(ARN.into()))
    );
    assert_eq!(
        decide_create_key(&p, None, &[], &org, today()),
        Decision::Run(Create::New)
    );
    let mut planted = good.clone();
    with_statement(
        &mut planted,
        json!({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"}),
    );
    let Decision::Refuse(why) =
        decide_create_key(&p, None, std::slice::from_ref(&planted), &org, today())
    else {
        panic!("a planted key must be refused")
    };
    assert!(
        why.contains(ARN) && why.contains(r#"{"Action":"kms:Decrypt""#),
        "{why}"
    );
    assert!(matches!(
        decide_create_key(&p, Some(&good), &[], &org, today()),
        Decision::Skip(_)
    ));
    let Decision::Refuse(why) = decide_create_key(&p, Some(&planted), &[], &org, today()) else {
        panic!("an aliased key that is not the planned one must not be used")
    };
    assert!(
        why.contains("not the key the plan would create") && why.contains("kms:Decrypt"),
        "{why}"
    );
}

#[test]
fn a_lost_race_carries_on_with_the_winner_only_if_it_is_the_planned_key() {
    let org = org("");
    let step = step(&org);
    let p = planned(&step);
    let mut winner = the_planned_key(&step);
    winner.arn = format!("{ARN}-winner");
    assert_eq!(
        decide_lost_race(ARN, Some(&winner), &p, &org, today()),
        LostRace::Lost {
            winner: winner.arn.clone(),
            usable: Ok(())
        }
    );
    assert_eq!(
        decide_lost_race(&winner.arn, Some(&winner), &p, &org, today()),
        LostRace::AliasIsOurs
    );
    assert_eq!(
        decide_lost_race(ARN, None, &p, &org, today()),
        LostRace::Vanished
    );
    winner
        .tags
        .as_mut()
        .expect("tags")
        .insert("owner".into(), "mallory".into());
    let LostRace::Lost {
        usable: Err(why), ..
    } = decide_lost_race(ARN, Some(&winner), &p, &org, today())
    else {
        panic!("a winner that is not the planned key is not used")
    };
    assert!(
        why.differences
            .iter()
            .any(|d| d.contains("owner is `mallory`")),
        "{why}"
    );
}

#[test]
fn tags_say_whose_key_it_is_and_whether_it_was_discarded() {
    let org = org("");
    let mut tags = tags_for(&org, Some(ALIAS));
    assert!(tagged_for(&tags, ALIAS));
    assert!(!tagged_for(&tags, "alias/other"));
    assert!(!discarded(&tags));
    tags.insert(
        ORPHAN_TAG.into(),
        crate::remediation::plan::LOST_ALIAS_RACE.into(),
    );
    assert!(discarded(&tags));
}
