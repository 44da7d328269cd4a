//! Discovery at a bucket's real size, against the stand-in with the real SDK clients: 200,000
//! objects written before the window under each discoverable layout, and 20 in it. The cycle
//! counts exactly the 20 with a handful of list or receive calls, whatever the bucket holds.
//! Each layout's cycle is also run on a bucket holding only the 20, and both times are printed
//! (a figure, not an assertion: these machines are shared). The stand-in's own ListObjectsV2
//! scans every key of a bucket per call (about 0.1 s at 200,000 keys), which S3 does not do.
//!
//! The old objects are written straight into the stand-in's S3 (tools/standin.py's
//! `/_logscale/objects`), so seeding 200,000 takes a second or two.

mod support;

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use logscale::parse::Format;
use logscale::sample_logs::{generate, LogGenSpec};
use logscale::{run_cycle, Config, CycleOptions, DecisionRecord, LogCondition};
use support::*;

const OLD: usize = 200_000;
const NEW: usize = 20;
const LINES: u64 = 50;

/// How each layout is discovered.
#[derive(Clone, Copy, Debug)]
enum Layout {
    /// `t/%Y/%m/%d/%H/`: Firehose-like hour partitions.
    Templated,
    /// `s/<yyyymmddThhmmssZ>-…`: a flat prefix whose keys sort by time.
    Sorted,
    /// `u/<random hex>`: a flat, unsorted prefix, found through S3's notifications to SQS.
    Queue,
}

/// The window's logs: fifty requests with lines from just now.
fn body_file(now: DateTime<Utc>) -> tempfile::NamedTempFile {
    let spec = LogGenSpec {
        error_share: 0.0,
        slow_share: 0.0,
        start: (now - Duration::minutes(4)).naive_utc(),
        ..LogGenSpec::new(Format::Original, LINES)
    };
    let mut body = Vec::new();
    generate(&spec, &mut body).unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), body).unwrap();
    file
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `count` objects written straight into the stand-in: the n-th last modified at
/// `start + n × step` seconds, its key `pattern` with that time's fields and `{n}` filled in.
fn bulk(bucket: &str, pattern: &str, count: usize, start: DateTime<Utc>, step: i64, body: &[&str]) {
    let (count, step) = (count.to_string(), step.to_string());
    let start = rfc3339(start);
    let mut args = vec![
        "objects",
        bucket,
        "--pattern",
        pattern,
        "--count",
        &count,
        "--start",
        &start,
        "--step",
        &step,
    ];
    args.extend_from_slice(body);
    seed(&args);
}

/// A scenario's bucket under `layout`, with `old` objects from before the window and the
/// window's 20; returns the settings for it.
async fn seeded(
    layout: Layout,
    old: usize,
    now: DateTime<Utc>,
) -> (Scenario, Vec<(&'static str, String)>) {
    let s = Scenario::new("at-scale", (1, 10, 2), Some(50.0), true);
    let logs = body_file(now);
    let body = ["--body-file", logs.path().to_str().unwrap()];
    let mut env = s.env();
    let window_start = now - Duration::minutes(5);
    match layout {
        Layout::Templated => {
            if old > 0 {
                // Ten a minute, back from an hour ago: two weeks of hour partitions.
                bulk(
                    &s.bucket,
                    "t/%Y/%m/%d/%H/obj-{n:06d}.log",
                    old,
                    now - Duration::hours(1),
                    -6,
                    &["--body", "old"],
                );
            }
            bulk(
                &s.bucket,
                "t/%Y/%m/%d/%H/new-{n:02d}.log",
                NEW,
                window_start + Duration::seconds(10),
                10,
                &body,
            );
            env.push(("LOGSCALE_PREFIX", "t/%Y/%m/%d/%H/".into()));
        }
        Layout::Sorted => {
            if old > 0 {
                bulk(
                    &s.bucket,
                    "s/%Y%m%dT%H%M%SZ-old-{n:06d}.log",
                    old,
                    now - Duration::hours(1) - Duration::seconds(6 * old as i64),
                    6,
                    &["--body", "old"],
                );
                // A deployment that has run before: its state marks where listing resumes
                // (the first run on a prefix lists it whole once; see the README).
                let mark = (now - Duration::hours(1) - Duration::seconds(6))
                    .format("s/%Y%m%dT%H%M%SZ-old-199999.log")
                    .to_string();
                let state = serde_json::json!({"version": 1, "list_after": mark});
                put_state(&s, &state.to_string()).await;
            }
            bulk(
                &s.bucket,
                "s/%Y%m%dT%H%M%SZ-new-{n:02d}.log",
                NEW,
                window_start + Duration::seconds(10),
                10,
                &body,
            );
            env.push(("LOGSCALE_PREFIX", "s/".into()));
            env.push(("LOGSCALE_KEYS_SORTED", "true".into()));
        }
        Layout::Queue => {
            if old > 0 {
                bulk(
                    &s.bucket,
                    "u/{hex}.log",
                    old,
                    now - Duration::hours(1),
                    -6,
                    &["--body", "old"],
                );
            }
            let url = notifying_queue(&s.bucket, "u/").await;
            let bytes = std::fs::read(logs.path()).unwrap();
            let store = logscale::aws::S3LogStore::new(logscale::aws::s3::client(
                &sdk_config().await,
                true,
            ));
            for n in 0..NEW {
                store
                    .put(&s.bucket, &format!("u/new-{n:02}.log"), bytes.clone())
                    .await
                    .unwrap();
            }
            env.push(("LOGSCALE_PREFIX", "u/".into()));
            env.push(("LOGSCALE_QUEUE_URL", url));
        }
    }
    // The env's first LOGSCALE_PREFIX ("logs/") is replaced by the layout's.
    (s, env)
}

async fn put_state(s: &Scenario, json: &str) {
    let store =
        logscale::aws::S3LogStore::new(logscale::aws::s3::client(&sdk_config().await, true));
    store
        .put(
            &s.bucket,
            &format!("logscale-state/{}.json", s.group),
            json.as_bytes().to_vec(),
        )
        .await
        .unwrap();
}

/// One dry-run cycle; `save_state: false` leaves everything as it was, so it can be repeated.
async fn cycle_once(
    env: &[(&'static str, String)],
    now: DateTime<Utc>,
    save_state: bool,
) -> (DecisionRecord, std::time::Duration) {
    // Later entries win: the layout's prefix over the scenario's.
    let vars: HashMap<&str, String> = env.iter().cloned().collect();
    let cfg = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let services = logscale::aws::services_from_sdk_config(&sdk_config().await, true);
    let opts = CycleOptions {
        now,
        scheduled: Some(now),
        dry_run: true,
        save_state,
        deadline: None,
    };
    let started = Instant::now();
    let record = run_cycle(&cfg, &services, opts).await;
    (record, started.elapsed())
}

/// The cycles on the large and the small bucket, and the median time of each. Listing layouts
/// repeat five times, alternating (a one-off dry run changes nothing); the queue, whose
/// messages one run consumes, once.
async fn both(
    layout: Layout,
    big: Vec<(&'static str, String)>,
    small: Vec<(&'static str, String)>,
    now: DateTime<Utc>,
) -> [(DecisionRecord, std::time::Duration); 2] {
    let rounds = if matches!(layout, Layout::Queue) {
        1
    } else {
        5
    };
    let save_state = matches!(layout, Layout::Queue);
    let mut times = [Vec::new(), Vec::new()];
    let mut last = Vec::new();
    for _ in 0..rounds {
        last.clear();
        for (i, env) in [&big, &small].into_iter().enumerate() {
            let (record, took) = cycle_once(env, now, save_state).await;
            times[i].push(took);
            last.push(record);
        }
    }
    let median = |t: &mut Vec<std::time::Duration>| {
        t.sort();
        t[t.len() / 2]
    };
    let small_record = last.pop().unwrap();
    let big_record = last.pop().unwrap();
    [
        (big_record, median(&mut times[0])),
        (small_record, median(&mut times[1])),
    ]
}

async fn at_scale(layout: Layout) {
    let seeded_at = Utc::now();
    let (_big, big_env) = seeded(layout, OLD, seeded_at).await;
    let (_small, small_env) = seeded(layout, 0, seeded_at).await;
    // The window ends after every upload (S3 dates a notification by its sending).
    let now = Utc::now();
    let [(record, took), (small_record, small_took)] = both(layout, big_env, small_env, now).await;

    for (r, what) in [(&record, "200,020 objects"), (&small_record, "20 objects")] {
        assert_eq!(
            r.logs.condition,
            LogCondition::Complete,
            "{layout:?}, {what}: {:?}",
            r.logs
        );
        assert_eq!(r.logs.objects_read, NEW, "{layout:?}, {what}");
        assert_eq!(
            r.logs.metrics.requests,
            NEW as u64 * LINES,
            "{layout:?}, {what}"
        );
        assert!(r.errors.is_empty(), "{layout:?}, {what}: {:?}", r.errors);
    }
    let discovery = record.logs.discovery.as_ref().unwrap();
    let calls = discovery.calls;
    if let Some(queue) = &discovery.queue {
        // The 20 and S3's test message, all deleted after the run.
        assert_eq!(
            (queue.messages, queue.deleted, queue.drained),
            (NEW + 1, NEW + 1, true)
        );
    }
    // Queue: 20 notifications and S3's test message, ten a call, and one empty answer.
    assert!(calls <= 4, "{layout:?}: {calls} calls");
    println!(
        "{layout:?}: {OLD} old + {NEW} new objects: {} list/receive calls, {} objects listed or announced, cycle {:.0} ms (median); only the {NEW}: {} calls, cycle {:.0} ms (median); ratio {:.2}",
        calls,
        record.logs.objects_listed,
        took.as_secs_f64() * 1000.0,
        small_record.logs.discovery.as_ref().unwrap().calls,
        small_took.as_secs_f64() * 1000.0,
        took.as_secs_f64() / small_took.as_secs_f64(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_templated_prefix_lists_only_the_windows_partitions() {
    at_scale(Layout::Templated).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_sorted_keys_are_listed_from_the_mark_only() {
    at_scale(Layout::Sorted).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_of_notifications_finds_the_new_objects_under_any_layout() {
    at_scale(Layout::Queue).await;
}
