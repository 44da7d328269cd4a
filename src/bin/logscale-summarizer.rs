//! The summarizer Lambda (issue 12): wires tracing, configuration and the S3 client once, then
//! serves the discovery queue's batches (an SQS event source mapping with
//! `ReportBatchItemFailures`): one summary object per announced log object. The rules are in
//! `logscale::summarize`.

use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

use logscale::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let store = logscale::aws::log_store_from_env(config.s3_path_style).await;
    let shared = Arc::new((config, store));

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let shared = Arc::clone(&shared);
        async move {
            let (config, store) = &*shared;
            // A second kept back, so a batch cut short still answers in time.
            let deadline =
                logscale::deadline_from_clocks(event.context.deadline, Duration::from_secs(1));
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
