//! What a run leaves for the next: recent recommendations (for the scale-in stabilization
//! window), how many runs in a row had no signal at all (for the fail-safe), where the last
//! decided window ended and which objects near that end were already counted (so windows tile
//! and every object counts once, see `window`), and the last decision (for a replay's record).
//! Kept as a small JSON object in S3, written with a conditional put so two overlapping runs
//! can never both act on stale state. Fields added later default when absent, so an older
//! state object still reads.
//!
//! The object sits in the log bucket, where a writer other than the function may reach it (the
//! README asks for a bucket policy that keeps its prefix to the function). So what is read is
//! bounded: an object over [`MAX_STATE_BYTES`] is refused unread (a multi-gigabyte object must
//! not break every run), and [`State::decode_noting`] keeps at most [`MAX_RECOMMENDATIONS`]
//! recommendations and [`MAX_COUNTED`] counted marks (the newest), and drops keys no S3 object
//! can have. It does not judge the values against the group (a recommendation above the
//! group's max, a no-signal count): that needs the group and the policy, and is the decision's.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub const VERSION: u32 = 1;

/// The most requests a minute one instance is believed to serve at the CPU target: ten million
/// (about 167,000 a second), beyond any web server on one EC2 instance. A stored rate above it
/// is dropped and relearned (issue 19).
pub const MAX_LEARNED_RATE: f64 = 1e7;

/// The largest state object a run reads; a larger one is refused before its body is read. It
/// holds [`MAX_COUNTED`] marks of keys of up to about 150 bytes, plus [`MAX_RECOMMENDATIONS`]
/// (see the test `the_caps_fit_in_the_byte_cap`): the state of a bucket that receives 3,000
/// objects a minute with the default 10-minute late span.
pub const MAX_STATE_BYTES: u64 = 8 * 1024 * 1024;

/// The most recommendations kept: a stabilization window of a day (its maximum) at three runs
/// a minute, more than any schedule makes.
pub const MAX_RECOMMENDATIONS: usize = 4_320;

/// The most counted marks kept: one per object counted in the late span before the high-water
/// mark, so 3,000 objects a minute over the default 10-minute late span. Beyond that, the
/// oldest marks go first: those objects are the nearest to leaving the late span, and one
/// listed again before it does is counted twice.
pub const MAX_COUNTED: usize = 30_000;

/// S3's longest key, in bytes: a longer counted key or listing mark was not written by a run.
pub const MAX_KEY_BYTES: usize = 1024;

/// An S3 ETag is 34 characters (a quoted MD5), a few more for a multipart upload.
const MAX_ETAG_BYTES: usize = 64;

/// Why an object of `size` bytes is not read as state, if it is too large.
pub fn refuse_size(size: u64) -> Option<String> {
    (size > MAX_STATE_BYTES).then(|| {
        format!(
            "the state object is {size} bytes, over the cap of {MAX_STATE_BYTES} bytes ({} MiB); it is not read",
            MAX_STATE_BYTES / (1024 * 1024)
        )
    })
}

/// Stored state as decoded, with what was dropped from it as untrustworthy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoded {
    pub state: State,
    /// One sentence per kind of entry dropped, for the record's notes.
    pub dropped: Vec<String>,
}

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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    /// The last decision that changed the capacity (holds do not replace it): extra
    /// invocations soon after it cannot add to its step.
    #[serde(default)]
    pub last_change: Option<LastDecision>,
    /// The end of the last window that had log objects: how recently the source was healthy.
    #[serde(default)]
    pub logs_seen: Option<DateTime<Utc>>,
    /// With keys that sort by time: the next listing starts after this key.
    #[serde(default)]
    pub list_after: Option<String>,
    /// Requests per minute one instance serves at the CPU target, learned from the runs where
    /// CPU was near it: the requests signal's target when none is configured.
    #[serde(default)]
    pub requests_per_instance: Option<LearnedRate>,
    /// The scale-in stabilization window is this many times the configured one (1, 2, 4 or 8;
    /// 0 in an older state means 1): doubled each time a scale-in is soon reversed.
    #[serde(default)]
    pub stabilization_factor: u32,
    /// When the group was last scaled in, and when the factor last changed.
    #[serde(default)]
    pub last_scale_in: Option<DateTime<Utc>>,
    #[serde(default)]
    pub factor_changed: Option<DateTime<Utc>>,
    /// When the last scale-out was decided: a scale-in soon after it is the other half of a
    /// swing.
    #[serde(default)]
    pub last_scale_out: Option<DateTime<Utc>>,
}

/// A rate learned from runs: its moving average and how many runs it rests on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LearnedRate {
    pub per_instance: f64,
    pub runs: u32,
}

impl State {
    /// Parses stored state, bounded as [`State::decode_noting`] does, without saying what was
    /// dropped.
    pub fn decode(bytes: &[u8]) -> Result<State, String> {
        State::decode_noting(bytes).map(|d| d.state)
    }

    /// Parses stored state. Anything unreadable (or over [`MAX_STATE_BYTES`]) is an error the
    /// caller reports before starting fresh, which is safe: an empty window only delays a
    /// scale-in. Entries past the caps or with impossible keys are dropped, each kind named in
    /// `dropped`.
    pub fn decode_noting(bytes: &[u8]) -> Result<Decoded, String> {
        if let Some(refused) = refuse_size(bytes.len() as u64) {
            return Err(refused);
        }
        let mut state: State =
            serde_json::from_slice(bytes).map_err(|e| format!("not valid state JSON: {e}"))?;
        if state.version > VERSION {
            return Err(format!(
                "state version {} is newer than this logscale ({VERSION})",
                state.version
            ));
        }
        let dropped = state.sanitize();
        Ok(Decoded { state, dropped })
    }

    /// Bounds what a reader cannot check cheaply against anything else: how many entries, and
    /// keys S3 could not have written. Returns a sentence per kind of entry dropped.
    fn sanitize(&mut self) -> Vec<String> {
        let mut dropped = Vec::new();

        if let Some(rate) = self.requests_per_instance {
            // Fewer than one request per instance in 100 minutes is no rate a run learns from,
            // and more than MAX_LEARNED_RATE is no instance's (a forged or corrupted state).
            if !(rate.per_instance.is_finite()
                && (0.01..=MAX_LEARNED_RATE).contains(&rate.per_instance))
            {
                self.requests_per_instance = None;
                dropped.push(format!(
                    "a learned rate of {} requests per instance dropped: not a plausible rate",
                    rate.per_instance
                ));
            }
        }

        self.recommendations.sort_by_key(|r| r.at);
        self.recommendations.dedup();
        let excess = self
            .recommendations
            .len()
            .saturating_sub(MAX_RECOMMENDATIONS);
        if excess > 0 {
            self.recommendations.drain(..excess);
            dropped.push(format!(
                "{excess} oldest recommendation(s) dropped: the state keeps at most {MAX_RECOMMENDATIONS}"
            ));
        }

        let before = self.counted.len();
        self.counted.retain(|c| {
            c.key.len() <= MAX_KEY_BYTES
                && c.etag.as_ref().is_none_or(|e| e.len() <= MAX_ETAG_BYTES)
        });
        let impossible = before - self.counted.len();
        if impossible > 0 {
            dropped.push(format!(
                "{impossible} counted mark(s) with a key over {MAX_KEY_BYTES} bytes or an ETag over {MAX_ETAG_BYTES} dropped"
            ));
        }
        self.counted.sort();
        self.counted.dedup();
        let excess = self.counted.len().saturating_sub(MAX_COUNTED);
        if excess > 0 {
            // The newest marks are the ones the next listings still meet.
            self.counted
                .sort_by(|a, b| b.last_modified.cmp(&a.last_modified).then(a.cmp(b)));
            self.counted.truncate(MAX_COUNTED);
            self.counted.sort();
            dropped.push(format!(
                "{excess} oldest counted mark(s) dropped: the state keeps at most {MAX_COUNTED}; an object among them listed again is counted again"
            ));
        }

        if self
            .list_after
            .as_ref()
            .is_some_and(|k| k.len() > MAX_KEY_BYTES)
        {
            self.list_after = None;
            dropped.push(format!(
                "the listing mark was over {MAX_KEY_BYTES} bytes and is dropped: this run lists the prefix from its start"
            ));
        }
        dropped
    }

    /// The bytes to store, never over [`MAX_STATE_BYTES`]: a run must not write a state the next
    /// one refuses (that would lose the stabilization window and every mark at once). Past the
    /// cap, the oldest counted marks go first, as [`State::decode_noting`] would drop them.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = self.clone();
        s.version = VERSION;
        s.keep_newest_counted(MAX_COUNTED);
        loop {
            let bytes = serde_json::to_vec(&s).expect("state always serializes");
            if bytes.len() as u64 <= MAX_STATE_BYTES || s.counted.is_empty() {
                return bytes;
            }
            // Shrink the marks by the share the bytes are over, and a little more.
            let over = bytes.len() as f64 / MAX_STATE_BYTES as f64;
            let keep = ((s.counted.len() as f64 / over) * 0.95) as usize;
            s.keep_newest_counted(keep.min(s.counted.len() - 1));
        }
    }

    /// Keeps the `n` counted marks with the latest LastModified: the ones later listings meet.
    fn keep_newest_counted(&mut self, n: usize) {
        if self.counted.len() <= n {
            return;
        }
        self.counted
            .sort_by(|a, b| b.last_modified.cmp(&a.last_modified).then(a.cmp(b)));
        self.counted.truncate(n);
        self.counted.sort();
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

    /// A mark as a busy bucket's shipper names its objects (a 150-byte key) with an S3 ETag.
    fn busy_mark(n: usize, at: DateTime<Utc>) -> Counted {
        let key = format!("logs/2024/12/08/12/{:0>131}", format!("web-{n}.log.gz"));
        Counted {
            key,
            last_modified: at,
            etag: Some(format!("\"{n:032x}\"")),
        }
    }

    #[test]
    fn the_caps_fit_in_the_byte_cap() {
        let t0 = Utc.with_ymd_and_hms(2024, 12, 8, 12, 0, 0).unwrap();
        let full = State {
            recommendations: (0..MAX_RECOMMENDATIONS)
                .map(|n| Recommendation {
                    at: t0 + Duration::milliseconds(n as i64 * 20_001),
                    capacity: 1_000_000,
                })
                .collect(),
            counted: (0..MAX_COUNTED)
                .map(|n| busy_mark(n, t0 + Duration::milliseconds(n as i64 * 17)))
                .collect(),
            list_after: Some("k".repeat(MAX_KEY_BYTES)),
            ..State::default()
        };
        let bytes = full.encode();
        let per_mark = serde_json::to_vec(&full.counted[0]).unwrap().len() + 1;
        assert_eq!(busy_mark(0, t0).key.len(), 150);
        assert!(
            bytes.len() as u64 <= MAX_STATE_BYTES,
            "a full state is {} bytes, over the cap of {MAX_STATE_BYTES} ({per_mark} bytes a mark)",
            bytes.len()
        );
        let back = State::decode_noting(&bytes).unwrap();
        assert!(back.dropped.is_empty(), "{:?}", back.dropped);
        assert_eq!(back.state.counted.len(), MAX_COUNTED);
        // The figure for 64 KiB: how many such marks it would hold.
        println!(
            "{per_mark} bytes a mark; a full state is {} bytes; 64 KiB holds {} marks",
            bytes.len(),
            64 * 1024 / per_mark
        );
    }

    #[test]
    fn regression_an_oversized_state_is_refused_naming_its_size_and_the_cap() {
        let huge = format!(
            r#"{{"list_after":"{}"}}"#,
            "a".repeat(MAX_STATE_BYTES as usize)
        );
        let err = State::decode(huge.as_bytes()).unwrap_err();
        assert!(
            err.contains(&huge.len().to_string()) && err.contains(&MAX_STATE_BYTES.to_string()),
            "{err}"
        );
        assert_eq!(
            refuse_size(MAX_STATE_BYTES),
            None,
            "the cap itself is allowed"
        );
        assert!(refuse_size(MAX_STATE_BYTES + 1).is_some());
    }

    #[test]
    fn regression_tampered_state_keeps_the_newest_entries_within_the_caps() {
        let t0 = Utc.with_ymd_and_hms(2024, 12, 8, 12, 0, 0).unwrap();
        let at = |s: i64| t0 + Duration::seconds(s);
        let extra = 5;
        let mut recommendations: Vec<Recommendation> = (0..MAX_RECOMMENDATIONS + extra)
            .map(|n| Recommendation {
                at: at(n as i64),
                capacity: n as u32,
            })
            .collect();
        recommendations.reverse();
        let mut counted: Vec<Counted> = (0..MAX_COUNTED + extra)
            .map(|n| busy_mark(n, at(n as i64)))
            .collect();
        counted.push(Counted {
            key: "k".repeat(MAX_KEY_BYTES + 1),
            last_modified: at(1_000_000),
            etag: None,
        });
        counted.push(Counted {
            key: "logs/fine.log".into(),
            last_modified: at(1_000_000),
            etag: Some("x".repeat(1000)),
        });
        let tampered = State {
            version: VERSION,
            recommendations,
            counted,
            list_after: Some("k".repeat(MAX_KEY_BYTES + 1)),
            ..State::default()
        };
        let bytes = serde_json::to_vec(&tampered).unwrap();
        let Decoded { state, dropped } = State::decode_noting(&bytes).unwrap();

        assert_eq!(state.recommendations.len(), MAX_RECOMMENDATIONS);
        assert_eq!(
            state.recommendations.first().map(|r| r.at),
            Some(at(extra as i64)),
            "the oldest go"
        );
        assert_eq!(
            state.recommendations.last().map(|r| r.at),
            Some(at((MAX_RECOMMENDATIONS + extra - 1) as i64))
        );
        assert_eq!(state.counted.len(), MAX_COUNTED);
        let oldest = state.counted.iter().map(|c| c.last_modified).min();
        assert_eq!(oldest, Some(at(extra as i64)), "the newest marks stay");
        assert!(
            state.counted.windows(2).all(|w| w[0] < w[1]),
            "in order, once each"
        );
        assert_eq!(state.list_after, None);
        assert_eq!(dropped.len(), 4, "{dropped:?}");
        assert!(dropped[0].starts_with(&format!("{extra} oldest recommendation(s)")));
        assert!(dropped[1].starts_with("2 counted mark(s) with a key over 1024 bytes"));
        assert!(dropped[2].starts_with(&format!("{extra} oldest counted mark(s)")));
        assert!(dropped[3].starts_with("the listing mark"));

        // Within the caps nothing is dropped or reordered beyond sorting.
        let fine = State::decode_noting(&State::default().encode()).unwrap();
        assert!(fine.dropped.is_empty());
    }

    #[test]
    fn corrupt_or_future_state_is_an_error() {
        assert!(State::decode(b"{not json").is_err());
        assert!(State::decode(br#"{"version": 99}"#)
            .unwrap_err()
            .contains("newer"));
        assert_eq!(State::decode(b"{}").unwrap(), State::default());
    }

    /// Issue 19: a learned rate is bounded on both sides when read back.
    #[test]
    fn regression_an_implausible_learned_rate_is_dropped_and_named() {
        for (rate, kept) in [
            (1e-3, false),
            (0.01, true),
            (300.0, true),
            (1e7, true),
            (2e7, false),
        ] {
            let stored = State {
                requests_per_instance: Some(LearnedRate {
                    per_instance: rate,
                    runs: 50,
                }),
                ..State::default()
            };
            let read = State::decode_noting(&stored.encode()).unwrap();
            assert_eq!(read.state.requests_per_instance.is_some(), kept, "{rate}");
            assert_eq!(read.dropped.is_empty(), kept, "{rate}: {:?}", read.dropped);
        }
    }
}

#[cfg(test)]
mod write_cap_tests {
    use super::*;
    use chrono::TimeZone;

    /// Regression (review): the caps applied only when reading, so a busy bucket's run could
    /// write a state the next run refused, losing the stabilization window and every mark.
    #[test]
    fn a_state_is_never_written_over_the_cap_and_keeps_its_newest_marks() {
        let t0 = Utc.with_ymd_and_hms(2024, 12, 8, 12, 0, 0).unwrap();
        let long = "k".repeat(900);
        let state = State {
            recommendations: vec![Recommendation {
                at: t0,
                capacity: 3,
            }],
            counted: (0..50_000i64)
                .map(|i| Counted {
                    key: format!("logs/{long}/{i:06}"),
                    last_modified: t0 + Duration::milliseconds(i),
                    etag: Some("\"0123456789abcdef0123456789abcdef\"".into()),
                })
                .collect(),
            ..State::default()
        };
        let bytes = state.encode();
        assert!(
            bytes.len() as u64 <= MAX_STATE_BYTES,
            "{} bytes",
            bytes.len()
        );
        let back = State::decode_noting(&bytes).expect("the next run reads it");
        assert!(back.dropped.is_empty(), "{:?}", back.dropped);
        assert_eq!(back.state.recommendations.len(), 1);
        let kept = &back.state.counted;
        assert!(kept.len() > 1000 && kept.len() < 50_000, "{}", kept.len());
        // The newest are kept.
        let newest = kept.iter().map(|c| c.last_modified).max().unwrap();
        assert_eq!(newest, t0 + Duration::milliseconds(49_999));
    }
}
