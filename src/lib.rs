//! logscale sizes an EC2 Auto Scaling group from what the application's own logs say.
//!
//! Every few minutes one *cycle* runs: it reads the log objects written to S3 in the window,
//! parses them, reads the group and its instances' CPU and memory, decides, sets the desired
//! capacity, and returns one [`DecisionRecord`] saying what it saw, what it decided and why.
//! The Lambda (`src/bin/logscale-lambda.rs`) and the CLI (`src/bin/logscale/`, one file per
//! subcommand) are thin wiring around [`handle`] and [`run_cycle`].
//!
//! # Layout, in the order of a cycle
//! - `settings`: the one table of `LOGSCALE_*` settings (default, range, template Parameter,
//!   meaning) that `config` parses and a test holds the README and the template to.
//! - `config`: `LOGSCALE_*` environment → validated [`Config`], once.
//! - `handler`: a Lambda event → per-invocation overrides → one cycle ([`handle`]).
//! - `cycle`: the pipeline ([`run_cycle`]): fetch ∥ observe ∥ load state → decide → save →
//!   act → record; `budget` gives each phase its share of the invocation's time.
//! - `discover`: which prefixes to list for a window: a time-templated prefix's partitions
//!   (`logs/%Y/%m/%d/%H/`), an ALB root's delivery dates, else the prefix whole.
//! - `notify`: S3's event notifications as they arrive in the discovery queue (direct, via
//!   SNS or via EventBridge) → the objects they announce.
//! - `fetch`: which objects are in the window (listed, or announced by the queue); streamed,
//!   bounded-concurrency reads.
//! - [`parse`]: the log engine (its own crate, `crates/logs`): bytes → lines → summary, plain
//!   or gzip, in the original, ALB, combined or JSON-lines format; percentiles from a
//!   mergeable sketch.
//! - `metric`: `LOGSCALE_METRIC`, a CloudWatch metric (namespace, name, dimensions,
//!   statistic) read as one more signal.
//! - `observe`: the group, its instances and their load → one fleet value, from which both the
//!   decision's inputs and the record's instances are read.
//! - `decide`: signals + policy + state + `now` → a decision (pure), one function per step:
//!   the proportional default policy and the original one, with typed rules and reasons.
//! - `schedule`: `LOGSCALE_SCHEDULE`'s minimums and maximums by day and local time, read in
//!   the group's time zone (DST included) for a given instant.
//! - `state`: what the policy remembers between runs, kept in S3 with conditional writes.
//! - `forecast`: four weeks of requests per minute beside the state, and the seasonal naive
//!   forecast the record shows against what came (`LOGSCALE_PREDICT`).
//! - `act`: applies the decision: dry-run, HonorCooldown, AWS's "not now" → hold.
//! - `record`: the JSON decision record, the product's contract; `human` renders it.
//! - [`summarize`]: the summarizer (a second Lambda on the discovery queue): one summary per
//!   log object, which the cycle in summary mode reads instead of the object.
//! - [`metrics`]: the record as CloudWatch metrics, one Embedded Metric Format line beside it
//!   (what the template's alarms and dashboard read).
//! - [`ports`]: one narrow trait per outside service, returning this crate's types, and
//!   [`ports::Services`], one of each for a cycle.
//! - [`aws`]: those traits over the AWS SDK (S3, Auto Scaling, EC2, CloudWatch, SQS).
//! - [`memory`]: those traits in memory, with injected faults, for tests.
//! - `analyze`: the log engine over local files, one thread per file.
//! - [`simulator`]: replays a load trace through a capacity model and the real policy.
//! - [`sample_logs`]: sample logs in every format, for demos, tests and benchmarks.
//!
//! Parsing and deciding take data (and the caller's `now`), never a clock, the environment or a
//! socket, so they are tested with tables; the cycle is tested through [`memory`] in
//! milliseconds, and over the real SDK clients against a local stand-in and the Lambda
//! emulator (see `tests/`).

mod act;
mod analyze;
pub mod aws;
mod budget;
mod config;
mod cycle;
mod decide;
mod discover;
mod fetch;
mod forecast;
mod handler;
mod human;
pub mod memory;
mod metric;
pub mod metrics;
mod notify;
mod observe;
pub mod ports;
mod record;
mod schedule;
mod settings;
pub mod simulator;
mod state;
pub mod summarize;
mod window;

/// The log engine: formats, parsing, summaries and gzip (the `logscale-logs` crate).
pub use logscale_logs as parse;
/// Sample logs in every format (`logscale loggen`).
pub use logscale_logs::loggen as sample_logs;

pub use analyze::{
    analyze_inputs, summarize_file, summarize_inputs, summary_file_name, Analysis, InputReport,
    Summarized,
};
pub use config::{log_settings, s3_path_style, Config, ConfigError};
pub use cycle::{run_cycle, CycleOptions};
pub use decide::{Action, Decision, Policy, PolicyKind, Rule, Signal};
pub use fetch::{
    fetch_window, list_all, FetchReport, Listing, LogCondition, ObjectProblem, Selection, Source,
};
pub use handler::{deadline_from_clocks, deadline_from_epoch_ms, handle, EventError, Overrides};
pub use human::{render as render_record, render_analysis};
pub use metric::{MetricSpec, MetricSpecError, Statistic};
pub use record::{DecisionRecord, Invocation};
pub use schedule::{RuleProblem, Schedule, ScheduleError, ScheduledBounds};
pub use settings::{find as find_setting, Setting, SETTINGS};
pub use state::{State, MAX_STATE_BYTES};
