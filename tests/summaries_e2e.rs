//! Issue 12's fan-out end to end, on the stand-in with the real SDK clients and the real
//! binaries under cargo-lambda's runtime emulator: log objects uploaded in four formats, plain
//! and gzip → the bucket's notifications → an SQS queue → the summarizer (`logscale-summarizer`,
//! three processes on one emulator, so three batches are summarized at once) invoked with SQS
//! events as the event source mapping builds them → one summary per object → one cycle in
//! summary mode, whose record must equal the direct-mode record for the same objects. A message
//! delivered again (its deletion lost) rewrites nothing and changes nothing.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use logscale::parse::Format;
use serde_json::{json, Value};
use support::lambda::{CycleLambda, Lambda};
use support::*;

const SUMMARY_PREFIX: &str = "logscale-summaries/";

/// How late the stand-in answers each batch's first GetObject.
const DELAY: std::time::Duration = std::time::Duration::from_secs(5);

/// The log objects of the window: every format, plain and gzip, with errors and slow answers.
const OBJECTS: [(&str, Format, u64); 6] = [
    ("logs/app-1.log", Format::Original, 3000),
    ("logs/app-2.log.gz", Format::Original, 2500),
    (
        "logs/AWSLogs/123456789012/elasticloadbalancing/us-east-1/node-a.log.gz",
        Format::Alb,
        2000,
    ),
    ("logs/web/access.log", Format::Combined, 1500),
    ("logs/api/a.jsonl", Format::Json, 1200),
    ("logs/api/b.jsonl.gz", Format::Json, 800),
];

/// One message as SQS's event source mapping hands it to the function.
fn sqs_record(m: &aws_sdk_sqs::types::Message, queue_arn: &str) -> Value {
    let attributes: BTreeMap<String, String> = m
        .attributes()
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.as_str().to_string(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "messageId": m.message_id(),
        "receiptHandle": m.receipt_handle(),
        "body": m.body(),
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": m.md5_of_body(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    })
}

/// Every message waiting in the queue, received (and so hidden for `visibility` seconds) as
/// the event source mapping's pollers receive them, ten at a time.
async fn receive_all(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    visibility: i32,
) -> Vec<aws_sdk_sqs::types::Message> {
    let mut all = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(visibility)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("ReceiveMessage");
        let got = out.messages().to_vec();
        if got.is_empty() {
            return all;
        }
        all.extend(got);
    }
}

/// What the event source mapping does with a batch whose invocation reported no failures.
async fn delete(sqs: &aws_sdk_sqs::Client, url: &str, batch: &[aws_sdk_sqs::types::Message]) {
    for m in batch {
        sqs.delete_message()
            .queue_url(url)
            .receipt_handle(m.receipt_handle().unwrap())
            .send()
            .await
            .expect("DeleteMessage");
    }
}

/// Writes the batch as an SQS event to a file for `cargo lambda invoke`.
fn event_file(dir: &Path, name: &str, batch: &[aws_sdk_sqs::types::Message], arn: &str) -> String {
    let event = json!({ "Records": batch.iter().map(|m| sqs_record(m, arn)).collect::<Vec<_>>() });
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec(&event).unwrap()).unwrap();
    path.display().to_string()
}

/// The summaries in the bucket: key → (ETag, LastModified).
async fn summaries(bucket: &str) -> BTreeMap<String, (String, String)> {
    let s3 = logscale::aws::s3::client(&sdk_config().await, true);
    let out = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(SUMMARY_PREFIX)
        .send()
        .await
        .expect("ListObjectsV2");
    out.contents()
        .iter()
        .map(|o| {
            (
                o.key().unwrap().to_string(),
                (
                    o.e_tag().unwrap_or_default().to_string(),
                    format!("{:?}", o.last_modified()),
                ),
            )
        })
        .collect()
}

/// The batch reports the summarizer printed, one per invocation.
fn batch_reports(lambda: &Lambda) -> Vec<Value> {
    lambda
        .logged_json()
        .into_iter()
        .filter(|v| v.get("already_written").is_some())
        .collect()
}

fn close(a: &Value, b: &Value, what: &str) {
    let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
    assert!(
        (a - b).abs() <= 0.01 * b.abs(),
        "{what}: {a} in summary mode, {b} reading the objects"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_summarizers_give_the_cycle_what_reading_the_objects_gives() {
    let s = Scenario::new("fanout", (1, 10, 2), Some(55.0), true);
    let url = notifying_queue(&s.bucket, "logs/").await;
    let sdk = sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .unwrap();
    let mut requests = 0;
    for (i, (key, format, lines)) in OBJECTS.iter().enumerate() {
        let spec = logscale::sample_logs::LogGenSpec {
            error_share: 0.02 * (i % 3) as f64,
            slow_share: 0.05,
            start: chrono::Utc::now().naive_utc(),
            seed: i as u64 + 7,
            ..logscale::sample_logs::LogGenSpec::new(*format, *lines)
        };
        requests += put_generated(&s.bucket, key, &spec).await.lines;
    }

    // The notifications (and S3's test message), received as the pollers receive them, in
    // three batches.
    // Hidden long enough that none comes back before the test deletes or releases it.
    let messages = receive_all(&sqs, &url, 600).await;
    let announced = messages
        .iter()
        .filter(|m| m.body().unwrap_or_default().contains("ObjectCreated"))
        .count();
    assert_eq!(announced, OBJECTS.len(), "one notification per object");
    let batches: Vec<Vec<_>> = (0..3)
        .map(|b| messages.iter().skip(b).step_by(3).cloned().collect())
        .collect();

    let mut env = s.env();
    env.push(("LOGSCALE_SUMMARY_PREFIX", SUMMARY_PREFIX.into()));
    let summarizer = Lambda::serve(
        Path::new(env!("CARGO_BIN_EXE_logscale-summarizer")),
        &env,
        3,
    );
    // Each batch's first object answers DELAY late, so each invocation lasts at least DELAY.
    // That the three ran at once is read from the stand-in's own clock below (the three held
    // GetObjects overlap), never from how long the test waited.
    for batch in &batches {
        let first_object = batch.iter().find_map(|m| {
            let body: Value = serde_json::from_str(m.body()?).ok()?;
            // Event keys are URL-encoded.
            let announced = body["Records"][0]["s3"]["object"]["key"]
                .as_str()?
                .to_string();
            OBJECTS
                .iter()
                .find(|(key, ..)| announced == key.replace('/', "%2F") || announced == *key)
        });
        let (key, ..) = first_object.expect("each batch announces an object");
        inject_delay("GetObject", DELAY.as_secs_f64(), key);
    }
    let files: Vec<String> = batches
        .iter()
        .enumerate()
        .map(|(i, b)| event_file(&summarizer.dir, &format!("batch-{i}.json"), b, &arn))
        .collect();
    let answers: Vec<Value> = std::thread::scope(|scope| {
        let running: Vec<_> = files
            .iter()
            .map(|f| scope.spawn(|| summarizer.invoke_file(Path::new(f))))
            .collect();
        running.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for answer in &answers {
        assert_eq!(answer, &json!({"batchItemFailures": []}));
    }
    let served = summarizer
        .stdout_by_process()
        .iter()
        .filter(|out| out.lines().any(|l| l.contains("already_written")))
        .count();
    assert_eq!(
        served, 3,
        "three processes served the three batches at once"
    );
    // The three slowed reads, one per batch, were all held at the same moment: the last to
    // begin began before the first to end ended. One after another (or two at a time) they
    // could not be.
    let held = held_calls("GetObject", &s.bucket);
    assert_eq!(held.len(), 3, "one slowed read per batch: {held:?}");
    let last_began = held.iter().map(|h| h.0).fold(f64::MIN, f64::max);
    let ended: Vec<f64> = held.iter().filter_map(|h| h.1).collect();
    assert_eq!(ended.len(), 3, "every slowed read was answered: {held:?}");
    let first_ended = ended.iter().copied().fold(f64::MAX, f64::min);
    assert!(
        last_began < first_ended,
        "the three batches' slowed reads did not overlap: {held:?}"
    );
    eprintln!(
        "three batches held at once for {:.1} s of their {DELAY:?} each",
        first_ended - last_began
    );
    let reports = batch_reports(&summarizer);
    let written: u64 = reports.iter().map(|r| r["written"].as_u64().unwrap()).sum();
    assert_eq!(written, OBJECTS.len() as u64, "{reports:#?}");
    let before = summaries(&s.bucket).await;
    assert_eq!(before.len(), OBJECTS.len(), "{before:#?}");

    // The first two batches are deleted; the third's deletion is lost, so SQS delivers it
    // again once it is visible: the same summaries, untouched.
    delete(&sqs, &url, &batches[0]).await;
    delete(&sqs, &url, &batches[1]).await;
    for m in &batches[2] {
        sqs.change_message_visibility()
            .queue_url(&url)
            .receipt_handle(m.receipt_handle().unwrap())
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }
    let again = receive_all(&sqs, &url, 600).await;
    assert_eq!(again.len(), batches[2].len());
    assert!(again.iter().all(|m| m
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .is_some_and(|n| n == "2")));
    let file = event_file(&summarizer.dir, "redelivered.json", &again, &arn);
    assert_eq!(
        summarizer.invoke_file(Path::new(&file)),
        json!({"batchItemFailures": []})
    );
    delete(&sqs, &url, &again).await;
    // Four batches in all now (the processes' lines are not in time order, so by totals):
    // the redelivered objects were found summarized, nothing more was written.
    let reports = batch_reports(&summarizer);
    assert_eq!(reports.len(), 4, "{reports:#?}");
    let total = |field: &str| -> u64 { reports.iter().map(|r| r[field].as_u64().unwrap()).sum() };
    assert_eq!(total("written"), OBJECTS.len() as u64, "{reports:#?}");
    let redelivered_objects = again
        .iter()
        .filter(|m| m.body().unwrap_or_default().contains("ObjectCreated"))
        .count() as u64;
    assert!(redelivered_objects >= 1);
    assert_eq!(
        total("already_written"),
        redelivered_objects,
        "{reports:#?}"
    );
    assert_eq!(summaries(&s.bucket).await, before, "nothing rewritten");
    drop(summarizer);

    // The same window two ways: reading the objects, and merging their summaries. Dry runs,
    // each with its own state, so neither changes what the other sees.
    let cycle = |ingest: &str, state: &str| {
        let mut env = s.env();
        env.extend([
            ("LOGSCALE_INGEST", ingest.to_string()),
            ("LOGSCALE_SUMMARY_PREFIX", SUMMARY_PREFIX.to_string()),
            ("LOGSCALE_STATE_KEY", state.to_string()),
        ]);
        // The record, and the metrics line beside it checked against the record.
        Lambda::start(&env).invoke("dry-run.json")
    };
    let object_reads = || {
        OBJECTS
            .iter()
            .map(|(key, ..)| call_count("GetObject", &format!("{}/{key}", s.bucket)))
            .sum::<usize>()
    };
    let direct = cycle("direct", "logscale-state/direct.json");
    let reads_before = object_reads();
    let merged = cycle("summaries", "logscale-state/summaries.json");
    // Summary mode read the summaries, not one log object.
    assert_eq!(
        object_reads(),
        reads_before,
        "summary mode read a log object"
    );
    assert!(
        reads_before >= 2 * OBJECTS.len(),
        "the summarizers and the direct cycle read each"
    );
    let (d, m) = (&direct["logs"], &merged["logs"]);
    assert_eq!(d["ingest"], "direct", "{direct:#}");
    assert!(d.get("summaries_merged").is_none());
    assert_eq!(m["ingest"], "summaries", "{merged:#}");
    assert_eq!(m["summaries_merged"], OBJECTS.len());
    assert_eq!(m["condition"], "complete", "{merged:#}");
    assert_eq!(d["condition"], "complete", "{direct:#}");
    assert_eq!(d["requests"], requests);
    for field in [
        "objects_read",
        "formats",
        "lines",
        "bytes",
        "requests",
        "errors",
        "slow",
        "timed",
        "status",
        "non_request",
        "unparsed",
        "error_rate",
        "slow_rate",
    ] {
        assert_eq!(m[field], d[field], "{field}");
    }
    for field in ["mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms"] {
        close(&m[field], &d[field], field);
    }
    for field in ["action", "from", "to"] {
        assert_eq!(
            merged["decision"][field], direct["decision"][field],
            "{field}"
        );
    }
    assert_eq!(merged["cpu_percent"], direct["cpu_percent"]);
}
