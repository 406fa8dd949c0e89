//! The flags mean one thing everywhere: `--home-region` is where API calls start, `--region` and
//! `--regions` name X-Ray regions, the AWS access and history groups are the same on every command
//! that takes them, and a command lists only the flags it uses. Old spellings keep working for one
//! release, each with a line on stderr.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use common::{bare_xray_cmk, run};

const REGION_DEPRECATED: &str = "xray-cmk: --region is deprecated here; use --home-region (it names the region API calls start in, not the X-Ray regions to check)";

/// A local endpoint that answers every request with a web page (so the command stops at its first
/// call, exit 2) and hands back the region each request was signed for: SigV4's credential scope
/// names it (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`).
fn signing_region_server() -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let request = String::from_utf8_lossy(&request).to_ascii_lowercase();
            if let Some(scope) = request
                .split("credential=")
                .nth(1)
                .and_then(|c| c.split('/').nth(2))
            {
                let _ = tx.send(scope.to_owned());
            }
            let body = "<html><body>Welcome</body></html>";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (format!("http://{addr}"), rx)
}

/// Runs `args` against the server and returns the run and the region its first call was signed
/// for.
fn signed_region(args: &[&str]) -> (common::Run, String) {
    let (endpoint, regions) = signing_region_server();
    let r = run(bare_xray_cmk()
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .args(args)
        .args(["--max-attempts", "1", "--call-timeout", "5"]));
    let region = regions
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{args:?} made no signed call: {}", r.stderr));
    (r, region)
}

#[test]
fn home_region_is_where_calls_start_and_region_there_still_works_with_a_line() {
    for command in [
        &["audit"][..],
        &["plan"],
        &["verify"],
        &[
            "erase",
            "--account",
            "111122223333",
            "--region",
            "ap-south-1",
            "--reason",
            "x",
        ],
        &[
            "evidence",
            "--account",
            "111122223333",
            "--region",
            "ap-south-1",
        ],
        &[
            "rotate-now",
            "arn:aws:kms:ap-south-1:111122223333:key/k",
            "--reason",
            "x",
        ],
    ] {
        let (r, region) = signed_region(command);
        assert_eq!(r.code, 2, "{command:?}: {}", r.stderr);
        assert_eq!(region, "us-east-1", "{command:?}: the fallback home region");
        assert!(
            !r.stderr.contains("deprecated"),
            "{command:?}: {}",
            r.stderr
        );

        let mut args = command.to_vec();
        args.extend(["--home-region", "eu-west-2"]);
        let (r, region) = signed_region(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert_eq!(region, "eu-west-2", "{args:?}");
        assert!(!r.stderr.contains("deprecated"), "{args:?}: {}", r.stderr);
    }
    // The old spelling, where it meant the home region.
    for command in ["audit", "plan", "verify"] {
        let (r, region) = signed_region(&[command, "--region", "eu-west-3"]);
        assert_eq!(r.code, 2, "{command}: {}", r.stderr);
        assert_eq!(
            region, "eu-west-3",
            "{command}: --region is still the home region"
        );
        assert_eq!(
            r.stderr.lines().next(),
            Some(REGION_DEPRECATED),
            "{command}: {}",
            r.stderr
        );
        let r = run(bare_xray_cmk().args([
            command,
            "--region",
            "eu-west-3",
            "--home-region",
            "eu-west-2",
        ]));
        assert_eq!(
            r.code, 2,
            "{command}: both spellings at once is a usage error"
        );
        assert!(
            r.stderr
                .contains("'--region <REGION>' cannot be used with '--home-region <REGION>'"),
            "{command}: {}",
            r.stderr
        );
        let r = run(bare_xray_cmk().args([command, "--region", "not a region"]));
        assert_eq!(r.code, 2, "{command}: the old spelling is still validated");
        assert!(!r.stderr.contains("deprecated"), "{}", r.stderr);
    }
    // `apply` reads its plan before it calls AWS: the line comes first.
    let dir = tempfile::tempdir().expect("dir");
    let missing = dir.path().join("plan.json");
    let r = run(bare_xray_cmk()
        .arg("apply")
        .arg(&missing)
        .args(["--region", "eu-west-3"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(
        r.stderr.lines().next(),
        Some(REGION_DEPRECATED),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("plan.json"), "{}", r.stderr);
}

#[test]
fn region_names_the_x_ray_region_where_it_is_not_deprecated() {
    // `erase`, `restore` and `evidence` take the X-Ray region as --region: no line, and it is
    // not where the calls start.
    let (r, region) = signed_region(&[
        "restore",
        "--account",
        "111122223333",
        "--region",
        "ap-south-1",
        "--reason",
        "x",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(region, "us-east-1");
    assert!(!r.stderr.contains("deprecated"), "{}", r.stderr);
    let r = run(bare_xray_cmk().args(["erase", "--account", "111122223333", "--reason", "x"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--region <REGION>"),
        "erase needs its X-Ray region: {}",
        r.stderr
    );
}

/// The flags in `command --help` under `heading`, as `--flag`.
fn flags_under(help: &str, heading: &str) -> Vec<String> {
    let Some(at) = help.find(&format!("\n{heading}:\n")) else {
        return Vec::new();
    };
    help[at + heading.len() + 3..]
        .lines()
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        // A flag's line is indented by at most 6; its description, by more.
        .filter(|l| l.len() - l.trim_start().len() <= 6)
        .filter_map(|l| {
            let l = l.trim_start();
            // `-q, --quiet`
            let l = l
                .split_once(", --")
                .map_or(l, |(_, long)| &l[l.len() - long.len() - 2..]);
            l.starts_with("--")
                .then(|| l.split([' ', '=']).next().unwrap_or_default().to_owned())
        })
        .filter(|f| f != "--help")
        .collect()
}

fn help(command: &[&str]) -> String {
    let r = run(bare_xray_cmk().args(command).arg("--help"));
    assert_eq!(r.code, 0, "{command:?}: {}", r.stderr);
    r.stdout
}

/// `[default: X]` of `flag` in a `--help`.
fn default_of(help: &str, flag: &str) -> Option<String> {
    let at = help.find(&format!("      {flag} "))?;
    let rest = &help[at..];
    let next = rest[1..].find("\n      --").map_or(rest.len(), |n| n + 1);
    // The short help wraps a default over two lines.
    let rest = rest[..next]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let start = rest.find("[default: ")? + "[default: ".len();
    Some(rest[start..start + rest[start..].find(']')?].to_owned())
}

#[test]
fn every_command_that_calls_aws_takes_the_same_aws_access_group() {
    let group = [
        "--profile",
        "--home-region",
        "--role-name",
        "--external-id",
        "--max-attempts",
        "--retry-mode",
        "--call-timeout",
    ];
    for (command, attempts) in [
        (&["audit"][..], "8"),
        (&["plan"], "8"),
        (&["verify"], "8"),
        (&["apply"], "8"),
        (&["erase"], "5"),
        (&["restore"], "5"),
        (&["rotate-now"], "5"),
        (&["evidence"], "5"),
    ] {
        let h = help(command);
        let flags = flags_under(&h, "AWS access");
        for flag in group {
            assert!(
                flags.iter().any(|f| f == flag),
                "{command:?}: {flag} not under AWS access: {flags:?}"
            );
        }
        assert_eq!(
            default_of(&h, "--max-attempts").as_deref(),
            Some(attempts),
            "{command:?}"
        );
        assert_eq!(
            default_of(&h, "--retry-mode").as_deref(),
            Some("standard"),
            "{command:?}"
        );
        assert_eq!(
            default_of(&h, "--call-timeout").as_deref(),
            Some("60"),
            "{command:?}"
        );
        assert_eq!(
            default_of(&h, "--role-name").as_deref(),
            Some("OrganizationAccountAccessRole"),
            "{command:?}"
        );
        assert!(h.contains("[env: AWS_PROFILE="), "{command:?}");
        // Where --region is not an X-Ray region it is hidden: the deprecated home region.
        if ["audit", "plan", "verify", "apply"].contains(&command[0]) {
            assert!(!h.contains("--region "), "{command:?}: {h}");
        }
    }
    // Commands that reach no AWS take none of it.
    for command in [
        &["kpi"][..],
        &["history"],
        &["report"],
        &["iac", "scan"],
        &["guard", "generate"],
    ] {
        assert!(
            flags_under(&help(command), "AWS access").is_empty(),
            "{command:?}"
        );
        assert!(!help(command).contains("--profile"), "{command:?}");
    }
}

#[test]
fn every_command_that_records_or_reads_history_takes_the_history_group() {
    for command in [
        &["audit"][..],
        &["apply"],
        &["iac", "scan"],
        &["erase"],
        &["restore"],
        &["rotate-now"],
        &["evidence"],
    ] {
        assert_eq!(
            flags_under(&help(command), "History"),
            ["--db", "--no-history"],
            "{command:?}"
        );
    }
    // Reading only: nothing to turn off.
    for command in [
        &["kpi"][..],
        &["history"],
        &["report"],
        &["guard", "generate"],
    ] {
        assert_eq!(
            flags_under(&help(command), "History"),
            ["--db"],
            "{command:?}"
        );
    }
    for command in [&["plan"][..], &["verify"]] {
        assert!(
            flags_under(&help(command), "History").is_empty(),
            "{command:?}"
        );
    }
}

#[test]
fn help_groups_the_flags_under_headings() {
    let h = help(&["audit"]);
    let mut at = 0;
    for heading in [
        "Options:",
        "Scope:",
        "AWS access:",
        "Rules:",
        "Output:",
        "AWS Config aggregator:",
        "History:",
    ] {
        let found = h[at..]
            .find(&format!("\n{heading}\n"))
            .unwrap_or_else(|| panic!("{heading}, in order: {h}"));
        at += found + 1;
    }
    assert_eq!(flags_under(&h, "Options"), ["--no-color", "--policy"]);
    assert_eq!(
        flags_under(&h, "Scope"),
        [
            "--org",
            "--accounts",
            "--ou",
            "--exclude-accounts",
            "--regions"
        ]
    );
    assert_eq!(
        flags_under(&h, "AWS access"),
        [
            "--profile",
            "--home-region",
            "--role-name",
            "--external-id",
            "--max-attempts",
            "--retry-mode",
            "--call-timeout",
            "--concurrency"
        ]
    );
    assert_eq!(flags_under(&h, "Rules"), ["--rules", "--skip-rules"]);
    assert_eq!(
        flags_under(&h, "Output"),
        [
            "--format",
            "--fail-on",
            "--show-passes",
            "--stats-out",
            "--quiet",
            "--to-security-hub"
        ]
    );
    assert_eq!(
        flags_under(&h, "AWS Config aggregator"),
        ["--from-config-aggregator", "--max-config-age"]
    );
    let h = help(&["plan"]);
    assert_eq!(
        flags_under(&h, "Options"),
        ["--no-color", "--policy", "--format", "--out", "--quiet"]
    );
    assert_eq!(flags_under(&h, "Rules"), ["--rules", "--skip-rules"]);
    let h = help(&["verify"]);
    assert_eq!(
        flags_under(&h, "Options"),
        ["--no-color", "--only", "--timeout"]
    );
    assert_eq!(
        flags_under(&h, "Scope"),
        [
            "--org",
            "--accounts",
            "--ou",
            "--exclude-accounts",
            "--regions"
        ]
    );
    let h = help(&["apply"]);
    assert_eq!(
        flags_under(&h, "Options"),
        [
            "--no-color",
            "--yes",
            "--policy",
            "--only",
            "--out",
            "--concurrency",
            "--wait-timeout",
            "--verify-timeout",
            "--quiet",
            "--stats-out"
        ]
    );
}

/// Runs `args` against an endpoint that answers nothing useful: the command stops at its first
/// AWS call, after parsing.
fn against_nothing(args: &[&str]) -> common::Run {
    let (r, _) = signed_region(args);
    r
}

#[test]
fn plan_and_verify_list_only_what_they_use_and_say_so_of_the_rest() {
    for (command, ignored) in [
        (
            "plan",
            &["--fail-on", "--stats-out", "--to-security-hub"][..],
        ),
        (
            "verify",
            &[
                "--format",
                "--fail-on",
                "--rules",
                "--skip-rules",
                "--policy",
                "--stats-out",
                "--quiet",
                "--to-security-hub",
            ],
        ),
    ] {
        let h = help(&[command]);
        for flag in ignored {
            assert!(
                !h.contains(&format!("{flag} ")) && !h.contains(&format!("{flag}\n")),
                "{command} --help lists {flag}"
            );
        }
        // Still accepted for one release, each with a line.
        let mut args = vec![command];
        for flag in ignored {
            args.push(flag);
            match *flag {
                "--fail-on" => args.push("high"),
                "--format" => args.push("json"),
                "--rules" | "--skip-rules" => args.push("xray-*"),
                "--policy" => args.push("/nonexistent/xray-cmk.toml"),
                "--stats-out" => args.push("/nonexistent/stats.json"),
                _ => {}
            }
        }
        let r = against_nothing(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        let lines: Vec<&str> = r
            .stderr
            .lines()
            .filter(|l| l.contains("deprecated"))
            .collect();
        let expected: Vec<String> = ignored
            .iter()
            .map(|f| format!("xray-cmk: {f} has no effect on {command} and is deprecated; it will be refused in a later release"))
            .collect();
        assert_eq!(lines, expected, "{args:?}");
        // Ignored, and so never read: a policy file that does not exist is no error.
        assert!(
            r.stderr.contains("not an AWS response"),
            "{args:?}: {}",
            r.stderr
        );
        // Their values are still checked.
        let r = run(bare_xray_cmk().args([command, "--fail-on", "bogus"]));
        assert_eq!(r.code, 2);
        assert!(
            r.stderr.contains("invalid value 'bogus' for '--fail-on"),
            "{}",
            r.stderr
        );
    }
    let r = against_nothing(&["verify", "-q"]);
    assert!(
        r.stderr.contains("--quiet has no effect on verify"),
        "{}",
        r.stderr
    );
    // What plan does use says nothing.
    let r = against_nothing(&[
        "plan",
        "--rules",
        "guard-*",
        "--skip-rules",
        "guard-scp-missing",
        "--quiet",
        "--format",
        "json",
    ]);
    assert!(!r.stderr.contains("deprecated"), "{}", r.stderr);
    let r = against_nothing(&["plan", "--skip-rules", "xray-*"]);
    assert_eq!(
        r.stderr.lines().next(),
        Some("xray-cmk: --skip-rules without --rules has no effect on plan and is deprecated; it will be refused in a later release"),
        "{}",
        r.stderr
    );
    // audit uses them all.
    let r = against_nothing(&[
        "audit",
        "--fail-on",
        "high",
        "--format",
        "json",
        "--quiet",
        "--rules",
        "xray-*",
    ]);
    assert!(!r.stderr.contains("deprecated"), "{}", r.stderr);
}

#[test]
fn a_deletion_confirmation_without_a_deletion_is_a_usage_error() {
    let r = run(bare_xray_cmk().args([
        "erase",
        "--account",
        "111122223333",
        "--region",
        "eu-west-1",
        "--reason",
        "x",
        "--confirm-deletion",
        "k",
    ]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--schedule-deletion <DAYS>"),
        "{}",
        r.stderr
    );
}

#[test]
fn iac_generate_says_a_region_a_template_does_not_use() {
    let r = run(bare_xray_cmk().args([
        "iac",
        "generate",
        "--format",
        "cloudformation",
        "--region",
        "eu-west-1",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "note: a CloudFormation template takes the stack's region; --region is not used"
        ),
        "{}",
        r.stderr
    );
    let r = run(bare_xray_cmk().args(["iac", "generate", "--format", "cloudformation"]));
    assert!(!r.stderr.contains("--region"), "{}", r.stderr);
    // Terraform's default region is still us-east-1.
    let r = run(bare_xray_cmk().args(["iac", "generate", "--account", "111122223333"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("\"us-east-1\""), "{}", r.stdout);
}

#[test]
fn environment_variables_bound_to_flags_still_work() {
    // AWS_PROFILE is --profile.
    let by_flag = run(bare_xray_cmk().args(["audit", "--profile", "nope"]));
    let by_env = run(bare_xray_cmk().env("AWS_PROFILE", "nope").arg("audit"));
    assert_eq!(by_flag.code, 2, "{}", by_flag.stderr);
    assert!(by_flag.stderr.contains("nope"), "{}", by_flag.stderr);
    assert_eq!((by_env.code, by_env.stderr), (by_flag.code, by_flag.stderr));
    // XRAY_CMK_DB is --db, for the commands that read the history and those that record it.
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("none.db");
    for command in [
        &["kpi"][..],
        &["history"],
        &["guard", "generate", "--out", "g", "--from-history"],
    ] {
        let by_flag = run(bare_xray_cmk()
            .current_dir(dir.path())
            .args(command)
            .arg("--db")
            .arg(&db));
        let by_env = run(bare_xray_cmk()
            .current_dir(dir.path())
            .env("XRAY_CMK_DB", &db)
            .args(command));
        assert_eq!(by_flag.code, 2, "{command:?}: {}", by_flag.stderr);
        assert!(
            by_flag
                .stderr
                .contains(&format!("no history at {}", db.display())),
            "{command:?}: {}",
            by_flag.stderr
        );
        assert_eq!(
            (by_env.code, by_env.stderr),
            (by_flag.code, by_flag.stderr),
            "{command:?}"
        );
    }
}

#[test]
fn a_window_with_a_multibyte_unit_is_a_usage_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("r.html");
    let out = out.to_str().expect("utf-8");
    for bad in ["3é", "5日", "日", "é"] {
        for (command, flag) in [
            (vec!["kpi", "--since", bad], "--since"),
            (vec!["history", "--since", bad], "--since"),
            (vec!["report", "--out", out, "--since", bad], "--since"),
            (
                vec![
                    "audit",
                    "--from-config-aggregator",
                    "agg",
                    "--max-config-age",
                    bad,
                ],
                "--max-config-age",
            ),
        ] {
            let r = run(bare_xray_cmk().args(&command));
            assert_eq!(r.code, 2, "{command:?}: {}", r.stderr);
            assert!(!r.stderr.contains("panicked"), "{command:?}: {}", r.stderr);
            assert!(
                r.stderr
                    .starts_with(&format!("error: invalid value '{bad}' for '{flag} <")),
                "{command:?}: {}",
                r.stderr
            );
        }
    }
}
