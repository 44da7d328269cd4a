//! A figure, not a check (issue 12): what one cycle in summary mode costs for 10, 1,000 and
//! 100,000 summaries in its window, each standing for the same large object, so that the log
//! volume behind them grows a thousand-fold per step. Ignored by `make test`; run it with
//! `cargo test --test summary_mode_cost -- --ignored --nocapture` (add `--release` for
//! production speed; `LOGSCALE_SUMMARY_COUNTS=10,1000` picks the counts). It prints, per count,
//! the cycle's wall time, the process's peak resident memory before and after, and the log
//! bytes the merged summaries stand for.
//!
//! `summarizer_throughput_per_invocation` (also ignored) is the other side of the bill: one
//! summarizer invocation's batch of ten announced objects per format, plain and gzip, read,
//! parsed and summarized on one core (a current-thread runtime, as one Lambda vCPU), printing
//! the log bytes per second and the CPU seconds per GB. Run it with `--release`.

use std::collections::HashMap;

use chrono::{Duration, TimeZone, Utc};
use logscale::memory::InMemoryCloud;
use logscale::parse::stored::{SourceObject, StoredSummary};
use logscale::parse::{Encoding, Format, ObjectSink};
use logscale::ports::{LogStore, StateStore};
use logscale::sample_logs::{generate, LogGenSpec};
use logscale::{run_cycle, Config, CycleOptions};

fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a figure for the closing note; run by hand"]
async fn cost_of_a_cycle_in_summary_mode_grows_with_the_summaries_not_the_bytes() {
    let counts: Vec<usize> = std::env::var("LOGSCALE_SUMMARY_COUNTS")
        .unwrap_or_else(|_| "10,1000,100000".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let now = Utc.with_ymd_and_hms(2024, 12, 8, 12, 35, 0).unwrap();
    let vars: HashMap<&str, &str> = [
        ("LOGSCALE_BUCKET", "app-logs"),
        ("LOGSCALE_GROUP", "web"),
        ("LOGSCALE_PREFIX", "logs/"),
        ("LOGSCALE_INGEST", "summaries"),
        ("LOGSCALE_FETCH_CONCURRENCY", "8"),
    ]
    .into();
    let cfg = Config::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap();

    // One real object of 200,000 requests, parsed once: every summary below stands for it.
    let mut big = Vec::new();
    let spec = LogGenSpec {
        start: (now - Duration::minutes(4)).naive_utc(),
        ..LogGenSpec::new(Format::Original, 200_000)
    };
    generate(&spec, &mut big).unwrap();
    let mut sink = ObjectSink::new(Encoding::Auto, cfg.parse.clone());
    sink.feed(&big).unwrap();
    let template = StoredSummary::from_object(
        SourceObject {
            bucket: Some("app-logs".into()),
            key: String::new(),
            etag: None,
            size: big.len() as u64,
            last_modified: None,
        },
        sink.finish_object(),
        None,
    );

    for n in counts {
        let cloud = InMemoryCloud::new();
        cloud.put_fleet("web", (1, 10, 2), &[60.0], None, now - Duration::days(1));
        // The objects themselves are placeholders: summary mode never reads them.
        for i in 0..n {
            let at = now - Duration::seconds(90) - Duration::milliseconds(i as i64);
            cloud.put_object("app-logs", &format!("logs/{i:06}.log"), &b"x"[..], at);
        }
        let mut listed = Vec::new();
        let mut next = None;
        loop {
            let page = cloud
                .list_page("app-logs", "logs/", None, next.as_deref())
                .await
                .unwrap();
            listed.extend(page.objects);
            next = page.next;
            if next.is_none() {
                break;
            }
        }
        let mut summary_bytes = 0;
        for o in &listed {
            let mut stored = template.clone();
            stored.source.key = o.key.clone();
            stored.source.etag = o.etag.clone();
            stored.source.last_modified = Some(o.last_modified);
            let key = logscale::summarize::summary_key(
                &cfg.summary_prefix,
                &o.key,
                o.etag.as_deref(),
                o.last_modified,
                &cfg.parse,
            );
            let bytes = stored.encode();
            summary_bytes += bytes.len();
            cloud.save("app-logs", &key, bytes, None).await.unwrap();
        }
        let before = peak_kib();
        let started = std::time::Instant::now();
        let opts = CycleOptions {
            now,
            scheduled: Some(now),
            dry_run: true,
            save_state: false,
            deadline: None,
        };
        let record = run_cycle(&cfg, &cloud.services(), opts).await;
        let took = started.elapsed().as_secs_f64();
        let after = peak_kib();
        assert_eq!(
            record.logs.objects_read,
            n,
            "{:?}",
            record.logs.problems.first()
        );
        assert_eq!(record.logs.metrics.requests, 200_000 * n as u64);
        println!(
            "{n:>7} summaries ({:.1} KB each) standing for {:.1} GB of logs: cycle {took:.2} s, peak RSS {before} KiB before, {after} KiB after (+{} KiB)",
            summary_bytes as f64 / n as f64 / 1000.0,
            record.logs.metrics.bytes as f64 / 1e9,
            after.saturating_sub(before)
        );
    }
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "a figure for the README; run by hand with --release"]
async fn summarizer_throughput_per_invocation() {
    use logscale::ports::Queue;

    const QUEUE: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/discovery";
    const OBJECTS: usize = 10;
    let now = Utc.with_ymd_and_hms(2024, 12, 8, 12, 35, 0).unwrap();
    let vars: HashMap<&str, &str> = [
        ("LOGSCALE_BUCKET", "app-logs"),
        ("LOGSCALE_GROUP", "web"),
        ("LOGSCALE_PREFIX", "logs/"),
    ]
    .into();
    let cfg = Config::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap();
    let lines: u64 = std::env::var("LOGSCALE_SUMMARIZER_LINES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let runs: usize = std::env::var("LOGSCALE_SUMMARIZER_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    println!(
        "one batch of {OBJECTS} objects of {lines} lines each, one core, median of {runs} runs:"
    );
    for format in [
        Format::Original,
        Format::Alb,
        Format::Combined,
        Format::Json,
    ] {
        for gzip in [false, true] {
            let mut text_bytes = 0u64;
            let mut bodies = Vec::new();
            for i in 0..OBJECTS {
                let spec = LogGenSpec {
                    start: (now - Duration::minutes(4)).naive_utc(),
                    seed: i as u64,
                    ..LogGenSpec::new(format, lines)
                };
                let mut body = Vec::new();
                let stats = logscale::sample_logs::generate_to(&spec, &mut body, gzip).unwrap();
                text_bytes += stats.bytes;
                bodies.push(bytes::Bytes::from(body));
            }
            let stored_bytes: usize = bodies.iter().map(|b| b.len()).sum();
            let mut times = Vec::new();
            for _ in 0..runs {
                // A fresh bucket each run, so every summary is written, not found.
                let cloud = InMemoryCloud::new();
                cloud.notify_queue("app-logs", QUEUE);
                for (i, body) in bodies.iter().enumerate() {
                    let key = format!("logs/{i:02}.log{}", if gzip { ".gz" } else { "" });
                    cloud.put_object("app-logs", &key, body.clone(), now - Duration::minutes(3));
                }
                let messages = cloud.receive(QUEUE, 10).await.unwrap();
                assert_eq!(messages.len(), OBJECTS);
                let event = serde_json::json!({
                    "Records": messages.iter().map(|m| serde_json::json!({
                        "messageId": m.id, "receiptHandle": m.receipt, "body": m.body,
                        "eventSource": "aws:sqs",
                    })).collect::<Vec<_>>()
                });
                let started = std::time::Instant::now();
                let (response, report) =
                    logscale::summarize::summarize_batch(&cfg, &cloud, &event, now, None).await;
                times.push(started.elapsed().as_secs_f64());
                assert!(response.batch_item_failures.is_empty(), "{report:?}");
                assert_eq!(report.written, OBJECTS);
                assert_eq!(report.bytes, text_bytes);
            }
            times.sort_by(f64::total_cmp);
            let took = times[times.len() / 2];
            println!(
                "  {:<8} {:<5} {:>7.1} MB of text ({:>6.1} MB stored): {took:>6.2} s, {:>6.0} MB/s of text, {:>5.2} CPU-s per GB",
                format!("{format:?}").to_lowercase(),
                if gzip { "gzip" } else { "plain" },
                text_bytes as f64 / 1e6,
                stored_bytes as f64 / 1e6,
                text_bytes as f64 / 1e6 / took,
                took / (text_bytes as f64 / 1e9),
            );
        }
    }
}
