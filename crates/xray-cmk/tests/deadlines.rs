//! Every AWS call has a budget, retries included (`--call-timeout`, default 60 s): an endpoint
//! that accepts connections and never answers, or stalls in the middle of an answer, fails within
//! it with a message naming the endpoint, the operation and what was waited for.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{bare_xray_cmk, run};

/// A local server that accepts connections and, for each, reads the request and then writes
/// `reply` (possibly nothing) and holds the connection open without another byte.
fn stalling_server(reply: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(reply);
            held.push(stream);
        }
    });
    format!("http://{addr}")
}

fn audit_against(endpoint: &str) -> (common::Run, Duration) {
    let started = Instant::now();
    let r = run(bare_xray_cmk()
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .args(["audit", "--regions", "us-east-1", "--call-timeout", "3"]));
    (r, started.elapsed())
}

#[test]
fn an_endpoint_that_never_answers_fails_within_the_call_budget() {
    let endpoint = stalling_server(b"");
    let (r, took) = audit_against(&endpoint);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(
        r.stderr.trim(),
        format!(
            "error: could not reach AWS at {endpoint}: sts:GetCallerIdentity: no complete answer within 3 s (the call's budget, retries included: --call-timeout); the endpoint accepts connections but does not answer, or stalls in the middle of an answer. Check your network, proxy or AWS_ENDPOINT_URL"
        )
    );
}

#[test]
fn a_body_that_stalls_after_the_headers_fails_within_the_call_budget() {
    let endpoint = stalling_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 1000\r\n\r\n<GetCallerIdentityResponse>",
    );
    let (r, took) = audit_against(&endpoint);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(
        r.stderr
            .contains(&format!("could not reach AWS at {endpoint}"))
            && r.stderr.contains("sts:GetCallerIdentity")
            && r.stderr.contains("within 3 s"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("DispatchFailure") && !r.stderr.contains("{"),
        "no Debug dump: {}",
        r.stderr
    );
}
