//! One cycle, start to finish: fetch and parse the window's logs while observing the group and
//! loading the policy's state, then decide, save the state (conditionally), act and build the
//! record. Effects come in through [`Services`], time through [`CycleOptions::now`], so tests
//! drive the real pipeline with in-memory ports or the stand-in.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use crate::act::{apply, Outcome};
use crate::config::Config;
use crate::decide::{decide, Capacity, Conditions, Decision, Signals};
use crate::fetch::{fetch_window, FetchReport, Source};
use crate::parse::summary::LogMetrics;
use crate::ports::{
    GroupInfo, InstanceInfo, InstanceLoad, Instances, LogStore, Metrics, SaveOutcome,
    ScalingGroups, StateStore,
};
use crate::record::{DecisionRecord, InstanceRecord, LogsRecord, StateRecord, Window};
use crate::state::State;

/// The outside world, one port per service. `logs` also keeps the policy's state.
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
    activity_in_progress: bool,
    errors: Vec<String>,
}

/// The state as loaded: its content, the tag to write against, and what went wrong.
struct LoadedState {
    state: State,
    etag: Option<String>,
    existed: bool,
    note: Option<String>,
}

/// Runs one cycle and returns its record. Never fails: every problem is in the record.
pub async fn run_cycle<L, G, I, M>(
    cfg: &Config,
    svc: &Services<L, G, I, M>,
    opts: CycleOptions,
) -> DecisionRecord
where
    L: LogStore + StateStore + Clone + 'static,
    G: ScalingGroups,
    I: Instances,
    M: Metrics,
{
    let started = std::time::Instant::now();
    let window = window(cfg, opts.now);
    let fetch_deadline = opts
        .deadline
        .map(|d| d.checked_sub(cfg.reserve).unwrap_or(d));
    let not_logs = [cfg.state_key.as_str()];

    let (fetched, observed, loaded) = tokio::join!(
        fetch_window(
            &svc.logs,
            Source {
                bucket: &cfg.bucket,
                prefix: &cfg.prefix,
                ignore: &not_logs,
            },
            (window.start, window.end),
            &cfg.parse,
            cfg.fetch_concurrency,
            fetch_deadline,
        ),
        observe(cfg, svc, window.metrics_start, window.end),
        load_state(cfg, &svc.logs),
    );

    let mut errors = observed.errors.clone();
    if let Some(e) = &fetched.list_error {
        errors.push(e.clone());
    }
    let (instances, conditions) = instance_records(cfg, &observed, opts.now);
    let counted: Vec<&InstanceRecord> = instances.iter().filter(|i| i.counted).collect();
    let cpu = average(counted.iter().filter_map(|i| i.cpu_percent));
    let memory = average(counted.iter().filter_map(|i| i.memory_percent));
    let mut state_record = StateRecord {
        key: cfg.state_key.clone(),
        existed: loaded.existed,
        saved: false,
        note: loaded.note.clone(),
    };

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
            let in_service_warm = instances
                .iter()
                .filter(|i| i.lifecycle_state == "InService" && !i.warming_up)
                .count();
            let signals = Signals {
                cpu_percent: cpu,
                memory_percent: memory,
                error_rate: fetched.summary.error_rate(),
                slow_rate: fetched.summary.slow_rate(),
                latency_ms: fetched
                    .summary
                    .quantile_ms(f64::from(cfg.policy.latency_percentile) / 100.0),
                logs_complete: fetched.condition.is_complete(),
                counted_instances: counted.len() as u32,
                cpu_complete: counted.len() == in_service_warm,
            };
            let (decision, next_state) = decide(
                &cfg.policy,
                &signals,
                capacity,
                conditions,
                &loaded.state,
                opts.now,
            );
            // The state is written before acting, and only if nobody else wrote it since it
            // was read: of two overlapping runs, at most one acts.
            let expected = loaded.etag.as_deref().filter(|_| loaded.existed);
            let decision = match svc
                .logs
                .save(&cfg.bucket, &cfg.state_key, next_state.encode(), expected)
                .await
            {
                Ok(SaveOutcome::Saved) => {
                    state_record.saved = true;
                    decision
                }
                Ok(SaveOutcome::Conflict) => decision.into_hold(
                    "state_conflict",
                    "another run updated the policy state since this one read it",
                ),
                Err(e) => {
                    errors.push(format!("saving s3://{}/{}: {e}", cfg.bucket, cfg.state_key));
                    // Without saved state a later run may repeat this step. More capacity is
                    // the safe side of that; a scale-in waits until the state can be kept.
                    if decision.to > decision.from {
                        decision
                    } else {
                        decision.into_hold(
                            "state_unsaved",
                            "the policy state could not be saved; a scale-in waits until it can",
                        )
                    }
                }
            };
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
        policy: cfg.policy.kind,
        window,
        logs: logs_record(&fetched),
        capacity,
        instances,
        cpu_percent: cpu,
        memory_percent: memory,
        decision: outcome.decision,
        applied: outcome.applied,
        dry_run: opts.dry_run,
        state: state_record,
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

async fn load_state<S: StateStore>(cfg: &Config, store: &S) -> LoadedState {
    let fresh = |note: Option<String>, existed, etag| LoadedState {
        state: State::default(),
        etag,
        existed,
        note,
    };
    match store.load(&cfg.bucket, &cfg.state_key).await {
        Ok(None) => fresh(None, false, None),
        Ok(Some(stored)) => match State::decode(&stored.bytes) {
            Ok(state) => LoadedState {
                state,
                etag: stored.etag,
                existed: true,
                note: None,
            },
            Err(e) => fresh(
                Some(format!("stored state unreadable ({e}); starting fresh")),
                true,
                stored.etag,
            ),
        },
        Err(e) => fresh(
            Some(format!("could not read the state ({e}); starting fresh")),
            false,
            None,
        ),
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
        activity_in_progress: false,
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
    let (ec2, load, activity) = tokio::join!(
        async {
            if ids.is_empty() {
                Ok(Vec::new())
            } else {
                svc.instances.describe(&ids).await
            }
        },
        async {
            if ids.is_empty() {
                Ok(BTreeMap::new())
            } else {
                svc.metrics.instance_load(&ids, start, end).await
            }
        },
        svc.groups.activity_in_progress(&cfg.group),
    );
    match ec2 {
        Ok(list) => obs.ec2 = list.into_iter().map(|i| (i.id.clone(), i)).collect(),
        Err(e) => obs.errors.push(e.to_string()),
    }
    match load {
        Ok(load) => obs.load = load,
        Err(e) => obs.errors.push(e.to_string()),
    }
    match activity {
        Ok(busy) => obs.activity_in_progress = busy,
        Err(e) => {
            // Unknown counts as busy: it only ever holds a scale-in.
            obs.activity_in_progress = true;
            obs.errors.push(e.to_string());
        }
    }
    obs
}

/// Per-instance records, and what holds a scale-in (warm-up, activity).
fn instance_records(
    cfg: &Config,
    obs: &Observation,
    now: DateTime<Utc>,
) -> (Vec<InstanceRecord>, Conditions) {
    let mut conditions = Conditions {
        activity_in_progress: obs.activity_in_progress,
        warming_up: 0,
    };
    let Some(group) = &obs.group else {
        return (Vec::new(), conditions);
    };
    let warmup = chrono::Duration::from_std(cfg.policy.warmup).unwrap_or_default();
    let records = group
        .instances
        .iter()
        .map(|member| {
            let ec2 = obs.ec2.get(&member.id);
            let load = obs.load.get(&member.id).cloned().unwrap_or_default();
            let in_service = member.lifecycle_state == "InService";
            let launched = ec2.and_then(|i| i.launch_time);
            let warming_up = member.lifecycle_state.starts_with("Pending")
                || (in_service && launched.is_some_and(|t| now - t < warmup));
            conditions.warming_up += u32::from(warming_up);
            let note = if warming_up {
                Some("warming up: left out of the averages".to_string())
            } else if !in_service {
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
                launch_time: launched,
                cpu_percent: load.cpu_percent,
                memory_percent: load.memory_percent,
                cpu_datapoints: load.cpu_datapoints,
                warming_up,
                counted: in_service && !warming_up && load.cpu_percent.is_some(),
                note,
            }
        })
        .collect();
    (records, conditions)
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
