//! One cycle, start to finish: fetch and parse the window's logs while observing the group, then
//! decide, act and build the record. Effects come in through [`Services`], time through
//! [`CycleOptions::now`], so tests drive the real pipeline with in-memory ports or the stand-in.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use crate::act::{apply, Outcome};
use crate::config::Config;
use crate::decide::{decide, Capacity, Decision, Signals};
use crate::fetch::{fetch_window, FetchReport};
use crate::parse::summary::LogMetrics;
use crate::ports::{
    GroupInfo, InstanceInfo, InstanceLoad, Instances, LogStore, Metrics, ScalingGroups,
};
use crate::record::{DecisionRecord, InstanceRecord, LogsRecord, Window};

/// The outside world, one port per service.
pub struct Services<L, G, I, M> {
    pub logs: L,
    pub groups: G,
    pub instances: I,
    pub metrics: M,
}

/// What varies per invocation.
#[derive(Debug, Clone, Copy)]
pub struct CycleOptions {
    /// The end of the window.
    pub now: DateTime<Utc>,
    pub dry_run: bool,
    /// When the invocation must have answered (Lambda's deadline); `None` for no limit.
    pub deadline: Option<Instant>,
}

/// What observing the group produced.
struct Observation {
    group: Option<GroupInfo>,
    ec2: BTreeMap<String, InstanceInfo>,
    load: BTreeMap<String, InstanceLoad>,
    errors: Vec<String>,
}

/// Runs one cycle and returns its record. Never fails: every problem is in the record.
pub async fn run_cycle<L, G, I, M>(
    cfg: &Config,
    svc: &Services<L, G, I, M>,
    opts: CycleOptions,
) -> DecisionRecord
where
    L: LogStore + Clone + 'static,
    G: ScalingGroups,
    I: Instances,
    M: Metrics,
{
    let started = std::time::Instant::now();
    let window = window(cfg, opts.now);
    let fetch_deadline = opts
        .deadline
        .map(|d| d.checked_sub(cfg.reserve).unwrap_or(d));

    let (fetched, observed) = tokio::join!(
        fetch_window(
            &svc.logs,
            &cfg.bucket,
            &cfg.prefix,
            (window.start, window.end),
            &cfg.parse,
            cfg.fetch_concurrency,
            fetch_deadline,
        ),
        observe(cfg, svc, window.metrics_start, window.end),
    );

    let mut errors = observed.errors.clone();
    if let Some(e) = &fetched.list_error {
        errors.push(e.clone());
    }
    let instances = instance_records(&observed);
    let cpu = average(
        instances
            .iter()
            .filter(|i| i.counted)
            .filter_map(|i| i.cpu_percent),
    );
    let memory = average(
        instances
            .iter()
            .filter(|i| i.counted)
            .filter_map(|i| i.memory_percent),
    );

    let capacity = observed.group.as_ref().map(|g| Capacity {
        min: g.min,
        max: g.max,
        desired: g.desired,
    });
    let outcome = match capacity {
        None => Outcome {
            decision: Decision::hold(
                0,
                "group_unavailable",
                format!(
                    "cannot size the group: {}",
                    errors
                        .first()
                        .map_or("it could not be read", String::as_str)
                ),
            ),
            applied: false,
            error: None,
        },
        Some(capacity) => {
            let signals = Signals {
                cpu_percent: cpu,
                memory_percent: memory,
                error_rate: fetched.summary.error_rate(),
                slow_rate: fetched.summary.slow_rate(),
                logs_complete: fetched.condition.is_complete(),
            };
            let decision = decide(&cfg.thresholds, &signals, capacity);
            apply(
                &svc.groups,
                &cfg.group,
                decision,
                opts.dry_run,
                cfg.honor_cooldown,
            )
            .await
        }
    };
    if let Some(e) = &outcome.error {
        errors.push(e.to_string());
    }

    DecisionRecord {
        time: opts.now,
        group: cfg.group.clone(),
        bucket: cfg.bucket.clone(),
        prefix: cfg.prefix.clone(),
        window,
        logs: logs_record(&fetched),
        capacity,
        instances,
        cpu_percent: cpu,
        memory_percent: memory,
        decision: outcome.decision,
        applied: outcome.applied,
        dry_run: opts.dry_run,
        errors,
        duration_ms: started.elapsed().as_millis() as u64,
    }
}

fn window(cfg: &Config, now: DateTime<Utc>) -> Window {
    let span = |d: std::time::Duration| chrono::Duration::from_std(d).unwrap_or_default();
    Window {
        start: now - span(cfg.window),
        end: now,
        minutes: cfg.window.as_secs_f64() / 60.0,
        metrics_start: now - span(cfg.metrics_window),
    }
}

async fn observe<L, G, I, M>(
    cfg: &Config,
    svc: &Services<L, G, I, M>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Observation
where
    G: ScalingGroups,
    I: Instances,
    M: Metrics,
{
    let mut obs = Observation {
        group: None,
        ec2: BTreeMap::new(),
        load: BTreeMap::new(),
        errors: Vec::new(),
    };
    match svc.groups.describe(&cfg.group).await {
        Ok(Some(group)) => obs.group = Some(group),
        Ok(None) => {
            obs.errors.push(format!(
                "Auto Scaling group {:?} not found (check LOGSCALE_GROUP and the region)",
                cfg.group
            ));
            return obs;
        }
        Err(e) => {
            obs.errors.push(e.to_string());
            return obs;
        }
    }
    let ids: Vec<String> = obs
        .group
        .as_ref()
        .map(|g| g.instances.iter().map(|i| i.id.clone()).collect())
        .unwrap_or_default();
    if ids.is_empty() {
        return obs;
    }
    let (ec2, load) = tokio::join!(
        svc.instances.describe(&ids),
        svc.metrics.instance_load(&ids, start, end)
    );
    match ec2 {
        Ok(list) => obs.ec2 = list.into_iter().map(|i| (i.id.clone(), i)).collect(),
        Err(e) => obs.errors.push(e.to_string()),
    }
    match load {
        Ok(load) => obs.load = load,
        Err(e) => obs.errors.push(e.to_string()),
    }
    obs
}

fn instance_records(obs: &Observation) -> Vec<InstanceRecord> {
    let Some(group) = &obs.group else {
        return Vec::new();
    };
    group
        .instances
        .iter()
        .map(|member| {
            let ec2 = obs.ec2.get(&member.id);
            let load = obs.load.get(&member.id).cloned().unwrap_or_default();
            let in_service = member.lifecycle_state == "InService";
            let note = if !in_service {
                Some(format!(
                    "{} instances are left out of the averages",
                    member.lifecycle_state
                ))
            } else if load.cpu_percent.is_none() {
                Some("no CPU datapoints in the metrics window".to_string())
            } else {
                None
            };
            InstanceRecord {
                id: member.id.clone(),
                lifecycle_state: member.lifecycle_state.clone(),
                health_status: member.health_status.clone(),
                state: ec2.map(|i| i.state.clone()),
                instance_type: ec2.and_then(|i| i.instance_type.clone()),
                cpu_percent: load.cpu_percent,
                memory_percent: load.memory_percent,
                cpu_datapoints: load.cpu_datapoints,
                counted: in_service && load.cpu_percent.is_some(),
                note,
            }
        })
        .collect()
}

fn logs_record(f: &FetchReport) -> LogsRecord {
    LogsRecord {
        condition: f.condition,
        objects_listed: f.objects_listed,
        objects_in_window: f.objects_in_window,
        objects_read: f.objects_read,
        formats: f.formats.clone(),
        problems: f.problems.clone(),
        metrics: LogMetrics::from(&f.summary),
    }
}

fn average(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}
