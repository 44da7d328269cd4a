//! The AWS adapters with the real SDK clients against the local stand-in: request shapes,
//! pagination, streaming, error mapping, and the faults AWS produces that moto does not.

mod support;

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use chrono::{Duration, Utc};
use logscale::aws::{self, AutoScalingGroups, CloudWatchMetrics, Ec2Instances, S3LogStore};
use logscale::parse::ParseOptions;
use logscale::ports::{Instances, Metrics, SaveOutcome, ScalingGroups, StateStore};
use logscale::{fetch_window, list_all, LogCondition, MetricSpec, Selection, Source, Statistic};
use support::*;

/// Reads the last five minutes of `bucket/logs/` as the Lambda does.
async fn fetch_logs(store: &S3LogStore, bucket: &str) -> logscale::FetchReport {
    let now = Utc::now() + Duration::seconds(5);
    let source = Source {
        bucket,
        prefix: "logs/",
        ignore: &[],
        summaries: None,
    };
    let window = Selection::window(now - Duration::minutes(5), now);
    fetch_window(store, source, &window, &ParseOptions::default(), 3, None).await
}

#[tokio::test]
async fn s3_lists_every_page_and_reads_plain_and_gzip_objects() {
    let bucket = unique("pages");
    seed(&["bucket", &bucket]);
    let mut expected = (0, 0, 0);
    for (n, key) in ["a.log", "b.log", "c.log.gz", "d.log", "e.log.gz"]
        .iter()
        .enumerate()
    {
        let stats = put_logs(
            &bucket,
            &format!("logs/{key}"),
            200 + n as u64 * 10,
            0.1,
            0.2,
        )
        .await;
        expected.0 += stats.lines;
        expected.1 += stats.errors;
        expected.2 += stats.slow;
    }
    put_logs(&bucket, "other/ignored.log", 50, 0.0, 0.0).await;

    let store = S3LogStore::new(aws::s3::client(&sdk_config().await, true)).with_page_size(2);
    let (listing, error) = list_all(&store, &bucket, "logs/", None, None).await;
    assert_eq!(error, None);
    let listed = &listing.objects;
    assert_eq!(listed.len(), 5, "{listed:?}");
    assert_eq!(listing.calls, 3, "five keys, two a page");
    // StartAfter, across pages: only the keys that sort after the given one.
    let after = &listed[1].key;
    let (later, _) = list_all(&store, &bucket, "logs/", Some(after), None).await;
    assert_eq!(later.calls, 2);
    let keys: Vec<&String> = later.objects.iter().map(|o| &o.key).collect();
    let want: Vec<&String> = listed[2..].iter().map(|o| &o.key).collect();
    assert_eq!(keys, want);
    assert!(listed.iter().all(|o| o.etag.is_some()), "S3 lists ETags");

    let report = fetch_logs(&store, &bucket).await;
    assert_eq!(
        report.condition,
        LogCondition::Complete,
        "{:?}",
        report.problems
    );
    assert_eq!(report.objects_read, 5);
    let s = &report.summary;
    assert_eq!((s.requests, s.errors, s.slow), expected);
    assert_eq!(s.unparsed, 0);
}

#[tokio::test]
async fn s3_missing_bucket_is_a_named_condition() {
    let store = S3LogStore::new(aws::s3::client(&sdk_config().await, true));
    let bucket = unique("absent");
    let report = fetch_logs(&store, &bucket).await;
    assert_eq!(report.condition, LogCondition::NoSuchBucket);
    let err = report.list_error.unwrap();
    assert!(
        err.contains("NoSuchBucket") && err.contains(&bucket),
        "{err}"
    );
}

#[tokio::test]
async fn s3_corrupt_gzip_object_is_reported_and_the_rest_still_counts() {
    let bucket = unique("corrupt");
    seed(&["bucket", &bucket]);
    let good = put_logs(&bucket, "logs/good.log", 300, 0.0, 0.0).await;
    let sdk = sdk_config().await;
    aws::s3::client(&sdk, true)
        .put_object()
        .bucket(&bucket)
        .key("logs/bad.log.gz")
        .body(
            b"\x1f\x8b\x08\x00this is not deflate data at all"
                .to_vec()
                .into(),
        )
        .send()
        .await
        .unwrap();
    let store = S3LogStore::new(aws::s3::client(&sdk, true));
    let report = fetch_logs(&store, &bucket).await;
    assert_eq!(report.condition, LogCondition::Partial);
    assert_eq!(report.summary.requests, good.lines);
    assert_eq!(report.problems.len(), 1);
    assert_eq!(report.problems[0].key, "logs/bad.log.gz");
}

#[tokio::test]
async fn cloudwatch_round_trip_from_the_rust_client() {
    let sdk = sdk_config().await;
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    let (busy, idle, silent) = (unique("i-busy"), unique("i-idle"), unique("i-silent"));
    let now = Utc::now();
    for (instance, namespace, name, values) in [
        (&busy, "AWS/EC2", "CPUUtilization", [80.0, 90.0]),
        (&idle, "AWS/EC2", "CPUUtilization", [10.0, 20.0]),
        (&busy, "CWAgent", "mem_used_percent", [40.0, 60.0]),
    ] {
        let data: Vec<MetricDatum> = values
            .iter()
            .enumerate()
            .map(|(n, v)| {
                MetricDatum::builder()
                    .metric_name(name)
                    .dimensions(
                        Dimension::builder()
                            .name("InstanceId")
                            .value(instance)
                            .build(),
                    )
                    .timestamp(aws::to_smithy(now - Duration::minutes(n as i64 + 1)))
                    .value(*v)
                    .unit(StandardUnit::Percent)
                    .build()
            })
            .collect();
        cw.put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(data))
            .send()
            .await
            .expect("PutMetricData over CBOR through the stand-in");
    }

    let metrics = CloudWatchMetrics::new(cw);
    let ids = vec![busy.clone(), idle.clone(), silent.clone()];
    let load = metrics
        .instance_load(&ids, now - Duration::minutes(10), now)
        .await
        .expect("GetMetricData over CBOR through the stand-in");
    let cpu: BTreeMap<&str, Option<f64>> = load
        .iter()
        .map(|(k, v)| (k.as_str(), v.cpu_percent))
        .collect();
    assert_eq!(cpu[busy.as_str()], Some(85.0));
    assert_eq!(cpu[idle.as_str()], Some(15.0));
    assert_eq!(cpu[silent.as_str()], None);
    assert_eq!(load[&busy].memory_percent, Some(50.0));
    assert_eq!(load[&idle].memory_percent, None);
    assert_eq!(load[&busy].cpu_datapoints, 2);
}

/// Issue 10: the configured metric (`LOGSCALE_METRIC`) through the port: a custom namespace
/// and two dimensions, each statistic per minute, the minutes averaged; another dimension
/// value is another metric, without datapoints.
#[tokio::test]
async fn cloudwatch_reads_a_configured_custom_metric_with_each_statistic() {
    let sdk = sdk_config().await;
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    let namespace = unique("Logscale/Test");
    let queue = unique("jobs");
    let now = Utc::now();
    // Two values in one minute (100 and 300), one in the minute before (600).
    let data: Vec<MetricDatum> = [(1, 100.0), (1, 300.0), (2, 600.0)]
        .into_iter()
        .map(|(minutes_ago, value)| {
            MetricDatum::builder()
                .metric_name("Backlog")
                .dimensions(Dimension::builder().name("QueueName").value(&queue).build())
                .dimensions(Dimension::builder().name("Stage").value("prod").build())
                .timestamp(aws::to_smithy(now - Duration::minutes(minutes_ago)))
                .value(value)
                .unit(StandardUnit::Count)
                .build()
        })
        .collect();
    cw.put_metric_data()
        .namespace(&namespace)
        .set_metric_data(Some(data))
        .send()
        .await
        .expect("PutMetricData over CBOR through the stand-in");

    let metrics = CloudWatchMetrics::new(cw);
    let spec = |text: &str, statistic| MetricSpec::parse(text, statistic).unwrap();
    let written = format!("{namespace} Backlog QueueName={queue} Stage=prod");
    for (statistic, want) in [
        (Statistic::Average, (200.0 + 600.0) / 2.0),
        (Statistic::Sum, (400.0 + 600.0) / 2.0),
        (Statistic::Maximum, (300.0 + 600.0) / 2.0),
        (Statistic::Minimum, (100.0 + 600.0) / 2.0),
    ] {
        let value = metrics
            .metric(&spec(&written, statistic), now - Duration::minutes(10), now)
            .await
            .expect("GetMetricData over CBOR through the stand-in");
        assert_eq!(value, Some(want), "{statistic}");
    }
    let other = format!("{namespace} Backlog QueueName={queue}-other Stage=prod");
    let none = metrics
        .metric(
            &spec(&other, Statistic::Average),
            now - Duration::minutes(10),
            now,
        )
        .await
        .unwrap();
    assert_eq!(none, None, "no datapoints");
}

#[tokio::test]
async fn autoscaling_describe_set_and_unknown_group() {
    let group = unique("asg");
    seed(&[
        "group",
        &group,
        "--min",
        "1",
        "--max",
        "5",
        "--desired",
        "2",
    ]);
    let sdk = sdk_config().await;
    let groups = AutoScalingGroups::new(aws_sdk_autoscaling::Client::new(&sdk));

    let info = groups
        .describe(&group)
        .await
        .unwrap()
        .expect("group exists");
    assert_eq!((info.min, info.max, info.desired), (1, 5, 2));
    assert_eq!(info.instances.len(), 2);
    assert!(info
        .instances
        .iter()
        .all(|i| i.lifecycle_state == "InService"));

    groups.set_desired(&group, 3, true).await.unwrap();
    assert_eq!(group_state(&group)["desired"], 3);

    assert_eq!(groups.describe(&unique("nobody")).await.unwrap(), None);

    let instances = Ec2Instances::new(aws_sdk_ec2::Client::new(&sdk));
    let ids: Vec<String> = info.instances.iter().map(|i| i.id.clone()).collect();
    let described = instances.describe(&ids).await.unwrap();
    assert_eq!(described.len(), 2);
    assert!(
        described.iter().all(|i| i.state == "running"),
        "{described:?}"
    );
}

#[tokio::test]
async fn autoscaling_names_the_groups_other_scalers() {
    let group = unique("fought");
    seed(&[
        "group",
        &group,
        "--min",
        "1",
        "--max",
        "5",
        "--desired",
        "2",
    ]);
    let sdk = sdk_config().await;
    let client = aws_sdk_autoscaling::Client::new(&sdk);
    let groups = AutoScalingGroups::new(client.clone());
    assert!(groups.other_scalers(&group).await.unwrap().is_empty());

    client
        .put_scheduled_update_group_action()
        .auto_scaling_group_name(&group)
        .scheduled_action_name("nightly")
        .recurrence("0 22 * * *")
        .desired_capacity(1)
        .send()
        .await
        .unwrap();
    client
        .put_scaling_policy()
        .auto_scaling_group_name(&group)
        .policy_name("step-out")
        .policy_type("SimpleScaling")
        .adjustment_type("ChangeInCapacity")
        .scaling_adjustment(1)
        .send()
        .await
        .unwrap();
    let found = groups.other_scalers(&group).await.unwrap();
    assert!(
        found.iter().any(|f| f.contains("step-out"))
            && found.iter().any(|f| f == "scheduled action nightly"),
        "{found:?}"
    );
}

#[tokio::test]
async fn regression_ec2_describe_with_an_id_ec2_does_not_know_yet_fails_nothing() {
    let group = unique("young");
    seed(&[
        "group",
        &group,
        "--min",
        "1",
        "--max",
        "5",
        "--desired",
        "2",
    ]);
    let sdk = sdk_config().await;
    let groups = AutoScalingGroups::new(aws_sdk_autoscaling::Client::new(&sdk));
    let info = groups
        .describe(&group)
        .await
        .unwrap()
        .expect("group exists");
    let mut ids: Vec<String> = info.instances.iter().map(|i| i.id.clone()).collect();
    // An instance Auto Scaling has just launched that EC2 does not list yet: well formed, and
    // unknown. Asked for by InstanceIds, it failed the whole call (InvalidInstanceID.NotFound).
    ids.insert(1, "i-0123456789abcdef0".to_string());

    let instances = Ec2Instances::new(aws_sdk_ec2::Client::new(&sdk));
    let described = instances
        .describe(&ids)
        .await
        .expect("an unknown id is left out, not an error");
    let mut found: Vec<&str> = described.iter().map(|i| i.id.as_str()).collect();
    found.sort_unstable();
    let mut known: Vec<&str> = info.instances.iter().map(|i| i.id.as_str()).collect();
    known.sort_unstable();
    assert_eq!(found, known);
    assert!(
        described.iter().all(|i| i.launch_time.is_some()),
        "{described:?}"
    );
}

#[tokio::test]
async fn regression_an_oversized_state_object_is_refused_unread() {
    let bucket = unique("bigstate");
    seed(&["bucket", &bucket]);
    let sdk = sdk_config().await;
    let key = "logscale-state/web.json";
    let size = logscale::MAX_STATE_BYTES as usize + 1;
    aws::s3::client(&sdk, true)
        .put_object()
        .bucket(&bucket)
        .key(key)
        .body(vec![b' '; size].into())
        .send()
        .await
        .unwrap();
    let store = S3LogStore::new(aws::s3::client(&sdk, true));
    let refused = store.load(&bucket, key).await.unwrap().unwrap();
    assert!(refused.bytes.is_empty(), "the body is not read");
    assert!(refused.etag.is_some(), "so that a run can overwrite it");
    let why = refused.refused.unwrap();
    assert!(
        why.contains(&size.to_string()) && why.contains(&logscale::MAX_STATE_BYTES.to_string()),
        "{why}"
    );
}

#[tokio::test]
async fn autoscaling_faults_map_to_codes_and_throttling_is_retried() {
    let group = unique("faulty");
    seed(&[
        "group",
        &group,
        "--min",
        "1",
        "--max",
        "5",
        "--desired",
        "2",
    ]);
    let groups = AutoScalingGroups::new(aws_sdk_autoscaling::Client::new(&sdk_config().await));

    inject_fault("SetDesiredCapacity", "ScalingActivityInProgress", &group);
    let err = groups.set_desired(&group, 3, true).await.unwrap_err();
    assert!(err.is("ScalingActivityInProgress"), "{err}");
    assert_eq!(
        group_state(&group)["desired"],
        2,
        "a refused call changes nothing"
    );

    // One throttled answer: the SDK's standard retry goes again and succeeds.
    inject_fault("DescribeAutoScalingGroups", "Throttling", &group);
    let info = groups.describe(&group).await.unwrap().unwrap();
    assert_eq!(info.desired, 2);
}

#[tokio::test]
async fn state_round_trip_and_lost_races_with_conditional_puts() {
    let bucket = unique("state");
    seed(&["bucket", &bucket]);
    let store = S3LogStore::new(aws::s3::client(&sdk_config().await, true));
    let key = "logscale-state/web.json";

    assert_eq!(store.load(&bucket, key).await.unwrap(), None);
    let first = store
        .save(&bucket, key, b"{\"v\":1}".to_vec(), None)
        .await
        .unwrap();
    assert_eq!(first, SaveOutcome::Saved);
    // A second "first write" loses: the object exists now.
    let again = store
        .save(&bucket, key, b"{\"v\":2}".to_vec(), None)
        .await
        .unwrap();
    assert_eq!(again, SaveOutcome::Conflict);

    let loaded = store.load(&bucket, key).await.unwrap().unwrap();
    assert_eq!(loaded.bytes, b"{\"v\":1}");
    let etag = loaded.etag.clone().expect("S3 returns an ETag");
    let next = store
        .save(&bucket, key, b"{\"v\":3}".to_vec(), Some(&etag))
        .await
        .unwrap();
    assert_eq!(next, SaveOutcome::Saved);
    // The ETag read before that write is stale now: a run holding it loses.
    let stale = store
        .save(&bucket, key, b"{\"v\":4}".to_vec(), Some(&etag))
        .await
        .unwrap();
    assert_eq!(stale, SaveOutcome::Conflict);
    assert_eq!(
        store.load(&bucket, key).await.unwrap().unwrap().bytes,
        b"{\"v\":3}"
    );
}

#[tokio::test]
async fn alb_logs_are_listed_by_the_windows_date_folders_only() {
    use logscale::parse::Format;
    let bucket = unique("alb");
    seed(&["bucket", &bucket]);
    let root = "AWSLogs/123456789012/elasticloadbalancing/us-east-1/";
    let today = Utc::now().format("%Y/%m/%d").to_string();
    let fresh = put_logs_in(
        &bucket,
        &format!("{root}{today}/node-a.log.gz"),
        Format::Alb,
        400,
        0.05,
        0.0,
    )
    .await;
    // Uploaded now too, but filed under an old delivery date: not in the window's folders.
    put_logs_in(
        &bucket,
        &format!("{root}2019/01/01/node-a.log.gz"),
        Format::Alb,
        300,
        0.0,
        0.0,
    )
    .await;

    let store = S3LogStore::new(aws::s3::client(&sdk_config().await, true));
    let now = Utc::now() + Duration::seconds(5);
    let source = Source {
        bucket: &bucket,
        prefix: root,
        ignore: &[],
        summaries: None,
    };
    let window = Selection::window(now - Duration::minutes(5), now);
    let report = fetch_window(&store, source, &window, &ParseOptions::default(), 2, None).await;
    assert_eq!(report.objects_listed, 1, "{report:?}");
    assert_eq!(report.summary.requests, fresh.lines);
    assert_eq!(report.summary.errors, fresh.errors);
}
