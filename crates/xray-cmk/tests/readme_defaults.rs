//! The defaults the README documents are the code's: `audit --help` and `erase --help` print
//! clap's defaults, and the README's flag tables and prose must say the same.

mod common;

use common::{bare_xray_cmk, repo_root, run};

/// The `[default: X]` clap prints for `flag` in `help`.
fn default_of(help: &str, flag: &str) -> String {
    let at = help
        .find(&format!("{flag} "))
        .unwrap_or_else(|| panic!("{flag} not in the help"));
    let rest = &help[at..];
    let start = rest.find("[default: ").expect("a default") + "[default: ".len();
    rest[start..start + rest[start..].find(']').expect("]")].to_owned()
}

#[test]
fn documented_defaults_are_the_code_s() {
    let r = run(bare_xray_cmk().args(["audit", "--help"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README");
    let attempts = default_of(&r.stdout, "--max-attempts");
    let mode = default_of(&r.stdout, "--retry-mode");
    let concurrency = default_of(&r.stdout, "--concurrency");
    let call_timeout = default_of(&r.stdout, "--call-timeout");
    let role = default_of(&r.stdout, "--role-name");
    let r = run(bare_xray_cmk().args(["erase", "--help"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let respond_attempts = default_of(&r.stdout, "--max-attempts");
    for line in [
        format!("| `--call-timeout SECONDS` | the most one AWS call may take, every attempt and backoff included (default {call_timeout};"),
        format!("| `--role-name NAME` | role assumed in every other account (default `{role}`) |"),
        format!("`erase`, `restore`, `rotate-now` and `evidence` make {respond_attempts} attempts per call unless `--max-attempts` says"),
        format!("`--home-region` for STS, `--role-name`, `--external-id`, `--max-attempts` default {respond_attempts},"),
        format!("| `--max-attempts N` | attempts per call (default {attempts}) |"),
        format!(
            "| `--retry-mode standard\\|adaptive` | how throttled calls are retried (default {mode};"
        ),
        format!("| `--concurrency N` | requests in flight per AWS service (default {concurrency});"),
        format!("standard retry policy ({attempts} attempts, `--max-attempts`)"),
        format!("Retries use the SDK's {mode} mode by default"),
    ] {
        assert!(readme.contains(&line), "the README does not say: {line}");
    }
}
