//! The default policy: proportional, safe, explained.
//!
//! [`decide`] runs these steps in order (the Kubernetes HPA's, from the metrics' replica counts
//! to stabilization to rate limits); each is a function that returns the capacity it hands on
//! and the rule that set it, if one did.
//!
//! 1. `proposals`: each signal proposes `ceil(basis × value / target)` (for latency, which
//!    grows much faster than linearly near saturation, `ceil(basis × √(value / target))`): CPU
//!    and memory scale the instances they were measured on (in service, past warm-up), the log
//!    signals (latency percentile, error rate, slow share) the current capacity. A ratio within
//!    the tolerance of 1 proposes no change. While instances warm up, the log signals (measured
//!    before those instances served) do not ask for more (`wait_for_warm_up`); CPU and memory,
//!    measured on warmed-up instances, still may.
//! 2. `largest_or_fail_safe`: the largest proposal wins. No signal at all holds; after
//!    `failsafe_runs` such runs in a row, an optional step out. Then `guard_rail`: the
//!    original thresholds stay as guard rails: over one of them, at least one more.
//! 3. `never_in_on_missing_data`: with the window's logs incomplete, no CPU data, or
//!    instances without datapoints, a proposal below the current capacity becomes "stay".
//! 4. Down slow: `stabilize` takes a scale-in only to the highest recommendation of the
//!    stabilization window, and `scale_in_waits` while instances warm up or a scaling
//!    activity runs.
//! 5. `rate_limit` per run (up: the larger of +`max_up_percent` % and +`max_up_step`; down:
//!    the larger of −`max_down_percent` % and −`max_down_step`), then `clamp_to_group`: the
//!    group's [min, max].

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{
    explain, Capacity, Conditions, Decision, Policy, Reason, Rule, Signal, SignalReport, Signals,
    Thresholds,
};
use crate::state::State;

/// The `default` policy: its steps in order, each adding its reason to the decision's.
pub fn decide(
    policy: &Policy,
    s: &Signals,
    c: Capacity,
    cond: Conditions,
    state: &State,
    now: DateTime<Utc>,
) -> (Decision, State) {
    let mut reasons = Vec::new();
    let current = start_within_limits(c).record(&mut reasons);

    let mut signals = proposals(policy, s, current);
    reasons.extend(wait_for_warm_up(&mut signals, current, cond.warming_up));
    let no_signal_runs = if signals.is_empty() {
        state.no_signal_runs + 1
    } else {
        0
    };
    let raw = largest_or_fail_safe(policy, &signals, current, no_signal_runs).record(&mut reasons);
    let raw = guard_rail(&policy.thresholds, s, raw, current, cond.warming_up).record(&mut reasons);
    let raw = never_in_on_missing_data(s, raw, current).record(&mut reasons);

    // The window remembers the recommendation before stabilization and limits, as the HPA's.
    let mut state = State {
        no_signal_runs,
        ..state.clone()
    };
    let window = chrono::Duration::from_std(policy.stabilization).unwrap_or_default();
    state.remember(now, raw, window);
    let to =
        stabilize(raw, current, state.highest_recent(), policy.stabilization).record(&mut reasons);
    let to = scale_in_waits(to, current, cond).record(&mut reasons);

    let to = rate_limit(policy, to, current).record(&mut reasons);
    let to = clamp_to_group(c, to).record(&mut reasons);

    let decision = Decision {
        from: c.desired,
        to,
        explanation: explain::proportional(c.desired, to, &reasons, &signals),
        reasons,
        signals,
        window: state.recommendations.clone(),
    };
    (decision, state)
}

/// What one step hands on: a capacity, and the rule that set it when one did.
#[derive(Debug, Clone, PartialEq)]
struct Step {
    capacity: u32,
    reason: Option<Reason>,
}

impl Step {
    /// The step did not apply: `capacity` goes on as it came.
    fn keep(capacity: u32) -> Step {
        Step {
            capacity,
            reason: None,
        }
    }

    /// `rule` applied and leaves `capacity`, for the reason in `detail`.
    fn by(rule: Rule, capacity: u32, detail: impl Into<String>) -> Step {
        Step {
            capacity,
            reason: Some(Reason::new(rule, detail)),
        }
    }

    /// Adds the step's reason, if any, to `reasons`; returns its capacity.
    fn record(self, reasons: &mut Vec<Reason>) -> u32 {
        reasons.extend(self.reason);
        self.capacity
    }
}

/// Every step starts from the desired capacity brought within the group's limits (someone
/// may have changed min or max since it was set).
fn start_within_limits(c: Capacity) -> Step {
    let current = c.clamp(c.desired);
    if current == c.desired {
        return Step::keep(current);
    }
    Step::by(
        Rule::OutsideLimits,
        current,
        format!(
            "desired {} is outside [{}, {}]; starting from {current}",
            c.desired, c.min, c.max
        ),
    )
}

/// Step 1: what each signal that has a value and a target proposes, in [`Signal::ALL`]'s
/// order.
fn proposals(policy: &Policy, s: &Signals, current: u32) -> Vec<SignalReport> {
    // Without a CPU average there are no measured instances: the current capacity stands in.
    let measured = if s.counted_instances > 0 {
        s.counted_instances
    } else {
        current
    };
    let th = &policy.thresholds;
    Signal::ALL
        .into_iter()
        .filter_map(|signal| {
            let (value, target, basis) = match signal {
                Signal::Cpu => (s.cpu_percent, policy.target_cpu, measured),
                Signal::Memory => (s.memory_percent, policy.target_memory, measured),
                Signal::Latency => (s.latency_ms, policy.target_latency_ms, current),
                Signal::ErrorRate => (s.error_rate, th.error_rate, current),
                Signal::SlowRate => (s.slow_rate, th.slow_rate, current),
            };
            let value = value.filter(|_| target > 0.0)?;
            Some(propose(policy, signal, value, target, basis, current))
        })
        .collect()
}

/// One signal's proposal: `basis` scaled by how far `value` is from `target`, or `current`
/// when within tolerance.
fn propose(
    policy: &Policy,
    signal: Signal,
    value: f64,
    target: f64,
    basis: u32,
    current: u32,
) -> SignalReport {
    let ratio = value / target;
    let within = ratio <= 1.0 + policy.tolerance_up && ratio >= 1.0 - policy.tolerance_down;
    // Latency grows much faster than linearly as utilization nears 1, so its ratio is
    // damped (square root) before it scales the capacity; the others are proportional.
    let factor = if signal == Signal::Latency {
        ratio.sqrt()
    } else {
        ratio
    };
    let proposal = if within {
        current
    } else {
        (f64::from(basis) * factor).ceil().min(f64::from(u32::MAX)) as u32
    };
    SignalReport {
        signal,
        value,
        target,
        basis,
        proposal,
        within_tolerance: within,
    }
}

/// Step 1, during a warm-up: the logs of this window were written before the warming
/// instances served, so they would ask again for capacity that is already on its way. Their
/// proposals above `current` become `current`. CPU and memory are measured on warmed-up
/// instances only, so they still may ask.
fn wait_for_warm_up(
    proposals: &mut [SignalReport],
    current: u32,
    warming_up: u32,
) -> Option<Reason> {
    if warming_up == 0 {
        return None;
    }
    let mut waited = Vec::new();
    for report in proposals
        .iter_mut()
        .filter(|r| r.signal.is_from_logs() && r.proposal > current)
    {
        waited.push(format!("{} asks for {}", report.signal, report.proposal));
        report.proposal = current;
    }
    (!waited.is_empty()).then(|| {
        Reason::new(
            Rule::WarmUpWait,
            format!(
                "{warming_up} instance(s) still warming up; the log signals wait for them ({})",
                waited.join(", ")
            ),
        )
    })
}

/// Step 2: the largest proposal wins (of equals, the last listed). Without any signal, hold,
/// or after `failsafe_runs` silent runs in a row (`no_signal_runs` counts this one), step out
/// by `failsafe_step` as a precaution.
fn largest_or_fail_safe(
    policy: &Policy,
    proposals: &[SignalReport],
    current: u32,
    no_signal_runs: u32,
) -> Step {
    if let Some(b) = proposals.iter().max_by_key(|r| r.proposal) {
        return Step::by(
            Rule::Proposal,
            b.proposal,
            format!(
                "{} {} against a target of {} proposes {}",
                b.signal,
                b.signal.show(b.value),
                b.signal.show(b.target),
                b.proposal
            ),
        );
    }
    if policy.failsafe_runs > 0 && no_signal_runs >= policy.failsafe_runs {
        return Step::by(
            Rule::FailSafe,
            current.saturating_add(policy.failsafe_step),
            format!(
                "no signal for {no_signal_runs} runs in a row; stepping out by {} as a precaution",
                policy.failsafe_step
            ),
        );
    }
    Step::by(
        Rule::NoData,
        current,
        format!("no CPU datapoints and no requests in the logs ({no_signal_runs} run(s) in a row)"),
    )
}

/// Step 2, guard rails: over one of the original thresholds (the first listed wins), at least
/// one more than `current`. Instances still warming up are capacity already on its way: no
/// extra step for them.
fn guard_rail(th: &Thresholds, s: &Signals, raw: u32, current: u32, warming_up: u32) -> Step {
    if warming_up > 0 || raw > current {
        return Step::keep(raw);
    }
    let crossed = [
        (s.cpu_percent, th.cpu_high, "CPU"),
        (s.error_rate, th.error_rate, "error rate"),
        (s.slow_rate, th.slow_rate, "slow share"),
    ]
    .into_iter()
    .find_map(|(value, mark, name)| {
        value
            .filter(|v| *v > mark && mark > 0.0)
            .map(|v| format!("{name} {v:.1}% is over the guard rail of {mark}%"))
    });
    match crossed {
        Some(detail) => Step::by(Rule::GuardRail, current + 1, detail),
        None => Step::keep(raw),
    }
}

/// Step 3: never in on missing data. A proposal below `current` stays at `current` when
/// the window's logs, the CPU average, or some instance's datapoints are missing.
fn never_in_on_missing_data(s: &Signals, raw: u32, current: u32) -> Step {
    if raw >= current {
        return Step::keep(raw);
    }
    let missing = if !s.logs_complete {
        "the window's logs are missing or incomplete"
    } else if s.cpu_percent.is_none() {
        "there are no CPU datapoints"
    } else if !s.cpu_complete {
        "some in-service instances have no CPU datapoints"
    } else {
        return Step::keep(raw);
    };
    Step::by(
        Rule::MissingData,
        current,
        format!("signals say {raw}, but {missing}; never scale in on missing data"),
    )
}

/// Step 4, down slow: a scale-in goes no lower than the highest recommendation remembered over
/// the `stabilization` window (this run's included), and never up.
fn stabilize(raw: u32, current: u32, highest_recent: Option<u32>, stabilization: Duration) -> Step {
    if raw >= current {
        return Step::keep(raw);
    }
    let highest = highest_recent.unwrap_or(raw).min(current);
    if highest <= raw {
        return Step::keep(raw);
    }
    Step::by(
        Rule::Stabilized,
        highest,
        format!(
            "the highest recommendation of the last {} min is {highest}, so no lower",
            stabilization.as_secs() / 60
        ),
    )
}

/// Step 4: a scale-in waits while a scaling activity runs or instances warm up; their effect
/// on the signals is not known yet.
fn scale_in_waits(to: u32, current: u32, cond: Conditions) -> Step {
    if to >= current || !(cond.activity_in_progress || cond.warming_up > 0) {
        return Step::keep(to);
    }
    let why = if cond.activity_in_progress {
        "a scaling activity is in progress".to_string()
    } else {
        format!("{} instance(s) are still warming up", cond.warming_up)
    };
    Step::by(
        Rule::ScaleInWaits,
        current,
        format!("would go to {to}, but {why}"),
    )
}

/// Step 5: one run adds at most the larger of `max_up_percent` % of `current` (rounded up)
/// and `max_up_step`, and removes at most the larger of `max_down_percent` % (rounded down)
/// and `max_down_step`.
fn rate_limit(policy: &Policy, to: u32, current: u32) -> Step {
    if to > current {
        let step = ((f64::from(current) * policy.max_up_percent / 100.0).ceil() as u32)
            .max(policy.max_up_step);
        let most = current.saturating_add(step);
        if to > most {
            return Step::by(
                Rule::LimitUp,
                most,
                format!("at most +{step} per run (asked for {to})"),
            );
        }
    } else if to < current {
        let step = ((f64::from(current) * policy.max_down_percent / 100.0).floor() as u32)
            .max(policy.max_down_step);
        if to + step < current {
            return Step::by(
                Rule::LimitDown,
                current - step,
                format!("at most -{step} per run (asked for {to})"),
            );
        }
    }
    Step::keep(to)
}

/// Step 5, last: the group's [min, max] have the final word.
fn clamp_to_group(c: Capacity, to: u32) -> Step {
    let clamped = c.clamp(to);
    if clamped < to {
        Step::by(
            Rule::AtMax,
            clamped,
            format!("the group's maximum is {}", c.max),
        )
    } else if clamped > to {
        Step::by(
            Rule::AtMin,
            clamped,
            format!("the group's minimum is {}", c.min),
        )
    } else {
        Step::keep(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::{decide as decide_any, Action, Policy};
    use chrono::{Duration, TimeZone};

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 12, 8, 12, 0, 0).unwrap() + Duration::minutes(min)
    }

    fn full(cpu: f64, instances: u32) -> Signals {
        Signals {
            cpu_percent: Some(cpu),
            error_rate: Some(0.5),
            slow_rate: Some(1.0),
            latency_ms: Some(200.0),
            logs_complete: true,
            counted_instances: instances,
            cpu_complete: true,
            ..Signals::default()
        }
    }

    fn cap(min: u32, max: u32, desired: u32) -> Capacity {
        Capacity { min, max, desired }
    }

    fn run(
        p: &Policy,
        s: &Signals,
        c: Capacity,
        cond: Conditions,
        st: &State,
        at: i64,
    ) -> (Decision, State) {
        decide_any(p, s, c, cond, st, t(at))
    }

    #[test]
    fn table_of_single_runs() {
        let p = Policy::default();
        let none = Conditions::default();
        let fresh = State::default();
        // (name, signals, capacity, conditions, to, rules)
        type Case = (&'static str, Signals, Capacity, Conditions, u32, Vec<Rule>);
        let cases: Vec<Case> = vec![
            (
                "cpu 90 on 4 of target 60 → 6",
                full(90.0, 4),
                cap(1, 20, 4),
                none,
                6,
                vec![Rule::Proposal],
            ),
            (
                "within tolerance holds",
                full(64.0, 4),
                cap(1, 20, 4),
                none,
                4,
                vec![Rule::Proposal],
            ),
            (
                "spike limited to +200%/+4",
                Signals {
                    latency_ms: Some(30000.0),
                    ..full(100.0, 2)
                },
                cap(1, 20, 2),
                none,
                6,
                vec![Rule::Proposal, Rule::LimitUp],
            ),
            (
                "big group: cpu 100 on 10 → 16",
                full(100.0, 10),
                cap(1, 50, 10),
                none,
                16,
                vec![Rule::Proposal],
            ),
            (
                "cpu 30 on 4 → 3",
                full(30.0, 4),
                cap(1, 20, 4),
                none,
                3,
                vec![Rule::Proposal],
            ),
            (
                "cpu 10 on 10 → 6, limited to -20%",
                full(10.0, 10),
                cap(1, 20, 10),
                none,
                8,
                vec![Rule::Proposal, Rule::LimitDown],
            ),
            (
                "latency drives",
                Signals {
                    latency_ms: Some(1200.0),
                    ..full(50.0, 4)
                },
                cap(1, 20, 4),
                none,
                6,
                vec![Rule::Proposal],
            ),
            (
                "latency far over target, limited to +200%",
                Signals {
                    latency_ms: Some(60000.0),
                    ..full(50.0, 4)
                },
                cap(1, 20, 4),
                none,
                12,
                vec![Rule::Proposal, Rule::LimitUp],
            ),
            (
                "guard rail: error rate just over its mark",
                Signals {
                    error_rate: Some(5.3),
                    ..full(50.0, 4)
                },
                cap(1, 20, 4),
                none,
                5,
                vec![Rule::Proposal, Rule::GuardRail],
            ),
            (
                "at max",
                full(95.0, 5),
                cap(1, 5, 5),
                none,
                5,
                vec![Rule::Proposal, Rule::AtMax],
            ),
            (
                "at min",
                full(5.0, 1),
                cap(1, 5, 1),
                none,
                1,
                vec![Rule::Proposal],
            ),
            // HPA-documented missing-data cases
            (
                "no logs: never in",
                Signals {
                    logs_complete: false,
                    error_rate: None,
                    slow_rate: None,
                    latency_ms: None,
                    ..full(10.0, 4)
                },
                cap(1, 20, 4),
                none,
                4,
                vec![Rule::Proposal, Rule::MissingData],
            ),
            (
                "no cpu: never in",
                Signals {
                    cpu_percent: None,
                    counted_instances: 0,
                    ..full(0.0, 0)
                },
                cap(1, 20, 4),
                none,
                4,
                vec![Rule::Proposal, Rule::MissingData],
            ),
            (
                "partial cpu: never in",
                Signals {
                    cpu_complete: false,
                    ..full(10.0, 3)
                },
                cap(1, 20, 4),
                none,
                4,
                vec![Rule::Proposal, Rule::MissingData],
            ),
            (
                "missing cpu still scales out on latency",
                Signals {
                    cpu_percent: None,
                    latency_ms: Some(900.0),
                    ..full(0.0, 0)
                },
                cap(1, 20, 4),
                none,
                5,
                vec![Rule::Proposal],
            ),
            (
                "nothing at all holds",
                Signals::default(),
                cap(1, 20, 4),
                none,
                4,
                vec![Rule::NoData],
            ),
            (
                "warm-up holds a scale-in",
                full(10.0, 4),
                cap(1, 20, 4),
                Conditions {
                    warming_up: 2,
                    ..none
                },
                4,
                vec![Rule::Proposal, Rule::ScaleInWaits],
            ),
            (
                "activity holds a scale-in",
                full(10.0, 4),
                cap(1, 20, 4),
                Conditions {
                    activity_in_progress: true,
                    ..none
                },
                4,
                vec![Rule::Proposal, Rule::ScaleInWaits],
            ),
            (
                "warm-up: cpu counts warmed-up instances, so coming ones are not doubled",
                full(95.0, 2),
                cap(1, 20, 4),
                Conditions {
                    warming_up: 2,
                    ..none
                },
                4,
                vec![Rule::Proposal, Rule::ScaleInWaits],
            ),
            (
                "warm-up: log signals wait",
                Signals {
                    latency_ms: Some(6000.0),
                    ..full(60.0, 2)
                },
                cap(1, 20, 4),
                Conditions {
                    warming_up: 2,
                    ..none
                },
                4,
                vec![Rule::WarmUpWait, Rule::Proposal],
            ),
            (
                "warm-up does not hold a scale-out",
                full(99.0, 3),
                cap(1, 20, 4),
                Conditions {
                    warming_up: 1,
                    ..none
                },
                5,
                vec![Rule::Proposal],
            ),
            (
                "outside limits",
                full(60.0, 8),
                cap(1, 6, 8),
                none,
                6,
                vec![Rule::OutsideLimits, Rule::Proposal],
            ),
        ];
        for (name, s, c, cond, to, want) in cases {
            let (d, _) = run(&p, &s, c, cond, &fresh, 0);
            let rules = d.rules();
            assert_eq!((d.to, &rules), (to, &want), "{name}: {}", d.explanation);
            assert!(d.to >= c.min && d.to <= c.max.max(c.min), "{name}");
            assert!(!d.explanation.is_empty());
        }
    }

    #[test]
    fn a_dip_does_not_scale_in_but_a_sustained_drop_does() {
        let p = Policy::default();
        let c = |d| cap(1, 20, d);
        let none = Conditions::default();
        // busy at 6 instances, then one quiet run: the window remembers 6
        let (d, st) = run(&p, &full(60.0, 6), c(6), none, &State::default(), 0);
        assert_eq!(d.to, 6);
        let (d, st) = run(&p, &full(20.0, 6), c(6), none, &st, 5);
        assert_eq!(d.to, 6, "{}", d.explanation);
        assert!(d.rules().contains(&Rule::Stabilized));
        assert!(d.explanation.contains("highest recommendation"));
        // still quiet: after the window has passed the busy run, steps down by one per run
        let (d, st) = run(&p, &full(20.0, 6), c(6), none, &st, 10);
        assert_eq!(d.to, 6);
        let (d, st) = run(&p, &full(20.0, 6), c(6), none, &st, 15);
        assert_eq!(d.to, 5, "{}", d.explanation);
        let (d, _) = run(&p, &full(20.0, 5), c(5), none, &st, 20);
        assert_eq!(d.to, 4);
        assert_eq!(
            d.window.len(),
            3,
            "the runs of the last 15 minutes, this one included"
        );
    }

    #[test]
    fn fail_safe_steps_out_after_n_silent_runs() {
        let p = Policy {
            failsafe_runs: 3,
            failsafe_step: 2,
            ..Policy::default()
        };
        let mut st = State::default();
        let mut tos = Vec::new();
        for n in 0..3 {
            let (d, next) = run(
                &p,
                &Signals::default(),
                cap(1, 20, 4),
                Conditions::default(),
                &st,
                5 * n,
            );
            tos.push(d.to);
            st = next;
        }
        assert_eq!(tos, [4, 4, 6]);
        assert_eq!(st.no_signal_runs, 3);
        let (_, st) = run(
            &p,
            &full(60.0, 4),
            cap(1, 20, 4),
            Conditions::default(),
            &st,
            20,
        );
        assert_eq!(st.no_signal_runs, 0, "a signal resets the count");
    }

    #[test]
    fn pause_holds_with_the_reason() {
        let p = Policy {
            paused: true,
            ..Policy::default()
        };
        let (d, _) = run(
            &p,
            &full(95.0, 4),
            cap(1, 20, 4),
            Conditions::default(),
            &State::default(),
            0,
        );
        assert_eq!((d.action(), d.to), (Action::Hold, 4));
        assert!(d.rules().contains(&Rule::Paused));
    }

    #[test]
    fn never_outside_limits_and_never_in_on_missing_data() {
        let p = Policy::default();
        for min in 0..3 {
            for max in min..8 {
                for desired in 0..10 {
                    for cpu in [None, Some(0.0), Some(30.0), Some(60.0), Some(100.0)] {
                        for complete in [true, false] {
                            let s = Signals {
                                cpu_percent: cpu,
                                logs_complete: complete,
                                ..full(0.0, desired)
                            };
                            let c = cap(min, max, desired);
                            let (d, _) =
                                run(&p, &s, c, Conditions::default(), &State::default(), 0);
                            assert!(d.to >= min && d.to <= max, "{c:?} {cpu:?} -> {}", d.to);
                            if !complete || cpu.is_none() {
                                assert!(
                                    d.to >= c.clamp(desired),
                                    "scaled in on missing data: {c:?}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    /// A step's capacity and rule, for the step tables.
    fn outcome(step: Step) -> (u32, Option<Rule>) {
        (step.capacity, step.reason.map(|r| r.rule))
    }

    fn report(signal: Signal, proposal: u32) -> SignalReport {
        SignalReport {
            signal,
            value: 1.0,
            target: 1.0,
            basis: 1,
            proposal,
            within_tolerance: false,
        }
    }

    #[test]
    fn step_start_within_limits() {
        // (capacity, start, rule)
        let cases = [
            (cap(1, 10, 4), 4, None),
            (cap(1, 6, 8), 6, Some(Rule::OutsideLimits)),
            (cap(3, 6, 1), 3, Some(Rule::OutsideLimits)),
            (cap(5, 2, 4), 5, Some(Rule::OutsideLimits)),
        ];
        for (c, start, rule) in cases {
            assert_eq!(outcome(start_within_limits(c)), (start, rule), "{c:?}");
        }
        let step = start_within_limits(cap(1, 6, 8));
        assert_eq!(
            step.reason.unwrap().detail,
            "desired 8 is outside [1, 6]; starting from 6"
        );
    }

    #[test]
    fn step_proposals() {
        let p = Policy::default();
        // (name, signals, current, [(signal, basis, proposal, within tolerance)])
        type Case = (&'static str, Signals, u32, Vec<(Signal, u32, u32, bool)>);
        let cases: Vec<Case> = vec![
            ("nothing measured", Signals::default(), 4, vec![]),
            (
                "cpu scales the instances it was measured on",
                Signals {
                    cpu_percent: Some(97.5),
                    counted_instances: 2,
                    ..Signals::default()
                },
                4,
                vec![(Signal::Cpu, 2, 3, false)],
            ),
            (
                "without counted instances cpu scales the current capacity",
                Signals {
                    cpu_percent: Some(32.5),
                    ..Signals::default()
                },
                4,
                vec![(Signal::Cpu, 4, 2, false)],
            ),
            (
                "within tolerance proposes the current capacity",
                Signals {
                    cpu_percent: Some(70.0),
                    memory_percent: Some(70.0),
                    counted_instances: 3,
                    ..Signals::default()
                },
                4,
                vec![(Signal::Cpu, 3, 4, true), (Signal::Memory, 3, 4, true)],
            ),
            (
                "latency is damped by a square root",
                Signals {
                    latency_ms: Some(2400.0),
                    ..Signals::default()
                },
                4,
                vec![(Signal::Latency, 4, 8, false)],
            ),
            (
                "every signal, in order",
                Signals {
                    slow_rate: Some(20.0),
                    error_rate: Some(10.0),
                    latency_ms: Some(150.0),
                    memory_percent: Some(150.0),
                    cpu_percent: Some(130.0),
                    counted_instances: 2,
                    ..Signals::default()
                },
                3,
                vec![
                    (Signal::Cpu, 2, 4, false),
                    (Signal::Memory, 2, 4, false),
                    (Signal::Latency, 3, 2, false),
                    (Signal::ErrorRate, 3, 6, false),
                    (Signal::SlowRate, 3, 6, false),
                ],
            ),
        ];
        for (name, s, current, want) in cases {
            let got: Vec<_> = proposals(&p, &s, current)
                .iter()
                .map(|r| (r.signal, r.basis, r.proposal, r.within_tolerance))
                .collect();
            assert_eq!(got, want, "{name}");
        }
        let no_target = Policy {
            target_cpu: 0.0,
            ..Policy::default()
        };
        let s = full(90.0, 4);
        assert!(
            proposals(&no_target, &s, 4)
                .iter()
                .all(|r| r.signal != Signal::Cpu),
            "a zero target turns its signal off"
        );
    }

    #[test]
    fn step_wait_for_warm_up() {
        // (name, warming up, proposals before, proposals after, waits)
        let all = || {
            vec![
                report(Signal::Cpu, 6),
                report(Signal::Latency, 7),
                report(Signal::ErrorRate, 3),
                report(Signal::SlowRate, 5),
            ]
        };
        let cases = [
            ("nothing warming", 0, [6, 7, 3, 5], false),
            ("log signals above current wait", 2, [6, 4, 3, 4], true),
        ];
        for (name, warming_up, want, waits) in cases {
            let mut reports = all();
            let reason = wait_for_warm_up(&mut reports, 4, warming_up);
            let got: Vec<u32> = reports.iter().map(|r| r.proposal).collect();
            assert_eq!((got, reason.is_some()), (want.to_vec(), waits), "{name}");
        }
        let mut reports = all();
        let reason = wait_for_warm_up(&mut reports, 4, 2).unwrap();
        assert_eq!(reason.rule, Rule::WarmUpWait);
        assert_eq!(
            reason.detail,
            "2 instance(s) still warming up; the log signals wait for them \
             (latency asks for 7, slow_rate asks for 5)"
        );
        let mut cpu_only = vec![report(Signal::Cpu, 9)];
        assert_eq!(wait_for_warm_up(&mut cpu_only, 4, 2), None);
    }

    #[test]
    fn step_largest_or_fail_safe() {
        let fail_safe = Policy {
            failsafe_runs: 3,
            failsafe_step: 2,
            ..Policy::default()
        };
        let never = Policy::default();
        // (name, policy, proposals, silent runs, capacity, rule)
        let cases = [
            (
                "the largest wins",
                &never,
                vec![report(Signal::Cpu, 3), report(Signal::Latency, 6)],
                0,
                6,
                Rule::Proposal,
            ),
            ("no signal holds", &never, vec![], 9, 4, Rule::NoData),
            (
                "before the fail-safe's count",
                &fail_safe,
                vec![],
                2,
                4,
                Rule::NoData,
            ),
            ("at its count", &fail_safe, vec![], 3, 6, Rule::FailSafe),
        ];
        for (name, policy, reports, runs, capacity, rule) in cases {
            let got = outcome(largest_or_fail_safe(policy, &reports, 4, runs));
            assert_eq!(got, (capacity, Some(rule)), "{name}");
        }
        // Of equal proposals the last listed is the one the reason names.
        let tie = [report(Signal::Cpu, 5), report(Signal::SlowRate, 5)];
        let step = largest_or_fail_safe(&never, &tie, 4, 0);
        assert_eq!(
            step.reason.unwrap().detail,
            "slow_rate 1.0% against a target of 1.0% proposes 5"
        );
    }

    #[test]
    fn step_guard_rail() {
        let th = Thresholds::default();
        let errors = Signals {
            error_rate: Some(5.3),
            ..Signals::default()
        };
        // (name, signals, raw, warming up, capacity, rule)
        let cases = [
            ("under every rail", full(50.0, 4), 4, 0, 4, None),
            (
                "over one, holding",
                errors.clone(),
                4,
                0,
                5,
                Some(Rule::GuardRail),
            ),
            (
                "over one, scaling in",
                errors.clone(),
                2,
                0,
                5,
                Some(Rule::GuardRail),
            ),
            ("over one, already out", errors.clone(), 7, 0, 7, None),
            ("over one, warming up", errors, 4, 1, 4, None),
        ];
        for (name, s, raw, warming_up, capacity, rule) in cases {
            let got = outcome(guard_rail(&th, &s, raw, 4, warming_up));
            assert_eq!(got, (capacity, rule), "{name}");
        }
        let s = Signals {
            cpu_percent: Some(71.0),
            slow_rate: Some(50.0),
            ..Signals::default()
        };
        assert_eq!(
            guard_rail(&th, &s, 4, 4, 0).reason.unwrap().detail,
            "CPU 71.0% is over the guard rail of 70%",
            "the first rail crossed is named"
        );
    }

    #[test]
    fn step_never_in_on_missing_data() {
        // (name, signals, raw, capacity, rule)
        let cases = [
            ("everything read", full(10.0, 4), 2, 2, None),
            (
                "scale-out needs no completeness",
                Signals::default(),
                6,
                6,
                None,
            ),
            (
                "logs incomplete",
                Signals {
                    logs_complete: false,
                    ..full(10.0, 4)
                },
                2,
                4,
                Some(Rule::MissingData),
            ),
            (
                "no cpu",
                Signals {
                    cpu_percent: None,
                    ..full(10.0, 4)
                },
                2,
                4,
                Some(Rule::MissingData),
            ),
            (
                "some instances without datapoints",
                Signals {
                    cpu_complete: false,
                    ..full(10.0, 4)
                },
                3,
                4,
                Some(Rule::MissingData),
            ),
        ];
        for (name, s, raw, capacity, rule) in cases {
            let got = outcome(never_in_on_missing_data(&s, raw, 4));
            assert_eq!(got, (capacity, rule), "{name}");
        }
    }

    #[test]
    fn step_stabilize() {
        let window = std::time::Duration::from_secs(15 * 60);
        // (raw, highest recent, capacity, rule) with 6 instances now
        let cases = [
            (8, Some(8), 8, None),
            (4, Some(4), 4, None),
            (4, None, 4, None),
            (4, Some(5), 5, Some(Rule::Stabilized)),
            (4, Some(9), 6, Some(Rule::Stabilized)),
        ];
        for (raw, highest, capacity, rule) in cases {
            let got = outcome(stabilize(raw, 6, highest, window));
            assert_eq!(got, (capacity, rule), "{raw} {highest:?}");
        }
        assert_eq!(
            stabilize(4, 6, Some(5), window).reason.unwrap().detail,
            "the highest recommendation of the last 15 min is 5, so no lower"
        );
    }

    #[test]
    fn step_scale_in_waits() {
        let none = Conditions::default();
        let warming = Conditions {
            warming_up: 2,
            ..none
        };
        let activity = Conditions {
            activity_in_progress: true,
            warming_up: 2,
        };
        // (to, conditions, capacity, detail) with 4 instances now
        let cases = [
            (3, none, 3, None),
            (5, warming, 5, None),
            (
                3,
                warming,
                4,
                Some("would go to 3, but 2 instance(s) are still warming up"),
            ),
            (
                3,
                activity,
                4,
                Some("would go to 3, but a scaling activity is in progress"),
            ),
        ];
        for (to, cond, capacity, detail) in cases {
            let step = scale_in_waits(to, 4, cond);
            assert_eq!(step.capacity, capacity, "{to} {cond:?}");
            assert_eq!(
                step.reason.map(|r| (r.rule, r.detail)),
                detail.map(|d| (Rule::ScaleInWaits, d.to_string())),
                "{to} {cond:?}"
            );
        }
    }

    #[test]
    fn step_rate_limit() {
        let p = Policy::default();
        // (current, to, capacity, rule): up +max(200%, 4), down -max(20%, 1)
        let cases = [
            (4, 4, 4, None),
            (2, 6, 6, None),
            (2, 7, 6, Some(Rule::LimitUp)),
            (4, 30, 12, Some(Rule::LimitUp)),
            (10, 9, 9, None),
            (10, 6, 8, Some(Rule::LimitDown)),
            (3, 1, 2, Some(Rule::LimitDown)),
            (0, 9, 4, Some(Rule::LimitUp)),
        ];
        for (current, to, capacity, rule) in cases {
            let got = outcome(rate_limit(&p, to, current));
            assert_eq!(got, (capacity, rule), "{current} → {to}");
        }
        assert_eq!(
            rate_limit(&p, 7, 2).reason.unwrap().detail,
            "at most +4 per run (asked for 7)"
        );
    }

    #[test]
    fn step_clamp_to_group() {
        // (to, capacity, rule) within [2, 5]
        let cases = [
            (3, 3, None),
            (9, 5, Some(Rule::AtMax)),
            (1, 2, Some(Rule::AtMin)),
        ];
        for (to, capacity, rule) in cases {
            assert_eq!(outcome(clamp_to_group(cap(2, 5, 3), to)), (capacity, rule));
        }
    }
}
