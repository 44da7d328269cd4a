//! `LOGSCALE_MAX_OBJECT_BYTES` through a whole cycle, against the in-memory ports: a gzip bomb
//! beside an ordinary object is read only up to the cap, named in the record with the cap's
//! wording, and keeps the window partial (so a quiet group is not scaled in), while the
//! ordinary object's requests all count.

use std::collections::HashMap;
use std::io::Write;
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use logscale::memory::InMemoryCloud;
use logscale::parse::Format;
use logscale::sample_logs::{generate_to, LogGenSpec};
use logscale::{run_cycle, Config, CycleOptions, DecisionRecord, LogCondition};

const BUCKET: &str = "app-logs";
const GROUP: &str = "web";
const CAP: u64 = 1 << 20;
const BOMB_KEY: &str = "logs/bomb.log.gz";
/// The bomb's one line, repeated.
const BOMB_LINE: &str =
    "[2024-12-08 12:34:56.789] INFO - GET /api/users - status: 200 - response_time: 45.32ms\n";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 12, 8, 12, 35, 0).unwrap()
}

fn config() -> Config {
    let vars: HashMap<&str, String> = [
        ("LOGSCALE_BUCKET", BUCKET.to_string()),
        ("LOGSCALE_GROUP", GROUP.to_string()),
        ("LOGSCALE_PREFIX", "logs/".to_string()),
        ("LOGSCALE_MAX_OBJECT_BYTES", CAP.to_string()),
    ]
    .into_iter()
    .collect();
    Config::from_lookup(|k| vars.get(k).cloned()).expect("valid test settings")
}

/// A quiet group of four warm instances at 20 % CPU: on complete, healthy logs the default
/// policy steps it in to three. One gzip object of healthy requests is in the window; returns
/// the world and how many requests that object holds.
fn quiet_group() -> (InMemoryCloud, u64) {
    let cloud = InMemoryCloud::new();
    let launched = now() - Duration::hours(2);
    cloud.put_fleet(GROUP, (1, 10, 4), &[20.0; 4], Some(40.0), launched);
    let spec = LogGenSpec {
        error_share: 0.0,
        slow_share: 0.0,
        slow_ms: 200.0,
        ..LogGenSpec::new(Format::Original, 2000)
    };
    let mut healthy = Vec::new();
    let stats = generate_to(&spec, &mut healthy, true).expect("in-memory generation");
    assert!(stats.bytes < CAP, "the ordinary object fits under the cap");
    cloud.put_object(
        BUCKET,
        "logs/app-1.log.gz",
        healthy,
        now() - Duration::minutes(2),
    );
    (cloud, stats.lines)
}

/// About 200 MiB of one healthy line as 200 gzip members of 1 MiB (what `gzip -d` reads as one
/// file), a few hundred KiB compressed: one member is compressed, then repeated.
fn gzip_bomb() -> Vec<u8> {
    let block = BOMB_LINE.repeat((1 << 20) / BOMB_LINE.len());
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(block.as_bytes()).unwrap();
    let bomb = e.finish().unwrap().repeat(200);
    assert!(bomb.len() < 1 << 20, "{} compressed bytes", bomb.len());
    bomb
}

async fn run(cloud: &InMemoryCloud) -> DecisionRecord {
    let opts = CycleOptions {
        now: now(),
        scheduled: None,
        dry_run: false,
        save_state: true,
        deadline: None,
    };
    run_cycle(&config(), &cloud.services(), opts).await
}

#[tokio::test]
async fn without_the_bomb_the_quiet_group_steps_in() {
    // The control: the same world with complete logs does scale in, so the hold below is the
    // bomb's doing.
    let (cloud, requests) = quiet_group();
    let record = run(&cloud).await;
    assert_eq!(record.logs.condition, LogCondition::Complete);
    assert_eq!(record.logs.metrics.requests, requests);
    assert_eq!((record.decision.from, record.decision.to), (4, 3));
    assert_eq!(cloud.calls_to("SetDesiredCapacity"), ["web=3"]);
}

#[tokio::test]
async fn a_gzip_bomb_is_cut_at_the_cap_named_and_holds_scale_in() {
    let (cloud, requests) = quiet_group();
    let bomb = gzip_bomb();
    cloud.put_object(BUCKET, BOMB_KEY, bomb, now() - Duration::minutes(1));

    let started = Instant::now();
    let record = run(&cloud).await;
    let took = started.elapsed();

    let problems: Vec<(&str, &str)> = record
        .logs
        .problems
        .iter()
        .map(|p| (p.key.as_str(), p.problem.as_str()))
        .collect();
    let wording = format!(
        "decoded size passes the cap of {CAP} bytes (LOGSCALE_MAX_OBJECT_BYTES); the first {CAP} bytes counted"
    );
    assert_eq!(problems, [(BOMB_KEY, wording.as_str())]);
    assert_eq!(record.logs.condition, LogCondition::Partial);
    assert_eq!(
        (record.logs.objects_in_window, record.logs.objects_read),
        (2, 2)
    );

    // Every request of the ordinary object counts, and of the bomb the whole lines in its
    // first CAP bytes: no more (the line the cap cuts does not count), and no fewer.
    let bomb_requests = record.logs.metrics.requests - requests;
    assert_eq!(bomb_requests, CAP / BOMB_LINE.len() as u64);
    assert!(
        record.logs.metrics.bytes <= 2 * CAP,
        "{}",
        record.logs.metrics.bytes
    );

    // Partial logs never scale in.
    assert!(
        record.decision.to >= record.decision.from,
        "{:?}",
        record.decision
    );
    assert!(
        cloud.calls_to("SetDesiredCapacity").is_empty(),
        "{:?}",
        cloud.calls_to("SetDesiredCapacity")
    );
    assert_eq!(cloud.group(GROUP).unwrap().desired, 4);

    // Not a timed assertion (a loaded machine may be slow); decoding 200 MiB would take many
    // seconds in a test build, the cap a few milliseconds.
    eprintln!("cycle with a 200 MiB gzip bomb under a 1 MiB cap: {took:?}");
}
