//! Which span of time a run reads, so that consecutive runs tile time exactly and every log
//! object is counted once, however the invocations arrive.
//!
//! The window's end comes from the scheduled event's `time` (less a lag for objects still being
//! written), not from the wall clock, and its start is where the last decided window ended (the
//! high-water mark in the state). So EventBridge's jitter, a late or retried event, a manual
//! invoke or a schedule slower than the window leave neither gaps nor overlaps; an event for a
//! window already decided is a replay and decides nothing. After missed runs, at most the
//! catch-up span is read at once.
//!
//! S3's LastModified is when an object's upload *began* (for a multipart upload, when it was
//! initiated), not when it could first be listed. So each run also lists the `late` span before
//! its start, and skips the objects an earlier run already read there (remembered in the state
//! by key and LastModified): an object that shows up late is counted by the next run, once.
//!
//! Pure: settings, the event's time, `now` and the state in; a [`Plan`] out.

use chrono::{DateTime, Duration, Utc};

/// How runs cut time into windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiling {
    /// The first run's window (and the usual schedule's period).
    pub span: Duration,
    /// The window ends this long before the scheduled time.
    pub lag: Duration,
    /// How long after its LastModified an object may first be listed.
    pub late: Duration,
    /// After missed runs, at most this much is read at once.
    pub catch_up: Duration,
}

impl Default for Tiling {
    fn default() -> Self {
        Tiling {
            span: Duration::minutes(5),
            lag: Duration::seconds(60),
            late: Duration::minutes(10),
            catch_up: Duration::minutes(30),
        }
    }
}

/// Lambda delivers an asynchronous event (a retry included) at most this long after it was
/// sent: six hours is the most `MaximumEventAgeInSeconds` allows.
const MAX_EVENT_AGE: Duration = Duration::hours(6);

/// An event time this far ahead of the wall clock is taken as a clock problem, not a schedule.
const FUTURE_TOLERANCE: Duration = Duration::minutes(5);

/// What this run does with time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Read and decide the window `(start, end]`.
    Read(Span),
    /// The window ending at `end` was already decided (up to `decided_until`): a retried or
    /// duplicated event. Nothing is read, decided or changed.
    Replay {
        end: DateTime<Utc>,
        decided_until: DateTime<Utc>,
    },
}

/// A window to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Objects last modified in `(list_from, start]` are read too, unless already counted.
    pub list_from: DateTime<Utc>,
    /// What was unusual about this window, for the record.
    pub notes: Vec<String>,
}

/// Plans this run's window from the event's scheduled `time` (if any), the wall clock `now`,
/// and the end of the last decided window (`high_water`).
pub fn plan(
    tiling: &Tiling,
    scheduled: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    high_water: Option<DateTime<Utc>>,
) -> Plan {
    let mut notes = Vec::new();
    // A mark later than any event this run would take as its time is no window a run decided:
    // a forged state or a writer with a skewed clock. Kept, it would make every run a replay
    // and freeze the group for good (issue 19); dropped, this run reads as a first run and its
    // save puts the mark back where time is.
    let high_water = match high_water {
        Some(mark) if mark > now + FUTURE_TOLERANCE => {
            notes.push(format!(
                "the state's window mark {} is later than now plus {} min (a forged state or a skewed clock): dropped, this run reads as a first run",
                mark.format("%Y-%m-%dT%H:%M:%SZ"),
                FUTURE_TOLERANCE.num_minutes()
            ));
            None
        }
        mark => mark,
    };
    // An event for a window already decided is a replay, however late Lambda delivers it; an
    // older time than Lambda ever delivers is a hand-made event (the samples) and reads now.
    if let (Some(t), Some(decided)) = (scheduled, high_water) {
        if t - tiling.lag <= decided && t >= now - MAX_EVENT_AGE {
            return Plan::Replay {
                end: t - tiling.lag,
                decided_until: decided,
            };
        }
    }
    let at = match scheduled {
        Some(t) if t >= now - tiling.catch_up && t <= now + FUTURE_TOLERANCE => t,
        Some(t) => {
            // The sample events carry a fixed time, and a retry can arrive hours late: either
            // way, the run reads what is there now.
            notes.push(format!(
                "the event's time {} is outside the catch-up span ({} min before now to {} min after); taken as now",
                t.format("%Y-%m-%dT%H:%M:%SZ"),
                tiling.catch_up.num_minutes(),
                FUTURE_TOLERANCE.num_minutes()
            ));
            now
        }
        None => now,
    };
    let end = at - tiling.lag;
    let start = match high_water {
        Some(decided) if end <= decided => {
            return Plan::Replay {
                end,
                decided_until: decided,
            }
        }
        Some(decided) if decided < end - tiling.catch_up => {
            notes.push(format!(
                "runs were missed: logs from {} to {} are not read (more than the catch-up span of {} min)",
                decided.format("%Y-%m-%dT%H:%M:%SZ"),
                (end - tiling.catch_up).format("%Y-%m-%dT%H:%M:%SZ"),
                tiling.catch_up.num_minutes()
            ));
            end - tiling.catch_up
        }
        Some(decided) => decided,
        None => end - tiling.span,
    };
    Plan::Read(Span {
        start,
        end,
        list_from: start - tiling.late,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(min: i64, sec: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 12, 8, 12, 0, 0).unwrap()
            + Duration::minutes(min)
            + Duration::seconds(sec)
    }

    fn span(p: Plan) -> Span {
        match p {
            Plan::Read(s) => s,
            other => panic!("expected a window, got {other:?}"),
        }
    }

    #[test]
    fn windows_tile_from_the_scheduled_time_and_the_high_water_mark() {
        let tiling = Tiling::default();
        // The first run: the configured span, ending a lag before the schedule.
        let first = span(plan(&tiling, Some(t(5, 0)), t(5, 2), None));
        assert_eq!((first.start, first.end), (t(-1, 0), t(4, 0)));
        assert_eq!(first.list_from, t(-11, 0));
        assert!(first.notes.is_empty());
        // Jitter: the next event arrives 40 s late; its window starts where the last ended.
        let next = span(plan(&tiling, Some(t(10, 0)), t(10, 40), Some(first.end)));
        assert_eq!((next.start, next.end), (t(4, 0), t(9, 0)));
        // A schedule slower than the span still reads everything since the last run.
        let slow = span(plan(&tiling, Some(t(20, 0)), t(20, 1), Some(next.end)));
        assert_eq!((slow.start, slow.end), (t(9, 0), t(19, 0)));
        // No event time (a manual invoke, the CLI): the wall clock.
        let manual = span(plan(&tiling, None, t(21, 30), Some(slow.end)));
        assert_eq!((manual.start, manual.end), (t(19, 0), t(20, 30)));
    }

    #[test]
    fn a_window_mark_in_the_future_does_not_make_every_run_a_replay() {
        let tiling = Tiling::default();
        let forged = Utc.with_ymd_and_hms(2099, 1, 1, 0, 0, 0).unwrap();
        // Scheduled runs, a manual run: each reads a window and says why.
        for scheduled in [Some(t(5, 0)), Some(t(10, 0)), None] {
            let now = scheduled.unwrap_or(t(12, 0)) + Duration::seconds(2);
            let read = span(plan(&tiling, scheduled, now, Some(forged)));
            assert_eq!(read.end - read.start, tiling.span, "{read:?}");
            assert!(
                read.notes
                    .iter()
                    .any(|n| n.contains("2099-01-01T00:00:00Z")),
                "{read:?}"
            );
        }
        // A mark a few minutes ahead (a raised lag, an event time inside the tolerance) is a
        // window a run may have decided: a replay or two, then time passes it.
        assert!(matches!(
            plan(&tiling, Some(t(5, 0)), t(5, 2), Some(t(8, 0))),
            Plan::Replay { .. }
        ));
        let healed = span(plan(&tiling, Some(t(10, 0)), t(10, 2), Some(t(8, 0))));
        assert_eq!((healed.start, healed.end), (t(8, 0), t(9, 0)));
    }

    #[test]
    fn a_window_already_decided_is_a_replay() {
        let tiling = Tiling::default();
        for (scheduled, decided) in [(t(5, 0), t(4, 0)), (t(5, 0), t(9, 0))] {
            assert_eq!(
                plan(&tiling, Some(scheduled), t(12, 0), Some(decided)),
                Plan::Replay {
                    end: t(4, 0),
                    decided_until: decided
                }
            );
        }
    }

    #[test]
    fn an_event_for_a_decided_window_is_a_replay_however_late_it_comes() {
        let tiling = Tiling::default();
        // Lambda retried the 12:05 event three hours later, after the 12:10 run.
        assert_eq!(
            plan(&tiling, Some(t(5, 0)), t(185, 0), Some(t(9, 0))),
            Plan::Replay {
                end: t(4, 0),
                decided_until: t(9, 0)
            }
        );
    }

    #[test]
    fn a_hand_made_event_with_an_old_time_reads_now_every_time() {
        // The sample events' fixed time, invoked again and again: never a replay.
        let tiling = Tiling::default();
        let sample = Some(t(-5_000_000, 0));
        let first = span(plan(&tiling, sample, t(10, 0), None));
        let again = span(plan(&tiling, sample, t(12, 0), Some(first.end)));
        assert_eq!((again.start, again.end), (t(9, 0), t(11, 0)));
        assert!(again.notes[0].contains("taken as now"));
    }

    #[test]
    fn after_missed_runs_at_most_the_catch_up_span_is_read_and_the_rest_named() {
        let tiling = Tiling::default();
        let s = span(plan(&tiling, Some(t(121, 0)), t(121, 0), Some(t(0, 0))));
        assert_eq!((s.start, s.end), (t(90, 0), t(120, 0)));
        assert!(s.notes[0].contains("runs were missed"), "{:?}", s.notes);
    }

    #[test]
    fn an_event_time_outside_the_catch_up_span_is_taken_as_now() {
        let tiling = Tiling::default();
        // The sample events' fixed time, years before now; and one from the future.
        for scheduled in [t(-5_000_000, 0), t(30, 0)] {
            let s = span(plan(&tiling, Some(scheduled), t(10, 0), None));
            assert_eq!(s.end, t(9, 0), "{scheduled}");
            assert!(s.notes[0].contains("taken as now"), "{:?}", s.notes);
        }
    }
}
