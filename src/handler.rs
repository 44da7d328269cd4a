//! The Lambda event → one cycle. The handler accepts the EventBridge scheduled event (its
//! envelope is ignored; `detail` may carry overrides) or a plain JSON object of overrides, such
//! as `{"dry_run": true}`. Unknown override keys are an error that names them, so a typo in a
//! test event is not silently ignored. An override may only make a run safer: anyone allowed to
//! invoke the function could otherwise switch a deployed dry run into a live one.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;
use tokio::time::Instant;

use crate::config::Config;
use crate::cycle::{run_cycle, CycleOptions};
use crate::ports::Services;
use crate::ports::{Instances, LogStore, Metrics, ScalingGroups};
use crate::record::DecisionRecord;

/// Per-invocation settings an event may carry.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// `true` makes this invocation a dry run; `false` is refused (only the deployment's
    /// `LOGSCALE_DRY_RUN` can make logscale act).
    pub dry_run: Option<bool>,
}

#[derive(Debug, Error)]
pub enum EventError {
    #[error("the event must be a JSON object, got {0}")]
    NotAnObject(&'static str),
    #[error("bad overrides in the event: {0} (known keys: dry_run)")]
    BadOverrides(serde_json::Error),
    #[error("the event asks for \"dry_run\": false: an event can only turn a dry run on; whether logscale acts is the deployment's LOGSCALE_DRY_RUN (the DryRun parameter)")]
    UnsafeOverride,
}

/// Keys of the EventBridge envelope, which are not overrides.
const ENVELOPE: [&str; 9] = [
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
];

impl Overrides {
    /// Reads overrides from a scheduled event's `detail` or from a plain object.
    pub fn from_event(event: &Value) -> Result<Overrides, EventError> {
        let object = match event {
            Value::Object(map) => map,
            Value::Null => return Ok(Overrides::default()),
            Value::Array(_) => return Err(EventError::NotAnObject("an array")),
            Value::String(_) => return Err(EventError::NotAnObject("a string")),
            Value::Number(_) => return Err(EventError::NotAnObject("a number")),
            Value::Bool(_) => return Err(EventError::NotAnObject("a boolean")),
        };
        let is_scheduled = object.contains_key("detail-type") || object.contains_key("source");
        let source = if is_scheduled {
            let mut fields = object.get("detail").cloned().unwrap_or(Value::Null);
            if !fields.is_object() {
                fields = Value::Object(Default::default());
            }
            // Overrides may also sit beside the envelope, as in events/dry-run.json variants.
            if let Value::Object(detail) = &mut fields {
                for (k, v) in object
                    .iter()
                    .filter(|(k, _)| !ENVELOPE.contains(&k.as_str()))
                {
                    detail.insert(k.clone(), v.clone());
                }
            }
            fields
        } else {
            event.clone()
        };
        let overrides: Overrides =
            serde_json::from_value(source).map_err(EventError::BadOverrides)?;
        if overrides.dry_run == Some(false) {
            return Err(EventError::UnsafeOverride);
        }
        Ok(overrides)
    }
}

/// The time a scheduled event was scheduled for (its envelope's `time`); `None` for a plain
/// object of overrides or an unreadable time. The window ends there (see `window`).
pub fn scheduled_time(event: &Value) -> Option<DateTime<Utc>> {
    let time = event.get("time")?.as_str()?;
    DateTime::parse_from_rfc3339(time)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Runs one cycle for an invocation.
pub async fn handle<L, G, I, M, Q>(
    cfg: &Config,
    svc: &Services<L, G, I, M, Q>,
    event: &Value,
    now: DateTime<Utc>,
    deadline: Option<Instant>,
) -> Result<DecisionRecord, EventError>
where
    L: LogStore + crate::ports::StateStore + Clone + 'static,
    G: ScalingGroups,
    I: Instances,
    M: Metrics,
    Q: crate::ports::Queue,
{
    let overrides = Overrides::from_event(event)?;
    let options = CycleOptions {
        now,
        scheduled: scheduled_time(event),
        dry_run: overrides.dry_run.unwrap_or(cfg.dry_run),
        // An event that asks for a dry run of a live deployment is a trial, not a scheduled
        // run: it leaves the state (and so the window) to the schedule.
        save_state: overrides.dry_run != Some(true) || cfg.dry_run,
        deadline,
    };
    // Boxed: the cycle's future is deep, and the binaries' async mains would otherwise pass
    // the compiler's layout recursion limit.
    Ok(Box::pin(run_cycle(cfg, svc, options)).await)
}

/// The invocation's deadline (Lambda gives it in epoch milliseconds) as a monotonic instant,
/// `margin` before it: `now_ms` is the wall clock's epoch milliseconds read at `now`. A deadline
/// already past is no deadline Lambda gives (the emulators give one, against another clock):
/// `None`, no deadline known, as for a run without one.
pub fn deadline_from_epoch_ms(
    deadline_ms: u64,
    now_ms: u64,
    now: Instant,
    margin: std::time::Duration,
) -> Option<Instant> {
    let left = std::time::Duration::from_millis(deadline_ms.checked_sub(now_ms)?);
    Some(now + left.saturating_sub(margin))
}

/// [`deadline_from_epoch_ms`] against the clocks as they read now: what each binary does with
/// the deadline of the invocation it is handed (the clocks are read here, at the edge).
pub fn deadline_from_clocks(deadline_ms: u64, margin: std::time::Duration) -> Option<Instant> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    deadline_from_epoch_ms(deadline_ms, now_ms, Instant::now(), margin)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_deadline_is_the_time_left_less_the_margin_and_a_past_one_is_unknown() {
        use std::time::Duration;
        let now = tokio::time::Instant::now();
        let at = super::deadline_from_epoch_ms(10_000, 4_000, now, Duration::from_secs(1));
        assert_eq!(at.map(|at| at - now), Some(Duration::from_secs(5)));
        assert_eq!(
            super::deadline_from_epoch_ms(3_000, 4_000, now, Duration::ZERO),
            None
        );
        // Less time left than the margin: no time at all.
        assert_eq!(
            super::deadline_from_epoch_ms(4_500, 4_000, now, Duration::from_secs(1)),
            Some(now)
        );
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn scheduled_event_has_no_overrides() {
        let e = json!({"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events",
            "account":"1","time":"2024-12-08T12:35:00Z","region":"us-east-1","resources":[],"detail":{}});
        assert_eq!(Overrides::from_event(&e).unwrap(), Overrides::default());
    }

    #[test]
    fn overrides_from_plain_object_or_detail() {
        let plain = json!({"dry_run": true});
        assert_eq!(Overrides::from_event(&plain).unwrap().dry_run, Some(true));
        let detailed = json!({"detail-type":"Scheduled Event","source":"aws.events","detail":{"dry_run":true}});
        assert_eq!(
            Overrides::from_event(&detailed).unwrap().dry_run,
            Some(true)
        );
        assert_eq!(
            Overrides::from_event(&Value::Null).unwrap(),
            Overrides::default()
        );
    }

    #[test]
    fn a_scheduled_events_time_is_read_from_its_envelope() {
        let e = json!({"detail-type":"Scheduled Event","source":"aws.events","time":"2024-12-08T12:35:00Z","detail":{}});
        assert_eq!(
            scheduled_time(&e).map(|t| t.to_rfc3339()),
            Some("2024-12-08T12:35:00+00:00".to_string())
        );
        for no_time in [
            json!({"dry_run": true}),
            json!({"time": "yesterday"}),
            Value::Null,
        ] {
            assert_eq!(scheduled_time(&no_time), None, "{no_time}");
        }
    }

    /// Regression: `{"dry_run": false}` switched off a deployed dry run, so anyone allowed to
    /// invoke the function could make it act.
    #[test]
    fn an_event_cannot_turn_a_dry_run_off() {
        for event in [
            json!({"dry_run": false}),
            json!({"detail-type":"Scheduled Event","source":"aws.events","detail":{"dry_run":false}}),
            json!({"detail-type":"Scheduled Event","source":"aws.events","dry_run":false}),
        ] {
            let msg = Overrides::from_event(&event).unwrap_err().to_string();
            assert!(msg.contains("only turn a dry run on"), "{msg}");
        }
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_named() {
        let msg = Overrides::from_event(&json!({"dryrun": true}))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("dryrun"), "{msg}");
        let msg = Overrides::from_event(&json!({"dry_run": "yes"}))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("dry_run") || msg.contains("boolean"), "{msg}");
        let msg = Overrides::from_event(&json!([1])).unwrap_err().to_string();
        assert!(msg.contains("array"), "{msg}");
    }
}
