//! Which log objects belong to the window, and reading them: streamed, a bounded number at a
//! time, each in its own task (so parsing runs on every core and overlaps the other downloads)
//! and into its own [`LogSummary`], merged at the end.
//!
//! Nothing here stops the cycle: a missing bucket, a denied read, a corrupt object or a deadline
//! becomes a [`LogCondition`] or an [`ObjectProblem`] in the record, and every object that could
//! be read still counts.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;
use tokio::time::Instant;

use crate::budget::within;
use crate::discover::{ListingPlan, ListingScope, PrefixTemplate, PARTITION_SLACK};
use crate::notify::{read_notice, Notice};
use crate::parse::{Encoding, Format, LogSummary, ObjectSink, ParseOptions};
use crate::ports::{LogStore, ObjectBody, ObjectInfo, Queue, QueuedMessage, ServiceError};
use crate::state::Counted;

/// The state of the window's logs as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogCondition {
    /// Every object in the window was read.
    Complete,
    /// Some objects could not be read (see `problems`); the others count.
    Partial,
    /// No object under the prefix was written in the window.
    EmptyWindow,
    /// The bucket does not exist.
    NoSuchBucket,
    /// Listing the bucket was refused.
    AccessDenied,
    /// Listing failed for another reason (see `errors`).
    ListFailed,
    /// Nothing was read: the window was already decided (a replay).
    NotRead,
}

impl LogCondition {
    /// Whether the logs give a full picture of the window (needed before scaling in).
    pub fn is_complete(self) -> bool {
        self == LogCondition::Complete
    }
}

/// One object that could not be read in full.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectProblem {
    pub key: String,
    pub problem: String,
}

/// What fetching the window produced.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchReport {
    pub objects_listed: usize,
    pub objects_in_window: usize,
    pub objects_read: usize,
    pub condition: LogCondition,
    pub summary: LogSummary,
    /// How many objects were read in each format.
    pub formats: BTreeMap<Format, usize>,
    /// At most [`MAX_PROBLEMS`] of them, by key; the rest are only counted.
    pub problems: Vec<ObjectProblem>,
    /// Problems beyond [`MAX_PROBLEMS`], counted but not listed.
    pub problems_omitted: usize,
    /// Objects counted now that were last modified before the window's start: they appeared
    /// late (a multipart upload is dated by its start).
    pub late_objects: usize,
    /// Objects listed again near the window's start that an earlier run already counted.
    pub already_counted: usize,
    /// The LastModified of the oldest object left unread (cut by the deadline, or not opened):
    /// the next window must start before it.
    pub oldest_unread: Option<DateTime<Utc>>,
    /// With keys sorted by time: where the next listing starts.
    pub list_after: Option<String>,
    /// How the objects were found; `None` when nothing was listed (a replay).
    pub discovery: Option<Discovery>,
    /// Every object read (in full or in part) this run, and every one skipped as already
    /// counted, as listed now: for the state.
    pub counted: Vec<Counted>,
    /// A listing failure, in the service's words.
    pub list_error: Option<String>,
    /// With queue discovery: the receipts of the messages whose objects are all counted, to
    /// delete once the run has kept its state.
    pub done_messages: Vec<String>,
}

impl FetchReport {
    /// The report of a run that read nothing.
    pub fn not_read() -> FetchReport {
        FetchReport {
            objects_listed: 0,
            objects_in_window: 0,
            objects_read: 0,
            condition: LogCondition::NotRead,
            summary: LogSummary::default(),
            formats: BTreeMap::new(),
            problems: Vec::new(),
            problems_omitted: 0,
            list_error: None,
            late_objects: 0,
            already_counted: 0,
            discovery: None,
            oldest_unread: None,
            list_after: None,
            counted: Vec::new(),
            done_messages: Vec::new(),
        }
    }

    /// Keeps the [`MAX_PROBLEMS`] smallest keys, counts the rest.
    fn note_problem(&mut self, problem: ObjectProblem) {
        self.problems.push(problem);
        if self.problems.len() > MAX_PROBLEMS {
            let largest = (0..self.problems.len())
                .max_by(|&a, &b| self.problems[a].key.cmp(&self.problems[b].key))
                .expect("not empty");
            self.problems.swap_remove(largest);
            self.problems_omitted += 1;
        }
    }
}

/// Which objects a run reads: those last modified in `(list_from, end]` that are not in
/// `counted`. `start` (≥ `list_from`) is where the window proper begins; objects before it are
/// late arrivals.
#[derive(Debug, Clone, Copy)]
pub struct Selection<'a> {
    pub list_from: DateTime<Utc>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub counted: &'a [Counted],
    /// Keys under a plain prefix sort by time: list after `list_after` (once known).
    pub keys_sorted: bool,
    pub list_after: Option<&'a str>,
}

impl Selection<'static> {
    /// Everything last modified in `(start, end]`.
    pub fn window(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        Selection {
            list_from: start,
            start,
            end,
            counted: &[],
            keys_sorted: false,
            list_after: None,
        }
    }
}

/// Where the logs are.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub bucket: &'a str,
    pub prefix: &'a str,
    /// Keys under the prefix that are not logs (the policy's own state object).
    pub ignore: &'a [&'a str],
    /// Summary mode (`LOGSCALE_INGEST=summaries`): each object's summary is read from under
    /// this prefix instead of the object (see [`crate::summarize`]); keys under it are not logs.
    pub summaries: Option<&'a str>,
}

/// The prefixes to list for a window (the rules are in [`crate::discover`]): a prefix with
/// time fields (`logs/%Y/%m/%d/%H/`) lists the partitions that overlap the window, an ALB log
/// root its delivery-date folders, and any other prefix is listed whole.
pub fn listing_plan(prefix: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> ListingPlan {
    match PrefixTemplate::parse(prefix) {
        Ok(template) => template.plan(start, end, PARTITION_SLACK),
        // `config` refuses such a prefix at start; taken literally, it is still listed.
        Err(_) => ListingPlan {
            prefixes: vec![prefix.to_string()],
            scope: ListingScope::WholePrefix,
        },
    }
}

/// One listing: the objects, and how many calls (pages) it took.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    pub objects: Vec<ObjectInfo>,
    pub calls: usize,
}

/// Every page under `prefix` (after `start_after`), until the last or until `by`. A listing
/// cut short comes back with what it had and the error.
pub async fn list_all<L: LogStore>(
    store: &L,
    bucket: &str,
    prefix: &str,
    start_after: Option<&str>,
    by: Option<Instant>,
) -> (Listing, Option<ServiceError>) {
    let mut listing = Listing::default();
    let mut token: Option<String> = None;
    loop {
        listing.calls += 1;
        let page = store.list_page(bucket, prefix, start_after, token.as_deref());
        match within(by, "ListObjectsV2", page).await {
            Ok(page) => {
                listing.objects.extend(page.objects);
                match page.next {
                    Some(next) => token = Some(next),
                    None => return (listing, None),
                }
            }
            Err(e) => return (listing, Some(e)),
        }
    }
}

/// How the window's objects were found, for the record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Discovery {
    pub method: ListingScope,
    /// Prefixes listed (each takes one ListObjectsV2 call per 1,000 keys).
    pub prefixes_listed: usize,
    /// ListObjectsV2 or ReceiveMessage calls made.
    pub calls: usize,
    /// With queue discovery, what the queue gave.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueReport>,
    /// With keys sorted by time, the key the listing started after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_after: Option<String>,
    /// Why the listing is not bounded by the window, when it is not.
    pub note: Option<String>,
}

/// With keys that sort by time, how far back of the listed span a key still counts as "new":
/// a key may carry a time somewhat older than its LastModified.
pub const SORTED_KEYS_SLACK: chrono::Duration = chrono::Duration::minutes(15);

/// Where the next listing of time-sorted keys starts: after the greatest key last modified
/// at or before `horizon` (well before anything a later run can need), never before `previous`.
pub fn next_list_after(
    listed: &[ObjectInfo],
    horizon: DateTime<Utc>,
    previous: Option<&str>,
) -> Option<String> {
    listed
        .iter()
        .filter(|o| o.last_modified <= horizon)
        .map(|o| o.key.as_str())
        .chain(previous)
        .max()
        .map(str::to_string)
}

/// How many object problems the record lists; the rest are counted, so a window of thousands
/// of broken objects still makes one record of bounded size (one CloudWatch Logs event).
pub const MAX_PROBLEMS: usize = 50;

/// The objects last modified in `(start, end]`, newest first (when time runs short, the
/// newest logs are the ones read). Pure, so the window rule is tested without a store.
pub fn select_in_window(
    mut objects: Vec<ObjectInfo>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<ObjectInfo> {
    objects.retain(|o| o.last_modified > start && o.last_modified <= end);
    objects.sort_by(|a, b| {
        b.last_modified
            .cmp(&a.last_modified)
            .then_with(|| a.key.cmp(&b.key))
    });
    objects
}

/// Lists the prefix, selects the window and reads it, `concurrency` objects at a time.
/// Listing stops at `deadline` (the window then counts as not listed); objects not finished by
/// then are reported as problems, not waited for. Each object's summary is merged as soon as it
/// is read, so memory does not grow with the number of objects. Keys in `ignore` (the policy's
/// own state object) are never read as logs.
pub async fn fetch_window<L: LogStore + Clone + 'static>(
    store: &L,
    source: Source<'_>,
    selection: &Selection<'_>,
    options: &ParseOptions,
    concurrency: usize,
    deadline: Option<Instant>,
) -> FetchReport {
    let Source {
        bucket,
        prefix,
        ignore,
        summaries,
    } = source;
    let mut report = FetchReport {
        condition: LogCondition::Complete,
        ..FetchReport::not_read()
    };
    let (start, end) = (selection.start, selection.end);
    let mut listed = Vec::new();
    let mut plan = listing_plan(prefix, selection.list_from, end);
    let sorted = selection.keys_sorted && plan.scope == ListingScope::WholePrefix;
    let start_after = selection.list_after.filter(|_| sorted);
    if sorted {
        plan.scope = ListingScope::SortedKeys;
    }
    report.discovery = Some(Discovery {
        method: plan.scope,
        prefixes_listed: 0,
        calls: 0,
        queue: None,
        start_after: start_after.map(str::to_string),
        note: plan.note(),
    });
    // A later run may list from as far back as this one's late span before its own start.
    let late = selection.start - selection.list_from;
    let horizon = selection.list_from - late - SORTED_KEYS_SLACK;
    for list_prefix in plan.prefixes {
        let (listing, error) = list_all(store, bucket, &list_prefix, start_after, deadline).await;
        if let Some(d) = &mut report.discovery {
            d.prefixes_listed += 1;
            d.calls += listing.calls;
        }
        listed.extend(listing.objects);
        let Some(e) = error else { continue };
        report.condition = if e.is("NoSuchBucket") {
            LogCondition::NoSuchBucket
        } else if e.is("AccessDenied") {
            LogCondition::AccessDenied
        } else {
            LogCondition::ListFailed
        };
        report.list_error = Some(format!("s3://{bucket}/{list_prefix}: {e}"));
        if sorted && e.is_out_of_time() {
            // Keys sort by time: what was listed before the cut is behind the next run, which
            // resumes after it (the first run on a large prefix takes a few runs to catch up).
            report.list_after = next_list_after(&listed, horizon, selection.list_after);
            if let (Some(after), Some(d)) = (&report.list_after, &mut report.discovery) {
                d.note = Some(format!(
                    "the listing stopped at the deadline after {} keys; the next run resumes after {after:?}",
                    listed.len()
                ));
            }
        }
        return report;
    }
    listed.retain(|o| {
        !ignore.contains(&o.key.as_str()) && !summaries.is_some_and(|s| o.key.starts_with(s))
    });
    if sorted {
        report.list_after = next_list_after(&listed, horizon, selection.list_after);
    }
    report.objects_listed = listed.len();
    let mut selected = select_in_window(listed, selection.list_from, end);
    let before = selected.len();
    let mut already: HashMap<&str, Vec<&Counted>> = HashMap::new();
    for c in selection.counted {
        already.entry(c.key.as_str()).or_default().push(c);
    }
    let (seen, fresh): (Vec<ObjectInfo>, Vec<ObjectInfo>) = selected.into_iter().partition(|o| {
        already
            .get(o.key.as_str())
            .is_some_and(|cs| cs.iter().any(|c| c.is(o)))
    });
    selected = fresh;
    report.already_counted = before - selected.len();
    // Remembered again as listed now: the same bytes uploaded again carry a later LastModified,
    // and must stay known for as long as that one can be listed.
    report.counted.extend(seen.into_iter().map(|o| Counted {
        key: o.key,
        last_modified: o.last_modified,
        etag: o.etag,
    }));
    report.late_objects = selected.iter().filter(|o| o.last_modified <= start).count();
    report.objects_in_window = selected.len();
    if selected.is_empty() {
        report.condition = LogCondition::EmptyWindow;
        return report;
    }
    let summaries = summaries.map(|prefix| SummaryRead {
        prefix,
        missing_after: end - SUMMARY_PATIENCE,
    });
    for unread in read_objects(
        store,
        bucket,
        selected,
        (options, summaries),
        concurrency,
        deadline,
        &mut report,
    )
    .await
    {
        let lm = unread.last_modified;
        report.oldest_unread = Some(report.oldest_unread.map_or(lm, |t| t.min(lm)));
    }
    report
}

/// Reads `objects` (in that order, `concurrency` at a time) into `report`: each summary merged
/// as it arrives, problems noted, and every object read (even in part) marked counted. Objects
/// not read at all (cut by the deadline, or not opened) come back: a later run reads them.
async fn read_objects<L: LogStore + Clone + 'static>(
    store: &L,
    bucket: &str,
    objects: Vec<ObjectInfo>,
    (options, summaries): (&ParseOptions, Option<SummaryRead<'_>>),
    concurrency: usize,
    deadline: Option<Instant>,
    report: &mut FetchReport,
) -> Vec<Counted> {
    let mut unread = Vec::new();
    let reads = futures::stream::iter(objects)
        .map(|object| {
            let (store, bucket, options) = (store.clone(), bucket.to_string(), options.clone());
            let summaries = summaries.map(|s| (s.prefix.to_string(), s.missing_after));
            async move {
                let mark = Counted {
                    key: object.key.clone(),
                    last_modified: object.last_modified,
                    etag: object.etag.clone(),
                };
                let task = tokio::spawn(async move {
                    match summaries {
                        Some((prefix, missing_after)) => {
                            let how = SummaryRead {
                                prefix: &prefix,
                                missing_after,
                            };
                            read_summary(&store, &bucket, &object, how, &options).await
                        }
                        None => read_object(&store, &bucket, &object, options).await,
                    }
                });
                let abort = task.abort_handle();
                let joined = match deadline {
                    Some(at) => match tokio::time::timeout_at(at, task).await {
                        Ok(joined) => joined,
                        Err(_) => {
                            abort.abort();
                            return (
                                mark,
                                ObjectRead::unread("not read: the invocation's deadline was near"),
                            );
                        }
                    },
                    None => task.await,
                };
                let read =
                    joined.unwrap_or_else(|e| ObjectRead::failed(format!("reader failed: {e}")));
                (mark, read)
            }
        })
        .buffer_unordered(concurrency.max(1));
    let mut reads = std::pin::pin!(reads);
    while let Some((mark, read)) = reads.next().await {
        if read.unread {
            unread.push(mark.clone());
        } else {
            // Counted, even if only in part: reading it again would count its lines twice.
            report.counted.push(mark.clone());
        }
        let key = mark.key;
        if let Some((summary, format)) = &read.parsed {
            report.summary.merge(summary);
            report.objects_read += 1;
            *report.formats.entry(*format).or_default() += 1;
        }
        if let Some(problem) = read.problem {
            report.note_problem(ObjectProblem { key, problem });
        }
    }
    report.problems.sort_by(|a, b| a.key.cmp(&b.key));
    if !report.problems.is_empty() {
        report.condition = LogCondition::Partial;
    }
    unread
}

/// What the discovery queue gave one run (`logs.discovery.queue` in the record).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueueReport {
    pub messages: usize,
    /// Messages that announced nothing to read: S3's test message, other events, objects in
    /// another bucket or outside the prefix.
    pub nothing_to_read: usize,
    /// Messages that are not S3 events; left in the queue (its dead-letter queue keeps them
    /// after a few receives).
    pub unrecognized: usize,
    /// The first unrecognized message's problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unrecognized_example: Option<String>,
    /// Whether the queue was seen empty; if not (the cap or the time ran out), the rest waits
    /// for the next run and this window's picture is partial.
    pub drained: bool,
    /// Messages deleted after their objects were counted (filled in by the cycle).
    pub deleted: usize,
    /// A receive that failed after others had answered: the rest waits for the next run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receive_error: Option<String>,
}

/// The most messages one run takes from the queue: 200 ReceiveMessage calls. The rest stays
/// queued for the next run.
pub const MAX_QUEUE_MESSAGES: usize = 2_000;

/// The discovery queue and how much of the gathering time draining it may take.
#[derive(Debug, Clone, Copy)]
pub struct QueueSource<'a, Q> {
    pub queue: &'a Q,
    pub url: &'a str,
    /// Draining stops here (reading the objects needs the rest of the time).
    pub drain_by: Option<Instant>,
}

/// Discovery by queue: drains S3's notifications (up to [`MAX_QUEUE_MESSAGES`], until
/// `drain_by`), reads the objects they announce that no earlier run counted, and reports which
/// messages are done. Nothing is filtered by time: the queue hands each notification to one run,
/// and an object announced twice (SQS delivers at least once) is recognised by its key and ETag
/// among the objects counted lately. A message whose object is left unread stays in the queue and
/// comes back after its visibility timeout.
#[allow(clippy::too_many_arguments)]
pub async fn fetch_queued<L, Q>(
    store: &L,
    queue: QueueSource<'_, Q>,
    source: Source<'_>,
    selection: &Selection<'_>,
    options: &ParseOptions,
    concurrency: usize,
    deadline: Option<Instant>,
) -> FetchReport
where
    L: LogStore + Clone + 'static,
    Q: Queue,
{
    let mut report = FetchReport {
        condition: LogCondition::Complete,
        ..FetchReport::not_read()
    };
    let mut counts = QueueReport::default();
    let mut calls = 0;
    let mut messages: Vec<QueuedMessage> = Vec::new();
    let drain_by = match (queue.drain_by, deadline) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    while messages.len() < MAX_QUEUE_MESSAGES {
        if drain_by.is_some_and(|at| Instant::now() >= at) {
            break;
        }
        calls += 1;
        let want = (MAX_QUEUE_MESSAGES - messages.len()).min(10) as u32;
        match within(
            drain_by,
            "ReceiveMessage",
            queue.queue.receive(queue.url, want),
        )
        .await
        {
            Ok(batch) if batch.is_empty() => {
                counts.drained = true;
                break;
            }
            Ok(batch) => {
                // On a busy queue new notifications keep arriving while it drains: a batch of
                // nothing but events after the window's end means the window's are all in.
                let after_window = batch.iter().all(|m| {
                    matches!(read_notice(&m.body, selection.end),
                        Notice::Created(objects) if objects.iter().all(|o| o.time > selection.end))
                });
                messages.extend(batch);
                if after_window {
                    counts.drained = true;
                    break;
                }
            }
            // Out of drain time: what arrived is read; the rest waits.
            Err(e) if e.is_out_of_time() => break,
            Err(e) if messages.is_empty() => {
                report.condition = if e.is("AccessDenied") {
                    LogCondition::AccessDenied
                } else {
                    LogCondition::ListFailed
                };
                report.list_error = Some(format!("queue {}: {e}", queue.url));
                report.discovery = Some(queue_discovery(calls, counts));
                return report;
            }
            // Some messages arrived before the failure: read them, the rest waits.
            Err(e) => {
                counts.receive_error = Some(e.to_string());
                break;
            }
        }
    }
    counts.messages = messages.len();

    // Which objects each message announces; one object may be announced by several.
    // The objects under the prefix's literal head (`%%` read as the `%` it stands for).
    let template = PrefixTemplate::parse(source.prefix);
    let root = template
        .as_ref()
        .map_or(source.prefix, PrefixTemplate::literal_head);
    let mut wanted: Vec<ObjectInfo> = Vec::new();
    let mut index_of: HashMap<(String, Option<String>), usize> = HashMap::new();
    let mut message_objects: Vec<Vec<usize>> = vec![Vec::new(); messages.len()];
    let mut unrecognized = vec![false; messages.len()];
    for (m, message) in messages.iter().enumerate() {
        let objects = match read_notice(&message.body, selection.end) {
            Notice::Created(objects) => objects,
            Notice::Nothing => Vec::new(),
            Notice::Unrecognized(problem) => {
                counts.unrecognized += 1;
                counts
                    .unrecognized_example
                    .get_or_insert_with(|| format!("message {}: {problem}", message.id));
                unrecognized[m] = true;
                continue;
            }
        };
        let before = message_objects[m].len();
        for o in objects {
            if o.bucket != source.bucket
                || !o.key.starts_with(root)
                || source.ignore.contains(&o.key.as_str())
            {
                continue;
            }
            let info = ObjectInfo {
                key: o.key,
                size: o.size,
                last_modified: o.time,
                etag: o.etag,
            };
            let index = *index_of
                .entry((info.key.clone(), info.etag.clone()))
                .or_insert_with(|| {
                    wanted.push(info);
                    wanted.len() - 1
                });
            message_objects[m].push(index);
        }
        if message_objects[m].len() == before {
            counts.nothing_to_read += 1;
        }
    }
    report.objects_listed = wanted.len();

    let mut already: HashMap<&str, Vec<&Counted>> = HashMap::new();
    for c in selection.counted {
        already.entry(c.key.as_str()).or_default().push(c);
    }
    let (seen, mut fresh): (Vec<ObjectInfo>, Vec<ObjectInfo>) =
        wanted.iter().cloned().partition(|o| {
            already
                .get(o.key.as_str())
                .is_some_and(|cs| cs.iter().any(|c| c.is(o)))
        });
    report.already_counted = seen.len();
    report.counted.extend(seen.into_iter().map(|o| Counted {
        key: o.key,
        last_modified: o.last_modified,
        etag: o.etag,
    }));
    fresh.sort_by(|a, b| {
        b.last_modified
            .cmp(&a.last_modified)
            .then_with(|| a.key.cmp(&b.key))
    });
    report.late_objects = fresh
        .iter()
        .filter(|o| o.last_modified <= selection.start)
        .count();
    report.objects_in_window = fresh.len();
    let unread = if fresh.is_empty() {
        Vec::new()
    } else {
        read_objects(
            store,
            source.bucket,
            fresh,
            (
                options,
                source.summaries.map(|prefix| SummaryRead {
                    prefix,
                    missing_after: selection.end - SUMMARY_PATIENCE,
                }),
            ),
            concurrency,
            deadline,
            &mut report,
        )
        .await
    };
    // A notification can come back (a failed delete, SQS's at-least-once delivery) however old
    // its event is: each mark is kept as if its object were last modified at the window's end,
    // so it stays in the state through the late span after this run.
    for mark in &mut report.counted {
        mark.last_modified = mark.last_modified.max(selection.end);
    }
    let unread: std::collections::HashSet<(String, Option<String>)> =
        unread.into_iter().map(|u| (u.key, u.etag)).collect();
    let left: Vec<bool> = wanted
        .iter()
        .map(|w| unread.contains(&(w.key.clone(), w.etag.clone())))
        .collect();
    report.done_messages = messages
        .iter()
        .enumerate()
        .filter(|(m, _)| !unrecognized[*m] && !message_objects[*m].iter().any(|&i| left[i]))
        .map(|(_, message)| message.receipt.clone())
        .collect();
    if report.objects_in_window == 0 && report.condition == LogCondition::Complete {
        report.condition = LogCondition::EmptyWindow;
    }
    if !counts.drained {
        // Notifications may wait that this run had no time or room to take.
        report.condition = LogCondition::Partial;
    }
    report.discovery = Some(queue_discovery(calls, counts));
    report
}

fn queue_discovery(calls: usize, counts: QueueReport) -> Discovery {
    Discovery {
        method: ListingScope::Queue,
        prefixes_listed: 0,
        calls,
        queue: Some(counts),
        start_after: None,
        note: None,
    }
}

/// Deletes the messages of a run's counted objects, ten per call, until `by`. Returns how many
/// were deleted and the first failure; a message not deleted comes back after its visibility
/// timeout, and the next run recognises its object as counted.
pub async fn delete_messages<Q: Queue>(
    queue: &Q,
    url: &str,
    receipts: &[String],
    by: Option<Instant>,
) -> (usize, Option<String>) {
    let mut deleted = 0;
    let mut error = None;
    for batch in receipts.chunks(10) {
        match within(by, "DeleteMessageBatch", queue.delete(url, batch)).await {
            Ok(n) => deleted += n,
            Err(e) => {
                error = Some(format!("queue {url}: {e}"));
                break;
            }
        }
    }
    (deleted, error)
}

/// One object's outcome: what was parsed (possibly only a part) and what went wrong.
struct ObjectRead {
    parsed: Option<(LogSummary, Format)>,
    problem: Option<String>,
    /// Nothing of it was read (cut by the deadline, or it could not be opened): a later run
    /// reads it.
    unread: bool,
}

impl ObjectRead {
    /// Read in vain: it counts as done.
    fn failed(problem: impl Into<String>) -> ObjectRead {
        ObjectRead {
            parsed: None,
            problem: Some(problem.into()),
            unread: false,
        }
    }

    /// Not read at all: left for the next run.
    fn unread(problem: impl Into<String>) -> ObjectRead {
        ObjectRead {
            unread: true,
            ..ObjectRead::failed(problem)
        }
    }
}

async fn read_object<L: LogStore>(
    store: &L,
    bucket: &str,
    object: &ObjectInfo,
    options: ParseOptions,
) -> ObjectRead {
    let mut body = match store.open(bucket, &object.key).await {
        Ok(body) => body,
        // Deleted since it was listed: there is nothing left to read.
        Err(e) if e.is("NoSuchKey") => return ObjectRead::failed(e.to_string()),
        Err(e) => return ObjectRead::unread(e.to_string()),
    };
    // The body's first bytes say whether it is gzip; neither the key's suffix nor the
    // object's Content-Encoding is trusted to.
    let mut sink = ObjectSink::new(Encoding::Auto, options);
    let mut problem = match feed_body(&mut body, &mut sink).await {
        Ok(problem) => problem,
        Err(e) => Some(format!("download interrupted: {e}")),
    };
    let (summary, format, finish_error) = sink.finish();
    if problem.is_none() {
        problem = finish_error.map(|e| e.to_string());
    }
    ObjectRead {
        parsed: Some((summary, format)),
        problem,
        unread: false,
    }
}

/// Feeds an object's body to `sink` until its end: `Ok` with the problem in its bytes that
/// ended it early (corrupt gzip, the decoded-bytes cap), if one did; `Err` when the download
/// broke. An object found to be a backfill stops downloading at once (nothing more counts).
pub(crate) async fn feed_body(
    body: &mut ObjectBody,
    sink: &mut ObjectSink,
) -> Result<Option<String>, ServiceError> {
    while let Some(chunk) = body.chunks.next().await {
        // A few kilobytes of gzip can decode to many megabytes: fed in pieces, with a yield
        // after each, the reader can be cut off at the deadline mid-object.
        for piece in chunk?.chunks(FEED_PIECE) {
            if let Err(e) = sink.feed(piece) {
                return Ok(Some(e.to_string()));
            }
            if sink.is_backfill() {
                return Ok(None);
            }
            tokio::task::yield_now().await;
        }
    }
    Ok(None)
}

/// How long after it landed an object may still be waiting for its summary: past it, the
/// summarizer is taken to have given up on it (its message is in the dead-letter queue), and
/// the object is a problem of the window rather than unread, so the windows move on.
pub const SUMMARY_PATIENCE: chrono::Duration = chrono::Duration::minutes(15);

/// Summary mode: where summaries are, and which objects have waited too long for theirs.
#[derive(Debug, Clone, Copy)]
pub struct SummaryRead<'a> {
    pub prefix: &'a str,
    /// Objects last modified before this whose summary is missing are given up on.
    pub missing_after: DateTime<Utc>,
}

/// Summary mode: the object's summary instead of the object. Not written yet, it leaves the
/// object unread (a later run looks again; meanwhile the window is incomplete), until
/// [`SUMMARY_PATIENCE`]; unreadable, or the summary of another object, it is a problem of the
/// window; of a newer format (a build being rolled out), unread. A summary whose lines began
/// before `options.backfill_before` counts as a backfill, as the object would in direct mode.
async fn read_summary<L: LogStore>(
    store: &L,
    bucket: &str,
    object: &ObjectInfo,
    how: SummaryRead<'_>,
    options: &ParseOptions,
) -> ObjectRead {
    use crate::parse::stored::{StoredSummary, SummaryError, MAX_SUMMARY_BYTES};
    let key = crate::summarize::summary_key(
        how.prefix,
        &object.key,
        object.etag.as_deref(),
        object.last_modified,
        options,
    );
    let mut body = match store.open(bucket, &key).await {
        Ok(body) => body,
        Err(e) if e.is("NoSuchKey") && object.last_modified < how.missing_after => {
            return ObjectRead::failed(format!(
                "no summary {} min after it landed (no {key}): see the summarizer's dead-letter queue",
                SUMMARY_PATIENCE.num_minutes()
            ))
        }
        Err(e) if e.is("NoSuchKey") => {
            return ObjectRead::unread(format!("not summarized yet (no {key})"))
        }
        Err(e) => return ObjectRead::unread(format!("its summary {key}: {e}")),
    };
    let mut bytes = Vec::new();
    while let Some(chunk) = body.chunks.next().await {
        match chunk {
            Ok(chunk) if bytes.len() + chunk.len() <= MAX_SUMMARY_BYTES => {
                bytes.extend_from_slice(&chunk)
            }
            Ok(_) => {
                return ObjectRead::failed(format!(
                    "its summary {key} is over {MAX_SUMMARY_BYTES} bytes"
                ))
            }
            Err(e) => return ObjectRead::unread(format!("its summary {key}: {e}")),
        }
    }
    let stored = match StoredSummary::decode(&bytes) {
        Ok(stored) => stored,
        Err(e @ SummaryError::UnknownVersion { .. }) => {
            return ObjectRead::unread(format!("its summary {key}: {e}"))
        }
        Err(e) => return ObjectRead::failed(format!("its summary {key}: {e}")),
    };
    let unquoted = |e: Option<&str>| e.map(|e| e.trim_matches('"').to_string());
    if stored.source.key != object.key
        || unquoted(stored.source.etag.as_deref()) != unquoted(object.etag.as_deref())
    {
        return ObjectRead::failed(format!(
            "its summary {key} is of another object ({} {:?})",
            stored.source.key, stored.source.etag
        ));
    }
    let backfill = options
        .backfill_before
        .zip(stored.first_line_at)
        .filter(|(before, first)| first < before)
        .map(|(_, first)| LogSummary::backfill(first));
    ObjectRead {
        parsed: Some((
            backfill.unwrap_or(stored.summary),
            stored.format.unwrap_or_default(),
        )),
        problem: stored.problem,
        unread: false,
    }
}

/// Raw bytes parsed between two yields (at most about 64 MiB of text, at gzip's largest ratio).
const FEED_PIECE: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn obj(key: &str, minute: u32) -> ObjectInfo {
        ObjectInfo {
            key: key.into(),
            size: 1,
            last_modified: Utc.with_ymd_and_hms(2024, 12, 8, 12, minute, 0).unwrap(),
            etag: None,
        }
    }

    #[test]
    fn window_is_open_at_start_and_closed_at_end() {
        let start = Utc.with_ymd_and_hms(2024, 12, 8, 12, 30, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2024, 12, 8, 12, 35, 0).unwrap();
        let picked = select_in_window(
            vec![
                obj("late", 36),
                obj("b", 35),
                obj("old", 30),
                obj("a", 31),
                obj("c", 33),
            ],
            start,
            end,
        );
        let keys: Vec<&str> = picked.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["b", "c", "a"], "newest first");
    }

    #[test]
    fn time_sorted_listing_moves_past_keys_older_than_the_horizon_only() {
        let listed = vec![obj("a", 10), obj("b", 20), obj("c", 30), obj("d", 40)];
        let horizon = Utc.with_ymd_and_hms(2024, 12, 8, 12, 20, 0).unwrap();
        assert_eq!(
            next_list_after(&listed, horizon, None).as_deref(),
            Some("b")
        );
        // Never back: a later mark stays.
        assert_eq!(
            next_list_after(&listed, horizon, Some("x")).as_deref(),
            Some("x")
        );
        // Nothing that old: the previous mark, or none.
        let early = Utc.with_ymd_and_hms(2024, 12, 8, 12, 1, 0).unwrap();
        assert_eq!(next_list_after(&listed, early, None), None);
    }

    #[test]
    fn problems_beyond_the_cap_are_counted_not_listed() {
        let mut report = FetchReport::not_read();
        // Arrival order is not key order.
        for i in (0..MAX_PROBLEMS + 30).rev() {
            report.note_problem(ObjectProblem {
                key: format!("logs/{i:04}.log"),
                problem: "corrupt gzip data".into(),
            });
        }
        assert_eq!(report.problems.len(), MAX_PROBLEMS);
        assert_eq!(report.problems_omitted, 30);
        let mut keys: Vec<&str> = report.problems.iter().map(|p| p.key.as_str()).collect();
        keys.sort();
        assert_eq!(keys[0], "logs/0000.log");
        assert_eq!(
            keys[MAX_PROBLEMS - 1],
            format!("logs/{:04}.log", MAX_PROBLEMS - 1)
        );
    }
}
