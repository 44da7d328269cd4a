//! The sample events in `events/` through the real handler and cycle, against the in-memory
//! ports: each file is a valid event, and only the non-dry-run one changes the group. (The same
//! files go through the Lambda emulator in tests/lambda_e2e.rs; this proves the handler's part in
//! milliseconds.)

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use logscale::memory::InMemoryCloud;
use logscale::Config;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events")
}

fn hot_group() -> InMemoryCloud {
    let cloud = InMemoryCloud::new();
    cloud.create_bucket("app-logs");
    let at = Utc.with_ymd_and_hms(2024, 12, 8, 10, 0, 0).unwrap();
    cloud.put_fleet("web", (1, 5, 2), &[92.0, 92.0], None, at);
    cloud
}

#[tokio::test]
async fn every_sample_event_runs_and_only_a_real_run_changes_the_group() {
    let vars: HashMap<&str, &str> = [("LOGSCALE_BUCKET", "app-logs"), ("LOGSCALE_GROUP", "web")]
        .into_iter()
        .collect();
    let cfg = Config::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap();
    let now = Utc.with_ymd_and_hms(2024, 12, 8, 12, 35, 0).unwrap();
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(events_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let event: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let cloud = hot_group();
        let record = logscale::handle(&cfg, &cloud.services(), &event, now, None)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let dry = name.contains("dry-run");
        assert_eq!(record.dry_run, dry, "{name}");
        assert_eq!((record.decision.from, record.decision.to), (2, 3), "{name}");
        assert_eq!(record.applied, !dry, "{name}");
        let calls = cloud.calls_to("SetDesiredCapacity");
        assert_eq!(calls.len(), usize::from(!dry), "{name}: {calls:?}");
        seen.push(name);
    }
    seen.sort();
    assert_eq!(
        seen,
        ["dry-run.json", "scheduled-dry-run.json", "scheduled.json"]
    );
}
