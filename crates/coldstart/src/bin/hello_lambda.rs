//! The smallest useful Lambda on `lambda_runtime`: the baseline that scripts/coldstart.py
//! (`make coldstart`) sets logscale-lambda's start-up against. Both are built the same way
//! (`cargo lambda build --release`), so the difference is what logscale does before its first
//! poll of the Runtime API.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(json!({ "hello": event.payload }))
    }))
    .await
}
