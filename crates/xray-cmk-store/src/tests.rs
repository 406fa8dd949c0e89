use super::kpi::{compute, epoch_seconds};
use super::*;
use xray_cmk_core::finding::FindingBuilder;
use xray_cmk_core::{rules, Status};

/// A database at schema `version`, as the release that wrote that schema left it.
fn at_schema(path: &Path, version: usize) -> Connection {
    let c = Connection::open(path).expect("open");
    for (i, sql) in MIGRATIONS[..version].iter().enumerate() {
        c.execute_batch(sql).expect("migration");
        c.pragma_update(None, "user_version", i as i64 + 1)
            .expect("version");
    }
    c
}

fn finding(rule: &str, account: &str, region: &str, pass: bool) -> Finding {
    let meta = rules::by_id(rule).expect("rule");
    let b = FindingBuilder::new(meta, account, region, "xray-encryption-config");
    if pass {
        b.pass("ok")
    } else {
        b.fail("bad")
    }
}

/// A key rule's result on `key`, as audits report them: under the key.
fn key_finding(rule: &str, account: &str, region: &str, key: &str, status: Status) -> Finding {
    let meta = rules::by_id(rule).expect("rule");
    let b = FindingBuilder::new(meta, account, region, key).key(Some(key));
    match status {
        Status::Pass => b.pass("ok"),
        Status::Fail => b.fail("bad"),
        Status::Error => b.error("unknown"),
    }
}

/// A recorded run as `Store::runs` reads it back, without an inventory.
fn record(t: &str, results: &[Finding]) -> kpi::RunRecord {
    kpi::RunRecord {
        id: 0,
        started_at: t.to_owned(),
        scope: serde_json::Value::Null,
        results: results
            .iter()
            .map(|f| kpi::ResultRecord {
                fingerprint: fingerprint(f),
                rule: f.rule().to_string(),
                status: f.status().as_str().to_owned(),
                severity: f.severity().as_str().to_owned(),
                account: f.account().to_owned(),
                region: f.region().to_owned(),
                resource: f.resource().to_owned(),
                key_id: f.key().map(str::to_owned),
                message: f.message().to_owned(),
                suppressed: false,
            })
            .collect(),
        inventory: RecordedInventory::default(),
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
                ended_at: Some("2026-12-01T12:31:00Z"),
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
    let runs = vec![
        record(
            "2026-12-01T00:00:00Z",
            &[
                finding("xray-default-encryption", "1", "a", false),
                key_finding("kms-rotation-disabled", "1", "b", "old-key", Status::Fail),
            ],
        ),
        // Region b read again with another key, which passes: the old key's finding is closed.
        record(
            "2026-12-02T00:00:00Z",
            &[
                finding("xray-default-encryption", "1", "a", false),
                finding("xray-default-encryption", "1", "b", true),
                key_finding("kms-rotation-disabled", "1", "b", "new-key", Status::Pass),
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
fn a_finding_is_remediated_only_when_a_later_audit_read_its_target_and_it_passed() {
    let failing = key_finding("kms-rotation-disabled", "1", "b", "key", Status::Fail);
    let first = record("2026-12-01T00:00:00Z", std::slice::from_ref(&failing));
    let open_after = |later: Vec<kpi::RunRecord>| {
        let mut runs = vec![first.clone()];
        runs.extend(later);
        let k = compute(&runs, "2026-11-01T00:00:00Z", "2026-12-09T00:00:00Z", None);
        let still_open = k
            .mttr
            .open
            .iter()
            .filter(|o| o.fingerprint == fingerprint(&failing))
            .count();
        (still_open, k.mttr.remediated.len())
    };
    // The target could not be read: its key rules are errors under the target, and the finding
    // no longer appears. Unknown, not fixed.
    let unread = record(
        "2026-12-02T00:00:00Z",
        &[
            FindingBuilder::new(
                rules::by_id("xray-default-encryption").expect("rule"),
                "1",
                "b",
                "xray-encryption-config",
            )
            .error("unreadable"),
            key_finding(
                "kms-rotation-disabled",
                "1",
                "b",
                "xray-encryption-config",
                Status::Error,
            ),
        ],
    );
    assert_eq!(open_after(vec![unread.clone()]), (1, 0));
    // The key itself could not be described: its results are errors with the same fingerprint.
    let undescribed = record(
        "2026-12-02T00:00:00Z",
        &[key_finding(
            "kms-rotation-disabled",
            "1",
            "b",
            "key",
            Status::Error,
        )],
    );
    assert_eq!(open_after(vec![undescribed]), (1, 0));
    // Read, but the rule did not pass there (X-Ray switched to NONE: no key rule applies).
    let none = record(
        "2026-12-02T00:00:00Z",
        &[finding("xray-default-encryption", "1", "b", false)],
    );
    assert_eq!(open_after(vec![none]), (1, 0));
    // Read, another key passes, but something of the rule there is unknown: still open.
    let mixed = record(
        "2026-12-02T00:00:00Z",
        &[
            key_finding("kms-rotation-disabled", "1", "b", "new-key", Status::Pass),
            key_finding(
                "kms-rotation-disabled",
                "1",
                "b",
                "spans-key",
                Status::Error,
            ),
        ],
    );
    assert_eq!(open_after(vec![mixed]), (1, 0));
    // Unreadable, then read and passing: remediated at the audit that read it.
    let passed = record(
        "2026-12-03T00:00:00Z",
        &[key_finding(
            "kms-rotation-disabled",
            "1",
            "b",
            "key",
            Status::Pass,
        )],
    );
    let runs = vec![first.clone(), unread, passed];
    let k = compute(&runs, "2026-11-01T00:00:00Z", "2026-12-09T00:00:00Z", None);
    assert_eq!(k.mttr.remediated.len(), 1);
    assert_eq!(k.mttr.remediated[0].passed_at, "2026-12-03T00:00:00Z");
    assert_eq!(k.mttr.remediated[0].hours, 48.0);
}

fn key_record(id: &str, manager: Option<&str>, used_by: &[&str]) -> KeyRecord {
    KeyRecord {
        key_id: id.to_owned(),
        account: "1".to_owned(),
        region: "a".to_owned(),
        manager: manager.map(str::to_owned),
        state: None,
        spec: None,
        rotation_enabled: None,
        rotation_days: None,
        tags: None,
        aliases: None,
        policy: None,
        used_by: used_by.iter().map(|u| (*u).to_owned()).collect(),
    }
}

fn target_record(region: &str, encryption: Option<&str>, key: Option<&str>) -> TargetRecord {
    TargetRecord {
        account: "1".to_owned(),
        region: region.to_owned(),
        encryption: encryption.map(str::to_owned),
        key_id: key.map(str::to_owned),
    }
}

#[test]
fn kms_cost_counts_keys_from_the_recorded_inventory() {
    let cost = |inventory: RecordedInventory| {
        let mut run = record("2026-12-01T00:00:00Z", &[]);
        run.inventory = inventory;
        compute(&[run], "2026-11-01T00:00:00Z", "2026-12-02T00:00:00Z", None).cost
    };
    // Two regions share a CMK, one has another, one uses aws/xray; one names a key that was not
    // described, one reports KMS without a key, one is NONE and one could not be read. No key
    // rule result is needed: an audit of `--rules 'xray-*'` records the same inventory.
    let c = cost(RecordedInventory {
        targets: Some(vec![
            target_record("a", Some("KMS"), Some("cmk-1")),
            target_record("b", Some("KMS"), Some("cmk-1")),
            target_record("c", Some("KMS"), Some("cmk-2")),
            target_record("d", Some("KMS"), Some("aws-xray")),
            target_record("e", Some("KMS"), Some("locked")),
            target_record("f", Some("KMS"), None),
            target_record("g", Some("NONE"), None),
            target_record("h", None, None),
        ]),
        keys: vec![
            key_record("cmk-1", Some("CUSTOMER"), &["1/a", "1/b"]),
            key_record("cmk-2", Some("CUSTOMER"), &["1/c"]),
            key_record("aws-xray", Some("AWS"), &["1/d"]),
            // Described for aws/spans, not used by X-Ray: not counted.
            key_record("spans", Some("CUSTOMER"), &[]),
        ],
    });
    assert_eq!(c.keys, 2);
    assert_eq!(c.keys_usd_month, 2.0);
    assert_eq!(
        c.keys_unknown,
        Some(2),
        "the undescribed key and the nameless one"
    );
    assert_eq!(c.targets_unread, Some(1));
    assert!(
        c.assumptions
            .iter()
            .any(|a| a.starts_with("2 keys X-Ray uses could not be described")),
        "{:?}",
        c.assumptions
    );
    assert!(
        c.assumptions
            .iter()
            .any(|a| a.starts_with("1 target could not be read")),
        "{:?}",
        c.assumptions
    );

    // A run recorded before X-Ray's configurations were: its described keys X-Ray used count,
    // and what it could not read is unknown, and said to be.
    let c = cost(RecordedInventory {
        targets: None,
        keys: vec![
            key_record("cmk-1", Some("CUSTOMER"), &["1/a"]),
            key_record("spans", Some("CUSTOMER"), &[]),
        ],
    });
    assert_eq!((c.keys, c.keys_unknown, c.targets_unread), (1, None, None));
    assert!(
        c.assumptions.iter().any(|a| a.contains("older xray-cmk")),
        "{:?}",
        c.assumptions
    );
}

#[test]
fn an_audit_records_its_targets_and_a_v3_database_keeps_its_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v3.db");
    {
        // A version-3 database with an audit in it, as the previous release wrote it.
        let c = at_schema(&path, 3);
        c.execute_batch(
            "INSERT INTO runs(id, kind, started_at, finished_at, tool_version, scope, exit_code)
               VALUES (1, 'audit', '2026-12-01T00:00:00Z', '2026-12-01T00:01:00Z', '0.4.0', '{}', 1);
             INSERT INTO keys(run_id, key_id, account, region, manager, used_by)
               VALUES (1, 'cmk-1', '1', 'a', 'CUSTOMER', '[\"1/a\"]');",
        )
        .expect("old run");
    }
    let mut s = Store::open(&path).expect("migrated");
    let id = s.begin(&run("2026-12-02T00:00:00Z")).expect("begin");
    s.add_keys(id, &[key_record("cmk-2", Some("CUSTOMER"), &["1/b"])])
        .expect("keys");
    s.add_targets(
        id,
        &[
            target_record("b", Some("KMS"), Some("cmk-2")),
            target_record("c", None, None),
        ],
    )
    .expect("targets");
    s.finish(id, "2026-12-02T00:01:00Z", Some(3))
        .expect("finish");
    let runs = s.runs("audit", "1970-01-01T00:00:00Z").expect("runs");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].inventory.targets, None, "the old run recorded none");
    assert_eq!(runs[0].inventory.keys.len(), 1);
    assert_eq!(
        runs[1]
            .inventory
            .targets
            .as_deref()
            .map(<[TargetRecord]>::len),
        Some(2)
    );
    // The old run alone is still counted, from the keys it recorded.
    let k = compute(
        &runs[..1],
        "2026-11-01T00:00:00Z",
        "2026-12-03T00:00:00Z",
        None,
    );
    assert_eq!((k.cost.keys, k.cost.keys_unknown), (1, None));
    let k = compute(&runs, "2026-11-01T00:00:00Z", "2026-12-03T00:00:00Z", None);
    assert_eq!(
        (k.cost.keys, k.cost.keys_unknown, k.cost.targets_unread),
        (1, Some(0), Some(1))
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
    assert!(err.contains("not an SQLite database"), "{err}");
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

fn step<'a>(step: usize, outcome: &'a str, ended_at: &'a str) -> StepRecord<'a> {
    StepRecord {
        account: "111122223333",
        region: "eu-west-1",
        step,
        action: "create_key",
        outcome,
        message: "m",
        ended_at: Some(ended_at),
    }
}

#[test]
fn a_run_that_never_finished_is_listed_incomplete_with_the_steps_it_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.db");
    {
        let mut s = Store::open(&path).expect("open");
        let run = Run {
            kind: "apply",
            ..run("2026-12-01T00:00:00Z")
        };
        let id = s.begin(&run).expect("begin");
        s.add(id, &[], &[step(1, "done", "2026-12-01T00:00:05Z")])
            .expect("step 1");
        s.add(id, &[], &[step(2, "done", "2026-12-01T00:00:09Z")])
            .expect("step 2");
        // Killed here: never finished.
    }
    let s = Store::open(&path).expect("reopen");
    let heads = s.run_heads("1970-01-01T00:00:00Z").expect("heads");
    assert_eq!(heads.len(), 1);
    let h = &heads[0];
    assert_eq!(
        (h.status, h.finished_at.as_str(), h.exit_code),
        (RunStatus::Incomplete, "", None)
    );
    let steps: Vec<(i64, &str, Option<&str>)> = h
        .steps
        .iter()
        .map(|s| (s.step, s.outcome.as_str(), s.ended_at.as_deref()))
        .collect();
    assert_eq!(
        steps,
        [
            (1, "done", Some("2026-12-01T00:00:05Z")),
            (2, "done", Some("2026-12-01T00:00:09Z"))
        ]
    );
    // The KPIs count finished runs only, as before.
    assert!(s
        .step_outcomes("1970-01-01T00:00:00Z")
        .expect("outcomes")
        .is_empty());
}

#[test]
fn a_v5_database_moves_its_evidence_out_of_the_runs_scope() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v5.db");
    let key = "arn:aws:kms:eu-west-1:111122223333:key/k1";
    let doc = serde_json::json!({
        "key": key, "account": "111122223333", "region": "eu-west-1", "days": 30,
        "key_state": "Enabled", "aliases": [], "events": [], "by_principal": [],
        "by_event": {}, "by_day": {}, "key_policy": ["Allow kms:* to root"], "tags": {},
        "rotation": {"enabled": true, "period_days": 365, "last_rotation": null,
                     "next_rotation": null, "rotations": []},
    });
    {
        // A version-5 database, as the previous release wrote it: the evidence document is the
        // run's scope. Also an unfinished evidence run, one whose scope is not JSON, and an
        // audit, which the migration leaves alone.
        let c = at_schema(&path, 5);
        c.execute(
            "INSERT INTO runs(id, kind, started_at, finished_at, tool_version, scope, exit_code)
               VALUES (1, 'evidence', '2026-12-01T00:00:00Z', '2026-12-01T00:00:00Z', '0.6.0', ?1, 0),
                      (2, 'evidence', '2026-12-01T01:00:00Z', '', '0.6.0', ?1, NULL),
                      (3, 'evidence', '2026-12-01T02:00:00Z', '2026-12-01T02:00:00Z', '0.6.0', 'not json', 0),
                      (4, 'audit', '2026-12-01T03:00:00Z', '2026-12-01T03:01:00Z', '0.6.0', '{\"accounts\":[\"1\"]}', 0)",
            [doc.to_string()],
        )
        .expect("old runs");
    }
    let mut s = Store::open(&path).expect("migrated");
    let version: i64 = s
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, SCHEMA_VERSION);
    // The finished run's document, whole, from the evidence table.
    let evidence = s.evidence("1970-01-01T00:00:00Z").expect("evidence");
    assert_eq!(evidence, [("2026-12-01T00:00:00Z".to_owned(), doc.clone())]);
    let rows: Vec<(i64, String, String, String, Option<i64>)> = s
        .all(
            "SELECT run_id, key_arn, account, region, days FROM evidence ORDER BY run_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .expect("rows");
    let row = |id| {
        (
            id,
            key.to_owned(),
            "111122223333".to_owned(),
            "eu-west-1".to_owned(),
            Some(30),
        )
    };
    assert_eq!(rows, [row(1), row(2)]);
    // The scope keeps only what names the run; the others are as they were.
    let scopes: Vec<String> = s
        .all("SELECT scope FROM runs ORDER BY id", [], |r| r.get(0))
        .expect("scopes");
    let small: serde_json::Value = serde_json::from_str(&scopes[0]).expect("json");
    assert_eq!(
        small,
        serde_json::json!({"key": key, "account": "111122223333", "region": "eu-west-1"})
    );
    assert_eq!(scopes[1], scopes[0]);
    assert_eq!(scopes[2], "not json");
    assert_eq!(scopes[3], r#"{"accounts":["1"]}"#);
    // A new evidence run records into the table.
    let id = s
        .begin(&Run {
            kind: "evidence",
            scope: serde_json::json!({"key": key}),
            ..run("2026-12-02T00:00:00Z")
        })
        .expect("begin");
    s.add_evidence(
        id,
        &EvidenceRecord {
            key_arn: key,
            account: "111122223333",
            region: "eu-west-1",
            days: 7,
            document: &doc,
        },
    )
    .expect("evidence");
    s.finish(id, "2026-12-02T00:00:00Z", Some(0))
        .expect("finish");
    assert_eq!(
        s.evidence("2026-12-02T00:00:00Z").expect("evidence").len(),
        1
    );
}

#[test]
fn a_v4_database_is_migrated_and_keeps_its_steps_without_end_times() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v4.db");
    {
        // A version-4 database with a finished apply in it, as the previous release wrote it.
        let c = at_schema(&path, 4);
        c.execute_batch(
            "INSERT INTO runs(id, kind, started_at, finished_at, tool_version, scope, exit_code)
               VALUES (1, 'apply', '2026-12-01T00:00:00Z', '2026-12-01T00:01:00Z', '0.5.0', '{}', 0);
             INSERT INTO steps(run_id, account, region, step, action, outcome, message)
               VALUES (1, '1', 'a', 1, 'create_key', 'done', 'created');",
        )
        .expect("old run");
    }
    let mut s = Store::open(&path).expect("migrated");
    let version: i64 = s
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, SCHEMA_VERSION);
    let id = s
        .begin(&Run {
            kind: "apply",
            ..run("2026-12-02T00:00:00Z")
        })
        .expect("begin");
    s.add(id, &[], &[step(1, "done", "2026-12-02T00:00:03Z")])
        .expect("a v5 step");
    let heads = s.run_heads("1970-01-01T00:00:00Z").expect("heads");
    assert_eq!(heads.len(), 2);
    assert_eq!(heads[0].status, RunStatus::Finished);
    assert_eq!(heads[0].steps.len(), 1);
    assert_eq!(heads[0].steps[0].ended_at, None, "recorded before schema 5");
    assert_eq!(heads[0].steps[0].message, "created");
    assert_eq!(heads[1].status, RunStatus::Incomplete);
    assert_eq!(
        heads[1].steps[0].ended_at.as_deref(),
        Some("2026-12-02T00:00:03Z")
    );
    assert_eq!(
        s.step_outcomes("1970-01-01T00:00:00Z").expect("outcomes"),
        [("done".to_owned(), 1)]
    );
}

#[test]
fn the_last_action_of_some_kinds_on_a_key_is_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = Store::open(&dir.path().join("h.db")).expect("open");
    let action = |at: &str, action: &str, key: &str| ActionRecord {
        at: at.into(),
        who: "arn:aws:iam::111122223333:user/a".into(),
        action: action.into(),
        key_arn: key.into(),
        account: "111122223333".into(),
        region: "eu-west-1".into(),
        reason: "r".into(),
        state_after: "Disabled".into(),
    };
    for a in [
        action("2026-12-01T00:00:00Z", "erase", "k1"),
        action("2026-12-01T01:00:00Z", "restore", "k1"),
        action("2026-12-01T02:00:00Z", "erase", "k1"),
        action("2026-12-01T03:00:00Z", "schedule-deletion", "k1"),
        action("2026-12-01T04:00:00Z", "restore", "k2"),
    ] {
        s.record_action(&a).expect("record");
    }
    let last = s
        .last_action("k1", &["erase", "restore"])
        .expect("query")
        .expect("found");
    assert_eq!(
        (last.at.as_str(), last.action.as_str()),
        ("2026-12-01T02:00:00Z", "erase")
    );
    assert_eq!(s.last_action("k3", &["erase"]).expect("query"), None);
}

#[test]
fn a_read_only_database_is_said_to_be_read_only_not_unreadable() {
    let fail = |code: i32| {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some("x".into()))
    };
    let path = Path::new("/mnt/ro/history.db");
    for code in [
        rusqlite::ffi::SQLITE_CANTOPEN,
        rusqlite::ffi::SQLITE_READONLY,
    ] {
        let said = unreadable(path, &fail(code));
        assert!(
            said.starts_with("cannot be opened for writing")
                && said.contains("its directory /mnt/ro to be writable"),
            "{said}"
        );
    }
    assert!(
        unreadable(path, &fail(rusqlite::ffi::SQLITE_NOTADB)).starts_with("not an SQLite database")
    );
    // A file that is not SQLite at all, opened for real.
    let dir = tempfile::tempdir().expect("dir");
    let junk = dir.path().join("history.db");
    std::fs::write(&junk, vec![b'x'; 4096]).expect("write");
    let err = Store::open(&junk).err().expect("refused").to_string();
    assert!(err.contains("not an SQLite database"), "{err}");
}
