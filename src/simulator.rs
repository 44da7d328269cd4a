//! `logscale simulate`: replays a load trace through a capacity model and calls the real
//! decision code ([`crate::decide::decide`], with the state encoded and decoded between runs as
//! in production) every five simulated minutes.
//!
//! # The capacity model
//! - Each instance serves `capacity_per_instance` requests per minute at 100 % CPU. A launched
//!   instance serves after `launch_minutes`, and counts in the CPU average (is past warm-up)
//!   `warmup_minutes` later. A scale-in terminates the newest instances at once.
//! - Utilization `u = load / (serving × capacity)`. CPU is `idle_cpu + (100 − idle_cpu) ×
//!   min(u, 1)`.
//! - Latency is exponential with mean `base_latency_ms / (1 − min(u, 0.99))`, so it rises
//!   sharply as `u` nears 1; the p-th percentile is `mean × −ln(1 − p)` and the slow share
//!   `exp(−slow_ms / mean)`.
//! - Above `u = 1` the excess is refused: an error rate of `1 − 1/u`, plus the trace's own.
//! - A minute violates the SLO when its p95 is over the slow threshold or its error rate over
//!   the error threshold.
//!
//! Costs and outcomes: `instance_minutes` (every launched instance, serving or not),
//! `slo_violation_minutes`, `scaling_actions`, `flaps` (a change of direction within 15
//! minutes of the previous change) and `max_instances`. `oracle_instance_minutes` is what the
//! cheapest capacity that meets the SLO in every minute would cost, were instances ready the
//! minute they were wanted: no policy can meet the SLO for less, so it tells a goal that is out
//! of reach (a cost cap below it) from a policy that falls short.
//!
//! # Time, schedules and history
//! Minute 0 is a Monday, 00:00 UTC (a week-long trace starts its week there). The policy's
//! `LOGSCALE_SCHEDULE` (in `LOGSCALE_TIMEZONE`) narrows the group's limits as in the cycle. With
//! `LOGSCALE_PREDICT` set, each decision's requests per minute (as far as CPU backs them, once
//! a requests target is learned) join a request history kept as the Lambda keeps it
//! ([`crate::forecast::History`]), so a multi-day trace builds the seasons
//! a forecast rests on: `forecast` reports the forecast's error against what came, `active`
//! also hands the decision the highest forecast until capacity asked for then would serve
//! (the warm-up plus one period ahead, as the cycle looks).
//!
//! # Who decides
//! [`Scaler::Logscale`] is logscale's decision under the given [`Policy`] (`original` or
//! `default`). [`Scaler::TargetTracking`] and [`Scaler::Hpa`] are the peers users would pick
//! instead, EC2 Auto Scaling target tracking and the Kubernetes HPA, both on average CPU with
//! logscale's CPU target ([`Policy::target_cpu`]) for a fair comparison; what each follows
//! and simplifies is in [`peers`]. All three run on the same model, at the same cadence
//! ([`PERIOD_MINUTES`]), judged by the same SLO (the policy's slow and error thresholds) and
//! reported the same way.

use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use thiserror::Error;

use crate::decide::{decide, Capacity, Conditions, Policy, Signals};
use crate::forecast::{History, Predict};
use crate::schedule::Schedule;
use crate::state::State;

pub mod peers;

pub use peers::{Hpa, MinuteSample, PeerInput, TargetTracking};

/// Minutes between two decisions, as the Lambda's schedule.
pub const PERIOD_MINUTES: u32 = 5;
/// A change of direction this soon after the previous change is a flap.
pub const FLAP_MINUTES: u32 = 15;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TracePoint {
    pub minute: u32,
    pub requests_per_minute: f64,
    /// Errors the application makes whatever its capacity, %.
    pub error_rate: f64,
}

#[derive(Debug, Error, PartialEq)]
pub enum TraceError {
    #[error("the header must be minute,requests_per_minute[,error_rate], found {0:?}")]
    Header(String),
    #[error("line {line}: {problem}")]
    Line { line: usize, problem: String },
    #[error("the trace has no data rows")]
    Empty,
}

/// Parses `minute,requests_per_minute[,error_rate]` CSV. Minutes must increase; gaps repeat
/// the previous row.
pub fn parse_trace(text: &str) -> Result<Vec<TracePoint>, TraceError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or(TraceError::Empty)?;
    let columns: Vec<&str> = header.split(',').map(str::trim).collect();
    let with_errors = match columns.as_slice() {
        ["minute", "requests_per_minute"] => false,
        ["minute", "requests_per_minute", "error_rate"] => true,
        _ => return Err(TraceError::Header(header.to_string())),
    };
    let mut points: Vec<TracePoint> = Vec::new();
    for (n, line) in lines {
        let bad = |problem: String| TraceError::Line {
            line: n + 1,
            problem,
        };
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != columns.len() {
            return Err(bad(format!(
                "expected {} fields, found {}",
                columns.len(),
                fields.len()
            )));
        }
        let minute: u32 = fields[0]
            .parse()
            .map_err(|_| bad(format!("minute {:?} is not a whole number", fields[0])))?;
        let number = |i: usize, what: &str| -> Result<f64, TraceError> {
            fields[i]
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| {
                    bad(format!(
                        "{what} {:?} is not a non-negative number",
                        fields[i]
                    ))
                })
        };
        let requests_per_minute = number(1, "requests_per_minute")?;
        let error_rate = if with_errors {
            number(2, "error_rate")?
        } else {
            0.0
        };
        if points.last().is_some_and(|p| p.minute >= minute) {
            return Err(bad(format!("minute {minute} does not increase")));
        }
        points.push(TracePoint {
            minute,
            requests_per_minute,
            error_rate,
        });
    }
    if points.is_empty() {
        return Err(TraceError::Empty);
    }
    Ok(points)
}

/// The capacity model's parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Model {
    pub capacity_per_instance: f64,
    pub launch_minutes: u32,
    pub warmup_minutes: u32,
    pub base_latency_ms: f64,
    pub idle_cpu: f64,
    pub min: u32,
    pub max: u32,
    /// Instances at minute 0; `None` starts in a steady state, with enough instances for the
    /// first minute's load at 60 % utilization (the same for every policy).
    pub initial: Option<u32>,
}

impl Model {
    fn initial_for(&self, first_load: f64) -> u32 {
        self.initial
            .unwrap_or_else(|| (first_load / (0.6 * self.capacity_per_instance)).ceil() as u32)
            .clamp(self.min, self.max.max(self.min))
    }
}

impl Default for Model {
    fn default() -> Self {
        Model {
            capacity_per_instance: 1000.0,
            launch_minutes: 3,
            warmup_minutes: 2,
            base_latency_ms: 60.0,
            idle_cpu: 5.0,
            min: 1,
            max: 40,
            initial: None,
        }
    }
}

/// One simulated minute.
#[derive(Debug, Clone, Serialize)]
pub struct Minute {
    pub minute: u32,
    pub load: f64,
    /// Requests per minute the serving instances can take.
    pub capacity: f64,
    pub instances: u32,
    pub serving: u32,
    pub cpu: f64,
    pub p95_ms: f64,
    pub error_rate: f64,
    pub violation: bool,
}

/// What the cycle adds around the policy: a schedule and the request history.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub schedule: Option<Schedule>,
    pub timezone: chrono_tz::Tz,
    pub predict: Predict,
}

/// How the history's forecasts did, with `LOGSCALE_PREDICT` on.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ForecastReport {
    /// Decisions that had a forecast for their window.
    pub windows: u32,
    /// Mean of |forecast − actual| / actual over them, %.
    pub mean_absolute_percent_error: f64,
    /// Decisions in which the forecast's proposal was the largest and above the capacity
    /// (`active` only).
    pub led_scale_outs: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub policy: String,
    pub minutes_simulated: u32,
    pub instance_minutes: u64,
    /// The cheapest capacity meeting the SLO every minute, instances ready at once (a floor no
    /// policy can beat while meeting the SLO).
    pub oracle_instance_minutes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast: Option<ForecastReport>,
    pub slo_violation_minutes: u32,
    pub scaling_actions: u32,
    pub flaps: u32,
    pub max_instances: u32,
    #[serde(skip)]
    pub timeline: Vec<Minute>,
}

impl Report {
    /// The report in one line, for a terminal.
    pub fn summary_line(&self) -> String {
        format!(
            "{}: {} minutes, {} instance-minutes, {} SLO violation minutes, {} scaling actions, {} flaps, at most {} instances",
            self.policy,
            self.minutes_simulated,
            self.instance_minutes,
            self.slo_violation_minutes,
            self.scaling_actions,
            self.flaps,
            self.max_instances
        )
    }

    /// The minute-by-minute timeline as CSV, with a header line.
    pub fn timeline_csv(&self) -> String {
        let mut csv = String::from(
            "minute,load,capacity,instances,serving,cpu,p95_ms,error_rate,violation\n",
        );
        for m in &self.timeline {
            csv.push_str(&format!(
                "{},{:.0},{:.0},{},{},{:.1},{:.0},{:.2},{}\n",
                m.minute,
                m.load,
                m.capacity,
                m.instances,
                m.serving,
                m.cpu,
                m.p95_ms,
                m.error_rate,
                m.violation
            ));
        }
        csv
    }
}

/// Who decides the capacity in a simulation (see [Who decides](self#who-decides)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scaler {
    /// logscale's decision, `decide::decide`, under the policy.
    Logscale,
    /// EC2 Auto Scaling target tracking on average CPU ([`TargetTracking`]).
    TargetTracking,
    /// The Kubernetes HPA on CPU with its default behavior ([`Hpa`]).
    Hpa,
}

impl Scaler {
    /// `target-tracking` or `hpa`; `None` for anything else.
    pub fn peer_named(name: &str) -> Option<Scaler> {
        match name {
            "target-tracking" => Some(Scaler::TargetTracking),
            "hpa" => Some(Scaler::Hpa),
            _ => None,
        }
    }
}

/// The decider of one run, with what it remembers between decisions.
enum Decider {
    /// The encoded state, as the Lambda stores it between runs.
    Logscale {
        stored: Vec<u8>,
    },
    TargetTracking(TargetTracking),
    Hpa(Hpa),
}

/// Runs the trace through the model under logscale's `policy`.
pub fn simulate(trace: &[TracePoint], model: &Model, policy: &Policy, label: &str) -> Report {
    simulate_with(
        trace,
        model,
        policy,
        &Context::default(),
        Scaler::Logscale,
        label,
    )
}

/// One minute of the model at `load` with `serving` instances: (cpu, mean latency, error
/// rate, violation). `own_errors` are the application's, whatever the capacity.
fn minute_outcome(
    model: &Model,
    th: &crate::decide::Thresholds,
    load: f64,
    serving: u32,
    own_errors: f64,
) -> (f64, f64, f64, bool) {
    let capacity = f64::from(serving) * model.capacity_per_instance;
    let u = if capacity > 0.0 {
        load / capacity
    } else if load > 0.0 {
        f64::INFINITY
    } else {
        0.0
    };
    let refused = if u > 1.0 {
        100.0 * (1.0 - 1.0 / u)
    } else {
        0.0
    };
    let error_rate = (refused + own_errors).min(100.0);
    let mean = model.base_latency_ms / (1.0 - u.min(0.99));
    let p95 = mean * -(0.05f64).ln();
    let cpu = model.idle_cpu + (100.0 - model.idle_cpu) * u.min(1.0);
    (
        cpu,
        mean,
        error_rate,
        p95 > th.slow_ms || error_rate > th.error_rate,
    )
}

/// The fewest instances within the model's limits that meet the SLO at `load`. Where the
/// application's own errors break it whatever the capacity, the fewest that would meet it
/// without them (more instances buy nothing there); beyond the maximum, the maximum.
fn fewest_meeting_slo(model: &Model, th: &crate::decide::Thresholds, load: f64, own: f64) -> u32 {
    let (min, max) = (model.min, model.max.max(model.min));
    let fewest = |own| (min..=max).find(|n| !minute_outcome(model, th, load, *n, own).3);
    fewest(own).or_else(|| fewest(0.0)).unwrap_or(max)
}

/// Runs the trace through the model with `scaler` deciding; `policy` gives the SLO (its slow
/// and error thresholds), the latency percentile logscale reads and the CPU target the peers
/// track.
pub fn simulate_with(
    trace: &[TracePoint],
    model: &Model,
    policy: &Policy,
    context: &Context,
    scaler: Scaler,
    label: &str,
) -> Report {
    // Monday 2024-12-09, 00:00 UTC.
    let epoch: DateTime<Utc> = DateTime::from_timestamp(1_733_702_400, 0).expect("valid");
    let mut history = (context.predict != Predict::Off).then(History::default);
    let mut forecast_report = history.as_ref().map(|_| ForecastReport::default());
    let mut forecast_error_sum = 0.0;
    let warmup = Duration::from_std(policy.warmup).unwrap_or_default();
    let th = &policy.thresholds;
    let last = trace.last().map_or(0, |p| p.minute);
    let first = trace.first().map_or(0.0, |p| p.requests_per_minute);
    let initial = model.initial_for(first);
    let mut launched: Vec<u32> = vec![0; initial as usize];
    // Instances present from the start are already serving and warm.
    let ready_at_start = model.launch_minutes + model.warmup_minutes;
    let age = |launch: u32, minute: u32, initial: bool| {
        if initial {
            ready_at_start + minute
        } else {
            minute - launch
        }
    };
    let mut initial_count = initial as usize;
    let mut decider = match scaler {
        Scaler::Logscale => Decider::Logscale {
            stored: State::default().encode(),
        },
        Scaler::TargetTracking => Decider::TargetTracking(TargetTracking::new(policy.target_cpu)),
        Scaler::Hpa => Decider::Hpa(Hpa::new(policy.target_cpu)),
    };
    let mut samples: Vec<MinuteSample> = Vec::with_capacity(PERIOD_MINUTES as usize);
    let mut report = Report {
        policy: label.to_string(),
        minutes_simulated: 0,
        instance_minutes: 0,
        oracle_instance_minutes: 0,
        forecast: None,
        slo_violation_minutes: 0,
        scaling_actions: 0,
        flaps: 0,
        max_instances: launched.len() as u32,
        timeline: Vec::new(),
    };
    let mut last_change: Option<(u32, bool)> = None; // (minute, up?)
    let mut period = (0.0, 0.0, 0.0, 0.0, 0u32); // cpu, errors, latency p-th, slow, minutes
    let mut period_requests = 0.0;
    let mut point = 0;
    for minute in 0..=last {
        while point + 1 < trace.len() && trace[point + 1].minute <= minute {
            point += 1;
        }
        let load = trace[point].requests_per_minute;
        let is_initial = |i: usize| i < initial_count;
        let serving = launched
            .iter()
            .enumerate()
            .filter(|(i, l)| age(**l, minute, is_initial(*i)) >= model.launch_minutes)
            .count() as u32;
        let warm = launched
            .iter()
            .enumerate()
            .filter(|(i, l)| age(**l, minute, is_initial(*i)) >= ready_at_start)
            .count() as u32;
        let capacity = f64::from(serving) * model.capacity_per_instance;
        let own_errors = trace[point].error_rate;
        let (cpu, mean, error_rate, violation) =
            minute_outcome(model, th, load, serving, own_errors);
        let quantile = |p: f64| mean * -(1.0 - p).ln();
        let p95 = quantile(0.95);
        let slow = 100.0 * (-th.slow_ms / mean).exp();

        report.minutes_simulated += 1;
        report.instance_minutes += launched.len() as u64;
        report.oracle_instance_minutes +=
            u64::from(fewest_meeting_slo(model, th, load, own_errors));
        report.slo_violation_minutes += u32::from(violation);
        report.timeline.push(Minute {
            minute,
            load,
            capacity,
            instances: launched.len() as u32,
            serving,
            cpu,
            p95_ms: p95,
            error_rate,
            violation,
        });
        let pct = f64::from(policy.latency_percentile) / 100.0;
        period.0 += cpu;
        period.1 += error_rate;
        period.2 += quantile(pct);
        period.3 += slow;
        period.4 += 1;
        samples.push(MinuteSample {
            minute,
            cpu: (serving > 0).then_some(cpu),
            serving,
            warm,
        });
        // Every request the logs would count, refused ones too.
        period_requests += load;

        if (minute + 1) % PERIOD_MINUTES != 0 {
            continue;
        }
        let n = f64::from(period.4);
        let has_traffic = load > 0.0;
        let requests_per_minute = Some(period_requests / n);
        period_requests = 0.0;
        let signals = Signals {
            requests_per_minute,
            cpu_percent: (warm > 0).then_some(period.0 / n),
            memory_percent: None,
            error_rate: has_traffic.then_some(period.1 / n),
            slow_rate: has_traffic.then_some(period.3 / n),
            latency_ms: has_traffic.then_some(period.2 / n),
            logs_complete: true,
            counted_instances: warm,
            cpu_complete: true,
            metric: None,
            metric_unread: false,
            forecast_requests_per_minute: None,
        };
        let mut signals = signals;
        period = (0.0, 0.0, 0.0, 0.0, 0);
        let current = launched.len() as u32;
        let now = epoch + Duration::minutes(i64::from(minute));
        if let (Some(h), Some(fr), Some(actual)) =
            (&mut history, &mut forecast_report, requests_per_minute)
        {
            // As the cycle: this window's forecast against what came, then it joins the history.
            if let Some(f) = h.forecast(now).filter(|_| actual > 0.0) {
                fr.windows += 1;
                forecast_error_sum += (f.requests_per_minute - actual).abs() / actual;
            }
            if context.predict == Predict::Active {
                let ahead = now + Duration::minutes(i64::from(PERIOD_MINUTES));
                signals.forecast_requests_per_minute = h
                    .highest_forecast(ahead, now + crate::forecast::SIGNAL_LEAD + warmup)
                    .map(|f| f.requests_per_minute);
            }
        }
        let to = match &mut decider {
            Decider::Logscale { stored } => {
                let group = Capacity {
                    min: model.min,
                    max: model.max,
                    desired: current,
                };
                let capacity_limits = match &context.schedule {
                    Some(s) => s.bounds_at(now, context.timezone).limits(group),
                    None => group,
                };
                let conditions = Conditions {
                    activity_in_progress: false,
                    warming_up: current - warm,
                    ages_unknown: false,
                };
                // The real state handling: what was stored is decoded, and the new state encoded.
                let state = State::decode(stored).unwrap_or_default();
                let (decision, next) =
                    decide(policy, &signals, capacity_limits, conditions, &state, now);
                *stored = next.encode();
                // As the cycle: the history keeps the rate the decision took as demand.
                if let (Some(h), Some(rpm)) = (&mut history, decision.backed_requests_per_minute())
                {
                    h.record(now, rpm);
                }
                if let Some(fr) = &mut forecast_report {
                    let largest = decision.signals.iter().max_by_key(|s| s.proposal);
                    if decision.to > current
                        && largest.is_some_and(|s| s.signal == crate::decide::Signal::Forecast)
                    {
                        fr.led_scale_outs += 1;
                    }
                }
                decision.to
            }
            Decider::TargetTracking(peer) => peer.decide(&peer_input(model, current, &samples)),
            Decider::Hpa(peer) => peer.decide(&peer_input(model, current, &samples)),
        };
        samples.clear();
        if to != current {
            let up = to > current;
            report.scaling_actions += 1;
            if let Some((at, was_up)) = last_change {
                if was_up != up && minute - at <= FLAP_MINUTES {
                    report.flaps += 1;
                }
            }
            last_change = Some((minute, up));
            if up {
                launched.extend(std::iter::repeat_n(minute + 1, (to - current) as usize));
            } else {
                launched.truncate(to as usize);
                initial_count = initial_count.min(launched.len());
            }
            report.max_instances = report.max_instances.max(launched.len() as u32);
        }
    }
    if let Some(mut fr) = forecast_report {
        if fr.windows > 0 {
            fr.mean_absolute_percent_error = 100.0 * forecast_error_sum / f64::from(fr.windows);
        }
        report.forecast = Some(fr);
    }
    report
}

fn peer_input<'a>(model: &Model, current: u32, samples: &'a [MinuteSample]) -> PeerInput<'a> {
    PeerInput {
        min: model.min,
        max: model.max,
        current,
        minutes: samples,
    }
}

/// Points a plotted line has at most (about one a pixel of the plot's width).
const MAX_PLOT_POINTS: usize = 1440;

/// Load, serving capacity and instances over time, as an SVG line chart.
pub fn plot_svg(report: &Report, model: &Model) -> String {
    let (w, h, left, right, top, bottom) = (960.0, 420.0, 70.0, 70.0, 40.0, 50.0);
    let t = &report.timeline;
    let minutes = t.len().max(2) as f64 - 1.0;
    let max_load = t
        .iter()
        .map(|m| m.load.max(m.capacity))
        .fold(1.0f64, f64::max);
    let max_inst = t
        .iter()
        .map(|m| f64::from(m.instances))
        .fold(1.0f64, f64::max)
        .max(max_load / model.capacity_per_instance);
    let x = |m: f64| left + (w - left - right) * m / minutes;
    let y = |v: f64, top_value: f64| top + (h - top - bottom) * (1.0 - v / top_value);
    // At most about a point a pixel: a week of minutes would otherwise be a megabyte a plot.
    let stride = t.len().div_ceil(MAX_PLOT_POINTS).max(1);
    let plotted: Vec<&Minute> = t
        .iter()
        .enumerate()
        .filter(|(i, _)| i % stride == 0 || i + 1 == t.len())
        .map(|(_, m)| m)
        .collect();
    let line = |value: &dyn Fn(&Minute) -> f64, scale: f64| {
        plotted
            .iter()
            .map(|m| format!("{:.1},{:.1}", x(f64::from(m.minute)), y(value(m), scale)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{left}" y="22" font-size="14">{} policy: {} instance-minutes, {} SLO violation minutes, {} actions, {} flaps</text>
"##,
        report.policy,
        report.instance_minutes,
        report.slo_violation_minutes,
        report.scaling_actions,
        report.flaps
    );
    // One band per run of violating minutes.
    let mut run_start: Option<u32> = None;
    for (i, m) in t.iter().enumerate() {
        if m.violation && run_start.is_none() {
            run_start = Some(m.minute);
        }
        let run_ends = t.get(i + 1).is_none_or(|next| !next.violation);
        if let (Some(start), true) = (run_start, m.violation && run_ends) {
            let _ = writeln!(
                svg,
                r##"<rect x="{:.1}" y="{top}" width="{:.2}" height="{}" fill="#fbd5d5"/>"##,
                x(f64::from(start)),
                (w - left - right) * f64::from(m.minute + 1 - start) / minutes,
                h - top - bottom
            );
            run_start = None;
        }
    }
    let _ = writeln!(
        svg,
        r##"<polyline fill="none" stroke="#888" stroke-width="1.2" points="{}"/>"##,
        line(&|m| m.load, max_load)
    );
    let _ = writeln!(
        svg,
        r##"<polyline fill="none" stroke="#2a7ab0" stroke-width="1.6" points="{}"/>"##,
        line(&|m| m.capacity, max_load)
    );
    let _ = writeln!(
        svg,
        r##"<polyline fill="none" stroke="#d9822b" stroke-width="1.6" points="{}"/>"##,
        line(&|m| f64::from(m.instances), max_inst)
    );
    let (x0, x1, yb) = (left, w - right, h - bottom);
    let _ = write!(
        svg,
        r##"<line x1="{x0}" y1="{yb}" x2="{x1}" y2="{yb}" stroke="black"/>
<line x1="{x0}" y1="{top}" x2="{x0}" y2="{yb}" stroke="black"/>
<line x1="{x1}" y1="{top}" x2="{x1}" y2="{yb}" stroke="black"/>
<text x="{x0}" y="{}" text-anchor="middle">0</text>
<text x="{x1}" y="{}" text-anchor="middle">{} min</text>
<text x="{}" y="{top}" text-anchor="end">{:.0} rpm</text>
<text x="{}" y="{top}">{:.0} inst.</text>
<text x="{left}" y="{}" fill="#888">— load (requests/min)</text>
<text x="{}" y="{}" fill="#2a7ab0">— serving capacity</text>
<text x="{}" y="{}" fill="#d9822b">— instances (right axis)</text>
<text x="{}" y="{}" fill="#c44">■ SLO violation</text>
</svg>
"##,
        yb + 16.0,
        yb + 16.0,
        minutes,
        x0 - 4.0,
        max_load,
        x1 + 4.0,
        max_inst,
        h - 12.0,
        left + 200.0,
        h - 12.0,
        left + 360.0,
        h - 12.0,
        left + 560.0,
        h - 12.0,
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::PolicyKind;

    fn flat(rpm: f64, minutes: u32) -> Vec<TracePoint> {
        (0..minutes)
            .map(|minute| TracePoint {
                minute,
                requests_per_minute: rpm,
                error_rate: 0.0,
            })
            .collect()
    }

    #[test]
    fn trace_parsing_names_the_bad_line() {
        let ok = parse_trace("minute,requests_per_minute\n0,100\n5,200\n").unwrap();
        assert_eq!(ok.len(), 2);
        let with_errors =
            parse_trace("minute,requests_per_minute,error_rate\n0,100,0.5\n").unwrap();
        assert_eq!(with_errors[0].error_rate, 0.5);
        assert!(matches!(
            parse_trace("time,load\n0,1\n"),
            Err(TraceError::Header(_))
        ));
        assert_eq!(
            parse_trace("minute,requests_per_minute\n0,100\n0,5\n")
                .unwrap_err()
                .to_string(),
            "line 3: minute 0 does not increase"
        );
        assert!(parse_trace("minute,requests_per_minute\n0,-1\n")
            .unwrap_err()
            .to_string()
            .contains("line 2"));
        assert_eq!(
            parse_trace("minute,requests_per_minute\n"),
            Err(TraceError::Empty)
        );
    }

    #[test]
    fn a_steady_load_settles_without_violations_or_flaps() {
        let model = Model {
            initial: Some(2),
            ..Model::default()
        };
        let r = simulate(&flat(3000.0, 240), &model, &Policy::default(), "default");
        assert_eq!(r.flaps, 0);
        assert_eq!(r.minutes_simulated, 240);
        let end = r.timeline.last().unwrap();
        // 3000 rpm at a 65 % CPU target: about 5 instances
        assert!((5..=6).contains(&end.instances), "{}", end.instances);
        // only while the first scale-out launches (2 instances for 3,000 rpm at minute 0)
        assert!(r.slo_violation_minutes <= 10, "{}", r.slo_violation_minutes);
    }

    #[test]
    fn overload_without_scaling_violates_every_minute() {
        let model = Model {
            max: 2,
            initial: Some(2),
            ..Model::default()
        };
        let r = simulate(&flat(5000.0, 60), &model, &Policy::default(), "capped");
        assert_eq!(r.slo_violation_minutes, 60);
        assert!(r.timeline.iter().all(|m| m.error_rate > 50.0));
    }

    #[test]
    fn the_original_policy_steps_one_at_a_time() {
        let model = Model {
            initial: Some(2),
            ..Model::default()
        };
        let policy = Policy {
            kind: PolicyKind::Original,
            ..Policy::default()
        };
        let r = simulate(&flat(8000.0, 60), &model, &policy, "original");
        let counts: Vec<u32> = r.timeline.iter().map(|m| m.instances).collect();
        assert!(counts.windows(2).all(|w| w[1] <= w[0] + 1), "{counts:?}");
        assert!(r.slo_violation_minutes > 20);
    }

    #[test]
    fn the_traces_meet_the_goal_where_it_is_within_reach() {
        // default: at most half the original's SLO violation minutes, at most 110 % of its
        // instance-minutes, no flaps (the README's table comes from the same runs).
        let original = Policy {
            kind: PolicyKind::Original,
            ..Policy::default()
        };
        // Issue 10's classes the tuning did not see, where the goal is within reach for the
        // default (step-x8 and step-x12 are not: `scripts/simulate.py` says why).
        let unseen = [
            "periodic-20",
            "periodic-40",
            "periodic-60",
            "step-x4",
            "week",
            "daily-rush",
        ];
        for name in ["diurnal", "spike", "flash-crowd", "ramp", "noisy-flat"]
            .into_iter()
            .chain(unseen)
        {
            let trace = bundled_trace(name);
            let o = simulate(&trace, &Model::default(), &original, "original");
            let d = simulate(&trace, &Model::default(), &Policy::default(), "default");
            assert!(
                2 * d.slo_violation_minutes <= o.slo_violation_minutes,
                "{name}: {d:?} vs {o:?}"
            );
            assert!(
                10 * d.instance_minutes <= 11 * o.instance_minutes,
                "{name}: {d:?} vs {o:?}"
            );
            assert_eq!(d.flaps, 0, "{name}");
        }
    }

    /// A trace of `traces/`, read at run time so that a test binary reused from a shared
    /// target dir reads this checkout's.
    fn bundled_trace(name: &str) -> Vec<TracePoint> {
        let root = std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
        let path = format!("{root}/traces/{name}.csv");
        parse_trace(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    /// Issue 10: on a daily rush, the forecast from the day before prepares the next days'
    /// rushes (only the first day's is met late), for a few percent more instance-minutes; in
    /// forecast-only mode the decisions are those of the default.
    #[test]
    fn acting_on_the_forecast_prepares_the_next_days_rush() {
        let trace = bundled_trace("daily-rush");
        let context = |predict| Context {
            predict,
            ..Context::default()
        };
        let run = |predict| {
            simulate_with(
                &trace,
                &Model::default(),
                &Policy::default(),
                &context(predict),
                Scaler::Logscale,
                "x",
            )
        };
        let (plain, shown, active) = (
            run(Predict::Off),
            run(Predict::Forecast),
            run(Predict::Active),
        );
        assert_eq!(
            (shown.instance_minutes, shown.slo_violation_minutes),
            (plain.instance_minutes, plain.slo_violation_minutes),
            "forecast-only changes no decision"
        );
        let f = shown.forecast.as_ref().unwrap();
        // Days two and three have a day before, but for the first hour of day one, before
        // the requests target was learned (the history keeps only rates CPU backs).
        assert_eq!(f.windows, 2 * 288 - 12, "{f:?}");
        assert!(f.mean_absolute_percent_error < 5.0, "{f:?}");
        assert!(plain.forecast.is_none());
        assert!(
            active.slo_violation_minutes * 2 <= plain.slo_violation_minutes,
            "{active:?} vs {plain:?}"
        );
        assert!(active.forecast.unwrap().led_scale_outs > 0);
        assert!(10 * active.instance_minutes <= 11 * plain.instance_minutes);
    }

    /// A schedule's floor applies at its local times: minute 0 is Monday 00:00 UTC.
    #[test]
    fn a_schedule_floor_holds_in_its_hours_only() {
        let context = Context {
            schedule: Some(Schedule::parse("mon 01:00-02:00 min=8").unwrap()),
            ..Context::default()
        };
        let r = simulate_with(
            &flat(2000.0, 180),
            &Model::default(),
            &Policy::default(),
            &context,
            Scaler::Logscale,
            "scheduled",
        );
        let at = |m: usize| r.timeline[m].instances;
        assert!(at(30) < 8, "before the rule: {}", at(30));
        assert!((66..120).all(|m| at(m) >= 8), "within it");
        assert!(at(179) < 8, "after it, scaled back in: {}", at(179));
    }

    /// The oracle is a floor: no policy that meets the SLO every minute costs less.
    #[test]
    fn the_cheapest_slo_meeting_capacity_is_a_floor() {
        let model = Model::default();
        for name in ["spike", "step-x8", "periodic-40"] {
            let trace = bundled_trace(name);
            let d = simulate(&trace, &model, &Policy::default(), "default");
            assert!(
                d.oracle_instance_minutes < d.instance_minutes,
                "{name}: {d:?}"
            );
            assert!(
                d.oracle_instance_minutes >= u64::from(d.minutes_simulated) * u64::from(model.min)
            );
        }
        // One steady minute: 8,000 requests at 1,000 per instance need 8 (u = 1 refuses none
        // but its latency is off the scale), and the first count whose p95 is within the
        // threshold is the answer.
        let th = Policy::default().thresholds;
        let n = fewest_meeting_slo(&model, &th, 8000.0, 0.0);
        assert!(!minute_outcome(&model, &th, 8000.0, n, 0.0).3);
        assert!(minute_outcome(&model, &th, 8000.0, n - 1, 0.0).3);
    }

    #[test]
    fn the_peers_settle_on_a_steady_load_without_flaps() {
        let model = Model {
            initial: Some(2),
            ..Model::default()
        };
        for scaler in [Scaler::TargetTracking, Scaler::Hpa] {
            let r = simulate_with(
                &flat(3000.0, 240),
                &model,
                &Policy::default(),
                &Context::default(),
                scaler,
                "peer",
            );
            assert_eq!(r.flaps, 0, "{scaler:?}");
            let end = r.timeline.last().unwrap().instances;
            // 3,000 rpm at a 65 % CPU target: about 5 instances.
            assert!((5..=6).contains(&end), "{scaler:?}: {end}");
        }
    }

    #[test]
    fn target_tracking_waits_three_minutes_and_hpa_doubles_at_most() {
        // ×4 at minute 60, from 3 instances: the alarm needs 3 minutes above the target,
        // the HPA may only double (or add 4) a decision.
        let mut trace = flat(3000.0, 60);
        trace.extend((60..120).map(|minute| TracePoint {
            minute,
            requests_per_minute: 12000.0,
            error_rate: 0.0,
        }));
        let model = Model::default();
        let tt = simulate_with(
            &trace,
            &model,
            &Policy::default(),
            &Context::default(),
            Scaler::TargetTracking,
            "tt",
        );
        let hpa = simulate_with(
            &trace,
            &model,
            &Policy::default(),
            &Context::default(),
            Scaler::Hpa,
            "hpa",
        );
        let at = |r: &Report, minute: usize| r.timeline[minute].instances;
        // The first decision after the step (minute 64) sees 4 minutes above: both scale out.
        assert_eq!(at(&tt, 64), 5);
        assert!(at(&tt, 65) > 5, "{}", at(&tt, 65));
        assert!(at(&hpa, 65) > 5 && at(&hpa, 65) <= 10, "{}", at(&hpa, 65));
        assert!(tt.slo_violation_minutes > 0 && hpa.slo_violation_minutes > 0);
    }

    #[test]
    fn peers_are_named_target_tracking_and_hpa() {
        assert_eq!(
            Scaler::peer_named("target-tracking"),
            Some(Scaler::TargetTracking)
        );
        assert_eq!(Scaler::peer_named("hpa"), Some(Scaler::Hpa));
        assert_eq!(Scaler::peer_named("default"), None);
    }

    #[test]
    fn a_long_plot_is_thinned_and_violations_are_bands() {
        let model = Model {
            max: 2,
            initial: Some(2),
            ..Model::default()
        };
        // A week overloaded: every minute violates, one band; each line at most ~1,440 points.
        let r = simulate(&flat(5000.0, 7 * 1440), &model, &Policy::default(), "week");
        let svg = plot_svg(&r, &model);
        assert_eq!(svg.matches("fill=\"#fbd5d5\"").count(), 1);
        let longest = svg
            .lines()
            .filter(|l| l.starts_with("<polyline"))
            .map(|l| l.matches(',').count())
            .max()
            .unwrap();
        assert!(longest <= MAX_PLOT_POINTS + 1, "{longest}");
        assert!(svg.len() < 150_000, "{}", svg.len());
    }

    #[test]
    fn svg_has_the_three_lines() {
        let r = simulate(
            &flat(1000.0, 30),
            &Model::default(),
            &Policy::default(),
            "default",
        );
        let svg = plot_svg(&r, &Model::default());
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 3);
    }
}
