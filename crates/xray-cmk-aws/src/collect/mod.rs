//! Collection of one account's inventory: per region, the X-Ray encryption configuration, where
//! spans go and the trails that cover it; then each distinct KMS key and each distinct trail once;
//! then what IAM's policy simulator says where a key policy leaves X-Ray's principals to IAM.
//!
//! A key is read once per scan in its owner's account when that account is in the scan (with the
//! owner's credentials, whichever account asks first), else by each account using it with the calls
//! KMS answers across accounts. Either way what is read of a key does not depend on which account
//! of the scan asked first, so neither do the verdicts.

pub mod guard;
mod iam;
pub(crate) mod kms;
mod trails;
mod xray;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use aws_config::{Region, SdkConfig};
use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};

use crate::aggregator::{AggregatedXray, XraySource};
use tokio::sync::OnceCell;
use xray_cmk_core::model::{AccessQuestion, ConfigCapture, SimulatedAccess, TrailRef};
use xray_cmk_core::{
    CollectionError, EncryptionType, Inventory, KmsKey, Needs, Observed, OrgPolicy, Origin,
    XrayTarget,
};

pub use iam::simulate_access;
pub use kms::{describe_key, describe_key_across_accounts};

pub use trails::{account_trails, trail_state};
pub use xray::{encryption_config, segment_destination};

/// Hands out a client per service and region. The live implementation builds them from an
/// [`SdkConfig`]; tests hand out mocked clients.
pub trait ClientSource: Send + Sync {
    fn xray(&self, region: &str) -> aws_sdk_xray::Client;
    fn kms(&self, region: &str) -> aws_sdk_kms::Client;
    fn cloudtrail(&self, region: &str) -> aws_sdk_cloudtrail::Client;
    fn logs(&self, region: &str) -> aws_sdk_cloudwatchlogs::Client;
    fn config(&self, region: &str) -> aws_sdk_config::Client;
    fn events(&self, region: &str) -> aws_sdk_eventbridge::Client;
    /// IAM is global: one client for the account.
    fn iam(&self) -> aws_sdk_iam::Client;
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
    regional_client!(config, aws_sdk_config);
    regional_client!(events, aws_sdk_eventbridge);

    fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(self)
    }

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
/// trail list, read once per account. X-Ray's encryption configuration comes from `source`: X-Ray
/// itself, an AWS Config item, or nowhere (the aggregator could not be read: unknown).
async fn collect_target(
    clients: &dyn ClientSource,
    account: &str,
    region: &str,
    needs: Needs,
    trails: Option<&Observed<Vec<TrailRef>>>,
    source: XraySource<'_>,
) -> XrayTarget {
    let xray = clients.xray(region);
    let destination = async {
        if needs.segment_destination {
            Some(segment_destination(&xray, &clients.logs(region)).await)
        } else {
            None
        }
    };
    let encryption = async {
        match source {
            XraySource::Live => encryption_config(&xray).await,
            XraySource::Item(item) => Observed::Known(item.encryption.clone()),
            XraySource::Unreadable(err) => Observed::Unknown(err.clone()),
        }
    };
    let (encryption, segment_destination) = futures::join!(encryption, destination);
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

/// The accounts of a scan, as one account's collection reaches the others: to read a key in its
/// owner's account, and to ask IAM's policy simulator in a principal's own account.
pub trait Accounts: Sync {
    /// Whether `account` is one of the accounts scanned. In an organization scan that is still
    /// listing the organization, an account not listed yet is answered when the listing is done.
    fn in_scope<'a>(&'a self, account: &'a str) -> BoxFuture<'a, bool>;

    /// Clients acting in `account`, reached as the scan reaches any account (the caller's own
    /// credentials, or the role assumed there), once per scan.
    fn clients<'a>(
        &'a self,
        account: &'a str,
    ) -> BoxFuture<'a, Result<Arc<dyn ClientSource>, CollectionError>>;
}

/// Values computed once per scan by whichever account asks first; later callers wait for it.
#[derive(Debug)]
pub struct Once<K, V> {
    cells: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K, V> Default for Once<K, V> {
    fn default() -> Self {
        Once {
            cells: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> Once<K, V> {
    /// The value for `key`, and whether this call computed it.
    pub async fn get_or_compute(&self, key: K, compute: impl Future<Output = V>) -> (V, bool) {
        let cell = {
            let mut cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
            cells.entry(key).or_default().clone()
        };
        let mut first = false;
        let value = cell
            .get_or_init(|| async {
                first = true;
                compute.await
            })
            .await
            .clone();
        (value, first)
    }
}

/// Keys read once per scan, by (the account whose credentials read it, key id as X-Ray reported
/// it). The account that read a key first judges its own findings; the others reuse it.
pub type KeyCache = Once<(String, String), Observed<KmsKey>>;

/// The policy simulator's answers, once per question per scan.
pub type AnswerCache = Once<AccessQuestion, Observed<SimulatedAccess>>;

/// What every account's collection of one scan shares.
#[derive(Clone, Copy)]
pub struct ScanShared<'a> {
    pub accounts: &'a dyn Accounts,
    pub keys: &'a KeyCache,
    pub answers: &'a AnswerCache,
    /// What the selected rules need collected.
    pub needs: Needs,
    /// The policy file: whose access to keys the rules judge.
    pub policy: &'a OrgPolicy,
    /// X-Ray's configuration items from an AWS Config aggregator, when the audit reads them.
    pub aggregated: Option<&'a AggregatedXray>,
}

impl std::fmt::Debug for ScanShared<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanShared")
            .field("needs", &self.needs)
            .finish_non_exhaustive()
    }
}

/// How one account got a key: what was read, whether this call read it, and whether it was read
/// from this account across accounts.
struct KeyRead {
    observed: Observed<KmsKey>,
    first: bool,
    across: bool,
}

/// The key `key_id`, which X-Ray (or the `aws/spans` log group) of `account` names, read in its
/// owner's account when the owner is in the scan and reachable, else from `account` across
/// accounts.
async fn read_key(
    clients: &dyn ClientSource,
    account: &str,
    key_id: &str,
    region: &str,
    shared: &ScanShared<'_>,
) -> KeyRead {
    let read = |(observed, first), across| KeyRead {
        observed,
        first,
        across,
    };
    let details = shared.needs.key_details;
    // An alias name or bare key id names a key of the caller's own account.
    let owner = xray_cmk_core::model::arn_account_region(key_id)
        .map(|(a, _)| a)
        .filter(|a| !a.is_empty())
        .unwrap_or(account);
    let cache_key = |reader: &str| (reader.to_owned(), key_id.to_owned());
    if owner == account {
        let kms = clients.kms(region);
        let got = shared
            .keys
            .get_or_compute(cache_key(owner), async move {
                describe_key(&kms, key_id, details).await
            })
            .await;
        return read(got, false);
    }
    if shared.accounts.in_scope(owner).await {
        if let Ok(owner_clients) = shared.accounts.clients(owner).await {
            let kms = owner_clients.kms(region);
            let got = shared
                .keys
                .get_or_compute(cache_key(owner), async move {
                    describe_key(&kms, key_id, details).await
                })
                .await;
            return read(got, false);
        }
    }
    let kms = clients.kms(region);
    let got = shared
        .keys
        .get_or_compute(cache_key(account), async move {
            describe_key_across_accounts(&kms, key_id, details, account, owner).await
        })
        .await;
    read(got, true)
}

/// Asks the simulator `question` in the principal's own account, once per scan.
async fn answer(
    question: AccessQuestion,
    key_policy: String,
    shared: &ScanShared<'_>,
) -> (AccessQuestion, Observed<SimulatedAccess>) {
    let principal_account = question
        .principal
        .split(':')
        .nth(4)
        .unwrap_or_default()
        .to_owned();
    let (answer, _) = shared
        .answers
        .get_or_compute(question.clone(), async {
            match shared.accounts.clients(&principal_account).await {
                Ok(clients) => simulate_access(&clients.iam(), &question, &key_policy).await,
                Err(err) => Observed::Unknown(err),
            }
        })
        .await;
    (question, answer)
}

/// Scans `regions` of one account, then reads each distinct key (through `shared`, once per
/// scan) and trail once, then asks IAM's policy simulator what the key policies leave to IAM. At
/// most `concurrency` targets, keys, trails or questions are in flight. Targets keep the order of
/// `regions`.
pub async fn scan(
    clients: &dyn ClientSource,
    account: &str,
    regions: &[String],
    concurrency: usize,
    shared: &ScanShared<'_>,
) -> Inventory {
    let concurrency = concurrency.max(1);
    let needs = shared.needs;
    let trail_list = if needs.trails {
        Some(account_trails(clients, &clients.home_region()).await)
    } else {
        None
    };
    // Every stream below iterates owned items: a closure over borrowed ones is generic over their
    // lifetime, and the compiler then cannot show the scan `Send` for `tokio::spawn`
    // (rust-lang/rust#102211).
    let trail_ref = trail_list.as_ref();
    let targets: Vec<XrayTarget> = stream::iter(regions.to_vec())
        .map(|region| async move {
            let source = shared
                .aggregated
                .map_or(XraySource::Live, |a| a.source(account, &region));
            collect_target(clients, account, &region, needs, trail_ref, source).await
        })
        .buffered(concurrency)
        .collect()
        .await;
    let config_sourced = match shared.aggregated {
        Some(a) => regions
            .iter()
            .filter_map(|region| {
                let capture = match a.source(account, region) {
                    XraySource::Item(item) => item.capture.clone(),
                    XraySource::Unreadable(_) => ConfigCapture {
                        aggregator: a.aggregator.clone(),
                        captured_at: None,
                    },
                    XraySource::Live => return None,
                };
                Some(((account.to_owned(), region.clone()), capture))
            })
            .collect(),
        None => BTreeMap::new(),
    };

    let unaliased_keys = if needs.key_listing {
        stream::iter(regions.to_vec())
            .map(|region| async move {
                let keys = kms::unaliased_keys(&clients.kms(&region)).await;
                ((account.to_owned(), region), keys)
            })
            .buffered(concurrency)
            .collect()
            .await
    } else {
        Default::default()
    };

    let guardrails = if needs.guardrail {
        stream::iter(regions.to_vec())
            .map(|region| async move {
                let found =
                    guard::guardrail(&clients.config(&region), &clients.events(&region)).await;
                ((account.to_owned(), region), found)
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
    let wanted_keys: Vec<(String, String)> = wanted_keys
        .into_iter()
        .map(|(k, r)| (k.to_owned(), r.to_owned()))
        .collect();
    let described: Vec<(String, KeyRead)> = stream::iter(wanted_keys)
        .map(|(key, region)| async move {
            let read = read_key(clients, account, &key, &region, shared).await;
            (key, read)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let keys_judged_elsewhere = described
        .iter()
        .filter(|(_, r)| !r.first)
        .map(|(id, _)| id.clone())
        .collect();
    let keys_read_across_accounts = described
        .iter()
        .filter(|(_, r)| r.across)
        .map(|(id, _)| id.clone())
        .collect();
    let keys: BTreeMap<String, Observed<KmsKey>> = described
        .into_iter()
        .map(|(id, r)| (id, r.observed))
        .collect();

    let wanted_trails: BTreeSet<(&str, &str)> = trail_list
        .as_ref()
        .and_then(Observed::known)
        .into_iter()
        .flatten()
        .map(|t| (t.arn.as_str(), t.home_region.as_str()))
        .collect();
    let wanted_trails: Vec<(String, String)> = wanted_trails
        .into_iter()
        .map(|(a, h)| (a.to_owned(), h.to_owned()))
        .collect();
    let trails = stream::iter(wanted_trails)
        .map(|(arn, home)| async move {
            let state = trail_state(&clients.cloudtrail(&home), &arn).await;
            (arn, state)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;

    let questions: BTreeMap<AccessQuestion, String> = if needs.iam_simulation {
        targets
            .iter()
            .flat_map(|t| questions_of(t, &keys, shared.policy))
            .collect()
    } else {
        BTreeMap::new()
    };
    let iam_answers = stream::iter(questions)
        .map(|(question, key_policy)| answer(question, key_policy, shared))
        .buffer_unordered(concurrency)
        .collect()
        .await;

    Inventory {
        targets,
        keys,
        trails,
        keys_judged_elsewhere,
        keys_read_across_accounts,
        terraform_modules: Vec::new(),
        cloudformation_templates: Vec::new(),
        iam_answers,
        iam_scope: Default::default(),
        unaliased_keys,
        guardrails,
        scp_paths: Default::default(),
        config_sourced,
    }
}

/// What `kms-key-policy-xray-access` will ask IAM about the key X-Ray in `target` uses, each with
/// the key policy.
fn questions_of(
    target: &XrayTarget,
    keys: &BTreeMap<String, Observed<KmsKey>>,
    policy: &OrgPolicy,
) -> Vec<(AccessQuestion, String)> {
    let Some(enc) = target.encryption.known() else {
        return Vec::new();
    };
    let (EncryptionType::Kms, Some(key_id)) = (&enc.encryption_type, enc.key_id.as_deref()) else {
        return Vec::new();
    };
    let Some(Observed::Known(key)) = keys.get(key_id) else {
        return Vec::new();
    };
    let Some(text) = key.policy.known() else {
        return Vec::new();
    };
    xray_cmk_core::rules::iam_questions(key, &target.account, &target.region, policy)
        .into_iter()
        .map(|q| (q, text.clone()))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests;
