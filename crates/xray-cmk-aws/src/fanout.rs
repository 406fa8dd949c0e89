//! Scanning many accounts: credentials per account (AssumeRole, cached and refreshed), regions per
//! account, and a bounded fan-out whose results are handed over account by account.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::identity::IdentityCache;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{future, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};
use xray_cmk_core::{
    CollectionError, ErrorKind, Inventory, Observed, OrgPolicy, Origin, XrayTarget,
};

use crate::clients::{AccountClients, Shared};
use crate::collect::guard::{scp_path, OrgCache};
use crate::collect::{scan, AnswerCache, ClientSource, KeyCache, Once, ScanShared};
use crate::error::classify;
use crate::session::{enabled_regions, Session};

/// How to reach and scan each account.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub role_name: String,
    pub external_id: Option<String>,
    /// The role session name, so CloudTrail shows who scanned.
    pub session_name: String,
    /// Regions to scan in every account; `None` for each account's enabled regions.
    pub regions: Option<Vec<String>>,
    pub account_concurrency: usize,
    pub region_concurrency: usize,
    /// What the selected rules need collected.
    pub needs: xray_cmk_core::Needs,
    /// X-Ray's configuration items from an AWS Config aggregator, read before the scan
    /// (`audit --from-config-aggregator`); `None` reads every X-Ray configuration live.
    pub aggregated: Option<std::sync::Arc<crate::aggregator::AggregatedXray>>,
}

/// One account's results.
#[derive(Debug)]
pub struct AccountScan {
    pub account: String,
    pub inventory: Inventory,
    /// Why the account could not be scanned at all (AssumeRole or ListRegions failed).
    pub setup_error: Option<CollectionError>,
}

/// Scans `accounts`, at most `account_concurrency` at a time, calling `on_account` as each one
/// finishes, so results can be written before the whole organization is done. `policy` names the
/// principals whose access to the keys in use is judged.
///
/// Each account's scan is its own task on the runtime's worker threads (not one future polled on
/// the caller's thread), so an organization scan uses every core; what the accounts share (the
/// clients directory, the key and simulator caches, the organization's tree) is in one
/// [`ScanState`] they all hold. A task that panics is that account's error, never a lost account.
pub async fn scan_accounts(
    session: &Session,
    shared: &Shared,
    accounts: &[String],
    opts: &ScanOptions,
    policy: &OrgPolicy,
    mut on_account: impl FnMut(AccountScan),
) {
    let state = Arc::new(ScanState {
        directory: Directory {
            session: session.clone(),
            shared: shared.clone(),
            opts: opts.clone(),
            in_scope: accounts.iter().cloned().collect(),
            clients: Once::default(),
        },
        keys: KeyCache::default(),
        answers: AnswerCache::default(),
        policy: policy.clone(),
        // The SCPs are read with the caller's own credentials: the management account's, or a
        // delegated administrator's.
        organization: opts.needs.scp.then(|| {
            (
                AccountClients::new(session.config.clone(), shared.clone()).organizations(),
                OrgCache::default(),
            )
        }),
    });
    let mut scans = stream::iter(accounts)
        .map(|account| {
            let state = Arc::clone(&state);
            let account = account.clone();
            let task = tokio::spawn({
                let account = account.clone();
                async move { state.scan(&account).await }
            });
            let regions = opts.regions.clone();
            async move {
                task.await.unwrap_or_else(|err| {
                    failed(
                        &account,
                        regions.as_deref(),
                        CollectionError {
                            operation: "scan".into(),
                            kind: ErrorKind::Other,
                            code: None,
                            message: format!("the scan of this account stopped: {err}"),
                        },
                    )
                })
            }
        })
        .buffer_unordered(opts.account_concurrency.max(1));
    while let Some(done) = scans.next().await {
        on_account(done);
    }
}

/// What every account's scan of one organization scan shares.
struct ScanState {
    directory: Directory,
    keys: KeyCache,
    answers: AnswerCache,
    policy: OrgPolicy,
    organization: Option<(aws_sdk_organizations::Client, OrgCache)>,
}

impl ScanState {
    /// Boxed as `Send` here, at one lifetime: the compiler cannot prove the collectors' stream
    /// combinators `Send` for every lifetime, which `tokio::spawn` would otherwise ask of it.
    fn scan<'a>(&'a self, account: &'a str) -> BoxFuture<'a, AccountScan> {
        Box::pin(self.scan_inner(account))
    }

    async fn scan_inner(&self, account: &str) -> AccountScan {
        let scan_shared = ScanShared {
            accounts: &self.directory,
            keys: &self.keys,
            answers: &self.answers,
            needs: self.directory.opts.needs,
            policy: &self.policy,
            aggregated: self.directory.opts.aggregated.as_deref(),
        };
        let mut done =
            scan_account(&self.directory, account, &self.directory.opts, &scan_shared).await;
        if let Some((org, cache)) = &self.organization {
            let path = scp_path(org, account, cache).await;
            done.inventory.scp_paths.insert(account.to_owned(), path);
        }
        // Its scan is done: keep its credentials (another account may still read a key it
        // owns), not its clients of every region.
        if let Ok(clients) = self.directory.account(account).await {
            clients.release_regional();
        }
        done
    }
}

/// Every account's clients, built once per scan: for its own scan, for reading the keys it owns
/// for the others, and for the policy simulations of its principals.
struct Directory {
    session: Session,
    shared: Shared,
    opts: ScanOptions,
    in_scope: BTreeSet<String>,
    clients: Once<String, Result<Arc<AccountClients>, CollectionError>>,
}

impl Directory {
    async fn account(&self, account: &str) -> Result<Arc<AccountClients>, CollectionError> {
        self.clients
            .get_or_compute(account.to_owned(), async {
                account_clients(&self.session, &self.shared, account, &self.opts)
                    .await
                    .map(Arc::new)
            })
            .await
            .0
    }
}

impl crate::collect::Accounts for Directory {
    fn in_scope(&self, account: &str) -> bool {
        self.in_scope.contains(account)
    }

    fn clients<'a>(
        &'a self,
        account: &'a str,
    ) -> BoxFuture<'a, Result<Arc<dyn ClientSource>, CollectionError>> {
        Box::pin(async move {
            self.account(account)
                .await
                .map(|c| c as Arc<dyn ClientSource>)
        })
    }
}

async fn scan_account(
    directory: &Directory,
    account: &str,
    opts: &ScanOptions,
    scan_shared: &ScanShared<'_>,
) -> AccountScan {
    let clients = match directory.account(account).await {
        Ok(c) => c,
        Err(err) => return failed(account, opts.regions.as_deref(), err),
    };
    let regions = match &opts.regions {
        Some(r) => r.clone(),
        None => match enabled_regions(&clients.account()).await {
            Ok(r) => r,
            Err(err) => {
                let err = CollectionError {
                    operation: "account:ListRegions".into(),
                    kind: ErrorKind::Other,
                    code: None,
                    message: err.to_string(),
                };
                return failed(account, None, err);
            }
        },
    };
    let inventory = scan(
        clients.as_ref(),
        account,
        &regions,
        opts.region_concurrency,
        scan_shared,
    )
    .await;
    AccountScan {
        account: account.to_owned(),
        inventory,
        setup_error: None,
    }
}

/// An account that could not be scanned: every target it would have had is unknown, so every
/// rule reports an error for it and nothing about it can pass. Without `--regions` its regions
/// are unknown too, and it is one target, region `*`.
fn failed(account: &str, regions: Option<&[String]>, err: CollectionError) -> AccountScan {
    let regions: Vec<String> = regions.map_or_else(|| vec!["*".to_owned()], <[String]>::to_vec);
    let targets = regions
        .into_iter()
        .map(|region| XrayTarget {
            account: account.to_owned(),
            region,
            origin: Origin::Live,
            encryption: Observed::Unknown(err.clone()),
            trails: Some(Observed::Unknown(err.clone())),
            segment_destination: Some(Observed::Unknown(err.clone())),
        })
        .collect();
    AccountScan {
        account: account.to_owned(),
        inventory: Inventory {
            targets,
            ..Inventory::default()
        },
        setup_error: Some(err),
    }
}

/// The caller's own account uses the caller's credentials; any other is reached through
/// `role_name`. The first AssumeRole happens here, so a denied role is one clear error.
///
/// Every account's role is assumed through the scan's one STS client (`Shared::sts`): a client
/// per account (as `aws_config`'s `AssumeRoleProvider` builds one) was kept for the whole scan,
/// because another account may still read a key the account owns, and was 14 KB an account.
pub async fn account_clients(
    session: &Session,
    shared: &Shared,
    account: &str,
    opts: &ScanOptions,
) -> Result<AccountClients, CollectionError> {
    if account == session.identity.account {
        return Ok(AccountClients::new(session.config.clone(), shared.clone()));
    }
    let partition = session.identity.arn.split(':').nth(1).unwrap_or("aws");
    let role = Role {
        sts: shared.sts(&session.config),
        arn: format!("arn:{partition}:iam::{account}:role/{}", opts.role_name),
        session_name: opts.session_name.clone(),
        external_id: opts.external_id.clone(),
    };
    let first = role.assume().await?;
    // Each account gets its own credentials cache: the one the SDK shares between configs keeps
    // at most 64 partitions, so in a larger scan accounts would evict each other's credentials and
    // assume their roles again.
    let config = session
        .config
        .clone()
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(Primed {
            first: Mutex::new(Some(first)),
            role,
        }))
        .identity_cache(IdentityCache::lazy().build())
        .build();
    Ok(AccountClients::new(config, shared.clone()))
}

/// An account's role, and how to assume it.
#[derive(Debug)]
struct Role {
    sts: aws_sdk_sts::Client,
    arn: String,
    session_name: String,
    external_id: Option<String>,
}

impl Role {
    async fn assume(&self) -> Result<Credentials, CollectionError> {
        let out = self
            .sts
            .assume_role()
            .role_arn(&self.arn)
            .role_session_name(&self.session_name)
            .set_external_id(self.external_id.clone())
            .send()
            .await
            .map_err(|e| {
                let mut classified = classify("sts:AssumeRole", &e);
                classified.message = format!("{}: {}", self.arn, classified.message);
                classified
            })?;
        let malformed = |what: &str| CollectionError {
            operation: "sts:AssumeRole".into(),
            kind: ErrorKind::Other,
            code: None,
            message: format!("{}: AssumeRole answered without {what}", self.arn),
        };
        let c = out.credentials().ok_or_else(|| malformed("credentials"))?;
        let expiry = SystemTime::try_from(*c.expiration())
            .map_err(|_| malformed("a valid expiration time"))?;
        Ok(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            Some(expiry),
            "xray-cmk AssumeRole",
        ))
    }
}

/// Hands out the credentials fetched up front once, then assumes the role again. The SDK's
/// identity cache in front of it refreshes them before they expire.
#[derive(Debug)]
struct Primed {
    first: Mutex<Option<Credentials>>,
    role: Role,
}

/// Credentials closer than this to expiry are not handed out from the first fetch.
const EXPIRY_MARGIN: Duration = Duration::from_secs(300);

impl ProvideCredentials for Primed {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let first = self
            .first
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .filter(|c| {
                c.expiry()
                    .is_none_or(|e| e > SystemTime::now() + EXPIRY_MARGIN)
            });
        future::ProvideCredentials::new(async move {
            match first {
                Some(c) => Ok(c),
                None => self.role.assume().await.map_err(|e| {
                    CredentialsError::provider_error(format!("{}: {}", e.operation, e.message))
                }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xray_cmk_core::Status;

    #[test]
    fn a_failed_account_is_an_error_everywhere_never_a_pass() {
        let err = CollectionError {
            operation: "sts:AssumeRole".into(),
            kind: ErrorKind::AccessDenied,
            code: Some("AccessDenied".into()),
            message: "not authorized".into(),
        };
        let regions = ["eu-west-1".to_owned(), "us-east-1".to_owned()];
        let scan = failed("111122223333", Some(&regions), err.clone());
        assert_eq!(scan.inventory.targets.len(), 2);
        let policy = xray_cmk_core::OrgPolicy::default();
        let cx = xray_cmk_core::Context {
            inventory: &scan.inventory,
            policy: &policy,
            today: xray_cmk_core::Date::new(2026, 11, 28).expect("date"),
            rules: xray_cmk_core::rules::ALL,
        };
        let findings = xray_cmk_core::evaluate(&cx);
        assert!(!findings.is_empty());
        assert!(findings.iter().all(|f| f.status == Status::Error));

        let unknown_regions = failed("111122223333", None, err);
        assert_eq!(unknown_regions.inventory.targets[0].region, "*");
    }
}
