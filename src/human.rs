//! The decision record as the original tool's users know it: a metrics summary, the instances'
//! load, and the decision with its reasons, in plain text for a terminal.

use std::fmt::Write;

use crate::analyze::Analysis;
use crate::decide::Action;
use crate::parse::summary::LogMetrics;
use crate::record::DecisionRecord;

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
        r.group,
        r.window.start.format("%Y-%m-%d %H:%M:%S"),
        r.window.end.format("%H:%M:%S UTC"),
        r.window.minutes
    );
    let _ = writeln!(
        o,
        "Logs: s3://{}/{} · {} objects in window, {} read · {}",
        r.bucket,
        r.prefix,
        r.logs.objects_in_window,
        r.logs.objects_read,
        // The record's own spelling (`complete`, `no_such_bucket`, ...).
        serde_json::to_value(r.logs.condition)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    );
    for p in &r.logs.problems {
        let _ = writeln!(o, "  ! {}: {}", p.key, p.problem);
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
            i.id,
            pct(i.cpu_percent),
            pct(i.memory_percent),
            i.lifecycle_state,
            i.note
                .as_deref()
                .map(|n| format!(" · {n}"))
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
        let _ = writeln!(o, "  {}", d.explanation);
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
            let _ = writeln!(o, "  - {e}");
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
            input.name, input.requests
        );
    }
    o
}
