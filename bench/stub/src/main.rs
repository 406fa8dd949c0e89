//! A load stub for `bench/run --backend stub`: one loopback HTTP/1.1 endpoint that answers the AWS
//! calls of `xray-cmk audit --org` from the synthetic organization of bench/seed_synthetic.py,
//! computed from its parameters (accounts, regions, seed), so 10,000 accounts start instantly.
//!
//! Latency and faults are built in, with bench/proxy.py's options, shapes and stats
//! (`GET /_proxy/stats`), because the Python proxy cannot keep up with thousands of calls a second.
//! See bench/README.md.

mod org;
mod wire;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use org::Org;
use wire::{Call, Clock, Op, Reply};

const USAGE: &str = "\
xray-cmk-bench-stub [--accounts 100] [--regions 17] [--org-seed 1] [--host 127.0.0.1] [--port 0]
    [--port-file F] [--org-out F] [--stats-out F] [--latency-ms 0] [--throttle-rate 0]
    [--error-rate 0] [--drop-rate 0] [--dead-account ID ...] [--seed 1]
    [--accounts-page-size 20] [--threads N] [--print-org]";

#[derive(Debug, Clone)]
struct Config {
    accounts: u32,
    regions: usize,
    org_seed: u64,
    host: String,
    port: u16,
    port_file: Option<String>,
    org_out: Option<String>,
    stats_out: Option<String>,
    latency_ms: f64,
    throttle_rate: f64,
    error_rate: f64,
    drop_rate: f64,
    dead_accounts: Vec<String>,
    seed: u64,
    page_size: usize,
    threads: Option<usize>,
    print_org: bool,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Config, String> {
    let mut c = Config {
        accounts: 100,
        regions: 17,
        org_seed: 1,
        host: "127.0.0.1".into(),
        port: 0,
        port_file: None,
        org_out: None,
        stats_out: None,
        latency_ms: 0.0,
        throttle_rate: 0.0,
        error_rate: 0.0,
        drop_rate: 0.0,
        dead_accounts: Vec::new(),
        seed: 1,
        page_size: 20,
        threads: None,
        print_org: false,
    };
    let mut args = args.peekable();
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.into());
        }
        if flag == "--print-org" {
            c.print_org = true;
            continue;
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        fn num<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
            v.parse().map_err(|_| format!("{flag}: not a number: {v}"))
        }
        match flag.as_str() {
            "--accounts" => c.accounts = num(&flag, &value)?,
            "--regions" => c.regions = num(&flag, &value)?,
            "--org-seed" => c.org_seed = num(&flag, &value)?,
            "--host" => c.host = value,
            "--port" => c.port = num(&flag, &value)?,
            "--port-file" => c.port_file = Some(value),
            "--org-out" => c.org_out = Some(value),
            "--stats-out" => c.stats_out = Some(value),
            "--latency-ms" => c.latency_ms = num(&flag, &value)?,
            "--throttle-rate" => c.throttle_rate = num(&flag, &value)?,
            "--error-rate" => c.error_rate = num(&flag, &value)?,
            "--drop-rate" => c.drop_rate = num(&flag, &value)?,
            "--dead-account" => c.dead_accounts.push(value),
            "--seed" => c.seed = num(&flag, &value)?,
            "--accounts-page-size" => c.page_size = num(&flag, &value)?,
            "--threads" => c.threads = Some(num(&flag, &value)?),
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    if c.accounts < 1 || !(1..=org::DEFAULT_REGIONS.len()).contains(&c.regions) {
        return Err("--accounts must be >= 1 and --regions 1..17".into());
    }
    let rates = [c.throttle_rate, c.error_rate, c.drop_rate];
    if rates.iter().any(|r| *r < 0.0) || rates.iter().sum::<f64>() > 1.0 {
        return Err("fault rates must be >= 0 and sum to at most 1".into());
    }
    if !(1..=1000).contains(&c.page_size) {
        return Err("--accounts-page-size must be 1..1000".into());
    }
    Ok(c)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Throttle,
    Error,
    Drop,
    DeadAccount,
}

impl Fault {
    const ALL: [Fault; 4] = [
        Fault::Throttle,
        Fault::Error,
        Fault::Drop,
        Fault::DeadAccount,
    ];
    fn name(self) -> &'static str {
        match self {
            Fault::Throttle => "throttle",
            Fault::Error => "error",
            Fault::Drop => "drop",
            Fault::DeadAccount => "dead_account",
        }
    }
}

/// Counters in bench/proxy.py's stats shape; atomics for the operations the stub knows.
#[derive(Default)]
struct Stats {
    by_op: [AtomicU64; Op::KNOWN.len()],
    faults: [AtomicU64; 4],
    // (fault, operation) and operations the stub does not serve: rare, so a lock is fine.
    faults_by_op: Mutex<BTreeMap<(&'static str, String), u64>>,
    other_ops: Mutex<BTreeMap<String, u64>>,
    passthrough: AtomicU64,
}

struct State {
    config: Config,
    org: Org,
    clock: Clock,
    dead: HashSet<String>,
    requests: AtomicU64,
    draws: AtomicU64,
    stats: Stats,
}

impl State {
    fn count(&self, call: &Call<'_>) {
        match Op::KNOWN.iter().position(|op| *op == call.op) {
            Some(i) => {
                self.stats.by_op[i].fetch_add(1, Ordering::Relaxed);
            }
            None => {
                let mut m = self
                    .stats
                    .other_ops
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                *m.entry(call.stat_name()).or_default() += 1;
            }
        }
    }

    fn count_fault(&self, fault: Fault, call: &Call<'_>) {
        let i = Fault::ALL.iter().position(|f| *f == fault).unwrap_or(0);
        self.stats.faults[i].fetch_add(1, Ordering::Relaxed);
        let mut m = self
            .stats
            .faults_by_op
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *m.entry((fault.name(), call.stat_name())).or_default() += 1;
    }

    /// Dead accounts first, without a draw; then one draw per request from a seeded counter, so
    /// runs at concurrency 1 repeat exactly.
    fn draw_fault(&self, call: &Call<'_>) -> Option<Fault> {
        if let Some(acct) = wire::account_of_key(call.access_key) {
            if self.dead.contains(acct) {
                return Some(Fault::DeadAccount);
            }
        }
        let c = &self.config;
        if c.drop_rate == 0.0 && c.error_rate == 0.0 && c.throttle_rate == 0.0 {
            return None;
        }
        let n = self.draws.fetch_add(1, Ordering::Relaxed);
        let mut u = (org::mix(c.seed.wrapping_mul(0x1000_0000_01b3) ^ n) >> 11) as f64
            / (1u64 << 53) as f64;
        for (fault, rate) in [
            (Fault::Drop, c.drop_rate),
            (Fault::Error, c.error_rate),
            (Fault::Throttle, c.throttle_rate),
        ] {
            if u < rate {
                return Some(fault);
            }
            u -= rate;
        }
        None
    }

    fn stats_json(&self) -> serde_json::Value {
        let mut by_op = serde_json::Map::new();
        let mut total = 0;
        let mut ops: BTreeMap<String, u64> = Op::KNOWN
            .iter()
            .zip(&self.stats.by_op)
            .map(|(op, n)| (op.name().to_owned(), n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        for (k, v) in self
            .stats
            .other_ops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            ops.insert(k.clone(), *v);
        }
        for (k, v) in ops {
            total += v;
            by_op.insert(k, v.into());
        }
        let faults: serde_json::Map<String, serde_json::Value> = Fault::ALL
            .iter()
            .zip(&self.stats.faults)
            .map(|(f, n)| (f.name().to_owned(), n.load(Ordering::Relaxed).into()))
            .collect();
        let mut faults_by_op = serde_json::Map::new();
        for ((fault, op), n) in self
            .stats
            .faults_by_op
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let entry = faults_by_op
                .entry(fault.to_string())
                .or_insert_with(|| serde_json::json!({}));
            entry[op] = (*n).into();
        }
        let c = &self.config;
        let mut dead: Vec<&String> = self.dead.iter().collect();
        dead.sort();
        serde_json::json!({
            "requests": total,
            "by_operation": by_op,
            "faults": faults,
            "faults_by_operation": faults_by_op,
            "passthrough": self.stats.passthrough.load(Ordering::Relaxed),
            "upstream_errors": 0,
            "learnt_access_keys": 0,
            "config": {
                "backend": "stub", "accounts": c.accounts, "regions": c.regions, "org_seed": c.org_seed,
                "latency_ms": c.latency_ms, "throttle_rate": c.throttle_rate, "error_rate": c.error_rate,
                "drop_rate": c.drop_rate, "dead_accounts": dead, "seed": c.seed,
                "accounts_page_size": c.page_size,
            },
        })
    }

    fn reset(&self) {
        let s = &self.stats;
        s.by_op
            .iter()
            .chain(&s.faults)
            .for_each(|n| n.store(0, Ordering::Relaxed));
        s.passthrough.store(0, Ordering::Relaxed);
        s.faults_by_op
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        s.other_ops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

type Body = Full<Bytes>;

fn plain(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A dropped request: hyper closes the connection without a byte of response when the service
/// fails.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, Dropped> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    if let Some(control) = path.strip_prefix("/_proxy/") {
        return Ok(match (parts.method.as_str(), control) {
            ("GET", "stats") => plain(
                StatusCode::OK,
                "application/json",
                state.stats_json().to_string(),
            ),
            ("POST", "reset") => {
                state.reset();
                plain(StatusCode::OK, "application/json", "{}")
            }
            _ => plain(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
        });
    }
    let headers = &parts.headers;
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(Dropped),
    };
    if state.config.latency_ms > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(state.config.latency_ms / 1000.0)).await;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let n = state.requests.fetch_add(1, Ordering::Relaxed);
    let request_id = format!("stub-{n:012}");
    let Some(call) = wire::identify(
        header("authorization").unwrap_or(""),
        header("x-amz-target"),
        path,
        &body,
    ) else {
        state.stats.passthrough.fetch_add(1, Ordering::Relaxed);
        return Ok(plain(
            StatusCode::FORBIDDEN,
            "text/plain",
            "the stub answers SigV4-signed AWS requests only\n",
        ));
    };
    state.count(&call);
    let reply = match state.draw_fault(&call) {
        Some(f @ (Fault::Drop | Fault::DeadAccount)) => {
            state.count_fault(f, &call);
            return Err(Dropped);
        }
        Some(f) => {
            state.count_fault(f, &call);
            if f == Fault::Throttle {
                Reply::throttle(&call, &request_id)
            } else {
                Reply::internal_error(&call, &request_id)
            }
        }
        None => {
            // Keys the stub did not issue are the management account's (moto's default account).
            let acct = wire::account_of_key(call.access_key)
                .and_then(|a| state.org.account(a))
                .unwrap_or_else(|| state.org.management());
            wire::answer(
                &state.org,
                &state.clock,
                state.config.page_size,
                &call,
                acct,
                &body,
                &request_id,
            )
        }
    };
    let mut r = plain(
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        reply.content_type,
        reply.body,
    );
    let h = r.headers_mut();
    if let Some(t) = reply.error_type {
        h.insert("x-amzn-ErrorType", HeaderValue::from_static(t));
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-amzn-RequestId", v);
    }
    Ok(r)
}

fn write_atomic(path: &str, text: &str) -> std::io::Result<()> {
    let tmp = format!("{path}.tmp.{}", std::process::id());
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

async fn serve(state: Arc<State>) -> std::io::Result<()> {
    let addr: SocketAddr = format!("{}:{}", state.config.host, state.config.port)
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let listener: TcpListener = socket.listen(4096)?;
    let port = listener.local_addr()?.port();
    if let Some(f) = &state.config.org_out {
        write_atomic(f, &format!("{}\n", state.org.describe()))?;
    }
    if let Some(f) = &state.config.port_file {
        write_atomic(f, &format!("{port}\n"))?;
    }
    eprintln!(
        "stub on http://{}:{port}: {} accounts x {} regions, {} ms latency",
        state.config.host, state.config.accounts, state.config.regions, state.config.latency_ms
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let st = state.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| handle(st.clone(), req));
                    let _ = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    if let Some(f) = &state.config.stats_out {
        write_atomic(f, &format!("{:#}\n", state.stats_json()))?;
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            return std::process::ExitCode::from(2);
        }
    };
    let started_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let org = Org::new(config.accounts, config.regions, config.org_seed);
    if config.print_org {
        println!("{}", org.describe());
        return std::process::ExitCode::SUCCESS;
    }
    let dead: HashSet<String> = config
        .dead_accounts
        .iter()
        .map(|d| match d.parse::<usize>() {
            // An index 1..N-1, as bench/run's --dead-account takes it.
            Ok(i) if d.len() < 12 && i > 0 && i < org.accounts.len() => org.accounts[i].id.clone(),
            _ => d.clone(),
        })
        .collect();
    let state = Arc::new(State {
        config: config.clone(),
        org,
        clock: Clock { started_epoch },
        dead,
        requests: AtomicU64::new(0),
        draws: AtomicU64::new(0),
        stats: Stats::default(),
    });
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = config.threads {
        rt.worker_threads(n.max(1));
    }
    let result = match rt.build() {
        Ok(rt) => rt.block_on(serve(state)),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stub: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Config, String> {
        parse_args(s.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn options_are_checked() {
        let c = args("--accounts 10000 --regions 17 --latency-ms 50 --dead-account 7").expect("ok");
        assert_eq!((c.accounts, c.regions, c.latency_ms), (10_000, 17, 50.0));
        assert!(args("--regions 18").is_err());
        assert!(args("--throttle-rate 0.6 --error-rate 0.5").is_err());
        assert!(args("--bogus 1").is_err());
    }

    #[test]
    fn fault_draws_follow_the_rates_and_the_seed() {
        let c = args("--throttle-rate 0.1 --error-rate 0.02 --drop-rate 0.01").expect("ok");
        let state = |seed: u64| State {
            config: Config { seed, ..c.clone() },
            org: Org::new(3, 1, 1),
            clock: Clock { started_epoch: 0 },
            dead: HashSet::new(),
            requests: AtomicU64::new(0),
            draws: AtomicU64::new(0),
            stats: Stats::default(),
        };
        let auth = "AWS4-HMAC-SHA256 Credential=test/20261202/us-east-1/kms/aws4_request, SignedHeaders=host";
        let call = wire::identify(auth, Some("TrentService.ListKeys"), "/", b"{}").expect("signed");
        let draw = |s: &State| (0..20_000).map(|_| s.draw_fault(&call)).collect::<Vec<_>>();
        let (a, b, other) = (draw(&state(1)), draw(&state(1)), draw(&state(2)));
        assert_eq!(a, b);
        assert_ne!(a, other);
        let share = |f: Fault| a.iter().filter(|x| **x == Some(f)).count() as f64 / 20_000.0;
        assert!((share(Fault::Throttle) - 0.1).abs() < 0.01);
        assert!((share(Fault::Error) - 0.02).abs() < 0.005);
        assert!((share(Fault::Drop) - 0.01).abs() < 0.004);
    }
}
