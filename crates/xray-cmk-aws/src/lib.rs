//! Reads X-Ray and KMS state from AWS into the core's [`Inventory`](xray_cmk_core::Inventory).
//!
//! This is the only crate that links the AWS SDK. Collection never judges: a failed call becomes an
//! [`Observed::Unknown`](xray_cmk_core::Observed) carrying the reason, and the rules decide.

pub mod aggregator;
pub mod clients;
pub mod collect;
pub mod error;
pub mod evidence;
pub mod fanout;
pub mod limits;
pub mod org;
pub mod permissions;
pub mod remediate;
pub mod respond;
pub mod securityhub;
pub mod session;
pub mod time;
pub mod verify;

pub use collect::{describe_key, scan, Accounts, AnswerCache, ClientSource, KeyCache, ScanShared};
pub use error::{classify, SetupError};
pub use session::{enabled_regions, load, Identity, RetryMode, Session, SessionOptions};
