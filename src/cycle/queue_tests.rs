//! Discovery by queue (`LOGSCALE_QUEUE_URL`) through whole cycles, in memory: the bucket
//! announces each new object to the queue as S3 does, and nothing is ever listed.

use std::collections::HashMap;
use std::time::Duration;

use chrono::TimeZone;

use super::*;
use crate::decide::Action;
use crate::memory::{Fault, InMemoryCloud};

const BUCKET: &str = "app-logs";
const GROUP: &str = "web";
const QUEUE: &str = "https://sqs.us-east-1.amazonaws.com/111122223333/logscale-discovery";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 12, 8, 12, 35, 0).unwrap()
}

fn minutes(m: i64) -> chrono::Duration {
    chrono::Duration::minutes(m)
}

fn config() -> Config {
    let vars: HashMap<&str, &str> = [
        ("LOGSCALE_BUCKET", BUCKET),
        ("LOGSCALE_GROUP", GROUP),
        ("LOGSCALE_PREFIX", "logs/"),
        ("LOGSCALE_QUEUE_URL", QUEUE),
        ("LOGSCALE_LAG_SECONDS", "0"),
    ]
    .into_iter()
    .collect();
    Config::from_lookup(|k| vars.get(k).map(|v| v.to_string())).expect("valid test settings")
}

use super::tests::healthy_logs as logs;

/// A warm group of two at `cpu` %, a bucket holding `old` objects written before the queue was
/// set up (never announced), then announcing every new object to the queue.
fn world(cpu: f64, old: usize) -> InMemoryCloud {
    let cloud = InMemoryCloud::new();
    cloud.put_fleet(
        GROUP,
        (1, 10, 2),
        &[cpu, cpu],
        Some(40.0),
        now() - minutes(120),
    );
    for i in 0..old {
        cloud.put_object(
            BUCKET,
            &format!("logs/old-{i:05}.log"),
            logs(1),
            now() - minutes(600),
        );
    }
    cloud.notify_queue(BUCKET, QUEUE);
    cloud
}

async fn run_at(cloud: &InMemoryCloud, cfg: &Config, at: DateTime<Utc>) -> DecisionRecord {
    let opts = CycleOptions {
        now: at,
        scheduled: Some(at),
        dry_run: false,
        save_state: true,
        deadline: None,
    };
    run_cycle(cfg, &cloud.services(), opts).await
}

fn queue_report(record: &DecisionRecord) -> crate::fetch::QueueReport {
    let discovery = record.logs.discovery.as_ref().expect("a discovery");
    assert_eq!(discovery.method, crate::discover::ListingScope::Queue);
    discovery.queue.clone().expect("queue counts")
}

#[tokio::test]
async fn announced_objects_are_read_without_listing_and_their_messages_deleted_after_acting() {
    let cloud = world(90.0, 300);
    for (i, name) in ["logs/a b.log", "logs/c+d%.log", "logs/e.log"]
        .iter()
        .enumerate()
    {
        cloud.put_object(BUCKET, name, logs(100), now() - minutes(i as i64 + 1));
    }
    let record = run_at(&cloud, &config(), now()).await;

    assert!(cloud.calls_to("ListObjectsV2").is_empty(), "nothing listed");
    assert_eq!(record.logs.condition, LogCondition::Complete);
    assert_eq!(record.logs.objects_read, 3, "keys with spaces and escapes");
    assert_eq!(
        record.logs.metrics.requests, 300,
        "the 300 old objects unread"
    );
    let queue = queue_report(&record);
    assert_eq!((queue.messages, queue.deleted, queue.drained), (3, 3, true));
    assert_eq!(cloud.queue_depth(QUEUE), (0, 0));
    assert_eq!(record.decision.action(), Action::ScaleUp);
    let discovery = record.logs.discovery.as_ref().unwrap();
    assert_eq!(discovery.calls, 2, "one receive of three, one empty");
    let order: Vec<&str> = cloud
        .calls()
        .iter()
        .map(|c| c.operation)
        .filter(|op| {
            matches!(
                *op,
                "PutObject" | "SetDesiredCapacity" | "DeleteMessageBatch"
            )
        })
        .collect();
    assert_eq!(
        order,
        ["PutObject", "SetDesiredCapacity", "DeleteMessageBatch"]
    );
}

#[tokio::test]
async fn a_notification_delivered_twice_counts_once_even_across_runs() {
    let cloud = world(50.0, 0);
    cloud.put_object(BUCKET, "logs/one.log", logs(100), now() - minutes(1));
    // SQS delivers at least once: the same notification twice in one run.
    let (visible, _) = cloud.queue_depth(QUEUE);
    assert_eq!(visible, 1);
    let copy = {
        let c = InMemoryCloud::new();
        c.notify_queue(BUCKET, "copy");
        c.put_object(BUCKET, "logs/one.log", logs(100), now() - minutes(1));
        let m = crate::ports::Queue::receive(&c, "copy", 1).await.unwrap();
        m[0].body.clone()
    };
    cloud.send_message(QUEUE, copy.clone());
    // The first run's delete fails: its message comes back to the next run.
    cloud.inject(Fault::error("DeleteMessageBatch", "ServiceUnavailable").times(1));
    let first = run_at(&cloud, &config(), now()).await;
    assert_eq!(first.logs.metrics.requests, 100);
    assert_eq!(queue_report(&first).messages, 2);
    assert_eq!(queue_report(&first).deleted, 0);
    assert!(
        first
            .errors
            .iter()
            .any(|e| e.contains("DeleteMessageBatch")),
        "{:?}",
        first.errors
    );

    cloud.expire_visibility(QUEUE);
    cloud.send_message(QUEUE, copy);
    let second = run_at(&cloud, &config(), now() + minutes(5)).await;
    assert_eq!(second.logs.metrics.requests, 0, "counted once");
    assert_eq!(second.logs.already_counted, 1);
    assert_eq!(queue_report(&second).deleted, 3, "every copy goes");
    assert_eq!(cloud.queue_depth(QUEUE), (0, 0));
}

#[tokio::test]
async fn test_events_other_buckets_and_garbage_are_counted_and_garbage_is_left_in_the_queue() {
    let cloud = world(50.0, 0);
    cloud.send_message(
        QUEUE,
        r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"app-logs"}"#,
    );
    cloud.send_message(QUEUE, "{\"not\": \"an event\"}");
    let other = InMemoryCloud::new();
    other.notify_queue("other-bucket", "copy");
    other.put_object("other-bucket", "logs/x.log", logs(5), now());
    other.put_object("other-bucket", "elsewhere/y.log", logs(5), now());
    for m in crate::ports::Queue::receive(&other, "copy", 10)
        .await
        .unwrap()
    {
        cloud.send_message(QUEUE, m.body);
    }
    cloud.put_object(BUCKET, "not-logs/z.log", logs(5), now() - minutes(1));
    cloud.put_object(BUCKET, "logs/real.log", logs(7), now() - minutes(1));

    let record = run_at(&cloud, &config(), now()).await;
    let queue = queue_report(&record);
    assert_eq!(record.logs.metrics.requests, 7);
    assert_eq!(
        (
            queue.messages,
            queue.nothing_to_read,
            queue.unrecognized,
            queue.deleted
        ),
        (6, 4, 1, 5)
    );
    assert!(queue.unrecognized_example.unwrap().contains("neither"));
    assert_eq!(
        cloud.queue_depth(QUEUE),
        (0, 1),
        "the garbage waits for its dead-letter queue"
    );
}

#[tokio::test(start_paused = true)]
async fn a_queue_not_drained_in_time_is_partial_and_never_scales_in() {
    let cloud = world(10.0, 0);
    for i in 0..100 {
        cloud.put_object(
            BUCKET,
            &format!("logs/{i:03}.log"),
            logs(2),
            now() - minutes(1),
        );
    }
    // Five seconds per receive: the drain's share of a 60-second invocation takes three.
    cloud.inject(Fault::delay("ReceiveMessage", Duration::from_secs(5)));
    let opts = CycleOptions {
        now: now(),
        scheduled: Some(now()),
        dry_run: false,
        save_state: true,
        deadline: Some(Instant::now() + Duration::from_secs(60)),
    };
    let record = run_cycle(&config(), &cloud.services(), opts).await;
    let queue = queue_report(&record);
    assert!(!queue.drained);
    assert_eq!((queue.messages, queue.deleted), (30, 30));
    assert_eq!(record.logs.condition, LogCondition::Partial);
    assert_eq!(record.logs.metrics.requests, 60);
    assert_eq!(
        record.decision.to, record.decision.from,
        "no scale-in on a partial picture"
    );
    assert_eq!(
        cloud.queue_depth(QUEUE),
        (70, 0),
        "the rest waits for the next run"
    );
}

#[tokio::test]
async fn a_missing_queue_is_named_and_never_scales_in() {
    let cloud = world(10.0, 0);
    let vars: HashMap<&str, &str> = [
        ("LOGSCALE_BUCKET", BUCKET),
        ("LOGSCALE_GROUP", GROUP),
        ("LOGSCALE_QUEUE_URL", "https://sqs.example/none"),
    ]
    .into_iter()
    .collect();
    let cfg = Config::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap();
    let record = run_at(&cloud, &cfg, now()).await;
    assert_eq!(record.logs.condition, LogCondition::ListFailed);
    assert!(
        record.errors.iter().any(|e| e.contains("NonExistentQueue")),
        "{:?}",
        record.errors
    );
    assert_eq!(record.decision.to, record.decision.from);
}

#[tokio::test]
async fn a_one_off_dry_run_leaves_the_messages_for_the_schedule() {
    let cloud = world(90.0, 0);
    cloud.put_object(BUCKET, "logs/one.log", logs(10), now() - minutes(1));
    let opts = CycleOptions {
        now: now(),
        scheduled: Some(now()),
        dry_run: true,
        save_state: false,
        deadline: None,
    };
    let record = run_cycle(&config(), &cloud.services(), opts).await;
    assert_eq!(record.logs.condition, LogCondition::NotRead);
    assert!(cloud.calls_to("ReceiveMessage").is_empty());
    assert!(record
        .window
        .notes
        .iter()
        .any(|n| n.contains("does not take")));
    assert!(!record.applied && cloud.calls_to("SetDesiredCapacity").is_empty());
    let scheduled = run_at(&cloud, &config(), now()).await;
    assert_eq!(
        scheduled.logs.metrics.requests, 10,
        "the schedule counts it"
    );
}

#[tokio::test]
async fn a_long_queued_notification_that_comes_back_is_still_known_as_counted() {
    let cloud = world(50.0, 0);
    // Announced half an hour before the window's end (a backlog), and its delete fails.
    cloud.put_object(BUCKET, "logs/old.log", logs(30), now() - minutes(30));
    cloud.inject(Fault::error("DeleteMessageBatch", "ServiceUnavailable").times(1));
    let first = run_at(&cloud, &config(), now()).await;
    assert_eq!(first.logs.metrics.requests, 30);
    assert_eq!(first.logs.late_objects, 1);
    cloud.expire_visibility(QUEUE);
    let second = run_at(&cloud, &config(), now() + minutes(5)).await;
    assert_eq!(second.logs.metrics.requests, 0, "counted once");
    assert_eq!(second.logs.already_counted, 1);
    assert_eq!(cloud.queue_depth(QUEUE), (0, 0));
}

#[tokio::test]
async fn a_busy_queue_is_drained_once_only_events_after_the_window_arrive() {
    let cloud = world(50.0, 0);
    for i in 0..15 {
        cloud.put_object(
            BUCKET,
            &format!("logs/in-{i:02}.log"),
            logs(1),
            now() - minutes(2),
        );
    }
    // Notifications of objects written after the window's end keep coming.
    for i in 0..25 {
        cloud.put_object(
            BUCKET,
            &format!("logs/next-{i:02}.log"),
            logs(1),
            now() + chrono::Duration::seconds(5),
        );
    }
    let record = run_at(&cloud, &config(), now()).await;
    let queue = queue_report(&record);
    assert!(queue.drained, "the window's notifications are all in");
    assert_eq!(record.logs.condition, LogCondition::Complete);
    // Ten a call: the second batch holds the first five after the window's end.
    assert_eq!(queue.messages, 30);
    assert_eq!(record.logs.metrics.requests, 30);
    assert_eq!(
        cloud.queue_depth(QUEUE),
        (10, 0),
        "the rest for the next run"
    );
}

#[tokio::test]
async fn messages_stay_queued_when_the_state_was_not_saved() {
    let cloud = world(50.0, 0);
    cloud.put_object(BUCKET, "logs/one.log", logs(10), now() - minutes(1));
    cloud.inject(
        Fault::error("PutObject", "InternalError")
            .on("logscale-state")
            .times(1),
    );
    let first = run_at(&cloud, &config(), now()).await;
    assert!(!first.state.saved);
    assert!(cloud.calls_to("DeleteMessageBatch").is_empty());
    assert!(
        first
            .window
            .notes
            .iter()
            .any(|n| n.contains("left in the queue")),
        "{:?}",
        first.window.notes
    );
    cloud.expire_visibility(QUEUE);
    let second = run_at(&cloud, &config(), now() + minutes(5)).await;
    assert_eq!(
        second.logs.metrics.requests, 10,
        "the run whose state stands counts them"
    );
    assert_eq!(cloud.queue_depth(QUEUE), (0, 0));
}
