//! The synthetic organization of `bench/seed_synthetic.py`, computed from its parameters
//! (accounts, regions, seed) instead of seeded through API calls.
//!
//! Postures repeat every 20 accounts exactly as `posture_for` in the seeder does, so the verdict
//! counts match an emulator run of the same size. Ids differ: the emulator draws them from moto's
//! generator, the stub derives them from the seed (a bijection, so they never collide).

use std::collections::HashMap;

pub const MANAGEMENT_ACCOUNT_ID: u64 = 123_456_789_012;
pub const HOME_REGION: &str = "us-east-1";
pub const MEMBER_ROLE_NAME: &str = "OrganizationAccountAccessRole";
pub const KEY_ALIAS: &str = "alias/xray-cmk";
pub const ORGANIZATION_ID: &str = "o-stub0000001";
pub const ROOT_ID: &str = "r-stub";

/// The regions that predate opt-in, sorted (as the seeder's `DEFAULT_REGIONS`).
pub const DEFAULT_REGIONS: [&str; 17] = [
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];
pub const LEAF_OUS: [&str; 3] = ["Security", "Prod", "NonProd"];
/// The AWS managed aliases moto lists in every region (without a target until the key exists).
pub const AWS_ALIASES: [&str; 14] = [
    "alias/aws/acm",
    "alias/aws/dynamodb",
    "alias/aws/ebs",
    "alias/aws/elasticfilesystem",
    "alias/aws/es",
    "alias/aws/glue",
    "alias/aws/kinesisvideo",
    "alias/aws/lambda",
    "alias/aws/rds",
    "alias/aws/redshift",
    "alias/aws/s3",
    "alias/aws/secretsmanager",
    "alias/aws/ssm",
    "alias/aws/xray",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posture {
    Cmk,
    AwsManagedKey,
    DefaultNone,
    CmkRotationDisabled,
    CmkDisabled,
    CmkPendingDeletion,
}

impl Posture {
    /// `posture_for` of seed_synthetic.py.
    pub fn for_index(index: u32) -> Posture {
        match index % 20 {
            0..=13 => Posture::Cmk,
            14 | 15 => Posture::AwsManagedKey,
            16 | 17 => Posture::DefaultNone,
            18 => Posture::CmkRotationDisabled,
            _ if (index / 20).is_multiple_of(2) => Posture::CmkDisabled,
            _ => Posture::CmkPendingDeletion,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Posture::Cmk => "cmk",
            Posture::AwsManagedKey => "aws-managed-key",
            Posture::DefaultNone => "default-none",
            Posture::CmkRotationDisabled => "cmk-rotation-disabled",
            Posture::CmkDisabled => "cmk-disabled",
            Posture::CmkPendingDeletion => "cmk-pending-deletion",
        }
    }

    /// One customer managed key in the home region, used by X-Ray in every region.
    pub fn has_customer_key(self) -> bool {
        matches!(
            self,
            Posture::Cmk
                | Posture::CmkRotationDisabled
                | Posture::CmkDisabled
                | Posture::CmkPendingDeletion
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyManager {
    Customer,
    Aws,
}

/// A KMS key of an account, as DescribeKey and friends answer for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub id: String,
    pub region: &'static str,
    pub manager: KeyManager,
    pub posture: Posture,
}

impl Key {
    pub fn arn(&self, account: &str) -> String {
        format!("arn:aws:kms:{}:{account}:key/{}", self.region, self.id)
    }
}

#[derive(Debug)]
pub struct Account {
    pub index: u32,
    pub id: String,
    pub posture: Posture,
}

#[derive(Debug)]
pub struct Org {
    pub seed: u64,
    pub regions: usize,
    pub accounts: Vec<Account>,
    by_id: HashMap<u64, u32>,
}

/// splitmix64: a fixed, well-mixed function of its input (ids, fault draws).
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const ID_SPACE: u64 = 1_000_000_000_000;
// Coprime with 10^12 (odd, not a multiple of 5): index -> id is a bijection.
const ID_STEP: u64 = 7_919_000_003;

fn member_id(seed: u64, index: u32) -> u64 {
    let offset = 200_000_000_000 + mix(seed) % 700_000_000_000;
    ((offset as u128 + index as u128 * ID_STEP as u128) % ID_SPACE as u128) as u64
}

fn uuid(seed: u64, account_index: u32, slot: u64) -> String {
    let a = mix(seed ^ mix(((account_index as u64) << 8) | slot));
    let b = mix(a ^ 0x5555_5555_5555_5555);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

impl Org {
    pub fn new(accounts: u32, regions: usize, seed: u64) -> Org {
        let mut list = Vec::with_capacity(accounts as usize);
        let mut by_id = HashMap::with_capacity(accounts as usize);
        for index in 0..accounts {
            let id = if index == 0 {
                MANAGEMENT_ACCOUNT_ID
            } else {
                member_id(seed, index)
            };
            by_id.insert(id, index);
            list.push(Account {
                index,
                id: format!("{id:012}"),
                posture: Posture::for_index(index),
            });
        }
        Org {
            seed,
            regions,
            accounts: list,
            by_id,
        }
    }

    pub fn regions(&self) -> &'static [&'static str] {
        &DEFAULT_REGIONS[..self.regions]
    }

    /// Whether the seeder configured this region (the first R, sorted).
    pub fn seeded_region(&self, region: &str) -> bool {
        self.regions().contains(&region)
    }

    pub fn account(&self, id: &str) -> Option<&Account> {
        let n: u64 = id.parse().ok()?;
        if id.len() != 12 {
            return None;
        }
        self.by_id.get(&n).map(|&i| &self.accounts[i as usize])
    }

    pub fn management(&self) -> &Account {
        &self.accounts[0]
    }

    /// The customer managed key, in the home region.
    pub fn customer_key(&self, acct: &Account) -> Option<Key> {
        acct.posture.has_customer_key().then(|| Key {
            id: uuid(self.seed, acct.index, 0xff),
            region: HOME_REGION,
            manager: KeyManager::Customer,
            posture: acct.posture,
        })
    }

    /// The AWS managed key of X-Ray in a seeded region (created by the seeder's first use).
    pub fn aws_managed_key(&self, acct: &Account, region: &str) -> Option<Key> {
        if acct.posture != Posture::AwsManagedKey {
            return None;
        }
        let slot = self.regions().iter().position(|r| *r == region)?;
        Some(Key {
            id: uuid(self.seed, acct.index, slot as u64),
            region: DEFAULT_REGIONS[slot],
            manager: KeyManager::Aws,
            posture: acct.posture,
        })
    }

    /// Every key of the account in one region, as ListKeys lists them.
    pub fn keys_in(&self, acct: &Account, region: &str) -> Vec<Key> {
        let mut keys = Vec::new();
        if region == HOME_REGION {
            keys.extend(self.customer_key(acct));
        }
        keys.extend(self.aws_managed_key(acct, region));
        keys
    }

    /// Resolve a KeyId parameter (key id, key ARN or alias name/ARN) in the caller's region.
    pub fn find_key(&self, acct: &Account, region: &str, key_id: &str) -> Option<Key> {
        let key_id = match key_id.strip_prefix("arn:aws:kms:") {
            Some(rest) => {
                let mut parts = rest.splitn(3, ':');
                let (r, a, res) = (parts.next()?, parts.next()?, parts.next()?);
                if r != region || a != acct.id {
                    return None;
                }
                res.strip_prefix("key/").unwrap_or(res)
            }
            None => key_id,
        };
        self.keys_in(acct, region)
            .into_iter()
            .find(|k| match key_id {
                KEY_ALIAS => k.manager == KeyManager::Customer,
                "alias/aws/xray" => k.manager == KeyManager::Aws,
                id => k.id == id,
            })
    }

    /// X-Ray's encryption config of an account-region: the key ARN, or None for `Type: NONE`.
    pub fn xray_key_arn(&self, acct: &Account, region: &str) -> Option<String> {
        if !self.seeded_region(region) {
            return None; // the seeder never touched it: X-Ray's default
        }
        if let Some(k) = self.customer_key(acct) {
            return Some(k.arn(&acct.id));
        }
        self.aws_managed_key(acct, region).map(|k| k.arn(&acct.id))
    }

    /// The key policy the seeder gives its customer managed keys (`key_policy` there).
    pub fn customer_key_policy(&self, account: &str) -> String {
        let via: Vec<String> = self
            .regions()
            .iter()
            .map(|r| format!("xray.{r}.amazonaws.com"))
            .collect();
        let via = serde_json::json!({"StringEquals": {"kms:ViaService": via}});
        serde_json::json!({
            "Version": "2012-10-17",
            "Id": "xray-cmk-bench",
            "Statement": [
                {"Sid": "EnableRootAccess", "Effect": "Allow",
                 "Principal": {"AWS": format!("arn:aws:iam::{account}:root")}, "Action": "kms:*",
                 "Resource": "*"},
                {"Sid": "XRayConfigure", "Effect": "Allow",
                 "Principal": {"AWS": format!("arn:aws:iam::{account}:role/XrayAdmin")},
                 "Action": ["kms:CreateGrant", "kms:DescribeKey"], "Resource": "*", "Condition": via},
                {"Sid": "TraceReaders", "Effect": "Allow",
                 "Principal": {"AWS": format!("arn:aws:iam::{account}:role/TraceReader")},
                 "Action": "kms:Decrypt", "Resource": "*", "Condition": via},
            ],
        })
        .to_string()
    }

    /// The default policy of X-Ray's AWS managed key, as the emulator (moto) writes it.
    pub fn aws_managed_key_policy(account: &str, region: &str) -> String {
        serde_json::json!({
            "Version": "2012-10-17",
            "Id": "auto-xray-1",
            "Statement": [
                {"Sid": "Allow access through xray for all principals in the account that are authorized to use xray",
                 "Effect": "Allow", "Principal": {"AWS": "*"},
                 "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                            "kms:CreateGrant", "kms:DescribeKey"],
                 "Resource": "*",
                 "Condition": {"StringEquals": {"kms:CallerAccount": account,
                                                "kms:ViaService": format!("xray.{region}.amazonaws.com")}}},
                {"Sid": "Allow direct access to key metadata to the account", "Effect": "Allow",
                 "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                 "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"], "Resource": "*"},
            ],
        })
        .to_string()
    }

    /// The organization as seed_synthetic.py's `describe` receives it (`--org-out`).
    pub fn describe(&self) -> serde_json::Value {
        let ous = serde_json::json!([
            {"name": "Security", "id": "ou-stub-security", "parent": null, "parent_id": ROOT_ID},
            {"name": "Workloads", "id": "ou-stub-workloads", "parent": null, "parent_id": ROOT_ID},
            {"name": "Prod", "id": "ou-stub-prod", "parent": "Workloads", "parent_id": "ou-stub-workloads"},
            {"name": "NonProd", "id": "ou-stub-nonprod", "parent": "Workloads", "parent_id": "ou-stub-workloads"},
        ]);
        let accounts: Vec<serde_json::Value> = self
            .accounts
            .iter()
            .map(|a| {
                let (name, ou) = if a.index == 0 {
                    ("management".to_owned(), None)
                } else {
                    (
                        format!("bench-{:04}", a.index),
                        Some(LEAF_OUS[(a.index as usize - 1) % LEAF_OUS.len()]),
                    )
                };
                serde_json::json!({
                    "index": a.index, "account_id": a.id, "email": format!("{name}@example.com"),
                    "name": name, "ou": ou, "posture": a.posture.as_str(),
                    "key_arn": self.customer_key(a).map(|k| k.arn(&a.id)),
                })
            })
            .collect();
        serde_json::json!({
            "organization": {"id": ORGANIZATION_ID,
                             "arn": format!("arn:aws:organizations::{MANAGEMENT_ACCOUNT_ID}:organization/{ORGANIZATION_ID}"),
                             "root_id": ROOT_ID},
            "ous": ous,
            "accounts": accounts,
            "regions": self.regions(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn postures_repeat_as_the_seeder_draws_them() {
        let org = Org::new(100, 17, 1);
        let count = |p: Posture| org.accounts.iter().filter(|a| a.posture == p).count();
        assert_eq!(count(Posture::Cmk), 70);
        assert_eq!(count(Posture::AwsManagedKey), 10);
        assert_eq!(count(Posture::DefaultNone), 10);
        assert_eq!(count(Posture::CmkRotationDisabled), 5);
        assert_eq!(count(Posture::CmkDisabled), 3);
        assert_eq!(count(Posture::CmkPendingDeletion), 2);
        assert_eq!(org.accounts[19].posture, Posture::CmkDisabled);
        assert_eq!(org.accounts[39].posture, Posture::CmkPendingDeletion);
    }

    #[test]
    fn ids_are_deterministic_unique_and_twelve_digits() {
        let a = Org::new(20_000, 17, 1);
        let b = Org::new(20_000, 17, 1);
        let ids: HashSet<&str> = a.accounts.iter().map(|x| x.id.as_str()).collect();
        assert_eq!(ids.len(), 20_000);
        assert!(a.accounts.iter().all(|x| x.id.len() == 12));
        assert_eq!(a.accounts[0].id, "123456789012");
        assert!(a
            .accounts
            .iter()
            .zip(&b.accounts)
            .all(|(x, y)| x.id == y.id));
        let c = Org::new(3, 17, 2);
        assert_ne!(a.accounts[1].id, c.accounts[1].id);
        for x in &a.accounts {
            assert_eq!(a.account(&x.id).map(|y| y.index), Some(x.index));
        }
    }

    #[test]
    fn keys_live_where_the_seeder_puts_them() {
        let org = Org::new(40, 3, 1);
        let cmk = &org.accounts[1];
        let key = org.customer_key(cmk).expect("a cmk account has a key");
        assert_eq!(key.region, "us-east-1");
        assert!(org.keys_in(cmk, "ap-northeast-1").is_empty());
        assert_eq!(org.keys_in(cmk, "us-east-1"), vec![key.clone()]);
        // X-Ray uses the home-region key by ARN in every seeded region, NONE elsewhere.
        assert_eq!(
            org.xray_key_arn(cmk, "ap-northeast-2"),
            Some(key.arn(&cmk.id))
        );
        assert_eq!(org.xray_key_arn(cmk, "us-east-1"), None);
        let managed = &org.accounts[14];
        let k1 = org.aws_managed_key(managed, "ap-northeast-1").expect("key");
        let k2 = org.aws_managed_key(managed, "ap-northeast-2").expect("key");
        assert_ne!(k1.id, k2.id);
        assert_eq!(org.aws_managed_key(managed, "us-east-1"), None);
        assert_eq!(
            org.find_key(managed, "ap-northeast-1", &k1.arn(&managed.id)),
            Some(k1.clone())
        );
        assert_eq!(org.find_key(managed, "ap-northeast-2", &k1.id), None);
        assert_eq!(org.xray_key_arn(&org.accounts[16], "ap-northeast-1"), None);
    }
}
