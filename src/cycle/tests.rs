//! Every branch of the cycle, through the in-memory ports: each test seeds a world, runs one
//! real cycle and checks the record and the calls the ports received.

use std::collections::HashMap;
use std::time::Duration;

use chrono::TimeZone;

use super::*;
use crate::decide::Action;
use crate::fetch::LogCondition;
use crate::memory::{Fault, InMemoryCloud};
use crate::parse::Format;
use crate::ports::{GroupInfo, InstanceInfo, InstanceLoad};
use crate::sample_logs::{generate, LogGenSpec};

const BUCKET: &str = "app-logs";
const GROUP: &str = "web";
const STATE_KEY: &str = "logscale-state/web.json";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 12, 8, 12, 35, 0).unwrap()
}

fn config(extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = [
        ("LOGSCALE_BUCKET", BUCKET),
        ("LOGSCALE_GROUP", GROUP),
        ("LOGSCALE_PREFIX", "logs/"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    vars.retain(|_, v| !v.is_empty());
    Config::from_lookup(|k| vars.get(k).cloned()).expect("valid test settings")
}

/// `lines` healthy requests in the original format (no errors, nothing slow, fast).
pub(super) fn healthy_logs(lines: u64) -> Vec<u8> {
    let spec = LogGenSpec {
        error_share: 0.0,
        slow_share: 0.0,
        slow_ms: 200.0,
        ..LogGenSpec::new(Format::Original, lines)
    };
    let mut out = Vec::new();
    generate(&spec, &mut out).expect("in-memory generation");
    out
}

/// A group of `cpus.len()` warm, in-service instances with those CPU averages, desired
/// capacity `desired` in [min, max], a log bucket with one healthy object in the window.
fn world(min: u32, max: u32, desired: u32, cpus: &[f64]) -> InMemoryCloud {
    let cloud = InMemoryCloud::new();
    let launched = now() - chrono::Duration::hours(2);
    cloud.put_fleet(GROUP, (min, max, desired), cpus, Some(40.0), launched);
    cloud.put_object(
        BUCKET,
        "logs/app-1.log",
        healthy_logs(2000),
        now() - chrono::Duration::minutes(2),
    );
    cloud
}

/// `n` objects of ten requests, `logs/1.log` … `logs/n.log`, the k-th last modified k minutes
/// before now.
fn put_small_objects(cloud: &InMemoryCloud, n: i64) {
    for minute in 1..=n {
        cloud.put_object(
            BUCKET,
            &format!("logs/{minute}.log"),
            healthy_logs(10),
            now() - chrono::Duration::minutes(minute),
        );
    }
}

async fn run(cloud: &InMemoryCloud, cfg: &Config, dry_run: bool) -> DecisionRecord {
    run_at(cloud, cfg, dry_run, now()).await
}

async fn run_at(
    cloud: &InMemoryCloud,
    cfg: &Config,
    dry_run: bool,
    at: DateTime<Utc>,
) -> DecisionRecord {
    let opts = CycleOptions {
        now: at,
        scheduled: None,
        dry_run,
        save_state: true,
        deadline: None,
    };
    run_cycle(cfg, &cloud.services(), opts).await
}

fn rules(record: &DecisionRecord) -> Vec<String> {
    record
        .decision
        .reasons
        .iter()
        .map(|r| {
            serde_json::to_value(r.rule)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn a_hot_group_scales_out_saves_state_and_records_everything() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    let record = run(&cloud, &config(&[]), false).await;

    assert_eq!((record.decision.from, record.decision.to), (2, 3));
    assert_eq!(record.decision.action(), Action::ScaleUp);
    assert!(record.applied);
    assert_eq!(cloud.calls_to("SetDesiredCapacity"), ["web=3"]);
    assert_eq!(cloud.group(GROUP).unwrap().desired, 3);
    assert_eq!(record.logs.condition, LogCondition::Complete);
    assert_eq!(
        (record.logs.objects_in_window, record.logs.objects_read),
        (1, 1)
    );
    assert_eq!(record.logs.metrics.requests, 2000);
    assert_eq!(record.cpu_percent, Some(90.0));
    assert_eq!(record.instances.len(), 2);
    assert!(record.instances.iter().all(|i| i.counted));
    assert!(record.state.saved && !record.state.existed);
    assert!(record.errors.is_empty(), "{:?}", record.errors);
    let saved = State::decode(&cloud.object(BUCKET, STATE_KEY).unwrap()).unwrap();
    assert_eq!(saved.recommendations.len(), 1);
    // The state is written before acting.
    let order: Vec<&str> = cloud
        .calls()
        .iter()
        .map(|c| c.operation)
        .filter(|op| matches!(*op, "PutObject" | "SetDesiredCapacity"))
        .collect();
    assert_eq!(order, ["PutObject", "SetDesiredCapacity"]);
}

#[tokio::test]
async fn the_second_run_writes_against_the_first_runs_etag() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    let cfg = config(&[]);
    run(&cloud, &cfg, false).await;
    let puts_before = cloud.calls_to("PutObject").len();
    let record = run_at(&cloud, &cfg, false, now() + chrono::Duration::minutes(5)).await;
    assert!(
        record.state.existed && record.state.saved,
        "{:?}",
        record.state
    );
    assert_eq!(cloud.calls_to("PutObject").len(), puts_before + 1);
    let saved = State::decode(&cloud.object(BUCKET, STATE_KEY).unwrap()).unwrap();
    assert_eq!(
        saved.recommendations.len(),
        2,
        "both runs are in the window"
    );
}

#[tokio::test]
async fn a_quiet_group_steps_in_by_the_down_limit() {
    let cloud = world(1, 10, 4, &[20.0; 4]);
    let record = run(&cloud, &config(&[]), false).await;
    assert_eq!((record.decision.from, record.decision.to), (4, 3));
    assert_eq!(record.decision.action(), Action::ScaleDown);
    assert!(record.applied);
    assert_eq!(cloud.calls_to("SetDesiredCapacity"), ["web=3"]);
}

#[tokio::test]
async fn a_missing_group_holds_names_it_and_only_closes_the_window() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    let cfg = config(&[("LOGSCALE_GROUP", "nope")]);
    let record = run(&cloud, &cfg, false).await;
    assert_eq!(record.decision.action(), Action::Hold);
    assert_eq!(rules(&record), ["group_unavailable"]);
    assert!(record.capacity.is_none());
    assert!(
        record.errors[0].contains("\"nope\" not found"),
        "{:?}",
        record.errors
    );
    assert!(record.decision.explanation.contains("not found"));
    assert!(cloud.calls_to("SetDesiredCapacity").is_empty());
    assert!(cloud.calls_to("DescribeInstances").is_empty());
    // No decision, but the window's logs are in this record: the next run starts after them.
    let saved = State::decode(&cloud.object(BUCKET, "logscale-state/nope.json").unwrap()).unwrap();
    assert_eq!(saved.high_water, Some(record.window.end));
    assert!(saved.recommendations.is_empty());
    assert_eq!(saved.counted.len(), 1);
}

#[tokio::test]
async fn a_failing_describe_holds_with_the_services_words() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    cloud.inject(Fault::error("DescribeAutoScalingGroups", "Throttling"));
    let record = run(&cloud, &config(&[]), false).await;
    assert_eq!(rules(&record), ["group_unavailable"]);
    assert!(
        record.decision.explanation.contains("Throttling"),
        "{}",
        record.decision.explanation
    );
    assert!(cloud.calls_to("SetDesiredCapacity").is_empty());
}

#[tokio::test]
async fn a_lost_race_on_the_state_holds_and_never_acts() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    cloud.lose_next_conditional_write();
    let record = run(&cloud, &config(&[]), false).await;
    assert_eq!(record.decision.action(), Action::Hold);
    assert_eq!(record.decision.to, 2);
    assert_eq!(rules(&record).last().unwrap(), "state_conflict");
    assert!(record
        .window
        .notes
        .iter()
        .any(|n| n.contains("another run saved")));
    assert!(!record.applied && !record.state.saved);
    assert!(cloud.calls_to("SetDesiredCapacity").is_empty());
    assert_eq!(cloud.group(GROUP).unwrap().desired, 2);
}

#[tokio::test]
async fn unsaved_state_lets_a_scale_out_through_but_holds_a_scale_in() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    cloud.inject(Fault::error("PutObject", "InternalError").on(STATE_KEY));
    let record = run(&cloud, &config(&[]), false).await;
    assert_eq!(record.decision.to, 3);
    assert!(record.applied && !record.state.saved);
    assert!(
        record.errors.iter().any(|e| e.contains(STATE_KEY)),
        "{:?}",
        record.errors
    );

    let cloud = world(1, 10, 4, &[20.0; 4]);
    cloud.inject(Fault::error("PutObject", "InternalError").on(STATE_KEY));
    let record = run(&cloud, &config(&[]), false).await;
    assert_eq!(
        (record.decision.action(), record.decision.to),
        (Action::Hold, 4)
    );
    assert_eq!(rules(&record).last().unwrap(), "state_unsaved");
    assert!(cloud.calls_to("SetDesiredCapacity").is_empty());
}

#[tokio::test]
async fn an_unreadable_state_starts_fresh_and_says_so() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    cloud.put_object(BUCKET, STATE_KEY, &b"not json"[..], now());
    let record = run(&cloud, &config(&[]), false).await;
    assert!(record.state.existed);
    let note = record.state.note.as_deref().unwrap_or_default();
    assert!(note.contains("unreadable"), "{note}");
    assert!(
        record.state.saved,
        "written over, against the unreadable object's ETag"
    );
    assert!(record.applied);
}

#[tokio::test]
async fn a_dry_run_decides_and_records_but_never_calls() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    let record = run(&cloud, &config(&[]), true).await;
    assert!(record.dry_run && !record.applied);
    assert_eq!(record.decision.to, 3, "it says what it would do");
    assert_eq!(rules(&record).last().unwrap(), "dry_run");
    assert!(cloud.calls_to("SetDesiredCapacity").is_empty());
    assert_eq!(cloud.group(GROUP).unwrap().desired, 2);

    // LOGSCALE_DRY_RUN in the settings is the same as the per-invocation flag in the handler.
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    let cfg = config(&[("LOGSCALE_DRY_RUN", "true")]);
    let record = crate::handler::handle(
        &cfg,
        &cloud.services(),
        &serde_json::Value::Null,
        now(),
        None,
    )
    .await
    .unwrap();
    assert!(record.dry_run && !record.applied);
    assert!(cloud.calls_to("SetDesiredCapacity").is_empty());

    // A dry run asked for by the event, on a live deployment, is a trial: it leaves the state
    // (and the window) to the scheduled run that follows.
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    let cfg = config(&[]);
    let trial = crate::handler::handle(
        &cfg,
        &cloud.services(),
        &serde_json::json!({"dry_run": true}),
        now(),
        None,
    )
    .await
    .unwrap();
    assert!(trial.dry_run && !trial.state.saved);
    assert!(trial
        .state
        .note
        .as_deref()
        .unwrap()
        .contains("one-off dry run"));
    assert!(cloud.calls_to("PutObject").is_empty());
    let scheduled = run(&cloud, &cfg, false).await;
    assert_eq!(scheduled.logs.metrics.requests, trial.logs.metrics.requests);
    assert!(scheduled.applied);
}

#[tokio::test]
async fn aws_refusing_the_change_becomes_a_hold_with_the_reason() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    cloud.inject(Fault::error(
        "SetDesiredCapacity",
        "ScalingActivityInProgress",
    ));
    let record = run(&cloud, &config(&[]), false).await;
    assert_eq!(
        (record.decision.action(), record.decision.to),
        (Action::Hold, 2)
    );
    assert_eq!(rules(&record).last().unwrap(), "activity_in_progress");
    assert!(!record.applied);
    assert!(record
        .errors
        .iter()
        .any(|e| e.contains("ScalingActivityInProgress")));
    assert_eq!(
        cloud.calls_to("SetDesiredCapacity"),
        ["web=3"],
        "one try, no retry at another size"
    );
}

#[tokio::test]
async fn a_missing_bucket_is_named_and_never_scales_in() {
    let cloud = world(1, 10, 4, &[20.0; 4]);
    let cfg = config(&[("LOGSCALE_BUCKET", "no-such-bucket")]);
    let record = run(&cloud, &cfg, false).await;
    assert_eq!(record.logs.condition, LogCondition::NoSuchBucket);
    assert!(record.errors.iter().any(|e| e.contains("no-such-bucket")));
    assert_eq!(record.cpu_percent, Some(20.0), "CPU still counts");
    assert_eq!(record.decision.to, 4, "{}", record.decision.explanation);
    assert!(rules(&record).contains(&"missing_data".to_string()));
    assert!(cloud.calls_to("SetDesiredCapacity").is_empty());
}

#[tokio::test]
async fn an_empty_window_from_a_source_never_seen_never_scales_in_but_cpu_still_scales_out() {
    let quiet = world(1, 10, 4, &[20.0; 4]);
    let cfg = config(&[("LOGSCALE_PREFIX", "elsewhere/")]);
    let record = run(&quiet, &cfg, false).await;
    assert_eq!(record.logs.condition, LogCondition::EmptyWindow);
    assert_eq!(record.decision.to, 4);

    let hot = world(1, 10, 2, &[90.0, 90.0]);
    let record = run(&hot, &cfg, false).await;
    assert_eq!(record.decision.to, 3);
    assert!(record.applied);
}

#[tokio::test]
async fn an_unknown_scaling_activity_holds_a_scale_in_only() {
    let cloud = world(1, 10, 4, &[20.0; 4]);
    cloud.inject(Fault::error("DescribeScalingActivities", "InternalFailure"));
    let record = run(&cloud, &config(&[]), false).await;
    assert_eq!(record.decision.to, 4);
    assert!(rules(&record).contains(&"scale_in_waits".to_string()));
    assert!(record
        .errors
        .iter()
        .any(|e| e.contains("DescribeScalingActivities")));

    let cloud = world(1, 10, 4, &[20.0; 4]);
    cloud.set_activity_in_progress(GROUP, true);
    let record = run(&cloud, &config(&[]), false).await;
    assert_eq!(record.decision.to, 4);
    assert!(record.errors.is_empty());

    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    cloud.set_activity_in_progress(GROUP, true);
    let record = run(&cloud, &config(&[]), false).await;
    assert_eq!(record.decision.to, 3, "a scale-out does not wait");
}

#[tokio::test]
async fn instances_ec2_does_not_describe_still_count_by_their_metrics() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    cloud.inject(Fault::error("DescribeInstances", "RequestLimitExceeded"));
    let record = run(&cloud, &config(&[]), false).await;
    assert!(record
        .errors
        .iter()
        .any(|e| e.contains("RequestLimitExceeded")));
    assert!(record.instances.iter().all(|i| i.state.is_none()));
    assert_eq!(record.decision.to, 3);
}

#[tokio::test]
async fn without_launch_times_a_scale_in_waits() {
    let cloud = world(1, 10, 4, &[10.0; 4]);
    cloud.inject(Fault::error("DescribeInstances", "RequestLimitExceeded"));
    let record = run(&cloud, &config(&[]), false).await;
    assert_eq!(record.decision.to, 4, "{:?}", record.decision.reasons);
    assert!(
        rules(&record).contains(&"scale_in_waits".to_string()),
        "{:?}",
        rules(&record)
    );
    assert!(
        record.decision.explanation.contains("EC2 could not say"),
        "{}",
        record.decision.explanation
    );
    assert!(
        record.instances.iter().all(|i| !i.warming_up),
        "not reported as warming"
    );
}

/// Regression (review): with DescribeInstances failing, every instance counted as warming, so
/// the log signals waited and a slow, erroring group could not scale out on them.
#[tokio::test]
async fn without_launch_times_the_log_signals_still_scale_out() {
    let cloud = world(1, 10, 2, &[50.0, 50.0]);
    let spec = LogGenSpec {
        error_share: 0.3,
        slow_share: 0.5,
        slow_ms: 200.0,
        ..LogGenSpec::new(Format::Original, 2000)
    };
    let mut slow = Vec::new();
    generate(&spec, &mut slow).unwrap();
    cloud.put_object(
        BUCKET,
        "logs/app-2.log",
        slow,
        now() - chrono::Duration::minutes(1),
    );
    cloud.inject(Fault::error("DescribeInstances", "RequestLimitExceeded"));
    let record = run(
        &cloud,
        &config(&[("LOGSCALE_LOG_SIGNALS_NEED_AGREEMENT", "false")]),
        false,
    )
    .await;
    assert!(record.decision.to > 2, "{:?}", record.decision.reasons);
    assert!(!rules(&record).contains(&"warm_up_wait".to_string()));
}

#[tokio::test]
async fn missing_metrics_never_scale_in() {
    let cloud = world(1, 10, 4, &[20.0; 4]);
    cloud.inject(Fault::error("GetMetricData", "Throttling"));
    let record = run(&cloud, &config(&[]), false).await;
    assert_eq!(record.cpu_percent, None);
    assert_eq!(record.decision.to, 4, "{}", record.decision.explanation);
    assert!(record.instances.iter().all(|i| !i.counted));
}

#[tokio::test]
async fn a_young_instance_is_left_out_and_holds_a_scale_in() {
    let cloud = world(1, 10, 3, &[20.0, 20.0, 20.0]);
    cloud.put_instance(
        InstanceInfo {
            id: "i-0002".into(),
            state: "running".into(),
            instance_type: None,
            launch_time: Some(now() - chrono::Duration::minutes(1)),
        },
        InstanceLoad {
            cpu_percent: Some(95.0),
            memory_percent: None,
            cpu_datapoints: 1,
        },
    );
    let record = run(&cloud, &config(&[]), false).await;
    let young = record.instances.iter().find(|i| i.id == "i-0002").unwrap();
    assert!(young.warming_up && !young.counted);
    assert_eq!(
        record.cpu_percent,
        Some(20.0),
        "the young one's 95 % is left out"
    );
    assert_eq!(record.decision.to, 3);
    assert!(rules(&record).contains(&"scale_in_waits".to_string()));
}

#[tokio::test(start_paused = true)]
async fn a_slow_object_is_named_at_the_deadline_and_the_rest_still_counts() {
    let cloud = world(1, 10, 4, &[20.0; 4]);
    cloud.put_object(
        BUCKET,
        "logs/slow.log",
        healthy_logs(10),
        now() - chrono::Duration::minutes(1),
    );
    cloud.inject(Fault::delay("GetObject", Duration::from_secs(300)).on("logs/slow.log"));
    let cfg = config(&[("LOGSCALE_RESERVE_SECONDS", "15")]);
    let opts = CycleOptions {
        now: now(),
        scheduled: None,
        dry_run: false,
        save_state: true,
        deadline: Some(Instant::now() + Duration::from_secs(60)),
    };
    let started = Instant::now();
    let record = run_cycle(&cfg, &cloud.services(), opts).await;
    assert!(
        started.elapsed() <= Duration::from_secs(45),
        "reads stop at the deadline less the reserve, not when the slow object ends"
    );
    assert_eq!(record.logs.condition, LogCondition::Partial);
    assert_eq!(record.logs.objects_read, 1);
    assert_eq!(
        record.logs.metrics.requests, 2000,
        "the other object counts"
    );
    let problem = &record.logs.problems[0];
    assert_eq!(problem.key, "logs/slow.log");
    assert!(problem.problem.contains("deadline"), "{}", problem.problem);
    assert_eq!(record.decision.to, 4, "partial logs never scale in");
}

#[tokio::test]
async fn a_corrupt_object_is_named_and_the_rest_still_counts() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    cloud.put_object(
        BUCKET,
        "logs/broken.log.gz",
        &b"\x1f\x8b\x08\x00 definitely not gzip"[..],
        now() - chrono::Duration::minutes(1),
    );
    let record = run(&cloud, &config(&[]), false).await;
    assert_eq!(record.logs.condition, LogCondition::Partial);
    assert_eq!(record.logs.problems[0].key, "logs/broken.log.gz");
    assert_eq!(record.logs.metrics.requests, 2000);
    assert_eq!(record.decision.to, 3, "a scale-out needs no complete logs");
}

#[tokio::test]
async fn a_state_that_cannot_be_read_starts_fresh_and_still_acts() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    cloud.inject(Fault::error("GetObject", "SlowDown").on(STATE_KEY).times(1));
    let record = run(&cloud, &config(&[]), false).await;
    let note = record.state.note.as_deref().unwrap_or_default();
    assert!(note.contains("could not read the state"), "{note}");
    assert!(note.contains("SlowDown"), "{note}");
    // None existed: the create-only write makes it, and the scale-out goes.
    assert!(record.state.saved, "{:?}", record.state);
    assert_eq!(cloud.calls_to("SetDesiredCapacity"), ["web=3"]);
}

/// Regression: a transient error reading an existing state made the save a create-only write,
/// which met the object with 412 and held as if another run had written it: the needed
/// scale-out was dropped.
#[tokio::test]
async fn a_failed_state_read_takes_the_unsaved_path_not_a_false_conflict() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    let cfg = config(&[]);
    run_at(&cloud, &cfg, false, now() - chrono::Duration::minutes(5)).await;
    assert!(cloud.object(BUCKET, STATE_KEY).is_some());
    cloud.put_group(GroupInfo {
        desired: 2,
        ..cloud.group(GROUP).unwrap()
    });
    cloud.inject(
        Fault::error("GetObject", "InternalError")
            .on(STATE_KEY)
            .times(1),
    );
    let record = run(&cloud, &cfg, false).await;
    assert!(
        !rules(&record).contains(&"state_conflict".to_string()),
        "{:?}",
        rules(&record)
    );
    assert_eq!(record.decision.to, 3);
    assert!(record.applied);
    assert!(!record.state.saved);
    assert!(
        record
            .errors
            .iter()
            .any(|e| e.contains("exists but could not be read")),
        "{:?}",
        record.errors
    );
}

/// Regression: when the answer to the state's PUT was lost and the SDK's retry met the write it
/// had just made (412), the run held as if another run had written first.
#[tokio::test]
async fn a_retry_that_meets_its_own_write_is_not_a_conflict() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    cloud.echo_next_conditional_write();
    let record = run(&cloud, &config(&[]), false).await;
    assert!(record.state.saved, "{:?}", record.state);
    assert_eq!(record.decision.to, 3);
    assert_eq!(cloud.calls_to("SetDesiredCapacity"), ["web=3"]);
}

#[tokio::test]
async fn a_group_shrunk_between_two_reads_holds_before_acting() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    let mut shrunk = cloud.group(GROUP).unwrap();
    shrunk.max = 2;
    cloud.change_group_after(0, shrunk);
    let record = run(&cloud, &config(&[]), false).await;
    assert_eq!(
        record.capacity.map(|c| c.max),
        Some(10),
        "decided on the first read"
    );
    assert_eq!(
        (record.decision.action(), record.decision.to),
        (Action::Hold, 2)
    );
    assert_eq!(rules(&record).last().unwrap(), "group_changed");
    assert!(!record.applied);
    assert!(cloud.calls_to("SetDesiredCapacity").is_empty());
    assert_eq!(cloud.group(GROUP).unwrap().desired, 2);
}

/// Regression: a scheduled action raised the group to 6 while the cycle was deciding on the
/// read of 2; the cycle then set 3, undoing it.
#[tokio::test]
async fn a_scheduled_action_between_the_read_and_the_change_is_not_overwritten() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    let raised = GroupInfo {
        desired: 6,
        ..cloud.group(GROUP).unwrap()
    };
    cloud.change_group_after(0, raised);
    let record = run(&cloud, &config(&[]), false).await;
    assert_eq!(rules(&record).last().unwrap(), "group_changed");
    assert!(
        record.decision.explanation.contains("desired 2 -> 6"),
        "{}",
        record.decision.explanation
    );
    assert!(cloud.calls_to("SetDesiredCapacity").is_empty());
    assert_eq!(cloud.group(GROUP).unwrap().desired, 6);
}

#[tokio::test]
async fn a_paused_autoscaler_decides_and_records_but_holds() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    let record = run(&cloud, &config(&[("LOGSCALE_PAUSED", "true")]), false).await;
    assert_eq!(
        (record.decision.action(), record.decision.to),
        (Action::Hold, 2)
    );
    assert_eq!(rules(&record).last().unwrap(), "paused");
    assert!(
        record.decision.signals.iter().any(|s| s.proposal == 3),
        "the proposal is kept"
    );
    assert!(cloud.calls_to("SetDesiredCapacity").is_empty());
}

#[tokio::test]
async fn gzip_is_recognised_by_its_bytes_whatever_the_key_says() {
    use std::io::Write;
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&healthy_logs(500)).unwrap();
    cloud.put_object(
        BUCKET,
        "logs/app-2.log",
        gz.finish().unwrap(),
        now() - chrono::Duration::minutes(1),
    );
    let record = run(&cloud, &config(&[]), false).await;
    assert_eq!(record.logs.condition, LogCondition::Complete);
    assert_eq!(record.logs.metrics.requests, 2500);
    assert_eq!(record.logs.metrics.unparsed, 0);
}

/// The record is the product's contract (documented field by field in the README): its keys,
/// their order and the wording of a typical scale-out stay as they are unless changed on
/// purpose. `duration_ms` is the one field that varies between runs; it is zeroed.
#[tokio::test]
async fn the_records_json_is_the_documented_contract() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    let mut record = run(&cloud, &config(&[]), false).await;
    record.duration_ms = 0;
    let expected = include_str!("record.golden.json");
    assert_eq!(
        serde_json::to_string_pretty(&record).unwrap(),
        expected.trim_end()
    );
}

/// One cycle with a 60-second deadline (15 s reserve), in paused time.
async fn run_with_deadline(cloud: &InMemoryCloud, cfg: &Config) -> (DecisionRecord, Duration) {
    let opts = CycleOptions {
        now: now(),
        scheduled: None,
        dry_run: false,
        save_state: true,
        deadline: Some(Instant::now() + Duration::from_secs(60)),
    };
    let started = Instant::now();
    let record = run_cycle(cfg, &cloud.services(), opts).await;
    (record, started.elapsed())
}

#[tokio::test(start_paused = true)]
async fn a_group_that_does_not_answer_in_time_holds_with_a_record_before_the_deadline() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    cloud.inject(Fault::delay(
        "DescribeAutoScalingGroups",
        Duration::from_secs(300),
    ));
    let (record, took) = run_with_deadline(&cloud, &config(&[])).await;
    assert_eq!(
        took,
        Duration::from_secs(45),
        "gathering stops at the deadline less the reserve"
    );
    assert_eq!(rules(&record), ["group_unavailable"]);
    assert!(
        record.errors[0].contains("time budget"),
        "{:?}",
        record.errors
    );
    assert!(cloud.calls_to("SetDesiredCapacity").is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_slow_state_write_lets_a_scale_out_through_within_the_deadline() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    cloud.inject(Fault::delay("PutObject", Duration::from_secs(300)).on(STATE_KEY));
    let (record, took) = run_with_deadline(&cloud, &config(&[])).await;
    assert!(took <= Duration::from_secs(57), "{took:?}");
    assert!(record.applied && !record.state.saved);
    assert!(record.errors.iter().any(|e| e.contains("time budget")));

    let cloud = world(1, 10, 4, &[20.0; 4]);
    cloud.inject(Fault::delay("PutObject", Duration::from_secs(300)).on(STATE_KEY));
    let (record, _) = run_with_deadline(&cloud, &config(&[])).await;
    assert_eq!(rules(&record).last().unwrap(), "state_unsaved");
    assert!(cloud.calls_to("SetDesiredCapacity").is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_change_that_does_not_answer_in_time_is_recorded_as_unknown() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    cloud.inject(Fault::delay("SetDesiredCapacity", Duration::from_secs(300)));
    let (record, took) = run_with_deadline(&cloud, &config(&[])).await;
    assert_eq!(
        took,
        Duration::from_secs(57),
        "act stops at the deadline less a fifth of the reserve"
    );
    assert_eq!(
        (record.decision.action(), record.applied),
        (Action::Hold, false)
    );
    assert_eq!(rules(&record).last().unwrap(), "set_capacity_failed");
    assert!(
        record
            .decision
            .reasons
            .last()
            .unwrap()
            .detail
            .contains("unknown"),
        "{:?}",
        record.decision.reasons
    );
}

#[tokio::test(start_paused = true)]
async fn slow_metrics_and_a_slow_state_read_never_scale_in() {
    let cloud = world(1, 10, 4, &[20.0; 4]);
    cloud.inject(Fault::delay("GetMetricData", Duration::from_secs(300)));
    cloud.inject(Fault::delay("GetObject", Duration::from_secs(300)).on(STATE_KEY));
    let (record, took) = run_with_deadline(&cloud, &config(&[])).await;
    assert!(took <= Duration::from_secs(57), "{took:?}");
    assert_eq!(record.cpu_percent, None);
    assert_eq!(record.decision.to, 4, "{}", record.decision.explanation);
    let note = record.state.note.as_deref().unwrap_or_default();
    assert!(note.contains("time budget"), "{note}");
}

#[tokio::test(start_paused = true)]
async fn a_slow_listing_is_named_and_never_scales_in() {
    let cloud = world(1, 10, 4, &[20.0; 4]);
    cloud.inject(Fault::delay("ListObjectsV2", Duration::from_secs(300)));
    let (record, took) = run_with_deadline(&cloud, &config(&[])).await;
    assert!(took <= Duration::from_secs(57), "{took:?}");
    assert_eq!(record.logs.condition, LogCondition::ListFailed);
    assert!(record
        .errors
        .iter()
        .any(|e| e.contains("ListObjectsV2") && e.contains("time budget")));
    assert_eq!(record.decision.to, 4);
}

#[tokio::test(start_paused = true)]
async fn when_time_runs_short_the_newest_objects_are_read_first() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    put_small_objects(&cloud, 4);
    // Each read takes 20 s, one at a time: two fit before the reserve.
    cloud.inject(Fault::delay("GetObject", Duration::from_secs(20)).on("app-logs/logs/"));
    let cfg = config(&[("LOGSCALE_FETCH_CONCURRENCY", "1")]);
    let (record, _) = run_with_deadline(&cloud, &cfg).await;
    assert_eq!(record.logs.objects_in_window, 5);
    assert_eq!(record.logs.objects_read, 2);
    let unread: Vec<&str> = record
        .logs
        .problems
        .iter()
        .map(|p| p.key.as_str())
        .collect();
    assert_eq!(
        unread,
        ["logs/3.log", "logs/4.log", "logs/app-1.log"],
        "the oldest wait"
    );
}

#[tokio::test]
async fn a_large_groups_record_lists_the_first_instances_and_counts_the_rest() {
    let cloud = world(1, 500, 250, &[60.0; 250]);
    let record = run(&cloud, &config(&[]), false).await;
    assert_eq!(record.instances.len(), crate::record::MAX_INSTANCES);
    assert_eq!(record.instances_omitted, 150);
    assert_eq!(record.cpu_percent, Some(60.0), "the averages count all 250");
    let line = record.to_json_line();
    assert!(line.contains("\"instances_omitted\":150"));
    assert!(line.len() < 256 * 1024);
}

async fn run_scheduled(
    cloud: &InMemoryCloud,
    cfg: &Config,
    scheduled: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DecisionRecord {
    let opts = CycleOptions {
        now,
        scheduled: Some(scheduled),
        dry_run: false,
        save_state: true,
        deadline: None,
    };
    run_cycle(cfg, &cloud.services(), opts).await
}

#[tokio::test]
async fn a_duplicated_event_is_a_replay_that_reads_decides_and_changes_nothing() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    let cfg = config(&[]);
    let first = run_scheduled(&cloud, &cfg, now(), now() + chrono::Duration::seconds(20)).await;
    assert!(first.applied && !first.window.replay);
    // Lambda's retry of the same event three minutes later.
    let again = run_scheduled(&cloud, &cfg, now(), now() + chrono::Duration::minutes(3)).await;
    assert!(again.window.replay);
    assert_eq!(rules(&again), ["replay"]);
    assert_eq!((again.decision.from, again.decision.to), (3, 3));
    let detail = &again.decision.reasons[0].detail;
    assert!(detail.contains("2 to 3"), "{detail}");
    assert_eq!(again.logs.condition, LogCondition::NotRead);
    assert_eq!(again.logs.metrics.requests, 0);
    assert!(!again.applied);
    assert_eq!(
        cloud.calls_to("SetDesiredCapacity"),
        ["web=3"],
        "one change for one window"
    );
    assert_eq!(
        cloud.calls_to("PutObject").len(),
        1,
        "a replay writes no state"
    );
}

#[tokio::test]
async fn an_object_that_appears_late_is_counted_by_the_next_run_once() {
    let cloud = world(1, 10, 2, &[60.0, 60.0]);
    let cfg = config(&[]);
    let first = run_scheduled(&cloud, &cfg, now(), now() + chrono::Duration::seconds(5)).await;
    assert_eq!(first.logs.metrics.requests, 2000);
    // A multipart upload that began inside the first window completes after it was read.
    cloud.put_object(
        BUCKET,
        "logs/multipart.log",
        healthy_logs(300),
        first.window.end - chrono::Duration::minutes(3),
    );
    let next_at = now() + chrono::Duration::minutes(5);
    let next = run_scheduled(&cloud, &cfg, next_at, next_at).await;
    assert_eq!(next.window.start, first.window.end, "the windows tile");
    assert_eq!(
        next.logs.metrics.requests, 300,
        "only the late object, once"
    );
    assert_eq!((next.logs.late_objects, next.logs.already_counted), (1, 1));
    let last_at = next_at + chrono::Duration::minutes(5);
    let last = run_scheduled(&cloud, &cfg, last_at, last_at).await;
    assert_eq!(last.logs.metrics.requests, 0, "nothing counted twice");
}

#[tokio::test]
async fn a_quiet_night_lets_cpu_scale_in_unless_empty_means_missing() {
    for (setting, scales_in) in [("no_traffic", true), ("missing", false)] {
        // Four quiet instances in a group at 6: CPU and memory say 3, a step of one a run.
        let cloud = world(1, 10, 6, &[20.0; 4]);
        let cfg = config(&[("LOGSCALE_EMPTY_WINDOW", setting)]);
        let first = run_scheduled(&cloud, &cfg, now(), now()).await;
        assert!(first.logs.metrics.requests > 0);
        // Five minutes later no new object has come: the source was healthy a window ago.
        let later = now() + chrono::Duration::minutes(5);
        let record = run_scheduled(&cloud, &cfg, later, later).await;
        assert_eq!(
            record.logs.condition,
            LogCondition::EmptyWindow,
            "{setting}"
        );
        let from = record.decision.from;
        if scales_in {
            assert!(
                record.decision.to < from,
                "{setting}: {}",
                record.decision.explanation
            );
            assert!(record.window.notes.iter().any(|n| n.contains("no traffic")));
        } else {
            assert_eq!(record.decision.to, from, "{setting}");
            assert!(rules(&record).contains(&"missing_data".to_string()));
        }
    }
}

#[tokio::test]
async fn a_source_silent_for_a_day_is_missing_data_not_a_quiet_night() {
    let cloud = world(1, 10, 6, &[20.0; 4]);
    let cfg = config(&[]);
    run_scheduled(&cloud, &cfg, now(), now()).await;
    let next_day = now() + chrono::Duration::hours(25);
    // Runs were missed for a day (the catch-up span is read), and nothing has come since.
    let record = run_scheduled(&cloud, &cfg, next_day, next_day).await;
    assert_eq!(record.logs.condition, LogCondition::EmptyWindow);
    assert_eq!(record.decision.to, record.decision.from);
    assert!(rules(&record).contains(&"missing_data".to_string()));
}

#[tokio::test(start_paused = true)]
async fn objects_left_unread_at_the_deadline_are_read_by_the_next_run() {
    let cloud = world(1, 10, 2, &[60.0, 60.0]);
    put_small_objects(&cloud, 4);
    // Three reads of 20 s each, one at a time: two fit before the reserve, the third is cut.
    cloud.inject(
        Fault::delay("GetObject", Duration::from_secs(20))
            .on("app-logs/logs/")
            .times(3),
    );
    let cfg = config(&[("LOGSCALE_FETCH_CONCURRENCY", "1")]);
    let (first, _) = run_with_deadline(&cloud, &cfg).await;
    assert_eq!(first.logs.objects_read, 2);
    assert!(
        first.window.notes.iter().any(|n| n.contains("left unread")),
        "{:?}",
        first.window.notes
    );
    let next_at = now() + chrono::Duration::minutes(5);
    let next = run_scheduled(&cloud, &cfg, next_at, next_at).await;
    assert!(
        next.window.start < first.window.end,
        "it starts before the unread objects"
    );
    assert_eq!(next.logs.objects_read, 3, "the three left, and only they");
    assert_eq!(
        first.logs.metrics.requests + next.logs.metrics.requests,
        2000 + 4 * 10
    );
}

#[tokio::test]
async fn a_failed_listing_leaves_its_window_to_the_next_run() {
    let cloud = world(1, 10, 2, &[60.0, 60.0]);
    let cfg = config(&[]);
    let first = run_scheduled(&cloud, &cfg, now(), now()).await;
    let at = |m: i64| now() + chrono::Duration::minutes(m);
    cloud.put_object(BUCKET, "logs/b.log", healthy_logs(70), at(3));
    cloud.inject(Fault::error("ListObjectsV2", "InternalError").times(1));
    let failed = run_scheduled(&cloud, &cfg, at(5), at(5)).await;
    assert_eq!(failed.logs.condition, LogCondition::ListFailed);
    assert!(failed
        .window
        .notes
        .iter()
        .any(|n| n.contains("listing failed")));
    let next = run_scheduled(&cloud, &cfg, at(10), at(10)).await;
    assert_eq!(
        next.window.start, first.window.end,
        "the failed window is read again"
    );
    assert_eq!(next.logs.metrics.requests, 70);
}

/// Regression: with keys that sort by time, the first run lists the prefix whole; on a large
/// prefix that listing outlasted the run's time, failed, kept nothing, and so failed again on
/// every run. Now each cut-off listing keeps its place, and the runs catch up.
#[tokio::test(start_paused = true)]
async fn a_sorted_listing_cut_by_the_deadline_resumes_where_it_stopped() {
    let cloud = InMemoryCloud::new();
    let launched = now() - chrono::Duration::hours(2);
    cloud.put_fleet(GROUP, (1, 10, 2), &[50.0, 50.0], Some(40.0), launched);
    // 100,000 keys from the week before, then five in the window.
    let old_start = now() - chrono::Duration::days(8);
    for n in 0..100_000i64 {
        let at = old_start + chrono::Duration::seconds(6 * n);
        let key = format!("logs/{}-{n:06}.log", at.format("%Y%m%dT%H%M%S"));
        cloud.put_object(BUCKET, &key, &b"old"[..], at);
    }
    for n in 0..5 {
        let at = now() - chrono::Duration::minutes(2) + chrono::Duration::seconds(n);
        let key = format!("logs/{}-new-{n}.log", at.format("%Y%m%dT%H%M%S"));
        cloud.put_object(BUCKET, &key, healthy_logs(10), at);
    }
    // A second a page: 45 pages fit in a run's gathering time, the prefix holds 101.
    cloud.inject(Fault::delay("ListObjectsV2", Duration::from_secs(1)));
    let cfg = config(&[("LOGSCALE_KEYS_SORTED", "true")]);
    let mut records = Vec::new();
    for k in 0..4i64 {
        let opts = CycleOptions {
            now: now() + chrono::Duration::minutes(5 * k),
            scheduled: None,
            dry_run: false,
            save_state: true,
            deadline: Some(Instant::now() + Duration::from_secs(60)),
        };
        records.push(run_cycle(&cfg, &cloud.services(), opts).await);
    }
    let calls: Vec<usize> = records
        .iter()
        .map(|r| r.logs.discovery.as_ref().unwrap().calls)
        .collect();
    let conditions: Vec<LogCondition> = records.iter().map(|r| r.logs.condition).collect();
    assert_eq!(
        conditions[..3],
        [
            LogCondition::ListFailed,
            LogCondition::ListFailed,
            LogCondition::Complete
        ],
        "{calls:?}"
    );
    let note = records[0].logs.discovery.as_ref().unwrap().note.clone();
    assert!(note.unwrap().contains("resumes after"));
    // The window stays open until the listing gets through: the five count once, then.
    let requests: Vec<u64> = records.iter().map(|r| r.logs.metrics.requests).collect();
    assert_eq!(requests, [0, 0, 50, 0], "{calls:?}");
    assert!(calls[3] <= 2, "caught up: {calls:?}");
}

/// Regression: runs of a deployment in dry run counted toward the fail-safe, so switching it to
/// live with a blind spell behind it stepped out at once.
#[tokio::test]
async fn dry_runs_do_not_count_toward_the_fail_safe() {
    let cloud = InMemoryCloud::new();
    cloud.create_bucket(BUCKET);
    cloud.put_fleet(
        GROUP,
        (1, 10, 2),
        &[50.0, 50.0],
        None,
        now() - chrono::Duration::hours(2),
    );
    cloud.inject(Fault::error("GetMetricData", "InternalError"));
    let silent = |dry: &str| config(&[("LOGSCALE_FAILSAFE_RUNS", "2"), ("LOGSCALE_DRY_RUN", dry)]);
    for k in 0..3 {
        let record = run_at(
            &cloud,
            &silent("true"),
            true,
            now() + chrono::Duration::minutes(5 * k),
        )
        .await;
        assert!(record.state.saved);
    }
    let saved = State::decode(&cloud.object(BUCKET, STATE_KEY).unwrap()).unwrap();
    assert_eq!(
        saved.no_signal_runs, 0,
        "dry runs are not the deployment's silence"
    );
    // Live, the count starts from zero: the first silent run does not step out.
    let live = run_at(
        &cloud,
        &silent("false"),
        false,
        now() + chrono::Duration::minutes(15),
    )
    .await;
    assert_eq!(live.decision.to, 2, "{:?}", live.decision.reasons);
    let saved = State::decode(&cloud.object(BUCKET, STATE_KEY).unwrap()).unwrap();
    assert_eq!(saved.no_signal_runs, 1);
}

#[tokio::test]
async fn other_scalers_of_the_group_are_named_in_the_record() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    let quiet = run(&cloud, &config(&[]), false).await;
    assert!(quiet.warnings.is_empty());
    let json = serde_json::to_value(&quiet).unwrap();
    assert!(json.get("warnings").is_none(), "absent when none");

    cloud.add_other_scaler(GROUP, "TargetTrackingScaling cpu50");
    cloud.add_other_scaler(GROUP, "scheduled action nightly");
    let record = run_at(
        &cloud,
        &config(&[]),
        false,
        now() + chrono::Duration::minutes(5),
    )
    .await;
    assert_eq!(record.warnings.len(), 1, "{:?}", record.warnings);
    assert!(record.warnings[0].contains("TargetTrackingScaling cpu50, scheduled action nightly"));
    cloud.inject(Fault::error("DescribePolicies", "AccessDenied"));
    let denied = run_at(
        &cloud,
        &config(&[]),
        false,
        now() + chrono::Duration::minutes(10),
    )
    .await;
    assert!(
        denied.warnings[0].contains("could not check"),
        "{:?}",
        denied.warnings
    );
}

/// Regression: with 4 instances of weight 4 (desired 16 units) at 80 % CPU, the proposal of 5
/// instances was read as 5 units and only the guard rail's +1 survived: 16 -> 17, a quarter of
/// an instance per run, with a normal-looking record.
#[tokio::test]
async fn a_weighted_or_vcpu_group_is_named_and_never_changed() {
    let cloud = world(1, 64, 4, &[80.0; 4]);
    let mut group = cloud.group(GROUP).unwrap();
    group.desired = 16;
    for i in &mut group.instances {
        i.weight = Some("4".into());
    }
    cloud.put_group(group.clone());
    let record = run(&cloud, &config(&[]), false).await;
    assert_eq!(record.decision.to, 16, "{:?}", record.decision.reasons);
    assert_eq!(rules(&record).last().unwrap(), "unsupported_capacity");
    assert!(record
        .decision
        .reasons
        .last()
        .unwrap()
        .detail
        .contains("weights (4)"));
    // Known from the mixed instances policy before any weighted instance runs.
    let mut empty = group.clone();
    empty.instances.clear();
    empty.policy_weights = vec!["2".into(), "1".into()];
    cloud.put_group(empty);
    let record = run_at(
        &cloud,
        &config(&[]),
        false,
        now() + chrono::Duration::minutes(2),
    )
    .await;
    assert_eq!(rules(&record).last().unwrap(), "unsupported_capacity");
    assert!(record
        .decision
        .reasons
        .last()
        .unwrap()
        .detail
        .contains("weights (2)"));
    assert!(cloud.calls_to("SetDesiredCapacity").is_empty());

    for i in &mut group.instances {
        i.weight = None;
    }
    group.capacity_type = Some("vcpu".into());
    cloud.put_group(group.clone());
    let record = run_at(
        &cloud,
        &config(&[]),
        false,
        now() + chrono::Duration::minutes(5),
    )
    .await;
    assert!(record
        .decision
        .reasons
        .last()
        .unwrap()
        .detail
        .contains("in vcpu"));
    assert!(cloud.calls_to("SetDesiredCapacity").is_empty());

    // Weights of one, and `units`, are instance counts: sized as usual.
    for i in &mut group.instances {
        i.weight = Some("1".into());
    }
    group.capacity_type = Some("units".into());
    group.desired = 4;
    cloud.put_group(group);
    let record = run_at(
        &cloud,
        &config(&[]),
        false,
        now() + chrono::Duration::minutes(10),
    )
    .await;
    assert!(record.applied, "{:?}", record.decision.reasons);
}

/// Regression: rate limits held per invocation, so invoking the function again a minute after
/// a scale-out added another step.
#[tokio::test]
async fn extra_invocations_cannot_multiply_a_scale_out() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    let cfg = config(&[]);
    let first = run(&cloud, &cfg, false).await;
    assert_eq!((first.decision.from, first.decision.to), (2, 3));
    // Still hot: manual invokes 30, 60 and 90 s later all hold (a hold does not restart the
    // spacing, so they cannot alternate hold and step).
    for seconds in [30, 60, 90] {
        let again = run_at(
            &cloud,
            &cfg,
            false,
            now() + chrono::Duration::seconds(seconds),
        )
        .await;
        assert_eq!(
            again.decision.to, 3,
            "+{seconds} s: {:?}",
            again.decision.reasons
        );
        assert_eq!(rules(&again).last().unwrap(), "limit_up", "+{seconds} s");
    }
    assert_eq!(cloud.calls_to("SetDesiredCapacity"), ["web=3"]);
    // The next scheduled run may step again.
    let next = run_at(&cloud, &cfg, false, now() + chrono::Duration::minutes(5)).await;
    assert!(next.decision.to > 3, "{:?}", next.decision.reasons);
}

/// Regression: a state object too large to read was an error without its ETag, so no run could
/// replace it: every run after it held its scale-ins as "state unsaved".
#[tokio::test]
async fn an_oversized_state_is_replaced_by_the_next_run() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    let too_large = vec![b' '; crate::state::MAX_STATE_BYTES as usize + 1];
    cloud.put_object(
        BUCKET,
        STATE_KEY,
        too_large,
        now() - chrono::Duration::hours(1),
    );
    let record = run(&cloud, &config(&[]), false).await;
    let note = record.state.note.clone().unwrap_or_default();
    assert!(
        note.contains("refused") && note.contains("replaces it"),
        "{note}"
    );
    assert!(record.state.saved, "{:?}", record.state);
    assert!(record.applied);
    let stored = cloud.object(BUCKET, STATE_KEY).unwrap();
    assert!(State::decode(&stored).is_ok() && stored.len() < 4096);
}

#[tokio::test]
async fn the_terminal_summary_shows_the_warnings() {
    let cloud = world(1, 10, 2, &[90.0, 90.0]);
    cloud.add_other_scaler(GROUP, "TargetTrackingScaling \u{1b}[2Jcpu50");
    let record = run(&cloud, &config(&[]), false).await;
    let text = crate::render_record(&record);
    assert!(text.contains("Warnings:"), "{text}");
    assert!(text.contains("TargetTrackingScaling"), "{text}");
    assert!(!text.contains('\u{1b}'), "escaped: {text}");
}

/// Issue 10: a scheduled minimum is a floor for the time it names, said in the record.
#[tokio::test]
async fn a_scheduled_minimum_raises_the_group_for_its_hours_only() {
    // now() is Sunday 2024-12-08 12:35 UTC, 13:35 in Paris.
    let cloud = world(1, 10, 2, &[40.0, 40.0]);
    let cfg = config(&[
        (
            "LOGSCALE_SCHEDULE",
            "sat,sun 13:00-14:00 min=6; mon-fri 08:00-18:00 min=9",
        ),
        ("LOGSCALE_TIMEZONE", "Europe/Paris"),
    ]);
    let record = run(&cloud, &cfg, false).await;
    assert_eq!(record.decision.to, 6, "{:?}", record.decision.reasons);
    assert!(rules(&record).contains(&"scheduled".to_string()));
    assert_eq!(record.scheduled.min, Some(6));
    assert_eq!(record.scheduled.rules, ["sat,sun 13:00-14:00 min=6"]);
    assert_eq!(cloud.group(GROUP).unwrap().desired, 6);
    // An hour later the rule no longer matches: no floor, nothing in the record.
    let later = run_at(&cloud, &cfg, false, now() + chrono::Duration::hours(1)).await;
    assert!(later.scheduled.is_empty());
    let json = serde_json::to_value(&later).unwrap();
    assert!(json.get("scheduled").is_none());
}

/// Issue 10: a CloudWatch metric as a signal, read alongside the group within the gather
/// deadline: a queue's backlog sizes a group whose CPU asks for nothing.
#[tokio::test]
async fn a_configured_metric_sizes_the_group_and_an_unread_one_never_scales_in() {
    let metric = [
        (
            "LOGSCALE_METRIC",
            "AWS/SQS ApproximateNumberOfMessagesVisible QueueName=jobs",
        ),
        ("LOGSCALE_METRIC_TARGET_PER_INSTANCE", "100"),
    ];
    let cfg = config(&metric);
    let spec = cfg.metric.clone().expect("a metric");

    // 700 visible messages at 100 a worker: 7 workers, in one step (measured demand).
    let cloud = world(1, 20, 2, &[40.0, 40.0]);
    cloud.put_metric(&spec, Some(700.0));
    let record = run(&cloud, &cfg, false).await;
    assert_eq!(record.decision.to, 7, "{:?}", record.decision.reasons);
    assert!(record.errors.is_empty(), "{:?}", record.errors);
    let shown = record
        .decision
        .signals
        .iter()
        .find(|s| s.signal == crate::decide::Signal::Metric)
        .expect("the metric's proposal in the record");
    assert_eq!(
        (shown.value, shown.target, shown.basis, shown.proposal),
        (350.0, 100.0, 2, 7)
    );
    assert_eq!(
        cloud.calls_to("GetMetricData").last().unwrap(),
        "AWS/SQS ApproximateNumberOfMessagesVisible QueueName=jobs (Average)"
    );

    // No datapoints is missing data (a misspelled dimension must not go unnoticed): the quiet
    // group holds, and the record names the metric.
    let cloud = world(1, 10, 4, &[20.0; 4]);
    let record = run(&cloud, &cfg, false).await;
    assert_eq!(record.decision.to, 4, "{:?}", record.decision.reasons);
    assert!(rules(&record).contains(&"missing_data".to_string()));
    assert!(
        record.errors.iter().any(|e| e.contains("no datapoints")),
        "{:?}",
        record.errors
    );

    // A failed read is an error in the record and missing data; CPU is still read.
    let cloud = world(1, 10, 4, &[20.0; 4]);
    cloud.put_metric(&spec, Some(0.0));
    cloud.inject(Fault::error("GetMetricData", "AccessDenied").on("QueueName=jobs"));
    let record = run(&cloud, &cfg, false).await;
    assert_eq!(record.decision.to, 4, "{}", record.decision.explanation);
    assert!(rules(&record).contains(&"missing_data".to_string()));
    assert!(
        record
            .decision
            .explanation
            .contains("the configured metric could not be read"),
        "{}",
        record.decision.explanation
    );
    assert_eq!(record.cpu_percent, Some(20.0));
    assert_eq!(
        record.errors,
        [
            "GetMetricData failed: AccessDenied: injected AccessDenied (the metric AWS/SQS \
          ApproximateNumberOfMessagesVisible QueueName=jobs (Average))"
        ]
    );
}

/// A metric that does not answer is cut off at the gather deadline like the other calls, and
/// the run holds its scale-in.
#[tokio::test(start_paused = true)]
async fn a_slow_metric_is_cut_off_at_the_deadline_and_never_scales_in() {
    let cfg = config(&[
        ("LOGSCALE_METRIC", "MyApp Backlog"),
        ("LOGSCALE_METRIC_TARGET_PER_INSTANCE", "10"),
    ]);
    let cloud = world(1, 10, 4, &[20.0; 4]);
    cloud.inject(Fault::delay("GetMetricData", Duration::from_secs(300)).on("MyApp Backlog"));
    let (record, took) = run_with_deadline(&cloud, &cfg).await;
    assert_eq!(
        took,
        Duration::from_secs(45),
        "gathering stops at the deadline"
    );
    assert_eq!(record.decision.to, 4, "{}", record.decision.explanation);
    assert_eq!(record.cpu_percent, Some(20.0), "the load was read in time");
    assert!(
        record
            .errors
            .iter()
            .any(|e| e.contains("time budget") && e.contains("MyApp Backlog")),
        "{:?}",
        record.errors
    );
}

/// Issue 10, forecast-only: the history beside the state says, a day later, what came the day
/// before, and the record shows it against what comes now; no decision changes.
#[tokio::test]
async fn the_forecast_shows_the_day_before_against_what_came() {
    let cloud = world(1, 10, 2, &[50.0, 50.0]);
    let cfg = config(&[
        ("LOGSCALE_PREDICT", "forecast"),
        ("LOGSCALE_TARGET_REQUESTS_PER_INSTANCE", "500"),
    ]);
    let first = run(&cloud, &cfg, false).await;
    let forecast = first.forecast.as_ref().expect("a forecast");
    assert_eq!(forecast.this_window, None, "nothing recorded yet");
    assert_eq!(forecast.actual_requests_per_minute, Some(400.0));
    let key = crate::forecast::history_key(STATE_KEY);
    let stored = crate::forecast::History::decode(&cloud.object(BUCKET, &key).unwrap()).unwrap();
    assert_eq!(stored.recorded(), 1);

    // A day later, the same time: the day before is the forecast, the new window the actual.
    let day = now() + chrono::Duration::days(1);
    // Lines from a day later too (the logs of a day before would be a backfill).
    let spec = LogGenSpec {
        error_share: 0.0,
        slow_share: 0.0,
        slow_ms: 200.0,
        start: (day - chrono::Duration::minutes(3)).naive_utc(),
        ..LogGenSpec::new(Format::Original, 1000)
    };
    let mut body = Vec::new();
    generate(&spec, &mut body).unwrap();
    cloud.put_object(
        BUCKET,
        "logs/app-2.log",
        body,
        day - chrono::Duration::minutes(2),
    );
    let next = run_at(&cloud, &cfg, false, day).await;
    let forecast = next.forecast.as_ref().unwrap();
    let this = forecast.this_window.expect("the day before");
    assert_eq!(this.requests_per_minute, 400.0);
    // After a day without runs the window is the catch-up span: 1,000 requests in 30 minutes.
    let actual = forecast.actual_requests_per_minute.unwrap();
    assert!((actual - 1000.0 / 30.0).abs() < 1e-9, "{actual}");
    assert_eq!(forecast.slots, 2);
    // The history object is not read as logs.
    assert_eq!(next.logs.objects_read, 1);

    // Off (the default): no history read or written, nothing in the record.
    let off = run_at(
        &cloud,
        &config(&[]),
        false,
        day + chrono::Duration::minutes(5),
    )
    .await;
    assert!(off.forecast.is_none());
}

#[tokio::test]
async fn a_history_that_cannot_be_read_is_named_and_not_written() {
    let cloud = world(1, 10, 2, &[50.0, 50.0]);
    let cfg = config(&[("LOGSCALE_PREDICT", "forecast")]);
    let key = crate::forecast::history_key(STATE_KEY);
    cloud.inject(Fault::error("GetObject", "SlowDown").on(&key).times(1));
    let record = run(&cloud, &cfg, false).await;
    let note = record.forecast.unwrap().note.unwrap_or_default();
    assert!(note.contains("could not read the history"), "{note}");
    assert!(cloud.object(BUCKET, &key).is_none(), "not written");
    // Garbage in its place starts a new one, noted.
    cloud.put_object(BUCKET, &key, &b"not gzip"[..], now());
    let record = run_at(&cloud, &cfg, false, now() + chrono::Duration::minutes(5)).await;
    let note = record.forecast.unwrap().note.unwrap_or_default();
    assert!(note.contains("unreadable"), "{note}");
    assert!(crate::forecast::History::decode(&cloud.object(BUCKET, &key).unwrap()).is_ok());
}

/// Issue 10, active prediction: a rise the day before, due within the warm-up, is prepared
/// for now; a quieter forecast never takes part.
#[tokio::test]
async fn an_active_forecast_scales_out_ahead_of_a_rise_and_never_in() {
    let cfg = config(&[
        ("LOGSCALE_PREDICT", "active"),
        ("LOGSCALE_TARGET_REQUESTS_PER_INSTANCE", "500"),
    ]);
    let key = crate::forecast::history_key(STATE_KEY);
    let seeded = |rpm: f64| {
        let mut h = crate::forecast::History::default();
        // Yesterday: quiet until ten minutes after this time, then the day's rush.
        h.record(now() - chrono::Duration::days(1), 400.0);
        h.record(
            now() - chrono::Duration::days(1) + chrono::Duration::minutes(10),
            rpm,
        );
        h.encode()
    };
    let cloud = world(1, 10, 2, &[50.0, 50.0]);
    cloud.put_object(
        BUCKET,
        &key,
        seeded(4000.0),
        now() - chrono::Duration::days(1),
    );
    let record = run(&cloud, &cfg, false).await;
    let forecast = record
        .decision
        .signals
        .iter()
        .find(|s| s.signal == crate::decide::Signal::Forecast)
        .expect("the forecast proposes");
    assert_eq!(forecast.proposal, 8, "4,000 requests a minute at 500 each");
    assert!(
        record.decision.to > 2 && record.applied,
        "{}",
        record.decision.explanation
    );
    assert!(
        record.decision.explanation.contains("forecast"),
        "{}",
        record.decision.explanation
    );

    // The same with a quiet day before: the forecast asks for less than there is, which only
    // limits a scale-in (CPU at 50 % holds the four).
    let cloud = world(1, 10, 4, &[50.0; 4]);
    cloud.put_object(
        BUCKET,
        &key,
        seeded(100.0),
        now() - chrono::Duration::days(1),
    );
    let record = run(&cloud, &cfg, false).await;
    let forecast = record
        .decision
        .signals
        .iter()
        .find(|s| s.signal == crate::decide::Signal::Forecast)
        .unwrap();
    assert_eq!(forecast.proposal, 1);
    assert_eq!(record.decision.to, 4, "{}", record.decision.explanation);

    // Forecast-only mode shows the same history but decides without it.
    let cloud = world(1, 10, 2, &[50.0, 50.0]);
    cloud.put_object(
        BUCKET,
        &key,
        seeded(4000.0),
        now() - chrono::Duration::days(1),
    );
    let record = run(
        &cloud,
        &config(&[
            ("LOGSCALE_PREDICT", "forecast"),
            ("LOGSCALE_TARGET_REQUESTS_PER_INSTANCE", "500"),
        ]),
        false,
    )
    .await;
    assert!(record.forecast.is_some());
    assert!(record
        .decision
        .signals
        .iter()
        .all(|s| s.signal != crate::decide::Signal::Forecast));
}

/// Review of issue 10: the history keeps the rate the decision took as demand, so counts
/// forged into today's logs (or a stale rate) that a calm CPU does not back cannot come back
/// tomorrow as a forecast; without a requests target nothing is kept.
#[tokio::test]
async fn the_history_keeps_only_what_cpu_backs() {
    let key = crate::forecast::history_key(STATE_KEY);
    let cloud = world(1, 10, 2, &[30.0, 30.0]);
    // 50,000 requests in the window besides the 2,000: 10,400 a minute, on two calm instances.
    cloud.put_object(
        BUCKET,
        "logs/forged.log",
        healthy_logs(50_000),
        now() - chrono::Duration::minutes(1),
    );
    let cfg = config(&[
        ("LOGSCALE_PREDICT", "active"),
        ("LOGSCALE_TARGET_REQUESTS_PER_INSTANCE", "500"),
    ]);
    let record = run(&cloud, &cfg, false).await;
    assert_eq!(record.decision.to, 2, "{}", record.decision.explanation);
    let stored = crate::forecast::History::decode(&cloud.object(BUCKET, &key).unwrap()).unwrap();
    // CPU at 30 % asks for one of the two instances there are (issue 19: demand asks no more
    // than calm CPU does, down as well as up): 1 x 500 a minute.
    assert_eq!(stored.at(record.window.end), Some(500.0));

    let cloud = world(1, 10, 2, &[30.0, 30.0]);
    let record = run(&cloud, &config(&[("LOGSCALE_PREDICT", "forecast")]), false).await;
    assert_eq!(record.forecast.unwrap().slots, 0, "no target: nothing kept");
}

/// Issue 19, item 1: a state whose window mark is in 2099 made every run a replay, so the group
/// was never scaled again whatever its load, and the state never healed.
#[tokio::test]
async fn a_window_mark_in_the_future_does_not_freeze_the_group() {
    let cloud = world(1, 10, 2, &[95.0, 95.0]);
    let cfg = config(&[]);
    let forged = State {
        high_water: Some(Utc.with_ymd_and_hms(2099, 1, 1, 0, 0, 0).unwrap()),
        ..State::default()
    };
    cloud.put_object(BUCKET, STATE_KEY, forged.encode(), now());

    let record = run(&cloud, &cfg, false).await;
    assert!(!record.window.replay, "{:?}", record.window);
    assert!(
        record.window.notes.iter().any(|n| n.contains("2099")),
        "{:?}",
        record.window.notes
    );
    assert_eq!(record.decision.action(), Action::ScaleUp, "{record:?}");
    assert!(record.applied);
    let saved = State::decode(&cloud.object(BUCKET, STATE_KEY).unwrap()).unwrap();
    assert_eq!(
        saved.high_water,
        Some(record.window.end),
        "the mark is healed"
    );
}
