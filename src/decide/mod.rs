//! Signals + policy + remembered state + `now` → a [`Decision`]. Pure: no clock, no I/O.
//!
//! - [`original`]: the original tool's one-step thresholds, kept for comparison and for users
//!   who want exactly the old behaviour (`LOGSCALE_POLICY=original`).
//! - [`proportional`]: the default. Each signal proposes `ceil(basis × value / target)`, the
//!   largest proposal wins, up fast and down slow, never on missing data.

pub mod original;
pub mod proportional;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Thresholds;
use crate::state::{Recommendation, State};

/// What the cycle observed, reduced to the numbers the policy reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Signals {
    /// Average CPU over in-service instances past their warm-up that had datapoints.
    pub cpu_percent: Option<f64>,
    /// Average memory used over the same instances, when the CloudWatch agent publishes it.
    pub memory_percent: Option<f64>,
    /// Errors as a percentage of requests; `None` without requests.
    pub error_rate: Option<f64>,
    /// Slow requests as a percentage of timed requests; `None` without any.
    pub slow_rate: Option<f64>,
    /// The chosen latency percentile (p95 by default), ms; `None` without timed requests.
    pub latency_ms: Option<f64>,
    /// Every object of the window was read (no missing bucket, no unreadable object).
    pub logs_complete: bool,
    /// How many instances the CPU average covers (in service, warmed up, with datapoints).
    pub counted_instances: u32,
    /// Every in-service, warmed-up instance had CPU datapoints.
    pub cpu_complete: bool,
}

/// The group's size limits and current desired capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capacity {
    pub min: u32,
    pub max: u32,
    pub desired: u32,
}

impl Capacity {
    /// `n` brought within [min, max].
    pub fn clamp(&self, n: u32) -> u32 {
        n.clamp(self.min, self.max.max(self.min))
    }
}

/// What holds a scale-in back, besides the signals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Conditions {
    /// A scaling activity is still running (launching, terminating, warming up).
    pub activity_in_progress: bool,
    /// Instances launched less than the warm-up ago, or not yet in service.
    pub warming_up: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    Original,
    Default,
}

/// Every knob of the decision. Defaults in [`Policy::default`]; each has a `LOGSCALE_*`
/// variable and a template Parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub kind: PolicyKind,
    /// The original thresholds: the `original` policy, and guard rails for `default`.
    pub thresholds: Thresholds,
    pub target_cpu: f64,
    pub target_memory: f64,
    pub target_latency_ms: f64,
    /// Which latency percentile is compared with `target_latency_ms` (50, 90, 95 or 99).
    pub latency_percentile: u8,
    /// Ratios within `1 + tolerance_up` and `1 - tolerance_down` of the target change nothing.
    pub tolerance_up: f64,
    pub tolerance_down: f64,
    /// One run adds at most the larger of this percentage of the current capacity and...
    pub max_up_percent: f64,
    /// ...this many instances.
    pub max_up_step: u32,
    /// One run removes at most the larger of this percentage and...
    pub max_down_percent: f64,
    /// ...this many instances.
    pub max_down_step: u32,
    /// A scale-in goes only to the highest recommendation seen over this window.
    pub stabilization: Duration,
    /// After this many runs in a row with no signal at all, step out (0: never).
    pub failsafe_runs: u32,
    pub failsafe_step: u32,
    /// Instances younger than this are left out of the averages and hold scale-ins.
    pub warmup: Duration,
    /// Decide and record, but hold.
    pub paused: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            kind: PolicyKind::Default,
            thresholds: Thresholds::default(),
            target_cpu: 65.0,
            target_memory: 75.0,
            target_latency_ms: 600.0,
            latency_percentile: 95,
            tolerance_up: 0.1,
            tolerance_down: 0.1,
            max_up_percent: 200.0,
            max_up_step: 4,
            max_down_percent: 20.0,
            max_down_step: 1,
            stabilization: Duration::from_secs(15 * 60),
            failsafe_runs: 0,
            failsafe_step: 1,
            warmup: Duration::from_secs(300),
            paused: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    ScaleUp,
    ScaleDown,
    Hold,
}

/// A rule that took part in the decision, and why, in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    pub rule: &'static str,
    pub detail: String,
}

/// One signal's value against its target and the capacity it proposes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalReport {
    pub signal: &'static str,
    pub value: f64,
    pub target: f64,
    /// The instance count the proposal scales (counted instances for CPU and memory).
    pub basis: u32,
    pub proposal: u32,
    /// Within tolerance of the target: proposes no change.
    pub within_tolerance: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub action: Action,
    pub from: u32,
    pub to: u32,
    pub reasons: Vec<Reason>,
    /// Each signal's value, target and proposal (empty for the original policy).
    pub signals: Vec<SignalReport>,
    /// The recommendations in the stabilization window, this run's last.
    pub window: Vec<Recommendation>,
    /// Why the capacity is what it is, in a sentence or two.
    pub explanation: String,
}

impl Decision {
    /// A decision to stay at `from`, for the given reason.
    pub fn hold(from: u32, rule: &'static str, detail: impl Into<String>) -> Decision {
        let detail = detail.into();
        Decision {
            action: Action::Hold,
            from,
            to: from,
            explanation: format!("Holding at {from}: {detail}."),
            reasons: vec![Reason { rule, detail }],
            signals: Vec::new(),
            window: Vec::new(),
        }
    }

    /// Turns this decision into a hold at `from`, keeping its reasons and adding why.
    pub fn into_hold(mut self, rule: &'static str, detail: impl Into<String>) -> Decision {
        let detail = detail.into();
        if self.to != self.from {
            self.explanation = format!(
                "Would go from {} to {}, but holding: {detail}.",
                self.from, self.to
            );
        }
        self.action = Action::Hold;
        self.to = self.from;
        self.reasons.push(Reason { rule, detail });
        self
    }

    /// The rules that took part, in order.
    pub fn rules(&self) -> Vec<&'static str> {
        self.reasons.iter().map(|r| r.rule).collect()
    }

    pub(crate) fn with_action(mut self) -> Decision {
        self.action = match self.to.cmp(&self.from) {
            std::cmp::Ordering::Greater => Action::ScaleUp,
            std::cmp::Ordering::Less => Action::ScaleDown,
            std::cmp::Ordering::Equal => Action::Hold,
        };
        self
    }
}

pub(crate) fn reason(rule: &'static str, detail: String) -> Reason {
    Reason { rule, detail }
}

/// Applies `policy`; returns the decision and the state to remember for the next run.
pub fn decide(
    policy: &Policy,
    signals: &Signals,
    capacity: Capacity,
    conditions: Conditions,
    state: &State,
    now: DateTime<Utc>,
) -> (Decision, State) {
    let (decision, state) = match policy.kind {
        PolicyKind::Original => original::decide(policy, signals, capacity, conditions, state, now),
        PolicyKind::Default => {
            proportional::decide(policy, signals, capacity, conditions, state, now)
        }
    };
    if policy.paused && decision.to != decision.from {
        return (
            decision.into_hold("paused", "logscale is paused (LOGSCALE_PAUSED)"),
            state,
        );
    }
    (decision, state)
}
