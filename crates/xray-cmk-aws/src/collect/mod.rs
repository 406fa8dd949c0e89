//! Collection of one account's inventory: per region, the X-Ray encryption configuration, where
//! spans go and the trails that cover it; then each distinct KMS key and each distinct trail once.

pub(crate) mod kms;
mod trails;
mod xray;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use aws_config::{Region, SdkConfig};
use futures::stream::{self, StreamExt};
use tokio::sync::OnceCell;
use xray_cmk_core::model::TrailRef;
use xray_cmk_core::{EncryptionType, Inventory, KmsKey, Needs, Observed, Origin, XrayTarget};

pub use kms::describe_key;

pub use trails::{account_trails, trail_state};
pub use xray::{encryption_config, segment_destination};

/// Hands out a client per service and region. The live implementation builds them from an
/// [`SdkConfig`]; tests hand out mocked clients.
pub trait ClientSource: Sync {
    fn xray(&self, region: &str) -> aws_sdk_xray::Client;
    fn kms(&self, region: &str) -> aws_sdk_kms::Client;
    fn cloudtrail(&self, region: &str) -> aws_sdk_cloudtrail::Client;
    fn logs(&self, region: &str) -> aws_sdk_cloudwatchlogs::Client;
    /// The region for account-wide calls (`ListTrails`): the configuration's home region.
    fn home_region(&self) -> String;
}

macro_rules! regional_client {
    ($name:ident, $sdk:ident) => {
        fn $name(&self, region: &str) -> $sdk::Client {
            let conf = $sdk::config::Builder::from(self)
                .region(Region::new(region.to_owned()))
                .build();
            $sdk::Client::from_conf(conf)
        }
    };
}

impl ClientSource for SdkConfig {
    regional_client!(xray, aws_sdk_xray);
    regional_client!(kms, aws_sdk_kms);
    regional_client!(cloudtrail, aws_sdk_cloudtrail);
    regional_client!(logs, aws_sdk_cloudwatchlogs);

    fn home_region(&self) -> String {
        self.region().map_or_else(
            || crate::session::FALLBACK_REGION.to_owned(),
            |r| r.to_string(),
        )
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

/// Reads what the selected rules need of one account and region; `trails` is the account's
/// trail list, read once per account.
pub async fn collect_target(
    clients: &dyn ClientSource,
    account: &str,
    region: &str,
    needs: Needs,
    trails: Option<&Observed<Vec<TrailRef>>>,
) -> XrayTarget {
    let xray = clients.xray(region);
    let destination = async {
        if needs.segment_destination {
            Some(segment_destination(&xray, &clients.logs(region)).await)
        } else {
            None
        }
    };
    let (encryption, segment_destination) = futures::join!(encryption_config(&xray), destination);
    XrayTarget {
        account: account.to_owned(),
        region: region.to_owned(),
        origin: Origin::Live,
        encryption,
        trails: trails.cloned(),
        segment_destination,
    }
}

/// The region a key lives in: from its ARN, else the region of the configuration naming it.
fn key_region<'a>(key_id: &'a str, fallback: &'a str) -> &'a str {
    xray_cmk_core::model::arn_account_region(key_id)
        .map(|(_, region)| region)
        .filter(|r| !r.is_empty())
        .unwrap_or(fallback)
}

/// The keys a target refers to: X-Ray's key and the key of the `aws/spans` log group.
fn keys_of(target: &XrayTarget) -> Vec<(&str, &str)> {
    let mut keys = Vec::new();
    if let Some(enc) = target.encryption.known() {
        if let (EncryptionType::Kms, Some(key)) = (&enc.encryption_type, enc.key_id.as_deref()) {
            keys.push((key, key_region(key, &target.region)));
        }
    }
    let spans_key = target
        .segment_destination
        .as_ref()
        .and_then(Observed::known)
        .and_then(|d| d.spans_log_group.as_ref())
        .and_then(Observed::known)
        .and_then(Option::as_ref)
        .and_then(|g| g.kms_key_id.as_deref());
    if let Some(key) = spans_key {
        keys.push((key, key_region(key, &target.region)));
    }
    keys
}

/// Keys described once per scan, however many accounts and regions use them. The first account to
/// ask describes the key with its own credentials; the others reuse that observation.
#[derive(Debug, Default)]
pub struct KeyCache {
    keys: Mutex<HashMap<String, Arc<OnceCell<Observed<KmsKey>>>>>,
}

impl KeyCache {
    /// The key's observation, and whether this call made it (so the caller judges the key).
    pub async fn get_or_describe(
        &self,
        key_id: &str,
        describe: impl std::future::Future<Output = Observed<KmsKey>>,
    ) -> (Observed<KmsKey>, bool) {
        let cell = {
            let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            keys.entry(key_id.to_owned()).or_default().clone()
        };
        let mut first = false;
        let key = cell
            .get_or_init(|| async {
                first = true;
                describe.await
            })
            .await
            .clone();
        (key, first)
    }
}

/// Scans `regions` of one account, then describes each distinct key (through `keys`, once per
/// scan) and trail once. At most `concurrency` targets, keys or trails are in flight. Targets
/// keep the order of `regions`.
pub async fn scan(
    clients: &dyn ClientSource,
    account: &str,
    regions: &[String],
    concurrency: usize,
    key_cache: &KeyCache,
    needs: Needs,
) -> Inventory {
    let concurrency = concurrency.max(1);
    let trail_list = if needs.trails {
        Some(account_trails(clients, &clients.home_region()).await)
    } else {
        None
    };
    let targets: Vec<XrayTarget> = stream::iter(regions)
        .map(|region| collect_target(clients, account, region, needs, trail_list.as_ref()))
        .buffered(concurrency)
        .collect()
        .await;

    let unaliased_keys = if needs.key_listing {
        stream::iter(regions)
            .map(|region| async move {
                (
                    (account.to_owned(), region.clone()),
                    kms::unaliased_keys(&clients.kms(region)).await,
                )
            })
            .buffered(concurrency)
            .collect()
            .await
    } else {
        Default::default()
    };

    let wanted_keys: BTreeSet<(&str, &str)> = if needs.key_metadata {
        targets.iter().flat_map(keys_of).collect()
    } else {
        BTreeSet::new()
    };
    let described: Vec<(String, Observed<KmsKey>, bool)> = stream::iter(wanted_keys)
        .map(|(key, region)| async move {
            let (observed, first) = key_cache
                .get_or_describe(
                    key,
                    describe_key(&clients.kms(region), key, needs.key_details),
                )
                .await;
            (key.to_owned(), observed, first)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let keys_judged_elsewhere = described
        .iter()
        .filter(|(_, _, first)| !first)
        .map(|(id, _, _)| id.clone())
        .collect();
    let keys = described
        .into_iter()
        .map(|(id, observed, _)| (id, observed))
        .collect();

    let wanted_trails: BTreeSet<(&str, &str)> = trail_list
        .as_ref()
        .and_then(Observed::known)
        .into_iter()
        .flatten()
        .map(|t| (t.arn.as_str(), t.home_region.as_str()))
        .collect();
    let trails = stream::iter(wanted_trails)
        .map(|(arn, home)| async move {
            (
                arn.to_owned(),
                trail_state(&clients.cloudtrail(home), arn).await,
            )
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;

    Inventory {
        targets,
        keys,
        trails,
        keys_judged_elsewhere,
        terraform_modules: Vec::new(),
        unaliased_keys,
    }
}

#[cfg(test)]
pub(crate) mod tests;
