//! `xray-cmk completions SHELL` and `xray-cmk man`: made from the clap definitions, so every
//! command and flag is in them; bash's script parses, and every page is roff with its title.

mod common;

use common::{bare_xray_cmk, run};

#[test]
fn completions_for_every_shell_name_the_commands_and_flags() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let r = run(bare_xray_cmk().args(["completions", shell]));
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        for word in [
            "audit",
            "iac",
            "from-config-aggregator",
            "max-config-age",
            "home-region",
            "retry-mode",
            "no-history",
        ] {
            assert!(r.stdout.contains(word), "{shell} completions lack {word}");
        }
    }
    let r = run(bare_xray_cmk().args(["completions", "bash"]));
    let dir = tempfile::tempdir().expect("dir");
    let script = dir.path().join("xray-cmk.bash");
    std::fs::write(&script, &r.stdout).expect("write");
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let r = run(bare_xray_cmk().args(["completions", "tcsh"]));
    assert_eq!(r.code, 2, "an unknown shell is a usage error");
}

#[test]
fn man_pages_cover_every_command() {
    let r = run(bare_xray_cmk().arg("man"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(".TH xray-cmk 1"),
        "{}",
        &r.stdout[..200.min(r.stdout.len())]
    );
    assert!(r.stdout.contains("audit"));

    let dir = tempfile::tempdir().expect("dir");
    let r = run(bare_xray_cmk().arg("man").arg("--out").arg(dir.path()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut pages: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for page in [
        "xray-cmk.1",
        "xray-cmk-audit.1",
        "xray-cmk-iac.1",
        "xray-cmk-completions.1",
    ] {
        assert!(pages.iter().any(|p| p == page), "{page} in {pages:?}");
    }
    assert!(!pages.iter().any(|p| p.contains("debug")), "{pages:?}");
    let audit = std::fs::read_to_string(dir.path().join("xray-cmk-audit.1")).expect("audit page");
    assert!(audit.contains(".TH xray-cmk-audit 1"), "{audit}");
    assert!(audit.contains("from\\-config\\-aggregator"), "{audit}");
    // The flag groups, and not the deprecated spellings, which are hidden.
    assert!(audit.contains("home\\-region"), "{audit}");
    assert!(!audit.contains("\\-\\-region "), "{audit}");
    let verify =
        std::fs::read_to_string(dir.path().join("xray-cmk-verify.1")).expect("verify page");
    assert!(!verify.contains("fail\\-on"), "{verify}");
    assert!(verify.contains("max\\-attempts"), "{verify}");
}
