//! A figure, not a check: the memory one cycle adds when its window holds many small objects.
//! Ignored by `make test`; run it with
//! `cargo test --release --test cycle_memory -- --ignored --nocapture` (`LOGSCALE_OBJECTS` sets
//! how many, default 20,000). It prints the process's peak resident memory (VmHWM) after the
//! objects are in the in-memory bucket and again after the cycle, and their difference.

use std::collections::HashMap;

use chrono::{Duration, TimeZone, Utc};
use logscale::memory::InMemoryCloud;
use logscale::parse::Format;
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
async fn memory_of_a_cycle_over_many_small_objects() {
    let objects: usize = std::env::var("LOGSCALE_OBJECTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let now = Utc.with_ymd_and_hms(2024, 12, 8, 12, 35, 0).unwrap();
    let cloud = InMemoryCloud::new();
    cloud.put_fleet("web", (1, 10, 2), &[60.0], None, now - Duration::days(1));
    for i in 0..objects {
        let mut body = Vec::new();
        let spec = LogGenSpec {
            seed: i as u64,
            ..LogGenSpec::new(Format::Original, 5)
        };
        generate(&spec, &mut body).unwrap();
        let at = now - Duration::seconds(90) - Duration::milliseconds(i as i64);
        cloud.put_object("app-logs", &format!("logs/{i:06}.log"), body, at);
    }
    let vars: HashMap<&str, &str> = [
        ("LOGSCALE_BUCKET", "app-logs"),
        ("LOGSCALE_GROUP", "web"),
        ("LOGSCALE_PREFIX", "logs/"),
        ("LOGSCALE_FETCH_CONCURRENCY", "8"),
    ]
    .into();
    let cfg = Config::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap();
    let before = peak_kib();
    let started = std::time::Instant::now();
    let opts = CycleOptions {
        now,
        scheduled: Some(now),
        dry_run: true,
        save_state: true,
        deadline: None,
    };
    let record = run_cycle(&cfg, &cloud.services(), opts).await;
    let after = peak_kib();
    assert_eq!(record.logs.objects_read, objects);
    assert_eq!(record.logs.metrics.requests, 5 * objects as u64);
    println!(
        "{objects} objects: peak RSS {before} KiB with the bucket in memory, {after} KiB after the cycle: the cycle added {} KiB; {:.2} s",
        after.saturating_sub(before),
        started.elapsed().as_secs_f64()
    );
}
