//! The decision record as the original tool's users know it: a metrics summary, the instances'
//! load, and the decision with its reasons, in plain text for a terminal.
//!
//! Much of it comes from outside: S3 keys (anyone who can write under the prefix names them),
//! AWS's answers and error messages, the reasons built from them. A terminal obeys what it
//! prints, so all such text goes through [`escaped`] first: a key holding an escape sequence
//! or a line break is shown as `\u{1b}[2J\n…`, the way the unparsed-line examples (printed
//! with `{:?}`) already are, and cannot clear the screen, retitle the window or forge a line.

use std::borrow::Cow;
use std::fmt::Write;

use crate::analyze::Analysis;
use crate::decide::Action;
use crate::parse::summary::LogMetrics;
use crate::record::DecisionRecord;

/// `text` with every character a terminal could act on or hide written as Rust's debug
/// escapes do (`\u{1b}`, `\n`, `\u{202e}`), and backslashes doubled so an escape cannot be
/// forged either; quotes stay as they are, as this is not a literal.
pub fn escaped(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Control characters (C0, DEL, C1: escape sequences, line breaks, the bell), the invisible
/// format characters that reorder or hide text (bidirectional overrides and isolates,
/// zero-width characters, line and paragraph separators), and the backslash.
fn needs_escape(c: char) -> bool {
    c == '\\'
        || c.is_control()
        || matches!(c,
            '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
}

fn pct(v: Option<f64>) -> String {
    v.map_or("n/a".to_string(), |v| format!("{v:.2}%"))
}

fn ms(v: Option<f64>) -> String {
    v.map_or("n/a".to_string(), |v| format!("{v:.2}ms"))
}

/// The original tool's METRICS SUMMARY, with the percentiles added.
pub fn metrics_summary(m: &LogMetrics) -> String {
    let mut o = String::new();
    let line = "=".repeat(50);
    let _ = writeln!(o, "{line}\nMETRICS SUMMARY\n{line}");
    let _ = writeln!(o, "Total Requests:     {}", m.requests);
    let _ = writeln!(o, "Error Count:        {}", m.errors);
    let _ = writeln!(o, "Slow Responses:     {}", m.slow);
    let _ = writeln!(o, "Avg Response Time:  {}", ms(m.mean_ms));
    let _ = writeln!(
        o,
        "Percentiles:        p50 {} · p90 {} · p95 {} · p99 {}",
        ms(m.p50_ms),
        ms(m.p90_ms),
        ms(m.p95_ms),
        ms(m.p99_ms)
    );
    let _ = writeln!(o, "Error Rate:         {}", pct(m.error_rate));
    let _ = writeln!(o, "Slow Response Rate: {}", pct(m.slow_rate));
    if m.unparsed > 0 {
        let _ = writeln!(o, "Unparsed Lines:     {}", m.unparsed);
        for (kind, k) in &m.unparsed_kinds {
            let _ = writeln!(o, "  {kind}: {} (e.g. {:?})", k.count, k.example);
        }
    }
    let _ = writeln!(o, "{line}");
    o
}

/// Renders the record for people.
pub fn render(r: &DecisionRecord) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "logscale: group {} · window {} → {} ({} min)",
        escaped(&r.group),
        r.window.start.format("%Y-%m-%d %H:%M:%S"),
        r.window.end.format("%H:%M:%S UTC"),
        r.window.minutes
    );
    let _ = writeln!(
        o,
        "Logs: s3://{}/{} · {} objects in window, {} read{} · {}",
        escaped(&r.bucket),
        escaped(&r.prefix),
        r.logs.objects_in_window,
        r.logs.objects_read,
        match r.logs.summaries_merged {
            Some(n) => format!(" (as {n} summaries)"),
            None => String::new(),
        },
        // The record's own spelling (`complete`, `no_such_bucket`, ...).
        serde_json::to_value(r.logs.condition)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    );
    for p in &r.logs.problems {
        let _ = writeln!(o, "  ! {}: {}", escaped(&p.key), escaped(&p.problem));
    }
    o.push_str(&metrics_summary(&r.logs.metrics));
    let _ = writeln!(o, "Instances:");
    if r.instances.is_empty() {
        let _ = writeln!(o, "  (none)");
    }
    for i in &r.instances {
        let _ = writeln!(
            o,
            "  {}: CPU {} · memory {} · {}{}",
            escaped(&i.id),
            pct(i.cpu_percent),
            pct(i.memory_percent),
            escaped(&i.lifecycle_state),
            i.note
                .as_deref()
                .map(|n| format!(" · {}", escaped(n)))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(
        o,
        "Average CPU: {} · memory: {}",
        pct(r.cpu_percent),
        pct(r.memory_percent)
    );
    if let Some(c) = r.capacity {
        let _ = writeln!(
            o,
            "Group: desired {} (min {}, max {})",
            c.desired, c.min, c.max
        );
    }
    let d = &r.decision;
    let verb = match d.action() {
        Action::ScaleUp => "SCALE UP",
        Action::ScaleDown => "SCALE DOWN",
        Action::Hold => "HOLD",
    };
    let status = if r.applied {
        "applied"
    } else if r.dry_run && d.action() != Action::Hold {
        "dry run, not applied"
    } else {
        "no change"
    };
    let _ = writeln!(o, "Decision: {verb} {} → {} ({status})", d.from, d.to);
    if !d.explanation.is_empty() {
        let _ = writeln!(o, "  {}", escaped(&d.explanation));
    }
    for s in &d.signals {
        let tol = if s.within_tolerance {
            ", within tolerance"
        } else {
            ""
        };
        let _ = writeln!(
            o,
            "  · {}: {:.1} against {:.1} on {} instance(s) proposes {}{tol}",
            s.signal, s.value, s.target, s.basis, s.proposal
        );
    }
    if !r.errors.is_empty() {
        let _ = writeln!(o, "Errors:");
        for e in &r.errors {
            let _ = writeln!(o, "  - {}", escaped(e));
        }
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(o, "Warnings:");
        for w in &r.warnings {
            let _ = writeln!(o, "  - {}", escaped(w));
        }
    }
    o
}

/// `logscale analyze`'s summary: the metrics, the reading speed, and one line per input.
pub fn render_analysis(analysis: &Analysis, seconds: f64) -> String {
    let mut o = metrics_summary(&LogMetrics::from(&analysis.summary));
    let mb = analysis.summary.bytes as f64 / 1e6;
    let _ = writeln!(
        o,
        "Read {} lines, {mb:.1} MB of log text in {seconds:.2} s ({:.0} MB/s)",
        analysis.summary.lines,
        mb / seconds.max(1e-9)
    );
    for input in &analysis.inputs {
        let format = input.format.map_or("-".to_string(), |f| f.to_string());
        let gz = if input.gzip { ", gzip" } else { "" };
        let _ = writeln!(
            o,
            "  {}: {format}{gz}, {} requests",
            escaped(&input.name),
            input.requests
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Fault, InMemoryCloud};
    use crate::ports::GroupInstance;
    use crate::{run_cycle, Config, CycleOptions};
    use chrono::{Duration, TimeZone, Utc};

    #[tokio::test]
    async fn regression_text_from_outside_cannot_drive_the_terminal() {
        let now = Utc.with_ymd_and_hms(2024, 12, 8, 12, 0, 0).unwrap();
        let cloud = InMemoryCloud::new();
        cloud.put_fleet("web", (1, 4, 1), &[50.0], None, now - Duration::hours(1));
        // An instance id and lifecycle state as a tampered stand-in could answer them.
        let mut group = cloud.group("web").unwrap();
        group.instances.push(GroupInstance {
            id: "i-\x1b[31mred".into(),
            lifecycle_state: "Pending\x1b[0m".into(),
            health_status: "Healthy".into(),
            weight: None,
        });
        cloud.put_group(group);
        // A key that clears the screen and starts a line of its own; its gzip is corrupt, so
        // the record names it among the problems.
        let key = "logs/\x1b[2J\nDecision: SCALE UP 1 → 4 (applied).log.gz";
        cloud.put_object(
            "app-logs",
            key,
            b"\x1f\x8b\x08\x00not deflate".to_vec(),
            now - Duration::minutes(2),
        );
        cloud.inject(Fault::error(
            "DescribeScalingActivities",
            "Throttling\x1b]0;title\x07\r\n",
        ));
        let vars = [
            ("LOGSCALE_BUCKET", "app-logs"),
            ("LOGSCALE_GROUP", "web"),
            ("LOGSCALE_PREFIX", "logs/"),
        ];
        let cfg = Config::from_lookup(|k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        })
        .unwrap();
        let opts = CycleOptions {
            now,
            scheduled: None,
            dry_run: true,
            save_state: false,
            deadline: None,
        };
        let record = run_cycle(&cfg, &cloud.services(), opts).await;
        assert_eq!(
            record.logs.problems[0].key, key,
            "the record keeps it as is"
        );

        let out = render(&record);
        assert!(!out.contains('\x1b'), "{out}");
        assert!(!out.contains('\x07') && !out.contains('\r'), "{out}");
        assert!(
            out.contains(r"logs/\u{1b}[2J\nDecision: SCALE UP 1 → 4 (applied).log.gz"),
            "{out}"
        );
        assert!(out.contains(r"i-\u{1b}[31mred"), "{out}");
        assert!(out.contains(r"Throttling\u{1b}]0;title\u{7}\r\n"), "{out}");
        assert_eq!(
            out.lines().filter(|l| l.starts_with("Decision:")).count(),
            1,
            "no line of the key's own: {out}"
        );
    }
}
