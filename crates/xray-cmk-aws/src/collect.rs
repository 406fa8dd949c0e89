//! Per-region collection of X-Ray encryption configs, and one `DescribeKey` per distinct key.

use std::collections::BTreeSet;

use aws_config::{Region, SdkConfig};
use aws_sdk_kms::types::{KeyManagerType, KeyState as SdkKeyState};
use aws_sdk_xray::types::EncryptionType as SdkEncryptionType;
use futures::stream::{self, StreamExt};
use xray_cmk_core::{
    EncryptionType, Inventory, KeyManager, KeyState, KmsKey, Observed, Origin, XrayEncryption,
    XrayTarget,
};

use crate::error::classify;

/// Hands out a client per region. The live implementation builds them from an [`SdkConfig`]; tests
/// hand out mocked clients.
pub trait ClientSource: Sync {
    fn xray(&self, region: &str) -> aws_sdk_xray::Client;
    fn kms(&self, region: &str) -> aws_sdk_kms::Client;
}

impl ClientSource for SdkConfig {
    fn xray(&self, region: &str) -> aws_sdk_xray::Client {
        let conf = aws_sdk_xray::config::Builder::from(self)
            .region(Region::new(region.to_owned()))
            .build();
        aws_sdk_xray::Client::from_conf(conf)
    }

    fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        let conf = aws_sdk_kms::config::Builder::from(self)
            .region(Region::new(region.to_owned()))
            .build();
        aws_sdk_kms::Client::from_conf(conf)
    }
}

/// A successful response that lacks the member the rules need: unknown, never a default.
fn malformed<T>(operation: &str, member: &str) -> Observed<T> {
    Observed::Unknown(xray_cmk_core::CollectionError {
        operation: operation.to_owned(),
        kind: xray_cmk_core::ErrorKind::Other,
        code: None,
        message: format!("the response has no {member}"),
    })
}

/// Reads one region's X-Ray encryption configuration.
pub async fn collect_target(
    xray: &aws_sdk_xray::Client,
    account: &str,
    region: &str,
) -> XrayTarget {
    let encryption = match xray.get_encryption_config().send().await {
        Ok(out) => match out.encryption_config() {
            Some(cfg) => Observed::Known(XrayEncryption {
                encryption_type: match cfg.r#type() {
                    Some(SdkEncryptionType::None) => EncryptionType::None,
                    Some(SdkEncryptionType::Kms) => EncryptionType::Kms,
                    Some(other) => EncryptionType::Other(other.as_str().to_owned()),
                    None => EncryptionType::Other("(missing)".to_owned()),
                },
                key_id: cfg.key_id().map(str::to_owned),
                status: cfg.status().map(|s| s.as_str().to_owned()),
            }),
            // No EncryptionConfig at all: we cannot tell what X-Ray does, so it is unknown.
            None => malformed("xray:GetEncryptionConfig", "EncryptionConfig"),
        },
        Err(err) => Observed::Unknown(classify("xray:GetEncryptionConfig", &err)),
    };
    XrayTarget {
        account: account.to_owned(),
        region: region.to_owned(),
        origin: Origin::Live,
        encryption,
    }
}

/// The region a key lives in: from its ARN, else the region of the configuration naming it.
fn key_region<'a>(key_id: &'a str, fallback: &'a str) -> &'a str {
    match key_id.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", _partition, "kms", region, ..] if !region.is_empty() => region,
        _ => fallback,
    }
}

/// Describes one key. Every field `DescribeKey` marks optional stays optional.
pub async fn describe_key(kms: &aws_sdk_kms::Client, key_id: &str) -> Observed<KmsKey> {
    match kms.describe_key().key_id(key_id).send().await {
        Ok(out) => match out.key_metadata() {
            Some(m) => Observed::Known(KmsKey {
                arn: m.arn().map(str::to_owned),
                key_id: m.key_id().to_owned(),
                key_manager: m.key_manager().map(|k| match k {
                    KeyManagerType::Aws => KeyManager::Aws,
                    KeyManagerType::Customer => KeyManager::Customer,
                    other => KeyManager::Other(other.as_str().to_owned()),
                }),
                key_state: m.key_state().map(|s| match s {
                    SdkKeyState::Enabled => KeyState::Enabled,
                    SdkKeyState::Disabled => KeyState::Disabled,
                    SdkKeyState::PendingDeletion => KeyState::PendingDeletion,
                    SdkKeyState::PendingImport => KeyState::PendingImport,
                    SdkKeyState::PendingReplicaDeletion => KeyState::PendingReplicaDeletion,
                    SdkKeyState::Unavailable => KeyState::Unavailable,
                    SdkKeyState::Creating => KeyState::Creating,
                    SdkKeyState::Updating => KeyState::Updating,
                    other => KeyState::Other(other.as_str().to_owned()),
                }),
                #[allow(deprecated)]
                key_spec: m
                    .key_spec()
                    .map(|s| s.as_str().to_owned())
                    .or_else(|| m.customer_master_key_spec().map(|s| s.as_str().to_owned())),
                key_usage: m.key_usage().map(|u| u.as_str().to_owned()),
                description: m.description().map(str::to_owned),
            }),
            None => malformed("kms:DescribeKey", "KeyMetadata"),
        },
        Err(err) => Observed::Unknown(classify("kms:DescribeKey", &err)),
    }
}

/// Scans `regions` of one account: every region's configuration, then each distinct key once.
/// At most `concurrency` calls are in flight. Targets keep the order of `regions`.
pub async fn scan(
    clients: &dyn ClientSource,
    account: &str,
    regions: &[String],
    concurrency: usize,
) -> Inventory {
    let concurrency = concurrency.max(1);
    let targets: Vec<XrayTarget> = stream::iter(regions)
        .map(|region| async move { collect_target(&clients.xray(region), account, region).await })
        .buffered(concurrency)
        .collect()
        .await;

    let wanted: BTreeSet<(&str, &str)> = targets
        .iter()
        .filter_map(|t| {
            let enc = t.encryption.known()?;
            let key = enc.key_id.as_deref()?;
            (enc.encryption_type == EncryptionType::Kms).then(|| (key, key_region(key, &t.region)))
        })
        .collect();
    let keys = stream::iter(wanted)
        .map(|(key, region)| async move {
            (
                key.to_owned(),
                describe_key(&clients.kms(region), key).await,
            )
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    Inventory { targets, keys }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_sdk_kms::operation::describe_key::DescribeKeyOutput;
    use aws_sdk_kms::types::{KeyMetadata, KeySpec};
    use aws_sdk_xray::operation::get_encryption_config::GetEncryptionConfigOutput;
    use aws_sdk_xray::types::{EncryptionConfig, EncryptionStatus};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use xray_cmk_core::{ErrorKind, Status};

    const KEY: &str = "arn:aws:kms:eu-west-1:111122223333:key/k1";

    /// A recorded wire response: rest-json services name the error in `x-amzn-ErrorType`,
    /// awsJson 1.1 services (KMS) in the body's `__type`.
    pub(crate) fn wire(
        status: u16,
        error_type: Option<&str>,
        body: &'static str,
    ) -> aws_smithy_runtime_api::http::Response {
        let mut resp = aws_smithy_runtime_api::http::Response::new(
            StatusCode::try_from(status).expect("status"),
            SdkBody::from(body),
        );
        resp.headers_mut()
            .insert("content-type", "application/json");
        if let Some(t) = error_type {
            resp.headers_mut().insert("x-amzn-ErrorType", t.to_owned());
        }
        resp
    }

    /// Mocked clients that retry like the real ones, without sleeping.
    fn xray(rules: &[&aws_smithy_mocks::Rule]) -> aws_sdk_xray::Client {
        mock_client!(
            aws_sdk_xray,
            RuleMode::MatchAny,
            rules.iter().copied(),
            |c| c
                .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
                .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
        )
    }

    fn kms(rules: &[&aws_smithy_mocks::Rule]) -> aws_sdk_kms::Client {
        mock_client!(
            aws_sdk_kms,
            RuleMode::MatchAny,
            rules.iter().copied(),
            |c| c
                .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
                .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
        )
    }

    fn kms_config() -> GetEncryptionConfigOutput {
        GetEncryptionConfigOutput::builder()
            .encryption_config(
                EncryptionConfig::builder()
                    .r#type(SdkEncryptionType::Kms)
                    .key_id(KEY)
                    .status(EncryptionStatus::Active)
                    .build(),
            )
            .build()
    }

    #[tokio::test]
    async fn access_denied_becomes_unknown_never_a_pass() {
        let denied = mock!(aws_sdk_xray::Client::get_encryption_config).then_http_response(|| {
            wire(
                403,
                Some("AccessDeniedException"),
                r#"{"Message":"User: arn:aws:sts::111122223333:assumed-role/XrayCmkAudit/s is not authorized to perform: xray:GetEncryptionConfig"}"#,
            )
        });
        let target = collect_target(&xray(&[&denied]), "111122223333", "eu-north-1").await;
        let Observed::Unknown(err) = &target.encryption else {
            panic!("expected unknown, got {target:?}")
        };
        assert_eq!(err.kind, ErrorKind::AccessDenied);
        assert_eq!(err.operation, "xray:GetEncryptionConfig");
        let inv = Inventory {
            targets: vec![target],
            keys: Default::default(),
        };
        assert!(xray_cmk_core::evaluate(&inv)
            .iter()
            .all(|f| f.status == Status::Error));
    }

    #[tokio::test]
    async fn throttling_is_retried_by_the_sdk() {
        let throttled = mock!(aws_sdk_xray::Client::get_encryption_config)
            .sequence()
            .http_response(|| {
                wire(
                    429,
                    Some("ThrottledException"),
                    r#"{"Message":"Rate exceeded"}"#,
                )
            })
            .times(2)
            .output(kms_config)
            .build();
        let target = collect_target(&xray(&[&throttled]), "111122223333", "eu-west-1").await;
        assert_eq!(throttled.num_calls(), 3);
        let enc = target.encryption.known().expect("known after retries");
        assert_eq!(enc.encryption_type, EncryptionType::Kms);
        assert_eq!(enc.key_id.as_deref(), Some(KEY));
    }

    #[tokio::test]
    async fn persistent_throttling_is_an_error_result() {
        let throttled = mock!(aws_sdk_xray::Client::get_encryption_config)
            .sequence()
            .http_response(|| {
                wire(
                    429,
                    Some("ThrottledException"),
                    r#"{"Message":"Rate exceeded"}"#,
                )
            })
            .repeatedly()
            .build();
        let target = collect_target(&xray(&[&throttled]), "111122223333", "eu-west-1").await;
        assert_eq!(throttled.num_calls(), 3);
        let Observed::Unknown(err) = target.encryption else {
            panic!("expected unknown")
        };
        assert_eq!(err.kind, ErrorKind::Throttled);
    }

    #[tokio::test]
    async fn missing_optional_fields_do_not_panic() {
        let bare = mock!(aws_sdk_xray::Client::get_encryption_config)
            .then_output(|| GetEncryptionConfigOutput::builder().build());
        let t = collect_target(&xray(&[&bare]), "a", "r").await;
        assert!(matches!(t.encryption, Observed::Unknown(_)));

        let no_type = mock!(aws_sdk_xray::Client::get_encryption_config).then_output(|| {
            GetEncryptionConfigOutput::builder()
                .encryption_config(EncryptionConfig::builder().build())
                .build()
        });
        let t = collect_target(&xray(&[&no_type]), "a", "r").await;
        let enc = t.encryption.known().expect("known");
        assert_eq!(
            enc.encryption_type,
            EncryptionType::Other("(missing)".into())
        );
        assert_eq!((enc.key_id.as_deref(), enc.status.as_deref()), (None, None));

        let bare_key = mock!(aws_sdk_kms::Client::describe_key).then_output(|| {
            DescribeKeyOutput::builder()
                .key_metadata(
                    KeyMetadata::builder()
                        .key_id("k1")
                        .build()
                        .expect("key id set"),
                )
                .build()
        });
        let Observed::Known(key) = describe_key(&kms(&[&bare_key]), KEY).await else {
            panic!("expected known")
        };
        assert_eq!(
            (key.key_manager, key.key_state, key.key_spec),
            (None, None, None)
        );
        let no_meta = mock!(aws_sdk_kms::Client::describe_key)
            .then_output(|| DescribeKeyOutput::builder().build());
        assert!(matches!(
            describe_key(&kms(&[&no_meta]), KEY).await,
            Observed::Unknown(_)
        ));
    }

    #[tokio::test]
    async fn describe_key_not_found_and_fields() {
        let nf = mock!(aws_sdk_kms::Client::describe_key).then_http_response(|| {
            wire(
                400,
                None,
                r#"{"__type":"NotFoundException","message":"Key 'arn:aws:kms:eu-west-1:111122223333:key/k1' does not exist"}"#,
            )
        });
        let Observed::Unknown(err) = describe_key(&kms(&[&nf]), KEY).await else {
            panic!("expected unknown")
        };
        assert_eq!(err.kind, ErrorKind::NotFound);
        assert_eq!(err.code.as_deref(), Some("NotFoundException"));

        let aws = mock!(aws_sdk_kms::Client::describe_key).then_output(|| {
            DescribeKeyOutput::builder()
                .key_metadata(
                    KeyMetadata::builder()
                        .key_id("k1")
                        .arn(KEY)
                        .key_manager(KeyManagerType::Aws)
                        .key_state(SdkKeyState::PendingDeletion)
                        .key_spec(KeySpec::SymmetricDefault)
                        .build()
                        .expect("key id set"),
                )
                .build()
        });
        let Observed::Known(key) = describe_key(&kms(&[&aws]), KEY).await else {
            panic!("expected known")
        };
        assert_eq!(key.key_manager, Some(KeyManager::Aws));
        assert_eq!(key.key_state, Some(KeyState::PendingDeletion));
        assert_eq!(key.key_spec.as_deref(), Some("SYMMETRIC_DEFAULT"));
    }

    struct Mocked {
        xray: aws_sdk_xray::Client,
        kms: aws_sdk_kms::Client,
    }

    impl ClientSource for Mocked {
        fn xray(&self, _region: &str) -> aws_sdk_xray::Client {
            self.xray.clone()
        }
        fn kms(&self, _region: &str) -> aws_sdk_kms::Client {
            self.kms.clone()
        }
    }

    #[tokio::test]
    async fn scan_describes_each_key_once() {
        let cfg = mock!(aws_sdk_xray::Client::get_encryption_config).then_output(kms_config);
        let describe = mock!(aws_sdk_kms::Client::describe_key).then_output(|| {
            DescribeKeyOutput::builder()
                .key_metadata(KeyMetadata::builder().key_id("k1").build().expect("key id"))
                .build()
        });
        let clients = Mocked {
            xray: xray(&[&cfg]),
            kms: kms(&[&describe]),
        };
        let regions: Vec<String> = ["eu-west-1", "us-east-1", "eu-north-1"]
            .map(String::from)
            .into();
        let inv = scan(&clients, "111122223333", &regions, 2).await;
        assert_eq!(cfg.num_calls(), 3);
        assert_eq!(describe.num_calls(), 1);
        let order: Vec<_> = inv.targets.iter().map(|t| t.region.as_str()).collect();
        assert_eq!(order, ["eu-west-1", "us-east-1", "eu-north-1"]);
        assert!(inv.keys.contains_key(KEY));
    }

    #[test]
    fn key_region_from_arn() {
        assert_eq!(key_region(KEY, "us-east-1"), "eu-west-1");
        assert_eq!(key_region("alias/x", "us-east-1"), "us-east-1");
        assert_eq!(key_region("1234-abcd", "ap-south-1"), "ap-south-1");
    }
}
