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
use crate::error::{classify, SetupError};
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

/// The accounts one scan covers.
#[derive(Debug, Clone, Default)]
pub struct AccountSource {
    /// Known before the scan starts (`--accounts`, `--ou`, the caller's own account); scanned
    /// first, in this order.
    pub known: Vec<String>,
    /// `--org`: the organization's ACTIVE accounts, listed while the scan runs.
    pub organization: Option<aws_sdk_organizations::Client>,
    /// Never scanned (`--exclude-accounts`), wherever they were named or listed.
    pub excluded: BTreeSet<String>,
}

impl AccountSource {
    /// Exactly these accounts.
    pub fn fixed(accounts: Vec<String>) -> Self {
        AccountSource {
            known: accounts,
            ..AccountSource::default()
        }
    }

    /// Every account, sorted, the organization listed in full first: for a command that reaches
    /// every account before it changes anything (`verify`).
    pub async fn all(self) -> Result<Vec<String>, SetupError> {
        let scope = Arc::new(Scope::default());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        list(self, Arc::clone(&scope), tx).await;
        while let Some(listed) = rx.recv().await {
            listed?;
        }
        Ok(scope.accounts())
    }
}

/// Scans the accounts of `source`, at most `account_concurrency` at a time, calling `on_account`
/// as each one finishes (with the number of accounts listed so far), so results can be written
/// before the whole organization is done. `policy` names the principals whose access to the keys
/// in use is judged. Returns the accounts scanned, sorted.
///
/// The organization's listing runs as its own task beside the scans: at 20 accounts a
/// `ListAccounts` page, 10,000 accounts are 500 sequential calls, and the first accounts are
/// scanned while the rest are listed. Whether an account is in the scan (a key's owner, read
/// through its own role) is answered at once for an account already listed, and otherwise only
/// once the listing is complete. A page that cannot be read is the scan's error: the scans still
/// running are stopped, and nothing is returned as if the organization were smaller.
///
/// Each account's scan is its own task on the runtime's worker threads (not one future polled on
/// the caller's thread), so an organization scan uses every core; what the accounts share (the
/// clients directory, the key and simulator caches, the organization's tree) is in one
/// [`ScanState`] they all hold. A task that panics is that account's error, never a lost account.
pub async fn scan_accounts(
    session: &Session,
    shared: &Shared,
    source: AccountSource,
    opts: &ScanOptions,
    policy: &OrgPolicy,
    mut on_account: impl FnMut(AccountScan, usize),
) -> Result<Vec<String>, SetupError> {
    let scope = Arc::new(Scope::default());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let listing = Abort(tokio::spawn(list(source, Arc::clone(&scope), tx)));
    let state = Arc::new(ScanState {
        directory: Directory {
            session: session.clone(),
            shared: shared.clone(),
            opts: opts.clone(),
            scope: Arc::clone(&scope),
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
    let listed = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|a| (a, rx)) });
    let scans = listed
        .map(|listed: Result<String, SetupError>| {
            let state = Arc::clone(&state);
            let regions = opts.regions.clone();
            async move {
                let account = listed?;
                let task = Abort(tokio::spawn({
                    let account = account.clone();
                    async move { state.scan(&account).await }
                }));
                Ok(task.await.unwrap_or_else(|err| {
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
                }))
            }
        })
        .buffer_unordered(opts.account_concurrency.max(1));
    let mut scans = std::pin::pin!(scans);
    while let Some(done) = scans.next().await {
        // A listing error returns here, and dropping `scans` aborts the scans still running.
        on_account(done?, scope.len());
    }
    drop(listing);
    Ok(scope.accounts())
}

/// Sends every account of `source` to the scan once, known ones first, then the organization's
/// as each page is read; marks the scope complete at the end, error or not.
async fn list(
    source: AccountSource,
    scope: Arc<Scope>,
    tx: tokio::sync::mpsc::UnboundedSender<Result<String, SetupError>>,
) {
    let AccountSource {
        known,
        organization,
        excluded,
    } = source;
    let admit = |account: String| {
        if !excluded.contains(&account) && scope.admit(&account) {
            // A closed channel means the scan ended; nothing is left to tell it.
            let _ = tx.send(Ok(account));
        }
    };
    known.into_iter().for_each(admit);
    if let Some(org) = organization {
        let mut pages = std::pin::pin!(crate::org::active_account_pages(&org));
        while let Some(page) = pages.next().await {
            match page {
                Ok(accounts) => accounts.into_iter().map(|a| a.id).for_each(admit),
                Err(err) => {
                    let _ = tx.send(Err(err));
                    break;
                }
            }
        }
    }
    scope.complete();
}

/// The accounts listed so far, and whether the listing is complete.
struct Scope {
    listed: Mutex<BTreeSet<String>>,
    complete: tokio::sync::watch::Sender<bool>,
}

impl Default for Scope {
    fn default() -> Self {
        Scope {
            listed: Mutex::default(),
            complete: tokio::sync::watch::Sender::new(false),
        }
    }
}

impl Scope {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        // Only inserts and lookups happen under the lock: a panic cannot leave it half-changed.
        self.listed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds `account`; false when it was listed already.
    fn admit(&self, account: &str) -> bool {
        self.lock().insert(account.to_owned())
    }

    fn complete(&self) {
        self.complete.send_replace(true);
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    fn accounts(&self) -> Vec<String> {
        self.lock().iter().cloned().collect()
    }

    /// Whether `account` is scanned: at once if it is listed, else when the listing is complete.
    async fn contains(&self, account: &str) -> bool {
        if self.lock().contains(account) {
            return true;
        }
        let mut complete = self.complete.subscribe();
        // The sender lives as long as `self`, so this only returns once the listing is done.
        let _ = complete.wait_for(|done| *done).await;
        self.lock().contains(account)
    }
}

/// A spawned task that is stopped when its handle is dropped (a scan that ended early).
struct Abort<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for Abort<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> std::future::Future for Abort<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
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
    scope: Arc<Scope>,
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
    fn in_scope<'a>(&'a self, account: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(self.scope.contains(account))
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
        assert!(findings.iter().all(|f| f.status() == Status::Error));

        let unknown_regions = failed("111122223333", None, err);
        assert_eq!(unknown_regions.inventory.targets[0].region, "*");
    }

    mod listing {
        use super::super::*;
        use aws_sdk_organizations::operation::list_accounts::{
            ListAccountsError, ListAccountsOutput,
        };
        use aws_sdk_organizations::types::{Account, AccountState};
        use aws_smithy_mocks::{mock, mock_client, RuleMode};

        fn active(id: &str) -> Account {
            Account::builder()
                .id(id)
                .state(AccountState::Active)
                .build()
        }

        fn source(
            org: Option<aws_sdk_organizations::Client>,
            known: &[&str],
            excluded: &[&str],
        ) -> AccountSource {
            AccountSource {
                known: known.iter().map(|a| (*a).to_owned()).collect(),
                organization: org,
                excluded: excluded.iter().map(|a| (*a).to_owned()).collect(),
            }
        }

        /// What `list` sends, in order, and the scope it leaves.
        async fn listed(source: AccountSource) -> (Vec<Result<String, String>>, Arc<Scope>) {
            let scope = Arc::new(Scope::default());
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            list(source, Arc::clone(&scope), tx).await;
            let mut sent = Vec::new();
            while let Some(item) = rx.recv().await {
                sent.push(item.map_err(|e| e.to_string()));
            }
            (sent, scope)
        }

        #[tokio::test]
        async fn known_accounts_first_then_each_page_once_less_the_excluded() {
            let p1 = mock!(aws_sdk_organizations::Client::list_accounts)
                .match_requests(|r| r.next_token().is_none())
                .then_output(|| {
                    ListAccountsOutput::builder()
                        .accounts(active("333333333333"))
                        .accounts(active("111111111111"))
                        .next_token("t")
                        .build()
                });
            let p2 = mock!(aws_sdk_organizations::Client::list_accounts)
                .match_requests(|r| r.next_token() == Some("t"))
                .then_output(|| {
                    ListAccountsOutput::builder()
                        .accounts(active("444444444444"))
                        .accounts(active("222222222222"))
                        .build()
                });
            let org = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, [&p1, &p2]);
            let (sent, scope) = listed(source(
                Some(org),
                &["111111111111", "555555555555"],
                &["444444444444"],
            ))
            .await;
            let sent: Vec<_> = sent.into_iter().map(|a| a.expect("account")).collect();
            assert_eq!(
                sent,
                [
                    "111111111111",
                    "555555555555",
                    "333333333333",
                    "222222222222"
                ]
            );
            assert_eq!(
                scope.accounts(),
                [
                    "111111111111",
                    "222222222222",
                    "333333333333",
                    "555555555555"
                ]
            );
            // The listing is complete: an account never listed is answered at once.
            assert!(!scope.contains("444444444444").await);
            assert!(scope.contains("222222222222").await);
        }

        /// A page that cannot be read is the last thing sent: the scan ends with it, never as if
        /// the organization had only the accounts listed before it.
        #[tokio::test]
        async fn a_page_that_cannot_be_read_ends_the_listing_with_its_error() {
            let p1 = mock!(aws_sdk_organizations::Client::list_accounts)
                .match_requests(|r| r.next_token().is_none())
                .then_output(|| {
                    ListAccountsOutput::builder()
                        .accounts(active("111111111111"))
                        .next_token("t")
                        .build()
                });
            let p2 = mock!(aws_sdk_organizations::Client::list_accounts)
                .match_requests(|r| r.next_token() == Some("t"))
                .then_error(|| {
                    ListAccountsError::generic(
                        aws_smithy_types::error::ErrorMetadata::builder()
                            .code("AccessDeniedException")
                            .message("not authorized")
                            .build(),
                    )
                });
            let org = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, [&p1, &p2]);
            let (sent, scope) = listed(source(Some(org), &[], &[])).await;
            assert_eq!(sent.len(), 2, "{sent:?}");
            assert_eq!(sent[0].as_deref(), Ok("111111111111"));
            let err = sent[1].as_ref().expect_err("the page's error");
            assert!(err.contains("organizations:ListAccounts"), "{err}");
            // Those waiting on the scope are released (the scan stops on the error).
            assert!(!scope.contains("999999999999").await);
        }

        /// An account not listed yet is answered only when the listing is done: a key owned by an
        /// account on a later page is still read through that account's role.
        #[tokio::test]
        async fn an_account_not_listed_yet_is_answered_when_the_listing_is_done() {
            let scope = Arc::new(Scope::default());
            scope.admit("111111111111");
            assert!(scope.contains("111111111111").await);
            let asking = tokio::spawn({
                let scope = Arc::clone(&scope);
                async move { scope.contains("222222222222").await }
            });
            tokio::task::yield_now().await;
            assert!(
                !asking.is_finished(),
                "answered before the listing was done"
            );
            scope.admit("222222222222");
            scope.complete();
            assert!(asking.await.expect("task"));
        }
    }
}
