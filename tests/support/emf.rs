//! The CloudWatch Embedded Metric Format specification's rules, checked on a parsed document:
//! what CloudWatch Logs needs to extract metrics from a log line rather than drop it. Used by the
//! unit tests (src/metrics/tests.rs) and by every end-to-end scenario (tests/lambda_e2e.rs).
#![allow(dead_code)]

use serde_json::Value;

/// The units the specification allows.
pub const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Every rule of the specification a document must meet, or the first one it breaks.
pub fn check_emf(doc: &Value) -> Result<(), String> {
    let root = doc.as_object().ok_or("the document is not a JSON object")?;
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("no `_aws` object")?;
    let ts = aws.get("Timestamp").ok_or("`_aws.Timestamp` is missing")?;
    if !ts.is_u64() {
        return Err(format!("`_aws.Timestamp` is not epoch milliseconds: {ts}"));
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("`_aws.CloudWatchMetrics` is not an array")?;
    if directives.is_empty() {
        return Err("no metric directive".into());
    }
    for d in directives {
        let ns = d["Namespace"]
            .as_str()
            .ok_or("a directive has no Namespace")?;
        let ns_chars = ns
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/#:- ".contains(c));
        if ns.is_empty() || ns.len() > 255 || ns.starts_with("AWS/") || !ns_chars {
            return Err(format!("namespace `{ns}` is not allowed"));
        }
        let sets = d["Dimensions"]
            .as_array()
            .ok_or("a directive has no Dimensions array")?;
        for set in sets {
            let set = set.as_array().ok_or("a dimension set is not an array")?;
            if set.len() > 30 {
                return Err(format!(
                    "a dimension set has {} dimensions (at most 30)",
                    set.len()
                ));
            }
            for name in set {
                let name = name.as_str().ok_or("a dimension name is not a string")?;
                match root.get(name) {
                    Some(Value::String(v))
                        if !v.is_empty()
                            && v.len() <= 1024
                            && v.bytes().all(|b| (32..127).contains(&b)) => {}
                    other => {
                        return Err(format!(
                            "dimension `{name}` has no string value at the root: {other:?}"
                        ))
                    }
                }
            }
        }
        let metrics = d["Metrics"]
            .as_array()
            .ok_or("a directive has no Metrics array")?;
        if metrics.len() > 100 {
            return Err(format!(
                "{} metrics in one directive (at most 100)",
                metrics.len()
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for m in metrics {
            let name = m["Name"].as_str().ok_or("a metric has no Name")?;
            if name.is_empty() || name.len() > 1024 {
                return Err(format!("metric name `{name}` is empty or too long"));
            }
            if !seen.insert(name) {
                return Err(format!(
                    "metric `{name}` is declared twice in one directive"
                ));
            }
            if let Some(unit) = m.get("Unit") {
                let unit = unit.as_str().unwrap_or("");
                if !UNITS.contains(&unit) {
                    return Err(format!(
                        "metric `{name}` has unit `{unit}`, not one of the allowed"
                    ));
                }
            }
            if let Some(res) = m.get("StorageResolution") {
                if res != 1 && res != 60 {
                    return Err(format!("metric `{name}` has StorageResolution {res}"));
                }
            }
            match root.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(values))
                    if !values.is_empty()
                        && values.len() <= 100
                        && values.iter().all(Value::is_number) => {}
                other => {
                    return Err(format!(
                        "metric `{name}` has no numeric value at the root: {other:?}"
                    ))
                }
            }
        }
    }
    Ok(())
}
