//! The summarizer Lambda (issue 12): wires tracing, configuration and the S3 client once, then
//! serves the discovery queue's batches (an SQS event source mapping with
//! `ReportBatchItemFailures`): one summary object per announced log object. The rules are in
//! `logscale::summarize`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

use logscale::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let services = logscale::aws::services_from_env(config.s3_path_style).await;
    let shared = Arc::new((config, services.logs));

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let shared = Arc::clone(&shared);
        async move {
            let (config, store) = &*shared;
            let deadline = deadline_instant(event.context.deadline);
            let (response, report) = logscale::summarize::summarize_batch(
                config,
                store,
                &event.payload,
                chrono::Utc::now(),
                deadline,
            )
            .await;
            // One line: what the batch did, beside the response SQS reads.
            println!("{}", serde_json::to_string(&report)?);
            Ok::<_, Error>(serde_json::to_value(&response)?)
        }
    }))
    .await
}

/// The invocation's deadline (epoch milliseconds) as a monotonic instant.
fn deadline_instant(deadline_ms: u64) -> Option<tokio::time::Instant> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    logscale::deadline_from_epoch_ms(
        deadline_ms,
        now_ms,
        tokio::time::Instant::now(),
        Duration::from_secs(1),
    )
}
