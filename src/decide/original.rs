//! The original tool's policy, made safe: one step out when CPU, the error rate or the slow
//! share is over its mark; one step in only when CPU is under the low mark *and* the logs of the
//! whole window were read and are healthy; otherwise hold. Always within [min, max]; every rule
//! that fired is listed. It remembers nothing between runs except the no-signal count.

use chrono::{DateTime, Utc};

use super::{explain, Capacity, Conditions, Decision, Policy, Reason, Rule, Signals, Thresholds};
use crate::state::State;

/// The `original` policy.
pub fn decide(
    policy: &Policy,
    signals: &Signals,
    capacity: Capacity,
    // One step at a time needs neither the warm-up conditions nor the clock.
    _conditions: Conditions,
    state: &State,
    _now: DateTime<Utc>,
) -> (Decision, State) {
    let mut state = state.clone();
    let no_signal = signals.cpu_percent.is_none() && signals.error_rate.is_none();
    // Read back from the bucket, so it may be anything: counting on saturates.
    state.no_signal_runs = if no_signal {
        state.no_signal_runs.saturating_add(1)
    } else {
        0
    };
    (one_step(&policy.thresholds, signals, capacity), state)
}

fn one_step(th: &Thresholds, s: &Signals, c: Capacity) -> Decision {
    let mut reasons = Vec::new();
    // A desired capacity outside the limits (someone changed min or max) is brought inside
    // first; any step is taken from there.
    let base = c.desired.clamp(c.min, c.max.max(c.min));
    if base != c.desired {
        reasons.push(Reason::new(
            Rule::OutsideLimits,
            format!(
                "desired {} is outside [{}, {}]; brought to {}",
                c.desired, c.min, c.max, base
            ),
        ));
    }

    let mut up = Vec::new();
    if let Some(cpu) = s.cpu_percent.filter(|v| *v > th.cpu_high) {
        up.push(Reason::new(
            Rule::CpuHigh,
            format!("average CPU {cpu:.1}% is above {}%", th.cpu_high),
        ));
    }
    if let Some(rate) = s.error_rate.filter(|v| *v > th.error_rate) {
        up.push(Reason::new(
            Rule::ErrorRateHigh,
            format!("error rate {rate:.2}% is above {}%", th.error_rate),
        ));
    }
    if let Some(rate) = s.slow_rate.filter(|v| *v > th.slow_rate) {
        up.push(Reason::new(
            Rule::SlowRateHigh,
            format!(
                "{rate:.2}% of requests took over {} ms, above {}%",
                th.slow_ms, th.slow_rate
            ),
        ));
    }

    let target = if !up.is_empty() {
        reasons.extend(up);
        let to = base.saturating_add(1).min(c.max.max(c.min));
        if to == base {
            reasons.push(Reason::new(
                Rule::AtMax,
                format!("already at the group's maximum of {}", c.max),
            ));
        }
        to
    } else if s.cpu_percent.is_none() && s.error_rate.is_none() {
        reasons.push(Reason::new(
            Rule::NoData,
            "no CPU datapoints and no requests in the logs for this window",
        ));
        base
    } else if let Some(cpu) = s.cpu_percent.filter(|v| *v < th.cpu_low) {
        if !s.logs_complete || s.error_rate.is_none() {
            reasons.push(Reason::new(
                Rule::MissingLogs,
                format!(
                    "average CPU {cpu:.1}% is below {}%, but the window's logs are missing or incomplete; never scale in on missing data",
                    th.cpu_low
                ),
            ));
            base
        } else {
            reasons.push(Reason::new(
                Rule::CpuLow,
                format!(
                    "average CPU {cpu:.1}% is below {}% and the logs are healthy",
                    th.cpu_low
                ),
            ));
            let to = base.saturating_sub(1).max(c.min);
            if to == base {
                reasons.push(Reason::new(
                    Rule::AtMin,
                    format!("already at the group's minimum of {}", c.min),
                ));
            }
            to
        }
    } else {
        let detail = match s.cpu_percent {
            Some(cpu) => format!(
                "average CPU {cpu:.1}% is within [{}%, {}%] and the logs are under their thresholds",
                th.cpu_low, th.cpu_high
            ),
            None => "no CPU datapoints; the logs are under their thresholds, which alone never scale in".into(),
        };
        reasons.push(Reason::new(Rule::Steady, detail));
        base
    };

    Decision {
        from: c.desired,
        to: target,
        explanation: explain::original(c.desired, target, &reasons),
        reasons,
        signals: Vec::new(),
        window: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::Action;

    fn healthy(cpu: Option<f64>) -> Signals {
        Signals {
            cpu_percent: cpu,
            error_rate: Some(1.0),
            slow_rate: Some(2.0),
            logs_complete: true,
            ..Signals::default()
        }
    }

    fn cap(min: u32, max: u32, desired: u32) -> Capacity {
        Capacity { min, max, desired }
    }

    #[test]
    fn table_of_decisions() {
        let th = Thresholds::default();
        let no_logs = |cpu| Signals {
            cpu_percent: cpu,
            logs_complete: false,
            ..Signals::default()
        };
        let errors = Signals {
            error_rate: Some(8.0),
            ..healthy(Some(40.0))
        };
        let slow = Signals {
            slow_rate: Some(12.0),
            ..healthy(None)
        };
        let partial_logs = Signals {
            logs_complete: false,
            ..healthy(Some(10.0))
        };
        // (name, signals, capacity, action, to, rules)
        type Case = (&'static str, Signals, Capacity, Action, u32, Vec<Rule>);
        let cases: Vec<Case> = vec![
            (
                "cpu high steps out",
                healthy(Some(75.0)),
                cap(1, 5, 2),
                Action::ScaleUp,
                3,
                vec![Rule::CpuHigh],
            ),
            (
                "exactly at high mark holds",
                healthy(Some(70.0)),
                cap(1, 5, 2),
                Action::Hold,
                2,
                vec![Rule::Steady],
            ),
            (
                "errors step out",
                errors,
                cap(1, 5, 2),
                Action::ScaleUp,
                3,
                vec![Rule::ErrorRateHigh],
            ),
            (
                "slow share steps out without cpu data",
                slow,
                cap(1, 5, 2),
                Action::ScaleUp,
                3,
                vec![Rule::SlowRateHigh],
            ),
            (
                "cpu low and healthy steps in",
                healthy(Some(10.0)),
                cap(1, 5, 3),
                Action::ScaleDown,
                2,
                vec![Rule::CpuLow],
            ),
            (
                "clamped at max",
                healthy(Some(95.0)),
                cap(1, 5, 5),
                Action::Hold,
                5,
                vec![Rule::CpuHigh, Rule::AtMax],
            ),
            (
                "clamped at min",
                healthy(Some(5.0)),
                cap(1, 5, 1),
                Action::Hold,
                1,
                vec![Rule::CpuLow, Rule::AtMin],
            ),
            (
                "no data holds",
                no_logs(None),
                cap(1, 5, 2),
                Action::Hold,
                2,
                vec![Rule::NoData],
            ),
            (
                "low cpu without logs never scales in",
                no_logs(Some(5.0)),
                cap(1, 5, 3),
                Action::Hold,
                3,
                vec![Rule::MissingLogs],
            ),
            (
                "low cpu with partial logs never scales in",
                partial_logs,
                cap(1, 5, 3),
                Action::Hold,
                3,
                vec![Rule::MissingLogs],
            ),
            (
                "high cpu without logs still steps out",
                no_logs(Some(90.0)),
                cap(1, 5, 2),
                Action::ScaleUp,
                3,
                vec![Rule::CpuHigh],
            ),
            (
                "logs alone never scale in",
                healthy(None),
                cap(1, 5, 3),
                Action::Hold,
                3,
                vec![Rule::Steady],
            ),
            (
                "desired above max is brought down",
                healthy(Some(50.0)),
                cap(1, 4, 6),
                Action::ScaleDown,
                4,
                vec![Rule::OutsideLimits, Rule::Steady],
            ),
            (
                "desired below min is brought up",
                healthy(Some(50.0)),
                cap(2, 4, 1),
                Action::ScaleUp,
                2,
                vec![Rule::OutsideLimits, Rule::Steady],
            ),
        ];
        for (name, signals, capacity, action, to, want_rules) in cases {
            let d = one_step(&th, &signals, capacity);
            assert_eq!(
                (d.action(), d.to, d.rules()),
                (action, to, want_rules),
                "{name}"
            );
            assert_eq!(d.from, capacity.desired, "{name}");
            assert!(
                d.to >= capacity.min && d.to <= capacity.max.max(capacity.min),
                "{name}"
            );
        }
    }

    #[test]
    fn several_triggers_are_all_listed() {
        let s = Signals {
            error_rate: Some(9.0),
            slow_rate: Some(30.0),
            ..healthy(Some(88.0))
        };
        let d = one_step(&Thresholds::default(), &s, cap(1, 5, 2));
        assert_eq!(
            d.rules(),
            [Rule::CpuHigh, Rule::ErrorRateHigh, Rule::SlowRateHigh]
        );
        assert_eq!(d.to, 3);
        assert!(d.reasons[0].detail.contains("88.0%"), "{:?}", d.reasons);
    }

    #[test]
    fn never_outside_limits_for_any_input() {
        let th = Thresholds::default();
        for min in 0..4 {
            for max in min..6 {
                for desired in 0..8 {
                    for cpu in [None, Some(0.0), Some(50.0), Some(100.0)] {
                        for complete in [true, false] {
                            let s = Signals {
                                logs_complete: complete,
                                ..healthy(cpu)
                            };
                            let d = one_step(&th, &s, cap(min, max, desired));
                            assert!(
                                d.to >= min && d.to <= max,
                                "{min} {max} {desired} {cpu:?} -> {}",
                                d.to
                            );
                            if !complete {
                                assert!(d.to >= desired.min(max), "scaled in on missing data");
                            }
                        }
                    }
                }
            }
        }
    }

    /// Issue 9, point 5: the silent-run count is read back from the bucket and may be
    /// anything; counting on from `u32::MAX` saturates instead of overflowing.
    #[test]
    fn a_tampered_silent_count_saturates() {
        let st = State {
            no_signal_runs: u32::MAX,
            ..State::default()
        };
        let now = chrono::DateTime::from_timestamp(1_733_616_000, 0).unwrap();
        let (d, next) = decide(
            &Policy::default(),
            &Signals::default(),
            cap(1, 5, 2),
            Conditions::default(),
            &st,
            now,
        );
        assert_eq!((d.to, next.no_signal_runs), (2, u32::MAX));
    }
}
