//! The narrow interfaces between the pipeline and the outside world.
//!
//! One trait per outside service, each returning this crate's own types, so the pipeline and its
//! tests never see an SDK struct. `src/aws/` implements them with the AWS SDK; tests implement
//! them in memory ([`crate::memory`]). Methods return `Send` futures so the pipeline can run them
//! concurrently. [`Services`] bundles one implementation of each for a cycle.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::Stream;
use serde::Serialize;

use crate::metric::MetricSpec;

/// The code of [`ServiceError::out_of_time`]: logscale's own, never one AWS sends.
pub const OUT_OF_TIME: &str = "OutOfTime";

/// A failed call to an outside service: which call, the service's error code when it gave one,
/// and its message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceError {
    pub operation: &'static str,
    pub code: Option<String>,
    pub message: String,
}

impl ServiceError {
    pub fn new(operation: &'static str, code: Option<&str>, message: impl Into<String>) -> Self {
        ServiceError {
            operation,
            code: code.map(str::to_string),
            message: message.into(),
        }
    }

    /// The call did not answer within its share of the cycle's time (see `budget`); it was
    /// cancelled, so whether it took effect is unknown.
    pub fn out_of_time(operation: &'static str) -> Self {
        ServiceError::new(
            operation,
            Some(OUT_OF_TIME),
            "no answer within the cycle's time budget (the invocation's deadline less LOGSCALE_RESERVE_SECONDS)",
        )
    }

    pub fn is_out_of_time(&self) -> bool {
        self.is(OUT_OF_TIME)
    }

    /// True when the service answered with this error code.
    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} failed: {}: {}", self.operation, code, self.message),
            None => write!(f, "{} failed: {}", self.operation, self.message),
        }
    }
}

impl std::error::Error for ServiceError {}

/// One log object as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
    /// S3's ETag: the same bytes uploaded again have the same one.
    pub etag: Option<String>,
}

/// The body of one object, as a stream of chunks (never the whole object at once). Gzip is
/// recognised from the bytes themselves (see [`crate::parse::Encoding`]), not from headers.
pub struct ObjectBody {
    pub chunks: Pin<Box<dyn Stream<Item = Result<Bytes, ServiceError>> + Send>>,
    /// What GetObject said of the object: its ETag (quoted, as listings give it) and when it
    /// was last modified, to the second.
    pub etag: Option<String>,
    pub last_modified: Option<chrono::DateTime<chrono::Utc>>,
}

/// The outside world of one cycle, one port per service. `logs` also keeps the policy's state;
/// `queue` is read only with queue discovery (`LOGSCALE_QUEUE_URL`).
pub struct Services<L, G, I, M, Q> {
    pub logs: L,
    pub groups: G,
    pub instances: I,
    pub metrics: M,
    pub queue: Q,
}

/// One page of a listing (S3 gives up to 1,000 keys a page).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub objects: Vec<ObjectInfo>,
    /// The token for the next page; `None` on the last.
    pub next: Option<String>,
}

/// Where the logs are: S3 in production.
pub trait LogStore: Send + Sync {
    /// One page of the objects under `prefix`, in key order: the first without
    /// `continuation`, the next with the token the last one gave; with `start_after`, only
    /// the keys that sort after it (S3's StartAfter). Paged, so that a listing cut off by the
    /// deadline keeps what it had (see `fetch::list_all`).
    fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        continuation: Option<&str>,
    ) -> impl Future<Output = Result<Page, ServiceError>> + Send;

    /// Opens one object for streaming.
    fn open(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<ObjectBody, ServiceError>> + Send;
}

/// A stored state object and its version tag.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredState {
    pub bytes: Vec<u8>,
    /// The ETag to make the next write conditional on.
    pub etag: Option<String>,
    /// Why the body was not read (an object over `state::MAX_STATE_BYTES`); `bytes` is then
    /// empty, and the ETag lets this run overwrite it.
    pub refused: Option<String>,
}

/// How a conditional write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    Saved,
    /// Someone else wrote the object since it was read (or created it first).
    Conflict,
}

/// Where the policy's state lives: a small object in S3, next to the logs.
pub trait StateStore: Send + Sync {
    /// `Ok(None)` when there is no state yet.
    fn load(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<StoredState>, ServiceError>> + Send;

    /// Writes only if the object is still at `expected` (its ETag), or, with `None`, does not
    /// exist yet.
    fn save(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        expected: Option<&str>,
    ) -> impl Future<Output = Result<SaveOutcome, ServiceError>> + Send;
}

/// An instance as the Auto Scaling group reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GroupInstance {
    pub id: String,
    /// `InService`, `Pending`, `Terminating`, ...
    pub lifecycle_state: String,
    /// `Healthy` or `Unhealthy`.
    pub health_status: String,
    /// How many capacity units it counts for (a mixed instances policy's WeightedCapacity), as
    /// Auto Scaling writes it; `None` when the group gives no weight (one unit).
    pub weight: Option<String>,
}

/// The group's size limits and members.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GroupInfo {
    pub name: String,
    pub min: u32,
    pub max: u32,
    pub desired: u32,
    pub instances: Vec<GroupInstance>,
    /// DesiredCapacityType: `units` (or `None`), `vcpu` or `memory-mib`; min, max and desired are
    /// in that unit.
    pub capacity_type: Option<String>,
    /// The group's own DefaultInstanceWarmup, in seconds, when it sets one.
    pub default_instance_warmup: Option<u32>,
    /// The WeightedCapacity of each instance type its mixed instances policy overrides (so a
    /// weighted group is known before its first weighted instance runs).
    pub policy_weights: Vec<String>,
}

/// The Auto Scaling group API: read the group, set its desired capacity.
pub trait ScalingGroups: Send + Sync {
    /// `Ok(None)` when no group has that name.
    fn describe(
        &self,
        group: &str,
    ) -> impl Future<Output = Result<Option<GroupInfo>, ServiceError>> + Send;

    fn set_desired(
        &self,
        group: &str,
        desired: u32,
        honor_cooldown: bool,
    ) -> impl Future<Output = Result<(), ServiceError>> + Send;

    /// Whether a scaling activity of the group has not finished yet.
    fn activity_in_progress(
        &self,
        group: &str,
    ) -> impl Future<Output = Result<bool, ServiceError>> + Send;

    /// What else sizes the group: its scaling policies and scheduled actions, each as
    /// `kind name` (`TargetTrackingScaling cpu50`, `scheduled action nightly`).
    fn other_scalers(
        &self,
        group: &str,
    ) -> impl Future<Output = Result<Vec<String>, ServiceError>> + Send;
}

/// What EC2 says of one instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceInfo {
    pub id: String,
    /// `pending`, `running`, `stopping`, ...
    pub state: String,
    pub instance_type: Option<String>,
    pub launch_time: Option<DateTime<Utc>>,
}

/// The EC2 API, for the instances the group names.
pub trait Instances: Send + Sync {
    fn describe(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<InstanceInfo>, ServiceError>> + Send;
}

/// One instance's load over the window. `None` means CloudWatch had no datapoints.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InstanceLoad {
    pub cpu_percent: Option<f64>,
    pub memory_percent: Option<f64>,
    pub cpu_datapoints: usize,
}

/// CloudWatch: per-instance CPU (`AWS/EC2 CPUUtilization`) and memory (`CWAgent
/// mem_used_percent`) averaged over `[start, end]`, and the metric `LOGSCALE_METRIC` names.
pub trait Metrics: Send + Sync {
    fn instance_load(
        &self,
        ids: &[String],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> impl Future<Output = Result<BTreeMap<String, InstanceLoad>, ServiceError>> + Send;

    /// `spec`'s statistic for each minute of `[start, end]`, averaged over the minutes that
    /// have a datapoint; `Ok(None)` when none has.
    fn metric(
        &self,
        spec: &MetricSpec,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<f64>, ServiceError>> + Send;
}

/// One message taken from a queue: hidden from other receivers until it is deleted or its
/// visibility timeout passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    pub id: String,
    /// The handle that deletes it.
    pub receipt: String,
    pub body: String,
}

/// The discovery queue (SQS): S3's notifications of new objects.
pub trait Queue: Send + Sync {
    /// Up to `max` (at most 10) messages; an empty answer means the queue had none to give
    /// within a short wait.
    fn receive(
        &self,
        queue_url: &str,
        max: u32,
    ) -> impl Future<Output = Result<Vec<QueuedMessage>, ServiceError>> + Send;

    /// Deletes messages by their receipts (at most 10 per call); returns how many were deleted.
    fn delete(
        &self,
        queue_url: &str,
        receipts: &[String],
    ) -> impl Future<Output = Result<usize, ServiceError>> + Send;
}
