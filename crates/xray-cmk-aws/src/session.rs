//! Loading AWS configuration the way the AWS CLI does, and finding out who we are and which regions
//! the account has enabled.

use std::time::Duration;

use aws_config::provider_config::ProviderConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_account::types::RegionOptStatus;
use aws_smithy_runtime_api::client::result::SdkError;

use crate::clients::{AccountClients, Shared};
use crate::error::{classify, root_cause, SetupError};

/// Region used for account-wide calls (STS, Account) when none is configured, as the AWS CLI's
/// global endpoints do.
pub const FALLBACK_REGION: &str = "us-east-1";

/// How to reach AWS: the standard chain, optionally pinned to a profile and a home region.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
    /// Attempts per call, including the first.
    pub max_attempts: Option<u32>,
    /// Add the SDK's client-side rate limiter to the retries (see [`RetryMode`]).
    pub retry_mode: RetryMode,
    /// The most one AWS call may take, every attempt and backoff included
    /// ([`DEFAULT_CALL_TIMEOUT`] when `None`).
    pub call_timeout: Option<Duration>,
}

/// How long one AWS call may take, retries included, unless `--call-timeout` says otherwise: an
/// endpoint that accepts connections and never answers fails within it.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one attempt may take (at most the call's budget): sending, waiting for the answer and
/// reading its body.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);

/// How calls are retried. Both retry throttling (`ThrottlingException`, `ThrottledException`,
/// 429), 5xx and dropped connections with exponential backoff and full jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetryMode {
    /// Backoff per call; back-pressure comes from the per-service in-flight limits.
    #[default]
    Standard,
    /// The SDK's adaptive mode: also a client-side token bucket per service that cuts the send
    /// rate on every throttle and regrows it slowly. It suits one hot API; under throttling spread
    /// over a whole scan it throttles the scan itself (see the README's benchmark).
    Adaptive,
}

/// The caller, from `sts:GetCallerIdentity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    pub arn: String,
}

/// A loaded configuration and the identity it resolves to.
#[derive(Debug, Clone)]
pub struct Session {
    pub config: SdkConfig,
    pub identity: Identity,
}

fn endpoint_hint(config: &SdkConfig) -> String {
    config
        .endpoint_url()
        .map(|u| format!(" at {u}"))
        .unwrap_or_default()
}

/// Whether `region` can be a region name: lowercase letters, digits and hyphens, as the SDK's
/// endpoint rules require of a host label.
fn valid_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 63
        && !region.starts_with('-')
        && !region.ends_with('-')
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn call_timeout(opts: &SessionOptions) -> Duration {
    opts.call_timeout.unwrap_or(DEFAULT_CALL_TIMEOUT)
}

/// Connect, per-attempt and whole-call budgets: the whole call's is `call`.
fn timeouts(call: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT.min(call))
        .operation_attempt_timeout(ATTEMPT_TIMEOUT.min(call))
        .operation_timeout(call)
        .build()
}

/// What a call that got no usable answer waited for, in words a person can act on.
fn unreachable_detail<E, R>(err: &SdkError<E, R>, call: Duration) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let secs = call.as_secs_f64();
    match err {
        SdkError::TimeoutError(_) => format!(
            "no complete answer within {secs:.0} s (the call's budget, retries included: --call-timeout); the endpoint accepts connections but does not answer, or stalls in the middle of an answer"
        ),
        SdkError::DispatchFailure(d) if d.is_timeout() => format!(
            "could not connect within {} s",
            CONNECT_TIMEOUT.min(call).as_secs_f64()
        ),
        _ => root_cause(err),
    }
}

/// Loads configuration, resolves credentials and calls `sts:GetCallerIdentity`, so that every
/// problem with the environment is reported once, clearly, before any scanning starts.
pub async fn load(opts: &SessionOptions, shared: &Shared) -> Result<Session, SetupError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        // Exponential backoff with full jitter; a short first backoff keeps a scan of thousands
        // of calls fast when a few of them are throttled.
        .retry_config(
            match opts.retry_mode {
                RetryMode::Standard => RetryConfig::standard(),
                RetryMode::Adaptive => RetryConfig::adaptive(),
            }
            .with_max_attempts(opts.max_attempts.unwrap_or(8))
            .with_initial_backoff(Duration::from_millis(100))
            .with_max_backoff(Duration::from_secs(5)),
        )
        .timeout_config(timeouts(call_timeout(opts)));
    if let Some(profile) = &opts.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &opts.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let mut config = loader.load().await;
    if config.region().is_none() {
        config = config
            .into_builder()
            .region(Region::new(FALLBACK_REGION))
            .build();
    }
    if let Some(profile) = &opts.profile {
        // As with the AWS CLI, an explicit profile wins over credentials in the environment,
        // which the default chain would otherwise try first.
        let provider_config =
            ProviderConfig::without_region().with_region(config.region().cloned());
        let from_profile = aws_config::profile::ProfileFileCredentialsProvider::builder()
            .profile_name(profile)
            .configure(&provider_config)
            .build();
        config = config
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(from_profile))
            .build();
    }

    if let Some(region) = config.region() {
        if !valid_region(region.as_ref()) {
            return Err(SetupError::Region {
                region: region.as_ref().escape_debug().to_string(),
            });
        }
    }

    let provider = config
        .credentials_provider()
        .ok_or_else(|| SetupError::NoCredentials {
            detail: "no credentials provider is configured".into(),
        })?;
    let provided = provider.provide_credentials().await;
    if let Ok(creds) = &provided {
        let fields = [
            ("access key id", Some(creds.access_key_id())),
            ("secret access key", Some(creds.secret_access_key())),
            ("session token", creds.session_token()),
        ];
        for (name, value) in fields {
            if let Some(bad) = value.and_then(|v| v.chars().find(|c| c.is_control())) {
                return Err(SetupError::Credentials {
                    detail: format!(
                        "the {name} contains {}",
                        match bad {
                            '\n' | '\r' => "a line break".to_owned(),
                            c => format!("the control character U+{:04X}", u32::from(c)),
                        }
                    ),
                });
            }
        }
    }
    if let Err(err) = provided {
        let detail = match &err {
            CredentialsError::CredentialsNotLoaded(_) => match &opts.profile {
                Some(_) => "the profile does not exist or holds no credentials".to_owned(),
                None => "nothing in the environment, the shared config files, web identity, \
                         the container or instance metadata"
                    .to_owned(),
            },
            other => root_cause(other),
        };
        return Err(match &opts.profile {
            Some(profile) => SetupError::Profile {
                profile: profile.clone(),
                detail,
            },
            None => SetupError::NoCredentials { detail },
        });
    }

    let sts = AccountClients::new(config.clone(), shared.clone()).sts();
    let who = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|err| match &err {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => SetupError::Unreachable {
                endpoint: endpoint_hint(&config),
                detail: format!(
                    "sts:GetCallerIdentity: {}",
                    unreachable_detail(&err, call_timeout(opts))
                ),
            },
            // A 2xx answer that is not STS's (a proxy's page, another service): no error code.
            SdkError::ResponseError(_) => SetupError::NotAws {
                endpoint: endpoint_hint(&config),
                operation: "sts:GetCallerIdentity".into(),
                detail: "it could not be parsed".into(),
            },
            SdkError::ServiceError(se)
                if se.err().meta().code().is_none() && se.raw().status().is_success() =>
            {
                SetupError::NotAws {
                    endpoint: endpoint_hint(&config),
                    operation: "sts:GetCallerIdentity".into(),
                    detail: format!(
                        "HTTP {}{}",
                        se.raw().status().as_u16(),
                        se.raw()
                            .headers()
                            .get("content-type")
                            .map(|t| format!(", Content-Type {}", t.escape_debug()))
                            .unwrap_or_default()
                    ),
                }
            }
            _ => {
                let e = classify("sts:GetCallerIdentity", &err);
                SetupError::Call {
                    operation: e.operation,
                    detail: match e.code {
                        Some(code) => format!("{code}: {}", e.message),
                        None => e.message,
                    },
                }
            }
        })?;
    let identity = Identity {
        account: who.account().unwrap_or_default().to_owned(),
        arn: who.arn().unwrap_or_default().to_owned(),
    };
    if identity.account.is_empty() {
        return Err(SetupError::Call {
            operation: "sts:GetCallerIdentity".into(),
            detail: "the response has no Account".into(),
        });
    }
    Ok(Session { config, identity })
}

impl Session {
    /// The regions enabled for this session's account.
    pub async fn enabled_regions(&self) -> Result<Vec<String>, SetupError> {
        enabled_regions(&aws_sdk_account::Client::new(&self.config)).await
    }
}

/// The regions enabled for the caller's account (`ENABLED` or `ENABLED_BY_DEFAULT`), sorted, from
/// `account:ListRegions`.
pub async fn enabled_regions(client: &aws_sdk_account::Client) -> Result<Vec<String>, SetupError> {
    let mut pages = client
        .list_regions()
        .region_opt_status_contains(RegionOptStatus::Enabled)
        .region_opt_status_contains(RegionOptStatus::EnabledByDefault)
        .into_paginator()
        .items()
        .send();
    let mut regions = Vec::new();
    while let Some(item) = pages.next().await {
        let region = item.map_err(|err| SetupError::Call {
            operation: "account:ListRegions".into(),
            detail: format!(
                "{}. Grant account:ListRegions or pass --regions",
                classify("account:ListRegions", &err)
            ),
        })?;
        // The filter is the server's job, but a region still opting in or out is not readable.
        let enabled = matches!(
            region.region_opt_status(),
            Some(RegionOptStatus::Enabled | RegionOptStatus::EnabledByDefault)
        );
        if let (true, Some(name)) = (enabled, region.region_name()) {
            regions.push(name.to_owned());
        }
    }
    regions.sort();
    regions.dedup();
    Ok(regions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_account::operation::list_regions::ListRegionsOutput;
    use aws_sdk_account::types::Region as AcctRegion;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn region(name: &str, status: RegionOptStatus) -> AcctRegion {
        AcctRegion::builder()
            .region_name(name)
            .region_opt_status(status)
            .build()
    }

    #[tokio::test]
    async fn follows_pages_and_keeps_only_enabled_regions() {
        let page1 = mock!(aws_sdk_account::Client::list_regions)
            .match_requests(|r| r.next_token().is_none())
            .then_output(|| {
                ListRegionsOutput::builder()
                    .regions(region("us-east-1", RegionOptStatus::EnabledByDefault))
                    .regions(region("eu-south-1", RegionOptStatus::Enabling))
                    .next_token("t1")
                    .build()
            });
        let page2 = mock!(aws_sdk_account::Client::list_regions)
            .match_requests(|r| r.next_token() == Some("t1"))
            .then_output(|| {
                ListRegionsOutput::builder()
                    .regions(region("af-south-1", RegionOptStatus::Enabled))
                    // A region with no name is skipped rather than panicking.
                    .regions(AcctRegion::builder().build())
                    .build()
            });
        let client = mock_client!(aws_sdk_account, RuleMode::Sequential, [&page1, &page2]);
        let regions = enabled_regions(&client).await.expect("regions");
        assert_eq!(regions, vec!["af-south-1", "us-east-1"]);
        assert_eq!((page1.num_calls(), page2.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn access_denied_says_what_to_do() {
        let denied = mock!(aws_sdk_account::Client::list_regions).then_http_response(|| {
            crate::collect::tests::wire(
                403,
                Some("AccessDeniedException"),
                r#"{"message":"User is not authorized to perform: account:ListRegions"}"#,
            )
        });
        let client = mock_client!(aws_sdk_account, [&denied]);
        let err = enabled_regions(&client)
            .await
            .expect_err("denied")
            .to_string();
        assert!(err.contains("AccessDeniedException"), "{err}");
        assert!(err.contains("--regions"), "{err}");
    }
}
