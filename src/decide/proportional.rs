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
//!
//!    The signals come from logs anyone who may write under the prefix can forge, and the state
//!    from an object in the same bucket, so before and around the proposals: values no service
//!    could produce are left out (`without_implausible_values`) and count as missing data; no
//!    proposal goes beyond [`PROPOSAL_BOUND_FACTOR`] times the current capacity
//!    (`bound_proposals`); and with `log_signals_need_agreement` the log signals alone add at
//!    most one instance (`log_signals_need_agreement`).
//! 2. `largest_or_fail_safe`: the largest proposal wins. No signal at all holds; every
//!    `failsafe_runs`-th such run in a row (`silent_runs` counts them), an optional step out.
//!    Then `guard_rail`: the original thresholds stay as guard rails: over one of them, at
//!    least one more.
//! 3. `never_in_on_missing_data`: with a value left out, the window's logs incomplete, no CPU
//!    data, or instances without datapoints, a proposal below the current capacity becomes
//!    "stay".
//! 4. Down slow: `stabilize` takes a scale-in only to the highest recommendation of the
//!    stabilization window (each remembered one first brought within the group's limits), and
//!    `scale_in_waits` while instances warm up or a scaling activity runs.
//! 5. `rate_limit` per run (up: the larger of +`max_up_percent` % and +`max_up_step`; down:
//!    the larger of −`max_down_percent` % and −`max_down_step`), then `clamp_to_group`: the
//!    group's [min, max].
//!
//! Numbers read back from the state may be anything: arithmetic on them saturates.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{
    explain, Capacity, Conditions, Decision, Policy, Reason, Rule, Signal, SignalReport, Signals,
    Thresholds,
};
use crate::state::State;

/// No signal proposes more than this many times the current capacity (or the most the rate
/// limit lets one run reach, when that is more).
pub const PROPOSAL_BOUND_FACTOR: u32 = 10;

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

    let (sane, ignored) = without_implausible_values(s);
    reasons.extend(ignored_reason(&ignored));
    let ignored: Vec<Signal> = ignored.iter().map(|(signal, ..)| *signal).collect();
    let s = &sane;
    let requests_target = policy
        .target_requests_per_instance
        .or_else(|| learned_target(state.requests_per_instance));
    let mut signals = proposals(policy, s, current, requests_target);
    reasons.extend(bound_proposals(policy, &mut signals, current));
    reasons.extend(wait_for_warm_up(
        &mut signals,
        current,
        cond.warming_up,
        s.cpu_percent,
    ));
    reasons.extend(log_signals_need_agreement(policy, &mut signals, current));
    reasons.extend(demand_only_past_saturation(s, &mut signals, current));
    let no_signal_runs = silent_runs(policy, state.no_signal_runs, signals.is_empty());
    let raw = largest_or_fail_safe(policy, &signals, current, no_signal_runs).record(&mut reasons);
    let raw = guard_rail(&policy.thresholds, s, raw, current, cond.warming_up).record(&mut reasons);
    let raw = never_in_on_missing_data(s, &ignored, raw, current).record(&mut reasons);
    // What measured demand asks for, when more: the first step may go straight to it (and no
    // further than the usual limit on the symptoms' word alone). A forecast is not measured
    // demand: read from an object others may write, and from one day or week that may not
    // come again, it moves the group by the usual limit per run (issue 19: a forged slot took
    // a group from 4 to 40 in one run).
    let demand = signals
        .iter()
        .filter(|r| r.signal.is_demand() && r.proposal > current)
        .map(|r| r.proposal)
        .max();

    // The window remembers the recommendation before stabilization and limits, as the HPA's.
    // What an earlier run remembered is read back from an object others may write to: each is
    // brought within the group's limits before it counts (a tampered `u32::MAX` is the max).
    let mut state = State {
        no_signal_runs,
        requests_per_instance: learn_requests_per_instance(
            policy,
            s,
            current,
            state.requests_per_instance,
        ),
        ..state.clone()
    };
    for remembered in &mut state.recommendations {
        remembered.capacity = c.clamp(remembered.capacity);
    }
    let base = chrono::Duration::from_std(policy.stabilization).unwrap_or_default();
    // Remembered for the longest window the adaptive factor can reach.
    state.remember(now, raw, base * MAX_STABILIZATION_FACTOR as i32);
    reasons.extend(widen_before_a_quick_scale_in(
        &mut state, base, raw, current, now,
    ));
    let factor = state
        .stabilization_factor
        .clamp(1, MAX_STABILIZATION_FACTOR);
    let window = base * factor as i32;
    let highest = state
        .recommendations
        .iter()
        .filter(|r| r.at > now - window)
        .map(|r| r.capacity)
        .max();
    let to = stabilize(
        raw,
        current,
        highest,
        window.to_std().unwrap_or_default(),
        factor,
    )
    .record(&mut reasons);
    let to =
        no_scale_in_on_a_rise(to, current, &state.recommendations, base, now).record(&mut reasons);
    let to = scale_in_waits(to, current, cond).record(&mut reasons);

    let to = rate_limit(policy, to, current, demand).record(&mut reasons);
    let to = clamp_to_group(c, to).record(&mut reasons);
    reasons.extend(adapt_stabilization(&mut state, base, current, to, now));

    let decision = Decision {
        from: c.desired,
        to,
        explanation: explain::proportional(c.desired, to, &reasons, &signals),
        reasons,
        signals,
        // The record shows the window that applied; the state keeps the longest one.
        window: state
            .recommendations
            .iter()
            .filter(|r| r.at > now - window)
            .copied()
            .collect(),
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

/// The longest latency taken as real: a day, in milliseconds. A request that took longer is a
/// broken or forged log line, not a slow service.
pub const MAX_PLAUSIBLE_LATENCY_MS: f64 = 86_400_000.0;

/// Averages of values up to 100 % may come out a rounding error over it.
const PERCENT_ROUNDING: f64 = 1e-6;

/// Why `value` cannot be a real reading of `signal`, if it cannot.
fn implausible(signal: Signal, value: f64) -> Option<&'static str> {
    if value.is_nan() {
        Some("not a number")
    } else if value.is_infinite() {
        Some("infinite")
    } else if value < 0.0 {
        Some("negative")
    } else if signal == Signal::Latency && value > MAX_PLAUSIBLE_LATENCY_MS {
        Some("over a day")
    } else if matches!(signal, Signal::Requests | Signal::Metric | Signal::Forecast) {
        None
    } else if signal != Signal::Latency && value > 100.0 + PERCENT_ROUNDING {
        Some("over 100%")
    } else {
        None
    }
}

/// Step 1, first: the signals with every value that cannot be real left out, and what was left
/// out (signal, value, why). The log signals come from objects that whoever may write under the
/// prefix can forge, and CPU and memory from a service; neither is trusted with a value no
/// instance or request could produce.
fn without_implausible_values(s: &Signals) -> (Signals, Vec<(Signal, f64, &'static str)>) {
    let mut sane = s.clone();
    let mut ignored = Vec::new();
    for signal in Signal::ALL {
        let slot = match signal {
            Signal::Cpu => &mut sane.cpu_percent,
            Signal::Memory => &mut sane.memory_percent,
            Signal::Latency => &mut sane.latency_ms,
            Signal::ErrorRate => &mut sane.error_rate,
            Signal::SlowRate => &mut sane.slow_rate,
            Signal::Requests => &mut sane.requests_per_minute,
            Signal::Metric => &mut sane.metric,
            Signal::Forecast => &mut sane.forecast_requests_per_minute,
        };
        if let Some(value) = *slot {
            if let Some(why) = implausible(signal, value) {
                ignored.push((signal, value, why));
                *slot = None;
            }
        }
    }
    (sane, ignored)
}

/// The record's word on the values left out, counted and each named with its value.
fn ignored_reason(ignored: &[(Signal, f64, &'static str)]) -> Option<Reason> {
    if ignored.is_empty() {
        return None;
    }
    let named: Vec<String> = ignored
        .iter()
        .map(|(signal, value, why)| format!("{signal} {} ({why})", shown(*signal, *value)))
        .collect();
    Some(Reason::new(
        Rule::IgnoredSignal,
        format!(
            "ignored {} implausible value(s): {}",
            ignored.len(),
            named.join(", ")
        ),
    ))
}

/// `value` for people, however large or broken: `1e300 ms`, `NaN`, `-3.0%`.
fn shown(signal: Signal, value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    if value.abs() < 1e9 {
        return signal.show(value);
    }
    let unit = match signal {
        Signal::Latency => " ms",
        Signal::Requests => " requests/min",
        Signal::Metric => " per instance",
        _ => "%",
    };
    format!("{value:e}{unit}")
}

/// How many runs near the CPU target a learned requests-per-instance rate must rest on
/// before the requests signal uses it: an hour of five-minute runs.
pub const MIN_LEARNED_RUNS: u32 = 12;

/// How near the CPU target (as a share of it) a run must be to teach the requests rate: far
/// enough from saturation that CPU still measures the load (a CPU at its ceiling hides how far
/// beyond it demand is), near enough that scaling to the target is a short extrapolation.
const LEARN_NEAR_TARGET: f64 = 0.4;

/// The weight of one run in the learned rate's moving average.
const LEARN_WEIGHT: f64 = 0.2;

/// Below the learning band but at or above this CPU, a run still measures the load (idle work
/// does not yet dominate) and corrects a rate it contradicts, at [`LEARN_WEIGHT_FAR`]: a rate
/// learned before a deploy that changed what an instance serves moves to what CPU says within
/// hours instead of never (issue 19). Below it, nothing is learned.
const LEARN_FLOOR_CPU: f64 = 20.0;

/// The weight of a run below the learning band: a quarter of a near one's (the extrapolation
/// to the target is longer). From 300 to 609 requests a minute (CPU at half after a move to
/// instances twice the size) it closes nine tenths of the gap in 45 runs, under four hours.
const LEARN_WEIGHT_FAR: f64 = LEARN_WEIGHT / 4.0;

/// The learned requests-per-instance rate, once it rests on [`MIN_LEARNED_RUNS`] runs.
fn learned_target(learned: Option<crate::state::LearnedRate>) -> Option<f64> {
    learned
        .filter(|r| {
            r.runs >= MIN_LEARNED_RUNS && r.per_instance.is_finite() && r.per_instance > 0.0
        })
        .map(|r| r.per_instance)
}

/// What the next run knows of the requests one instance serves at the CPU target: this run
/// teaches it when CPU was within [`LEARN_NEAR_TARGET`] of the target on a complete window
/// (a partial one undercounts), scaled to exactly the target (CPU grows about linearly with the
/// requests an instance serves until it saturates).
fn learn_requests_per_instance(
    policy: &Policy,
    s: &Signals,
    current: u32,
    learned: Option<crate::state::LearnedRate>,
) -> Option<crate::state::LearnedRate> {
    let (Some(cpu), Some(rpm)) = (s.cpu_percent, s.requests_per_minute) else {
        return learned;
    };
    let near = (cpu - policy.target_cpu).abs() <= policy.target_cpu * LEARN_NEAR_TARGET;
    let below = (LEARN_FLOOR_CPU..policy.target_cpu).contains(&cpu) && !near;
    // The requests were served by `current` instances: the CPU must be measured on all of them
    // (none warming, none without datapoints), or the rate per instance comes out wrong.
    let all_measured = s.cpu_complete && s.counted_instances == current;
    if !(near || below)
        || !all_measured
        || !s.logs_complete
        || current == 0
        || rpm <= 0.0
        || cpu <= 0.0
    {
        return learned;
    }
    let sample = rpm / f64::from(current) * policy.target_cpu / cpu;
    match learned {
        Some(r) if r.per_instance.is_finite() && r.per_instance > 0.0 => {
            let weight = if near { LEARN_WEIGHT } else { LEARN_WEIGHT_FAR };
            Some(crate::state::LearnedRate {
                per_instance: r.per_instance + weight * (sample - r.per_instance),
                runs: r.runs.saturating_add(1),
            })
        }
        // A first rate is learned near the target only.
        _ if near => Some(crate::state::LearnedRate {
            per_instance: sample,
            runs: 1,
        }),
        other => other,
    }
}

/// How many instances one run may add to `current` (the rate limit's step up).
fn most_added(policy: &Policy, current: u32) -> u32 {
    // `as` saturates: a huge percentage of a huge group is `u32::MAX`, never a wrap.
    ((f64::from(current) * policy.max_up_percent / 100.0).ceil() as u32).max(policy.max_up_step)
}

/// The most any signal may propose from `current`: [`PROPOSAL_BOUND_FACTOR`] times it, or the
/// most the rate limit lets one run reach when that is more (so the rate limit, not this
/// bound, is what a legitimate large proposal meets).
fn proposal_bound(policy: &Policy, current: u32) -> u32 {
    current
        .saturating_mul(PROPOSAL_BOUND_FACTOR)
        .max(current.saturating_add(most_added(policy, current)))
}

/// Step 1: no proposal beyond [`proposal_bound`]. Far beyond it a value is more likely forged
/// than real, and the recommendation is remembered for the stabilization window and shown in
/// the record: it stays a sane number.
fn bound_proposals(
    policy: &Policy,
    proposals: &mut [SignalReport],
    current: u32,
) -> Option<Reason> {
    let bound = proposal_bound(policy, current);
    let mut cut = Vec::new();
    for report in proposals.iter_mut().filter(|r| r.proposal > bound) {
        cut.push(format!("{} asked for {}", report.signal, report.proposal));
        report.proposal = bound;
    }
    (!cut.is_empty()).then(|| {
        Reason::new(
            Rule::ProposalBound,
            format!(
                "no signal proposes more than {bound} from {current} ({PROPOSAL_BOUND_FACTOR} \
                 times, or what the rate limit allows a run); cut {} to it ({})",
                cut.len(),
                cut.join(", ")
            ),
        )
    })
}

/// Step 1, with `log_signals_need_agreement`: the log signals (which anyone who can write
/// under the prefix can forge) add at most one instance unless CPU or memory, measured on the
/// instances, also asks for more.
fn log_signals_need_agreement(
    policy: &Policy,
    proposals: &mut [SignalReport],
    current: u32,
) -> Option<Reason> {
    // Measured on the instances or by CloudWatch; a forecast is the logs of another day.
    let measured_agree = proposals.iter().any(|r| {
        matches!(r.signal, Signal::Cpu | Signal::Memory | Signal::Metric) && r.proposal > current
    });
    if !policy.log_signals_need_agreement || measured_agree {
        return None;
    }
    let one_more = current.saturating_add(1);
    let mut cut = Vec::new();
    for report in proposals
        .iter_mut()
        .filter(|r| r.signal.is_from_logs() && r.proposal > one_more)
    {
        cut.push(format!("{} asks for {}", report.signal, report.proposal));
        report.proposal = one_more;
    }
    (!cut.is_empty()).then(|| {
        Reason::new(
            Rule::LogSignalsAlone,
            format!(
                "neither CPU nor memory asks for more, so the log signals add one instance ({})",
                cut.join(", ")
            ),
        )
    })
}

/// CPU at or above this is saturated: it no longer shows how far demand goes beyond it.
pub const SATURATED_CPU: f64 = 90.0;

/// Step 1, for the demand signals: while CPU, measured on every instance, is below
/// [`SATURATED_CPU`], it measures the load itself. A requests proposal above CPU's is cut to
/// it, and so is one that would hold the group where CPU asks for fewer: requests go further
/// than CPU only when CPU is saturated (a step in traffic), so a stale learned rate (after the
/// launch template moved to instances twice the size, CPU at half) cannot pin the group high,
/// and forged request counts cannot jump it while its CPU is calm. A forecast may still ask
/// for more than now (capacity ready before a rise), but not hold a scale-in that CPU asks
/// for (issue 19). A configured CloudWatch metric (queue depth
/// per worker) measures what CPU may not, and is not cut.
fn demand_only_past_saturation(
    s: &Signals,
    proposals: &mut [SignalReport],
    current: u32,
) -> Option<Reason> {
    let cpu = s.cpu_percent.filter(|_| s.cpu_complete)?;
    if cpu >= SATURATED_CPU {
        return None;
    }
    let cpu_proposal = proposals
        .iter()
        .find(|r| r.signal == Signal::Cpu)
        .map_or(current, |r| r.proposal);
    let mut cut = Vec::new();
    for report in proposals.iter_mut().filter(|r| match r.signal {
        Signal::Requests => r.proposal > cpu_proposal,
        Signal::Forecast => r.proposal <= current && r.proposal > cpu_proposal,
        _ => false,
    }) {
        cut.push(format!("{} asks for {}", report.signal, report.proposal));
        report.proposal = cpu_proposal;
    }
    (!cut.is_empty()).then(|| {
        Reason::new(
            Rule::ProposalBound,
            format!(
                "CPU is at {cpu:.1}%, not saturated, so measured demand asks no more than CPU does ({cpu_proposal}): {}",
                cut.join(", ")
            ),
        )
    })
}

/// Step 2, counting: this run's place among the silent runs. A signal resets it to 0; a
/// silent run counts one more, and after the fail-safe's N-th (its step) counting starts
/// again at 1, so it steps once every N silent runs. A stored count above N is one no run
/// writes (the state sits in a bucket others may write to): counting restarts rather than
/// stepping at once. Without the fail-safe it just counts, saturating.
fn silent_runs(policy: &Policy, stored: u32, silent: bool) -> u32 {
    if !silent {
        0
    } else if policy.failsafe_runs > 0 && stored >= policy.failsafe_runs {
        1
    } else {
        stored.saturating_add(1)
    }
}

/// Step 1: what each signal that has a value and a target proposes, in [`Signal::ALL`]'s
/// order.
fn proposals(
    policy: &Policy,
    s: &Signals,
    current: u32,
    requests_target: Option<f64>,
) -> Vec<SignalReport> {
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
                // Per instance of the current capacity, so that basis × value / target is the
                // demand in instances, however many serve now.
                Signal::Requests => (
                    s.requests_per_minute
                        .filter(|_| current > 0)
                        .map(|rpm| rpm / f64::from(current)),
                    requests_target.unwrap_or(0.0),
                    current,
                ),
                // The group's total, per instance of the current capacity, like requests.
                Signal::Metric => (
                    s.metric
                        .filter(|_| current > 0)
                        .map(|metric| metric / f64::from(current)),
                    policy.target_metric_per_instance.unwrap_or(0.0),
                    current,
                ),
                // Measured by the same rule as requests, so a forecast and what comes agree.
                Signal::Forecast => (
                    s.forecast_requests_per_minute
                        .filter(|_| current > 0)
                        .map(|rpm| rpm / f64::from(current)),
                    requests_target.unwrap_or(0.0),
                    current,
                ),
            };
            let value = value.filter(|_| target > 0.0)?;
            // A forecast is a floor for the coming minutes, without tolerance: below the
            // current capacity it only limits how far the others may scale in (alone, it is
            // not data: `never_in_on_missing_data` holds), and within the tolerance it would
            // block every scale-in.
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
    let within = signal != Signal::Forecast
        && ratio <= 1.0 + policy.tolerance_up
        && ratio >= 1.0 - policy.tolerance_down;
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
    cpu: Option<f64>,
) -> Option<Reason> {
    if warming_up == 0 {
        return None;
    }
    // With CPU at its ceiling the symptoms measure demand the capacity on its way cannot
    // meet: they were measured on the instances that served, so they ask in proportion to
    // those, and what that leaves above the capacity (warming ones included) goes ahead.
    let saturated = cpu.is_some_and(|c| c >= SATURATED_CPU);
    let served = current.saturating_sub(warming_up);
    let mut waited = Vec::new();
    let mut ahead = Vec::new();
    // Measured demand is a number of instances, not a symptom: capacity on its way is
    // already in `current`, so it does not ask for it twice.
    for report in proposals
        .iter_mut()
        .filter(|r| r.signal.is_from_logs() && !r.signal.is_demand() && r.proposal > current)
    {
        let on_served =
            (u64::from(report.proposal) * u64::from(served)).div_ceil(u64::from(current.max(1)));
        let on_served = u32::try_from(on_served).unwrap_or(u32::MAX);
        if saturated && on_served > current {
            ahead.push(format!(
                "{} asks for {} ({on_served} for the {served} that served)",
                report.signal, report.proposal
            ));
            report.proposal = on_served;
        } else {
            waited.push(format!("{} asks for {}", report.signal, report.proposal));
            report.proposal = current;
        }
    }
    let mut parts = Vec::new();
    if !waited.is_empty() {
        parts.push(format!(
            "{warming_up} instance(s) still warming up; the log signals wait for them ({})",
            waited.join(", ")
        ));
    }
    if !ahead.is_empty() {
        parts.push(format!(
            "{warming_up} instance(s) still warming up, but CPU is saturated ({:.1}%): {}",
            cpu.unwrap_or_default(),
            ahead.join(", ")
        ));
    }
    (!parts.is_empty()).then(|| Reason::new(Rule::WarmUpWait, parts.join("; ")))
}

/// Step 2: the largest proposal wins (of equals, the last listed). Without any signal, hold,
/// or on every `failsafe_runs`-th silent run in a row (`no_signal_runs`, from [`silent_runs`],
/// counts this one), step out by `failsafe_step` as a precaution.
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
    let n = policy.failsafe_runs;
    if n > 0 && no_signal_runs == n {
        return Step::by(
            Rule::FailSafe,
            current.saturating_add(policy.failsafe_step),
            format!(
                "no signal for {n} runs in a row; stepping out by {} as a precaution (once \
                 every {n} silent runs)",
                policy.failsafe_step
            ),
        );
    }
    let count = if n > 0 {
        format!("silent run {no_signal_runs} of {n} before the fail-safe steps out")
    } else {
        format!("{no_signal_runs} run(s) in a row")
    };
    Step::by(
        Rule::NoData,
        current,
        format!("no CPU datapoints and no requests in the logs ({count})"),
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
        Some(detail) => Step::by(Rule::GuardRail, current.saturating_add(1), detail),
        None => Step::keep(raw),
    }
}

/// Step 3: never in on missing data. A proposal below `current` stays at `current` when a
/// signal's value was left out as implausible, or the window's logs, the CPU average, or some
/// instance's datapoints are missing.
fn never_in_on_missing_data(s: &Signals, ignored: &[Signal], raw: u32, current: u32) -> Step {
    if raw >= current {
        return Step::keep(raw);
    }
    let implausible;
    let missing = if !ignored.is_empty() {
        let names: Vec<&str> = ignored.iter().map(|signal| signal.name()).collect();
        implausible = format!("the value of {} was implausible", names.join(" and "));
        implausible.as_str()
    } else if !s.logs_complete {
        "the window's logs are missing or incomplete"
    } else if s.metric_unread {
        "the configured metric could not be read"
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
fn stabilize(
    raw: u32,
    current: u32,
    highest_recent: Option<u32>,
    stabilization: Duration,
    factor: u32,
) -> Step {
    if raw >= current {
        return Step::keep(raw);
    }
    let highest = highest_recent.unwrap_or(raw).min(current);
    if highest <= raw {
        return Step::keep(raw);
    }
    let why = if factor > 1 {
        format!(" ({factor} times the configured window: the load has been swinging)")
    } else {
        String::new()
    };
    Step::by(
        Rule::Stabilized,
        highest,
        format!(
            "the highest recommendation of the last {} min{why} is {highest}, so no lower",
            stabilization.as_secs() / 60
        ),
    )
}

/// The most the scale-in stabilization window grows: eight times (two hours from 15 minutes).
pub const MAX_STABILIZATION_FACTOR: u32 = 8;

/// After a reversal, the load must stay calm this many windows before the factor halves.
const CALM_WINDOWS: i32 = 2;

/// Recommendations within 1/this of their highest count as calm (a fifth).
const CALM_SPREAD: u32 = 5;

/// Step 6, learning from this run: a scale-out within twice the stabilization window of a
/// scale-in means the load swings faster than the window sees (the scale-in was wrong, the
/// peak came back), so the window doubles, up to [`MAX_STABILIZATION_FACTOR`] times the
/// configured one; after [`CALM_WINDOWS`] windows without a reversal in which the recommendations
/// stayed within one instance of each other, it halves again. A scale-in is remembered.
fn adapt_stabilization(
    state: &mut State,
    base: chrono::Duration,
    current: u32,
    to: u32,
    now: DateTime<Utc>,
) -> Option<Reason> {
    let factor = state
        .stabilization_factor
        .clamp(1, MAX_STABILIZATION_FACTOR);
    let window = base * factor as i32;
    // Times after now were not written by a run (the state sits in a bucket others can write).
    state.last_scale_in = state.last_scale_in.filter(|t| *t <= now);
    state.factor_changed = state.factor_changed.filter(|t| *t <= now);
    if to < current {
        state.last_scale_in = Some(now);
    }
    if to > current {
        state.last_scale_out = Some(now);
    }
    let reversed_after = state
        .last_scale_in
        .filter(|t| to > current && *t <= now && now - *t <= window * 2)
        .map(|t| now - t);
    if let Some(ago) = reversed_after {
        let doubled = factor.saturating_mul(2).min(MAX_STABILIZATION_FACTOR);
        state.stabilization_factor = doubled;
        state.factor_changed = Some(now);
        // One reversal is counted once.
        state.last_scale_in = None;
        return (doubled > factor).then(|| {
            Reason::new(
                Rule::LoadSwings,
                format!(
                    "the scale-in {} min ago is reversed: the load swings, so scale-ins now wait for the highest recommendation of {} min instead of {}",
                    ago.num_minutes(),
                    (base * doubled as i32).num_minutes(),
                    window.num_minutes()
                ),
            )
        });
    }
    let since_change = state
        .factor_changed
        .map_or(window * CALM_WINDOWS, |t| now - t);
    // Over as long as the calm must last: a shorter look could fall inside one trough.
    let recent: Vec<u32> = state
        .recommendations
        .iter()
        .filter(|r| r.at > now - window * CALM_WINDOWS)
        .map(|r| r.capacity)
        .collect();
    // Calm: the recommendations stayed within a fifth of their highest (at least one
    // instance), as noise does and a swinging load does not.
    let calm = match (recent.iter().min(), recent.iter().max()) {
        (Some(lo), Some(hi)) => hi - lo <= (hi / CALM_SPREAD).max(1),
        _ => true,
    };
    if factor > 1 && calm && since_change >= window * CALM_WINDOWS {
        state.stabilization_factor = factor / 2;
        state.factor_changed = Some(now);
    } else {
        state.stabilization_factor = factor;
    }
    None
}

/// Step 4, first: a scale-in asked for within twice the stabilization window of a scale-out is
/// the other half of a swing (the load rose and fell faster than the window sees), so before
/// it is taken the window doubles, as after a reversal: the scale-in waits for the highest
/// recommendation of the longer window. Each scale-out counts once.
fn widen_before_a_quick_scale_in(
    state: &mut State,
    base: chrono::Duration,
    raw: u32,
    current: u32,
    now: DateTime<Utc>,
) -> Option<Reason> {
    // Times after now were not written by a run (the state sits in a bucket others can write).
    state.last_scale_out = state.last_scale_out.filter(|t| *t <= now);
    let factor = state
        .stabilization_factor
        .clamp(1, MAX_STABILIZATION_FACTOR);
    let window = base * factor as i32;
    let ago = state.last_scale_out.map(|t| now - t)?;
    if raw >= current || factor >= MAX_STABILIZATION_FACTOR || ago > window * 2 {
        return None;
    }
    let doubled = factor.saturating_mul(2).min(MAX_STABILIZATION_FACTOR);
    state.stabilization_factor = doubled;
    state.factor_changed = Some(now);
    state.last_scale_out = None;
    Some(Reason::new(
        Rule::LoadSwings,
        format!(
            "a scale-in {} min after a scale-out: the load may swing, so scale-ins wait for the highest recommendation of {} min instead of {}",
            ago.num_minutes(),
            (base * doubled as i32).num_minutes(),
            window.num_minutes()
        ),
    ))
}

/// Step 4, then: no scale-in while the recommendations rise. A load that climbs again after a
/// fall (the next period of a periodic load) is caught here before the scale-in it would
/// reverse; a load that keeps falling (a crowd that disperses) is not held.
fn no_scale_in_on_a_rise(
    to: u32,
    current: u32,
    remembered: &[crate::state::Recommendation],
    base: chrono::Duration,
    now: DateTime<Utc>,
) -> Step {
    if to >= current {
        return Step::keep(to);
    }
    // This run's recommendation is the last remembered; against the lowest of the configured
    // window before it.
    let [earlier @ .., this] = remembered else {
        return Step::keep(to);
    };
    let lowest = earlier
        .iter()
        .filter(|r| r.at > now - base && r.at < now)
        .map(|r| r.capacity)
        .min();
    match lowest {
        Some(low) if this.at == now && low < this.capacity => Step::by(
            Rule::LoadSwings,
            current,
            format!(
                "would go to {to}, but the recommendations are rising ({low} -> {} within {} min): the load climbs again, so no scale-in",
                this.capacity,
                base.num_minutes()
            ),
        ),
        _ => Step::keep(to),
    }
}

/// Step 4: a scale-in waits while a scaling activity runs or instances warm up; their effect
/// on the signals is not known yet.
fn scale_in_waits(to: u32, current: u32, cond: Conditions) -> Step {
    if to >= current || !(cond.activity_in_progress || cond.warming_up > 0 || cond.ages_unknown) {
        return Step::keep(to);
    }
    let why = if cond.activity_in_progress {
        "a scaling activity is in progress".to_string()
    } else if cond.warming_up > 0 {
        format!("{} instance(s) are still warming up", cond.warming_up)
    } else {
        "EC2 could not say when the instances launched, so whether they are warm is unknown"
            .to_string()
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
fn rate_limit(policy: &Policy, to: u32, current: u32, demand: Option<u32>) -> Step {
    if to > current {
        let usual = current.saturating_add(most_added(policy, current));
        // Measured demand may be met in one step, up to its own limit; what the symptoms ask
        // for beyond it still meets the usual one.
        let by_demand = demand.map(|d| {
            let step = (f64::from(current) * policy.demand_max_up_percent / 100.0).ceil() as u32;
            d.min(current.saturating_add(step))
        });
        let most = usual.max(by_demand.unwrap_or(0));
        if to > most {
            let detail = if most > usual {
                format!(
                    "measured demand asks for {} and may be met at once (up to +{} %); the rest waits (asked for {to})",
                    demand.unwrap_or(most),
                    policy.demand_max_up_percent
                )
            } else {
                format!("at most +{} per run (asked for {to})", most - current)
            };
            return Step::by(Rule::LimitUp, most, detail);
        }
    } else if to < current {
        let step = ((f64::from(current) * policy.max_down_percent / 100.0).floor() as u32)
            .max(policy.max_down_step);
        if to.saturating_add(step) < current {
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
    use crate::state::Recommendation;
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
        // The proportional rule itself: log signals may ask for all they need here (their
        // need for CPU or memory to agree has its own test below).
        let p = Policy {
            log_signals_need_agreement: false,
            ..Policy::default()
        };
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
            let got: Vec<_> = proposals(&p, &s, current, None)
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
            proposals(&no_target, &s, 4, None)
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
        // (name, warming up, CPU, proposals after, a reason)
        let cases = [
            ("nothing warming", 0, Some(95.0), [6, 7, 3, 5], false),
            (
                "log signals above current wait",
                2,
                Some(80.0),
                [6, 4, 3, 4],
                true,
            ),
            ("without CPU they wait", 1, None, [6, 4, 3, 4], true),
            // Measured on the 3 that served: latency's 7 of 4 is 6 of 3, above the 4 there
            // are; slow_rate's 5 is 4, no more than there are, so it waits.
            (
                "saturated CPU lets them ask on what served",
                1,
                Some(95.0),
                [6, 6, 3, 4],
                true,
            ),
        ];
        for (name, warming_up, cpu, want, waits) in cases {
            let mut reports = all();
            let reason = wait_for_warm_up(&mut reports, 4, warming_up, cpu);
            let got: Vec<u32> = reports.iter().map(|r| r.proposal).collect();
            assert_eq!((got, reason.is_some()), (want.to_vec(), waits), "{name}");
        }
        let mut reports = all();
        let saturated = wait_for_warm_up(&mut reports, 4, 1, Some(95.0)).unwrap();
        assert_eq!(
            saturated.detail,
            "1 instance(s) still warming up; the log signals wait for them (slow_rate asks for 5); \
             1 instance(s) still warming up, but CPU is saturated (95.0%): latency asks for 7 (6 for the 3 that served)"
        );
        let mut reports = all();
        let reason = wait_for_warm_up(&mut reports, 4, 2, None).unwrap();
        assert_eq!(reason.rule, Rule::WarmUpWait);
        assert_eq!(
            reason.detail,
            "2 instance(s) still warming up; the log signals wait for them \
             (latency asks for 7, slow_rate asks for 5)"
        );
        let mut cpu_only = vec![report(Signal::Cpu, 9)];
        assert_eq!(wait_for_warm_up(&mut cpu_only, 4, 2, Some(99.0)), None);
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
            let got = outcome(never_in_on_missing_data(&s, &[], raw, 4));
            assert_eq!(got, (capacity, rule), "{name}");
        }
        let step = never_in_on_missing_data(&full(10.0, 4), &[Signal::Latency], 2, 4);
        assert_eq!(step.capacity, 4);
        assert_eq!(
            step.reason.map(|r| (r.rule, r.detail)),
            Some((
                Rule::MissingData,
                "signals say 2, but the value of latency was implausible; never scale in on \
                 missing data"
                    .to_string()
            ))
        );
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
            let got = outcome(stabilize(raw, 6, highest, window, 1));
            assert_eq!(got, (capacity, rule), "{raw} {highest:?}");
        }
        assert_eq!(
            stabilize(4, 6, Some(5), window, 1).reason.unwrap().detail,
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
            ages_unknown: false,
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
            let got = outcome(rate_limit(&p, to, current, None));
            assert_eq!(got, (capacity, rule), "{current} → {to}");
        }
        assert_eq!(
            rate_limit(&p, 7, 2, None).reason.unwrap().detail,
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

    // ---- Regression tests for issue 9: the fail-safe, tampered state, poisoned logs ----

    /// Issue 9, point 6: over a long blind period the fail-safe steps once every N silent
    /// runs (the N-th, 2N-th, ...), not on every run from the N-th on.
    #[test]
    fn fail_safe_steps_once_every_n_silent_runs_over_a_long_blind_period() {
        let p = Policy {
            failsafe_runs: 3,
            failsafe_step: 1,
            ..Policy::default()
        };
        let mut st = State::default();
        let mut desired = 4;
        let mut stepped_on = Vec::new();
        for n in 1..=30 {
            let (d, next) = run(
                &p,
                &Signals::default(),
                cap(1, 40, desired),
                Conditions::default(),
                &st,
                5 * n,
            );
            if d.rules().contains(&Rule::FailSafe) {
                stepped_on.push(n);
                assert_eq!(d.to, desired + 1, "run {n}: {}", d.explanation);
            } else {
                assert_eq!((d.to, d.rules()), (desired, vec![Rule::NoData]), "run {n}");
            }
            desired = d.to;
            st = next;
        }
        assert_eq!(stepped_on, (1..=10).map(|k| 3 * k).collect::<Vec<i64>>());
        assert_eq!(desired, 14, "ten steps of one in thirty silent runs");
    }

    /// Issue 9, point 5: a silent-run count no run could have stored (more than the
    /// fail-safe's N) is not trusted: the count restarts instead of stepping out at once, and
    /// `u32::MAX` neither overflows nor fires.
    #[test]
    fn an_implausible_stored_silent_count_does_not_fire_the_fail_safe_at_once() {
        let p = Policy {
            failsafe_runs: 3,
            failsafe_step: 5,
            ..Policy::default()
        };
        for injected in [4, 1000, u32::MAX - 1, u32::MAX] {
            let st = State {
                no_signal_runs: injected,
                ..State::default()
            };
            let (d, next) = run(
                &p,
                &Signals::default(),
                cap(1, 40, 4),
                Conditions::default(),
                &st,
                0,
            );
            assert_eq!((d.to, d.rules()), (4, vec![Rule::NoData]), "{injected}");
            assert_eq!(next.no_signal_runs, 1, "{injected}: the count restarts");
        }
        // The fail-safe disabled: the count only grows, and saturates.
        let st = State {
            no_signal_runs: u32::MAX,
            ..State::default()
        };
        let (d, next) = run(
            &Policy::default(),
            &Signals::default(),
            cap(1, 40, 4),
            Conditions::default(),
            &st,
            0,
        );
        assert_eq!((d.to, next.no_signal_runs), (4, u32::MAX));
    }

    /// Issue 9, point 5: remembered recommendations are brought within the group's [min, max]
    /// when used, so a tampered `u32::MAX` holds a scale-in no longer than a real
    /// recommendation would (one stabilization window), and one dated in the future not at all.
    #[test]
    fn tampered_recommendations_are_clamped_to_the_group_and_expire() {
        let p = Policy::default();
        let c = cap(2, 10, 8);
        let quiet = full(20.0, 8);
        let tampered = State {
            recommendations: vec![
                Recommendation {
                    at: t(-1),
                    capacity: u32::MAX,
                },
                Recommendation {
                    at: t(-2),
                    capacity: 0,
                },
            ],
            ..State::default()
        };
        let (d, st) = run(&p, &quiet, c, Conditions::default(), &tampered, 0);
        assert_eq!(d.to, 8, "{}", d.explanation);
        let remembered: Vec<u32> = d.window.iter().map(|r| r.capacity).collect();
        assert_eq!(
            remembered,
            [10, 2, 5],
            "clamped to [2, 10], this run's last"
        );
        assert!(st.recommendations.iter().all(|r| r.capacity <= 10));
        // Once the window has passed it, the scale-in goes ahead.
        let (d, _) = run(&p, &quiet, c, Conditions::default(), &st, 16);
        assert_eq!(
            (d.action(), d.to),
            (Action::ScaleDown, 7),
            "{}",
            d.explanation
        );

        let future = State {
            recommendations: vec![Recommendation {
                at: t(60 * 24 * 365),
                capacity: u32::MAX,
            }],
            ..State::default()
        };
        let (d, _) = run(&p, &quiet, c, Conditions::default(), &future, 0);
        assert_eq!(d.to, 7, "{}", d.explanation);
    }

    /// Issue 9, point 8: a poisoned latency (`"duration_ms": 1e300`) used to propose
    /// `u32::MAX` and take the group up by the whole rate limit; it is ignored and named.
    #[test]
    fn an_absurd_latency_is_ignored_and_named_in_the_record() {
        let p = Policy::default();
        let s = Signals {
            latency_ms: Some(1e300),
            ..full(60.0, 4)
        };
        let (d, st) = run(
            &p,
            &s,
            cap(1, 20, 4),
            Conditions::default(),
            &State::default(),
            0,
        );
        assert_eq!(d.to, 4, "{}", d.explanation);
        assert_eq!(d.rules()[0], Rule::IgnoredSignal);
        assert!(
            d.reasons[0].detail.contains("1 implausible value")
                && d.reasons[0].detail.contains("latency"),
            "{}",
            d.reasons[0].detail
        );
        assert!(d.signals.iter().all(|r| r.signal != Signal::Latency));
        assert!(st.recommendations.iter().all(|r| r.capacity <= 20));
    }

    /// Issue 9, point 8: every signal's impossible values (not a number, infinite, negative,
    /// a percentage over 100, a latency over a day) are left out and counted, and count as
    /// missing data: no scale-out from them, and no scale-in either.
    #[test]
    fn impossible_signal_values_are_ignored_counted_and_never_scale() {
        let p = Policy::default();
        let nonsense = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, -1e300];
        for signal in Signal::ALL {
            let too_big = if signal == Signal::Latency {
                86_400_001.0
            } else {
                100.5
            };
            // Demand has no ceiling: a huge count is bounded by the proposal bound instead.
            let too_large: &[f64] = if signal.is_demand() || signal == Signal::Forecast {
                &[]
            } else {
                &[too_big, 1e300]
            };
            for value in nonsense.iter().chain(too_large).copied() {
                let mut s = full(50.0, 4);
                s.memory_percent = Some(50.0);
                let slot = match signal {
                    Signal::Cpu => &mut s.cpu_percent,
                    Signal::Memory => &mut s.memory_percent,
                    Signal::Latency => &mut s.latency_ms,
                    Signal::ErrorRate => &mut s.error_rate,
                    Signal::SlowRate => &mut s.slow_rate,
                    Signal::Requests => &mut s.requests_per_minute,
                    Signal::Metric => &mut s.metric,
                    Signal::Forecast => &mut s.forecast_requests_per_minute,
                };
                *slot = Some(value);
                let (d, _) = run(
                    &p,
                    &s,
                    cap(1, 20, 4),
                    Conditions::default(),
                    &State::default(),
                    0,
                );
                let name = format!("{signal} = {value}");
                assert_eq!(d.to, 4, "{name}: {}", d.explanation);
                assert!(d.rules().contains(&Rule::IgnoredSignal), "{name}");
                assert!(d.signals.iter().all(|r| r.signal != signal), "{name}");
                assert!(
                    d.signals.iter().all(|r| r.value.is_finite()),
                    "{name}: the record's values are numbers"
                );
            }
        }
        // Two at once are both named and counted.
        let s = Signals {
            cpu_percent: Some(f64::NAN),
            error_rate: Some(-3.0),
            ..full(50.0, 4)
        };
        let (d, _) = run(
            &p,
            &s,
            cap(1, 20, 4),
            Conditions::default(),
            &State::default(),
            0,
        );
        let detail = &d.reasons[0].detail;
        assert!(
            detail.starts_with("ignored 2 implausible value(s): cpu")
                && detail.contains("error_rate"),
            "{detail}"
        );
    }

    /// Issue 9, point 8: however far a plausible value is from its target, no signal proposes
    /// more than ten times the current capacity; the rate limit still cuts the change.
    #[test]
    fn a_proposal_is_bounded_to_a_factor_of_the_current_capacity() {
        let p = Policy {
            target_latency_ms: 1.0,
            log_signals_need_agreement: false,
            ..Policy::default()
        };
        let s = Signals {
            latency_ms: Some(86_000_000.0),
            ..full(60.0, 4)
        };
        let (d, st) = run(
            &p,
            &s,
            cap(1, 100, 4),
            Conditions::default(),
            &State::default(),
            0,
        );
        let latency = d
            .signals
            .iter()
            .find(|r| r.signal == Signal::Latency)
            .unwrap();
        assert_eq!(latency.proposal, 40);
        assert_eq!(
            d.rules(),
            [Rule::ProposalBound, Rule::Proposal, Rule::LimitUp]
        );
        assert_eq!(d.to, 12);
        assert_eq!(st.highest_recent(), Some(40));
        // A rate limit that lets a run go further than the bound still has the last word.
        let generous = Policy {
            max_up_percent: 1000.0,
            ..p
        };
        let (d, _) = run(
            &generous,
            &s,
            cap(1, 100, 4),
            Conditions::default(),
            &State::default(),
            0,
        );
        assert_eq!(d.to, 44, "{}", d.explanation);
    }

    /// Issue 9, point 8: with `log_signals_need_agreement`, the log signals alone add one
    /// instance a run; with CPU or memory also asking for more, they may ask for all they need.
    #[test]
    fn log_signals_alone_add_one_instance_unless_cpu_or_memory_agree() {
        let agree = Policy::default();
        assert!(agree.log_signals_need_agreement, "the default");
        let alone = Policy {
            log_signals_need_agreement: false,
            ..Policy::default()
        };
        let slow = |cpu: f64, memory: Option<f64>| Signals {
            latency_ms: Some(6000.0),
            memory_percent: memory,
            ..full(cpu, 4)
        };
        // (name, policy, signals, to, rules)
        let cases = [
            (
                "alone: one more",
                &agree,
                slow(60.0, None),
                5,
                vec![Rule::LogSignalsAlone, Rule::Proposal],
            ),
            (
                "cpu agrees",
                &agree,
                slow(80.0, None),
                12,
                vec![Rule::Proposal, Rule::LimitUp],
            ),
            (
                "memory agrees",
                &agree,
                slow(60.0, Some(95.0)),
                12,
                vec![Rule::Proposal, Rule::LimitUp],
            ),
            (
                "setting off",
                &alone,
                slow(60.0, None),
                12,
                vec![Rule::Proposal, Rule::LimitUp],
            ),
        ];
        for (name, policy, s, to, rules) in cases {
            let (d, _) = run(
                policy,
                &s,
                cap(1, 40, 4),
                Conditions::default(),
                &State::default(),
                0,
            );
            assert_eq!((d.to, d.rules()), (to, rules), "{name}: {}", d.explanation);
        }
        let (d, _) = run(
            &agree,
            &slow(60.0, None),
            cap(1, 40, 4),
            Conditions::default(),
            &State::default(),
            0,
        );
        assert_eq!(
            d.reasons[0].detail,
            "neither CPU nor memory asks for more, so the log signals add one instance \
             (latency asks for 13)"
        );
        // Errors alone over the guard rail still get their one more.
        let errors = Signals {
            error_rate: Some(40.0),
            ..full(60.0, 4)
        };
        let (d, _) = run(
            &agree,
            &errors,
            cap(1, 40, 4),
            Conditions::default(),
            &State::default(),
            0,
        );
        assert_eq!(d.to, 5, "{}", d.explanation);
    }

    #[test]
    fn step_silent_runs() {
        let every_3 = Policy {
            failsafe_runs: 3,
            ..Policy::default()
        };
        let never = Policy::default();
        // (name, policy, stored, silent, this run's count)
        let cases = [
            ("a signal resets", &every_3, 2, false, 0),
            ("counts on", &every_3, 0, true, 1),
            ("up to N", &every_3, 2, true, 3),
            ("after the step, again from 1", &every_3, 3, true, 1),
            ("more than any run stores", &every_3, 40, true, 1),
            ("u32::MAX", &every_3, u32::MAX, true, 1),
            ("without a fail-safe, on", &never, 40, true, 41),
            (
                "without a fail-safe, saturating",
                &never,
                u32::MAX,
                true,
                u32::MAX,
            ),
        ];
        for (name, policy, stored, silent, want) in cases {
            assert_eq!(silent_runs(policy, stored, silent), want, "{name}");
        }
    }

    #[test]
    fn step_implausible_values_and_how_they_are_shown() {
        // (signal, value, why)
        let cases = [
            (Signal::Cpu, 100.0, None),
            (Signal::Cpu, 0.0, None),
            (Signal::Cpu, 100.1, Some("over 100%")),
            (Signal::ErrorRate, -0.1, Some("negative")),
            (Signal::Memory, f64::NAN, Some("not a number")),
            (Signal::SlowRate, f64::INFINITY, Some("infinite")),
            (Signal::Latency, 86_400_000.0, None),
            (Signal::Latency, 86_400_000.5, Some("over a day")),
            (Signal::Latency, 1e300, Some("over a day")),
        ];
        for (signal, value, why) in cases {
            assert_eq!(implausible(signal, value), why, "{signal} {value}");
        }
        assert_eq!(shown(Signal::Latency, 1e300), "1e300 ms");
        assert_eq!(shown(Signal::Cpu, -3.0), "-3.0%");
        assert_eq!(shown(Signal::Memory, f64::NAN), "NaN");
        assert_eq!(shown(Signal::Latency, f64::NEG_INFINITY), "-inf");
        let (_, ignored) = without_implausible_values(&Signals {
            latency_ms: Some(1e300),
            ..full(50.0, 4)
        });
        assert_eq!(
            ignored_reason(&ignored).unwrap().detail,
            "ignored 1 implausible value(s): latency 1e300 ms (over a day)"
        );
    }

    #[test]
    fn step_bound_proposals() {
        let p = Policy::default();
        // (current, asked, proposal, cut): 10 × current, or the rate limit's reach when more
        let cases = [
            (4, 40, 40, false),
            (4, 41, 40, true),
            (1, 11, 10, true),
            (0, u32::MAX, 4, true),
            (u32::MAX, u32::MAX, u32::MAX, false),
        ];
        for (current, asked, proposal, cut) in cases {
            let mut reports = [report(Signal::Latency, asked)];
            let reason = bound_proposals(&p, &mut reports, current);
            assert_eq!(
                (reports[0].proposal, reason.is_some()),
                (proposal, cut),
                "{current} {asked}"
            );
        }
        let mut reports = [report(Signal::ErrorRate, 50), report(Signal::Cpu, 7)];
        assert_eq!(
            bound_proposals(&p, &mut reports, 4).unwrap().detail,
            "no signal proposes more than 40 from 4 (10 times, or what the rate limit allows a \
             run); cut 1 to it (error_rate asked for 50)"
        );
    }

    /// Issue 10: measured demand proposes `ceil(requests per minute / target)` at its full size,
    /// past the usual rate limit (up to the demand limit) and through a warm-up.
    #[test]
    fn requests_propose_the_demand_in_instances_in_one_step() {
        let p = Policy {
            target_requests_per_instance: Some(500.0),
            ..Policy::default()
        };
        // Eight times the quiet load arrives: 16,000 requests a minute on 4 instances, with CPU
        // at its ceiling (it cannot show how far beyond 100 % the demand is).
        let s = Signals {
            requests_per_minute: Some(16_000.0),
            ..full(100.0, 4)
        };
        let warming = Conditions {
            warming_up: 1,
            ..Conditions::default()
        };
        let (d, _) = run(&p, &s, cap(1, 100, 4), warming, &State::default(), 0);
        let requests = d
            .signals
            .iter()
            .find(|r| r.signal == Signal::Requests)
            .expect("a requests proposal");
        assert_eq!(requests.proposal, 32, "16,000 / 500");
        assert_eq!(d.to, 32, "{:?}", d.reasons);
        // The usual limit would have stopped at 4 + 200 % = 12.
        let usual = Policy {
            demand_max_up_percent: 0.0,
            ..p.clone()
        };
        let (d, _) = run(&usual, &s, cap(1, 100, 4), warming, &State::default(), 0);
        assert_eq!(d.to, 12);
        assert!(d.rules().contains(&Rule::LimitUp));
    }

    /// Issue 10: without a configured target the rate is learned from runs near the CPU target,
    /// and used only once it rests on an hour of them.
    #[test]
    fn the_requests_target_is_learned_near_the_cpu_target_and_used_after_enough_runs() {
        let p = Policy::default();
        // 4 instances at 65 % CPU serve 2,600 requests a minute: 650 each at the target.
        let near = Signals {
            requests_per_minute: Some(2_600.0),
            ..full(65.0, 4)
        };
        let mut st = State::default();
        for k in 0..MIN_LEARNED_RUNS {
            let (d, next) = run(
                &p,
                &near,
                cap(1, 100, 4),
                Conditions::default(),
                &st,
                i64::from(k) * 5,
            );
            if k + 1 < MIN_LEARNED_RUNS {
                assert!(
                    d.signals.iter().all(|r| r.signal != Signal::Requests),
                    "run {k}: not yet"
                );
            }
            st = next;
        }
        let learned = st.requests_per_instance.unwrap();
        assert_eq!(learned.runs, MIN_LEARNED_RUNS);
        assert!((learned.per_instance - 650.0).abs() < 1e-6, "{learned:?}");
        // Far from the target it does not learn: a saturated CPU says nothing of the rate.
        let hot = Signals {
            requests_per_minute: Some(13_000.0),
            ..full(100.0, 4)
        };
        let (d, next) = run(&p, &hot, cap(1, 100, 4), Conditions::default(), &st, 100);
        assert_eq!(next.requests_per_instance, st.requests_per_instance);
        let requests = d
            .signals
            .iter()
            .find(|r| r.signal == Signal::Requests)
            .unwrap();
        assert_eq!(requests.proposal, 20, "13,000 / 650");
    }

    /// Issue 10: a scale-in reversed soon after doubles the stabilization window; calm halves
    /// it again.
    #[test]
    fn a_reversed_scale_in_lengthens_the_stabilization_window_until_the_load_calms() {
        let p = Policy {
            max_down_percent: 50.0,
            ..Policy::default()
        };
        let quiet = full(20.0, 6);
        let hot = full(95.0, 4);
        // Minute 0: busy at 6; 20 min of quiet: the 15-min window lets a scale-in through.
        let (_, st) = run(
            &p,
            &full(65.0, 6),
            cap(1, 20, 6),
            Conditions::default(),
            &State::default(),
            0,
        );
        let (_, st) = run(&p, &quiet, cap(1, 20, 6), Conditions::default(), &st, 10);
        let (d, st) = run(&p, &quiet, cap(1, 20, 6), Conditions::default(), &st, 20);
        assert!(d.to < 6, "a scale-in: {:?}", d.reasons);
        // The peak comes back ten minutes later: the scale-out doubles the window.
        let (d, st) = run(&p, &hot, cap(1, 20, d.to), Conditions::default(), &st, 30);
        assert!(d.to > 4);
        assert!(d.rules().contains(&Rule::LoadSwings), "{:?}", d.reasons);
        assert_eq!(st.stabilization_factor, 2);
        // Quiet again at minute 50, 20 min after that scale-out: the other half of a swing, so
        // the window doubles again before the scale-in (60 min), and holds the peak.
        let (d2, st) = run(&p, &quiet, cap(1, 20, d.to), Conditions::default(), &st, 50);
        assert_eq!(d2.to, d.to, "{:?}", d2.reasons);
        assert!(d2.reasons.iter().any(|r| r.rule == Rule::LoadSwings
            && r.detail.contains("a scale-in 20 min after a scale-out")));
        assert!(d2
            .reasons
            .iter()
            .any(|r| r.rule == Rule::Stabilized && r.detail.contains("60 min")));
        assert_eq!(st.stabilization_factor, 4);
        // Hours of a steady load: the window halves back, step by step.
        let mut st = st;
        let steady = full(65.0, d.to);
        for k in 0..60 {
            let (_, next) = run(
                &p,
                &steady,
                cap(1, 20, d.to),
                Conditions::default(),
                &st,
                60 + 5 * k,
            );
            st = next;
        }
        assert_eq!(st.stabilization_factor, 1);
    }

    /// Issue 10: a scale-in asked for soon after a scale-out doubles the window first; one long
    /// after it, or a scale-out from a time after now (a forged state), does not.
    #[test]
    fn step_widen_before_a_quick_scale_in() {
        let base = chrono::Duration::minutes(15);
        let at = |m| State {
            last_scale_out: Some(t(m)),
            ..State::default()
        };
        // (name, state, raw, current, factor after, a reason)
        let cases = [
            ("20 min after a scale-out", at(80), 4, 6, 2, true),
            ("a hold is not a scale-in", at(80), 6, 6, 1, false),
            (
                "31 min after: beyond twice the window",
                at(69),
                4,
                6,
                1,
                false,
            ),
            (
                "a scale-out in the future is not read",
                at(200),
                4,
                6,
                1,
                false,
            ),
            ("no scale-out remembered", State::default(), 4, 6, 1, false),
        ];
        for (name, mut st, raw, current, factor, widened) in cases {
            let reason = widen_before_a_quick_scale_in(&mut st, base, raw, current, t(100));
            assert_eq!(
                (st.stabilization_factor.max(1), reason.is_some()),
                (factor, widened),
                "{name}"
            );
            if widened {
                assert_eq!(
                    st.last_scale_out, None,
                    "{name}: each scale-out counts once"
                );
                assert_eq!(reason.unwrap().rule, Rule::LoadSwings);
            }
        }
        let mut top = State {
            stabilization_factor: MAX_STABILIZATION_FACTOR,
            ..at(90)
        };
        assert_eq!(
            widen_before_a_quick_scale_in(&mut top, base, 4, 6, t(100)),
            None,
            "at the cap"
        );
    }

    /// Issue 10: no scale-in while the recommendations climb from the window's low; a falling
    /// load scales in.
    #[test]
    fn step_no_scale_in_on_a_rise() {
        let base = chrono::Duration::minutes(15);
        let recs = |caps: &[(i64, u32)]| -> Vec<crate::state::Recommendation> {
            caps.iter()
                .map(|&(m, capacity)| crate::state::Recommendation { at: t(m), capacity })
                .collect()
        };
        let rising = recs(&[(90, 9), (95, 10), (100, 11)]);
        let step = no_scale_in_on_a_rise(12, 17, &rising, base, t(100));
        assert_eq!(step.capacity, 17);
        assert_eq!(step.reason.as_ref().map(|r| r.rule), Some(Rule::LoadSwings));
        assert!(step.reason.unwrap().detail.contains("9 -> 11"));
        let falling = recs(&[(90, 13), (95, 12), (100, 11)]);
        assert_eq!(
            no_scale_in_on_a_rise(12, 17, &falling, base, t(100)).capacity,
            12
        );
        // The low must be within the configured window: an old trough does not count.
        let old_low = recs(&[(70, 5), (90, 11), (100, 11)]);
        assert_eq!(
            no_scale_in_on_a_rise(12, 17, &old_low, base, t(100)).capacity,
            12
        );
        // Not a scale-in: nothing to hold.
        assert_eq!(
            no_scale_in_on_a_rise(17, 17, &rising, base, t(100)).reason,
            None
        );
    }

    /// Issue 10, active prediction: the forecast proposes like requests, without tolerance; a
    /// rise is met by the usual limit per run (issue 19: not in one step as measured demand's
    /// is); below the current capacity it holds no scale-in that complete, unsaturated CPU asks
    /// for (issue 19), and alone it never scales in.
    #[test]
    fn a_forecast_rises_by_the_usual_limit_and_never_scales_in_alone() {
        let p = Policy {
            target_requests_per_instance: Some(500.0),
            ..Policy::default()
        };
        let calm = full(60.0, 3);
        let ahead = Signals {
            forecast_requests_per_minute: Some(6_000.0),
            ..calm.clone()
        };
        let (d, _) = run(
            &p,
            &ahead,
            cap(1, 40, 3),
            Conditions::default(),
            &State::default(),
            0,
        );
        let f = d
            .signals
            .iter()
            .find(|r| r.signal == Signal::Forecast)
            .unwrap();
        assert_eq!(f.proposal, 12, "6,000 / 500");
        assert_eq!(
            d.to, 9,
            "the usual +200 % of 3, not the demand limit: {:?}",
            d.reasons
        );
        // A quieter forecast holds no scale-in that CPU, complete and calm, asks for: the
        // others go to 4 (latency's square root), and so does the group.
        let fast_down = Policy {
            max_down_percent: 100.0,
            ..p.clone()
        };
        let once = |s: &Signals| {
            run(
                &fast_down,
                s,
                cap(1, 40, 6),
                Conditions::default(),
                &State::default(),
                0,
            )
            .0
        };
        let quiet = Signals {
            forecast_requests_per_minute: Some(2_500.0),
            ..full(20.0, 6)
        };
        assert_eq!(once(&quiet).to, 4, "{:?}", once(&quiet).reasons);
        assert!(
            once(&quiet)
                .reasons
                .iter()
                .any(|r| r.detail.contains("not saturated") && r.detail.contains("forecast")),
            "{:?}",
            once(&quiet).reasons
        );
        assert_eq!(once(&full(20.0, 6)).to, 4, "without the forecast");
        // Within the tolerance of the current capacity it still proposes its own count (a
        // tolerance would make it propose `current` and block every scale-in).
        let near = Signals {
            forecast_requests_per_minute: Some(2_900.0),
            ..full(20.0, 6)
        };
        let d = once(&near);
        assert_eq!(d.to, 4, "2,900 / 500 rounds up to 6, which CPU contradicts");
        let f = d
            .signals
            .iter()
            .find(|r| r.signal == Signal::Forecast)
            .unwrap();
        assert!(!f.within_tolerance);
        // Alone (no CPU, no logs), a quieter forecast never scales in.
        let alone = Signals {
            forecast_requests_per_minute: Some(500.0),
            logs_complete: false,
            ..Signals::default()
        };
        assert_eq!(once(&alone).to, 6, "{:?}", once(&alone).reasons);
        // Without a requests target (none set, none learned) a forecast proposes nothing.
        let (d, _) = run(
            &Policy::default(),
            &ahead,
            cap(1, 40, 3),
            Conditions::default(),
            &State::default(),
            0,
        );
        assert!(d.signals.iter().all(|r| r.signal != Signal::Forecast));
    }

    /// Issue 10: with measured demand at hand, the first step goes to the demand's estimate;
    /// what the saturation symptoms (errors of refused requests) ask beyond it still meets the
    /// usual limit, so a step is met at once without overshooting on the symptoms.
    #[test]
    fn measured_demand_sets_the_first_step_and_the_symptoms_beyond_it_wait() {
        let p = Policy {
            target_requests_per_instance: Some(900.0),
            ..Policy::default()
        };
        // 3 instances, a ×12 step: 18,000 requests a minute, CPU pinned, 80 % refused.
        let s = Signals {
            requests_per_minute: Some(18_000.0),
            error_rate: Some(80.0),
            ..full(100.0, 3)
        };
        let (d, _) = run(
            &p,
            &s,
            cap(1, 100, 3),
            Conditions::default(),
            &State::default(),
            0,
        );
        assert_eq!(d.to, 20, "18,000 / 900: {:?}", d.reasons);
        let errors = d
            .signals
            .iter()
            .find(|r| r.signal == Signal::ErrorRate)
            .unwrap();
        assert!(
            errors.proposal > 20,
            "the errors alone ask for more: {errors:?}"
        );
        let limit = d
            .reasons
            .iter()
            .find(|r| r.rule == Rule::LimitUp)
            .expect("a limit");
        assert!(
            limit.detail.contains("measured demand asks for 20"),
            "{}",
            limit.detail
        );
    }

    /// Review of issue 10: a learned rate gone stale (a deploy halved CPU per request) or forged
    /// must not hold the group high while CPU, unsaturated, says it is too big.
    #[test]
    fn requests_ask_no_more_than_an_unsaturated_cpu() {
        let p = Policy::default();
        let stale = State {
            requests_per_instance: Some(crate::state::LearnedRate {
                per_instance: 1e-6,
                runs: 1000,
            }),
            ..State::default()
        };
        let s = Signals {
            requests_per_minute: Some(2_600.0),
            ..full(30.0, 8)
        };
        let (d, _) = run(&p, &s, cap(1, 100, 8), Conditions::default(), &stale, 0);
        assert!(d.to <= 8, "{:?}", d.reasons);
        let requests = d
            .signals
            .iter()
            .find(|r| r.signal == Signal::Requests)
            .unwrap();
        assert!(requests.proposal <= 8, "{requests:?}");
        assert!(d.reasons.iter().any(|r| r.detail.contains("not saturated")));
        // Saturated, the same demand is heard in full (bounded as every proposal is).
        let s = Signals {
            requests_per_minute: Some(2_600.0),
            ..full(100.0, 8)
        };
        let (d, _) = run(&p, &s, cap(1, 100, 8), Conditions::default(), &stale, 0);
        assert!(d.to > 8, "{:?}", d.reasons);
    }

    /// A state whose learned rate is 300 requests a minute per instance, resting on 100 runs.
    fn learned_300_a_minute() -> (crate::state::LearnedRate, State) {
        let learned = crate::state::LearnedRate {
            per_instance: 300.0,
            runs: 100,
        };
        let state = State {
            requests_per_instance: Some(learned),
            ..State::default()
        };
        (learned, state)
    }

    /// Issue 19: a realistic stale rate, 300 requests a minute per instance learned at 65 %
    /// CPU, then the launch template moves to instances twice the size and CPU reads 32 % with
    /// the same traffic: CPU asks for half the group and requests, which asked for the same 8,
    /// kept it there, at twice the cost, forever. Now the scale-in goes through, and the runs
    /// that contradict the rate move it toward what CPU says.
    #[test]
    fn a_stale_learned_rate_does_not_pin_the_group_after_a_larger_instance_type() {
        let p = Policy::default();
        let (_, stale) = learned_300_a_minute();
        let s = Signals {
            requests_per_minute: Some(8.0 * 300.0),
            ..full(32.0, 8)
        };
        let (d, st) = run(&p, &s, cap(1, 100, 8), Conditions::default(), &stale, 0);
        let proposal = |signal: Signal| {
            d.signals
                .iter()
                .find(|r| r.signal == signal)
                .map(|r| r.proposal)
                .unwrap()
        };
        assert!(proposal(Signal::Cpu) < 8, "{:?}", d.signals);
        assert!(
            proposal(Signal::Requests) <= proposal(Signal::Cpu),
            "{:?}",
            d.signals
        );
        assert!(d.to < 8, "the scale-in CPU asks for: {:?}", d.reasons);
        // The run corrected the rate toward 8 × 300 / 8 × 65 / 32 = 609 a minute.
        let relearned = st.requests_per_instance.unwrap();
        assert!(
            relearned.per_instance > 300.0 && relearned.per_instance < 609.0,
            "{relearned:?}"
        );
        // Run after run, it gets there: within a tenth of it in under four hours.
        let mut state = st;
        for _ in 0..45 {
            state = run(&p, &s, cap(1, 100, 8), Conditions::default(), &state, 0).1;
        }
        let rate = state.requests_per_instance.unwrap().per_instance;
        assert!((rate - 609.4).abs() < 61.0, "{rate}");
    }

    /// Below the learning floor nothing is learned: idle work dominates the CPU there.
    #[test]
    fn a_nearly_idle_group_teaches_no_rate() {
        let p = Policy::default();
        let (learned, stale) = learned_300_a_minute();
        let s = Signals {
            requests_per_minute: Some(8.0 * 30.0),
            ..full(8.0, 8)
        };
        let (_, st) = run(&p, &s, cap(1, 100, 8), Conditions::default(), &stale, 0);
        assert_eq!(st.requests_per_instance, Some(learned));
        // Nor does a first rate come from far below the target.
        let far = Signals {
            requests_per_minute: Some(8.0 * 300.0),
            ..full(30.0, 8)
        };
        let (_, st) = run(
            &p,
            &far,
            cap(1, 100, 8),
            Conditions::default(),
            &State::default(),
            0,
        );
        assert_eq!(st.requests_per_instance, None);
    }

    /// Review of issue 10: runs with instances not yet measured (warming, or without data) teach
    /// nothing: the requests were served by more instances than the CPU was measured on.
    #[test]
    fn the_requests_rate_is_learned_only_when_every_instance_is_measured() {
        let p = Policy::default();
        let partly = Signals {
            requests_per_minute: Some(2_600.0),
            counted_instances: 3,
            ..full(65.0, 3)
        };
        let (_, st) = run(
            &p,
            &partly,
            cap(1, 100, 4),
            Conditions::default(),
            &State::default(),
            0,
        );
        assert_eq!(st.requests_per_instance, None);
        let all = Signals {
            requests_per_minute: Some(2_600.0),
            ..full(65.0, 4)
        };
        let (_, st) = run(
            &p,
            &all,
            cap(1, 100, 4),
            Conditions::default(),
            &State::default(),
            0,
        );
        assert_eq!(st.requests_per_instance.map(|r| r.runs), Some(1));
    }

    /// Issue 10: what the policy keeps in the state stays bounded over a year of runs with a
    /// swinging, growing load (the learned rate, the adaptive window, the recommendations).
    #[test]
    fn the_policys_state_stays_bounded_over_a_year_of_runs() {
        let p = Policy::default();
        let mut st = State::default();
        let mut desired = 4u32;
        let mut largest = 0usize;
        let runs = 365 * 24 * 12;
        for k in 0..runs {
            let minute = i64::from(k) * 5;
            // A daily swing, a 40-minute sawtooth on top, and a slow growth over the year.
            let day = (minute % 1440) as f64 / 1440.0;
            let saw = ((minute % 40) as f64 / 40.0 - 0.5).abs();
            let demand = (3_000.0 + 6_000.0 * (std::f64::consts::PI * day).sin() + 2_000.0 * saw)
                * (1.0 + f64::from(k) / f64::from(runs));
            let cpu = (5.0 + 95.0 * demand / (f64::from(desired) * 1_000.0)).min(100.0);
            let s = Signals {
                requests_per_minute: Some(demand),
                ..full(cpu, desired)
            };
            let (d, next) = run(
                &p,
                &s,
                cap(1, 200, desired),
                Conditions::default(),
                &st,
                minute,
            );
            desired = d.to;
            st = next;
            // Stored and read back as in production, once a simulated hour (every run would
            // make this test take half a minute).
            if k % 12 == 0 {
                let bytes = st.encode();
                largest = largest.max(bytes.len());
                st = State::decode(&bytes).expect("round trip");
            }
        }
        assert!(largest < 4 * 1024, "the state grew to {largest} bytes");
        assert!(
            st.recommendations.len() <= 25,
            "{}",
            st.recommendations.len()
        );
        assert!((1..=MAX_STABILIZATION_FACTOR).contains(&st.stabilization_factor));
        assert!(st
            .requests_per_instance
            .is_some_and(|r| r.runs > MIN_LEARNED_RUNS));
    }
}
