//! Per-service concurrency limits and call counting, at the HTTP layer.
//!
//! Every client of a service shares one HTTP client that holds a semaphore: at most `per_service`
//! requests of that service are on the wire at once, so a busy or throttled API (KMS, say) cannot
//! starve the others. Each attempt is counted, retries included: that is what "API calls made"
//! means in the summary and what AWS rate limits see.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, Metadata};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use tokio::sync::Semaphore;

/// The services xray-cmk calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    Account,
    CloudTrail,
    Config,
    Events,
    Iam,
    Kms,
    Logs,
    Organizations,
    Sts,
    Xray,
}

impl Service {
    pub const ALL: [Service; 10] = [
        Service::Account,
        Service::CloudTrail,
        Service::Config,
        Service::Events,
        Service::Iam,
        Service::Kms,
        Service::Logs,
        Service::Organizations,
        Service::Sts,
        Service::Xray,
    ];

    /// The SigV4 signing name.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Account => "account",
            Service::CloudTrail => "cloudtrail",
            Service::Config => "config",
            Service::Events => "events",
            Service::Iam => "iam",
            Service::Kms => "kms",
            Service::Logs => "logs",
            Service::Organizations => "organizations",
            Service::Sts => "sts",
            Service::Xray => "xray",
        }
    }
}

/// Every AWS action xray-cmk's audit may call, as IAM names them. `xray-cmk iam-policy` prints a
/// least-privilege policy from this list, and an end-to-end test checks that an audit calls exactly
/// these, so the two cannot drift apart.
pub const AUDIT_ACTIONS: &[&str] = &[
    "account:ListRegions",
    "cloudtrail:GetEventSelectors",
    "cloudtrail:GetTrail",
    "cloudtrail:GetTrailStatus",
    "cloudtrail:ListTrails",
    "config:DescribeConfigRules",
    "config:DescribeConfigurationRecorderStatus",
    "config:DescribeConfigurationRecorders",
    "config:SelectAggregateResourceConfig",
    "events:ListRules",
    "events:ListTargetsByRule",
    "iam:SimulatePrincipalPolicy",
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListKeys",
    "kms:ListResourceTags",
    "logs:DescribeLogGroups",
    "organizations:DescribeOrganization",
    "organizations:DescribePolicy",
    "organizations:ListAccounts",
    "organizations:ListAccountsForParent",
    "organizations:ListOrganizationalUnitsForParent",
    "organizations:ListParents",
    "organizations:ListPoliciesForTarget",
    "sts:AssumeRole",
    "sts:GetCallerIdentity",
    "xray:GetEncryptionConfig",
    "xray:GetTraceSegmentDestination",
];

/// The operations called, by IAM action name: one count per call, retries not included.
#[derive(Debug, Clone, Default)]
pub struct OperationLog(Arc<Mutex<BTreeMap<String, u64>>>);

impl OperationLog {
    pub fn record(&self, action: &str) {
        let mut log = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *log.entry(action.to_owned()).or_default() += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Records each operation a client of `service` starts.
#[derive(Debug)]
struct Recorder {
    service: Service,
    log: OperationLog,
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "xray-cmk-operation-log"
    }

    // Not read_before_execution: client interceptors run that before the operation's metadata
    // is in the config bag.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(m) = cfg.load::<Metadata>() {
            self.log
                .record(&format!("{}:{}", self.service.as_str(), m.name()));
        }
        Ok(())
    }
}

/// One HTTP client per service, each with its own limit and counter; cheap to clone.
#[derive(Debug, Clone)]
pub struct ServiceLimits {
    clients: Arc<[Limited; Service::ALL.len()]>,
    pub operations: OperationLog,
}

impl ServiceLimits {
    /// At most `per_service` requests of each service in flight.
    pub fn new(per_service: usize) -> Self {
        let inner = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .build_https();
        let clients = Service::ALL.map(|_| Limited {
            inner: inner.clone(),
            permits: Arc::new(Semaphore::new(per_service.max(1))),
            calls: Arc::new(AtomicU64::new(0)),
        });
        ServiceLimits {
            clients: Arc::new(clients),
            operations: OperationLog::default(),
        }
    }

    /// The interceptor that logs the operations of `service`'s clients.
    pub fn recorder(&self, service: Service) -> impl Intercept + 'static {
        Recorder {
            service,
            log: self.operations.clone(),
        }
    }

    fn limited(&self, service: Service) -> &Limited {
        &self.clients[service as usize]
    }

    /// The HTTP client every client of `service` uses.
    pub fn http_client(&self, service: Service) -> SharedHttpClient {
        SharedHttpClient::new(self.limited(service).clone())
    }

    /// Calls made so far (each attempt), by service.
    pub fn calls(&self) -> BTreeMap<&'static str, u64> {
        Service::ALL
            .iter()
            .map(|s| (s.as_str(), self.limited(*s).calls.load(Ordering::Relaxed)))
            .collect()
    }

    pub fn total_calls(&self) -> u64 {
        self.calls().values().sum()
    }
}

#[derive(Debug, Clone)]
struct Limited {
    inner: SharedHttpClient,
    permits: Arc<Semaphore>,
    calls: Arc<AtomicU64>,
}

impl HttpClient for Limited {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(LimitedConnector {
            inner: self.inner.http_connector(settings, components),
            permits: self.permits.clone(),
            calls: self.calls.clone(),
        })
    }
}

#[derive(Debug)]
struct LimitedConnector {
    inner: SharedHttpConnector,
    permits: Arc<Semaphore>,
    calls: Arc<AtomicU64>,
}

impl HttpConnector for LimitedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (inner, permits, calls) =
            (self.inner.clone(), self.permits.clone(), self.calls.clone());
        HttpConnectorFuture::new(async move {
            let _permit = permits
                .acquire_owned()
                .await
                .map_err(|e| ConnectorError::other(e.into(), None))?;
            calls.fetch_add(1, Ordering::Relaxed);
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connector that takes a while and records how many calls overlap.
    #[derive(Debug, Default)]
    struct Slow {
        now: Arc<AtomicU64>,
        peak: Arc<AtomicU64>,
    }

    impl HttpConnector for Slow {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            let (now, peak) = (self.now.clone(), self.peak.clone());
            HttpConnectorFuture::new(async move {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                Ok(aws_smithy_runtime_api::http::Response::new(
                    aws_smithy_runtime_api::http::StatusCode::try_from(200).expect("status"),
                    aws_smithy_types::body::SdkBody::empty(),
                ))
            })
        }
    }

    #[tokio::test]
    async fn a_service_never_has_more_than_its_limit_in_flight_and_every_call_counts() {
        let slow = Slow::default();
        let peak = slow.peak.clone();
        let calls = Arc::new(AtomicU64::new(0));
        let limited = Arc::new(LimitedConnector {
            inner: SharedHttpConnector::new(slow),
            permits: Arc::new(Semaphore::new(3)),
            calls: calls.clone(),
        });
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let c = limited.clone();
                tokio::spawn(async move { c.call(HttpRequest::empty()).await })
            })
            .collect();
        for t in tasks {
            t.await.expect("task").expect("response");
        }
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        assert_eq!(calls.load(Ordering::SeqCst), 12);
    }

    #[test]
    fn services_index_their_own_client() {
        for (i, s) in Service::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
        }
        let limits = ServiceLimits::new(4);
        assert_eq!(limits.total_calls(), 0);
        assert_eq!(limits.calls().len(), Service::ALL.len());
    }
}
