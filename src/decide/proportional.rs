//! The default policy: proportional, safe, explained.
//!
//! 1. Each signal proposes `ceil(basis × value / target)` (for latency, which grows much faster
//!    than linearly near saturation, `ceil(basis × √(value / target))`): CPU and memory scale the instances
//!    they were measured on (in service, past warm-up), the log signals (latency percentile,
//!    error rate, slow share) the current capacity. A ratio within the tolerance of 1 proposes no
//!    change. The original thresholds stay as guard rails: over one of them, at least one more.
//! 2. The largest proposal wins.
//!    While instances warm up, the log signals (measured before those instances served) do
//!    not ask for more; CPU and memory, measured on warmed-up instances, still may.
//! 3. Never in on missing data: with the window's logs incomplete, no CPU data, or instances
//!    without datapoints, a proposal below the current capacity becomes "stay".
//! 4. No signal at all holds; after `failsafe_runs` such runs in a row, an optional step out.
//! 5. Down slow: a scale-in goes only to the highest recommendation of the stabilization window
//!    and waits while instances warm up or a scaling activity runs.
//! 6. Rate limits per run (up: the larger of +`max_up_percent` % and +`max_up_step`; down: the
//!    larger of −`max_down_percent` % and −`max_down_step`), then the group's [min, max].

use chrono::{DateTime, Utc};

use super::{reason, Capacity, Conditions, Decision, Policy, Reason, SignalReport, Signals};
use crate::state::State;

/// The `default` policy.
pub fn decide(
    policy: &Policy,
    s: &Signals,
    c: Capacity,
    cond: Conditions,
    state: &State,
    now: DateTime<Utc>,
) -> (Decision, State) {
    let mut state = state.clone();
    let mut reasons: Vec<Reason> = Vec::new();
    let current = c.clamp(c.desired);
    if current != c.desired {
        reasons.push(reason(
            "outside_limits",
            format!(
                "desired {} is outside [{}, {}]; starting from {current}",
                c.desired, c.min, c.max
            ),
        ));
    }

    // 1. Proposals.
    let measured = if s.counted_instances > 0 {
        s.counted_instances
    } else {
        current
    };
    let th = &policy.thresholds;
    let candidates = [
        ("cpu", s.cpu_percent, policy.target_cpu, measured),
        ("memory", s.memory_percent, policy.target_memory, measured),
        ("latency", s.latency_ms, policy.target_latency_ms, current),
        ("error_rate", s.error_rate, th.error_rate, current),
        ("slow_rate", s.slow_rate, th.slow_rate, current),
    ];
    let mut signals = Vec::new();
    let mut waited = Vec::new();
    for (signal, value, target, basis) in candidates {
        let (Some(value), true) = (value, target > 0.0) else {
            continue;
        };
        let ratio = value / target;
        let within = ratio <= 1.0 + policy.tolerance_up && ratio >= 1.0 - policy.tolerance_down;
        // Latency grows much faster than linearly as utilization nears 1, so its ratio is
        // damped (square root) before it scales the capacity; the others are proportional.
        let factor = if signal == "latency" {
            ratio.sqrt()
        } else {
            ratio
        };
        let mut proposal = if within {
            current
        } else {
            (f64::from(basis) * factor).ceil().min(f64::from(u32::MAX)) as u32
        };
        // The logs of this window were written before the warming instances served: they
        // would ask again for capacity that is already on its way. CPU and memory are measured
        // on warmed-up instances only, so they still may.
        let from_logs = matches!(signal, "latency" | "error_rate" | "slow_rate");
        if from_logs && cond.warming_up > 0 && proposal > current {
            waited.push(format!("{signal} asks for {proposal}"));
            proposal = current;
        }
        signals.push(SignalReport {
            signal,
            value,
            target,
            basis,
            proposal,
            within_tolerance: within,
        });
    }
    let guard = [
        (s.cpu_percent, th.cpu_high, "CPU", "%"),
        (s.error_rate, th.error_rate, "error rate", "%"),
        (s.slow_rate, th.slow_rate, "slow share", "%"),
    ]
    .into_iter()
    .find_map(|(v, mark, name, unit)| {
        v.filter(|v| *v > mark && mark > 0.0)
            .map(|v| format!("{name} {v:.1}{unit} is over the guard rail of {mark}{unit}"))
    });

    if !waited.is_empty() {
        reasons.push(reason(
            "warm_up_wait",
            format!(
                "{} instance(s) still warming up; the log signals wait for them ({})",
                cond.warming_up,
                waited.join(", ")
            ),
        ));
    }

    // 2. The largest proposal wins; 4. no signal at all.
    let best = signals.iter().max_by_key(|r| r.proposal).cloned();
    let mut raw = match &best {
        Some(b) => {
            state.no_signal_runs = 0;
            reasons.push(reason(
                "proposal",
                format!(
                    "{} {} against a target of {} proposes {}",
                    b.signal,
                    show(b.signal, b.value),
                    show(b.signal, b.target),
                    b.proposal
                ),
            ));
            b.proposal
        }
        None => {
            state.no_signal_runs += 1;
            if policy.failsafe_runs > 0 && state.no_signal_runs >= policy.failsafe_runs {
                reasons.push(reason(
                    "fail_safe",
                    format!(
                        "no signal for {} runs in a row; stepping out by {} as a precaution",
                        state.no_signal_runs, policy.failsafe_step
                    ),
                ));
                current.saturating_add(policy.failsafe_step)
            } else {
                reasons.push(reason(
                    "no_data",
                    format!(
                        "no CPU datapoints and no requests in the logs ({} run(s) in a row)",
                        state.no_signal_runs
                    ),
                ));
                current
            }
        }
    };
    // Instances still warming up are capacity already on its way: no extra step for them.
    if let (Some(g), 0) = (guard, cond.warming_up) {
        if raw <= current {
            raw = current + 1;
            reasons.push(reason("guard_rail", g));
        }
    }

    // 3. Never in on missing data.
    if raw < current {
        let missing = if !s.logs_complete {
            Some("the window's logs are missing or incomplete")
        } else if s.cpu_percent.is_none() {
            Some("there are no CPU datapoints")
        } else if !s.cpu_complete {
            Some("some in-service instances have no CPU datapoints")
        } else {
            None
        };
        if let Some(why) = missing {
            reasons.push(reason(
                "missing_data",
                format!("signals say {raw}, but {why}; never scale in on missing data"),
            ));
            raw = current;
        }
    }

    // 5. Down slow.
    state.remember(
        now,
        raw,
        chrono::Duration::from_std(policy.stabilization).unwrap_or_default(),
    );
    let mut to = raw;
    if raw < current {
        let highest = state.highest_recent().unwrap_or(raw).min(current);
        if highest > raw {
            reasons.push(reason(
                "stabilized",
                format!(
                    "the highest recommendation of the last {} min is {highest}, so no lower",
                    policy.stabilization.as_secs() / 60
                ),
            ));
            to = highest;
        }
    }
    if to < current && (cond.activity_in_progress || cond.warming_up > 0) {
        let why = if cond.activity_in_progress {
            "a scaling activity is in progress".to_string()
        } else {
            format!("{} instance(s) are still warming up", cond.warming_up)
        };
        reasons.push(reason(
            "scale_in_waits",
            format!("would go to {to}, but {why}"),
        ));
        to = current;
    }

    // 6. Rate limits, then the group's limits.
    if to > current {
        let step = ((f64::from(current) * policy.max_up_percent / 100.0).ceil() as u32)
            .max(policy.max_up_step);
        if to > current.saturating_add(step) {
            reasons.push(reason(
                "limit_up",
                format!("at most +{step} per run (asked for {to})"),
            ));
            to = current.saturating_add(step);
        }
    } else if to < current {
        let step = ((f64::from(current) * policy.max_down_percent / 100.0).floor() as u32)
            .max(policy.max_down_step);
        if to + step < current {
            reasons.push(reason(
                "limit_down",
                format!("at most -{step} per run (asked for {to})"),
            ));
            to = current - step;
        }
    }
    let clamped = c.clamp(to);
    if clamped < to {
        reasons.push(reason(
            "at_max",
            format!("the group's maximum is {}", c.max),
        ));
    } else if clamped > to {
        reasons.push(reason(
            "at_min",
            format!("the group's minimum is {}", c.min),
        ));
    }
    to = clamped;

    let explanation = explain(c.desired, to, &reasons, &signals);
    let decision = Decision {
        action: super::Action::Hold,
        from: c.desired,
        to,
        reasons,
        signals,
        window: state.recommendations.clone(),
        explanation,
    }
    .with_action();
    (decision, state)
}

fn show(signal: &str, v: f64) -> String {
    match signal {
        "latency" => format!("{v:.0} ms"),
        _ => format!("{v:.1}%"),
    }
}

/// One or two sentences: what happens, the signal that drove it, and what limited it.
fn explain(from: u32, to: u32, reasons: &[Reason], signals: &[SignalReport]) -> String {
    let details: Vec<&str> = reasons.iter().map(|r| r.detail.as_str()).collect();
    let head = match to.cmp(&from) {
        std::cmp::Ordering::Greater => format!("Scaling out from {from} to {to}"),
        std::cmp::Ordering::Less => format!("Scaling in from {from} to {to}"),
        std::cmp::Ordering::Equal => format!("Holding at {to}"),
    };
    if details.is_empty() {
        return format!("{head}.");
    }
    let mut text = format!("{head}: {}.", details.join("; "));
    if to == from && !signals.is_empty() && signals.iter().all(|s| s.within_tolerance) {
        text = format!("{head}: every signal is within tolerance of its target.");
    }
    text
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
        type Case = (
            &'static str,
            Signals,
            Capacity,
            Conditions,
            u32,
            Vec<&'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                "cpu 90 on 4 of target 60 → 6",
                full(90.0, 4),
                cap(1, 20, 4),
                none,
                6,
                vec!["proposal"],
            ),
            (
                "within tolerance holds",
                full(64.0, 4),
                cap(1, 20, 4),
                none,
                4,
                vec!["proposal"],
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
                vec!["proposal", "limit_up"],
            ),
            (
                "big group: cpu 100 on 10 → 16",
                full(100.0, 10),
                cap(1, 50, 10),
                none,
                16,
                vec!["proposal"],
            ),
            (
                "cpu 30 on 4 → 3",
                full(30.0, 4),
                cap(1, 20, 4),
                none,
                3,
                vec!["proposal"],
            ),
            (
                "cpu 10 on 10 → 6, limited to -20%",
                full(10.0, 10),
                cap(1, 20, 10),
                none,
                8,
                vec!["proposal", "limit_down"],
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
                vec!["proposal"],
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
                vec!["proposal", "limit_up"],
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
                vec!["proposal", "guard_rail"],
            ),
            (
                "at max",
                full(95.0, 5),
                cap(1, 5, 5),
                none,
                5,
                vec!["proposal", "at_max"],
            ),
            (
                "at min",
                full(5.0, 1),
                cap(1, 5, 1),
                none,
                1,
                vec!["proposal"],
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
                vec!["proposal", "missing_data"],
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
                vec!["proposal", "missing_data"],
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
                vec!["proposal", "missing_data"],
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
                vec!["proposal"],
            ),
            (
                "nothing at all holds",
                Signals::default(),
                cap(1, 20, 4),
                none,
                4,
                vec!["no_data"],
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
                vec!["proposal", "scale_in_waits"],
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
                vec!["proposal", "scale_in_waits"],
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
                vec!["proposal", "scale_in_waits"],
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
                vec!["warm_up_wait", "proposal"],
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
                vec!["proposal"],
            ),
            (
                "outside limits",
                full(60.0, 8),
                cap(1, 6, 8),
                none,
                6,
                vec!["outside_limits", "proposal"],
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
        assert!(d.rules().contains(&"stabilized"));
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
        assert_eq!((d.action, d.to), (Action::Hold, 4));
        assert!(d.rules().contains(&"paused"));
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
}
