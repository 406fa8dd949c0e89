//! Which accounts to scan: the organization's ACTIVE accounts, or those under an OU.

use aws_sdk_organizations::types::{Account, AccountState, AccountStatus};

use futures::StreamExt;

use crate::error::{classify, SetupError};

/// An account of the organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccount {
    pub id: String,
    pub name: Option<String>,
}

/// `State` is the current field; `Status` is deprecated but still the only one older APIs send.
fn is_active(a: &Account) -> bool {
    #[allow(deprecated)]
    match (a.state(), a.status()) {
        (Some(state), _) => *state == AccountState::Active,
        (None, Some(status)) => *status == AccountStatus::Active,
        (None, None) => false,
    }
}

fn to_org_account(a: &Account) -> Option<OrgAccount> {
    Some(OrgAccount {
        id: a.id()?.to_owned(),
        name: a.name().map(str::to_owned),
    })
}

fn call_error<E, R>(
    operation: &str,
    err: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> SetupError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + crate::error::HttpStatus,
{
    SetupError::Call {
        operation: operation.to_owned(),
        detail: format!(
            "{}. Run from the management account or a delegated administrator, or list accounts with --accounts",
            classify(operation, err)
        ),
    }
}

/// Every ACTIVE account of the organization (`organizations:ListAccounts`), sorted by id.
pub async fn active_accounts(
    org: &aws_sdk_organizations::Client,
) -> Result<Vec<OrgAccount>, SetupError> {
    let mut pages = std::pin::pin!(active_account_pages(org));
    let mut accounts = Vec::new();
    while let Some(page) = pages.next().await {
        accounts.extend(page?);
    }
    accounts.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(accounts)
}

/// The organization's ACTIVE accounts page by page, in the organization's order, as
/// `organizations:ListAccounts` returns them (at most 20 a page, so 500 pages for 10,000
/// accounts): an organization scan starts on the first page's accounts while the rest are listed.
/// A page that cannot be read ends the stream with its error.
pub fn active_account_pages(
    org: &aws_sdk_organizations::Client,
) -> impl futures::Stream<Item = Result<Vec<OrgAccount>, SetupError>> + Send + 'static {
    let pages = org.list_accounts().into_paginator().send();
    futures::stream::unfold(Some(pages), |pages| async move {
        let mut pages = pages?;
        let page = match pages.next().await? {
            Ok(page) => page,
            // The error is the stream's last item.
            Err(e) => return Some((Err(call_error("organizations:ListAccounts", &e)), None)),
        };
        let accounts = page
            .accounts()
            .iter()
            .filter(|a| is_active(a))
            .filter_map(to_org_account)
            .collect();
        Some((Ok(accounts), Some(pages)))
    })
}

/// The ACTIVE accounts in an organizational unit and all its children, breadth first.
pub async fn accounts_under(
    org: &aws_sdk_organizations::Client,
    ou: &str,
) -> Result<Vec<OrgAccount>, SetupError> {
    let mut queue = vec![ou.to_owned()];
    let mut accounts = Vec::new();
    while let Some(parent) = queue.pop() {
        let mut pages = org
            .list_accounts_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| call_error("organizations:ListAccountsForParent", &e))?;
            accounts.extend(
                page.accounts()
                    .iter()
                    .filter(|a| is_active(a))
                    .filter_map(to_org_account),
            );
        }
        let mut children = org
            .list_organizational_units_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send();
        while let Some(page) = children.next().await {
            let page =
                page.map_err(|e| call_error("organizations:ListOrganizationalUnitsForParent", &e))?;
            queue.extend(
                page.organizational_units()
                    .iter()
                    .filter_map(|ou| ou.id().map(str::to_owned)),
            );
        }
    }
    accounts.sort_by(|a, b| a.id.cmp(&b.id));
    accounts.dedup_by(|a, b| a.id == b.id);
    Ok(accounts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_organizations::operation::list_accounts::ListAccountsOutput;
    use aws_sdk_organizations::operation::list_accounts_for_parent::ListAccountsForParentOutput;
    use aws_sdk_organizations::operation::list_organizational_units_for_parent::ListOrganizationalUnitsForParentOutput;
    use aws_sdk_organizations::types::OrganizationalUnit;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn account(id: &str, state: AccountState) -> Account {
        Account::builder()
            .id(id)
            .name(format!("n{id}"))
            .state(state)
            .build()
    }

    #[tokio::test]
    async fn list_keeps_active_accounts_across_pages() {
        let p1 = mock!(aws_sdk_organizations::Client::list_accounts)
            .match_requests(|r| r.next_token().is_none())
            .then_output(|| {
                ListAccountsOutput::builder()
                    .accounts(account("222222222222", AccountState::Active))
                    .accounts(account("333333333333", AccountState::Suspended))
                    .next_token("t")
                    .build()
            });
        let p2 = mock!(aws_sdk_organizations::Client::list_accounts)
            .match_requests(|r| r.next_token() == Some("t"))
            .then_output(|| {
                ListAccountsOutput::builder()
                    .accounts(account("111111111111", AccountState::Active))
                    .build()
            });
        let org = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, [&p1, &p2]);
        let ids: Vec<_> = active_accounts(&org)
            .await
            .expect("accounts")
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(ids, ["111111111111", "222222222222"]);
    }

    #[tokio::test]
    async fn ou_walk_includes_children() {
        let in_root = mock!(aws_sdk_organizations::Client::list_accounts_for_parent)
            .match_requests(|r| r.parent_id() == Some("ou-root"))
            .then_output(|| {
                ListAccountsForParentOutput::builder()
                    .accounts(account("111111111111", AccountState::Active))
                    .build()
            });
        let in_child = mock!(aws_sdk_organizations::Client::list_accounts_for_parent)
            .match_requests(|r| r.parent_id() == Some("ou-child"))
            .then_output(|| {
                ListAccountsForParentOutput::builder()
                    .accounts(account("222222222222", AccountState::Active))
                    .accounts(account("444444444444", AccountState::Closed))
                    .build()
            });
        let child_ous = mock!(aws_sdk_organizations::Client::list_organizational_units_for_parent)
            .match_requests(|r| r.parent_id() == Some("ou-root"))
            .then_output(|| {
                ListOrganizationalUnitsForParentOutput::builder()
                    .organizational_units(OrganizationalUnit::builder().id("ou-child").build())
                    .build()
            });
        let leaf = mock!(aws_sdk_organizations::Client::list_organizational_units_for_parent)
            .match_requests(|r| r.parent_id() == Some("ou-child"))
            .then_output(|| ListOrganizationalUnitsForParentOutput::builder().build());
        let org = mock_client!(
            aws_sdk_organizations,
            RuleMode::MatchAny,
            [&in_root, &in_child, &child_ous, &leaf]
        );
        let ids: Vec<_> = accounts_under(&org, "ou-root")
            .await
            .expect("accounts")
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(ids, ["111111111111", "222222222222"]);
    }
}
