//! One cycle, start to finish: fetch and parse the window's logs while observing the group and
//! loading the policy's state, then decide, save the state (conditionally), act and build the
//! record. Effects come in through [`Services`], time through [`CycleOptions::now`], so tests
//! drive the real pipeline with in-memory ports ([`crate::memory`]) or the stand-in.

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use crate::act::{apply, Outcome};
use crate::budget::{within, Budget};
use crate::config::Config;
use crate::decide::{decide, Capacity, Decision, Rule, Signals};
use crate::fetch::{
    delete_messages, fetch_queued, fetch_window, FetchReport, LogCondition, QueueSource, Selection,
    Source,
};
use crate::observe::{observe, Fleet, FleetLoad};
use crate::parse::summary::LogMetrics;
use crate::ports::{
    Instances, LogStore, Metrics, Queue, SaveOutcome, ScalingGroups, ServiceError, Services,
    StateStore, StoredState,
};
use crate::record::{
    DecisionRecord, ForecastRecord, Ingest, LogsRecord, StateRecord, Window, MAX_INSTANCES,
};
use crate::schedule::ScheduledBounds;
use crate::state::{LastDecision, State};
use crate::window::{self, Plan, Span};

/// What varies per invocation.
#[derive(Debug, Clone, Copy)]
pub struct CycleOptions {
    /// The wall clock when the invocation started.
    pub now: DateTime<Utc>,
    /// The time the run was scheduled for (the EventBridge event's `time`, the CLI's `--at`):
    /// the window ends here, less the lag (see `window`). `None`: `now`.
    pub scheduled: Option<DateTime<Utc>>,
    pub dry_run: bool,
    /// Save the state (the window's high-water mark, the stabilization window). Off for a
    /// one-off dry run asked for by an event or the CLI's flag while the deployment itself is
    /// live: it must not use up the scheduled runs' window.
    pub save_state: bool,
    /// When the invocation must have answered (Lambda's deadline); `None` for no limit.
    pub deadline: Option<Instant>,
}

/// The state as loaded: its content, the tag to write against, and what went wrong.
struct LoadedState {
    state: State,
    etag: Option<String>,
    existed: bool,
    note: Option<String>,
    /// Reading it failed: whether it exists, and at which tag, is unknown, so it cannot be
    /// written safely this run.
    unknown: bool,
}

/// Runs one cycle and returns its record. Never fails: every problem is in the record.
pub async fn run_cycle<L, G, I, M, Q>(
    cfg: &Config,
    svc: &Services<L, G, I, M, Q>,
    opts: CycleOptions,
) -> DecisionRecord
where
    L: LogStore + StateStore + Clone + 'static,
    G: ScalingGroups,
    I: Instances,
    M: Metrics,
    Q: Queue,
{
    let started = std::time::Instant::now();
    let budget = Budget::new(opts.deadline, cfg.reserve);
    let metrics_start =
        opts.now - chrono::Duration::from_std(cfg.metrics_window).unwrap_or_default();

    // The state says where the last window ended, so it is read before the logs; the group is
    // observed meanwhile. (Boxed: the nested futures are otherwise too deep for the compiler's
    // layout computation in the binaries.)
    let logs = Box::pin(async {
        let loaded = load_state(cfg, &svc.logs, budget.gather_by).await;
        let gathered = match window::plan(
            &cfg.tiling,
            opts.scheduled,
            opts.now,
            loaded.state.high_water,
        ) {
            Plan::Read(span) => {
                let fetched =
                    read_window(cfg, svc, &span, &loaded.state, budget, opts.save_state).await;
                Gathered::Read(span, Box::new(fetched))
            }
            Plan::Replay { end, decided_until } => Gathered::Replay { end, decided_until },
        };
        (loaded, gathered)
    });
    let ((loaded, gathered), observed, others, history) = tokio::join!(
        logs,
        observe(
            &svc.groups,
            &svc.instances,
            &svc.metrics,
            &cfg.group,
            cfg.metric.as_ref(),
            (metrics_start, opts.now),
            budget.gather_by,
        ),
        Box::pin(within(
            budget.gather_by,
            "DescribePolicies",
            svc.groups.other_scalers(&cfg.group)
        )),
        Box::pin(load_history(cfg, &svc.logs, budget.gather_by)),
    );
    let warnings = other_scalers_warning(others);
    let unsupported = observed.group.as_ref().and_then(unsupported_capacity);
    let scheduled = cfg
        .schedule
        .as_ref()
        .map(|s| s.bounds_at(opts.now, cfg.timezone))
        .unwrap_or_default();
    let warmup = chrono::Duration::from_std(cfg.policy.warmup).unwrap_or_default();
    let fleet = Fleet::from_observation(observed, warmup, opts.now);
    let load = fleet.load();
    let mut errors = fleet.errors.clone();
    let mut state_record = StateRecord {
        key: cfg.state_key.clone(),
        existed: loaded.existed,
        saved: false,
        note: loaded.note.clone(),
    };
    let capacity = fleet.capacity;

    let (span, fetched) = match gathered {
        Gathered::Read(span, fetched) => (span, fetched),
        Gathered::Replay { end, decided_until } => {
            let replayed = Replayed {
                end,
                decided_until,
                last: loaded.state.last_decision,
            };
            return replay_record(cfg, &opts, &fleet, replayed, state_record, errors, started);
        }
    };
    if let Some(e) = &fetched.list_error {
        errors.push(e.clone());
    }
    let mut notes = span.notes.clone();
    if cfg.queue_url.is_some() && !opts.save_state {
        notes.push("a one-off dry run does not take the discovery queue's messages (they are the schedule's): no logs were read".to_string());
    }
    let quiet = quiet_night(cfg, &fetched, &loaded.state, span.end);
    if let Some(note) = &quiet {
        notes.push(note.clone());
    }
    let logs_complete = fetched.condition.is_complete() || quiet.is_some();

    let window_signals = signals(
        cfg,
        &fetched,
        &load,
        logs_complete,
        (span.end - span.start).num_milliseconds() as f64 / 60_000.0,
    );
    let mut history = history;
    let ahead_at = opts.now
        + FORECAST_AHEAD
        + chrono::Duration::from_std(cfg.policy.warmup).unwrap_or_default();
    let forecast = history
        .as_mut()
        .map(|h| h.forecast_record(span.end, window_signals.requests_per_minute, ahead_at));
    let mut window_signals = window_signals;
    if cfg.predict == crate::forecast::Predict::Active {
        // From the next window until what is started within the next two runs serves: with a
        // rise met by the usual limit per run, pre-scaling for it is timely.
        let lead = opts.now
            + crate::forecast::SIGNAL_LEAD
            + chrono::Duration::from_std(cfg.policy.warmup).unwrap_or_default();
        window_signals.forecast_requests_per_minute = history.as_ref().and_then(|h| {
            h.history
                .highest_forecast(opts.now + FORECAST_AHEAD, lead)
                .map(|f| f.requests_per_minute)
        });
    }
    let (decision, mut next_state) = match capacity {
        None => {
            let detail = format!(
                "cannot size the group: {}",
                errors
                    .first()
                    .map_or("it could not be read", String::as_str)
            );
            (
                Decision::hold(0, Rule::GroupUnavailable, detail),
                loaded.state.clone(),
            )
        }
        Some(capacity) => {
            let (decision, next) = decide(
                &cfg.policy,
                &window_signals,
                scheduled.limits(capacity),
                fleet.conditions(),
                &loaded.state,
                opts.now,
            );
            (with_schedule(decision, capacity, &scheduled), next)
        }
    };
    let decision_backed_rate = decision.backed_requests_per_minute();
    // Proposals are instance counts: applied to a group that counts capacity otherwise, they
    // would be read in its units (4 instances of weight 4 at 80 % CPU proposing 5 "units").
    let decision = match &unsupported {
        Some(why) => decision.into_hold(Rule::UnsupportedCapacity, why.clone()),
        None => decision,
    };
    let decision = spaced_from_the_last_change(
        decision,
        loaded.state.last_change,
        opts.now,
        (cfg.tiling.span / 2).min(MAX_STEP_SPACING),
    );
    // A dry run's silence is not the deployment's: the fail-safe counts only runs that could
    // act on it.
    if opts.dry_run {
        next_state.no_signal_runs = loaded.state.no_signal_runs;
    }
    // Even without a decision the window is done: its objects are in this record, and the
    // next run starts where it ended; but never past a listing that failed or an object left
    // unread, which the next run then reads.
    match done_until(&fetched, span.end) {
        Some(until) => {
            if until < span.end {
                notes.push(format!(
                    "objects were left unread: the next window starts at {} to read them",
                    until.format("%Y-%m-%dT%H:%M:%S%.3fZ")
                ));
            }
            next_state.advance(until, cfg.tiling.late, fetched.counted.iter().cloned());
        }
        None => notes.push("the listing failed: the next run reads this window again".to_string()),
    }
    // Sorted keys listed before a cut-off are behind the next listing even when this window is
    // not done.
    if fetched.list_after.is_some() {
        next_state.list_after.clone_from(&fetched.list_after);
    }
    if fetched.objects_read > 0 {
        next_state.logs_seen = Some(span.end);
    }
    next_state.last_decision = Some(LastDecision {
        at: opts.now,
        from: decision.from,
        to: decision.to,
    });
    next_state.last_change = if decision.to != decision.from {
        next_state.last_decision
    } else {
        loaded.state.last_change
    };
    let mut state_saved = false;
    let decision = if opts.save_state {
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
            Saved::Yes => {
                state_record.saved = true;
                state_saved = true;
            }
            // Two runs read the same window (a duplicate event delivered at once): the other
            // one's record is the window's.
            Saved::Conflict => notes.push(
                "another run saved its state first: its record stands for this window, and this record's counts repeat it"
                    .to_string(),
            ),
            Saved::Failed(error) => errors.push(error),
        }
        decision
    } else {
        state_record.note = Some(
            "a one-off dry run: the state is left as it was, so the scheduled runs still read this window"
                .to_string(),
        );
        decision
    };
    let outcome = match capacity {
        None => Outcome {
            decision,
            applied: false,
            error: None,
        },
        Some(decided_on) => {
            let decision =
                reread_before_acting(&svc.groups, &cfg.group, decided_on, decision, budget.act_by)
                    .await;
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
    let mut forecast = forecast;
    if let (Some(h), Some(record)) = (&mut history, &mut forecast) {
        // What joins the history: the rate the decision took as demand (backed by CPU).
        if let Some(rpm) = decision_backed_rate {
            h.history.record(span.end, rpm);
            record.slots = h.history.recorded();
        }
        if state_saved && !h.unknown {
            let key = crate::forecast::history_key(&cfg.state_key);
            let save = svc
                .logs
                .save(&cfg.bucket, &key, h.history.encode(), h.etag.as_deref());
            match within(budget.tidy_by, "PutObject", save).await {
                Ok(SaveOutcome::Saved) => {}
                Ok(SaveOutcome::Conflict) => {
                    record.note = Some(
                        "another run wrote the history first: this window's requests are not in it"
                            .into(),
                    )
                }
                Err(e) => record.note = Some(format!("the history was not saved: {e}")),
            }
        }
    }
    let mut logs = logs_record(&fetched, cfg.ingest_summaries);
    if let (Some(url), Some(queue)) = (
        &cfg.queue_url,
        logs.discovery.as_mut().and_then(|d| d.queue.as_mut()),
    ) {
        if state_saved {
            // After acting, so the time to delete never delays a scaling change; a message left
            // undeleted comes back, and its object is then known as counted.
            let (deleted, error) =
                delete_messages(&svc.queue, url, &fetched.done_messages, budget.tidy_by).await;
            queue.deleted = deleted;
            errors.extend(error);
        } else if !fetched.done_messages.is_empty() {
            // Like a listed window whose state was not kept: the next run counts these again,
            // and its record is the one that stands.
            notes.push(format!(
                "the state was not saved: the {} queue messages read are left in the queue for the next run",
                fetched.done_messages.len()
            ));
        }
    }

    DecisionRecord {
        time: span.end,
        group: cfg.group.clone(),
        bucket: cfg.bucket.clone(),
        prefix: cfg.prefix.clone(),
        policy: cfg.policy.kind,
        window: Window {
            start: span.start,
            end: span.end,
            minutes: (span.end - span.start).num_milliseconds() as f64 / 60_000.0,
            metrics_start,
            listed_from: span.list_from,
            replay: false,
            notes,
        },
        logs,
        capacity,
        scheduled,
        instances_omitted: fleet.members.len().saturating_sub(MAX_INSTANCES),
        instances: fleet.instance_records(MAX_INSTANCES),
        warmup: fleet.warmup,
        cpu_percent: load.cpu_percent,
        memory_percent: load.memory_percent,
        decision: outcome.decision,
        applied: outcome.applied,
        dry_run: opts.dry_run,
        state: state_record,
        errors,
        warnings,
        forecast,
        duration_ms: started.elapsed().as_millis() as u64,
        invocation: None,
    }
}

/// Lists and reads the window's objects, skipping those an earlier run counted.
async fn read_window<L, G, I, M, Q>(
    cfg: &Config,
    svc: &Services<L, G, I, M, Q>,
    span: &Span,
    state: &State,
    budget: Budget,
    save_state: bool,
) -> FetchReport
where
    L: LogStore + StateStore + Clone + 'static,
    Q: Queue,
{
    let history_key = crate::forecast::history_key(&cfg.state_key);
    let not_logs = [cfg.state_key.as_str(), history_key.as_str()];
    let source = Source {
        bucket: &cfg.bucket,
        prefix: &cfg.prefix,
        ignore: &not_logs,
        summaries: cfg.ingest_summaries.then_some(cfg.summary_prefix.as_str()),
    };
    let selection = Selection {
        list_from: span.list_from,
        start: span.start,
        end: span.end,
        counted: &state.counted,
        keys_sorted: cfg.keys_sorted,
        list_after: state.list_after.as_deref(),
    };
    let mut options = cfg.parse.clone();
    options.backfill_before = cfg.backfill.map(|age| span.start - age);
    if let Some(url) = &cfg.queue_url {
        if !save_state {
            // The queue's messages belong to the schedule: a trial would hide them from it for
            // the visibility timeout and use up their receive count.
            return FetchReport::not_read();
        }
        // Draining may take two fifths of the gathering time; reading needs the rest.
        let drain_by = budget.gather_by.map(|by| {
            let now = Instant::now();
            now + by.saturating_duration_since(now) * 2 / 5
        });
        let queue = QueueSource {
            queue: &svc.queue,
            url,
            drain_by,
        };
        return fetch_queued(
            &svc.logs,
            queue,
            source,
            &selection,
            &options,
            cfg.fetch_concurrency,
            budget.gather_by,
        )
        .await;
    }
    fetch_window(
        &svc.logs,
        source,
        &selection,
        &options,
        cfg.fetch_concurrency,
        budget.gather_by,
    )
    .await
}

/// The logs' side of a cycle: a window read, or a replay of one already decided.
enum Gathered {
    Read(Span, Box<FetchReport>),
    Replay {
        end: DateTime<Utc>,
        decided_until: DateTime<Utc>,
    },
}

/// A window already decided, and what was decided then.
struct Replayed {
    end: DateTime<Utc>,
    decided_until: DateTime<Utc>,
    last: Option<LastDecision>,
}

/// The record of a run whose window was already decided: nothing read, decided or changed.
fn replay_record(
    cfg: &Config,
    opts: &CycleOptions,
    fleet: &Fleet,
    Replayed {
        end,
        decided_until,
        last,
    }: Replayed,
    state_record: StateRecord,
    errors: Vec<String>,
    started: std::time::Instant,
) -> DecisionRecord {
    let current = fleet.capacity.map_or(0, |c| c.desired);
    let earlier = last.map_or(String::new(), |d| {
        format!(
            " (the run at {} decided {} to {}; its record says whether the change was made)",
            d.at.format("%Y-%m-%dT%H:%M:%SZ"),
            d.from,
            d.to
        )
    });
    let detail = format!(
        "the window ending {} was already decided, up to {}{earlier}; this event is a retry or a duplicate, so nothing was read, decided or changed",
        end.format("%Y-%m-%dT%H:%M:%SZ"),
        decided_until.format("%Y-%m-%dT%H:%M:%SZ"),
    );
    let load = fleet.load();
    DecisionRecord {
        time: end,
        group: cfg.group.clone(),
        bucket: cfg.bucket.clone(),
        prefix: cfg.prefix.clone(),
        policy: cfg.policy.kind,
        window: Window {
            start: end,
            end,
            minutes: 0.0,
            metrics_start: end,
            listed_from: end,
            replay: true,
            notes: Vec::new(),
        },
        logs: LogsRecord {
            // Nothing was merged on a replay: no count to show.
            summaries_merged: None,
            ..logs_record(&FetchReport::not_read(), cfg.ingest_summaries)
        },
        capacity: fleet.capacity,
        scheduled: ScheduledBounds::default(),
        instances_omitted: fleet.members.len().saturating_sub(MAX_INSTANCES),
        instances: fleet.instance_records(MAX_INSTANCES),
        warmup: fleet.warmup,
        cpu_percent: load.cpu_percent,
        memory_percent: load.memory_percent,
        decision: Decision::hold(current, Rule::Replay, detail),
        applied: false,
        dry_run: opts.dry_run,
        state: state_record,
        errors,
        warnings: Vec::new(),
        forecast: None,
        duration_ms: started.elapsed().as_millis() as u64,
        invocation: None,
    }
}

/// How far this run's window is done: its end, or just before the oldest object it left
/// unread; `None` when the listing failed (the window is not done at all).
fn done_until(fetched: &FetchReport, end: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if fetched.list_error.is_some() {
        return None;
    }
    Some(fetched.oldest_unread.map_or(end, |oldest| {
        (oldest - chrono::Duration::milliseconds(1)).min(end)
    }))
}

/// An empty window from a source that had logs in the last day, when such a window is taken as
/// no traffic: the note that says so. A listing that failed, or a source never seen or silent
/// for a day (a shipper that may be dead), stays missing data.
fn quiet_night(
    cfg: &Config,
    fetched: &FetchReport,
    state: &State,
    end: DateTime<Utc>,
) -> Option<String> {
    let seen = state.logs_seen?;
    let ago = end - seen;
    (cfg.empty_window_is_quiet
        && fetched.condition == LogCondition::EmptyWindow
        && ago <= chrono::Duration::hours(24))
    .then(|| {
        format!(
            "no log objects in the window, and the last ones came {} min before its end: taken as no traffic (LOGSCALE_EMPTY_WINDOW=no_traffic), so CPU may scale in",
            ago.num_minutes()
        )
    })
}

/// What the policy reads: the fleet's load and the window's logs.
fn signals(
    cfg: &Config,
    fetched: &FetchReport,
    load: &FleetLoad,
    logs_complete: bool,
    minutes: f64,
) -> Signals {
    // Requests per minute over the window: with objects read, or a quiet night's zero. Objects
    // that appeared late (a first run's look-back, a queue's backlog) or a backfill hold logs
    // of more time than the window, and their count over its minutes would overstate demand.
    let window_only = fetched.late_objects == 0 && fetched.summary.backfill_objects == 0;
    let requests_per_minute =
        (minutes > 0.0 && window_only && (fetched.objects_read > 0 || logs_complete))
            .then(|| fetched.summary.requests as f64 / minutes);
    Signals {
        requests_per_minute,
        metric: load.metric,
        metric_unread: load.metric_unread,
        forecast_requests_per_minute: None,
        cpu_percent: load.cpu_percent,
        memory_percent: load.memory_percent,
        error_rate: fetched.summary.error_rate(),
        slow_rate: fetched.summary.slow_rate(),
        latency_ms: fetched
            .summary
            .quantile_ms(f64::from(cfg.policy.latency_percentile) / 100.0),
        logs_complete,
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
    let bytes = next_state.encode();
    let outcome = if loaded.unknown {
        // The read failed, so whether the state exists is unknown. A create-only write
        // (If-None-Match) cannot overwrite anything: it makes the state where there was none
        // (a first run whose role may not list the bucket, so S3 answers a missing key with
        // AccessDenied). If it meets an object, that is this run's unread state, not another
        // run's write: the "state unsaved" path, never a conflict (regression: it held a needed
        // scale-out as `state_conflict`).
        let save = store.save(&cfg.bucket, &cfg.state_key, bytes.clone(), None);
        match within(by, "PutObject", save).await {
            Ok(SaveOutcome::Conflict) => Err(ServiceError::new(
                "PutObject",
                None,
                "not written: the state exists but could not be read this run, so it is left as it is",
            )),
            other => other,
        }
    } else {
        let save = store.save(&cfg.bucket, &cfg.state_key, bytes.clone(), expected);
        match within(by, "PutObject", save).await {
            // A 412 may answer an SDK retry whose first attempt landed: if the object now holds
            // exactly this run's bytes, the write is this run's own.
            Ok(SaveOutcome::Conflict) => {
                let read_back = store.load(&cfg.bucket, &cfg.state_key);
                match within(by, "GetObject", read_back).await {
                    Ok(Some(stored)) if stored.bytes == bytes => Ok(SaveOutcome::Saved),
                    _ => Ok(SaveOutcome::Conflict),
                }
            }
            other => other,
        }
    };
    match outcome {
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

/// Why logscale cannot size this group, when it cannot: its capacity is counted in vCPUs or
/// memory (DesiredCapacityType), or its instances carry weights other than one (a mixed
/// instances policy with WeightedCapacity), so desired capacity is not an instance count.
fn unsupported_capacity(group: &crate::ports::GroupInfo) -> Option<String> {
    if let Some(kind) = group.capacity_type.as_deref().filter(|k| *k != "units") {
        return Some(format!(
            "the group counts its capacity in {kind} (DesiredCapacityType), and logscale sizes groups by instance count: it decides and records, but does not change this group"
        ));
    }
    // A weight that does not read as exactly 1 (including one that does not read at all) is
    // not an instance count.
    let weights: std::collections::BTreeSet<&str> = group
        .instances
        .iter()
        .filter_map(|i| i.weight.as_deref())
        .chain(group.policy_weights.iter().map(String::as_str))
        .map(str::trim)
        .filter(|w| w.parse::<u32>() != Ok(1))
        .collect();
    (!weights.is_empty()).then(|| {
        let listed: Vec<&str> = weights.into_iter().collect();
        format!(
            "the group's instance types carry weights ({}) so its desired capacity is in weighted units, and logscale sizes groups by instance count: it decides and records, but does not change this group",
            listed.join(", ")
        )
    })
}

/// The longest [`spaced_from_the_last_change`] spacing: a schedule's runs are at least this far
/// apart (five minutes less EventBridge's jitter of up to a minute either way is three).
const MAX_STEP_SPACING: chrono::Duration = chrono::Duration::seconds(150);

/// Holds a change that follows the last decided change in the same direction by less than
/// `spacing` (half the window, at most [`MAX_STEP_SPACING`]): the rate limits are per run, so
/// without this, extra invocations (a manual invoke, a retried event for a new time) would each
/// add a step. Holds do not move the last change, so a string of invocations cannot alternate
/// hold and step. Pure.
fn spaced_from_the_last_change(
    decision: Decision,
    last: Option<LastDecision>,
    now: DateTime<Utc>,
    spacing: chrono::Duration,
) -> Decision {
    let Some(last) = last else { return decision };
    let since = now - last.at;
    let same_direction = last.to != last.from
        && decision.to != decision.from
        && (decision.to > decision.from) == (last.to > last.from);
    if !same_direction || since < chrono::Duration::zero() || since >= spacing {
        return decision;
    }
    let rule = if decision.to > decision.from {
        Rule::LimitUp
    } else {
        Rule::LimitDown
    };
    let detail = format!(
        "a change from {} to {} was decided {} s ago, and runs less than {} s apart do not add to each other's steps",
        last.from,
        last.to,
        since.num_seconds(),
        spacing.num_seconds()
    );
    decision.into_hold(rule, detail)
}

/// Names the schedule's rules in the decision when they narrowed the group's limits.
fn with_schedule(decision: Decision, group: Capacity, scheduled: &ScheduledBounds) -> Decision {
    let limits = scheduled.limits(group);
    if limits.min == group.min && limits.max == group.max {
        return decision;
    }
    let mut decision = decision;
    decision.reasons.push(crate::decide::Reason::new(
        Rule::Scheduled,
        format!(
            "the schedule ({}) sets the limits to [{}, {}] (the group's are [{}, {}])",
            scheduled.rules.join("; "),
            limits.min,
            limits.max,
            group.min,
            group.max
        ),
    ));
    decision
}

/// What the record says of the group's other scalers: they fight logscale over its size.
fn other_scalers_warning(found: Result<Vec<String>, ServiceError>) -> Vec<String> {
    match found {
        Ok(others) if others.is_empty() => Vec::new(),
        Ok(others) => vec![format!(
            "the group also has {}: they change its desired capacity too, and each undoes the other's changes; remove them, or pause logscale (LOGSCALE_PAUSED)",
            others.join(", ")
        )],
        Err(e) => vec![format!(
            "could not check the group for other scaling policies and scheduled actions: {e}"
        )],
    }
}

/// Reads the group again just before a change: a scheduled action, another scaling policy, an
/// operator or another tool may have moved it since the read the decision used (up to a minute
/// ago), and acting on the old numbers would overwrite theirs. If desired, min or max moved,
/// the change becomes a hold that says so; the next run decides on the new numbers. A re-read
/// that fails leaves the decision as it is: the first read is seconds old, and AWS still
/// refuses a size outside the group's limits.
async fn reread_before_acting<G: ScalingGroups>(
    groups: &G,
    group: &str,
    decided_on: Capacity,
    decision: Decision,
    by: Option<Instant>,
) -> Decision {
    if decision.to == decision.from {
        return decision;
    }
    let now = match within(by, "DescribeAutoScalingGroups", groups.describe(group)).await {
        Ok(Some(g)) => Capacity {
            min: g.min,
            max: g.max,
            desired: g.desired,
        },
        Ok(None) => {
            return decision.into_hold(
                Rule::GroupChanged,
                format!("the group {group} no longer exists"),
            )
        }
        Err(_) => return decision,
    };
    if now == decided_on {
        return decision;
    }
    let detail = format!(
        "the group changed since it was read (desired {} -> {}, min {} -> {}, max {} -> {}): something else sizes it too; the next run decides on the new numbers",
        decided_on.desired, now.desired, decided_on.min, now.min, decided_on.max, now.max
    );
    decision.into_hold(Rule::GroupChanged, detail)
}

/// How far ahead of now the record's forecast looks, besides the warm-up: one schedule period
/// (what a pre-scaling run would have to prepare for).
const FORECAST_AHEAD: chrono::Duration = chrono::Duration::minutes(5);

/// The request history as loaded (`LOGSCALE_PREDICT=forecast`).
struct LoadedHistory {
    history: crate::forecast::History,
    etag: Option<String>,
    /// Reading it failed: it is not written this run (it may exist).
    unknown: bool,
    note: Option<String>,
}

impl LoadedHistory {
    /// What the history says of this window and of the time ahead, against what came; then
    /// this window's requests join it.
    fn forecast_record(
        &mut self,
        end: DateTime<Utc>,
        actual: Option<f64>,
        ahead_at: DateTime<Utc>,
    ) -> ForecastRecord {
        let this_window = self.history.forecast(end);
        let ahead = self.history.forecast(ahead_at);
        ForecastRecord {
            this_window,
            actual_requests_per_minute: actual,
            ahead_at,
            ahead,
            slots: self.history.recorded(),
            note: self.note.clone(),
        }
    }
}

async fn load_history<S: StateStore>(
    cfg: &Config,
    store: &S,
    by: Option<Instant>,
) -> Option<LoadedHistory> {
    if cfg.predict == crate::forecast::Predict::Off {
        return None;
    }
    let key = crate::forecast::history_key(&cfg.state_key);
    let empty = |unknown, etag, note| LoadedHistory {
        history: crate::forecast::History::default(),
        etag,
        unknown,
        note,
    };
    Some(
        match within(by, "GetObject", store.load(&cfg.bucket, &key)).await {
            Ok(None) => empty(false, None, None),
            Ok(Some(stored)) if stored.refused.is_none() => {
                match crate::forecast::History::decode(&stored.bytes) {
                    Ok(history) => LoadedHistory {
                        history,
                        etag: stored.etag,
                        unknown: false,
                        note: None,
                    },
                    Err(e) => empty(
                        false,
                        stored.etag,
                        Some(format!(
                            "the history was unreadable ({e}); starting a new one"
                        )),
                    ),
                }
            }
            Ok(Some(stored)) => empty(
                false,
                stored.etag,
                Some("the history object is too large; starting a new one".into()),
            ),
            Err(e) => empty(
                true,
                None,
                Some(format!(
                    "could not read the history ({e}); it is not written this run"
                )),
            ),
        },
    )
}

/// How the state's write ended.
enum Saved {
    Yes,
    /// Another run wrote first.
    Conflict,
    /// The write failed, in these words.
    Failed(String),
}

async fn load_state<S: StateStore>(cfg: &Config, store: &S, by: Option<Instant>) -> LoadedState {
    let fresh = |note: Option<String>, existed, etag| LoadedState {
        state: State::default(),
        etag,
        existed,
        note,
        unknown: false,
    };
    match within(by, "GetObject", store.load(&cfg.bucket, &cfg.state_key)).await {
        Ok(None) => fresh(None, false, None),
        // Too large to read: it exists at a known tag, so this run overwrites it.
        Ok(Some(StoredState {
            refused: Some(why),
            etag,
            ..
        })) => fresh(
            Some(format!(
                "stored state refused ({why}); starting fresh, and this run replaces it"
            )),
            true,
            etag,
        ),
        Ok(Some(stored)) => match State::decode_noting(&stored.bytes) {
            Ok(decoded) => LoadedState {
                state: decoded.state,
                etag: stored.etag,
                existed: true,
                // Entries past the state's caps are named: someone may have tampered with it.
                note: (!decoded.dropped.is_empty()).then(|| decoded.dropped.join("; ")),
                unknown: false,
            },
            Err(e) => fresh(
                Some(format!("stored state unreadable ({e}); starting fresh")),
                true,
                stored.etag,
            ),
        },
        Err(e) => LoadedState {
            unknown: true,
            ..fresh(
                Some(format!(
                    "could not read the state ({e}); starting fresh, and it is not written this run"
                )),
                false,
                None,
            )
        },
    }
}

fn logs_record(f: &FetchReport, summaries: bool) -> LogsRecord {
    LogsRecord {
        condition: f.condition,
        ingest: if summaries {
            Ingest::Summaries
        } else {
            Ingest::Direct
        },
        // In summary mode every object read is one summary merged.
        summaries_merged: summaries.then_some(f.objects_read),
        discovery: f.discovery.clone(),
        objects_listed: f.objects_listed,
        objects_in_window: f.objects_in_window,
        objects_read: f.objects_read,
        formats: f.formats.clone(),
        problems: f.problems.clone(),
        problems_omitted: f.problems_omitted,
        late_objects: f.late_objects,
        already_counted: f.already_counted,
        backfill_objects: f.summary.backfill_objects,
        metrics: LogMetrics::from(&f.summary),
    }
}

#[cfg(test)]
mod queue_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tiling_tests;
