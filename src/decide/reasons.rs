//! The words a decision is explained with: the rules that can take part in it and the signals
//! that can propose a capacity. The record spells each as its `snake_case` name.

use serde::Serialize;

/// A rule that took part in a decision. Listed in the record's `reasons`, in the order they
/// applied; the record spells each in `snake_case` (`ScaleInWaits` is `"scale_in_waits"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    // Both policies.
    /// The group's desired capacity was outside [min, max]; the decision starts inside.
    OutsideLimits,
    /// No CPU datapoints and no requests: nothing to decide on, so hold.
    NoData,
    /// The group's maximum stopped the change.
    AtMax,
    /// The group's minimum stopped the change.
    AtMin,

    // The `default` (proportional) policy, in the order of its steps.
    /// A signal's value cannot be real (not a number, infinite, negative, a percentage over
    /// 100, a latency over a day): it is left out, and counts as missing data.
    IgnoredSignal,
    /// A signal proposed more than [`proportional::PROPOSAL_BOUND_FACTOR`] times the current
    /// capacity (or the most the rate limit lets a run reach, when more): cut to that.
    ///
    /// [`proportional::PROPOSAL_BOUND_FACTOR`]: super::proportional::PROPOSAL_BOUND_FACTOR
    ProposalBound,
    /// Instances are warming up, so the log signals do not ask for more yet.
    WarmUpWait,
    /// `LOGSCALE_LOG_SIGNALS_NEED_AGREEMENT`: the log signals asked for more than one more
    /// instance while neither CPU nor memory asked for more: they add one.
    LogSignalsAlone,
    /// The largest signal's proposal.
    Proposal,
    /// No signal for `failsafe_runs` runs in a row (and again every `failsafe_runs` further
    /// silent runs): one precautionary step out.
    FailSafe,
    /// A guard rail (an original threshold) is crossed: at least one more.
    GuardRail,
    /// A scale-in was refused because some of the window's data is missing.
    MissingData,
    /// A scale-in went only as low as the highest recommendation of the stabilization window.
    Stabilized,
    /// A scale-out soon after a scale-in: the load swings, so the stabilization window doubled.
    LoadSwings,
    /// A scale-in waits for a scaling activity or warming instances.
    ScaleInWaits,
    /// The scale-out was cut to the most one run may add.
    LimitUp,
    /// The scale-in was cut to the most one run may remove.
    LimitDown,

    // The `original` policy.
    /// Average CPU over the high mark: one step out.
    CpuHigh,
    /// Error rate over its mark: one step out.
    ErrorRateHigh,
    /// Slow share over its mark: one step out.
    SlowRateHigh,
    /// Average CPU under the low mark with healthy logs: one step in.
    CpuLow,
    /// Low CPU, but the logs are missing or incomplete: hold.
    MissingLogs,
    /// Everything within its marks: hold.
    Steady,

    // Holds decided after the policy, by the cycle.
    /// `LOGSCALE_PAUSED`: decided and recorded, but held.
    Paused,
    /// The group could not be read, so it cannot be sized.
    GroupUnavailable,
    /// Another run saved the policy state since this one read it.
    StateConflict,
    /// The policy state could not be saved, so a scale-in waits.
    StateUnsaved,
    /// A dry run: the change is reported, not made.
    DryRun,
    /// AWS refused the change while a scaling activity or cooldown runs.
    ActivityInProgress,
    /// AWS reported contention on the group.
    ResourceContention,
    /// SetDesiredCapacity failed otherwise.
    SetCapacityFailed,
    /// The event's window was already decided (a retried or duplicated event): nothing was
    /// read, decided or changed.
    Replay,
    /// The group's desired, minimum or maximum changed between the read the decision used and
    /// the read just before acting (a scheduled action, another policy, an operator): held, the
    /// next run decides on the new numbers.
    GroupChanged,
    /// The group counts capacity in units logscale cannot size (vCPUs, memory, or instances of
    /// different weights): decided and recorded, but held.
    UnsupportedCapacity,
    /// `LOGSCALE_SCHEDULE` narrowed the limits for this time: a floor (min) or a cap (max).
    Scheduled,
}

/// A signal that proposes a capacity, in the order the record lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    Cpu,
    Memory,
    Latency,
    ErrorRate,
    SlowRate,
    /// Requests per minute per instance, from the logs: demand itself, which does not saturate.
    Requests,
    /// The configured CloudWatch metric (`LOGSCALE_METRIC`) per instance, for example an SQS
    /// queue's visible messages: demand as the user measures it.
    Metric,
    /// Requests per minute per instance the history forecasts for the coming minutes
    /// (`LOGSCALE_PREDICT=active`): it may scale out ahead of a rise, never in.
    Forecast,
}

impl Signal {
    /// Every signal, in the order they are weighed and reported.
    pub const ALL: [Signal; 8] = [
        Signal::Cpu,
        Signal::Memory,
        Signal::Latency,
        Signal::ErrorRate,
        Signal::SlowRate,
        Signal::Requests,
        Signal::Metric,
        Signal::Forecast,
    ];

    /// The name the record and the explanations use.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Cpu => "cpu",
            Signal::Memory => "memory",
            Signal::Latency => "latency",
            Signal::ErrorRate => "error_rate",
            Signal::SlowRate => "slow_rate",
            Signal::Requests => "requests",
            Signal::Metric => "metric",
            Signal::Forecast => "forecast",
        }
    }

    /// Read from the window's logs (rather than measured on the instances).
    pub fn is_from_logs(self) -> bool {
        matches!(
            self,
            Signal::Latency | Signal::ErrorRate | Signal::SlowRate | Signal::Requests
        )
    }

    /// Demand measured as such (every request counted, refused ones too), rather than a
    /// symptom of too little capacity: its proposal is an absolute number of instances.
    pub fn is_demand(self) -> bool {
        matches!(self, Signal::Requests | Signal::Metric)
    }

    /// `value` in this signal's unit, for people: milliseconds, requests or a percentage.
    pub fn show(self, value: f64) -> String {
        match self {
            Signal::Latency => format!("{value:.0} ms"),
            Signal::Requests | Signal::Forecast => format!("{value:.0} requests/min per instance"),
            Signal::Metric => format!("{value:.1} per instance"),
            _ => format!("{value:.1}%"),
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A rule that took part in the decision, and why, in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    pub rule: Rule,
    pub detail: String,
}

impl Reason {
    pub fn new(rule: Rule, detail: impl Into<String>) -> Reason {
        Reason {
            rule,
            detail: detail.into(),
        }
    }
}

/// One signal's value against its target and the capacity it proposes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalReport {
    pub signal: Signal,
    pub value: f64,
    pub target: f64,
    /// The instance count the proposal scales (counted instances for CPU and memory).
    pub basis: u32,
    pub proposal: u32,
    /// Within tolerance of the target: proposes no change.
    pub within_tolerance: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signals_name_is_its_spelling_in_the_record() {
        for signal in Signal::ALL {
            assert_eq!(
                serde_json::to_value(signal).unwrap(),
                signal.name(),
                "{signal:?}"
            );
            assert_eq!(signal.to_string(), signal.name());
        }
    }

    /// The record's contract: every rule's spelling, as the README documents it. A renamed
    /// variant fails here, not in a user's alarm filter.
    #[test]
    fn every_rule_keeps_its_spelling_in_the_record() {
        let spelled = [
            (Rule::OutsideLimits, "outside_limits"),
            (Rule::NoData, "no_data"),
            (Rule::AtMax, "at_max"),
            (Rule::AtMin, "at_min"),
            (Rule::IgnoredSignal, "ignored_signal"),
            (Rule::ProposalBound, "proposal_bound"),
            (Rule::WarmUpWait, "warm_up_wait"),
            (Rule::LogSignalsAlone, "log_signals_alone"),
            (Rule::Proposal, "proposal"),
            (Rule::FailSafe, "fail_safe"),
            (Rule::GuardRail, "guard_rail"),
            (Rule::MissingData, "missing_data"),
            (Rule::Stabilized, "stabilized"),
            (Rule::LoadSwings, "load_swings"),
            (Rule::ScaleInWaits, "scale_in_waits"),
            (Rule::LimitUp, "limit_up"),
            (Rule::LimitDown, "limit_down"),
            (Rule::CpuHigh, "cpu_high"),
            (Rule::ErrorRateHigh, "error_rate_high"),
            (Rule::SlowRateHigh, "slow_rate_high"),
            (Rule::CpuLow, "cpu_low"),
            (Rule::MissingLogs, "missing_logs"),
            (Rule::Steady, "steady"),
            (Rule::Paused, "paused"),
            (Rule::GroupUnavailable, "group_unavailable"),
            (Rule::StateConflict, "state_conflict"),
            (Rule::StateUnsaved, "state_unsaved"),
            (Rule::DryRun, "dry_run"),
            (Rule::ActivityInProgress, "activity_in_progress"),
            (Rule::ResourceContention, "resource_contention"),
            (Rule::SetCapacityFailed, "set_capacity_failed"),
            (Rule::Replay, "replay"),
            (Rule::GroupChanged, "group_changed"),
            (Rule::UnsupportedCapacity, "unsupported_capacity"),
            (Rule::Scheduled, "scheduled"),
        ];
        for (rule, name) in spelled {
            assert_eq!(serde_json::to_value(rule).unwrap(), name);
        }
        let names: std::collections::BTreeSet<&str> = spelled.iter().map(|(_, n)| *n).collect();
        assert_eq!(names.len(), 35, "every rule once");
    }
}
