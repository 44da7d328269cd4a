//! logscale sizes an EC2 Auto Scaling group from what the application's own logs say.
//!
//! Every few minutes one *cycle* runs: it reads the log objects written to S3 in the window,
//! parses them, reads the group and its instances' CPU and memory, decides, sets the desired
//! capacity, and returns one [`record::DecisionRecord`] saying what it saw, what it decided and
//! why. The Lambda (`src/bin/logscale-lambda.rs`) and the CLI (`src/bin/logscale.rs`) are thin
//! wiring around [`cycle::run_cycle`].
//!
//! # Layout, in the order of a cycle
//! - [`config`]: `LOGSCALE_*` environment → validated [`config::Config`], once.
//! - [`handler`]: a Lambda event → per-invocation overrides → one cycle.
//! - [`cycle`]: the pipeline; runs fetch and observe concurrently, then decide and act.
//! - [`fetch`]: which objects are in the window; streamed, bounded-concurrency reads.
//! - [`parse`]: bytes → lines → [`parse::LogSummary`] (pure), plain or gzip, in the original,
//!   ALB, combined or JSON-lines format, detected per object; percentiles from a mergeable
//!   sketch.
//! - [`decide`]: signals + policy + state + `now` → [`decide::Decision`] (pure): the
//!   proportional default policy and the original one.
//! - [`state`]: what the policy remembers between runs, kept in S3 with conditional writes.
//! - [`act`]: applies the decision: dry-run, HonorCooldown, AWS's "not now" → hold.
//! - [`record`]: the JSON decision record, the product's contract; [`human`] renders it.
//! - [`ports`]: one narrow trait per outside service, returning this crate's types.
//! - [`aws`]: those traits over the AWS SDK (S3, Auto Scaling, EC2, CloudWatch).
//! - [`analyze`]: the same parsing engine over local files, one thread per file.
//! - [`loggen`]: sample logs in every format, for demos, tests and benchmarks.
//!
//! Parsing and deciding take data (and the caller's `now`), never a clock, the environment or a
//! socket, so they are tested with tables; the pipeline is tested over the real SDK clients
//! against a local stand-in (see `tests/`).

pub mod act;
pub mod analyze;
pub mod aws;
pub mod config;
pub mod cycle;
pub mod decide;
pub mod fetch;
pub mod handler;
pub mod human;
pub mod loggen;
pub mod parse;
pub mod ports;
pub mod record;
pub mod simulate;
pub mod state;
