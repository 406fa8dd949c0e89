//! One test per operator family, plus the missing-key, `IfExists` and set-qualifier rules.

use super::*;
use crate::key_policy::Context;

fn eval(operator: &str, key: &str, values: &[&str], ctx: &Context) -> Tri {
    let values = values.iter().map(|v| v.to_string()).collect();
    Condition::new(operator, key, values).evaluate(ctx.get(key))
}

fn ctx(key: &str, value: &str) -> Context {
    Context::new().with(key, value)
}

fn is_unknown(t: &Tri) -> bool {
    matches!(t, Tri::Unknown(_))
}

#[test]
fn operator_names_parse_into_parts() {
    let op = Operator::parse("ForAnyValue:StringNotEqualsIgnoreCaseIfExists");
    assert_eq!(op.set, Some(SetQualifier::ForAnyValue));
    assert_eq!(op.base, Base::StringEqualsIgnoreCase);
    assert!(op.negated && op.if_exists);
    assert_eq!(Operator::parse("BinaryEquals").base, Base::Unsupported);
    assert_eq!(Operator::parse("NullIfExists").base, Base::Unsupported);
    assert_eq!(Operator::parse("ArnNotLike").base, Base::Arn);
    assert_eq!(
        Operator::parse("DateLessThanEquals").base,
        Base::Date(Cmp::Le)
    );
}

#[test]
fn string_operators() {
    let c = ctx("kms:ViaService", "xray.us-east-1.amazonaws.com");
    let key = "kms:ViaService";
    assert_eq!(
        eval("StringEquals", key, &["xray.us-east-1.amazonaws.com"], &c),
        Tri::Yes
    );
    assert_eq!(
        eval("StringEquals", key, &["XRAY.us-east-1.amazonaws.com"], &c),
        Tri::No
    );
    assert_eq!(
        eval(
            "StringEqualsIgnoreCase",
            key,
            &["XRAY.US-EAST-1.AMAZONAWS.COM"],
            &c
        ),
        Tri::Yes
    );
    assert_eq!(
        eval(
            "StringNotEqualsIgnoreCase",
            key,
            &["XRAY.US-EAST-1.AMAZONAWS.COM"],
            &c
        ),
        Tri::No
    );
    assert_eq!(
        eval("StringLike", key, &["xray.*.amazonaws.com"], &c),
        Tri::Yes
    );
    assert_eq!(
        eval("StringLike", key, &["XRAY.*"], &c),
        Tri::No,
        "StringLike is case-sensitive"
    );
    assert_eq!(eval("StringNotLike", key, &["ec2.*"], &c), Tri::Yes);
    // StringEquals takes `*` literally.
    assert_eq!(eval("StringEquals", key, &["*"], &c), Tri::No);
}

#[test]
fn several_values_are_ored_and_nored_when_negated() {
    let c = ctx("kms:CallerAccount", "111122223333");
    let key = "kms:CallerAccount";
    let values = ["444455556666", "111122223333"];
    assert_eq!(eval("StringEquals", key, &values, &c), Tri::Yes);
    assert_eq!(eval("StringNotEquals", key, &values, &c), Tri::No);
    assert_eq!(
        eval(
            "StringNotEquals",
            key,
            &["444455556666", "777788889999"],
            &c
        ),
        Tri::Yes
    );
}

#[test]
fn missing_keys() {
    let empty = Context::new();
    let key = "aws:PrincipalOrgID";
    assert_eq!(eval("StringEquals", key, &["o-1"], &empty), Tri::No);
    assert_eq!(eval("StringNotEquals", key, &["o-1"], &empty), Tri::Yes);
    assert_eq!(eval("ArnNotLike", key, &["arn:*"], &empty), Tri::Yes);
    assert_eq!(eval("NotIpAddress", key, &["10.0.0.0/8"], &empty), Tri::Yes);
    assert_eq!(eval("Bool", key, &["true"], &empty), Tri::No);
    assert_eq!(eval("NumericLessThan", key, &["1"], &empty), Tri::No);
}

#[test]
fn if_exists_passes_on_a_missing_key_and_checks_a_present_one() {
    let key = "aws:SourceVpc";
    assert_eq!(
        eval("StringEqualsIfExists", key, &["vpc-1"], &Context::new()),
        Tri::Yes
    );
    assert_eq!(
        eval("StringNotEqualsIfExists", key, &["vpc-1"], &Context::new()),
        Tri::Yes
    );
    assert_eq!(
        eval("StringEqualsIfExists", key, &["vpc-1"], &ctx(key, "vpc-2")),
        Tri::No
    );
    assert_eq!(
        eval("StringEqualsIfExists", key, &["vpc-1"], &ctx(key, "vpc-1")),
        Tri::Yes
    );
    assert_eq!(
        eval(
            "ForAnyValue:StringEqualsIfExists",
            key,
            &["vpc-1"],
            &Context::new()
        ),
        Tri::Yes
    );
}

#[test]
fn null_tests_presence() {
    let key = "aws:TokenIssueTime";
    let present = ctx(key, "2024-01-01T00:00:00Z");
    assert_eq!(eval("Null", key, &["true"], &Context::new()), Tri::Yes);
    assert_eq!(eval("Null", key, &["true"], &present), Tri::No);
    assert_eq!(eval("Null", key, &["false"], &present), Tri::Yes);
    assert_eq!(eval("Null", key, &["false"], &Context::new()), Tri::No);
    assert!(is_unknown(&eval("Null", key, &["maybe"], &present)));
}

#[test]
fn bool_accepts_json_booleans_and_strings() {
    let key = "kms:GrantIsForAWSResource";
    let yes = Context::new().with_bool(key, true);
    assert_eq!(eval("Bool", key, &["true"], &yes), Tri::Yes);
    assert_eq!(eval("Bool", key, &["TRUE"], &yes), Tri::Yes);
    assert_eq!(eval("Bool", key, &["false"], &yes), Tri::No);
    assert!(is_unknown(&eval("Bool", key, &["sure"], &yes)));
    assert_eq!(eval("Bool", key, &["true"], &ctx(key, "garbage")), Tri::No);
}

#[test]
fn numeric_operators() {
    let c = Context::new().with_number("s3:max-keys", 10.0);
    let key = "s3:max-keys";
    assert_eq!(eval("NumericEquals", key, &["10"], &c), Tri::Yes);
    assert_eq!(eval("NumericNotEquals", key, &["10"], &c), Tri::No);
    assert_eq!(eval("NumericLessThan", key, &["10"], &c), Tri::No);
    assert_eq!(eval("NumericLessThanEquals", key, &["10"], &c), Tri::Yes);
    assert_eq!(eval("NumericGreaterThan", key, &["9.5"], &c), Tri::Yes);
    assert_eq!(eval("NumericGreaterThanEquals", key, &["11"], &c), Tri::No);
    assert!(is_unknown(&eval("NumericEquals", key, &["ten"], &c)));
}

#[test]
fn date_operators_accept_iso_and_epoch() {
    let key = "aws:CurrentTime";
    let c = ctx(key, "2024-06-01T12:00:00Z");
    assert_eq!(
        eval("DateGreaterThan", key, &["2024-01-01T00:00:00Z"], &c),
        Tri::Yes
    );
    assert_eq!(
        eval("DateLessThan", key, &["2024-01-01T00:00:00Z"], &c),
        Tri::No
    );
    assert_eq!(
        eval("DateLessThanEquals", key, &["1717243200"], &c),
        Tri::Yes
    );
    assert_eq!(
        eval("DateEquals", key, &["2024-06-01T12:00:00Z"], &c),
        Tri::Yes
    );
    assert_eq!(
        eval("DateNotEquals", key, &["2024-06-01T12:00:00Z"], &c),
        Tri::No
    );
    assert_eq!(
        eval(
            "DateGreaterThanEquals",
            key,
            &["2024-06-01T14:00:00+02:00"],
            &c
        ),
        Tri::Yes
    );
    assert!(is_unknown(&eval("DateEquals", key, &["someday"], &c)));
}

#[test]
fn ip_address_operators() {
    let key = "aws:SourceIp";
    let c = ctx(key, "203.0.113.9");
    assert_eq!(eval("IpAddress", key, &["203.0.113.0/24"], &c), Tri::Yes);
    assert_eq!(
        eval("IpAddress", key, &["198.51.100.0/24", "203.0.113.9"], &c),
        Tri::Yes
    );
    assert_eq!(eval("NotIpAddress", key, &["203.0.113.0/24"], &c), Tri::No);
    assert_eq!(
        eval("IpAddress", key, &["2001:DB8:1234:5678::/64"], &c),
        Tri::No
    );
    assert!(is_unknown(&eval(
        "IpAddress",
        key,
        &["203.0.113.0/24"],
        &ctx(key, "2001:db8::1")
    )));
    assert!(is_unknown(&eval("IpAddress", key, &["not-an-ip"], &c)));
}

#[test]
fn arn_operators_match_component_wise() {
    let key = "aws:SourceArn";
    let c = ctx(
        key,
        "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt",
    );
    // The IAM guide's own example: StringLike matches, ArnLike does not.
    let pattern = "arn:aws:someservice:*:111122223333:finance/*";
    assert_eq!(eval("StringLike", key, &[pattern], &c), Tri::Yes);
    assert_eq!(eval("ArnLike", key, &[pattern], &c), Tri::No);
    let c = ctx(key, "arn:aws:xray:us-east-1:111122223333:group/Default");
    assert_eq!(
        eval("ArnLike", key, &["arn:aws:xray:*:111122223333:*"], &c),
        Tri::Yes
    );
    assert_eq!(
        eval("ArnEquals", key, &["arn:aws:xray:*:111122223333:*"], &c),
        Tri::Yes
    );
    assert_eq!(
        eval("ArnNotEquals", key, &["arn:aws:xray:*:444455556666:*"], &c),
        Tri::Yes
    );
    assert_eq!(eval("ArnLike", key, &["*"], &c), Tri::Yes);
}

#[test]
fn for_any_value_and_for_all_values() {
    let key = "aws:TagKeys";
    let tags = Context::new().with_values(key, ["env", "owner"]);
    let allowed = ["env", "owner", "team"];
    assert_eq!(
        eval("ForAllValues:StringEquals", key, &allowed, &tags),
        Tri::Yes
    );
    assert_eq!(
        eval("ForAllValues:StringEquals", key, &["env"], &tags),
        Tri::No
    );
    assert_eq!(
        eval("ForAnyValue:StringEquals", key, &["owner"], &tags),
        Tri::Yes
    );
    assert_eq!(
        eval("ForAnyValue:StringEquals", key, &["team"], &tags),
        Tri::No
    );
    // Missing or empty keys.
    let empty = Context::new().with_values(key, Vec::<String>::new());
    for c in [Context::new(), empty] {
        assert_eq!(
            eval("ForAllValues:StringEquals", key, &["env"], &c),
            Tri::Yes
        );
        assert_eq!(eval("ForAnyValue:StringEquals", key, &["env"], &c), Tri::No);
        assert_eq!(
            eval("ForAnyValue:StringNotEquals", key, &["env"], &c),
            Tri::No
        );
    }
    // Negated operators apply per request value.
    assert_eq!(
        eval("ForAllValues:StringNotEquals", key, &["secret"], &tags),
        Tri::Yes
    );
    assert_eq!(
        eval("ForAnyValue:StringNotEquals", key, &["env"], &tags),
        Tri::Yes
    );
    assert_eq!(
        eval("ForAllValues:StringNotEquals", key, &["env"], &tags),
        Tri::No
    );
}

#[test]
fn unsupported_operators_and_policy_variables_are_unknown() {
    let c = ctx("k", "v");
    assert!(is_unknown(&eval("BinaryEquals", "k", &["dg=="], &c)));
    assert!(is_unknown(&eval("StringGreaterThan", "k", &["a"], &c)));
    assert!(is_unknown(&eval(
        "StringEquals",
        "k",
        &["${aws:username}"],
        &c
    )));
    // A definite value elsewhere in the OR still decides.
    assert_eq!(
        eval("StringEquals", "k", &["${aws:username}", "v"], &c),
        Tri::Yes
    );
}

#[test]
fn requires_match_is_the_pinning_shape() {
    assert!(Operator::parse("StringEquals").requires_match());
    assert!(Operator::parse("ArnLike").requires_match());
    assert!(Operator::parse("ForAnyValue:StringLike").requires_match());
    assert!(!Operator::parse("StringEqualsIfExists").requires_match());
    assert!(!Operator::parse("StringNotEquals").requires_match());
    assert!(!Operator::parse("ForAllValues:StringEquals").requires_match());
    assert!(!Operator::parse("Bool").requires_match());
}
