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
fn a_summary_key_names_the_object_and_its_bytes_under_its_minute() {
    let at = Utc.with_ymd_and_hms(2024, 12, 8, 12, 33, 59).unwrap();
    let key = summary_key("sums/", "logs/a.log", Some("\"abc\""), at);
    assert!(key.starts_with("sums/2024/12/08/12/33/"), "{key}");
    assert!(key.ends_with(".json"));
    assert_eq!(
        key,
        summary_key("sums/", "logs/a.log", Some("abc"), at),
        "quotes or not"
    );
    assert_ne!(
        key,
        summary_key("sums/", "logs/a.log", Some("abd"), at),
        "other bytes"
    );
    assert_ne!(
        key,
        summary_key("sums/", "logs/b.log", Some("abc"), at),
        "another key"
    );
    // The separator: ("logs/a", "b.log…") is not ("logs/ab", ".log…").
    assert_ne!(
        summary_key("s/", "ab", Some("c"), at),
        summary_key("s/", "a", Some("bc"), at)
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
fn summary_mode_is_refused_with_the_queue_or_under_the_log_prefix() {
    let err = |extra: &[(&str, &str)]| {
        let vars: HashMap<String, String> = [
            ("LOGSCALE_BUCKET", BUCKET),
            ("LOGSCALE_GROUP", GROUP),
            ("LOGSCALE_PREFIX", "logs/"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Config::from_lookup(|k| vars.get(k).cloned())
            .unwrap_err()
            .to_string()
    };
    let e = err(&[
        ("LOGSCALE_INGEST", "summaries"),
        ("LOGSCALE_QUEUE_URL", QUEUE),
    ]);
    assert!(
        e.contains("LOGSCALE_INGEST") && e.contains("LOGSCALE_QUEUE_URL"),
        "{e}"
    );
    let e = err(&[
        ("LOGSCALE_INGEST", "summaries"),
        ("LOGSCALE_SUMMARY_PREFIX", "logs/sums/"),
    ]);
    assert!(
        e.contains("LOGSCALE_SUMMARY_PREFIX") && e.contains("under LOGSCALE_PREFIX"),
        "{e}"
    );
}
