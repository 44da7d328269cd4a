//! The decision record: one JSON object per cycle that says what was seen, what was decided and
//! why. The Lambda returns it and logs it as a single line; the CLI prints it with `--json`.
//! Its fields are documented in the README ("The decision record"); changing one is a change of
//! contract.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

use crate::decide::{Capacity, Decision, PolicyKind};
use crate::fetch::{Discovery, LogCondition, ObjectProblem};
use crate::parse::summary::{round2, LogMetrics};
use crate::parse::Format;

/// How many instances the record lists, so that a large group's record stays one CloudWatch
/// Logs event (at most 256 KB; an instance takes about 350 bytes).
pub const MAX_INSTANCES: usize = 100;

#[derive(Debug, Serialize)]
pub struct DecisionRecord {
    #[serde(serialize_with = "rfc3339")]
    pub time: DateTime<Utc>,
    pub group: String,
    pub bucket: String,
    pub prefix: String,
    /// `default` or `original`.
    pub policy: PolicyKind,
    pub window: Window,
    pub logs: LogsRecord,
    /// The group's limits and desired capacity before acting; `null` when it could not be read.
    pub capacity: Option<Capacity>,
    /// The `LOGSCALE_SCHEDULE` rules that matched this time and their bounds (absent when none).
    #[serde(skip_serializing_if = "crate::schedule::ScheduledBounds::is_empty")]
    pub scheduled: crate::schedule::ScheduledBounds,
    /// At most [`MAX_INSTANCES`]; the averages count every instance.
    pub instances: Vec<InstanceRecord>,
    /// Instances beyond [`MAX_INSTANCES`], counted but not listed (absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub instances_omitted: usize,
    /// The warm-up the instances were judged by: `seconds`, and `source` (`setting`, or the
    /// group's own `group_default_instance_warmup`).
    pub warmup: crate::observe::Warmup,
    /// Average CPU over in-service instances with datapoints.
    #[serde(serialize_with = "round2")]
    pub cpu_percent: Option<f64>,
    /// Average memory used over in-service instances with datapoints (CloudWatch agent).
    #[serde(serialize_with = "round2")]
    pub memory_percent: Option<f64>,
    pub decision: Decision,
    /// SetDesiredCapacity was called and succeeded.
    pub applied: bool,
    pub dry_run: bool,
    pub state: StateRecord,
    pub errors: Vec<String>,
    /// What may make this decision not last (other scalers of the group); absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The request history's forecast against what came (`LOGSCALE_PREDICT=forecast`); absent
    /// when off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast: Option<ForecastRecord>,
    pub duration_ms: u64,
    /// The Lambda invocation that ran the cycle (absent from the CLI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invocation: Option<Invocation>,
}

/// Which Lambda invocation ran the cycle, so that a record, its metrics and the function's
/// own log lines can be matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invocation {
    pub request_id: String,
    /// The first invocation of this execution environment (its start-up counted in it).
    pub cold_start: bool,
}

#[derive(Debug, Serialize)]
pub struct Window {
    #[serde(serialize_with = "rfc3339")]
    pub start: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub end: DateTime<Utc>,
    pub minutes: f64,
    #[serde(serialize_with = "rfc3339")]
    pub metrics_start: DateTime<Utc>,
    /// Objects last modified since this time were listed: the window's start less the late
    /// span, for objects that appeared late.
    #[serde(serialize_with = "rfc3339")]
    pub listed_from: DateTime<Utc>,
    /// The window was already decided; this run read, decided and changed nothing.
    pub replay: bool,
    /// What was unusual about the window (an event time taken as now, missed runs).
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct LogsRecord {
    pub condition: LogCondition,
    /// How the window's logs were taken in (`LOGSCALE_INGEST`): `direct` (each object read) or
    /// `summaries` (each object's summary, written by the summarizer, merged).
    pub ingest: Ingest,
    /// In summary mode, the summaries merged; the log volume they stand for is `bytes` (and
    /// `lines`). Absent in direct mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summaries_merged: Option<usize>,
    /// How the objects were found: `method` (`partitions`, `alb_delivery_dates`,
    /// `whole_prefix`, `too_many_partitions`, `sorted_keys`, `queue`), `prefixes_listed`,
    /// `calls`, `queue` (with queue discovery), `note`; `null` on a replay.
    pub discovery: Option<Discovery>,
    pub objects_listed: usize,
    pub objects_in_window: usize,
    pub objects_read: usize,
    /// Objects counted now that were last modified before the window's start (they appeared
    /// late).
    pub late_objects: usize,
    /// Objects listed again that an earlier run already counted, skipped.
    pub already_counted: usize,
    /// Objects of old logs (their first timestamped line older than the window's start by
    /// more than `LOGSCALE_BACKFILL_MINUTES`): read, but not counted as demand.
    pub backfill_objects: u64,
    /// Objects read per format (`original`, `alb`, `combined`, `json`).
    pub formats: BTreeMap<Format, usize>,
    pub problems: Vec<ObjectProblem>,
    /// Problems beyond the first 50, counted but not listed (absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub problems_omitted: usize,
    #[serde(flatten)]
    pub metrics: LogMetrics,
}

/// How a cycle takes in its logs (`LOGSCALE_INGEST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ingest {
    /// Each log object read and parsed by the cycle.
    Direct,
    /// Each log object's summary merged (see `crate::summarize`).
    Summaries,
}

#[derive(Debug, Serialize)]
pub struct InstanceRecord {
    pub id: String,
    pub lifecycle_state: String,
    pub health_status: String,
    /// EC2's state (`running`, `pending`, ...); `null` when EC2 did not describe it.
    pub state: Option<String>,
    pub instance_type: Option<String>,
    pub launch_time: Option<DateTime<Utc>>,
    #[serde(serialize_with = "round2")]
    pub cpu_percent: Option<f64>,
    #[serde(serialize_with = "round2")]
    pub memory_percent: Option<f64>,
    pub cpu_datapoints: usize,
    /// Launched less than the warm-up ago, or not yet in service.
    pub warming_up: bool,
    /// Whether this instance counts in the averages, and if not, why.
    pub counted: bool,
    pub note: Option<String>,
}

/// The policy's state object for this run.
#[derive(Debug, Serialize)]
pub struct StateRecord {
    pub key: String,
    /// There was a state object before this run.
    pub existed: bool,
    /// This run's state was written (conditionally).
    pub saved: bool,
    /// Why the state started fresh, when it did.
    pub note: Option<String>,
}

impl DecisionRecord {
    /// The record as one line of JSON.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("the record always serializes")
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// What the request history forecast (the smaller of a day and a week earlier), against what
/// came. It changes no decision.
#[derive(Debug, Serialize)]
pub struct ForecastRecord {
    /// What the history said of this window's end (`null`: nothing recorded a day or a week
    /// before).
    pub this_window: Option<crate::forecast::Forecast>,
    /// What came: this window's requests per minute.
    pub actual_requests_per_minute: Option<f64>,
    /// The forecast for one schedule period and the warm-up ahead: when capacity launched now
    /// would be ready.
    #[serde(serialize_with = "rfc3339")]
    pub ahead_at: DateTime<Utc>,
    pub ahead: Option<crate::forecast::Forecast>,
    /// Five-minute slots the history holds (at most four weeks: 8,064).
    pub slots: usize,
    /// Why the history started anew or was not saved, when so.
    pub note: Option<String>,
}
