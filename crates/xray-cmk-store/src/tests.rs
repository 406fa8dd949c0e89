use super::kpi::{compute, epoch_seconds};
use super::*;
use xray_cmk_core::finding::FindingBuilder;
use xray_cmk_core::rules;

fn finding(rule: &str, account: &str, region: &str, pass: bool) -> Finding {
    let meta = rules::by_id(rule).expect("rule");
    let b = FindingBuilder::new(meta, account, region, "xray-encryption-config");
    if pass {
        b.pass("ok")
    } else {
        b.fail("bad")
    }
}

fn run<'a>(started_at: &'a str) -> Run<'a> {
    Run {
        kind: "audit",
        started_at,
        finished_at: started_at,
        tool_version: "0.1.0",
        scope: serde_json::json!({"accounts": ["111122223333"]}),
        exit_code: Some(1),
    }
}

#[test]
fn runs_round_trip_and_feed_the_kpis() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h/history.db");
    let mut store = Store::open(&path).expect("open");
    store
        .record(
            &run("2026-12-01T10:00:00Z"),
            &[
                finding(
                    "xray-default-encryption",
                    "111122223333",
                    "eu-west-1",
                    false,
                ),
                finding("xray-default-encryption", "111122223333", "us-east-1", true),
            ],
            &[],
        )
        .expect("record");
    store
        .record(
            &run("2026-12-01T12:30:00Z"),
            &[
                finding("xray-default-encryption", "111122223333", "eu-west-1", true),
                finding("xray-default-encryption", "111122223333", "us-east-1", true),
            ],
            &[StepRecord {
                account: "111122223333",
                region: "eu-west-1",
                step: 1,
                action: "create_key",
                outcome: "done",
                message: "created",
            }],
        )
        .expect("record");
    drop(store);
    // Reopening migrates nothing and reads everything back.
    let store = Store::open(&path).expect("reopen");
    let runs = store.runs("audit", "1970-01-01T00:00:00Z").expect("runs");
    assert_eq!(runs.len(), 2);
    assert_eq!(
        store.step_outcomes("1970-01-01T00:00:00Z").expect("steps"),
        [("done".to_owned(), 1)]
    );
    let k = compute(&runs, "2026-11-01T00:00:00Z", "2026-12-01T13:00:00Z", None);
    let pcts: Vec<Option<f64>> = k.compliance.trend.iter().map(|p| p.pct).collect();
    assert_eq!(pcts, [Some(50.0), Some(100.0)], "compliance rises");
    assert_eq!(k.mttr.remediated.len(), 1);
    assert_eq!(k.mttr.mean_hours, Some(2.5), "10:00 to 12:30");
    assert_eq!(k.mttr.median_hours, Some(2.5));
    assert!(k.mttr.open.is_empty());
    assert_eq!(
        (k.findings.opened_in_window, k.findings.closed_in_window),
        (1, 1)
    );
}

#[test]
fn open_findings_have_an_age_and_vanished_ones_close() {
    let mk = |t: &str, results: Vec<Finding>| kpi::RunRecord {
        id: 0,
        started_at: t.to_owned(),
        scope: serde_json::Value::Null,
        results: results
            .iter()
            .map(|f| kpi::ResultRecord {
                fingerprint: fingerprint(f),
                rule: f.rule.to_owned(),
                status: f.status.as_str().to_owned(),
                severity: f.severity.as_str().to_owned(),
                account: f.account.clone(),
                region: f.region.clone(),
                resource: f.resource.clone(),
                key_id: None,
                message: f.message.clone(),
                suppressed: false,
            })
            .collect(),
    };
    let runs = vec![
        mk(
            "2026-12-01T00:00:00Z",
            vec![
                finding("xray-default-encryption", "1", "a", false),
                finding("kms-rotation-disabled", "1", "b", false),
            ],
        ),
        // Region b scanned again without the key finding (the key was replaced): closed.
        mk(
            "2026-12-02T00:00:00Z",
            vec![
                finding("xray-default-encryption", "1", "a", false),
                finding("xray-default-encryption", "1", "b", true),
            ],
        ),
    ];
    let k = compute(
        &runs,
        "2026-11-01T00:00:00Z",
        "2026-12-03T00:00:00Z",
        Some(120_000),
    );
    assert_eq!(k.mttr.open.len(), 1);
    assert_eq!(k.mttr.open[0].age_hours, 48.0);
    assert_eq!(k.mttr.remediated.len(), 1);
    assert_eq!(k.mttr.remediated[0].rule, "kms-rotation-disabled");
    assert_eq!(k.findings.open_by_severity.get("high"), Some(&1));
    assert_eq!(
        k.cost.requests_usd_month,
        Some(0.3),
        "100,000 billable at $0.03 per 10,000"
    );
}

#[test]
fn newer_and_foreign_databases_are_refused_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let newer = dir.path().join("newer.db");
    {
        let c = Connection::open(&newer).expect("open");
        c.pragma_update(None, "user_version", 99).expect("version");
    }
    let before = std::fs::read(&newer).expect("read");
    let err = Store::open(&newer).err().expect("refused").to_string();
    assert!(err.contains("newer xray-cmk (schema 99"), "{err}");
    assert_eq!(std::fs::read(&newer).expect("read"), before);

    let garbage = dir.path().join("garbage.db");
    std::fs::write(
        &garbage,
        b"this is not sqlite at all, just text ........................",
    )
    .expect("write");
    let before = std::fs::read(&garbage).expect("read");
    let err = Store::open(&garbage).err().expect("refused").to_string();
    assert!(err.contains("not a readable SQLite database"), "{err}");
    assert_eq!(
        std::fs::read(&garbage).expect("read"),
        before,
        "never overwritten"
    );

    let other = dir.path().join("other.db");
    Connection::open(&other)
        .expect("open")
        .execute_batch("CREATE TABLE t(x)")
        .expect("table");
    let err = Store::open(&other).err().expect("refused").to_string();
    assert!(err.contains("something else"), "{err}");
}

#[test]
fn two_writers_can_overlap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.db");
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut s = Store::open(&path).expect("open");
                for j in 0..5 {
                    let t = format!("2026-12-01T00:0{i}:0{j}Z");
                    s.record(
                        &run(&t),
                        &[finding("xray-default-encryption", "1", "a", true)],
                        &[],
                    )
                    .expect("record");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let s = Store::open(&path).expect("open");
    assert_eq!(
        s.runs("audit", "1970-01-01T00:00:00Z").expect("runs").len(),
        20
    );
}

#[test]
fn times_parse_to_epoch_seconds() {
    assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0.0));
    assert_eq!(epoch_seconds("2026-12-01T00:00:00Z"), Some(1_796_083_200.0));
    assert_eq!(epoch_seconds("2000-03-01T01:02:03.5Z"), Some(951_872_523.5));
    assert_eq!(epoch_seconds("nonsense"), None);
}

#[test]
fn an_unfinished_run_is_not_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = Store::open(&dir.path().join("h.db")).expect("open");
    let id = s.begin(&run("2026-12-01T00:00:00Z")).expect("begin");
    s.add(
        id,
        &[finding("xray-default-encryption", "1", "a", false)],
        &[],
    )
    .expect("add");
    assert!(s
        .runs("audit", "1970-01-01T00:00:00Z")
        .expect("runs")
        .is_empty());
    s.finish(id, "2026-12-01T00:01:00Z", Some(1))
        .expect("finish");
    assert_eq!(
        s.runs("audit", "1970-01-01T00:00:00Z").expect("runs").len(),
        1
    );
}

#[test]
fn every_schema_version_has_its_migration_and_old_databases_are_migrated() {
    assert_eq!(MIGRATIONS.len() as i64, SCHEMA_VERSION);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v1.db");
    {
        // A version-1 database, as the first release wrote it.
        let c = Connection::open(&path).expect("open");
        c.execute_batch(MIGRATIONS[0]).expect("v1");
        c.pragma_update(None, "user_version", 1).expect("version");
    }
    let mut s = Store::open(&path).expect("migrated");
    s.record_action(&ActionRecord {
        at: "2026-12-01T00:00:00Z".into(),
        who: "arn:aws:iam::111122223333:user/a".into(),
        action: "erase".into(),
        key_arn: "arn:aws:kms:eu-west-1:111122223333:key/k".into(),
        account: "111122223333".into(),
        region: "eu-west-1".into(),
        reason: "test".into(),
        state_after: "Disabled".into(),
    })
    .expect("the v3 table exists");
    assert_eq!(s.actions("1970-01-01T00:00:00Z").expect("actions").len(), 1);
    let version: i64 = s
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, SCHEMA_VERSION);
}
