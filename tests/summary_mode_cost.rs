//! A figure, not a check (issue 12): what one cycle in summary mode costs for 10, 1,000 and
//! 100,000 summaries in its window, each standing for the same large object, so that the log
//! volume behind them grows a thousand-fold per step. Ignored by `make test`; run it with
//! `cargo test --test summary_mode_cost -- --ignored --nocapture` (add `--release` for
//! production speed; `LOGSCALE_SUMMARY_COUNTS=10,1000` picks the counts). It prints, per count,
//! the cycle's wall time, the process's peak resident memory before and after, and the log
//! bytes the merged summaries stand for.

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
