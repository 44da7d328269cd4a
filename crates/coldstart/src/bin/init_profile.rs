//! Where logscale-lambda's start-up goes: the steps its `main` takes before the first poll of
//! the Runtime API, each timed once in a fresh process, printed as one JSON object of
//! microseconds. scripts/coldstart.py runs it in fresh processes with the function's
//! environment and prints the medians (`make coldstart`).

use std::time::Instant;

use serde_json::{Map, Value};

#[tokio::main]
async fn main() {
    let mut steps = Map::new();
    let mut mark = Instant::now();
    let mut step = |name: &str, steps: &mut Map<String, Value>| {
        let now = Instant::now();
        steps.insert(name.into(), ((now - mark).as_micros() as u64).into());
        mark = now;
    };
    lambda_runtime::tracing::init_default_subscriber();
    step("tracing_init", &mut steps);
    let config = logscale::Config::from_env().expect("the function's settings");
    step("settings", &mut steps);
    let sdk = logscale::aws::sdk_config_from_env().await;
    step("aws_config_load", &mut steps);
    let services =
        logscale::aws::services_from_sdk_config(&sdk, config.s3_path_style.unwrap_or(false));
    step("clients", &mut steps);
    let store = logscale::aws::S3LogStore::new(logscale::aws::s3::client(&sdk, false));
    step("one_more_s3_client", &mut steps);
    drop((services, store));
    println!("{}", Value::Object(steps));
}
