//! What a run leaves for the next: recent recommendations (for the scale-in stabilization
//! window), how many runs in a row had no signal at all (for the fail-safe), where the last
//! decided window ended and which objects near that end were already counted (so windows tile
//! and every object counts once, see `window`), and the last decision (for a replay's record).
//! Kept as a small JSON object in S3, written with a conditional put so two overlapping runs
//! can never both act on stale state. Fields added later default when absent, so an older
//! state object still reads.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub const VERSION: u32 = 1;

/// One run's raw recommendation, before limits and stabilization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendation {
    pub at: DateTime<Utc>,
    pub capacity: u32,
}

/// An object already counted, as listed: its key, LastModified and ETag. The same key uploaded
/// again with the same bytes (the same ETag) is the same logs and is not counted again; with
/// other bytes it is new logs and counts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Counted {
    pub key: String,
    pub last_modified: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

impl Counted {
    /// Whether `object` is this one again: the same key, and the same bytes (by ETag) or, without
    /// ETags, the same LastModified.
    pub fn is(&self, object: &crate::ports::ObjectInfo) -> bool {
        self.key == object.key
            && match (&self.etag, &object.etag) {
                (Some(a), Some(b)) => a == b,
                _ => self.last_modified == object.last_modified,
            }
    }
}

/// The last decided window's outcome, kept so that a replayed event can say what was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastDecision {
    /// When it was decided (the run's clock).
    pub at: DateTime<Utc>,
    pub from: u32,
    pub to: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub version: u32,
    #[serde(default)]
    pub recommendations: Vec<Recommendation>,
    #[serde(default)]
    pub no_signal_runs: u32,
    /// The end of the last decided window: the next window starts here.
    #[serde(default)]
    pub high_water: Option<DateTime<Utc>>,
    /// Objects counted whose LastModified is within the late span before `high_water`: the
    /// next run lists them again and skips them.
    #[serde(default)]
    pub counted: Vec<Counted>,
    #[serde(default)]
    pub last_decision: Option<LastDecision>,
    /// The end of the last window that had log objects: how recently the source was healthy.
    #[serde(default)]
    pub logs_seen: Option<DateTime<Utc>>,
    /// With keys that sort by time: the next listing starts after this key.
    #[serde(default)]
    pub list_after: Option<String>,
}

impl State {
    /// Parses stored state. Anything unreadable is an error the caller reports before starting
    /// fresh, which is safe: an empty window only delays a scale-in.
    pub fn decode(bytes: &[u8]) -> Result<State, String> {
        let state: State =
            serde_json::from_slice(bytes).map_err(|e| format!("not valid state JSON: {e}"))?;
        if state.version > VERSION {
            return Err(format!(
                "state version {} is newer than this logscale ({VERSION})",
                state.version
            ));
        }
        Ok(state)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut s = self.clone();
        s.version = VERSION;
        serde_json::to_vec(&s).expect("state always serializes")
    }

    /// Adds this run's recommendation and forgets those older than `window`.
    pub fn remember(&mut self, at: DateTime<Utc>, capacity: u32, window: Duration) {
        self.recommendations
            .retain(|r| r.at > at - window && r.at <= at);
        self.recommendations.push(Recommendation { at, capacity });
    }

    /// Moves the high-water mark to `end` and remembers the objects counted that the next run
    /// will list again (last modified after `end - late`).
    pub fn advance(
        &mut self,
        end: DateTime<Utc>,
        late: Duration,
        counted_now: impl IntoIterator<Item = Counted>,
    ) {
        self.high_water = Some(end);
        let keep_from = end - late;
        self.counted.extend(counted_now);
        self.counted.retain(|c| c.last_modified > keep_from);
        self.counted.sort();
        self.counted.dedup();
    }

    /// The highest recommendation in the window (this run's included).
    pub fn highest_recent(&self) -> Option<u32> {
        self.recommendations.iter().map(|r| r.capacity).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn round_trip_and_window() {
        let t0 = Utc.with_ymd_and_hms(2024, 12, 8, 12, 0, 0).unwrap();
        let mut s = State::default();
        for (n, cap) in [5, 3, 2, 2].into_iter().enumerate() {
            s.remember(
                t0 + Duration::minutes(5 * n as i64),
                cap,
                Duration::minutes(15),
            );
        }
        // at 12:15 the 12:00 recommendation has left the 15-minute window
        assert_eq!(s.recommendations.len(), 3);
        assert_eq!(s.highest_recent(), Some(3));
        let back = State::decode(&s.encode()).unwrap();
        assert_eq!(back.recommendations, s.recommendations);
        assert_eq!(back.version, VERSION);
    }

    #[test]
    fn advancing_keeps_only_what_the_next_run_lists_again() {
        let t0 = Utc.with_ymd_and_hms(2024, 12, 8, 12, 0, 0).unwrap();
        let at = |m: i64| t0 + Duration::minutes(m);
        let counted = |k: &str, m: i64| Counted {
            key: k.into(),
            last_modified: at(m),
            etag: None,
        };
        let mut s = State {
            counted: vec![counted("old", -20), counted("edge", -4)],
            ..State::default()
        };
        s.advance(
            at(5),
            Duration::minutes(10),
            [counted("new", 4), counted("edge", -4), counted("gone", -5)],
        );
        assert_eq!(s.high_water, Some(at(5)));
        assert_eq!(
            s.counted,
            [counted("edge", -4), counted("new", 4)],
            "once each, in order"
        );
        let back = State::decode(&s.encode()).unwrap();
        assert_eq!(
            back,
            State {
                version: VERSION,
                ..s
            }
        );
        // A state written before these fields existed still reads.
        let old =
            State::decode(br#"{"version":1,"recommendations":[],"no_signal_runs":2}"#).unwrap();
        assert_eq!((old.high_water, old.no_signal_runs), (None, 2));
    }

    #[test]
    fn corrupt_or_future_state_is_an_error() {
        assert!(State::decode(b"{not json").is_err());
        assert!(State::decode(br#"{"version": 99}"#)
            .unwrap_err()
            .contains("newer"));
        assert_eq!(State::decode(b"{}").unwrap(), State::default());
    }
}
