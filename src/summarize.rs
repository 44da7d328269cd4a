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

/// The summary of the object `source_key` with `etag`, last modified at `last_modified`, read
/// with `options`: `<prefix>YYYY/MM/DD/HH/MM/<sha256 of key and ETag>-<options>.json`. The same
/// object (key and bytes) read the same way always maps to the same summary; another upload
/// under the same key (another ETag), other parse settings or another summary format version
/// to another, so a summary written once is never one read with other rules. The ETag is
/// compared without S3's quotes, which listings give and events do not.
pub fn summary_key(
    prefix: &str,
    source_key: &str,
    etag: Option<&str>,
    last_modified: DateTime<Utc>,
    options: &ParseOptions,
) -> String {
    let mut hash = Sha256::new();
    hash.update(source_key.as_bytes());
    // A separator no key holds, so that ("ab", "c") and ("a", "bc") differ.
    hash.update([0u8]);
    hash.update(etag.unwrap_or("").trim_matches('"').as_bytes());
    let digest = hex(&hash.finalize());
    format!(
        "{prefix}{}/{digest}-{}.json",
        last_modified.format("%Y/%m/%d/%H/%M"),
        options_fingerprint(options)
    )
}

/// Eight hex digits naming the parse settings that change a summary (not the backfill check,
/// which is judged against a window when the summary is read) and the format's version.
fn options_fingerprint(options: &ParseOptions) -> String {
    let settings = ParseOptions {
        backfill_before: None,
        ..options.clone()
    };
    let mut hash = Sha256::new();
    hash.update(format!("{}:{settings:?}", crate::parse::stored::SUMMARY_VERSION).as_bytes());
    hex(&hash.finalize()[..4])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
        let Some(id) = record
            .get("messageId")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_string)
        else {
            // An empty identifier would fail the whole batch; without one there is nothing to
            // ask back, so it is noted and passed over.
            report
                .failures
                .push("a record without a messageId, passed over".into());
            continue;
        };
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
    let mut failed = Vec::new();
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
            failed.push(format!("{}: not read, the deadline was near", object.key));
            continue;
        }
        let work = summarize_object(cfg, store, object);
        let done = match deadline {
            Some(at) => tokio::time::timeout_at(at, work)
                .await
                .unwrap_or_else(|_| Err(format!("{}: cut off by the deadline", object.key))),
            None => work.await,
        };
        // Every object of the message is tried: one failing does not hold back the others
        // (their summaries are written, and a redelivery finds them there).
        match done {
            Ok((Some(SaveOutcome::Saved), bytes)) => {
                report.written += 1;
                report.bytes += bytes;
            }
            Ok((Some(SaveOutcome::Conflict), _)) => report.already_written += 1,
            Ok((None, _)) => {}
            Err(why) => failed.push(why),
        }
    }
    if failed.is_empty() {
        Ok(taken)
    } else {
        Err(failed.join("; "))
    }
}

/// Reading one object is not started with less time than this left.
const MIN_TIME_FOR_AN_OBJECT: Duration = Duration::from_secs(2);

/// Reads, parses and writes the summary of one object; `None` when the object is gone (deleted
/// since it was announced: nothing to summarize, as direct mode finds nothing to read).
async fn summarize_object<L>(
    cfg: &Config,
    store: &L,
    object: &Announced,
) -> Result<(Option<SaveOutcome>, u64), String>
where
    L: LogStore + StateStore,
{
    let key = &object.key;
    let mut body = match store.open(&cfg.bucket, key).await {
        Ok(body) => body,
        Err(e) if e.is("NoSuchKey") => return Ok((None, 0)),
        Err(e) => return Err(format!("{key}: {e}")),
    };
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
    let encoded = stored.encode();
    // Written once and never corrected: what cannot be read back is not written.
    if let Err(e) = StoredSummary::decode(&encoded) {
        return Err(format!("{key}: its summary would not read back: {e}"));
    }
    let target = summary_key(
        &cfg.summary_prefix,
        key,
        etag.as_deref(),
        last_modified,
        &cfg.parse,
    );
    let saved = store
        .save(&cfg.bucket, &target, encoded, None)
        .await
        .map_err(|e| format!("{key}: the summary {target} was not written: {e}"))?;
    Ok((Some(saved), bytes))
}

#[cfg(test)]
mod tests;
