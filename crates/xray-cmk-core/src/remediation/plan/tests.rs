use super::*;
use crate::remediation::key_policy;
use crate::rules::test_support::*;

const CALLER: &str = "arn:aws:sts::111122223333:assumed-role/PlatformDeploy/s";

const DEMO: &str = r#"
[tags]
required = ["owner"]
values = { owner = "platform" }
[access]
xray_admins = ["arn:aws:iam::{account}:role/XrayAdmin"]
trace_readers = ["arn:aws:iam::{account}:role/TraceReader"]
"#;

fn planned_with(inv: &Inventory, org: &OrgPolicy) -> TargetPlan {
    let principal = |a: &str| acting_principal(CALLER, a, "OrganizationAccountAccessRole");
    let generate = |a: &str, r: &str| key_policy::generate(org, a, r, &principal(a));
    let input = PlanInput {
        policy: org,
        today: today(),
        key_policy: &generate,
        principal: &principal,
    };
    plan_targets(inv, &input)
        .into_iter()
        .next()
        .expect("one target")
}

fn planned(inv: &Inventory) -> TargetPlan {
    planned_with(inv, &DEFAULT_POLICY)
}

fn kinds(t: &TargetPlan) -> Vec<&'static str> {
    t.steps.iter().map(|s| s.action.kind()).collect()
}

#[test]
fn default_encryption_gets_a_new_key_switched_and_verified() {
    let t = planned_with(&none_config(), &policy(DEMO));
    assert_eq!(
        kinds(&t),
        [
            "create_key",
            "enable_rotation",
            "set_xray_encryption",
            "verify"
        ]
    );
    let Action::CreateKey { alias, tags, .. } = &t.steps[0].action else {
        panic!("create first")
    };
    assert_eq!(alias, "alias/xray-cmk");
    assert_eq!(tags.get("managed-by").map(String::as_str), Some("xray-cmk"));
    assert_eq!(
        tags.get(ALIAS_TAG).map(String::as_str),
        Some("alias/xray-cmk")
    );
    assert_eq!(tags.get("owner").map(String::as_str), Some("platform"));
    assert_eq!(
        t.steps[2].precondition,
        Precondition::XrayEncryptionIs {
            encryption_type: EncryptionType::None,
            key_id: None
        }
    );
    assert_eq!(t.steps[0].because, "xray-default-encryption");
}

#[test]
fn a_required_tag_without_a_value_is_planned_for_review() {
    let t = planned_with(&none_config(), &policy("[tags]\nrequired = [\"owner\"]\n"));
    let Action::CreateKey { tags, .. } = &t.steps[0].action else {
        panic!("create first")
    };
    assert_eq!(tags.get("owner").map(String::as_str), Some("REVIEW"));
}

#[test]
fn a_good_cmk_needs_nothing_and_a_disabled_or_aws_managed_one_is_replaced() {
    let t = planned(&with_key(|_| {}));
    assert!(t.steps.is_empty());
    assert_eq!(t.note.as_deref(), Some("nothing to change"));
    for edit in [
        (|k: &mut KmsKey| k.key_state = Some(KeyState::Disabled)) as fn(&mut KmsKey),
        |k: &mut KmsKey| k.key_manager = Some(KeyManager::Aws),
    ] {
        assert_eq!(kinds(&planned(&with_key(edit)))[0], "create_key");
    }
}

#[test]
fn a_cmk_without_rotation_gets_rotation_not_a_new_key() {
    let t = planned(&with_key(|k| {
        k.rotation = Observed::Known(Rotation {
            enabled: false,
            period_days: None,
            next_rotation: None,
        })
    }));
    assert_eq!(kinds(&t), ["enable_rotation"]);
    assert_eq!(t.steps[0].because, "kms-rotation-disabled");
}

#[test]
fn a_policy_missing_xray_access_gets_statements_merged_in() {
    // No root delegation: only what the policy names may use the key, and XrayAdmin is not named.
    let original = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Sid":"Admins","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:role/PlatformDeploy"}},"Action":"kms:*","Resource":"*"}},
        {{"Sid":"Readers","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:role/TraceReader"}},"Action":"kms:Decrypt","Resource":"*"}}]}}"#
    );
    let t = planned_with(
        &with_key(|k| k.policy = Observed::Known(original.clone())),
        &policy(DEMO),
    );
    assert_eq!(kinds(&t), ["merge_key_policy", "verify"]);
    let Action::MergeKeyPolicy { statements, .. } = &t.steps[0].action else {
        panic!("merge")
    };
    let sids: Vec<&str> = statements
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .collect();
    assert!(sids.contains(&"XRayConfigureGrant"), "{sids:?}");
    assert!(!sids.contains(&key_policy::ROOT_SID), "{sids:?}");
    // No [access] key_admins: an existing key gets no new administrator, not even the caller.
    assert!(!sids.contains(&key_policy::ADMIN_SID), "{sids:?}");
    assert_eq!(
        t.steps[0].precondition,
        Precondition::KeyPolicyIs {
            key: KeyRef::Arn(KEY_ARN.into()),
            sha256: sha256_hex(original.as_bytes()),
        }
    );
}

#[test]
fn a_policy_the_caller_cannot_change_means_a_new_key_not_a_merge() {
    let locked = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Sid":"Admins","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:role/KeyAdmin"}},"Action":"kms:*","Resource":"*"}}]}}"#
    );
    let t = planned_with(
        &with_key(|k| k.policy = Observed::Known(locked.clone())),
        &policy(DEMO),
    );
    assert_eq!(kinds(&t)[0], "create_key");
}

#[test]
fn a_public_key_is_replaced_since_adding_cannot_fix_it() {
    let t = planned(&with_key(|k| {
        k.policy = Observed::Known(
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}]}"#
                .into(),
        )
    }));
    assert_eq!(kinds(&t)[0], "create_key");
    assert!(t.steps[0].because.contains("kms-key-policy-public"));
}

#[test]
fn a_new_key_that_would_still_fail_is_not_planned() {
    let org = policy("[keys]\napproved = [\"alias/approved-*\"]\nalias = \"alias/xray-cmk\"\n");
    let t = planned_with(&none_config(), &org);
    assert!(t.steps.is_empty());
    let note = t.note.expect("note");
    assert!(note.contains("xray-key-not-approved"), "{note}");
}

#[test]
fn unreadable_targets_are_not_planned_and_say_why() {
    let inv = unreadable_config();
    let Observed::Unknown(err) = &inv.targets[0].encryption else {
        panic!("unreadable")
    };
    assert_eq!(err.kind, crate::ErrorKind::AccessDenied);
    let t = planned(&inv);
    assert!(t.steps.is_empty());
    assert_eq!(t.note, Some(format!("not planned: {err}")));
}

#[test]
fn a_sealed_plan_round_trips_and_refuses_edits_versions_and_garbage() {
    let t = planned(&none_config());
    let plan = Plan::sealed("0.1.0", "2026-12-01T00:00:00Z", CALLER, vec![t]);
    let text = serde_json::to_string_pretty(&plan).expect("serialise");
    assert_eq!(Plan::from_json(&text, "0.1.0"), Ok(plan.clone()));
    assert!(text.contains(r#""type": "create_key""#), "{text}");

    let edited = text.replace("xray-default-encryption", "something-else");
    assert!(matches!(
        Plan::from_json(&edited, "0.1.0"),
        Err(PlanFileError::Edited { .. })
    ));
    // Schema 2 plans did not record who acts in each account: they are refused as old.
    let old = text.replace("\"schema_version\": 3", "\"schema_version\": 2");
    let err = Plan::from_json(&old, "0.1.0").expect_err("old version");
    assert!(matches!(err, PlanFileError::Version { .. }));
    assert!(err.to_string().contains("schema_version 2"), "{err}");
    assert!(matches!(
        Plan::from_json("{not json", "0.1.0"),
        Err(PlanFileError::Malformed(_))
    ));
    let extra = text.replacen('{', "{\"surprise\": 1,", 1);
    assert!(matches!(
        Plan::from_json(&extra, "0.1.0"),
        Err(PlanFileError::Malformed(_))
    ));
}

#[test]
fn a_merge_adds_only_the_administrators_the_policy_file_requires() {
    let org = policy(&format!(
        "{DEMO}key_admins = [\"arn:aws:iam::{{account}}:role/KeyAdmin\"]\n"
    ));
    let original = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Sid":"Admins","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:role/PlatformDeploy"}},"Action":"kms:*","Resource":"*"}}]}}"#
    );
    let t = planned_with(
        &with_key(|k| k.policy = Observed::Known(original.clone())),
        &org,
    );
    let Action::MergeKeyPolicy { statements, .. } = &t.steps[0].action else {
        panic!("merge: {t:?}")
    };
    let admins = statements
        .iter()
        .find(|s| s["Sid"] == key_policy::ADMIN_SID)
        .expect("the required admins are added");
    assert_eq!(
        admins["Principal"]["AWS"],
        serde_json::json!(["arn:aws:iam::111122223333:role/KeyAdmin"]),
        "the caller is not added to an existing key"
    );
}

#[test]
fn the_digest_does_not_depend_on_key_order() {
    let t = planned(&none_config());
    let plan = Plan::sealed("0.1.0", "2026-12-01T00:00:00Z", CALLER, vec![t]);
    // The same plan with every object's keys reversed, as another JSON library might write it.
    fn reversed(v: &Value) -> String {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                keys.reverse();
                let parts: Vec<String> = keys
                    .into_iter()
                    .map(|k| format!("{}:{}", Value::String(k.clone()), reversed(&m[k])))
                    .collect();
                format!("{{{}}}", parts.join(","))
            }
            Value::Array(a) => {
                format!("[{}]", a.iter().map(reversed).collect::<Vec<_>>().join(","))
            }
            s => s.to_string(),
        }
    }
    let text = reversed(&serde_json::to_value(&plan).expect("value"));
    assert!(text.starts_with(r#"{"tool_version""#), "{text}");
    assert_eq!(Plan::from_json(&text, "0.1.0"), Ok(plan));
}

#[test]
fn the_acting_principal_is_the_caller_at_home_and_the_assumed_role_elsewhere() {
    assert_eq!(
        acting_principal(CALLER, "111122223333", "OrganizationAccountAccessRole"),
        "arn:aws:iam::111122223333:role/PlatformDeploy"
    );
    assert_eq!(
        acting_principal(CALLER, "444455556666", "OrganizationAccountAccessRole"),
        "arn:aws:iam::444455556666:role/OrganizationAccountAccessRole"
    );
    assert_eq!(
        acting_principal("arn:aws:iam::111122223333:root", "111122223333", "X"),
        "arn:aws:iam::111122223333:root"
    );
    assert_eq!(
        acting_principal("arn:aws-cn:iam::111122223333:root", "444455556666", "Audit"),
        "arn:aws-cn:iam::444455556666:role/Audit"
    );
}

#[test]
fn a_member_target_is_planned_for_the_role_assumed_there() {
    // The planner works from the management account; the key it plans in a member names the
    // member's role as administrator, so the cross-account rule has nothing to object to.
    let org = policy(DEMO);
    let mut inv = none_config();
    for t in &mut inv.targets {
        t.account = "444455556666".to_owned();
    }
    let t = planned_with(&inv, &org);
    assert_eq!(
        t.principal,
        "arn:aws:iam::444455556666:role/OrganizationAccountAccessRole"
    );
    let Some(Action::CreateKey { policy, .. }) = t.steps.first().map(|s| &s.action) else {
        panic!("a new key: {t:?}");
    };
    let text = policy.to_string();
    assert!(text.contains("arn:aws:iam::444455556666:role/OrganizationAccountAccessRole"));
    assert!(!text.contains("111122223333"), "{text}");
}

/// A schema 3 plan as `xray-cmk plan` wrote it before X-Ray's encryption type was typed: the
/// precondition's `encryption_type` is X-Ray's wire value (`NONE`, `KMS`, or `(missing)` for a
/// response without `Type`), and `because` names rules by their ids.
const SCHEMA_3_PLAN: &str = r#"{
  "schema_version": 3,
  "tool_version": "0.1.0",
  "generated_at": "2026-12-01T00:00:00Z",
  "caller": "arn:aws:iam::111122223333:role/PlatformDeploy",
  "digest": "DIGEST",
  "targets": [
    {
      "account": "111122223333",
      "region": "eu-west-1",
      "principal": "arn:aws:iam::111122223333:role/PlatformDeploy",
      "steps": [
        {
          "action": {"type": "enable_rotation", "key": {"alias": "alias/xray-cmk"}, "period_days": 90},
          "precondition": {"type": "key_enabled", "key": {"alias": "alias/xray-cmk"}},
          "because": "kms-rotation-disabled"
        },
        {
          "action": {"type": "set_xray_encryption", "key": {"alias": "alias/xray-cmk"}},
          "precondition": {"type": "xray_encryption_is", "encryption_type": "NONE", "key_id": null},
          "because": "xray-default-encryption"
        },
        {
          "action": {"type": "verify"},
          "precondition": {"type": "none"},
          "because": "traces must still be written and read back"
        }
      ]
    },
    {
      "account": "111122223333",
      "region": "us-east-1",
      "principal": "arn:aws:iam::111122223333:role/PlatformDeploy",
      "steps": [
        {
          "action": {"type": "set_xray_encryption", "key": {"arn": "arn:aws:kms:us-east-1:111122223333:key/k"}},
          "precondition": {"type": "xray_encryption_is", "encryption_type": "KMS", "key_id": "arn:aws:kms:us-east-1:111122223333:key/old"},
          "because": "xray-key-not-approved"
        },
        {
          "action": {"type": "set_xray_encryption", "key": {"arn": "arn:aws:kms:us-east-1:111122223333:key/k"}},
          "precondition": {"type": "xray_encryption_is", "encryption_type": "(missing)", "key_id": null},
          "because": "xray-default-encryption"
        }
      ]
    }
  ]
}"#;

#[test]
fn a_schema_3_plan_file_loads_with_typed_encryption_and_round_trips_unchanged() {
    let unsealed: Plan = serde_json::from_str(SCHEMA_3_PLAN).expect("plan");
    let text = SCHEMA_3_PLAN.replace("DIGEST", &unsealed.content_digest());
    let plan = Plan::from_json(&text, "0.1.0").expect("a schema 3 plan loads");
    let preconditions: Vec<&Precondition> = plan
        .targets
        .iter()
        .flat_map(|t| &t.steps)
        .map(|s| &s.precondition)
        .filter(|p| matches!(p, Precondition::XrayEncryptionIs { .. }))
        .collect();
    let types: Vec<&EncryptionType> = preconditions
        .iter()
        .map(|p| match p {
            Precondition::XrayEncryptionIs {
                encryption_type, ..
            } => encryption_type,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        types,
        [
            &EncryptionType::None,
            &EncryptionType::Kms,
            &EncryptionType::from_wire(None)
        ]
    );
    // A missing Type read back from a plan is still neither NONE nor KMS.
    assert!(!matches!(
        types[2],
        EncryptionType::None | EncryptionType::Kms
    ));
    assert_eq!(plan.targets[0].steps[0].because, ids::KMS_ROTATION_DISABLED);
    // Written again, it is the same document, and its digest still holds.
    let again = serde_json::to_value(&plan).expect("serialise");
    let original: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(again, original);
    assert_eq!(plan.content_digest(), plan.digest);
    let rewritten = serde_json::to_string_pretty(&plan).expect("serialise");
    assert_eq!(Plan::from_json(&rewritten, "0.1.0"), Ok(plan));
}

#[test]
fn the_previous_schema_2_plan_file_is_read_and_refused_as_old_not_misread() {
    // Schema 2 had no `principal` per target; `apply` must not guess who acts, so such a file is
    // refused with a typed error that says to plan again (see the test above for schema 3).
    let unsealed: Plan = serde_json::from_str(SCHEMA_3_PLAN).expect("plan");
    let v3 = SCHEMA_3_PLAN.replace("DIGEST", &unsealed.content_digest());
    let v2 = v3
        .replace("\"schema_version\": 3", "\"schema_version\": 2")
        .replace(
            "\"principal\": \"arn:aws:iam::111122223333:role/PlatformDeploy\",\n",
            "",
        );
    assert!(!v2.contains("\"principal\""));
    match Plan::from_json(&v2, "0.1.0") {
        Err(PlanFileError::Version {
            found, expected, ..
        }) => {
            assert_eq!(found, "2");
            assert_eq!(expected, PLAN_SCHEMA_VERSION);
        }
        other => panic!("a schema 2 plan must be refused as old: {other:?}"),
    }
}
