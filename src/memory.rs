//! Every port in memory, with faults on demand: the world the library's unit tests (and any
//! integration test that does not need the real SDK) run a whole cycle against.
//!
//! One [`InMemoryCloud`] plays S3 (logs and the state object), Auto Scaling, EC2 and CloudWatch.
//! It is cheap to clone (all clones share one world), so [`InMemoryCloud::services`] hands the
//! same world to every port of a cycle while the test keeps a handle to seed it, inject
//! [`Fault`]s and read the [`Call`]s made. It behaves as AWS documents where that matters to
//! the pipeline: missing buckets and keys answer with S3's error codes, conditional writes
//! compare ETags, and `SetDesiredCapacity` outside the group's limits is a `ValidationError`.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::metric::MetricSpec;
use crate::ports::{
    GroupInfo, GroupInstance, InstanceInfo, InstanceLoad, Instances, LogStore, Metrics, ObjectBody,
    ObjectInfo, Page, Queue, QueuedMessage, SaveOutcome, ScalingGroups, ServiceError, Services,
    StateStore, StoredState,
};

/// Keys per listing page, as S3 gives them.
const PAGE_KEYS: usize = 1000;

/// The chunk size objects are streamed in: small, so a parser sees lines cut across chunks.
const CHUNK_BYTES: usize = 4096;

/// One call a port received: the AWS operation it stands for, and what it was about (a bucket
/// and key, a group, `group=desired` for `SetDesiredCapacity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub operation: &'static str,
    pub target: String,
}

/// A fault to inject: on calls to `operation` (optionally only those whose target contains
/// `target`), wait `delay`, then fail with `error` if one is set. `times` limits how many calls
/// it hits (`None`: all).
#[derive(Debug, Clone)]
pub struct Fault {
    pub operation: &'static str,
    pub target: Option<String>,
    pub delay: Duration,
    pub error: Option<ServiceError>,
    pub times: Option<u32>,
}

impl Fault {
    /// Fails every call to `operation` with the AWS error `code`.
    pub fn error(operation: &'static str, code: &str) -> Fault {
        Fault {
            operation,
            target: None,
            delay: Duration::ZERO,
            error: Some(ServiceError::new(
                operation,
                Some(code),
                format!("injected {code}"),
            )),
            times: None,
        }
    }

    /// Delays every call to `operation` (a slow service, or with `on`, a slow object).
    pub fn delay(operation: &'static str, delay: Duration) -> Fault {
        Fault {
            operation,
            target: None,
            delay,
            error: None,
            times: None,
        }
    }

    /// Only calls whose target contains `target`.
    pub fn on(mut self, target: &str) -> Fault {
        self.target = Some(target.to_string());
        self
    }

    /// Only the next `n` matching calls.
    pub fn times(mut self, n: u32) -> Fault {
        self.times = Some(n);
        self
    }

    fn matches(&self, operation: &str, target: &str) -> bool {
        self.operation == operation
            && self.times != Some(0)
            && self.target.as_deref().is_none_or(|t| target.contains(t))
    }
}

#[derive(Debug, Clone)]
struct StoredObject {
    bytes: Bytes,
    last_modified: DateTime<Utc>,
    etag: String,
}

#[derive(Debug, Default)]
struct World {
    /// Bucket → key → object.
    buckets: BTreeMap<String, BTreeMap<String, StoredObject>>,
    groups: BTreeMap<String, GroupInfo>,
    /// Per group: after this many more describes, the group becomes this (someone else
    /// changed it between two reads).
    group_changes: BTreeMap<String, VecDeque<(u32, GroupInfo)>>,
    activity_in_progress: BTreeMap<String, bool>,
    /// Per group: its scaling policies and scheduled actions, as `other_scalers` names them.
    other_scalers: BTreeMap<String, Vec<String>>,
    instances: BTreeMap<String, InstanceInfo>,
    loads: BTreeMap<String, InstanceLoad>,
    /// The configured metric's value as GetMetricData would average it, by the metric as
    /// written (`MetricSpec`'s display, statistic included).
    metrics: BTreeMap<String, f64>,
    faults: Vec<Fault>,
    /// Another writer slips in before the next conditional write.
    lose_next_write: bool,
    /// The next write lands, but its answer is lost and the SDK's retry meets it: 412.
    echo_next_write: bool,
    calls: Vec<Call>,
    etags: u64,
    /// Queue URL → its messages.
    queues: BTreeMap<String, MemoryQueue>,
    /// Bucket → the queue its object creations are announced to (S3's notification to SQS).
    notify: BTreeMap<String, String>,
    messages: u64,
}

/// An SQS queue: messages waiting, and those received but neither deleted nor returned yet.
#[derive(Debug, Default)]
struct MemoryQueue {
    visible: VecDeque<(String, String)>,
    /// Receipt → (id, body).
    in_flight: BTreeMap<String, (String, String)>,
}

impl World {
    fn next_etag(&mut self) -> String {
        self.etags += 1;
        format!("\"etag-{}\"", self.etags)
    }
}

/// S3, Auto Scaling, EC2 and CloudWatch in one shared, in-memory world.
#[derive(Debug, Clone, Default)]
pub struct InMemoryCloud {
    world: Arc<Mutex<World>>,
}

impl InMemoryCloud {
    pub fn new() -> InMemoryCloud {
        InMemoryCloud::default()
    }

    /// The same world behind every port of a cycle.
    pub fn services(&self) -> Services<Self, Self, Self, Self, Self> {
        Services {
            logs: self.clone(),
            groups: self.clone(),
            instances: self.clone(),
            metrics: self.clone(),
            queue: self.clone(),
        }
    }

    /// From now on every object written to `bucket` is announced to `queue_url` as S3 does
    /// it: one message of S3 event records, the key URL-encoded.
    pub fn notify_queue(&self, bucket: &str, queue_url: &str) {
        let mut world = self.world();
        world.queues.entry(queue_url.to_string()).or_default();
        world
            .notify
            .insert(bucket.to_string(), queue_url.to_string());
    }

    /// Puts one message in a queue (creating it), as a producer would.
    pub fn send_message(&self, queue_url: &str, body: impl Into<String>) {
        let mut world = self.world();
        world.messages += 1;
        let id = format!("msg-{}", world.messages);
        world
            .queues
            .entry(queue_url.to_string())
            .or_default()
            .visible
            .push_back((id, body.into()));
    }

    /// Messages waiting and messages received but not deleted.
    pub fn queue_depth(&self, queue_url: &str) -> (usize, usize) {
        self.world()
            .queues
            .get(queue_url)
            .map_or((0, 0), |q| (q.visible.len(), q.in_flight.len()))
    }

    /// Every message received but not deleted becomes visible again (its visibility timeout
    /// passed).
    pub fn expire_visibility(&self, queue_url: &str) {
        if let Some(q) = self.world().queues.get_mut(queue_url) {
            let returned = std::mem::take(&mut q.in_flight);
            for (_, message) in returned {
                q.visible.push_back(message);
            }
        }
    }

    fn world(&self) -> MutexGuard<'_, World> {
        // A test that panicked while holding the lock has already failed; its world is still
        // worth reading.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn create_bucket(&self, bucket: &str) {
        self.world().buckets.entry(bucket.to_string()).or_default();
    }

    /// Writes an object last modified `at` (creating the bucket if needed).
    /// Its ETag, as S3's for a single-part upload, depends on the bytes only.
    pub fn put_object(&self, bucket: &str, key: &str, bytes: impl Into<Bytes>, at: DateTime<Utc>) {
        let bytes: Bytes = bytes.into();
        let etag = content_etag(&bytes);
        let size = bytes.len();
        let notice = s3_notice(bucket, key, size, &etag, at);
        let mut world = self.world();
        world.buckets.entry(bucket.to_string()).or_default().insert(
            key.to_string(),
            StoredObject {
                bytes,
                last_modified: at,
                etag,
            },
        );
        if let Some(queue) = world.notify.get(bucket).cloned() {
            drop(world);
            self.send_message(&queue, notice);
        }
    }

    /// Deletes the objects under `prefix` last modified before `before` (a lifecycle rule).
    pub fn expire_objects(&self, bucket: &str, prefix: &str, before: DateTime<Utc>) {
        if let Some(objects) = self.world().buckets.get_mut(bucket) {
            objects.retain(|key, o| !key.starts_with(prefix) || o.last_modified >= before);
        }
    }

    /// An object's bytes, if it exists.
    /// The keys under `prefix` in `bucket`, in key order.
    pub fn list_keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let world = self.world();
        let mut keys: Vec<String> = world
            .buckets
            .get(bucket)
            .map(|objects| {
                objects
                    .keys()
                    .filter(|k| k.starts_with(prefix))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        keys.sort();
        keys
    }

    pub fn object(&self, bucket: &str, key: &str) -> Option<Bytes> {
        let world = self.world();
        world.buckets.get(bucket)?.get(key).map(|o| o.bytes.clone())
    }

    pub fn put_group(&self, group: GroupInfo) {
        self.world().groups.insert(group.name.clone(), group);
    }

    /// A group `name` with limits `(min, max, desired)` of in-service, healthy instances
    /// `i-0000`, `i-0001`, …, running since `launched`, one per entry of `cpus` (its CPU
    /// average; memory at `memory`, if given).
    pub fn put_fleet(
        &self,
        name: &str,
        (min, max, desired): (u32, u32, u32),
        cpus: &[f64],
        memory: Option<f64>,
        launched: DateTime<Utc>,
    ) {
        let ids: Vec<String> = (0..cpus.len()).map(|i| format!("i-{i:04}")).collect();
        self.put_group(GroupInfo {
            name: name.to_string(),
            min,
            max,
            desired,
            instances: ids
                .iter()
                .map(|id| GroupInstance {
                    id: id.clone(),
                    lifecycle_state: "InService".into(),
                    health_status: "Healthy".into(),
                    weight: None,
                })
                .collect(),
            ..GroupInfo::default()
        });
        for (id, cpu) in ids.into_iter().zip(cpus) {
            self.put_instance(
                InstanceInfo {
                    id,
                    state: "running".into(),
                    instance_type: Some("t3.micro".into()),
                    launch_time: Some(launched),
                },
                InstanceLoad {
                    cpu_percent: Some(*cpu),
                    memory_percent: memory,
                    cpu_datapoints: 2,
                },
            );
        }
    }

    pub fn group(&self, name: &str) -> Option<GroupInfo> {
        self.world().groups.get(name).cloned()
    }

    /// After `describes` more reads of the group, it becomes `changed` (a scheduled action or
    /// an operator changed it between two reads).
    pub fn change_group_after(&self, describes: u32, changed: GroupInfo) {
        self.world()
            .group_changes
            .entry(changed.name.clone())
            .or_default()
            .push_back((describes, changed));
    }

    /// Another scaler of the group: a scaling policy or a scheduled action, as named.
    pub fn add_other_scaler(&self, group: &str, scaler: &str) {
        self.world()
            .other_scalers
            .entry(group.to_string())
            .or_default()
            .push(scaler.to_string());
    }

    pub fn set_activity_in_progress(&self, group: &str, busy: bool) {
        self.world()
            .activity_in_progress
            .insert(group.to_string(), busy);
    }

    /// An instance as EC2 describes it, and its load as CloudWatch reports it.
    pub fn put_instance(&self, info: InstanceInfo, load: InstanceLoad) {
        let mut world = self.world();
        world.loads.insert(info.id.clone(), load);
        world.instances.insert(info.id.clone(), info);
    }

    /// What CloudWatch gives for `spec` over any window: `value`, or with `None` no
    /// datapoints. The metric is matched as written, dimensions and statistic included.
    pub fn put_metric(&self, spec: &MetricSpec, value: Option<f64>) {
        let mut world = self.world();
        match value {
            Some(v) => world.metrics.insert(spec.to_string(), v),
            None => world.metrics.remove(&spec.to_string()),
        };
    }

    pub fn inject(&self, fault: Fault) {
        self.world().faults.push(fault);
    }

    /// The next conditional write loses its race: another writer changes the object first.
    pub fn lose_next_conditional_write(&self) {
        self.world().lose_next_write = true;
    }

    /// The next write lands, but its answer is lost: the SDK retries it and S3 answers the retry
    /// with 412, as the object is no longer at the expected tag (it is at this very write's).
    pub fn echo_next_conditional_write(&self) {
        self.world().echo_next_write = true;
    }

    /// Every call made so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.world().calls.clone()
    }

    /// The targets of the calls to one operation.
    pub fn calls_to(&self, operation: &str) -> Vec<String> {
        self.world()
            .calls
            .iter()
            .filter(|c| c.operation == operation)
            .map(|c| c.target.clone())
            .collect()
    }

    /// Logs the call, then applies the first matching fault: its delay, then its error.
    async fn call(&self, operation: &'static str, target: String) -> Result<(), ServiceError> {
        let (delay, error) = {
            let mut world = self.world();
            world.calls.push(Call {
                operation,
                target: target.clone(),
            });
            match world
                .faults
                .iter_mut()
                .find(|f| f.matches(operation, &target))
            {
                Some(fault) => {
                    if let Some(n) = &mut fault.times {
                        *n -= 1;
                    }
                    (fault.delay, fault.error.clone())
                }
                None => (Duration::ZERO, None),
            }
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        error.map_or(Ok(()), Err)
    }
}

/// The message S3 sends to a queue for a new object.
fn s3_notice(bucket: &str, key: &str, size: usize, etag: &str, at: DateTime<Utc>) -> String {
    let encoded: String =
        percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC)
            .to_string()
            .replace("%2F", "/");
    serde_json::json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": bucket},
            "object": {"key": encoded, "size": size, "eTag": etag.trim_matches('"')}
        }
    }]})
    .to_string()
}

/// A stand-in for S3's MD5 ETag: equal bytes, equal tags.
fn content_etag(bytes: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    format!("\"{:016x}\"", hasher.finish())
}

fn no_such_bucket(operation: &'static str, bucket: &str) -> ServiceError {
    ServiceError::new(
        operation,
        Some("NoSuchBucket"),
        format!("The specified bucket does not exist: {bucket}"),
    )
}

impl LogStore for InMemoryCloud {
    async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        continuation: Option<&str>,
    ) -> Result<Page, ServiceError> {
        let target = match start_after {
            Some(after) => format!("{bucket}/{prefix} after {after}"),
            None => format!("{bucket}/{prefix}"),
        };
        self.call("ListObjectsV2", target).await?;
        let world = self.world();
        let objects = world
            .buckets
            .get(bucket)
            .ok_or_else(|| no_such_bucket("ListObjectsV2", bucket))?;
        // The token is the last key of the page before, as good as S3's opaque one here.
        let from = match continuation.or(start_after) {
            Some(after) if after >= prefix => Bound::Excluded(after.to_string()),
            _ => Bound::Included(prefix.to_string()),
        };
        let mut page: Vec<ObjectInfo> = objects
            .range((from, Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .take(PAGE_KEYS + 1)
            .map(|(key, o)| ObjectInfo {
                key: key.clone(),
                size: o.bytes.len() as u64,
                last_modified: o.last_modified,
                etag: Some(o.etag.clone()),
            })
            .collect();
        let next = (page.len() > PAGE_KEYS).then(|| {
            page.truncate(PAGE_KEYS);
            page[PAGE_KEYS - 1].key.clone()
        });
        Ok(Page {
            objects: page,
            next,
        })
    }

    async fn open(&self, bucket: &str, key: &str) -> Result<ObjectBody, ServiceError> {
        self.call("GetObject", format!("{bucket}/{key}")).await?;
        let object = {
            let world = self.world();
            let objects = world
                .buckets
                .get(bucket)
                .ok_or_else(|| no_such_bucket("GetObject", bucket))?;
            objects.get(key).cloned().ok_or_else(|| {
                ServiceError::new(
                    "GetObject",
                    Some("NoSuchKey"),
                    "The specified key does not exist.",
                )
            })?
        };
        let bytes = object.bytes;
        let chunks: Vec<Result<Bytes, ServiceError>> = (0..bytes.len())
            .step_by(CHUNK_BYTES)
            .map(|at| Ok(bytes.slice(at..(at + CHUNK_BYTES).min(bytes.len()))))
            .collect();
        Ok(ObjectBody {
            chunks: Box::pin(futures::stream::iter(chunks)),
            etag: Some(object.etag),
            // S3 answers GetObject's Last-Modified to the second.
            last_modified: DateTime::from_timestamp(object.last_modified.timestamp(), 0),
        })
    }
}

impl StateStore for InMemoryCloud {
    async fn load(&self, bucket: &str, key: &str) -> Result<Option<StoredState>, ServiceError> {
        self.call("GetObject", format!("{bucket}/{key}")).await?;
        let world = self.world();
        let objects = world
            .buckets
            .get(bucket)
            .ok_or_else(|| no_such_bucket("GetObject", bucket))?;
        let Some(object) = objects.get(key) else {
            return Ok(None);
        };
        // As the S3 adapter does: an object over the cap is refused by its length, unread.
        if let Some(refused) = crate::state::refuse_size(object.bytes.len() as u64) {
            return Ok(Some(StoredState {
                bytes: Vec::new(),
                etag: Some(object.etag.clone()),
                refused: Some(refused),
            }));
        }
        Ok(Some(StoredState {
            bytes: object.bytes.to_vec(),
            etag: Some(object.etag.clone()),
            refused: None,
        }))
    }

    async fn save(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        expected: Option<&str>,
    ) -> Result<SaveOutcome, ServiceError> {
        self.call("PutObject", format!("{bucket}/{key}")).await?;
        let mut world = self.world();
        if !world.buckets.contains_key(bucket) {
            return Err(no_such_bucket("PutObject", bucket));
        }
        if std::mem::take(&mut world.lose_next_write) {
            // Another run's write lands first.
            let etag = world.next_etag();
            let objects = world.buckets.entry(bucket.to_string()).or_default();
            let theirs = objects.entry(key.to_string()).or_insert(StoredObject {
                bytes: Bytes::from_static(b"{}"),
                last_modified: DateTime::<Utc>::MIN_UTC,
                etag: String::new(),
            });
            theirs.etag = etag;
        }
        let etag = world.next_etag();
        let objects = world.buckets.entry(bucket.to_string()).or_default();
        let current = objects.get(key).map(|o| o.etag.as_str());
        if current != expected {
            return Ok(SaveOutcome::Conflict);
        }
        let last_modified = objects
            .get(key)
            .map_or(DateTime::<Utc>::MIN_UTC, |o| o.last_modified);
        objects.insert(
            key.to_string(),
            StoredObject {
                bytes: bytes.into(),
                last_modified,
                etag,
            },
        );
        if std::mem::take(&mut world.echo_next_write) {
            return Ok(SaveOutcome::Conflict);
        }
        Ok(SaveOutcome::Saved)
    }
}

impl ScalingGroups for InMemoryCloud {
    async fn describe(&self, group: &str) -> Result<Option<GroupInfo>, ServiceError> {
        self.call("DescribeAutoScalingGroups", group.to_string())
            .await?;
        let mut world = self.world();
        let due = world.group_changes.get_mut(group).and_then(|changes| {
            let (left, _) = changes.front_mut()?;
            if *left == 0 {
                changes.pop_front().map(|(_, changed)| changed)
            } else {
                *left -= 1;
                None
            }
        });
        let described = world.groups.get(group).cloned();
        if let Some(changed) = due {
            world.groups.insert(group.to_string(), changed);
        }
        Ok(described)
    }

    async fn set_desired(
        &self,
        group: &str,
        desired: u32,
        _honor_cooldown: bool,
    ) -> Result<(), ServiceError> {
        self.call("SetDesiredCapacity", format!("{group}={desired}"))
            .await?;
        let mut world = self.world();
        let info = world.groups.get_mut(group).ok_or_else(|| {
            ServiceError::new(
                "SetDesiredCapacity",
                Some("ValidationError"),
                format!("AutoScalingGroup name not found - {group}"),
            )
        })?;
        if desired < info.min || desired > info.max {
            return Err(ServiceError::new(
                "SetDesiredCapacity",
                Some("ValidationError"),
                format!(
                    "New SetDesiredCapacity value {desired} is outside [{}, {}]",
                    info.min, info.max
                ),
            ));
        }
        info.desired = desired;
        Ok(())
    }

    async fn other_scalers(&self, group: &str) -> Result<Vec<String>, ServiceError> {
        self.call("DescribePolicies", group.to_string()).await?;
        Ok(self
            .world()
            .other_scalers
            .get(group)
            .cloned()
            .unwrap_or_default())
    }

    async fn activity_in_progress(&self, group: &str) -> Result<bool, ServiceError> {
        self.call("DescribeScalingActivities", group.to_string())
            .await?;
        Ok(self
            .world()
            .activity_in_progress
            .get(group)
            .copied()
            .unwrap_or(false))
    }
}

impl Instances for InMemoryCloud {
    /// As the EC2 adapter's `instance-id` filter answers: the instances it knows among `ids`;
    /// an id it does not know (launched a moment ago) is absent, and fails nothing.
    async fn describe(&self, ids: &[String]) -> Result<Vec<InstanceInfo>, ServiceError> {
        self.call("DescribeInstances", ids.join(",")).await?;
        let world = self.world();
        Ok(ids
            .iter()
            .filter_map(|id| world.instances.get(id).cloned())
            .collect())
    }
}

impl Metrics for InMemoryCloud {
    async fn instance_load(
        &self,
        ids: &[String],
        _start: DateTime<Utc>,
        _end: DateTime<Utc>,
    ) -> Result<BTreeMap<String, InstanceLoad>, ServiceError> {
        self.call("GetMetricData", ids.join(",")).await?;
        let world = self.world();
        Ok(ids
            .iter()
            .filter_map(|id| world.loads.get(id).map(|l| (id.clone(), l.clone())))
            .collect())
    }

    /// The call's target is the metric as written, so a fault `on` a dimension or namespace
    /// hits this call and not the instances' load.
    async fn metric(
        &self,
        spec: &MetricSpec,
        _start: DateTime<Utc>,
        _end: DateTime<Utc>,
    ) -> Result<Option<f64>, ServiceError> {
        let written = spec.to_string();
        self.call("GetMetricData", written.clone()).await?;
        Ok(self.world().metrics.get(&written).copied())
    }
}

impl Queue for InMemoryCloud {
    async fn receive(&self, queue_url: &str, max: u32) -> Result<Vec<QueuedMessage>, ServiceError> {
        self.call("ReceiveMessage", queue_url.to_string()).await?;
        let mut world = self.world();
        world.messages += 1;
        let batch = world.messages;
        let q = world.queues.get_mut(queue_url).ok_or_else(|| {
            ServiceError::new(
                "ReceiveMessage",
                Some("AWS.SimpleQueueService.NonExistentQueue"),
                format!("The specified queue does not exist: {queue_url}"),
            )
        })?;
        let mut out = Vec::new();
        while out.len() < max.min(10) as usize {
            let Some((id, body)) = q.visible.pop_front() else {
                break;
            };
            let receipt = format!("receipt-{batch}-{id}");
            q.in_flight
                .insert(receipt.clone(), (id.clone(), body.clone()));
            out.push(QueuedMessage { id, receipt, body });
        }
        Ok(out)
    }

    async fn delete(&self, queue_url: &str, receipts: &[String]) -> Result<usize, ServiceError> {
        self.call("DeleteMessageBatch", queue_url.to_string())
            .await?;
        let mut world = self.world();
        let Some(q) = world.queues.get_mut(queue_url) else {
            return Ok(0);
        };
        // A receipt of a message that came back and was received again no longer deletes it.
        Ok(receipts
            .iter()
            .filter(|r| q.in_flight.remove(r.as_str()).is_some())
            .count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ec2_leaves_out_ids_it_does_not_know_as_the_filter_does() {
        let cloud = InMemoryCloud::new();
        let launched = Utc::now();
        cloud.put_fleet("web", (1, 4, 2), &[10.0, 20.0], None, launched);
        let ids: Vec<String> = ["i-0000", "i-unknown", "i-0001"]
            .into_iter()
            .map(String::from)
            .collect();
        let described = Instances::describe(&cloud, &ids).await.unwrap();
        let found: Vec<&str> = described.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(found, ["i-0000", "i-0001"]);
        assert!(described.iter().all(|i| i.launch_time == Some(launched)));
    }

    #[tokio::test]
    async fn a_state_object_over_the_cap_is_refused_unread() {
        let cloud = InMemoryCloud::new();
        let at = Utc::now();
        let cap = crate::state::MAX_STATE_BYTES as usize;
        cloud.put_object("b", "state.json", vec![b' '; cap], at);
        let at_cap = StateStore::load(&cloud, "b", "state.json").await.unwrap();
        assert_eq!(at_cap.map(|s| s.bytes.len()), Some(cap));

        cloud.put_object("b", "state.json", vec![b' '; cap + 1], at);
        let refused = StateStore::load(&cloud, "b", "state.json")
            .await
            .unwrap()
            .unwrap();
        assert!(refused.bytes.is_empty(), "unread");
        assert!(refused.etag.is_some(), "so that a run can overwrite it");
        let why = refused.refused.unwrap();
        assert!(why.contains(&(cap + 1).to_string()), "{why}");
    }
}
