//! Errors say what happened and what to do, once: each message a user met that did not is pinned
//! here, exactly.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;

use common::{bare_xray_cmk, run};

/// A local server that answers every request with a web page, as a proxy's login page would.
fn html_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 8192];
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_millis(500)));
            let _ = stream.read(&mut buf);
            let body = "<html><body>Welcome</body></html>";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}")
}

fn audit(endpoint: &str, env: &[(&str, &str)]) -> common::Run {
    let mut cmd = bare_xray_cmk();
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .args(["audit", "--regions", "us-east-1", "--call-timeout", "5"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

#[test]
fn an_answer_that_is_not_aws_says_so_once() {
    let endpoint = html_server();
    let r = audit(&endpoint, &[]);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr.trim(),
        format!("error: the endpoint at {endpoint} answered sts:GetCallerIdentity with something that is not an AWS response (HTTP 200, Content-Type text/html). Is AWS_ENDPOINT_URL an AWS endpoint (or a proxy's login page)?")
    );
}

#[test]
fn a_token_with_a_line_break_is_named_not_blamed_on_the_network() {
    let endpoint = html_server();
    let r = audit(&endpoint, &[("AWS_SESSION_TOKEN", "abc\ndef")]);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr.trim(),
        "error: the AWS credentials cannot be sent: the session token contains a line break. Check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, or the credentials file (a value split over two lines when pasted?)"
    );
}

#[test]
fn an_invalid_region_is_named_not_blamed_on_the_profile() {
    let endpoint = html_server();
    let r = audit(&endpoint, &[("AWS_REGION", "not a region!")]);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr.trim(),
        "error: AWS region `not a region!` is not valid: a region is a name like `us-east-1`. Check --home-region, AWS_REGION / AWS_DEFAULT_REGION and the profile's `region`"
    );
}

#[test]
fn what_an_error_echoes_never_acts_on_the_terminal() {
    // A file name with a terminal escape in it (a hostile repository can hold one).
    let dir = tempfile::tempdir().expect("dir");
    let name = dir.path().join("plan\u{1b}]0;pwned\u{7}.json");
    let r = run(bare_xray_cmk().arg("apply").arg(&name));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("plan\\u{1b}]0;pwned\\u{7}.json"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains('\u{1b}') && !r.stderr.contains('\u{7}'));
}
