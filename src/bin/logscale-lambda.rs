//! The Lambda: wires tracing, configuration and the AWS clients once, then serves invocations.
//! Each invocation runs one cycle; its decision record is returned and logged as one JSON line,
//! followed by its metrics as one CloudWatch Embedded Metric Format line.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

use logscale::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let services = logscale::aws::services_from_env(config.s3_path_style).await;
    let shared = Arc::new((config, services));
    // The first invocation of this execution environment pays for its start-up.
    let cold = Arc::new(AtomicBool::new(true));

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let shared = Arc::clone(&shared);
        let cold_start = cold.swap(false, Ordering::Relaxed);
        async move {
            let (config, services) = &*shared;
            let deadline = logscale::deadline_from_clocks(event.context.deadline, Duration::ZERO);
            let now = chrono::Utc::now();
            let mut record =
                logscale::handle(config, services, &event.payload, now, deadline).await?;
            record.invocation = Some(logscale::Invocation {
                request_id: event.context.request_id.clone(),
                cold_start,
            });
            // One line each, so CloudWatch Logs keeps the record as a single event and extracts
            // the metrics from the other.
            println!("{}", record.to_json_line());
            if let Some(spec) = &config.metrics {
                println!("{}", logscale::metrics::emf_line(&record, spec));
            }
            Ok::<_, Error>(serde_json::to_value(&record)?)
        }
    }))
    .await
}
