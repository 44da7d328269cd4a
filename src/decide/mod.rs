//! Signals + policy + remembered state + `now` → a [`Decision`]. Pure: no clock, no I/O.
//!
//! - [`original`]: the original tool's one-step thresholds, kept for comparison and for users
//!   who want exactly the old behaviour (`LOGSCALE_POLICY=original`).
//! - [`proportional`]: the default. Each signal proposes `ceil(basis × value / target)`, the
//!   largest proposal wins, up fast and down slow, never on missing data.

mod explain;
#[cfg(test)]
mod metric_tests;
pub mod original;
mod policy;
pub mod proportional;
mod reasons;

pub use policy::{Policy, PolicyKind, Thresholds};
pub use reasons::{Reason, Rule, Signal, SignalReport};

use chrono::{DateTime, Utc};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

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
    /// Requests per minute over the window, every request the logs count (refused ones too);
    /// `None` without logs.
    pub requests_per_minute: Option<f64>,
    /// The configured CloudWatch metric (`LOGSCALE_METRIC`) for the whole group: its statistic
    /// per minute, averaged over the metrics window; `None` when none is configured or it had
    /// no datapoints.
    pub metric: Option<f64>,
    /// The configured metric could not be read: what it says is unknown, so no scale-in.
    pub metric_unread: bool,
    /// `LOGSCALE_PREDICT=active`: the highest requests per minute the history forecasts from
    /// the next window until capacity asked for now would serve; `None` otherwise or without
    /// history for those times.
    pub forecast_requests_per_minute: Option<f64>,
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
    /// EC2 could not be asked when the instances launched (DescribeInstances failed): none is
    /// known to be warming, but none is known to be warm either, so a scale-in waits.
    pub ages_unknown: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    ScaleUp,
    ScaleDown,
    Hold,
}

impl Action {
    /// What going from `from` to `to` instances is.
    pub fn of_change(from: u32, to: u32) -> Action {
        match to.cmp(&from) {
            std::cmp::Ordering::Greater => Action::ScaleUp,
            std::cmp::Ordering::Less => Action::ScaleDown,
            std::cmp::Ordering::Equal => Action::Hold,
        }
    }
}

/// The capacity decided, and why. Its [`Action`] follows from `from` and `to`, so the two can
/// never disagree; the record still lists it first.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
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
    pub fn hold(from: u32, rule: Rule, detail: impl Into<String>) -> Decision {
        let reason = Reason::new(rule, detail);
        Decision {
            from,
            to: from,
            explanation: explain::hold(from, &reason.detail),
            reasons: vec![reason],
            signals: Vec::new(),
            window: Vec::new(),
        }
    }

    /// The requests per minute the decision took as demand: the window's rate, no more than
    /// what its CPU backed (`requests` asks no more than CPU does while CPU is not saturated).
    /// `None` without a requests signal (no target set or learned yet). This, not the raw
    /// rate, is what the request history keeps, so that counts forged into the logs, or a rate
    /// gone stale, cannot come back a day later as a forecast.
    pub fn backed_requests_per_minute(&self) -> Option<f64> {
        self.signals
            .iter()
            .find(|r| r.signal == Signal::Requests)
            .map(|r| {
                let rate = r.value * f64::from(r.basis);
                rate.min(f64::from(r.proposal) * r.target)
            })
    }

    /// Turns this decision into a hold at `from`, keeping its reasons and adding why.
    pub fn into_hold(mut self, rule: Rule, detail: impl Into<String>) -> Decision {
        let reason = Reason::new(rule, detail);
        if self.to != self.from {
            self.explanation = explain::held_back(self.from, self.to, &reason.detail);
        }
        self.to = self.from;
        self.reasons.push(reason);
        self
    }

    /// Up, down or hold: what going from `from` to `to` is.
    pub fn action(&self) -> Action {
        Action::of_change(self.from, self.to)
    }

    /// The rules that took part, in order.
    pub fn rules(&self) -> Vec<Rule> {
        self.reasons.iter().map(|r| r.rule).collect()
    }
}

/// The record's `decision`: `action` first, derived, then the fields in their order.
impl Serialize for Decision {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut record = serializer.serialize_struct("Decision", 7)?;
        record.serialize_field("action", &self.action())?;
        record.serialize_field("from", &self.from)?;
        record.serialize_field("to", &self.to)?;
        record.serialize_field("reasons", &self.reasons)?;
        record.serialize_field("signals", &self.signals)?;
        record.serialize_field("window", &self.window)?;
        record.serialize_field("explanation", &self.explanation)?;
        record.end()
    }
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
            decision.into_hold(Rule::Paused, "logscale is paused (LOGSCALE_PAUSED)"),
            state,
        );
    }
    (decision, state)
}
