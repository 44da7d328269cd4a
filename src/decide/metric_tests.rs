//! The configured CloudWatch metric as a signal (`Signal::Metric`), through [`decide`]: the
//! group's total against a target per instance, demand like requests.

use chrono::{DateTime, TimeZone, Utc};

use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 12, 8, 12, 0, 0).unwrap()
}

/// CPU at its target on `instances` warm instances, complete logs: only the metric moves.
fn at_target(instances: u32, metric: Option<f64>) -> Signals {
    Signals {
        cpu_percent: Some(65.0),
        metric,
        logs_complete: true,
        counted_instances: instances,
        cpu_complete: true,
        ..Signals::default()
    }
}

fn with_target(target: f64) -> Policy {
    Policy {
        target_metric_per_instance: Some(target),
        ..Policy::default()
    }
}

fn run(policy: &Policy, s: &Signals, desired: u32, cond: Conditions) -> Decision {
    let capacity = Capacity {
        min: 1,
        max: 40,
        desired,
    };
    decide(policy, s, capacity, cond, &State::default(), now()).0
}

fn metric_report(d: &Decision) -> Option<&SignalReport> {
    d.signals.iter().find(|r| r.signal == Signal::Metric)
}

#[test]
fn the_metric_proposes_its_total_over_the_target_rounded_up() {
    // 730 messages at 100 a worker: 8 workers, whatever the current 3 say.
    let d = run(
        &with_target(100.0),
        &at_target(3, Some(730.0)),
        3,
        Conditions::default(),
    );
    let report = metric_report(&d).expect("a metric proposal");
    assert_eq!(report.proposal, 8);
    assert_eq!(report.basis, 3);
    assert!((report.value - 730.0 / 3.0).abs() < 1e-9, "per instance");
    assert_eq!(report.target, 100.0);
    assert_eq!(d.to, 8, "{}", d.explanation);
    assert!(
        d.explanation.contains(
            "metric 243.3 per instance against a target of 100.0 per instance proposes 8"
        ),
        "{}",
        d.explanation
    );
    assert_eq!(
        serde_json::to_value(Signal::Metric).unwrap(),
        "metric",
        "the record's name"
    );

    // Measured demand: past the usual +200 % in one step (3 → 30, not 9).
    let d = run(
        &with_target(10.0),
        &at_target(3, Some(300.0)),
        3,
        Conditions::default(),
    );
    assert_eq!(d.to, 30, "{:?}", d.reasons);
    assert!(!d.rules().contains(&Rule::LimitUp), "{:?}", d.reasons);

    // Within tolerance of the target: no change asked.
    let d = run(
        &with_target(100.0),
        &at_target(3, Some(310.0)),
        3,
        Conditions::default(),
    );
    let report = metric_report(&d).unwrap();
    assert!(report.within_tolerance);
    assert_eq!((report.proposal, d.to), (3, 3));
}

#[test]
fn warming_instances_do_not_hold_the_metric_back() {
    // Demand in instances: capacity on its way is already in the current 4.
    let cond = Conditions {
        warming_up: 2,
        ..Conditions::default()
    };
    let d = run(&with_target(100.0), &at_target(2, Some(800.0)), 4, cond);
    assert_eq!(d.to, 8, "{:?}", d.reasons);
    assert!(!d.rules().contains(&Rule::WarmUpWait), "{:?}", d.reasons);
}

#[test]
fn without_a_target_or_a_value_the_metric_proposes_nothing() {
    let d = run(
        &Policy::default(),
        &at_target(3, Some(730.0)),
        3,
        Conditions::default(),
    );
    assert!(metric_report(&d).is_none(), "no target");
    assert_eq!(d.to, 3);
    let d = run(
        &with_target(100.0),
        &at_target(3, None),
        3,
        Conditions::default(),
    );
    assert!(metric_report(&d).is_none(), "no datapoints");
    assert_eq!(d.to, 3);
}

#[test]
fn an_impossible_metric_is_ignored_and_never_scales() {
    for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -5.0] {
        let d = run(
            &with_target(100.0),
            &at_target(3, Some(value)),
            3,
            Conditions::default(),
        );
        assert!(metric_report(&d).is_none(), "{value}");
        assert!(d.rules().contains(&Rule::IgnoredSignal), "{value}");
        assert_eq!(d.to, 3, "{value}: {}", d.explanation);
    }
    // Left out, it is missing data: CPU alone does not scale in past it.
    let quiet = Signals {
        cpu_percent: Some(20.0),
        ..at_target(4, Some(f64::NAN))
    };
    let d = run(&with_target(100.0), &quiet, 4, Conditions::default());
    assert_eq!(d.to, 4, "{}", d.explanation);
    assert!(d.rules().contains(&Rule::MissingData));
    // A large but real value has no 100 % ceiling: only the proposal bound cuts it.
    let d = run(
        &with_target(1.0),
        &at_target(3, Some(1e6)),
        3,
        Conditions::default(),
    );
    assert!(!d.rules().contains(&Rule::IgnoredSignal), "{:?}", d.reasons);
    assert!(d.rules().contains(&Rule::ProposalBound), "{:?}", d.reasons);
}

/// A metric that could not be read may have been the one asking for capacity: no scale-in.
#[test]
fn an_unread_metric_is_missing_data_and_holds_a_scale_in() {
    let quiet = Signals {
        cpu_percent: Some(20.0),
        metric_unread: true,
        forecast_requests_per_minute: None,
        ..at_target(4, None)
    };
    let d = run(&with_target(100.0), &quiet, 4, Conditions::default());
    assert_eq!(d.to, 4, "{}", d.explanation);
    let reason = d
        .reasons
        .iter()
        .find(|r| r.rule == Rule::MissingData)
        .unwrap();
    assert!(
        reason
            .detail
            .contains("the configured metric could not be read"),
        "{}",
        reason.detail
    );
    // Read, the same CPU steps in.
    let read = Signals {
        metric_unread: false,
        forecast_requests_per_minute: None,
        ..quiet
    };
    assert_eq!(
        run(&with_target(100.0), &read, 4, Conditions::default()).to,
        3
    );
    // Unread does not stop a scale-out.
    let hot = Signals {
        cpu_percent: Some(95.0),
        ..quiet
    };
    assert!(run(&with_target(100.0), &hot, 4, Conditions::default()).to > 4);
}
