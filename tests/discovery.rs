//! Discovery by a time-templated prefix through a whole cycle, against the in-memory ports: a
//! bucket holding thousands of old objects in earlier hour partitions and five in the window's
//! hour. With `LOGSCALE_PREFIX=logs/%Y/%m/%d/%H/` the cycle lists only the window's partition
//! and reads exactly the five; the same bucket under the plain prefix `logs/` is listed whole.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use logscale::memory::InMemoryCloud;
use logscale::parse::Format;
use logscale::sample_logs::{generate, LogGenSpec};
use logscale::{run_cycle, Config, CycleOptions, DecisionRecord, LogCondition};

const BUCKET: &str = "app-logs";
const GROUP: &str = "web";
const OLD_OBJECTS: usize = 2_000;
const NEW_OBJECTS: usize = 5;
const LINES_PER_OBJECT: u64 = 100;

/// The scheduled time: the five-minute window is (12:30, 12:35], inside the 12:00 partition.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 12, 8, 12, 35, 0).unwrap()
}

fn config(prefix: &str) -> Config {
    let vars: HashMap<&str, &str> = [
        ("LOGSCALE_BUCKET", BUCKET),
        ("LOGSCALE_GROUP", GROUP),
        ("LOGSCALE_PREFIX", prefix),
        ("LOGSCALE_LAG_SECONDS", "0"),
    ]
    .into_iter()
    .collect();
    Config::from_lookup(|k| vars.get(k).map(|v| v.to_string())).expect("valid test settings")
}

fn healthy_logs() -> Vec<u8> {
    let spec = LogGenSpec {
        error_share: 0.0,
        slow_share: 0.0,
        slow_ms: 200.0,
        ..LogGenSpec::new(Format::Original, LINES_PER_OBJECT)
    };
    let mut out = Vec::new();
    generate(&spec, &mut out).expect("in-memory generation");
    out
}

/// The key a Firehose-like shipper gives an object first written at `at`.
fn key(at: DateTime<Utc>, name: &str) -> String {
    format!("logs/{}/{name}", at.format("%Y/%m/%d/%H"))
}

/// A warm group of two at 50 % CPU; `OLD_OBJECTS` objects spread over the hours before
/// 2024-12-01 01:00 (ten an hour, back through the middle of November), a few from earlier
/// today in the 11:00 partition, and `NEW_OBJECTS` in the window.
fn world() -> InMemoryCloud {
    let cloud = InMemoryCloud::new();
    let launched = now() - Duration::hours(2);
    cloud.put_fleet(GROUP, (1, 10, 2), &[50.0, 50.0], Some(40.0), launched);
    let old = b"[2024-12-01 00:00:00.000] INFO - GET /old - status: 200 - response_time: 5.00ms\n";
    let first_old_hour = Utc.with_ymd_and_hms(2024, 12, 1, 0, 0, 0).unwrap();
    for i in 0..OLD_OBJECTS {
        let at =
            first_old_hour - Duration::hours((i / 10) as i64) + Duration::minutes(i as i64 % 10);
        cloud.put_object(BUCKET, &key(at, &format!("old-{i:04}.log")), &old[..], at);
    }
    for minute in [5, 40, 59] {
        let at = Utc.with_ymd_and_hms(2024, 12, 8, 11, minute, 0).unwrap();
        cloud.put_object(
            BUCKET,
            &key(at, &format!("earlier-{minute}.log")),
            &old[..],
            at,
        );
    }
    let logs = healthy_logs();
    for i in 0..NEW_OBJECTS {
        let at = now() - Duration::minutes(4) + Duration::seconds(40 * i as i64);
        cloud.put_object(BUCKET, &key(at, &format!("app-{i}.log")), logs.clone(), at);
    }
    cloud
}

async fn run(cloud: &InMemoryCloud, prefix: &str) -> DecisionRecord {
    let opts = CycleOptions {
        now: now(),
        scheduled: None,
        dry_run: true,
        save_state: true,
        deadline: None,
    };
    run_cycle(&config(prefix), &cloud.services(), opts).await
}

#[tokio::test]
async fn a_templated_prefix_lists_only_the_windows_partition() {
    let cloud = world();
    let record = run(&cloud, "logs/%Y/%m/%d/%H/").await;

    assert_eq!(
        cloud.calls_to("ListObjectsV2"),
        ["app-logs/logs/2024/12/08/12/"],
        "one list call, for the window's hour"
    );
    assert_eq!(record.logs.condition, LogCondition::Complete);
    assert_eq!(record.logs.objects_listed, NEW_OBJECTS);
    assert_eq!(
        (record.logs.objects_in_window, record.logs.objects_read),
        (NEW_OBJECTS, NEW_OBJECTS)
    );
    assert_eq!(
        record.logs.metrics.requests,
        NEW_OBJECTS as u64 * LINES_PER_OBJECT
    );
    let reads = cloud
        .calls_to("GetObject")
        .into_iter()
        .filter(|target| target.starts_with("app-logs/logs/"))
        .count();
    assert_eq!(reads, NEW_OBJECTS, "only the window's objects are read");
    assert!(record.errors.is_empty(), "{:?}", record.errors);
    let discovery = serde_json::to_value(&record.logs.discovery).unwrap();
    assert_eq!(
        discovery,
        serde_json::json!({"method": "partitions", "prefixes_listed": 1, "calls": 1, "note": null})
    );
}

#[tokio::test]
async fn a_plain_prefix_lists_the_whole_bucket_for_the_same_five() {
    // The control: the same objects are found, but at the cost of listing everything.
    let cloud = world();
    let record = run(&cloud, "logs/").await;

    // S3 answers 1,000 keys a page: three calls for the 2,008.
    assert_eq!(cloud.calls_to("ListObjectsV2"), ["app-logs/logs/"; 3]);
    assert_eq!(record.logs.discovery.as_ref().unwrap().calls, 3);
    assert_eq!(record.logs.objects_listed, OLD_OBJECTS + 3 + NEW_OBJECTS);
    assert_eq!(record.logs.objects_read, NEW_OBJECTS);
    assert_eq!(
        record.logs.metrics.requests,
        NEW_OBJECTS as u64 * LINES_PER_OBJECT
    );
    let discovery = record.logs.discovery.as_ref().unwrap();
    assert_eq!(
        serde_json::to_value(discovery.method).unwrap(),
        "whole_prefix"
    );
    assert!(discovery.note.as_deref().unwrap().contains("time fields"));
}

/// A flat prefix whose keys sort by time (like `<distribution>.YYYY-MM-DD-HH.<id>.gz`).
fn flat_key(at: DateTime<Utc>, id: usize) -> String {
    format!("cdn/E2ABC.{}.{id:05}.log", at.format("%Y-%m-%d-%H-%M-%S"))
}

#[tokio::test]
async fn time_sorted_keys_are_listed_from_where_the_last_run_left_off() {
    let cloud = InMemoryCloud::new();
    cloud.put_fleet(
        GROUP,
        (1, 10, 2),
        &[50.0, 50.0],
        None,
        now() - Duration::hours(2),
    );
    let old = b"[2024-12-01 00:00:00.000] INFO - GET /old - status: 200 - response_time: 5.00ms\n";
    for i in 0..OLD_OBJECTS {
        let at = now() - Duration::days(3) + Duration::minutes(i as i64);
        cloud.put_object(BUCKET, &flat_key(at, i), &old[..], at);
    }
    let logs = healthy_logs();
    for i in 0..NEW_OBJECTS {
        let at = now() - Duration::minutes(4) + Duration::seconds(40 * i as i64);
        cloud.put_object(BUCKET, &flat_key(at, 10_000 + i), logs.clone(), at);
    }
    let vars: HashMap<&str, &str> = [
        ("LOGSCALE_BUCKET", BUCKET),
        ("LOGSCALE_GROUP", GROUP),
        ("LOGSCALE_PREFIX", "cdn/"),
        ("LOGSCALE_LAG_SECONDS", "0"),
        ("LOGSCALE_KEYS_SORTED", "true"),
    ]
    .into_iter()
    .collect();
    let cfg = Config::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap();
    let at = |minutes: i64| {
        let t = now() + Duration::minutes(minutes);
        CycleOptions {
            now: t,
            scheduled: Some(t),
            dry_run: true,
            save_state: true,
            deadline: None,
        }
    };

    // The first run has no mark yet: it lists everything once.
    let first = run_cycle(&cfg, &cloud.services(), at(0)).await;
    assert_eq!(first.logs.objects_listed, OLD_OBJECTS + NEW_OBJECTS);
    assert_eq!(first.logs.objects_read, NEW_OBJECTS);
    let d = first.logs.discovery.as_ref().unwrap();
    assert_eq!(serde_json::to_value(d.method).unwrap(), "sorted_keys");
    assert_eq!(d.start_after, None);

    // Three more objects arrive; the next run starts after the last old key.
    for i in 0..3 {
        let t = now() + Duration::minutes(1 + i);
        cloud.put_object(BUCKET, &flat_key(t, 20_000 + i as usize), logs.clone(), t);
    }
    let next = run_cycle(&cfg, &cloud.services(), at(5)).await;
    let lists = cloud.calls_to("ListObjectsV2");
    let first_calls = first.logs.discovery.as_ref().unwrap().calls;
    assert_eq!(
        lists.len(),
        first_calls + 1,
        "one call for the next run: {lists:?}"
    );
    assert!(
        lists[first_calls].contains(" after cdn/E2ABC."),
        "{lists:?}"
    );
    assert!(
        next.logs.objects_listed <= NEW_OBJECTS + 3,
        "listed {} keys, not the bucket",
        next.logs.objects_listed
    );
    assert_eq!(next.logs.objects_read, 3);
    assert_eq!(next.logs.metrics.requests, 3 * LINES_PER_OBJECT);
}
