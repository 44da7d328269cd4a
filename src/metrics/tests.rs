//! The EMF document of real cycles (through the in-memory ports), held to the specification.

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use super::*;
use crate::cycle::{run_cycle, CycleOptions};
use crate::memory::{Fault, InMemoryCloud};
use crate::parse::Format;
use crate::sample_logs::{generate, LogGenSpec};
use crate::Config;

#[path = "../../tests/support/emf.rs"]
mod spec;

const GROUP: &str = "web";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 12, 8, 12, 35, 0).unwrap()
}

fn config(extra: &[(&str, &str)]) -> Config {
    let vars: HashMap<String, String> = [
        ("LOGSCALE_BUCKET", "app-logs"),
        ("LOGSCALE_GROUP", GROUP),
        ("LOGSCALE_PREFIX", "logs/"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Config::from_lookup(|k| vars.get(k).cloned()).expect("valid test settings")
}

fn world(desired: u32, cpus: &[f64]) -> InMemoryCloud {
    let cloud = InMemoryCloud::new();
    cloud.put_fleet(
        GROUP,
        (1, 5, desired),
        cpus,
        None,
        now() - chrono::Duration::hours(2),
    );
    let mut logs = Vec::new();
    generate(&LogGenSpec::new(Format::Original, 2000), &mut logs).unwrap();
    cloud.put_object(
        "app-logs",
        "logs/a.log",
        logs,
        now() - chrono::Duration::minutes(2),
    );
    cloud
}

async fn record(cloud: &InMemoryCloud, cfg: &Config) -> DecisionRecord {
    let opts = CycleOptions {
        now: now(),
        scheduled: None,
        dry_run: cfg.dry_run,
        save_state: true,
        deadline: None,
    };
    run_cycle(cfg, &cloud.services(), opts).await
}

fn spec_of(cfg: &Config) -> MetricsSpec {
    cfg.metrics.clone().expect("metrics are on by default")
}

fn directive_names(doc: &Value, i: usize) -> Vec<String> {
    doc["_aws"]["CloudWatchMetrics"][i]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_scale_out_emits_a_valid_document_with_its_numbers() {
    let cloud = world(2, &[90.0, 90.0]);
    let cfg = config(&[]);
    let r = record(&cloud, &cfg).await;
    assert!(r.applied && r.decision.to > 2, "{}", r.decision.explanation);
    let doc = emf(&r, &spec_of(&cfg));
    spec::check_emf(&doc).unwrap();
    assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Logscale");
    assert_eq!(
        doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([["AutoScalingGroupName"]])
    );
    assert_eq!(doc["AutoScalingGroupName"], GROUP);
    assert_eq!(doc["DesiredBefore"], 2.0);
    assert_eq!(doc["DesiredAfter"], f64::from(r.decision.to));
    assert_eq!(doc["CapacityChange"], f64::from(r.decision.to) - 2.0);
    assert_eq!(doc["Blind"], 0.0);
    assert_eq!(doc["CpuUtilization"], 90.0);
    assert_eq!(doc["CpuValue"], 90.0);
    assert!(doc["CpuProposal"].as_f64().unwrap() >= 3.0);
    assert_eq!(doc["LogsComplete"], 1.0);
    assert_eq!(doc["ObjectsRead"], 1.0);
    assert!(doc["RequestsPerMinute"].as_f64().unwrap() > 0.0);
    assert_eq!(doc["_aws"]["Timestamp"], r.time.timestamp_millis());
    // A change is not a hold: no HeldBy directive.
    assert_eq!(
        doc["_aws"]["CloudWatchMetrics"].as_array().unwrap().len(),
        1
    );
    assert!(doc.get("HeldBy").is_none());
}

#[tokio::test]
async fn a_hold_is_counted_by_the_rule_that_held() {
    // Comfortable CPU: the policy proposes what it has.
    let cloud = world(2, &[60.0, 65.0]);
    let cfg = config(&[]);
    let r = record(&cloud, &cfg).await;
    assert_eq!(r.decision.to, 2);
    let doc = emf(&r, &spec_of(&cfg));
    spec::check_emf(&doc).unwrap();
    let last = serde_json::to_value(r.decision.reasons.last().unwrap().rule).unwrap();
    assert_eq!(doc["HeldBy"], last);
    assert_eq!(doc["Holds"], 1);
    assert_eq!(directive_names(&doc, 1), ["Holds"]);
    assert_eq!(
        doc["_aws"]["CloudWatchMetrics"][1]["Dimensions"],
        serde_json::json!([["AutoScalingGroupName", "HeldBy"]])
    );
    assert_eq!(doc["CapacityChange"], 0.0);
}

#[tokio::test]
async fn a_dry_run_is_a_hold_and_reports_no_change() {
    let cloud = world(2, &[90.0, 90.0]);
    let cfg = config(&[("LOGSCALE_DRY_RUN", "true")]);
    let r = record(&cloud, &cfg).await;
    assert!(!r.applied && r.decision.to == 3);
    let doc = emf(&r, &spec_of(&cfg));
    spec::check_emf(&doc).unwrap();
    assert_eq!(doc["DesiredAfter"], 2.0, "nothing changed");
    assert_eq!(doc["CapacityChange"], 0.0);
    assert!(doc["HeldBy"].is_string());
}

#[tokio::test]
async fn an_unreadable_group_is_blind_and_leaves_its_numbers_out() {
    let cloud = world(2, &[50.0, 50.0]);
    cloud.inject(Fault::error("DescribeAutoScalingGroups", "AccessDenied"));
    let cfg = config(&[]);
    let r = record(&cloud, &cfg).await;
    assert!(r.capacity.is_none());
    let doc = emf(&r, &spec_of(&cfg));
    spec::check_emf(&doc).unwrap();
    assert_eq!(doc["Blind"], 1.0);
    let names = directive_names(&doc, 0);
    for absent in [
        "DesiredBefore",
        "DesiredAfter",
        "MinSize",
        "MaxSize",
        "CapacityChange",
    ] {
        assert!(
            !names.contains(&absent.to_string()),
            "{absent} is unknown, so left out"
        );
        assert!(doc.get(absent).is_none());
    }
}

#[tokio::test]
async fn no_logs_and_no_cpu_is_blind_logs_alone_are_not() {
    let cfg = config(&[("LOGSCALE_BUCKET", "no-such-bucket")]);
    let cloud = world(2, &[50.0, 50.0]);
    cloud.inject(Fault::error("GetMetricData", "AccessDenied"));
    let r = record(&cloud, &cfg).await;
    assert!(r.cpu_percent.is_none());
    let doc = emf(&r, &spec_of(&cfg));
    spec::check_emf(&doc).unwrap();
    assert_eq!(doc["Blind"], 1.0, "{}", r.decision.explanation);
    assert_eq!(doc["LogsComplete"], 0.0);
    assert!(
        doc.get("RequestsPerMinute").is_none(),
        "no logs: no request rate, not zero"
    );

    // The same without the bucket fault: the logs are enough to see by.
    let cloud = world(2, &[50.0, 50.0]);
    cloud.inject(Fault::error("GetMetricData", "AccessDenied"));
    let r = record(&cloud, &config(&[])).await;
    assert_eq!(emf(&r, &spec_of(&cfg))["Blind"], 0.0);
}

#[tokio::test]
async fn a_group_at_its_max_that_asks_for_more_is_pinned() {
    let cloud = world(5, &[95.0; 5]);
    let cfg = config(&[]);
    let r = record(&cloud, &cfg).await;
    assert_eq!(r.decision.to, 5);
    let doc = emf(&r, &spec_of(&cfg));
    spec::check_emf(&doc).unwrap();
    assert_eq!(doc["AtMax"], 1.0);
    let calm = record(&world(2, &[60.0, 65.0]), &cfg).await;
    assert_eq!(emf(&calm, &spec_of(&cfg))["AtMax"], 0.0);
}

#[tokio::test]
async fn fixed_dimensions_join_every_set_and_the_line_carries_the_invocation() {
    let cloud = world(2, &[60.0, 65.0]);
    let cfg = config(&[
        ("LOGSCALE_METRICS_NAMESPACE", "Team/Autoscaling"),
        (
            "LOGSCALE_METRICS_DIMENSIONS",
            "Environment=prod, Service=web",
        ),
    ]);
    let mut r = record(&cloud, &cfg).await;
    r.invocation = Some(crate::record::Invocation {
        request_id: "req-1".into(),
        cold_start: true,
    });
    let doc: Value = serde_json::from_str(&emf_line(&r, &spec_of(&cfg))).unwrap();
    spec::check_emf(&doc).unwrap();
    assert_eq!(
        doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "Team/Autoscaling"
    );
    assert_eq!(
        doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([["AutoScalingGroupName", "Environment", "Service"]])
    );
    assert_eq!(
        doc["_aws"]["CloudWatchMetrics"][1]["Dimensions"],
        serde_json::json!([["AutoScalingGroupName", "Environment", "Service", "HeldBy"]])
    );
    assert_eq!(
        (doc["Environment"].as_str(), doc["Service"].as_str()),
        (Some("prod"), Some("web"))
    );
    assert_eq!(
        (doc["request_id"].as_str(), doc["cold_start"].as_bool()),
        (Some("req-1"), Some(true))
    );
}

#[test]
fn settings_are_checked_and_off_turns_metrics_off() {
    assert_eq!(MetricsSpec::parse("off", "A=b"), Ok(None));
    assert_eq!(MetricsSpec::parse("", ""), Err(MetricsSpecError::Namespace));
    assert_eq!(
        MetricsSpec::parse("AWS/EC2", ""),
        Err(MetricsSpecError::Namespace)
    );
    assert_eq!(
        MetricsSpec::parse("bad*name", ""),
        Err(MetricsSpecError::Namespace)
    );
    assert_eq!(
        MetricsSpec::parse("Logscale", "Environment"),
        Err(MetricsSpecError::Dimension("Environment".into()))
    );
    assert_eq!(
        MetricsSpec::parse("Logscale", "AutoScalingGroupName=x"),
        Err(MetricsSpecError::DuplicateDimension(
            "AutoScalingGroupName".into()
        ))
    );
    assert_eq!(
        MetricsSpec::parse("Logscale", "A=1,A=2"),
        Err(MetricsSpecError::DuplicateDimension("A".into()))
    );
    for reserved in [
        "Blind",
        "_aws",
        "request_id",
        "CpuProposal",
        "ForecastValue",
        "HeldBy",
    ] {
        assert_eq!(
            MetricsSpec::parse("Logscale", &format!("{reserved}=x")),
            Err(MetricsSpecError::DuplicateDimension(reserved.into())),
            "{reserved} would overwrite the line's own member"
        );
    }
    assert_eq!(
        MetricsSpec::parse("Logscale", "Team=caf\u{e9}"),
        Err(MetricsSpecError::Dimension("Team=caf\u{e9}".into())),
        "CloudWatch takes ASCII values"
    );
    let many: Vec<String> = (0..29).map(|i| format!("D{i}=v")).collect();
    assert_eq!(
        MetricsSpec::parse("Logscale", &many.join(",")),
        Err(MetricsSpecError::TooManyDimensions)
    );
    let err = config_error(&[("LOGSCALE_METRICS_NAMESPACE", "AWS/Lambda")]);
    assert!(
        err.contains("LOGSCALE_METRICS_NAMESPACE") && err.contains("AWS/Lambda"),
        "{err}"
    );
    assert!(config(&[("LOGSCALE_METRICS_NAMESPACE", "OFF")])
        .metrics
        .is_none());
    assert_eq!(
        config(&[("LOGSCALE_METRICS_NAMESPACE", "")])
            .metrics
            .unwrap()
            .namespace,
        "Logscale",
        "unset: the default"
    );
}

fn config_error(extra: &[(&str, &str)]) -> String {
    let vars: HashMap<String, String> =
        [("LOGSCALE_BUCKET", "app-logs"), ("LOGSCALE_GROUP", GROUP)]
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    Config::from_lookup(|k| vars.get(k).cloned())
        .unwrap_err()
        .to_string()
}

#[test]
fn the_validator_refuses_what_cloudwatch_would_drop() {
    let good = serde_json::json!({
        "_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "N", "Dimensions": [["G"]], "Metrics": [{"Name": "M", "Unit": "Count"}]}]},
        "G": "web", "M": 1
    });
    spec::check_emf(&good).unwrap();
    let mut no_value = good.clone();
    no_value.as_object_mut().unwrap().remove("M");
    assert!(spec::check_emf(&no_value).is_err());
    let mut bad_unit = good.clone();
    bad_unit["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = "Requests".into();
    assert!(spec::check_emf(&bad_unit).is_err());
    let mut numeric_dimension = good.clone();
    numeric_dimension["G"] = 3.into();
    assert!(spec::check_emf(&numeric_dimension).is_err());
}

/// Review of issue 11: a window whose every object was refused (a KMS key the role may not
/// use) is blind even though the listing worked.
#[tokio::test]
async fn every_read_refused_is_blind_when_cpu_is_unread_too() {
    let cloud = world(2, &[50.0, 50.0]);
    cloud.inject(Fault::error("GetObject", "AccessDenied").on("logs/a.log"));
    cloud.inject(Fault::error("GetMetricData", "AccessDenied"));
    let cfg = config(&[]);
    let r = record(&cloud, &cfg).await;
    assert_eq!(
        (r.logs.condition, r.logs.objects_read),
        (LogCondition::Partial, 0)
    );
    assert_eq!(emf(&r, &spec_of(&cfg))["Blind"], 1.0);
}

/// The lists the template's test reads are the emitter's: every metric a document declares is
/// in them (a new metric must be added there, and so to the dashboard's check).
#[tokio::test]
async fn every_emitted_metric_is_in_the_published_lists() {
    let cfg = config(&[
        (
            "LOGSCALE_METRIC",
            "AWS/SQS ApproximateNumberOfMessagesVisible QueueName=jobs",
        ),
        ("LOGSCALE_METRIC_TARGET_PER_INSTANCE", "10"),
        ("LOGSCALE_TARGET_REQUESTS_PER_INSTANCE", "500"),
    ]);
    let hot = world(2, &[90.0, 90.0]);
    hot.put_metric(cfg.metric.as_ref().unwrap(), Some(30.0));
    for r in [
        record(&hot, &cfg).await,
        record(&world(2, &[60.0, 65.0]), &cfg).await,
    ] {
        assert!(r.decision.signals.len() >= 3, "{:?}", r.decision.signals);
        let doc = emf(&r, &spec_of(&cfg));
        for directive in doc["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
            for m in directive["Metrics"].as_array().unwrap() {
                let name = m["Name"].as_str().unwrap();
                let known = GROUP_METRICS.contains(&name)
                    || name == HOLDS_METRIC
                    || Signal::ALL
                        .into_iter()
                        .any(|s| signal_metric_names(s).iter().any(|n| n == name));
                assert!(known, "{name} is emitted but not published");
            }
        }
    }
}
