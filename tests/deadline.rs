//! A slow AWS near the deadline, for real: the cycle with the real SDK clients against the
//! stand-in, whose answers are delayed past their share of the time. Every cycle must still
//! return its record before the invocation's deadline, and say what did not answer.
//! (The Lambda emulator sends no real deadline, so the cycle is driven directly with one.)

mod support;

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use logscale::{run_cycle, Config, CycleOptions, DecisionRecord};
use support::*;
use tokio::time::Instant;

/// The invocation's deadline, and the reserve kept for save, act and the record.
const DEADLINE: Duration = Duration::from_secs(8);
const RESERVE: &str = "4";
/// Longer than the whole invocation.
const SLOW: f64 = 12.0;

async fn run_against_the_deadline(s: &Scenario) -> (DecisionRecord, Duration) {
    let vars: HashMap<&str, String> = s
        .env()
        .into_iter()
        .chain([("LOGSCALE_RESERVE_SECONDS", RESERVE.to_string())])
        .collect();
    let cfg = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let services = logscale::aws::services_from_sdk_config(&sdk_config().await, true);
    let started = Instant::now();
    let opts = CycleOptions {
        now: Utc::now(),
        scheduled: None,
        dry_run: false,
        save_state: true,
        deadline: Some(started + DEADLINE),
    };
    let record = run_cycle(&cfg, &services, opts).await;
    (record, started.elapsed())
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
async fn a_slow_describe_still_yields_a_record_before_the_deadline() {
    let s = Scenario::new("slow-describe", (1, 5, 2), Some(90.0), true);
    inject_delay("DescribeAutoScalingGroups", SLOW, &s.group);
    let (record, took) = run_against_the_deadline(&s).await;
    assert!(took < DEADLINE, "{took:?}");
    assert_eq!(rules(&record), ["group_unavailable"]);
    assert!(
        record.errors.iter().any(|e| e.contains("time budget")),
        "{:?}",
        record.errors
    );
    assert_eq!(group_state(&s.group)["desired"], 2);
}

#[tokio::test]
async fn a_slow_state_write_still_scales_out_before_the_deadline() {
    let s = Scenario::new("slow-state", (1, 5, 2), Some(90.0), true);
    inject_delay("PutObject", SLOW, &format!("logscale-state/{}", s.group));
    let (record, took) = run_against_the_deadline(&s).await;
    assert!(took < DEADLINE, "{took:?}");
    assert!(!record.state.saved);
    assert!(record.applied, "{}", record.decision.explanation);
    assert_eq!(group_state(&s.group)["desired"], 3);
}

#[tokio::test]
async fn a_slow_set_desired_capacity_is_recorded_before_the_deadline() {
    let s = Scenario::new("slow-set", (1, 5, 2), Some(90.0), true);
    inject_delay("SetDesiredCapacity", SLOW, &s.group);
    let (record, took) = run_against_the_deadline(&s).await;
    assert!(took < DEADLINE, "{took:?}");
    assert!(!record.applied);
    assert_eq!(rules(&record).last().unwrap(), "set_capacity_failed");
    assert!(
        record.decision.explanation.contains("unknown"),
        "{}",
        record.decision.explanation
    );
}
