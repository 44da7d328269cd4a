//! One cycle, start to finish: fetch and parse the window's logs while observing the group and
//! loading the policy's state, then decide, save the state (conditionally), act and build the
//! record. Effects come in through [`Services`], time through [`CycleOptions::now`], so tests
//! drive the real pipeline with in-memory ports ([`crate::memory`]) or the stand-in.

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use crate::act::{apply, Outcome};
use crate::budget::{within, Budget};
use crate::config::Config;
use crate::decide::{decide, Decision, Rule, Signals};
use crate::fetch::{fetch_window, FetchReport, Source};
use crate::observe::{observe, Fleet, FleetLoad};
use crate::parse::summary::LogMetrics;
use crate::ports::{
    Instances, LogStore, Metrics, SaveOutcome, ScalingGroups, Services, StateStore,
};
use crate::record::{DecisionRecord, LogsRecord, StateRecord, Window, MAX_INSTANCES};
use crate::state::State;

/// What varies per invocation.
#[derive(Debug, Clone, Copy)]
pub struct CycleOptions {
    /// The end of the window.
    pub now: DateTime<Utc>,
    pub dry_run: bool,
    /// When the invocation must have answered (Lambda's deadline); `None` for no limit.
    pub deadline: Option<Instant>,
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
    let budget = Budget::new(opts.deadline, cfg.reserve);
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
            budget.gather_by,
        ),
        observe(
            &svc.groups,
            &svc.instances,
            &svc.metrics,
            &cfg.group,
            (window.metrics_start, window.end),
            budget.gather_by,
        ),
        load_state(cfg, &svc.logs, budget.gather_by),
    );
    let warmup = chrono::Duration::from_std(cfg.policy.warmup).unwrap_or_default();
    let fleet = Fleet::from_observation(observed, warmup, opts.now);
    let load = fleet.load();

    let mut errors = fleet.errors.clone();
    if let Some(e) = &fetched.list_error {
        errors.push(e.clone());
    }
    let mut state_record = StateRecord {
        key: cfg.state_key.clone(),
        existed: loaded.existed,
        saved: false,
        note: loaded.note.clone(),
    };

    let capacity = fleet.capacity;
    let outcome = match capacity {
        None => Outcome {
            decision: Decision::hold(
                0,
                Rule::GroupUnavailable,
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
            let signals = signals(cfg, &fetched, &load);
            let (decision, next_state) = decide(
                &cfg.policy,
                &signals,
                capacity,
                fleet.conditions(),
                &loaded.state,
                opts.now,
            );
            let (decision, saved) = save_state(
                cfg,
                budget.save_by,
                &svc.logs,
                &loaded,
                next_state,
                decision,
            )
            .await;
            match saved {
                Saved::Yes => state_record.saved = true,
                Saved::Conflict => {}
                Saved::Failed(error) => errors.push(error),
            }
            apply(
                &svc.groups,
                &cfg.group,
                decision,
                opts.dry_run,
                cfg.honor_cooldown,
                budget.act_by,
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
        instances_omitted: fleet.members.len().saturating_sub(MAX_INSTANCES),
        instances: fleet.instance_records(MAX_INSTANCES),
        cpu_percent: load.cpu_percent,
        memory_percent: load.memory_percent,
        decision: outcome.decision,
        applied: outcome.applied,
        dry_run: opts.dry_run,
        state: state_record,
        errors,
        duration_ms: started.elapsed().as_millis() as u64,
    }
}

/// What the policy reads: the fleet's load and the window's logs.
fn signals(cfg: &Config, fetched: &FetchReport, load: &FleetLoad) -> Signals {
    Signals {
        cpu_percent: load.cpu_percent,
        memory_percent: load.memory_percent,
        error_rate: fetched.summary.error_rate(),
        slow_rate: fetched.summary.slow_rate(),
        latency_ms: fetched
            .summary
            .quantile_ms(f64::from(cfg.policy.latency_percentile) / 100.0),
        logs_complete: fetched.condition.is_complete(),
        counted_instances: load.counted,
        cpu_complete: load.cpu_complete,
    }
}

/// Writes the next state before acting, and only if nobody else wrote it since it was read:
/// of two overlapping runs, at most one acts. Returns the decision as it may now be carried
/// out, and the failure to report if the write failed.
async fn save_state<S: StateStore>(
    cfg: &Config,
    by: Option<Instant>,
    store: &S,
    loaded: &LoadedState,
    next_state: State,
    decision: Decision,
) -> (Decision, Saved) {
    let expected = loaded.etag.as_deref().filter(|_| loaded.existed);
    let save = store.save(&cfg.bucket, &cfg.state_key, next_state.encode(), expected);
    match within(by, "PutObject", save).await {
        Ok(SaveOutcome::Saved) => (decision, Saved::Yes),
        Ok(SaveOutcome::Conflict) => (
            decision.into_hold(
                Rule::StateConflict,
                "another run updated the policy state since this one read it",
            ),
            Saved::Conflict,
        ),
        Err(e) => {
            let error = format!("saving s3://{}/{}: {e}", cfg.bucket, cfg.state_key);
            // Without saved state a later run may repeat this step. More capacity is the safe
            // side of that; a scale-in waits until the state can be kept.
            let decision = if decision.to > decision.from {
                decision
            } else {
                decision.into_hold(
                    Rule::StateUnsaved,
                    "the policy state could not be saved; a scale-in waits until it can",
                )
            };
            (decision, Saved::Failed(error))
        }
    }
}

/// How the state's write ended.
enum Saved {
    Yes,
    /// Another run wrote first.
    Conflict,
    /// The write failed, in these words.
    Failed(String),
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

async fn load_state<S: StateStore>(cfg: &Config, store: &S, by: Option<Instant>) -> LoadedState {
    let fresh = |note: Option<String>, existed, etag| LoadedState {
        state: State::default(),
        etag,
        existed,
        note,
    };
    match within(by, "GetObject", store.load(&cfg.bucket, &cfg.state_key)).await {
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

fn logs_record(f: &FetchReport) -> LogsRecord {
    LogsRecord {
        condition: f.condition,
        objects_listed: f.objects_listed,
        objects_in_window: f.objects_in_window,
        objects_read: f.objects_read,
        formats: f.formats.clone(),
        problems: f.problems.clone(),
        problems_omitted: f.problems_omitted,
        metrics: LogMetrics::from(&f.summary),
    }
}

#[cfg(test)]
mod tests;
