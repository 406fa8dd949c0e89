//! The policy file end to end: fixture files in `tests/fixtures/policy/` parsed through the public
//! API, with the exact messages users will see.

use xray_cmk_core::policy::{Date, ExemptionMatch, OrgPolicy, PolicyErrors, DEFAULT_POLICY_TOML};

/// The rule ids the fixtures may name; exemptions are checked against the caller's list.
const KNOWN_RULES: &[&str] = &[
    "kms-rotation-disabled",
    "xray-aws-managed-key",
    "xray-default-encryption",
];

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/policy/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse_fixture(name: &str) -> Result<OrgPolicy, PolicyErrors> {
    OrgPolicy::parse(&fixture(name), name, KNOWN_RULES)
}

fn valid(name: &str) -> OrgPolicy {
    parse_fixture(name).unwrap_or_else(|errors| panic!("{name} should be valid:\n{errors}"))
}

fn errors(name: &str) -> String {
    match parse_fixture(name) {
        Ok(policy) => panic!("{name} should be rejected, parsed as {policy:#?}"),
        Err(errors) => errors.to_string(),
    }
}

fn date(text: &str) -> Date {
    text.parse().expect("valid date")
}

#[test]
fn full_file_sets_every_setting() {
    let policy = valid("full.toml");
    assert_eq!(policy.rotation.max_period_days, 180);
    assert_eq!(policy.tags.required, ["owner", "data-classification"]);
    assert_eq!(policy.keys.approved.len(), 3);
    assert_eq!(policy.keys.alias, "alias/xray-cmk-org");
    assert_eq!(
        policy.access.cross_account_readers,
        ["arn:aws:iam::111122223333:role/SecurityAudit"]
    );
    assert_eq!(policy.access.trusted_accounts, ["777788889999"]);

    let summary: Vec<String> = policy
        .exemptions
        .iter()
        .map(|e| {
            format!(
                "line {}: {}/{}/{} until {}: {}",
                e.line, e.account, e.region, e.rule, e.expires, e.reason
            )
        })
        .collect();
    insta::assert_snapshot!(summary.join("\n"), @r"
    line 23: 444455556666/us-east-1/kms-rotation-disabled until 2027-06-30: dev sandbox keys are rebuilt every quarter
    line 30: */eu-west-1/xray-aws-managed-key until 2026-12-31: EU migration to customer managed keys in progress
    line 37: 444455556666/*/kms-rotation-disabled until 2025-01-31: superseded by the sandbox exemption above
    ");
}

#[test]
fn empty_file_is_the_default_policy() {
    let policy = OrgPolicy::parse("", "empty.toml", KNOWN_RULES).expect("empty file is valid");
    assert_eq!(policy, OrgPolicy::default());
    assert_eq!(policy.rotation.max_period_days, 365);
    assert_eq!(policy.keys.alias, "alias/xray-cmk");
    assert!(policy.keys.approved.is_empty() && policy.exemptions.is_empty());
}

#[test]
fn default_template_parses_to_the_defaults() {
    let policy = OrgPolicy::parse(DEFAULT_POLICY_TOML, "xray-cmk.toml", KNOWN_RULES)
        .unwrap_or_else(|errors| panic!("the default template is invalid:\n{errors}"));
    assert_eq!(policy, OrgPolicy::default());
}

#[test]
fn default_template_example_exemption_is_valid_once_uncommented() {
    // The commented example must keep working for users who uncomment it.
    let example: String = DEFAULT_POLICY_TOML
        .split_once("# [[exemptions]]")
        .map(|(_, rest)| format!("# [[exemptions]]{rest}"))
        .expect("template has an example exemption")
        .lines()
        .map(|line| line.strip_prefix("# ").unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n");
    let policy = OrgPolicy::parse(&example, "example.toml", KNOWN_RULES)
        .unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(policy.exemptions.len(), 1);
}

#[test]
fn unknown_keys_are_reported_with_their_line() {
    insta::assert_snapshot!(errors("unknown_keys.toml"), @r"
    unknown_keys.toml:2:1: rotation.max_perod_days: unknown key, did you mean `max_period_days`?
    unknown_keys.toml:4:2: tag: unknown section, did you mean `tags`?
    unknown_keys.toml:8:1: keys.aliases: unknown key, did you mean `alias`?
    ");
}

#[test]
fn wrong_types_are_reported_together() {
    insta::assert_snapshot!(errors("wrong_types.toml"), @r"
    wrong_types.toml:1:12: rotation: expected a table, found integer
    wrong_types.toml:4:12: tags.required: expected an array of strings, found string
    wrong_types.toml:7:25: keys.approved[1]: expected a string, found integer
    wrong_types.toml:8:9: keys.alias: expected a string, found boolean
    wrong_types.toml:10:1: exemptions: expected an array of tables (`[[exemptions]]`), found table
    ");
}

#[test]
fn invalid_values_are_reported_together() {
    insta::assert_snapshot!(errors("invalid_values.toml"), @r"
    invalid_values.toml:2:19: rotation.max_period_days: must be between 90 and 2560 days, the rotation periods KMS allows; found 30
    invalid_values.toml:5:22: tags.required[1]: a tag key must not be empty
    invalid_values.toml:5:26: tags.required[2]: `owner` is listed twice (first as tags.required[0])
    invalid_values.toml:5:35: tags.required[3]: `aws:createdBy` cannot be required: the `aws:` prefix is reserved for AWS
    invalid_values.toml:8:13: keys.approved[0]: `xray-cmk` is not a KMS key ARN, alias ARN or alias name (expected arn:aws:kms:<region>:<account>:key/<id>, …:alias/<name> or alias/<name>)
    invalid_values.toml:9:9: keys.alias: `alias/aws/xray` is reserved: `alias/aws/` names AWS managed keys
    invalid_values.toml:12:55: access.key_admins[1]: `KeyAdmin` is not an IAM principal ARN (expected arn:aws:iam::<12-digit account or {account}>:role/<name>, user/<name> or root)
    invalid_values.toml:13:16: access.xray_admins[0]: `arn:aws:iam::12345:role/XrayAdmin` is not an IAM principal ARN (expected arn:aws:iam::<12-digit account or {account}>:role/<name>, user/<name> or root)
    invalid_values.toml:14:18: access.trace_readers[0]: `arn:aws:sts::{account}:assumed-role/TraceReader/session` is not an IAM principal ARN (expected arn:aws:iam::<12-digit account or {account}>:role/<name>, user/<name> or root)
    invalid_values.toml:15:26: access.cross_account_readers[0]: `arn:aws:iam::{account}:role/SecurityAudit` names `{account}`; a cross-account reader belongs to one fixed account (same-account readers go in `trace_readers`)
    invalid_values.toml:16:21: access.trusted_accounts[0]: `1111-2222-3333` is not an AWS account id (12 digits)
    ");
}

#[test]
fn invalid_exemptions_are_reported_together() {
    insta::assert_snapshot!(errors("invalid_exemptions.toml"), @r"
    invalid_exemptions.toml:2:11: exemptions[0].account: `4444` is not an AWS account id (12 digits) or `*`
    invalid_exemptions.toml:3:10: exemptions[0].region: `mars-1` is not a region name (like `eu-west-1`) or `*`
    invalid_exemptions.toml:4:8: exemptions[0].rule: unknown rule `kms-rotaton-disabled`, did you mean `kms-rotation-disabled`?
    invalid_exemptions.toml:5:10: exemptions[0].reason: an exemption needs a reason
    invalid_exemptions.toml:6:11: exemptions[0].expires: `2027-02-30` is not a valid date (expected YYYY-MM-DD, like 2027-06-30)
    invalid_exemptions.toml:8:1: exemptions[1].reason: missing: every exemption needs account, region, rule, reason and expires
    invalid_exemptions.toml:12:11: exemptions[1].expires: `2027-06-30T12:00:00Z` must be a date like 2027-06-30, without a time
    invalid_exemptions.toml:13:1: exemptions[1].until: unknown key, expected one of: account, region, rule, reason, expires
    invalid_exemptions.toml:18:8: exemptions[2].rule: unknown rule `no-such-rule`; known rules: kms-rotation-disabled, xray-aws-managed-key, xray-default-encryption
    invalid_exemptions.toml:20:11: exemptions[2].expires: `30/06/2027` is not a valid date (expected YYYY-MM-DD, like 2027-06-30)
    ");
}

#[test]
fn syntax_errors_name_the_setting() {
    // The file has two syntax errors; only the first is reported, as everything after it is
    // guesswork for the parser.
    insta::assert_snapshot!(errors("syntax_error.toml"), @"syntax_error.toml:2:19: rotation.max_period_days: invalid TOML: string values must be quoted, expected literal string");
    // The parser notices an unclosed array only at the first line that cannot be an element of it.
    insta::assert_snapshot!(errors("unclosed_array.toml"), @"unclosed_array.toml:4:1: keys: invalid TOML: missing comma between array elements, expected `,`");
}

#[test]
fn impossible_toml_dates_are_syntax_errors_with_their_key() {
    let source = "[[exemptions]]\naccount = \"*\"\nexpires = 2027-02-30\n";
    let errors = OrgPolicy::parse(source, "x.toml", KNOWN_RULES).expect_err("no such day");
    insta::assert_snapshot!(errors.to_string(), @"x.toml:3:11: exemptions[0].expires: invalid TOML: invalid date, expected day between 01 and 28");
}

#[test]
fn errors_carry_structured_locations() {
    let Err(PolicyErrors(errors)) = parse_fixture("invalid_values.toml") else {
        panic!("invalid_values.toml should be rejected");
    };
    let first = &errors[0];
    assert_eq!(
        (
            first.file.as_str(),
            first.line,
            first.column,
            first.key.as_str()
        ),
        ("invalid_values.toml", 2, 19, "rotation.max_period_days")
    );
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert!(
        lines.windows(2).all(|w| w[0] <= w[1]),
        "errors in file order: {lines:?}"
    );
}

#[test]
fn exemption_active_expired_or_none() {
    let policy = valid("exemptions.toml");
    let find =
        |account, region, rule, today| policy.exemption_for(account, region, rule, date(today));
    let line = |found: ExemptionMatch<'_>| match found {
        ExemptionMatch::Active(e) => format!("active, line {}", e.line),
        ExemptionMatch::Expired(e) => format!("expired, line {}", e.line),
        ExemptionMatch::None => "none".to_owned(),
    };

    // Two exemptions match; the renewed, active one wins over the expired one.
    let sandbox = ("444455556666", "us-east-1", "kms-rotation-disabled");
    assert_eq!(
        line(find(sandbox.0, sandbox.1, sandbox.2, "2026-06-01")),
        "active, line 9"
    );
    // Both active: the one lasting longer.
    assert_eq!(
        line(find(sandbox.0, sandbox.1, sandbox.2, "2026-01-15")),
        "active, line 9"
    );
    // Its expiry day is still covered; the day after, the most recent expiry is reported.
    assert_eq!(
        line(find(sandbox.0, sandbox.1, sandbox.2, "2026-12-31")),
        "active, line 9"
    );
    assert_eq!(
        line(find(sandbox.0, sandbox.1, sandbox.2, "2027-01-01")),
        "expired, line 9"
    );
    // Other region, other account, other rule.
    assert_eq!(
        line(find(sandbox.0, "us-west-2", sandbox.2, "2026-06-01")),
        "none"
    );
    assert_eq!(
        line(find("999999999999", sandbox.1, sandbox.2, "2026-06-01")),
        "none"
    );
    assert_eq!(
        line(find(
            sandbox.0,
            sandbox.1,
            "xray-default-encryption",
            "2026-06-01"
        )),
        "none"
    );
}

#[test]
fn exemption_wildcards() {
    let policy = valid("exemptions.toml");
    let rule = "xray-aws-managed-key";
    let found =
        |account, region, today| match policy.exemption_for(account, region, rule, date(today)) {
            ExemptionMatch::Active(e) => Some(e.line),
            _ => None,
        };
    // `account = "*"`: any account in eu-west-1.
    assert_eq!(found("123456789012", "eu-west-1", "2026-06-01"), Some(16));
    assert_eq!(found("123456789012", "eu-west-2", "2026-06-01"), None);
    // `region = "*"`: any region of 111122223333.
    assert_eq!(found("111122223333", "ap-south-1", "2026-03-01"), Some(23));
    // Both match in eu-west-1; the one expiring last is reported.
    assert_eq!(found("111122223333", "eu-west-1", "2026-03-01"), Some(16));
    // After the account-wide one expired, the regional one still applies.
    assert_eq!(found("111122223333", "eu-west-1", "2026-05-01"), Some(16));
    assert!(matches!(
        policy.exemption_for("111122223333", "ap-south-1", rule, date("2026-05-01")),
        ExemptionMatch::Expired(e) if e.line == 23
    ));
}

#[test]
fn access_lists_substitute_the_account() {
    let policy = valid("full.toml");
    assert_eq!(
        policy.key_admins_for("444455556666"),
        ["arn:aws:iam::444455556666:role/KeyAdmin"]
    );
    assert_eq!(
        policy.xray_admins_for("444455556666"),
        ["arn:aws:iam::444455556666:role/XrayAdmin"]
    );
    assert_eq!(
        policy.trace_readers_for("444455556666"),
        [
            "arn:aws:iam::444455556666:role/TraceReader",
            "arn:aws:iam::444455556666:user/oncall"
        ]
    );
    assert_eq!(
        OrgPolicy::resolve("arn:aws:iam::{account}:root", "123456789012"),
        "arn:aws:iam::123456789012:root"
    );
    assert_eq!(
        OrgPolicy::resolve("no placeholder", "123456789012"),
        "no placeholder"
    );
}

#[test]
fn approved_keys_match_by_alias_wildcard_arn_and_account() {
    let policy = valid("full.toml");
    let account = "444455556666";
    let key = |id: &str| format!("arn:aws:kms:us-east-1:{account}:key/{id}");
    let aliases = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let pinned = "1234abcd-12ab-34cd-56ef-1234567890ab";

    // An alias matching `alias/xray-cmk-*`.
    assert_eq!(
        policy.is_approved(&key("k1"), &aliases(&["alias/xray-cmk-good"]), account),
        Some(true)
    );
    // Any of several aliases is enough.
    assert_eq!(
        policy.is_approved(
            &key("k1"),
            &aliases(&["alias/other", "alias/xray-cmk-2"]),
            account
        ),
        Some(true)
    );
    // The wildcard needs its prefix: `alias/xray-cmk` itself is not `alias/xray-cmk-*`.
    assert_eq!(
        policy.is_approved(&key("k1"), &aliases(&["alias/xray-cmk"]), account),
        Some(false)
    );
    // The pinned key ARN, whose `{account}` is the audited account.
    assert_eq!(policy.is_approved(&key(pinned), &[], account), Some(true));
    assert_eq!(
        policy.is_approved(&key(pinned), &[], "999999999999"),
        Some(false),
        "the same key id in another account is not approved"
    );
    // An alias ARN pattern, built from the key's region and account.
    assert_eq!(
        policy.is_approved(&key("k2"), &aliases(&["alias/tracing"]), account),
        Some(true)
    );
    assert_eq!(
        policy.is_approved(&key("k2"), &aliases(&["alias/tracing"]), "999999999999"),
        Some(false)
    );
    assert_eq!(policy.is_approved(&key("k3"), &[], account), Some(false));
    // No approved list: nothing to judge.
    assert_eq!(
        OrgPolicy::default().is_approved(&key("k3"), &[], account),
        None
    );
}

#[test]
fn trusted_accounts() {
    let policy = valid("full.toml");
    let owner = "444455556666";
    assert!(policy.is_trusted_account(owner, owner));
    assert!(
        policy.is_trusted_account("777788889999", owner),
        "listed in trusted_accounts"
    );
    assert!(
        policy.is_trusted_account("111122223333", owner),
        "a cross-account reader's account"
    );
    assert!(!policy.is_trusted_account("999999999999", owner));
}

#[test]
fn policy_errors_display_one_per_line() {
    let text = errors("invalid_values.toml");
    let Err(PolicyErrors(list)) = parse_fixture("invalid_values.toml") else {
        panic!("invalid_values.toml should be rejected");
    };
    assert_eq!(text.lines().count(), list.len());
    assert!(list.len() > 5, "all errors, not only the first");
}
