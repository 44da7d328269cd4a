//! The knobs of the decision: which policy, its targets and limits, and the original tool's
//! thresholds. They live with the decision that reads them; `config` fills them from the
//! environment.

use std::time::Duration;

use serde::Serialize;

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
    /// After this many runs in a row with no signal at all, step out, and again after every
    /// this many more (0: never).
    pub failsafe_runs: u32,
    pub failsafe_step: u32,
    /// The log signals (latency, error rate, slow share) may add more than one instance in a
    /// run only when CPU or memory also asks for more: whoever can write under the log prefix
    /// can then add at most one instance a run on their own.
    pub log_signals_need_agreement: bool,
    /// Requests per minute one instance should serve; `None`: learned from the runs where CPU
    /// was near its target (see `proportional::MIN_LEARNED_RUNS`).
    pub target_requests_per_instance: Option<f64>,
    /// When measured demand (the requests signal) asks for more, one run may add up to this
    /// percentage of the capacity, beyond `max_up_percent`.
    pub demand_max_up_percent: f64,
    /// What the configured CloudWatch metric should be per instance (`LOGSCALE_METRIC`):
    /// the metric signal proposes `ceil(metric / this)`; `None` without a metric.
    pub target_metric_per_instance: Option<f64>,
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
            log_signals_need_agreement: true,
            target_requests_per_instance: None,
            demand_max_up_percent: 900.0,
            target_metric_per_instance: None,
            warmup: Duration::from_secs(300),
            paused: false,
        }
    }
}

/// The thresholds of the original tool's policy (percentages are 0–100).
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Scale out when the group's average CPU is above this.
    pub cpu_high: f64,
    /// Scale in only when the group's average CPU is below this (and the logs are healthy).
    pub cpu_low: f64,
    /// Scale out when more than this share of requests are errors.
    pub error_rate: f64,
    /// Scale out when more than this share of requests are slow.
    pub slow_rate: f64,
    /// A request is slow when its response time is over this many milliseconds.
    pub slow_ms: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            cpu_high: 70.0,
            cpu_low: 20.0,
            error_rate: 5.0,
            slow_rate: 10.0,
            slow_ms: 1000.0,
        }
    }
}
