//! Shared test plumbing: the local AWS stand-in (moto behind tools/standin.py), SDK
//! configuration that points at it, and seeding through tools/seed.py.
//!
//! Each test binary starts one stand-in on a free loopback port; it exits by itself when the
//! test process ends. Tests use their own resource names, so they can run concurrently.
#![allow(dead_code)]

pub mod emf;
pub mod lambda;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// The checkout the tests run in. Read at run time (cargo sets it for the test process), so a
/// test binary reused from a shared target directory still finds this checkout's tools/.
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// The Python venv that scripts/setup.sh made.
pub fn venv() -> PathBuf {
    let venv = std::env::var_os("LOGSCALE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join(".venv"));
    assert!(
        venv.join("bin/python").exists(),
        "no Python venv at {}: run `make setup` (or scripts/setup.sh) first, or set LOGSCALE_VENV",
        venv.display()
    );
    venv
}

pub struct Standin {
    pub endpoint: String,
    _child: Child,
}

static STANDIN: OnceLock<Standin> = OnceLock::new();

/// The stand-in for this test binary, started on first use.
pub fn standin() -> &'static Standin {
    STANDIN.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("logscale-standin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let port_file = dir.join("port");
        let _ = std::fs::remove_file(&port_file);
        let log = std::fs::File::create(dir.join("standin.log")).unwrap();
        let child = Command::new(venv().join("bin/python"))
            .arg(manifest_dir().join("tools/standin.py"))
            .args(["--port", "0", "--port-file"])
            .arg(&port_file)
            .args(["--parent-pid", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting tools/standin.py");
        let port = wait_for_file(&port_file, Duration::from_secs(60)).unwrap_or_else(|| {
            panic!(
                "the stand-in did not start within 60 s; see {}",
                dir.join("standin.log").display()
            )
        });
        Standin {
            endpoint: format!("http://127.0.0.1:{}", port.trim()),
            _child: child,
        }
    })
}

fn wait_for_file(path: &Path, limit: Duration) -> Option<String> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(text) = std::fs::read_to_string(path) {
            if !text.trim().is_empty() {
                return Some(text);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// The variables that point the AWS SDK (and our binaries) at the stand-in.
pub fn aws_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", standin().endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

/// SDK configuration for the stand-in, as production builds it, but with explicit values.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&standin().endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await
}

/// A name no other test in this run uses (lower case, valid for buckets and groups).
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs tools/seed.py against the stand-in and returns its stdout.
pub fn seed(args: &[&str]) -> String {
    let out = Command::new(venv().join("bin/python"))
        .arg(manifest_dir().join("tools/seed.py"))
        .args(["--endpoint", &standin().endpoint])
        .args(args)
        .output()
        .expect("running tools/seed.py");
    assert!(
        out.status.success(),
        "seed.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The group's {min, max, desired, instances} as the stand-in reports it.
pub fn group_state(group: &str) -> serde_json::Value {
    serde_json::from_str(&seed(&["show", group])).unwrap()
}

/// The stand-in's logged `operation` requests whose body mentions `subject` (a group, bucket
/// or key), in arrival order.
pub fn calls_to(operation: &str, subject: &str) -> Vec<serde_json::Value> {
    let calls: serde_json::Value = serde_json::from_str(&seed(&["calls"])).unwrap();
    calls["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["operation"] == operation)
        .filter(|c| c["body"].as_str().is_some_and(|b| b.contains(subject)))
        .cloned()
        .collect()
}

/// How many `operation` requests the stand-in has seen whose body mentions `subject`
/// (a group or bucket name).
pub fn call_count(operation: &str, subject: &str) -> usize {
    calls_to(operation, subject).len()
}

/// When the stand-in held each slowed `operation` call that mentions `subject` (see
/// [`inject_delay`]): (began, ended) on the stand-in's own monotonic clock, in seconds; `ended`
/// is `None` while the answer is still held. Tests prove overlap or ordering from these, never
/// from how long they themselves waited.
pub fn held_calls(operation: &str, subject: &str) -> Vec<(f64, Option<f64>)> {
    calls_to(operation, subject)
        .iter()
        .filter_map(|c| Some((c["held_from"].as_f64()?, c["held_until"].as_f64())))
        .collect()
}

/// Queues an AWS error answer for the next `operation` request that mentions `subject`.
pub fn inject_fault(operation: &str, code: &str, subject: &str) {
    seed(&["fault", operation, code, "--match", subject]);
}

/// Makes the next `operation` request that mentions `subject` answer only after `seconds`.
pub fn inject_delay(operation: &str, seconds: f64, subject: &str) {
    seed(&[
        "fault",
        operation,
        "--delay",
        &seconds.to_string(),
        "--match",
        subject,
    ]);
}

/// A bucket and a group seeded for one scenario.
pub struct Scenario {
    pub bucket: String,
    pub group: String,
}

impl Scenario {
    /// A group with the given size and every instance's CPU at `cpu` percent (None: no
    /// datapoints), and a bucket (None: no bucket at all).
    pub fn new(
        name: &str,
        (min, max, desired): (u32, u32, u32),
        cpu: Option<f64>,
        bucket: bool,
    ) -> Scenario {
        let s = Scenario {
            bucket: unique(&format!("{name}-logs")),
            group: unique(name),
        };
        if bucket {
            seed(&["bucket", &s.bucket]);
        }
        seed(&[
            "group",
            &s.group,
            "--min",
            &min.to_string(),
            "--max",
            &max.to_string(),
            "--desired",
            &desired.to_string(),
        ]);
        if let Some(cpu) = cpu {
            seed(&["cpu", &s.group, "--percent", &cpu.to_string()]);
        }
        s
    }

    /// The LOGSCALE_* settings for this scenario.
    /// Instances in the stand-in are launched the moment the group is made, so the warm-up is
    /// off here: otherwise every instance would still be warming up.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LOGSCALE_BUCKET", self.bucket.clone()),
            ("LOGSCALE_PREFIX", "logs/".into()),
            ("LOGSCALE_GROUP", self.group.clone()),
            ("LOGSCALE_WARMUP_SECONDS", "0".into()),
            // Logs are uploaded right before each invocation: no lag, or the window would end
            // before them.
            ("LOGSCALE_LAG_SECONDS", "0".into()),
        ]
    }

    /// The same with the original tool's one-step policy.
    pub fn original_env(&self) -> Vec<(&'static str, String)> {
        let mut env = self.env();
        env.push(("LOGSCALE_POLICY", "original".into()));
        env
    }
}

/// Uploads `lines` generated log lines to `bucket/key` (gzip when the key ends in .gz).
pub async fn put_logs(
    bucket: &str,
    key: &str,
    lines: u64,
    error_share: f64,
    slow_share: f64,
) -> logscale::sample_logs::LogGenStats {
    put_logs_in(
        bucket,
        key,
        logscale::parse::Format::Original,
        lines,
        error_share,
        slow_share,
    )
    .await
}

/// Like [`put_logs`], in any format.
pub async fn put_logs_in(
    bucket: &str,
    key: &str,
    format: logscale::parse::Format,
    lines: u64,
    error_share: f64,
    slow_share: f64,
) -> logscale::sample_logs::LogGenStats {
    let spec = logscale::sample_logs::LogGenSpec {
        error_share,
        slow_share,
        start: chrono::Utc::now().naive_utc(),
        seed: lines ^ key.len() as u64,
        ..logscale::sample_logs::LogGenSpec::new(format, lines)
    };
    put_generated(bucket, key, &spec).await
}

/// Generates `spec` and uploads it to `bucket/key` (gzip when the key ends in .gz).
pub async fn put_generated(
    bucket: &str,
    key: &str,
    spec: &logscale::sample_logs::LogGenSpec,
) -> logscale::sample_logs::LogGenStats {
    let mut body = Vec::new();
    let stats = logscale::sample_logs::generate_to(spec, &mut body, key.ends_with(".gz")).unwrap();
    let store =
        logscale::aws::S3LogStore::new(logscale::aws::s3::client(&sdk_config().await, true));
    store
        .put(bucket, key, body)
        .await
        .expect("PutObject to the stand-in");
    stats
}

/// A queue that the bucket notifies of every object created under `prefix`; returns its URL.
pub async fn notifying_queue(bucket: &str, prefix: &str) -> String {
    let sdk = sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let name = unique("notified");
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let s3 = logscale::aws::s3::client(&sdk, true);
    let filter = aws_sdk_s3::types::NotificationConfigurationFilter::builder()
        .key(
            aws_sdk_s3::types::S3KeyFilter::builder()
                .filter_rules(
                    aws_sdk_s3::types::FilterRule::builder()
                        .name(aws_sdk_s3::types::FilterRuleName::Prefix)
                        .value(prefix)
                        .build(),
                )
                .build(),
        )
        .build();
    let queue = aws_sdk_s3::types::QueueConfiguration::builder()
        .queue_arn(format!("arn:aws:sqs:us-east-1:123456789012:{name}"))
        .events(aws_sdk_s3::types::Event::S3ObjectCreated)
        .filter(filter)
        .build()
        .unwrap();
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            aws_sdk_s3::types::NotificationConfiguration::builder()
                .queue_configurations(queue)
                .build(),
        )
        .send()
        .await
        .unwrap();
    url
}
