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
/// Far longer than the whole invocation: the stand-in still holds the slowed answer when the
/// record comes back, unless the cycle waited for it.
const SLOW: f64 = 40.0;

/// Runs the cycle with an [`DEADLINE`] deadline; returns its record once the stand-in has
/// been asked whether the slowed call it holds (`operation` on `subject`) is still held.
/// Whether the cycle kept to its deadline is read from that ordering, not from a clock this
/// test reads: the record came back while an answer SLOW long was still held, so the cycle
/// did not wait for it, however slowly a loaded machine ran the rest.
async fn run_against_the_deadline(s: &Scenario, operation: &str, subject: &str) -> DecisionRecord {
    let vars: HashMap<&str, String> = s
        .env()
        .into_iter()
        .chain([("LOGSCALE_RESERVE_SECONDS", RESERVE.to_string())])
        .collect();
    let cfg = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let services = logscale::aws::services_from_sdk_config(&sdk_config().await, true);
    let opts = CycleOptions {
        now: Utc::now(),
        scheduled: None,
        dry_run: false,
        save_state: true,
        deadline: Some(Instant::now() + DEADLINE),
    };
    let record = run_cycle(&cfg, &services, opts).await;
    let held = held_calls(operation, subject);
    assert_eq!(
        held.len(),
        1,
        "the cycle made the slowed call once: {held:?}"
    );
    assert_eq!(
        held[0].1, None,
        "the record came back only after the stand-in answered the {SLOW} s {operation}: the \
         cycle waited past its deadline"
    );
    record
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
    let record = run_against_the_deadline(&s, "DescribeAutoScalingGroups", &s.group).await;
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
    let state_key = format!("logscale-state/{}", s.group);
    inject_delay("PutObject", SLOW, &state_key);
    let record = run_against_the_deadline(&s, "PutObject", &state_key).await;
    assert!(!record.state.saved);
    assert!(record.applied, "{}", record.decision.explanation);
    assert_eq!(group_state(&s.group)["desired"], 3);
}

#[tokio::test]
async fn a_slow_set_desired_capacity_is_recorded_before_the_deadline() {
    let s = Scenario::new("slow-set", (1, 5, 2), Some(90.0), true);
    inject_delay("SetDesiredCapacity", SLOW, &s.group);
    let record = run_against_the_deadline(&s, "SetDesiredCapacity", &s.group).await;
    assert!(!record.applied);
    assert_eq!(rules(&record).last().unwrap(), "set_capacity_failed");
    assert!(
        record.decision.explanation.contains("unknown"),
        "{}",
        record.decision.explanation
    );
}
