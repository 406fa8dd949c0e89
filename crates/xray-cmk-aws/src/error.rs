//! The error model of AWS calls: an SDK error is classified ONCE, here, from its metadata (the
//! service's error code and HTTP status, or the SDK's timeout and dispatch failures) into the
//! core's [`CollectionError`], whose [`ErrorKind`] (denied, not found, throttled, invalid,
//! unreachable, other) is what every decision reads; no code reads an error's text. Also the
//! errors that stop a scan before it starts.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use xray_cmk_core::{CollectionError, ErrorKind};

/// Errors that make a scan impossible. Each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("no AWS credentials found: {detail}. Configure credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, `aws configure`, `aws sso login`) or pass --profile")]
    NoCredentials { detail: String },
    #[error("AWS profile `{profile}` could not be used: {detail}. Check `aws configure list-profiles` and your AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE")]
    Profile { profile: String, detail: String },
    #[error(
        "could not reach AWS{endpoint}: {detail}. Check your network, proxy or AWS_ENDPOINT_URL"
    )]
    Unreachable { endpoint: String, detail: String },
    #[error("{operation} failed: {detail}")]
    Call { operation: String, detail: String },
    #[error("AWS region `{region}` is not valid: a region is a name like `us-east-1`. Check --home-region, AWS_REGION / AWS_DEFAULT_REGION and the profile's `region`")]
    Region { region: String },
    #[error("the AWS credentials cannot be sent: {detail}. Check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, or the credentials file (a value split over two lines when pasted?)")]
    Credentials { detail: String },
    #[error("the endpoint{endpoint} answered {operation} with something that is not an AWS response ({detail}). Is AWS_ENDPOINT_URL an AWS endpoint (or a proxy's login page)?")]
    NotAws {
        endpoint: String,
        operation: String,
        detail: String,
    },
}

/// The innermost cause of an error, which is the part a person can act on
/// (`Connection refused (os error 111)`, `The SSO session has expired`).
pub fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

fn kind_for_code(code: &str, http_status: Option<u16>) -> ErrorKind {
    match code {
        "AccessDeniedException"
        | "AccessDenied"
        | "UnauthorizedOperation"
        | "UnauthorizedException"
        | "NotAuthorized"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "ExpiredTokenException"
        | "ExpiredToken" => ErrorKind::AccessDenied,
        "NotFoundException" | "ResourceNotFoundException" | "NoSuchEntity" => ErrorKind::NotFound,
        "ThrottlingException"
        | "ThrottledException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "Throttling" => ErrorKind::Throttled,
        "ValidationException"
        | "ValidationError"
        | "InvalidParameterException"
        | "InvalidParameterValue"
        | "InvalidParameterValueException"
        | "InvalidParameterCombination"
        | "InvalidRequestException"
        | "InvalidArnException"
        | "MalformedPolicyDocumentException" => ErrorKind::Invalid,
        _ => match http_status {
            Some(403) => ErrorKind::AccessDenied,
            Some(429) => ErrorKind::Throttled,
            _ => ErrorKind::Other,
        },
    }
}

/// Classifies an SDK error from `operation` (`service:Operation`) for the rules.
pub fn classify<E, R>(operation: &str, err: &SdkError<E, R>) -> CollectionError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    match err {
        SdkError::ServiceError(se) => {
            let code = se.err().code().map(str::to_owned);
            let status = se.raw().status_code();
            CollectionError {
                operation: operation.to_owned(),
                kind: kind_for_code(code.as_deref().unwrap_or(""), status),
                message: se
                    .err()
                    .message()
                    .map(str::to_owned)
                    .unwrap_or_else(|| match status {
                        Some(s) => format!("HTTP {s}"),
                        None => "no message".to_owned(),
                    }),
                code,
            }
        }
        SdkError::TimeoutError(_) => CollectionError {
            operation: operation.to_owned(),
            kind: ErrorKind::Unreachable,
            code: None,
            message:
                "no complete answer within the call's budget, retries included (--call-timeout)"
                    .to_owned(),
        },
        SdkError::DispatchFailure(_) => CollectionError {
            operation: operation.to_owned(),
            kind: ErrorKind::Unreachable,
            code: None,
            // The innermost cause (`Connection refused (os error 111)`), not the SDK's chain.
            message: match std::error::Error::source(err) {
                Some(inner) => root_cause(inner),
                None => DisplayErrorContext(err).to_string(),
            },
        },
        _ => CollectionError {
            operation: operation.to_owned(),
            kind: ErrorKind::Other,
            code: err.code().map(str::to_owned),
            message: DisplayErrorContext(err).to_string(),
        },
    }
}

/// The HTTP status of a raw response, abstracted so tests can classify without a real response.
pub trait HttpStatus {
    fn status_code(&self) -> Option<u16>;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> Option<u16> {
        Some(self.status().as_u16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        assert_eq!(
            kind_for_code("AccessDeniedException", Some(400)),
            ErrorKind::AccessDenied
        );
        assert_eq!(
            kind_for_code("NotFoundException", Some(400)),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind_for_code("ThrottledException", Some(429)),
            ErrorKind::Throttled
        );
        assert_eq!(
            kind_for_code("NoSuchEntity", Some(404)),
            ErrorKind::NotFound
        );
        assert_eq!(kind_for_code("", Some(403)), ErrorKind::AccessDenied);
        assert_eq!(kind_for_code("", Some(429)), ErrorKind::Throttled);
        assert_eq!(
            kind_for_code("InternalFailure", Some(500)),
            ErrorKind::Other
        );
        assert_eq!(
            kind_for_code("ValidationException", Some(400)),
            ErrorKind::Invalid
        );
        assert_eq!(
            kind_for_code("InvalidArnException", Some(400)),
            ErrorKind::Invalid
        );
    }
}
