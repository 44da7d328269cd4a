//! The summarizer (issue 12): logs summarised where and when they land, by as many Lambda
//! invocations as the discovery queue's event source mapping starts, so that the scheduled
//! cycle merges small summaries whose cost does not grow with the log volume.
//!
//! One SQS batch in, one summary object per announced log object out: each object is read and
//! parsed exactly as the cycle reads it in direct mode (the same formats, options, error rules
//! and decoded-bytes cap), and its [`StoredSummary`] written under [`summary_key`]: a key
//! derived from the source's key and ETag, under the minute of its LastModified. A message
//! delivered twice rewrites nothing (the write is conditional: an existing summary of the same
//! key and ETag is the same summary). A message whose object could not be read or whose summary
//! could not be written is reported as a batch item failure (`ReportBatchItemFailures`): SQS
//! delivers it again, and after the queue's receive limit moves it to the dead-letter queue.
//!
//! The cycle in summary mode (`LOGSCALE_INGEST=summaries`) lists the window's log objects as in
//! direct mode, but for each reads the summary at [`summary_key`] instead of the object: a
//! summary not written yet leaves the object unread (incomplete data: no scale-in; the next run
//! looks again), and one that cannot be read is a problem of the window.

use std::time::Duration;

use chrono::{DateTime, Utc};

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::notify::{read_notice, Announced, Notice};
use crate::parse::stored::{SourceObject, StoredSummary};
use crate::parse::{Encoding, ObjectSink, ParseOptions};
use crate::ports::{LogStore, SaveOutcome, StateStore};
use crate::Config;

/// Where summaries go in the log bucket when `LOGSCALE_SUMMARY_PREFIX` is unset.
pub const DEFAULT_SUMMARY_PREFIX: &str = "logscale-summaries/";

/// The summary of the object `source_key` with `etag`, last modified at `last_modified`:
/// `<prefix>YYYY/MM/DD/HH/MM/<sha256 of key and ETag>.json`. The same object (key and bytes)
/// always maps to the same summary; another upload under the same key (another ETag) to
/// another. The ETag is compared without S3's quotes, which listings give and events do not.
pub fn summary_key(
    prefix: &str,
    source_key: &str,
    etag: Option<&str>,
    last_modified: DateTime<Utc>,
) -> String {
    let mut hash = Sha256::new();
    hash.update(source_key.as_bytes());
    // A separator no key holds, so that ("ab", "c") and ("a", "bc") differ.
    hash.update([0u8]);
    hash.update(etag.unwrap_or("").trim_matches('"').as_bytes());
    let digest: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{prefix}{}/{digest}.json",
        last_modified.format("%Y/%m/%d/%H/%M")
    )
}

/// The answer SQS's event source mapping reads when `ReportBatchItemFailures` is on: the
/// messages to deliver again (the others are deleted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// What one batch did, logged as one JSON line beside the response.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BatchReport {
    pub messages: usize,
    /// Messages that announced nothing to summarize (S3's test message, other events, objects
    /// in another bucket, outside the log prefix, or summaries themselves).
    pub nothing_to_do: usize,
    /// Summaries written this time.
    pub written: usize,
    /// Summaries that were there already (a message delivered again).
    pub already_written: usize,
    /// Log bytes (decoded) behind the summaries written.
    pub bytes: u64,
    /// Each failed message: its id and why (delivered again; after the receive limit, the DLQ).
    pub failures: Vec<String>,
}

/// Summarizes the objects one SQS batch announces (`event` as Lambda hands it). `now` dates
/// events without a time; reading stops at `deadline` (the rest fails and comes back).
pub async fn summarize_batch<L>(
    cfg: &Config,
    store: &L,
    event: &Value,
    now: DateTime<Utc>,
    deadline: Option<Instant>,
) -> (BatchResponse, BatchReport)
where
    L: LogStore + StateStore,
{
    let mut response = BatchResponse::default();
    let mut report = BatchReport::default();
    let records = event
        .get("Records")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for record in records {
        report.messages += 1;
        let id = record
            .get("messageId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let body = record.get("body").and_then(Value::as_str).unwrap_or("");
        let outcome = match read_notice(body, now) {
            Notice::Nothing => Ok(0),
            Notice::Unrecognized(why) => Err(format!("not an S3 event: {why}")),
            Notice::Created(objects) => {
                summarize_objects(cfg, store, &objects, deadline, &mut report).await
            }
        };
        match outcome {
            Ok(0) => report.nothing_to_do += 1,
            Ok(_) => {}
            Err(why) => {
                report.failures.push(format!("{id}: {why}"));
                response.batch_item_failures.push(ItemFailure {
                    item_identifier: id,
                });
            }
        }
    }
    (response, report)
}

/// Summarizes one message's objects; `Ok(n)` with the objects it took, `Err` with why one
/// failed.
async fn summarize_objects<L>(
    cfg: &Config,
    store: &L,
    objects: &[Announced],
    deadline: Option<Instant>,
    report: &mut BatchReport,
) -> Result<usize, String>
where
    L: LogStore + StateStore,
{
    let template = crate::discover::PrefixTemplate::parse(&cfg.prefix);
    let head = template.as_ref().map_or(
        cfg.prefix.as_str(),
        crate::discover::PrefixTemplate::literal_head,
    );
    let mut taken = 0;
    for object in objects {
        let ours = object.bucket == cfg.bucket
            && object.key.starts_with(head)
            && !object.key.starts_with(&cfg.summary_prefix);
        if !ours {
            continue;
        }
        taken += 1;
        let left = deadline.map(|at| at.saturating_duration_since(Instant::now()));
        if left.is_some_and(|l| l < MIN_TIME_FOR_AN_OBJECT) {
            return Err(format!("{}: not read, the deadline was near", object.key));
        }
        let work = summarize_object(cfg, store, object);
        let done = match deadline {
            Some(at) => tokio::time::timeout_at(at, work)
                .await
                .unwrap_or_else(|_| Err(format!("{}: cut off by the deadline", object.key))),
            None => work.await,
        };
        match done? {
            (SaveOutcome::Saved, bytes) => {
                report.written += 1;
                report.bytes += bytes;
            }
            (SaveOutcome::Conflict, _) => report.already_written += 1,
        }
    }
    Ok(taken)
}

/// Reading one object is not started with less time than this left.
const MIN_TIME_FOR_AN_OBJECT: Duration = Duration::from_secs(2);

/// Reads, parses and writes the summary of one object.
async fn summarize_object<L>(
    cfg: &Config,
    store: &L,
    object: &Announced,
) -> Result<(SaveOutcome, u64), String>
where
    L: LogStore + StateStore,
{
    let key = &object.key;
    let mut body = store
        .open(&cfg.bucket, key)
        .await
        .map_err(|e| format!("{key}: {e}"))?;
    // As the cycle reads it, but without the backfill check: that is judged against a
    // window, which the cycle has and the summarizer does not.
    let options = ParseOptions {
        backfill_before: None,
        ..cfg.parse.clone()
    };
    // A problem in the bytes (corrupt gzip, over the decoded-bytes cap) ends the object as it
    // ends it in direct mode: the lines before it count, and the problem is kept with them. A
    // broken download is not the object's fault: the message comes back.
    let mut sink = ObjectSink::new(Encoding::Auto, options);
    let problem = crate::fetch::feed_body(&mut body, &mut sink)
        .await
        .map_err(|e| format!("{key}: download interrupted: {e}"))?;
    let etag = body.etag.clone().or_else(|| object.etag.clone());
    let last_modified = body.last_modified.unwrap_or(object.time);
    let source = SourceObject {
        bucket: Some(cfg.bucket.clone()),
        key: key.clone(),
        etag: etag.clone(),
        size: object.size,
        last_modified: Some(last_modified),
    };
    let stored = StoredSummary::from_object(source, sink.finish_object(), problem);
    let bytes = stored.summary.bytes;
    let target = summary_key(&cfg.summary_prefix, key, etag.as_deref(), last_modified);
    let saved = store
        .save(&cfg.bucket, &target, stored.encode(), None)
        .await
        .map_err(|e| format!("{key}: the summary {target} was not written: {e}"))?;
    Ok((saved, bytes))
}

#[cfg(test)]
mod tests;
