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
use crate::parse::{Encoding, Format, LogSummary, ObjectSink, ParseOptions};
use crate::ports::{LogStore, ObjectInfo};
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

/// How the window's objects were found, for the record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Discovery {
    pub method: ListingScope,
    /// Prefixes listed (each takes one ListObjectsV2 call per 1,000 keys).
    pub prefixes_listed: usize,
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
        start_after: start_after.map(str::to_string),
        note: plan.note(),
    });
    for list_prefix in plan.prefixes {
        if let Some(d) = &mut report.discovery {
            d.prefixes_listed += 1;
        }
        let list = store.list(bucket, &list_prefix, start_after);
        match within(deadline, "ListObjectsV2", list).await {
            Ok(objects) => listed.extend(objects),
            Err(e) => {
                report.condition = if e.is("NoSuchBucket") {
                    LogCondition::NoSuchBucket
                } else if e.is("AccessDenied") {
                    LogCondition::AccessDenied
                } else {
                    LogCondition::ListFailed
                };
                report.list_error = Some(format!("s3://{bucket}/{list_prefix}: {e}"));
                return report;
            }
        }
    }
    listed.retain(|o| !ignore.contains(&o.key.as_str()));
    if sorted {
        // A later run may list from as far back as this one's late span before its own start.
        let late = selection.start - selection.list_from;
        let horizon = selection.list_from - late - SORTED_KEYS_SLACK;
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

    let reads = futures::stream::iter(selected)
        .map(|object| {
            let (store, bucket, options) = (store.clone(), bucket.to_string(), options.clone());
            async move {
                let mark = Counted {
                    key: object.key.clone(),
                    last_modified: object.last_modified,
                    etag: object.etag.clone(),
                };
                let task =
                    tokio::spawn(
                        async move { read_object(&store, &bucket, &object, options).await },
                    );
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
            let lm = mark.last_modified;
            report.oldest_unread = Some(report.oldest_unread.map_or(lm, |t| t.min(lm)));
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
    report
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
    let mut problem = None;
    'body: while let Some(chunk) = body.chunks.next().await {
        match chunk {
            Ok(bytes) => {
                // A few kilobytes of gzip can decode to many megabytes: fed in pieces, with a
                // yield after each, the reader can be cut off at the deadline mid-object.
                for piece in bytes.chunks(FEED_PIECE) {
                    if let Err(e) = sink.feed(piece) {
                        problem = Some(e.to_string());
                        break 'body;
                    }
                    tokio::task::yield_now().await;
                }
            }
            Err(e) => {
                problem = Some(format!("download interrupted: {e}"));
                break;
            }
        }
    }
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
