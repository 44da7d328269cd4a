//! S3 event notifications, as they arrive in the discovery queue (`LOGSCALE_QUEUE_URL`): which
//! objects a message announces. Pure: a message body in, [`Notice`] out.
//!
//! Three shapes reach an SQS queue, and all three are read:
//! - the bucket's own notification to SQS: `{"Records": [{"eventName": "ObjectCreated:Put",
//!   "s3": {"bucket": {"name"}, "object": {"key", "size", "eTag"}}, "eventTime"}]}`, with the
//!   key URL-encoded (a space as `+`);
//! - the same wrapped by SNS (`{"Type": "Notification", "Message": "<that JSON as a string>"}`)
//!   when the bucket notifies a topic and the queue subscribes without raw delivery;
//! - an EventBridge rule's event, when the bucket's "send to Amazon EventBridge" setting is on:
//!   `{"source": "aws.s3", "detail-type": "Object Created", "time", "detail": {"bucket":
//!   {"name"}, "object": {"key", "size", "etag"}}}`, with the key as it is.
//!
//! S3 sends a test message (`"Event": "s3:TestEvent"`) when a notification is configured; it
//! announces nothing. ETags arrive without the quotes S3's listing gives them; they are quoted
//! here so the two compare.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// An object a notification announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announced {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    /// Quoted, as S3's listing gives it.
    pub etag: Option<String>,
    /// When S3 says the event happened (the upload's completion).
    pub time: DateTime<Utc>,
}

/// What one queue message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Objects created (usually one).
    Created(Vec<Announced>),
    /// Nothing to read: S3's test message, or an event other than a creation (a deletion, a
    /// restore). The message can go.
    Nothing,
    /// Not an S3 event this reader knows, in these words. The message is left in the queue; after
    /// the queue's receive limit it moves to the dead-letter queue, where it can be inspected.
    Unrecognized(String),
}

/// Reads one message body. `now` dates an event whose time is missing or malformed.
pub fn read_notice(body: &str, now: DateTime<Utc>) -> Notice {
    let message: Message = match serde_json::from_str(body) {
        Ok(m) => m,
        Err(e) => return Notice::Unrecognized(format!("not JSON: {e}")),
    };
    if message.kind.as_deref() == Some("Notification") {
        return match message.message {
            Some(inner) => read_notice(&inner, now),
            None => Notice::Unrecognized("an SNS notification without a Message".into()),
        };
    }
    if message.event.as_deref() == Some("s3:TestEvent") {
        return Notice::Nothing;
    }
    if let Some(records) = message.records {
        return from_records(records, now);
    }
    if message.source.as_deref() == Some("aws.s3") {
        return from_eventbridge(message, now);
    }
    Notice::Unrecognized("neither S3 event records nor an EventBridge event from aws.s3".into())
}

fn from_records(records: Vec<Record>, now: DateTime<Utc>) -> Notice {
    let mut created = Vec::new();
    for record in records {
        let name = record.event_name.unwrap_or_default();
        if !name.starts_with("ObjectCreated:") {
            continue;
        }
        let Some(s3) = record.s3 else {
            return Notice::Unrecognized(format!("{name} event without its s3 part"));
        };
        let Some(key) = url_decoded(&s3.object.key) else {
            return Notice::Unrecognized(format!(
                "object key {:?} is not valid URL-encoded UTF-8",
                s3.object.key
            ));
        };
        created.push(Announced {
            bucket: s3.bucket.name,
            key,
            size: s3.object.size.unwrap_or(0),
            etag: s3.object.e_tag.map(quoted),
            time: time_or(record.event_time.as_deref(), now),
        });
    }
    if created.is_empty() {
        Notice::Nothing
    } else {
        Notice::Created(created)
    }
}

fn from_eventbridge(message: Message, now: DateTime<Utc>) -> Notice {
    if message.detail_type.as_deref() != Some("Object Created") {
        return Notice::Nothing;
    }
    let Some(Detail {
        bucket: Some(bucket),
        object: Some(object),
    }) = message.detail
    else {
        return Notice::Unrecognized(
            "an Object Created event without its bucket and object".into(),
        );
    };
    Notice::Created(vec![Announced {
        bucket: bucket.name,
        key: object.key,
        size: object.size.unwrap_or(0),
        etag: object.etag.map(quoted),
        time: time_or(message.time.as_deref(), now),
    }])
}

/// S3 encodes notification keys as an HTML form does: `%XX` escapes, and `+` for a space.
fn url_decoded(key: &str) -> Option<String> {
    let spaced = key.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|k| k.into_owned())
}

fn quoted(etag: String) -> String {
    if etag.starts_with('"') {
        etag
    } else {
        format!("\"{etag}\"")
    }
}

fn time_or(text: Option<&str>, now: DateTime<Utc>) -> DateTime<Utc> {
    text.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or(now, |t| t.with_timezone(&Utc))
}

/// The union of the three shapes' top-level fields this reader needs.
#[derive(Deserialize)]
struct Message {
    #[serde(rename = "Records")]
    records: Option<Vec<Record>>,
    #[serde(rename = "Event")]
    event: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
    source: Option<String>,
    #[serde(rename = "detail-type")]
    detail_type: Option<String>,
    time: Option<String>,
    detail: Option<Detail>,
}

#[derive(Deserialize)]
struct Record {
    #[serde(rename = "eventName")]
    event_name: Option<String>,
    #[serde(rename = "eventTime")]
    event_time: Option<String>,
    s3: Option<RecordS3>,
}

#[derive(Deserialize)]
struct RecordS3 {
    bucket: Named,
    object: RecordObject,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
struct RecordObject {
    key: String,
    size: Option<u64>,
    #[serde(rename = "eTag")]
    e_tag: Option<String>,
}

#[derive(Deserialize)]
struct Detail {
    bucket: Option<Named>,
    object: Option<DetailObject>,
}

#[derive(Deserialize)]
struct DetailObject {
    key: String,
    size: Option<u64>,
    etag: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 12, 8, 12, 35, 0).unwrap()
    }

    const S3_PUT: &str = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
        "eventTime":"2024-12-08T12:31:02.250Z","eventName":"ObjectCreated:CompleteMultipartUpload",
        "s3":{"s3SchemaVersion":"1.0","bucket":{"name":"app-logs","arn":"arn:aws:s3:::app-logs"},
        "object":{"key":"logs/2024/12/08/web+1%3A12%3A31.log.gz","size":2048,
        "eTag":"0123456789abcdef0123456789abcdef-3","sequencer":"0A1B2C3D4E5F678901"}}}]}"#;

    #[test]
    fn a_bucket_notification_names_the_object_with_its_key_decoded() {
        let Notice::Created(objects) = read_notice(S3_PUT, now()) else {
            panic!("a creation");
        };
        assert_eq!(
            objects,
            [Announced {
                bucket: "app-logs".into(),
                key: "logs/2024/12/08/web 1:12:31.log.gz".into(),
                size: 2048,
                etag: Some("\"0123456789abcdef0123456789abcdef-3\"".into()),
                time: Utc.with_ymd_and_hms(2024, 12, 8, 12, 31, 2).unwrap()
                    + chrono::Duration::milliseconds(250),
            }]
        );
    }

    #[test]
    fn an_eventbridge_event_keeps_its_key_as_it_is() {
        let body = r#"{"version":"0","id":"1","detail-type":"Object Created","source":"aws.s3",
            "account":"111122223333","time":"2024-12-08T12:33:00Z","region":"us-east-1",
            "resources":["arn:aws:s3:::app-logs"],"detail":{"version":"0","bucket":{"name":"app-logs"},
            "object":{"key":"logs/a+b%20c.log","size":10,"etag":"abc"},"reason":"PutObject"}}"#;
        let Notice::Created(objects) = read_notice(body, now()) else {
            panic!("a creation");
        };
        assert_eq!(objects[0].key, "logs/a+b%20c.log");
        assert_eq!(objects[0].etag.as_deref(), Some("\"abc\""));
        assert_eq!(
            objects[0].time,
            Utc.with_ymd_and_hms(2024, 12, 8, 12, 33, 0).unwrap()
        );
    }

    #[test]
    fn an_sns_envelope_is_opened() {
        let body = serde_json::json!({"Type": "Notification", "MessageId": "m", "Message": S3_PUT})
            .to_string();
        assert!(matches!(read_notice(&body, now()), Notice::Created(o) if o.len() == 1));
    }

    #[test]
    fn test_events_deletions_and_other_events_announce_nothing() {
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2024-12-08T12:00:00Z","Bucket":"app-logs"}"#;
        assert_eq!(read_notice(test, now()), Notice::Nothing);
        let removed = S3_PUT.replace(
            "ObjectCreated:CompleteMultipartUpload",
            "ObjectRemoved:Delete",
        );
        assert_eq!(read_notice(&removed, now()), Notice::Nothing);
        let deleted = r#"{"source":"aws.s3","detail-type":"Object Deleted","detail":{}}"#;
        assert_eq!(read_notice(deleted, now()), Notice::Nothing);
    }

    #[test]
    fn garbage_is_named_not_fatal() {
        for body in [
            "",
            "not json",
            "[1,2]",
            r#"{"hello":"world"}"#,
            r#"{"Records":[{"eventName":"ObjectCreated:Put"}]}"#,
            r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"%FF%FE"}}}]}"#,
            r#"{"source":"aws.s3","detail-type":"Object Created"}"#,
            r#"{"Type":"Notification"}"#,
        ] {
            assert!(
                matches!(read_notice(body, now()), Notice::Unrecognized(_)),
                "{body:?}"
            );
        }
    }

    #[test]
    fn a_missing_or_bad_event_time_is_taken_as_now() {
        let body = S3_PUT.replace("2024-12-08T12:31:02.250Z", "yesterday");
        let Notice::Created(objects) = read_notice(&body, now()) else {
            panic!("a creation");
        };
        assert_eq!(objects[0].time, now());
    }
}
