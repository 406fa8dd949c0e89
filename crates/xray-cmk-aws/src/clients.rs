//! Clients for one account: one per service and region, all sharing the scan's per-service HTTP
//! limits and retry partitions; those a scan asks for again and again are built once and reused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_config::{Region, SdkConfig};
use aws_smithy_runtime::client::retries::{RetryPartition, TokenBucket};

use crate::collect::ClientSource;
use crate::limits::{Service, ServiceLimits};

macro_rules! service_config {
    ($sdk:ident, $service:expr, $shared:expr, $config:expr, $region:expr) => {{
        let mut builder = $sdk::config::Builder::from($config)
            .http_client($shared.limits.http_client($service))
            .interceptor($shared.limits.recorder($service))
            .retry_partition($shared.partition($service));
        if let Some(region) = $region {
            builder = builder.region(Region::new(region.to_owned()));
        }
        $sdk::Client::from_conf(builder.build())
    }};
}

/// What every client of a scan shares: HTTP limits and one retry partition per service.
#[derive(Debug, Clone)]
pub struct Shared {
    pub limits: ServiceLimits,
    partitions: Arc<HashMap<Service, RetryPartition>>,
    /// The one STS client every account's AssumeRole goes through, built on first use.
    sts: Arc<std::sync::OnceLock<aws_sdk_sts::Client>>,
}

impl Shared {
    pub fn new(per_service: usize) -> Self {
        // The SDK's default retry quota (500 tokens, 5 per retry) runs dry after ~100 retries,
        // after which every throttled call of a large scan fails on its first error. Here the
        // bound on retries is max-attempts per call and the adaptive rate limiter; the quota is
        // made large enough not to cut in before them.
        let partitions = Service::ALL
            .iter()
            .map(|s| {
                let bucket = TokenBucket::builder().capacity(1_000_000).build();
                let partition = RetryPartition::custom(format!("xray-cmk-{}", s.as_str()))
                    .token_bucket(bucket)
                    .build();
                (*s, partition)
            })
            .collect();
        Shared {
            limits: ServiceLimits::new(per_service),
            partitions: Arc::new(partitions),
            sts: Arc::default(),
        }
    }

    /// The scan's STS client for assuming roles, with the caller's credentials in `config`
    /// (the same for every call of one scan).
    pub(crate) fn sts(&self, config: &SdkConfig) -> aws_sdk_sts::Client {
        self.sts
            .get_or_init(|| service_config!(aws_sdk_sts, Service::Sts, self, config, None::<&str>))
            .clone()
    }

    fn partition(&self, service: Service) -> RetryPartition {
        self.partitions
            .get(&service)
            .cloned()
            .unwrap_or_else(|| RetryPartition::new(service.as_str()))
    }
}

/// Clients for the account of `config`'s credentials.
#[derive(Debug)]
pub struct AccountClients {
    config: SdkConfig,
    shared: Shared,
    cache: Mutex<Cache>,
}

/// The regional clients kept for the account's scan: those asked for again and again (KMS, for
/// every key read in the region, also for the other accounts; CloudTrail, for every trail). The
/// others (X-Ray, Logs, Config, EventBridge) are asked for once per region and built for that
/// use: an SDK client is about 12 KB, and keeping them to the end of each account's scan was
/// the largest part of the audit's peak heap (heaptrack, debug build, 400 × 17 with
/// `--concurrency 128`: 82 of 175 MB under the SDK's `from_conf`, 59 MB of it X-Ray and Logs).
#[derive(Debug, Default)]
struct Cache {
    kms: HashMap<String, aws_sdk_kms::Client>,
    cloudtrail: HashMap<String, aws_sdk_cloudtrail::Client>,
}

impl AccountClients {
    pub fn new(config: SdkConfig, shared: Shared) -> Self {
        AccountClients {
            config,
            shared,
            cache: Mutex::new(Cache::default()),
        }
    }

    pub fn config(&self) -> &SdkConfig {
        &self.config
    }

    /// Account-wide services, in the configuration's home region.
    pub fn account(&self) -> aws_sdk_account::Client {
        service_config!(
            aws_sdk_account,
            Service::Account,
            self.shared,
            &self.config,
            None::<&str>
        )
    }

    pub fn sts(&self) -> aws_sdk_sts::Client {
        service_config!(
            aws_sdk_sts,
            Service::Sts,
            self.shared,
            &self.config,
            None::<&str>
        )
    }

    /// IAM is global: one client, in the configuration's home region (which picks the partition).
    pub fn iam(&self) -> aws_sdk_iam::Client {
        service_config!(
            aws_sdk_iam,
            Service::Iam,
            self.shared,
            &self.config,
            None::<&str>
        )
    }

    pub fn organizations(&self) -> aws_sdk_organizations::Client {
        service_config!(
            aws_sdk_organizations,
            Service::Organizations,
            self.shared,
            &self.config,
            None::<&str>
        )
    }

    /// Drops the regional clients built so far (the credentials stay): an account whose scan is
    /// done keeps only what reading its keys for another account needs, rebuilt on demand. Without
    /// it an organization scan holds every account's clients of every region to the end.
    pub fn release_regional(&self) {
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = Cache::default();
    }

    fn cached<C: Clone>(
        &self,
        pick: impl FnOnce(&mut Cache) -> &mut HashMap<String, C>,
        region: &str,
        build: impl FnOnce() -> C,
    ) -> C {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        pick(&mut cache)
            .entry(region.to_owned())
            .or_insert_with(build)
            .clone()
    }
}

impl ClientSource for AccountClients {
    fn home_region(&self) -> String {
        self.config.home_region()
    }

    fn iam(&self) -> aws_sdk_iam::Client {
        AccountClients::iam(self)
    }

    fn xray(&self, region: &str) -> aws_sdk_xray::Client {
        service_config!(
            aws_sdk_xray,
            Service::Xray,
            self.shared,
            &self.config,
            Some(region)
        )
    }

    fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        self.cached(
            |c| &mut c.kms,
            region,
            || {
                service_config!(
                    aws_sdk_kms,
                    Service::Kms,
                    self.shared,
                    &self.config,
                    Some(region)
                )
            },
        )
    }

    fn cloudtrail(&self, region: &str) -> aws_sdk_cloudtrail::Client {
        self.cached(
            |c| &mut c.cloudtrail,
            region,
            || {
                service_config!(
                    aws_sdk_cloudtrail,
                    Service::CloudTrail,
                    self.shared,
                    &self.config,
                    Some(region)
                )
            },
        )
    }

    fn logs(&self, region: &str) -> aws_sdk_cloudwatchlogs::Client {
        service_config!(
            aws_sdk_cloudwatchlogs,
            Service::Logs,
            self.shared,
            &self.config,
            Some(region)
        )
    }

    fn config(&self, region: &str) -> aws_sdk_config::Client {
        service_config!(
            aws_sdk_config,
            Service::Config,
            self.shared,
            &self.config,
            Some(region)
        )
    }

    fn events(&self, region: &str) -> aws_sdk_eventbridge::Client {
        service_config!(
            aws_sdk_eventbridge,
            Service::Events,
            self.shared,
            &self.config,
            Some(region)
        )
    }
}
