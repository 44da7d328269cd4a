//! The decision record as CloudWatch metrics: one Embedded Metric Format (EMF) document, printed
//! as its own log line beside the record, from which CloudWatch Logs extracts the metrics the
//! template's alarms and dashboard read. Pure: the record in, a JSON value out.
//!
//! The format (AWS's "Specification: Embedded metric format"): a root object whose `_aws`
//! member holds `Timestamp` (epoch milliseconds) and `CloudWatchMetrics`, a list of directives;
//! each directive names a `Namespace`, its `Dimensions` (lists of root members whose values are
//! strings, at most 30 to a set) and its `Metrics` (at most 100, each a `Name` and a `Unit`),
//! and every name refers to a member of the root. A value unknown this run is left out of both
//! the directive and the root, so no graph shows a made-up zero.
//!
//! What is emitted (the names the template's alarms and dashboard use):
//! - dimensions `AutoScalingGroupName` (and any `LOGSCALE_METRICS_DIMENSIONS`):
//!   `DesiredBefore`, `DesiredAfter`, `MinSize`, `MaxSize`, `CapacityChange`, `Blind`,
//!   `AtMax`, `RequestsPerMinute`, `ErrorRate`, `Latency`, `SlowRate`, `CpuUtilization`,
//!   `MemoryUtilization`, `ObjectsRead`, `LogsComplete`, `CycleDuration`, and for each signal
//!   that reported `<Signal>Value`, `<Signal>Target`, `<Signal>Proposal` (`Cpu`, `Memory`,
//!   `Latency`, `ErrorRate`, `SlowRate`, `Requests`, `Metric`, `Forecast`);
//! - when the capacity did not change, dimensions `AutoScalingGroupName` + `HeldBy` (the rule
//!   that had the last word, for example `stabilized` or `missing_data`): `Holds` = 1.

use serde_json::{json, Map, Value};

use crate::decide::{Rule, Signal};
use crate::fetch::LogCondition;
use crate::record::DecisionRecord;

/// The dimension every metric carries: the group's name, as AWS/EC2's own metrics name it.
pub const GROUP_DIMENSION: &str = "AutoScalingGroupName";

/// At most this many metrics in one directive (the EMF specification's limit).
pub const MAX_METRICS_PER_DIRECTIVE: usize = 100;

/// At most this many dimensions in one dimension set (the EMF specification's limit).
pub const MAX_DIMENSIONS_PER_SET: usize = 30;

/// Where the metrics go: `LOGSCALE_METRICS_NAMESPACE` and `LOGSCALE_METRICS_DIMENSIONS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSpec {
    pub namespace: String,
    /// Fixed dimensions added beside the group's (for example `Environment=prod`).
    pub dimensions: Vec<(String, String)>,
}

/// Why a namespace or a dimension list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsSpecError {
    #[error("a namespace is 1 to 255 of A-Z a-z 0-9 . - _ / # : and spaces, and not under AWS/")]
    Namespace,
    #[error("`{0}` is not Name=Value (a name of 1 to 255 characters not starting with ':', a value of 1 to 1024)")]
    Dimension(String),
    #[error("`{0}` is a dimension already, or a name the metrics line uses (each name once; {GROUP_DIMENSION}, HeldBy, the metric names, request_id and cold_start are logscale's)")]
    DuplicateDimension(String),
    #[error("at most {} fixed dimensions fit beside the group and HeldBy", MAX_DIMENSIONS_PER_SET - 2)]
    TooManyDimensions,
}

impl MetricsSpec {
    /// Reads the two settings; the namespace `off` turns the metrics off (`None`).
    pub fn parse(
        namespace: &str,
        dimensions: &str,
    ) -> Result<Option<MetricsSpec>, MetricsSpecError> {
        let namespace = namespace.trim();
        if namespace.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_/#: ".contains(c);
        if namespace.is_empty()
            || namespace.len() > 255
            || !namespace.chars().all(allowed)
            || namespace.starts_with("AWS/")
        {
            return Err(MetricsSpecError::Namespace);
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        for item in dimensions
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let (name, value) = item
                .split_once('=')
                .map(|(n, v)| (n.trim(), v.trim()))
                .filter(|(n, v)| {
                    !n.is_empty()
                        && n.len() <= 255
                        && !n.starts_with(':')
                        && !v.is_empty()
                        && v.len() <= 1024
                        && n.is_ascii()
                        // CloudWatch takes dimension values in printable ASCII.
                        && v.bytes().all(|b| (32..127).contains(&b))
                })
                .ok_or_else(|| MetricsSpecError::Dimension(item.to_string()))?;
            if is_reserved(name) || pairs.iter().any(|(n, _)| n == name) {
                return Err(MetricsSpecError::DuplicateDimension(name.to_string()));
            }
            pairs.push((name.to_string(), value.to_string()));
        }
        if pairs.len() > MAX_DIMENSIONS_PER_SET - 2 {
            return Err(MetricsSpecError::TooManyDimensions);
        }
        Ok(Some(MetricsSpec {
            namespace: namespace.to_string(),
            dimensions: pairs,
        }))
    }
}

/// The metrics every record may carry under the group's dimension, besides each signal's
/// ([`signal_metric_names`]) and `Holds`: the names the template's alarms and dashboard use.
pub const GROUP_METRICS: [&str; 16] = [
    "DesiredBefore",
    "DesiredAfter",
    "MinSize",
    "MaxSize",
    "CapacityChange",
    "Blind",
    "AtMax",
    "RequestsPerMinute",
    "ErrorRate",
    "Latency",
    "SlowRate",
    "CpuUtilization",
    "MemoryUtilization",
    "ObjectsRead",
    "LogsComplete",
    "CycleDuration",
];

/// The count of a held cycle, under the group's dimension and `HeldBy`.
pub const HOLDS_METRIC: &str = "Holds";

/// A signal's three metrics: `<Signal>Value`, `<Signal>Target` and `<Signal>Proposal`.
pub fn signal_metric_names(signal: Signal) -> [String; 3] {
    let base = camel(signal);
    [
        format!("{base}Value"),
        format!("{base}Target"),
        format!("{base}Proposal"),
    ]
}

/// Root members of the metrics line that a fixed dimension must not overwrite: the envelope,
/// logscale's dimensions, the invocation's identity, and every metric name.
fn is_reserved(name: &str) -> bool {
    [
        "_aws",
        GROUP_DIMENSION,
        "HeldBy",
        HOLDS_METRIC,
        "request_id",
        "cold_start",
    ]
    .contains(&name)
        || GROUP_METRICS.contains(&name)
        || Signal::ALL
            .into_iter()
            .any(|s| signal_metric_names(s).iter().any(|n| n == name))
}

/// The cycle could not decide for lack of data or access: the group could not be read, or
/// nothing the policy decides on (logs, CPU, memory, the configured metric) could be read.
pub fn is_blind(record: &DecisionRecord) -> bool {
    if record.capacity.is_none() {
        return true;
    }
    // A partial window counts only if some object was read: every read refused (a key the
    // role may not use, say) is as blind as no bucket.
    let logs_seen = match record.logs.condition {
        LogCondition::Complete | LogCondition::EmptyWindow | LogCondition::NotRead => true,
        LogCondition::Partial => record.logs.objects_read > 0,
        _ => false,
    };
    let load_seen = record.cpu_percent.is_some()
        || record.memory_percent.is_some()
        || record
            .decision
            .signals
            .iter()
            .any(|s| s.signal == Signal::Metric);
    !logs_seen && !load_seen
}

/// The group's maximum stopped a scale-out this run.
pub fn is_pinned_at_max(record: &DecisionRecord) -> bool {
    record.capacity.is_some_and(|c| record.decision.to >= c.max)
        && record
            .decision
            .reasons
            .iter()
            .any(|r| r.rule == Rule::AtMax)
}

/// The rule that had the last word when the capacity did not change.
fn held_by(record: &DecisionRecord) -> Option<String> {
    let changed = record.applied && record.decision.to != record.decision.from;
    if changed {
        return None;
    }
    let rule = record
        .decision
        .reasons
        .last()
        .map(|r| r.rule)
        .unwrap_or(Rule::Steady);
    Some(match serde_json::to_value(rule) {
        Ok(Value::String(name)) => name,
        _ => "unknown".to_string(),
    })
}

/// A signal's name in metric names: `error_rate` → `ErrorRate`.
fn camel(signal: Signal) -> String {
    signal
        .name()
        .split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn signal_unit(signal: Signal) -> &'static str {
    match signal {
        Signal::Latency => "Milliseconds",
        Signal::Requests | Signal::Metric | Signal::Forecast => "Count",
        _ => "Percent",
    }
}

/// The record's EMF document.
pub fn emf(record: &DecisionRecord, spec: &MetricsSpec) -> Value {
    let mut root = Map::new();
    let mut metrics: Vec<Value> = Vec::new();
    let mut put = |root: &mut Map<String, Value>, name: &str, unit: &str, value: Option<f64>| {
        if let Some(v) = value.filter(|v| v.is_finite()) {
            root.insert(name.to_string(), json!(v));
            metrics.push(json!({"Name": name, "Unit": unit}));
        }
    };
    let count = |n: u32| Some(f64::from(n));
    let flag = |b: bool| Some(if b { 1.0 } else { 0.0 });
    let d = &record.decision;
    let changed = record.applied && d.to != d.from;

    if let Some(c) = record.capacity {
        put(&mut root, "DesiredBefore", "Count", count(d.from));
        let after = if changed { d.to } else { d.from };
        put(&mut root, "DesiredAfter", "Count", count(after));
        put(&mut root, "MinSize", "Count", count(c.min));
        put(&mut root, "MaxSize", "Count", count(c.max));
        put(
            &mut root,
            "CapacityChange",
            "Count",
            Some(f64::from(after) - f64::from(d.from)),
        );
    }
    put(&mut root, "Blind", "Count", flag(is_blind(record)));
    put(&mut root, "AtMax", "Count", flag(is_pinned_at_max(record)));
    let m = &record.logs.metrics;
    let read = record.logs.condition != LogCondition::NotRead;
    let requests = (read && record.window.minutes > 0.0 && record.logs.objects_read > 0)
        .then(|| m.requests as f64 / record.window.minutes);
    put(&mut root, "RequestsPerMinute", "Count", requests);
    put(
        &mut root,
        "ErrorRate",
        "Percent",
        m.error_rate.filter(|_| read),
    );
    let latency = d
        .signals
        .iter()
        .find(|s| s.signal == Signal::Latency)
        .map(|s| s.value)
        .or(m.p95_ms)
        .filter(|_| read);
    put(&mut root, "Latency", "Milliseconds", latency);
    put(
        &mut root,
        "SlowRate",
        "Percent",
        m.slow_rate.filter(|_| read),
    );
    put(&mut root, "CpuUtilization", "Percent", record.cpu_percent);
    put(
        &mut root,
        "MemoryUtilization",
        "Percent",
        record.memory_percent,
    );
    put(
        &mut root,
        "ObjectsRead",
        "Count",
        Some(record.logs.objects_read as f64),
    );
    put(
        &mut root,
        "LogsComplete",
        "Count",
        flag(record.logs.condition == LogCondition::Complete),
    );
    put(
        &mut root,
        "CycleDuration",
        "Milliseconds",
        Some(record.duration_ms as f64),
    );
    for s in &d.signals {
        let [value, target, proposal] = signal_metric_names(s.signal);
        put(&mut root, &value, signal_unit(s.signal), Some(s.value));
        put(&mut root, &target, signal_unit(s.signal), Some(s.target));
        put(&mut root, &proposal, "Count", count(s.proposal));
    }
    metrics.truncate(MAX_METRICS_PER_DIRECTIVE);

    root.insert(GROUP_DIMENSION.to_string(), json!(record.group));
    let mut set = vec![GROUP_DIMENSION.to_string()];
    for (name, value) in &spec.dimensions {
        root.insert(name.clone(), json!(value));
        set.push(name.clone());
    }
    let mut directives = vec![json!({
        "Namespace": spec.namespace,
        "Dimensions": [set.clone()],
        "Metrics": metrics,
    })];
    if let Some(rule) = held_by(record) {
        root.insert("HeldBy".to_string(), json!(rule));
        root.insert(HOLDS_METRIC.to_string(), json!(1));
        let mut held_set = set;
        held_set.push("HeldBy".to_string());
        directives.push(json!({
            "Namespace": spec.namespace,
            "Dimensions": [held_set],
            "Metrics": [{"Name": HOLDS_METRIC, "Unit": "Count"}],
        }));
    }
    root.insert(
        "_aws".to_string(),
        json!({
            "Timestamp": record.time.timestamp_millis(),
            "CloudWatchMetrics": directives,
        }),
    );
    Value::Object(root)
}

/// The EMF document as one log line, with the invocation's identity beside the metrics (plain
/// members: searchable in Logs Insights, not metrics).
pub fn emf_line(record: &DecisionRecord, spec: &MetricsSpec) -> String {
    let mut doc = emf(record, spec);
    if let (Some(inv), Value::Object(root)) = (&record.invocation, &mut doc) {
        root.insert("request_id".into(), json!(inv.request_id));
        root.insert("cold_start".into(), json!(inv.cold_start));
    }
    doc.to_string()
}

#[cfg(test)]
mod tests;
