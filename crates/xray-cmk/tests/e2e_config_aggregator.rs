//! `audit --from-config-aggregator` end to end against the emulator's AWS Config aggregator:
//! mixed coverage (account-regions with and without a recorder), a stale item, verdicts identical
//! to the live audit, each result's source, and an aggregator that cannot be read (`error`, exit
//! 3, never a pass).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{member_id, run, Emulator};

const REGIONS: &str = "us-east-1,us-east-2,eu-west-1,eu-central-1";

/// An organization aggregator `org` in the management account; recorders (which record the
/// current X-Ray configuration when they start) in `recorded` account-regions only; then the
/// item of `stale` made three days old.
fn aggregate(emu: &Emulator, recorded: &[(&str, &str)], stale: (&str, &str)) {
    let recorded: Vec<(String, String)> = recorded
        .iter()
        .map(|(a, r)| ((*a).to_owned(), (*r).to_owned()))
        .collect();
    emu.python(&format!(
        r#"
import boto3, json, urllib.request, os
def session(account):
    if account == "123456789012":
        return boto3.Session(region_name="us-east-1")
    c = boto3.client("sts").assume_role(RoleArn=f"arn:aws:iam::{{account}}:role/OrganizationAccountAccessRole",
                                        RoleSessionName="setup")["Credentials"]
    return boto3.Session(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                         aws_session_token=c["SessionToken"], region_name="us-east-1")
for account, region in {recorded:?}:
    config = session(account).client("config", region_name=region)
    config.put_configuration_recorder(ConfigurationRecorder={{"name": "default",
        "roleARN": f"arn:aws:iam::{{account}}:role/config", "recordingGroup": {{"allSupported": True}}}})
    config.put_delivery_channel(DeliveryChannel={{"name": "default", "s3BucketName": f"config-{{account}}"}})
    config.start_configuration_recorder(ConfigurationRecorderName="default")
boto3.client("config").put_configuration_aggregator(ConfigurationAggregatorName="org",
    OrganizationAggregationSource={{"RoleArn": "arn:aws:iam::123456789012:role/ConfigAggregator", "AllAwsRegions": True}})
body = json.dumps({{"account_id": {stale_account:?}, "region": {stale_region:?}, "seconds": 3 * 86400}}).encode()
req = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"] + "/_xray_cmk/config-items/age", data=body, method="POST")
assert urllib.request.urlopen(req).status == 200
"#,
        stale_account = stale.0,
        stale_region = stale.1,
    ));
}

struct Audit {
    code: i32,
    stderr: String,
    results: Vec<serde_json::Value>,
    operations: BTreeMap<String, u64>,
}

fn audit(emu: &Emulator, scope: &[&str], extra: &[&str], env: &[(&str, &str)]) -> Audit {
    let stats = emu
        .dir
        .path()
        .join(format!("stats-{}.json", extra.len() + env.len()));
    let mut cmd = emu.xray_cmk();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let r = run(cmd
        .args([
            "audit",
            "--format",
            "json",
            "--regions",
            REGIONS,
            "--policy",
        ])
        .arg(emu.policy())
        .arg("--stats-out")
        .arg(&stats)
        .args(scope)
        .args(extra));
    let doc: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", r.stdout, r.stderr));
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).expect("stats")).expect("json");
    Audit {
        code: r.code,
        stderr: r.stderr,
        results: doc["results"].as_array().expect("results").clone(),
        operations: serde_json::from_value(stats["operations"].clone()).expect("operations"),
    }
}

/// (rule, account, region, resource) -> (status, message): what a verdict is, wherever it was read.
fn verdicts(
    results: &[serde_json::Value],
) -> BTreeMap<(String, String, String, String), (String, String)> {
    results
        .iter()
        .map(|x| {
            let s = |k: &str| x[k].as_str().unwrap_or_default().to_owned();
            (
                (s("rule"), s("account"), s("region"), s("resource")),
                (s("status"), s("message")),
            )
        })
        .collect()
}

/// Issue 18, item 4: items where recorders run, live reads elsewhere (no recorder, a stale item),
/// the same verdicts as the live audit, and each result saying where it was read.
#[test]
fn the_aggregator_gives_the_live_verdicts_and_says_which_were_read_from_it() {
    let emu = Emulator::seeded();
    let seed = emu.seed();
    let management = "123456789012";
    let prod = member_id(&seed, "workload-prod");
    let dev = member_id(&seed, "workload-dev");
    let legacy = member_id(&seed, "legacy");
    aggregate(
        &emu,
        &[
            (management, "us-east-1"),
            (management, "eu-west-1"),
            (&prod, "us-east-1"),
            (&prod, "us-east-2"),
            (&dev, "eu-central-1"),
        ],
        (&prod, "us-east-2"),
    );
    let scope = ["--org", "--exclude-accounts", legacy.as_str()];
    let live = audit(&emu, &scope, &[], &[]);
    let aggregated = audit(&emu, &scope, &["--from-config-aggregator", "org"], &[]);

    assert_eq!(aggregated.code, live.code, "{}", aggregated.stderr);
    assert!(!live.results.is_empty());
    assert_eq!(verdicts(&aggregated.results), verdicts(&live.results));

    // Where each result was read.
    assert!(live
        .results
        .iter()
        .all(|x| x["source"] == serde_json::json!({"type": "live"})));
    assert!(aggregated.results.iter().all(|x| x["source"].is_object()));
    let from_config: BTreeSet<(String, String)> = aggregated
        .results
        .iter()
        .filter(|x| x["source"]["type"] == "config")
        .map(|x| {
            assert_eq!(x["source"]["aggregator"], "org");
            assert!(x["source"]["captured_at"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z')));
            (
                x["account"].as_str().expect("account").to_owned(),
                x["region"].as_str().expect("region").to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        (management, "us-east-1"),
        (management, "eu-west-1"),
        (prod.as_str(), "us-east-1"),
        (dev.as_str(), "eu-central-1"),
    ]
    .iter()
    .map(|(a, r)| ((*a).to_owned(), (*r).to_owned()))
    .collect();
    assert_eq!(
        from_config, expected,
        "the stale item and the unrecorded regions are read live"
    );
    let xray_default = |x: &&serde_json::Value| x["rule"] == "xray-default-encryption";
    for x in aggregated.results.iter().filter(xray_default) {
        let key = (
            x["account"].as_str().unwrap_or_default().to_owned(),
            x["region"].as_str().unwrap_or_default().to_owned(),
        );
        let want = if expected.contains(&key) {
            "config"
        } else {
            "live"
        };
        assert_eq!(x["source"]["type"], want, "{x}");
    }

    // The calls: one query per region (one page each), and no GetEncryptionConfig where an item
    // was used.
    assert_eq!(
        aggregated
            .operations
            .get("config:SelectAggregateResourceConfig"),
        Some(&4),
        "{:?}",
        aggregated.operations
    );
    assert_eq!(
        live.operations["xray:GetEncryptionConfig"]
            - aggregated.operations["xray:GetEncryptionConfig"],
        4
    );
    assert!(
        aggregated.stderr.contains("AWS Config aggregator org")
            && aggregated.stderr.contains(
                "X-Ray configuration of 4 of 16 account-regions from configuration items"
            )
            && aggregated.stderr.contains("1 older than --max-config-age"),
        "{}",
        aggregated.stderr
    );

    // A maximum age that no item meets: everything is read live, with the same verdicts.
    let strict = audit(
        &emu,
        &scope,
        &["--from-config-aggregator", "org", "--max-config-age", "0h"],
        &[],
    );
    assert_eq!(verdicts(&strict.results), verdicts(&live.results));
    assert!(strict.results.iter().all(|x| x["source"]["type"] == "live"));
}

/// An aggregator that cannot be read (the caller is denied the query; or no such aggregator)
/// makes X-Ray's configuration unknown everywhere: `error` results, exit 3, no pass of an X-Ray
/// rule, and no silent fall back to live reads.
#[test]
fn an_aggregator_that_cannot_be_read_is_an_error_everywhere_never_a_pass() {
    let emu = Emulator::seeded();
    let seed = emu.seed();
    let prod = member_id(&seed, "workload-prod");
    aggregate(&emu, &[(&prod, "us-east-1")], (&prod, "us-east-1"));
    let keys = emu.dir.path().join("denied.json");
    emu.python(&format!(
        r#"
import boto3, json
iam = boto3.client("iam")
iam.create_user(UserName="no-config-queries")
iam.put_user_policy(UserName="no-config-queries", PolicyName="p", PolicyDocument=json.dumps({{"Version": "2012-10-17",
    "Statement": [{{"Effect": "Allow", "Action": "*", "Resource": "*"}},
                  {{"Effect": "Deny", "Action": "config:SelectAggregateResourceConfig", "Resource": "*"}}]}}))
key = iam.create_access_key(UserName="no-config-queries")["AccessKey"]
open({keys:?}, "w").write(json.dumps({{"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}}))
"#
    ));
    let keys: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&keys).expect("keys")).expect("json");
    let env = [
        ("AWS_ACCESS_KEY_ID", keys["id"].as_str().expect("id")),
        (
            "AWS_SECRET_ACCESS_KEY",
            keys["secret"].as_str().expect("secret"),
        ),
    ];
    let scope = ["--accounts", prod.as_str()];
    for (extra, env, why) in [
        (
            vec!["--from-config-aggregator", "org"],
            &env[..],
            "AccessDeniedException",
        ),
        (
            vec!["--from-config-aggregator", "no-such-aggregator"],
            &[][..],
            "NoSuchConfigurationAggregatorException",
        ),
    ] {
        let denied = audit(&emu, &scope, &extra, env);
        assert_eq!(denied.code, 3, "{}", denied.stderr);
        assert!(
            denied.stderr.contains("cannot be read") && denied.stderr.contains(why),
            "{}",
            denied.stderr
        );
        assert_eq!(
            denied.operations.get("xray:GetEncryptionConfig"),
            None,
            "no silent fall back to live reads"
        );
        // Every rule that reads X-Ray's encryption configuration (xray-spans-not-cmk reads where
        // spans go, live).
        let xray: Vec<&serde_json::Value> = denied
            .results
            .iter()
            .filter(|x| {
                x["rule"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("xray-") && r != "xray-spans-not-cmk")
            })
            .collect();
        assert!(!xray.is_empty());
        for x in xray {
            assert_eq!(x["status"], "error", "{x}");
            assert_eq!(
                x["source"],
                serde_json::json!({"type": "config", "aggregator": extra[1], "captured_at": null}),
                "{x}"
            );
            assert!(
                x["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("config:SelectAggregateResourceConfig")),
                "{x}"
            );
        }
    }
}

#[test]
fn the_flags_are_checked_before_any_call() {
    for (args, what) in [
        (
            vec!["--from-config-aggregator", "bad name"],
            "aggregator name",
        ),
        (vec!["--max-config-age", "6h"], "--from-config-aggregator"),
        (
            vec!["--from-config-aggregator", "org", "--max-config-age", "6x"],
            "unit",
        ),
    ] {
        let r = run(common::bare_xray_cmk().arg("audit").args(&args));
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(what), "{args:?}: {}", r.stderr);
    }
}
