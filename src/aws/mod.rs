//! The ports implemented with the AWS SDK for Rust. Each adapter turns SDK output into this
//! crate's types and SDK errors into [`ServiceError`] (operation, AWS error code, message).
//!
//! Clients are built once from the standard AWS configuration chain, so `AWS_REGION`,
//! credentials and `AWS_ENDPOINT_URL[_<SERVICE>]` work as everywhere else; the local stand-in
//! is reached through those same variables. They share one HTTPS client (`http.rs`), whose TLS
//! set-up happens once, at the first call.

mod autoscaling;
mod cloudwatch;
mod ec2;
mod http;
pub mod s3;
mod sqs;

use std::time::Duration;

use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::ports::ServiceError;
use crate::ports::Services;

pub use autoscaling::AutoScalingGroups;
pub use cloudwatch::CloudWatchMetrics;
pub use ec2::Ec2Instances;
pub use http::shared_https_client;
pub use s3::S3LogStore;
pub use sqs::SqsQueue;

/// The production set of ports.
pub type AwsServices =
    Services<S3LogStore, AutoScalingGroups, Ec2Instances, CloudWatchMetrics, SqsQueue>;

/// Builds every client once from the environment's AWS configuration. `s3_path_style` is
/// `LOGSCALE_S3_PATH_STYLE` as the config read it; unset, see [`path_style`].
///
/// Each call gets a time limit so one hung connection cannot eat the invocation's 60 s: an
/// attempt may take 10 s and a call, with the SDK's retries (standard mode: throttling and 5xx
/// answers are retried with backoff), 25 s.
pub async fn services_from_env(s3_path_style: Option<bool>) -> AwsServices {
    services_from_sdk_config(&sdk_config_from_env().await, path_style(s3_path_style))
}

/// The environment's AWS configuration with the cycle's call time limits (see
/// [`services_from_env`]), for a binary that needs fewer clients than all of them.
pub async fn sdk_config_from_env() -> aws_config::SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(25))
        .build();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .http_client(shared_https_client())
        .load()
        .await
}

/// The S3 store alone, with the cycle's call time limits: all the summarizer uses, so it builds
/// no other client at start.
pub async fn log_store_from_env(s3_path_style: Option<bool>) -> S3LogStore {
    let sdk = sdk_config_from_env().await;
    S3LogStore::new(s3::client(&sdk, path_style(s3_path_style)))
}

/// An S3 store for uploads (`logscale loggen --s3`), from the environment's AWS configuration
/// without the cycle's call time limits: a large body may take longer than a cycle's call.
pub async fn uploader_from_env(s3_path_style: Option<bool>) -> S3LogStore {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    S3LogStore::new(s3::client(&sdk, path_style(s3_path_style)))
}

/// Builds every client from an already loaded configuration.
pub fn services_from_sdk_config(sdk: &aws_config::SdkConfig, s3_path_style: bool) -> AwsServices {
    Services {
        logs: S3LogStore::new(s3::client(sdk, s3_path_style)),
        groups: AutoScalingGroups::new(aws_sdk_autoscaling::Client::new(sdk)),
        instances: Ec2Instances::new(aws_sdk_ec2::Client::new(sdk)),
        metrics: CloudWatchMetrics::new(aws_sdk_cloudwatch::Client::new(sdk)),
        queue: SqsQueue::new(sdk),
    }
}

/// Path-style S3 addressing as asked (`LOGSCALE_S3_PATH_STYLE`), else when an endpoint
/// override is set: local stand-ins do not resolve bucket host names. The override is read
/// here, next to the SDK configuration that reads the same variables.
pub(crate) fn path_style(asked: Option<bool>) -> bool {
    asked.unwrap_or_else(|| {
        ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
            .iter()
            .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()))
    })
}

/// An SDK error as a [`ServiceError`]: the AWS error code when there is one, and a message that
/// includes the whole chain of causes (a connection error says which endpoint refused).
pub(crate) fn service_error<E>(operation: &'static str, err: E) -> ServiceError
where
    E: ProvideErrorMetadata + std::error::Error,
{
    let message = match err.message() {
        Some(m) => m.to_string(),
        None => DisplayErrorContext(&err).to_string(),
    };
    ServiceError::new(operation, err.code(), message)
}

/// SDK time → chrono time.
pub(crate) fn to_chrono(t: &aws_smithy_types::DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

/// chrono time → SDK time.
pub fn to_smithy(t: chrono::DateTime<chrono::Utc>) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_millis(t.timestamp_millis())
}
