//! The summarizer through the in-memory ports, and the cycle in summary mode against the
//! same objects read directly.

use std::collections::HashMap;

use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::cycle::{run_cycle, CycleOptions};
use crate::fetch::LogCondition;
use crate::memory::{Fault, InMemoryCloud};
use crate::parse::Format;
use crate::ports::Queue;
use crate::record::DecisionRecord;
use crate::sample_logs::{generate, LogGenSpec};

const BUCKET: &str = "app-logs";
const GROUP: &str = "web";
const QUEUE: &str = "https://sqs.test/summaries";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 12, 8, 12, 35, 0).unwrap()
}

fn config(extra: &[(&str, &str)]) -> Config {
    let vars: HashMap<String, String> = [
        ("LOGSCALE_BUCKET", BUCKET),
        ("LOGSCALE_GROUP", GROUP),
        ("LOGSCALE_PREFIX", "logs/"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Config::from_lookup(|k| vars.get(k).cloned()).expect("valid test settings")
}

/// `lines` requests in `format`, 5 % errors, some slow, timed within the window.
fn logs(format: Format, lines: u64, seed: u64) -> Vec<u8> {
    let spec = LogGenSpec {
        error_share: 0.05,
        seed,
        start: (now() - chrono::Duration::minutes(4)).naive_utc(),
        ..LogGenSpec::new(format, lines)
    };
    let mut out = Vec::new();
    generate(&spec, &mut out).unwrap();
    out
}

/// A warm group of two at 50 % CPU and a bucket that announces each new object to the queue.
fn world() -> InMemoryCloud {
    let cloud = InMemoryCloud::new();
    cloud.put_fleet(
        GROUP,
        (1, 10, 2),
        &[50.0, 50.0],
        None,
        now() - chrono::Duration::hours(2),
    );
    cloud.notify_queue(BUCKET, QUEUE);
    cloud
}

/// What the event source mapping would hand the summarizer: the queue's messages as one batch.
async fn batch(cloud: &InMemoryCloud) -> Value {
    let mut records = Vec::new();
    loop {
        let got = cloud.receive(QUEUE, 10).await.unwrap();
        if got.is_empty() {
            break;
        }
        for m in got {
            records.push(
                json!({"messageId": m.id, "receiptHandle": m.receipt, "body": m.body,
                                "eventSource": "aws:sqs"}),
            );
        }
    }
    json!({ "Records": records })
}

async fn cycle(cloud: &InMemoryCloud, cfg: &Config) -> DecisionRecord {
    let opts = CycleOptions {
        now: now(),
        scheduled: None,
        dry_run: true,
        save_state: false,
        deadline: None,
    };
    run_cycle(cfg, &cloud.services(), opts).await
}

#[test]
fn a_summary_key_names_the_object_its_bytes_and_its_reading_under_its_minute() {
    let at = Utc.with_ymd_and_hms(2024, 12, 8, 12, 33, 59).unwrap();
    let o = ParseOptions::default();
    let key = summary_key("sums/", "logs/a.log", Some("\"abc\""), at, &o);
    assert!(key.starts_with("sums/2024/12/08/12/33/"), "{key}");
    assert!(key.ends_with(".json"));
    assert_eq!(
        key,
        summary_key("sums/", "logs/a.log", Some("abc"), at, &o),
        "quotes or not"
    );
    assert_ne!(
        key,
        summary_key("sums/", "logs/a.log", Some("abd"), at, &o),
        "other bytes"
    );
    assert_ne!(
        key,
        summary_key("sums/", "logs/b.log", Some("abc"), at, &o),
        "another key"
    );
    // The separator: ("ab", "c") is not ("a", "bc").
    assert_ne!(
        summary_key("s/", "ab", Some("c"), at, &o),
        summary_key("s/", "a", Some("bc"), at, &o)
    );
    // Read with another slow threshold, it is another summary; the backfill check (judged
    // against a window when read) does not change it.
    let slower = ParseOptions {
        slow_ms: o.slow_ms * 2.0,
        ..o.clone()
    };
    assert_ne!(
        key,
        summary_key("sums/", "logs/a.log", Some("abc"), at, &slower)
    );
    let backfill = ParseOptions {
        backfill_before: Some(at),
        ..o.clone()
    };
    assert_eq!(
        key,
        summary_key("sums/", "logs/a.log", Some("abc"), at, &backfill)
    );
}

#[tokio::test]
async fn a_batch_writes_one_summary_per_object_and_a_redelivery_rewrites_nothing() {
    let cloud = world();
    cloud.put_object(
        BUCKET,
        "logs/a.log",
        logs(Format::Original, 3000, 1),
        now() - chrono::Duration::minutes(3),
    );
    cloud.put_object(
        BUCKET,
        "logs/b.log",
        logs(Format::Combined, 2000, 2),
        now() - chrono::Duration::minutes(2),
    );
    let cfg = config(&[]);
    let event = batch(&cloud).await;
    let (response, report) = summarize_batch(&cfg, &cloud, &event, now(), None).await;
    assert_eq!(response, BatchResponse::default(), "{report:?}");
    assert_eq!((report.messages, report.written), (2, 2));
    assert!(report.bytes > 0);
    // The summary sits where the cycle will look for it, and says what the object says.
    let listed = cloud.list_keys(BUCKET, DEFAULT_SUMMARY_PREFIX);
    assert_eq!(listed.len(), 2, "{listed:?}");

    // SQS delivers at least once: the same batch again writes nothing new.
    let (response, again) = summarize_batch(&cfg, &cloud, &event, now(), None).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((again.written, again.already_written), (0, 2));
    assert_eq!(cloud.list_keys(BUCKET, DEFAULT_SUMMARY_PREFIX), listed);
}

#[tokio::test]
async fn failures_are_reported_by_message_and_the_rest_of_the_batch_is_done() {
    let cloud = world();
    cloud.put_object(
        BUCKET,
        "logs/ok.log",
        logs(Format::Original, 100, 3),
        now() - chrono::Duration::minutes(3),
    );
    cloud.put_object(
        BUCKET,
        "logs/bad.log",
        logs(Format::Original, 100, 4),
        now() - chrono::Duration::minutes(2),
    );
    cloud.inject(Fault::error("GetObject", "SlowDown").on(&format!("{BUCKET}/logs/bad.log")));
    let mut event = batch(&cloud).await;
    let records = event["Records"].as_array_mut().unwrap();
    let bad_id = records
        .iter()
        .find(|r| r["body"].as_str().unwrap().contains("bad"))
        .map(|r| r["messageId"].as_str().unwrap().to_string())
        .unwrap();
    records.push(json!({"messageId": "garbage", "body": "not json"}));
    records.push(json!({"messageId": "test", "body": "{\"Event\": \"s3:TestEvent\"}"}));
    // An object outside the prefix, and a summary itself: nothing to do.
    records.push(json!({"messageId": "elsewhere", "body": json!({"Records": [{
        "eventName": "ObjectCreated:Put", "eventTime": "2024-12-08T12:33:00Z",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": "other/x.log", "size": 1, "eTag": "e"}}}]}).to_string()}));
    let (response, report) = summarize_batch(&config(&[]), &cloud, &event, now(), None).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, [bad_id.as_str(), "garbage"], "{report:?}");
    assert_eq!(report.written, 1);
    assert_eq!(
        report.nothing_to_do, 2,
        "the test event and the object elsewhere"
    );
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.contains("logs/bad.log") && f.contains("SlowDown")),
        "{report:?}"
    );
}

#[tokio::test]
async fn the_cycle_in_summary_mode_sees_what_it_sees_reading_the_objects() {
    let cloud = world();
    let formats = [
        Format::Original,
        Format::Alb,
        Format::Combined,
        Format::Json,
    ];
    for (i, format) in formats.into_iter().enumerate() {
        cloud.put_object(
            BUCKET,
            &format!("logs/{i}.log"),
            logs(format, 1500, i as u64),
            now() - chrono::Duration::minutes(1 + i as i64 % 3),
        );
    }
    let direct = cycle(&cloud, &config(&[])).await;
    let summaries_cfg = config(&[("LOGSCALE_INGEST", "summaries")]);

    // Before the summarizer ran: nothing to read, the window is incomplete, no scale-in.
    let early = cycle(&cloud, &summaries_cfg).await;
    assert_eq!(early.logs.condition, LogCondition::Partial);
    assert_eq!(early.logs.objects_read, 0);
    assert!(
        early
            .logs
            .problems
            .iter()
            .all(|p| p.problem.contains("not summarized yet")),
        "{:?}",
        early.logs.problems
    );

    let event = batch(&cloud).await;
    let (response, _) = summarize_batch(&summaries_cfg, &cloud, &event, now(), None).await;
    assert!(response.batch_item_failures.is_empty());
    let merged = cycle(&cloud, &summaries_cfg).await;
    assert_eq!(
        merged.logs.condition,
        LogCondition::Complete,
        "{:?}",
        merged.logs.problems
    );
    assert_eq!(merged.logs.objects_read, direct.logs.objects_read);
    assert_eq!(merged.logs.formats, direct.logs.formats);
    // The record says which way each cycle took its logs in, and how many summaries it merged.
    assert_eq!(direct.logs.ingest, crate::record::Ingest::Direct);
    assert_eq!(direct.logs.summaries_merged, None);
    assert_eq!(merged.logs.ingest, crate::record::Ingest::Summaries);
    assert_eq!(merged.logs.summaries_merged, Some(4));
    assert!(crate::render_record(&merged).contains(", 4 read (as 4 summaries) ·"));
    assert!(!crate::render_record(&direct).contains("summaries"));
    // The same counts, rates and percentiles: the summaries are the objects' parses.
    assert_eq!(
        serde_json::to_value(&merged.logs.metrics).unwrap(),
        serde_json::to_value(&direct.logs.metrics).unwrap()
    );
    assert_eq!(merged.decision.to, direct.decision.to);
    // The summaries are not logs: the direct cycle does not read them either way.
    assert_eq!(cycle(&cloud, &config(&[])).await.logs.objects_read, 4);
}

#[tokio::test]
async fn a_summary_that_cannot_be_read_is_a_problem_of_the_window() {
    let cloud = world();
    let at = now() - chrono::Duration::minutes(2);
    cloud.put_object(BUCKET, "logs/a.log", logs(Format::Original, 100, 9), at);
    let cfg = config(&[("LOGSCALE_INGEST", "summaries")]);
    let event = batch(&cloud).await;
    summarize_batch(&cfg, &cloud, &event, now(), None).await;
    let key = cloud
        .list_keys(BUCKET, DEFAULT_SUMMARY_PREFIX)
        .pop()
        .unwrap();
    cloud.put_object(BUCKET, &key, &b"garbage"[..], at);
    let record = cycle(&cloud, &cfg).await;
    assert_eq!(record.logs.condition, LogCondition::Partial);
    assert!(
        record.logs.problems[0].problem.contains("its summary"),
        "{:?}",
        record.logs.problems
    );
}

#[test]
fn summary_mode_is_refused_with_the_queue_and_prefixes_that_overlap() {
    let err = |extra: &[(&str, &str)]| {
        let vars: HashMap<String, String> =
            [("LOGSCALE_BUCKET", BUCKET), ("LOGSCALE_GROUP", GROUP)]
                .iter()
                .chain(extra)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        Config::from_lookup(|k| vars.get(k).cloned())
            .map(|_| String::new())
            .unwrap_or_else(|e| e.to_string())
    };
    let e = err(&[
        ("LOGSCALE_PREFIX", "logs/"),
        ("LOGSCALE_INGEST", "summaries"),
        ("LOGSCALE_QUEUE_URL", QUEUE),
    ]);
    assert!(
        e.contains("LOGSCALE_INGEST") && e.contains("LOGSCALE_QUEUE_URL"),
        "{e}"
    );
    // Either under the other, in either mode.
    for (ingest, summaries, logs) in [
        ("summaries", "logs/sums/", "logs/"),
        ("direct", "logs/sums/", "logs/"),
        ("summaries", "logs/", "logs/app/"),
    ] {
        let e = err(&[
            ("LOGSCALE_INGEST", ingest),
            ("LOGSCALE_SUMMARY_PREFIX", summaries),
            ("LOGSCALE_PREFIX", logs),
        ]);
        assert!(
            e.contains("LOGSCALE_SUMMARY_PREFIX") && e.contains("overlaps LOGSCALE_PREFIX"),
            "{ingest} {summaries} {logs}: {e}"
        );
    }
    // A bucket-wide log prefix: the summaries' prefix is passed over instead.
    assert_eq!(
        err(&[("LOGSCALE_INGEST", "summaries"), ("LOGSCALE_PREFIX", "")]),
        ""
    );
}

/// Review of issue 12: what direct mode does, summary mode does too: a replayed day of old
/// logs is a backfill, and an object whose summary never comes stops holding the windows.
#[tokio::test]
async fn summary_mode_keeps_the_backfill_rule_and_gives_up_on_a_summary_that_never_comes() {
    let cloud = world();
    let old = LogGenSpec {
        start: (now() - chrono::Duration::days(3)).naive_utc(),
        ..LogGenSpec::new(Format::Original, 500)
    };
    let mut body = Vec::new();
    generate(&old, &mut body).unwrap();
    cloud.put_object(
        BUCKET,
        "logs/replayed.log",
        body,
        now() - chrono::Duration::minutes(2),
    );
    cloud.put_object(
        BUCKET,
        "logs/now.log",
        logs(Format::Original, 500, 5),
        now() - chrono::Duration::minutes(2),
    );
    let cfg = config(&[("LOGSCALE_INGEST", "summaries")]);
    let event = batch(&cloud).await;
    summarize_batch(&cfg, &cloud, &event, now(), None).await;
    let summaries = cycle(&cloud, &cfg).await;
    let direct = cycle(&cloud, &config(&[])).await;
    assert_eq!(summaries.logs.backfill_objects, 1);
    assert_eq!(
        summaries.logs.backfill_objects,
        direct.logs.backfill_objects
    );
    assert_eq!(
        summaries.logs.metrics.requests,
        direct.logs.metrics.requests
    );

    // An object the summarizer never summarized (its message in the DLQ): unread while it is
    // young, a named problem once SUMMARY_PATIENCE has passed.
    let cloud = world();
    cloud.put_object(
        BUCKET,
        "logs/poison.log",
        logs(Format::Original, 10, 6),
        now() - chrono::Duration::minutes(2),
    );
    let young = cycle(&cloud, &cfg).await;
    assert!(young.logs.problems[0]
        .problem
        .contains("not summarized yet"));
    let opts = CycleOptions {
        now: now() + crate::fetch::SUMMARY_PATIENCE,
        scheduled: None,
        dry_run: true,
        save_state: false,
        deadline: None,
    };
    let cfg_late = config(&[
        ("LOGSCALE_INGEST", "summaries"),
        ("LOGSCALE_CATCH_UP_MINUTES", "60"),
        ("LOGSCALE_WINDOW_MINUTES", "30"),
    ]);
    let late = run_cycle(&cfg_late, &cloud.services(), opts).await;
    assert!(
        late.logs
            .problems
            .iter()
            .any(|p| p.problem.contains("dead-letter queue")),
        "{:?}",
        late.logs.problems
    );
    assert_eq!(
        late.logs.condition,
        LogCondition::Partial,
        "still no scale-in on it this run"
    );
}

#[tokio::test]
async fn a_message_tries_all_its_objects_and_a_deleted_object_is_nothing_to_do() {
    let cloud = world();
    let at = now() - chrono::Duration::minutes(2);
    cloud.put_object(BUCKET, "logs/a.log", logs(Format::Original, 10, 7), at);
    cloud.put_object(BUCKET, "logs/b.log", logs(Format::Original, 10, 8), at);
    cloud.inject(Fault::error("GetObject", "SlowDown").on(&format!("{BUCKET}/logs/a.log")));
    let notice = |key: &str| {
        json!({"eventName": "ObjectCreated:Put", "eventTime": "2024-12-08T12:33:00Z",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": key, "size": 1, "eTag": "e"}}})
    };
    let event = json!({"Records": [
        {"messageId": "both", "body": json!({"Records": [notice("logs/a.log"), notice("logs/b.log")]}).to_string()},
        {"messageId": "gone", "body": json!({"Records": [notice("logs/deleted.log")]}).to_string()},
        {"body": json!({"Records": [notice("logs/b.log")]}).to_string()},
    ]});
    let (response, report) = summarize_batch(&config(&[]), &cloud, &event, now(), None).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["both"], "{report:?}");
    assert_eq!(
        report.written, 1,
        "b was written although a failed before it"
    );
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.contains("without a messageId")),
        "{report:?}"
    );
}
