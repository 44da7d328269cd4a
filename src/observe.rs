//! Observing the group: what Auto Scaling, EC2 and CloudWatch say, turned into one [`Fleet`].
//!
//! [`observe`] makes the calls (the group first, then its instances and their load, the
//! group's scaling activities and the configured metric concurrently); [`Fleet::from_observation`] is pure and decides,
//! per instance, whether it is warming up and whether it counts in the averages. Both the
//! decision's inputs ([`Fleet::load`], [`Fleet::conditions`]) and the record's instances
//! ([`Fleet::instance_records`]) are read from that one value, so they cannot disagree.
//!
//! An in-service instance whose launch time is unknown (EC2 did not describe it: it was
//! launched a moment ago and EC2 does not list it yet, or the call failed; or EC2 gave no launch
//! time) is taken as warming up: it may be seconds old, and a booting instance's load says
//! nothing about the group's. It is left out of the averages and holds a scale-in, as any
//! warming instance does.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::time::Instant;

use crate::budget::within;
use crate::decide::{Capacity, Conditions};
use crate::metric::MetricSpec;
use crate::ports::{
    GroupInfo, InstanceInfo, InstanceLoad, Instances, Metrics, ScalingGroups, ServiceError,
};
use crate::record::InstanceRecord;

/// What the calls returned, before any judgement.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    pub group: Option<GroupInfo>,
    pub ec2: BTreeMap<String, InstanceInfo>,
    pub load: BTreeMap<String, InstanceLoad>,
    pub activity_in_progress: bool,
    /// DescribeInstances failed as a whole (throttled, denied): no launch time is known, for
    /// reasons that say nothing about the instances' age.
    pub ec2_failed: bool,
    /// The configured metric's value (`LOGSCALE_METRIC`); `None` when none is configured, it
    /// had no datapoints, or it could not be read.
    pub metric: Option<f64>,
    /// The configured metric could not be read (the call failed or ran out of time): what it
    /// says is unknown, which is missing data, unlike a metric without datapoints.
    pub metric_unread: bool,
    /// Each failed call, in the service's words.
    pub errors: Vec<String>,
}

/// One member of the group, with what EC2 and CloudWatch said of it and how it counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub id: String,
    pub lifecycle_state: String,
    pub health_status: String,
    /// EC2's state; `None` when EC2 did not describe the instance.
    pub ec2_state: Option<String>,
    pub instance_type: Option<String>,
    pub launch_time: Option<DateTime<Utc>>,
    pub load: InstanceLoad,
    /// Launched less than the warm-up ago, not yet in service, or in service with an unknown
    /// launch time (while a warm-up applies).
    pub warming_up: bool,
    /// In service, warmed up and with CPU datapoints: it counts in the averages.
    pub counted: bool,
}

impl Member {
    fn in_service(&self) -> bool {
        self.lifecycle_state == "InService"
    }

    /// Why the instance is left out of the averages, when it is.
    fn note(&self) -> Option<String> {
        if self.warming_up && self.in_service() && self.launch_time.is_none() {
            Some(if self.ec2_state.is_none() {
                "launch time unknown (EC2 did not describe it): taken as warming up, left out of the averages".to_string()
            } else {
                "launch time unknown (EC2 gave none): taken as warming up, left out of the averages"
                    .to_string()
            })
        } else if self.warming_up {
            Some("warming up: left out of the averages".to_string())
        } else if !self.in_service() {
            Some(format!(
                "{} instances are left out of the averages",
                self.lifecycle_state
            ))
        } else if self.load.cpu_percent.is_none() {
            Some("no CPU datapoints in the metrics window".to_string())
        } else {
            None
        }
    }
}

/// Where the warm-up the members were judged by came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarmupSource {
    /// `LOGSCALE_WARMUP_SECONDS`: the group sets no DefaultInstanceWarmup, or could not be read.
    #[default]
    Setting,
    /// The group's own DefaultInstanceWarmup, which Auto Scaling also uses for its own policies
    /// and instance refreshes: one warm-up for everything that scales the group.
    GroupDefaultInstanceWarmup,
}

/// The warm-up that applied to this cycle's members, and where it came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Warmup {
    pub seconds: i64,
    pub source: WarmupSource,
}

impl Warmup {
    /// The group's DefaultInstanceWarmup when it sets one, else the configured warm-up.
    pub fn choose(group_default: Option<u32>, configured: chrono::Duration) -> Warmup {
        match group_default {
            Some(seconds) => Warmup {
                seconds: i64::from(seconds),
                source: WarmupSource::GroupDefaultInstanceWarmup,
            },
            None => Warmup {
                seconds: configured.num_seconds(),
                source: WarmupSource::Setting,
            },
        }
    }

    fn duration(self) -> chrono::Duration {
        chrono::Duration::seconds(self.seconds)
    }
}

/// The group as this cycle sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fleet {
    /// `None` when the group could not be read (see `errors`).
    pub capacity: Option<Capacity>,
    pub members: Vec<Member>,
    pub activity_in_progress: bool,
    pub errors: Vec<String>,
    /// The warm-up the members were judged by (for the record: which one applied).
    pub warmup: Warmup,
    /// EC2 could not be asked for launch times: a scale-in waits, as for warming instances.
    pub ages_unknown: bool,
    /// The configured metric's value, as observed.
    pub metric: Option<f64>,
    /// The configured metric could not be read.
    pub metric_unread: bool,
}

/// The group's load as the policy reads it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FleetLoad {
    /// Average CPU over the counted instances.
    pub cpu_percent: Option<f64>,
    /// Average memory used over the counted instances that report it.
    pub memory_percent: Option<f64>,
    /// How many instances the averages cover.
    pub counted: u32,
    /// Every in-service, warmed-up instance had CPU datapoints.
    pub cpu_complete: bool,
    /// The configured metric's value (`LOGSCALE_METRIC`), for the whole group: demand, not an
    /// average over instances.
    pub metric: Option<f64>,
    /// The configured metric could not be read: missing data.
    pub metric_unread: bool,
}

impl Fleet {
    /// Judges each member: instances younger than the warm-up (the group's own
    /// DefaultInstanceWarmup when it sets one, else `configured_warmup`), still pending, or in
    /// service with an unknown launch time are warming up; only in-service, warmed-up instances
    /// with CPU datapoints count.
    pub fn from_observation(
        obs: Observation,
        configured_warmup: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Fleet {
        let Observation {
            group,
            ec2,
            mut load,
            activity_in_progress,
            ec2_failed,
            metric,
            metric_unread,
            errors,
        } = obs;
        let Some(group) = group else {
            return Fleet {
                capacity: None,
                members: Vec::new(),
                activity_in_progress,
                errors,
                warmup: Warmup::choose(None, configured_warmup),
                ages_unknown: false,
                metric,
                metric_unread,
            };
        };
        let warmup = Warmup::choose(group.default_instance_warmup, configured_warmup);
        let warming_for = warmup.duration();
        let members = group
            .instances
            .into_iter()
            .map(|member| {
                let ec2 = ec2.get(&member.id);
                let load = load.remove(&member.id).unwrap_or_default();
                let launch_time = ec2.and_then(|i| i.launch_time);
                let in_service = member.lifecycle_state == "InService";
                // Without a launch time the instance may be seconds old: only a warm-up of
                // zero makes its age irrelevant. When DescribeInstances failed as a whole,
                // though, nothing says any instance is new: they count by their metrics (a hot
                // group still scales out), and the unknown ages hold a scale-in instead.
                let young = match launch_time {
                    Some(t) => now - t < warming_for,
                    None => !ec2_failed && warming_for > chrono::Duration::zero(),
                };
                let warming_up =
                    member.lifecycle_state.starts_with("Pending") || (in_service && young);
                Member {
                    counted: in_service && !warming_up && load.cpu_percent.is_some(),
                    ec2_state: ec2.map(|i| i.state.clone()),
                    instance_type: ec2.and_then(|i| i.instance_type.clone()),
                    id: member.id,
                    lifecycle_state: member.lifecycle_state,
                    health_status: member.health_status,
                    launch_time,
                    load,
                    warming_up,
                }
            })
            .collect();
        Fleet {
            capacity: Some(Capacity {
                min: group.min,
                max: group.max,
                desired: group.desired,
            }),
            members,
            activity_in_progress,
            errors,
            warmup,
            ages_unknown: ec2_failed,
            metric,
            metric_unread,
        }
    }

    /// The averages over the counted instances.
    pub fn load(&self) -> FleetLoad {
        let counted: Vec<&Member> = self.members.iter().filter(|m| m.counted).collect();
        let in_service_warm = self
            .members
            .iter()
            .filter(|m| m.in_service() && !m.warming_up)
            .count();
        FleetLoad {
            cpu_percent: average(counted.iter().filter_map(|m| m.load.cpu_percent)),
            memory_percent: average(counted.iter().filter_map(|m| m.load.memory_percent)),
            counted: counted.len() as u32,
            cpu_complete: counted.len() == in_service_warm,
            metric: self.metric,
            metric_unread: self.metric_unread,
        }
    }

    /// What holds a scale-in back besides the signals.
    pub fn conditions(&self) -> Conditions {
        Conditions {
            activity_in_progress: self.activity_in_progress,
            warming_up: self.members.iter().filter(|m| m.warming_up).count() as u32,
            ages_unknown: self.ages_unknown,
        }
    }

    /// The record's view of the first `limit` members.
    pub fn instance_records(&self, limit: usize) -> Vec<InstanceRecord> {
        self.members
            .iter()
            .take(limit)
            .map(|m| InstanceRecord {
                id: m.id.clone(),
                lifecycle_state: m.lifecycle_state.clone(),
                health_status: m.health_status.clone(),
                state: m.ec2_state.clone(),
                instance_type: m.instance_type.clone(),
                launch_time: m.launch_time,
                cpu_percent: m.load.cpu_percent,
                memory_percent: m.load.memory_percent,
                cpu_datapoints: m.load.cpu_datapoints,
                warming_up: m.warming_up,
                counted: m.counted,
                note: m.note(),
            })
            .collect()
    }
}

/// Reads the group, then its instances, their load over `[start, end]`, whether a scaling
/// activity runs and the configured `metric` over the same span, each call cut off at `by`.
/// Never fails: each failed or unanswered call is in `errors`.
pub async fn observe<G, I, M>(
    groups: &G,
    instances: &I,
    metrics: &M,
    group_name: &str,
    metric: Option<&MetricSpec>,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    by: Option<Instant>,
) -> Observation
where
    G: ScalingGroups,
    I: Instances,
    M: Metrics,
{
    let mut obs = Observation::default();
    let group = match within(by, "DescribeAutoScalingGroups", groups.describe(group_name)).await {
        Ok(Some(group)) => group,
        Ok(None) => {
            obs.errors.push(format!(
                "Auto Scaling group {group_name:?} not found (check LOGSCALE_GROUP and the region)"
            ));
            return obs;
        }
        Err(e) => {
            obs.errors.push(e.to_string());
            return obs;
        }
    };
    let ids: Vec<String> = group.instances.iter().map(|i| i.id.clone()).collect();
    obs.group = Some(group);
    let (ec2, load, activity, configured) = tokio::join!(
        async {
            if ids.is_empty() {
                Ok(Vec::new())
            } else {
                within(by, "DescribeInstances", instances.describe(&ids)).await
            }
        },
        async {
            if ids.is_empty() {
                Ok(BTreeMap::new())
            } else {
                within(by, "GetMetricData", metrics.instance_load(&ids, start, end)).await
            }
        },
        within(
            by,
            "DescribeScalingActivities",
            groups.activity_in_progress(group_name)
        ),
        async {
            match metric {
                // Read even with no instances: demand that waits for the first one is still
                // demand.
                Some(spec) => Some((
                    spec,
                    within(by, "GetMetricData", metrics.metric(spec, start, end)).await,
                )),
                None => None,
            }
        },
    );
    match ec2 {
        Ok(list) => obs.ec2 = list.into_iter().map(|i| (i.id.clone(), i)).collect(),
        Err(e) => {
            obs.ec2_failed = true;
            obs.errors.push(e.to_string());
        }
    }
    match load {
        Ok(load) => obs.load = load,
        Err(e) => obs.errors.push(e.to_string()),
    }
    match configured {
        Some((_, Ok(Some(value)))) => obs.metric = Some(value),
        // A configured metric without datapoints may be misspelled (a dimension's value) or its
        // source idle: either way the group's demand is not known, so no scale-in on it.
        Some((spec, Ok(None))) => {
            obs.metric_unread = true;
            obs.errors.push(format!(
                "the metric {spec} has no datapoints in the metrics window (check its namespace, name and dimensions)"
            ));
        }
        Some((spec, Err(e))) => {
            obs.metric_unread = true;
            obs.errors.push(format!("{e} (the metric {spec})"));
        }
        None => {}
    }
    obs.activity_in_progress = activity.unwrap_or_else(|e: ServiceError| {
        // Unknown counts as busy: it only ever holds a scale-in.
        obs.errors.push(e.to_string());
        true
    });
    obs
}

fn average(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::GroupInstance;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 12, 8, 12, 0, 0).unwrap()
    }

    fn member(id: &str, lifecycle: &str) -> GroupInstance {
        GroupInstance {
            id: id.to_string(),
            lifecycle_state: lifecycle.to_string(),
            health_status: "Healthy".to_string(),
            weight: None,
        }
    }

    fn launched(id: &str, minutes_ago: i64) -> InstanceInfo {
        InstanceInfo {
            id: id.to_string(),
            state: "running".to_string(),
            instance_type: Some("t3.micro".to_string()),
            launch_time: Some(now() - Duration::minutes(minutes_ago)),
        }
    }

    fn cpu(v: f64) -> InstanceLoad {
        InstanceLoad {
            cpu_percent: Some(v),
            memory_percent: Some(v / 2.0),
            cpu_datapoints: 2,
        }
    }

    #[test]
    fn each_member_is_judged_once_and_both_views_agree() {
        let obs = Observation {
            group: Some(GroupInfo {
                name: "web".into(),
                min: 1,
                max: 10,
                desired: 5,
                instances: vec![
                    member("i-old", "InService"),
                    member("i-young", "InService"),
                    member("i-pending", "Pending"),
                    member("i-nodata", "InService"),
                    member("i-leaving", "Terminating"),
                ],
                ..GroupInfo::default()
            }),
            ec2: ["i-old", "i-nodata", "i-leaving"]
                .into_iter()
                .map(|id| (id.to_string(), launched(id, 60)))
                .chain([("i-young".to_string(), launched("i-young", 2))])
                .collect(),
            load: [
                ("i-old", cpu(80.0)),
                ("i-young", cpu(10.0)),
                ("i-leaving", cpu(5.0)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            activity_in_progress: false,
            ec2_failed: false,
            metric: None,
            metric_unread: false,
            errors: vec![],
        };
        let fleet = Fleet::from_observation(obs, Duration::minutes(5), now());
        let load = fleet.load();
        assert_eq!(
            load.cpu_percent,
            Some(80.0),
            "only the warm, in-service one counts"
        );
        assert_eq!(load.memory_percent, Some(40.0));
        assert_eq!(load.counted, 1);
        assert!(
            !load.cpu_complete,
            "i-nodata is warm and in service but has no datapoints"
        );
        assert_eq!(
            fleet.conditions(),
            Conditions {
                activity_in_progress: false,
                warming_up: 2,
                ages_unknown: false,
            }
        );
        let records = fleet.instance_records(usize::MAX);
        let counted: Vec<&str> = records
            .iter()
            .filter(|r| r.counted)
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(counted, ["i-old"]);
        let notes: Vec<Option<&str>> = records.iter().map(|r| r.note.as_deref()).collect();
        assert_eq!(
            notes,
            [
                None,
                Some("warming up: left out of the averages"),
                Some("warming up: left out of the averages"),
                Some("no CPU datapoints in the metrics window"),
                Some("Terminating instances are left out of the averages"),
            ]
        );
        assert_eq!(
            records[2].state, None,
            "EC2 did not describe the pending one"
        );
        assert_eq!(fleet.capacity.map(|c| c.desired), Some(5));
    }

    /// A group of two warm instances and `extra`, all in service at 20 % CPU.
    fn group_with(extra: &[&str], default_instance_warmup: Option<u32>) -> Observation {
        let ids: Vec<&str> = ["i-a", "i-b"].iter().chain(extra).copied().collect();
        Observation {
            group: Some(GroupInfo {
                name: "web".into(),
                min: 1,
                max: 10,
                desired: ids.len() as u32,
                instances: ids.iter().map(|id| member(id, "InService")).collect(),
                default_instance_warmup,
                ..GroupInfo::default()
            }),
            ec2: ["i-a", "i-b"]
                .into_iter()
                .map(|id| (id.to_string(), launched(id, 60)))
                .collect(),
            load: ids.iter().map(|id| (id.to_string(), cpu(20.0))).collect(),
            ..Observation::default()
        }
    }

    #[test]
    fn regression_an_instance_with_an_unknown_launch_time_is_warming_up() {
        // i-new: Auto Scaling lists it, EC2 does not describe it yet. i-bare: EC2 describes it
        // without a launch time. Either may be seconds old, with a booting instance's CPU.
        let mut obs = group_with(&["i-new", "i-bare"], None);
        obs.ec2.insert(
            "i-bare".into(),
            InstanceInfo {
                launch_time: None,
                ..launched("i-bare", 0)
            },
        );
        obs.load.insert("i-new".into(), cpu(100.0));
        obs.load.insert("i-bare".into(), cpu(100.0));
        let fleet = Fleet::from_observation(obs.clone(), Duration::minutes(5), now());
        let load = fleet.load();
        assert_eq!(load.cpu_percent, Some(20.0), "their 100 % is left out");
        assert_eq!(load.counted, 2);
        assert!(load.cpu_complete, "warming instances are not missing data");
        assert_eq!(
            fleet.conditions(),
            Conditions {
                activity_in_progress: false,
                warming_up: 2,
                ages_unknown: false,
            },
            "they hold a scale-in"
        );
        let records = fleet.instance_records(usize::MAX);
        assert!(records[2..].iter().all(|r| r.warming_up && !r.counted));
        assert_eq!(
            records[2].note.as_deref(),
            Some("launch time unknown (EC2 did not describe it): taken as warming up, left out of the averages")
        );
        assert_eq!(
            records[3].note.as_deref(),
            Some("launch time unknown (EC2 gave none): taken as warming up, left out of the averages")
        );

        // With no warm-up at all, age does not matter: they count.
        let fleet = Fleet::from_observation(obs, Duration::zero(), now());
        assert_eq!(fleet.load().counted, 4);
        assert_eq!(fleet.conditions().warming_up, 0);
    }

    #[test]
    fn the_groups_default_instance_warmup_wins_over_the_setting() {
        // i-c was launched 8 minutes ago: warm by the 5-minute setting, warming by the group's 10.
        let mut obs = group_with(&["i-c"], Some(600));
        obs.ec2.insert("i-c".into(), launched("i-c", 8));
        let fleet = Fleet::from_observation(obs.clone(), Duration::minutes(5), now());
        assert_eq!(
            fleet.warmup,
            Warmup {
                seconds: 600,
                source: WarmupSource::GroupDefaultInstanceWarmup
            }
        );
        assert_eq!(fleet.conditions().warming_up, 1);
        assert_eq!(fleet.load().counted, 2);

        // A group warm-up of zero is the group's choice too: everything in service counts.
        obs.group.as_mut().unwrap().default_instance_warmup = Some(0);
        let fleet = Fleet::from_observation(obs.clone(), Duration::minutes(30), now());
        assert_eq!(
            fleet.warmup.source,
            WarmupSource::GroupDefaultInstanceWarmup
        );
        assert_eq!(fleet.conditions().warming_up, 0);
        assert_eq!(fleet.load().counted, 3);

        // Without one, the setting applies and says so.
        obs.group.as_mut().unwrap().default_instance_warmup = None;
        let fleet = Fleet::from_observation(obs, Duration::minutes(5), now());
        assert_eq!(
            fleet.warmup,
            Warmup {
                seconds: 300,
                source: WarmupSource::Setting
            }
        );
        assert_eq!(fleet.conditions().warming_up, 0);
        assert_eq!(
            serde_json::to_value(fleet.warmup).unwrap(),
            serde_json::json!({"seconds": 300, "source": "setting"})
        );
    }

    #[tokio::test]
    async fn regression_an_id_ec2_does_not_know_yet_fails_nothing_and_is_warming_up() {
        use crate::memory::InMemoryCloud;
        let cloud = InMemoryCloud::new();
        cloud.put_fleet(
            "web",
            (1, 10, 2),
            &[30.0, 30.0],
            None,
            now() - Duration::hours(1),
        );
        // Auto Scaling already lists the instance it just launched; EC2 does not know it yet.
        let mut group = cloud.group("web").unwrap();
        group.instances.push(member("i-just-launched", "InService"));
        group.desired = 3;
        cloud.put_group(group);
        let obs = observe(
            &cloud,
            &cloud,
            &cloud,
            "web",
            None,
            (now() - Duration::minutes(10), now()),
            None,
        )
        .await;
        assert!(obs.errors.is_empty(), "{:?}", obs.errors);
        assert_eq!(obs.ec2.len(), 2, "the known ones are described");
        let fleet = Fleet::from_observation(obs, Duration::minutes(5), now());
        assert_eq!(fleet.load().counted, 2);
        assert_eq!(fleet.conditions().warming_up, 1);
    }

    #[test]
    fn no_group_means_no_capacity_and_no_members() {
        let fleet = Fleet::from_observation(
            Observation {
                errors: vec!["gone".into()],
                ..Observation::default()
            },
            Duration::minutes(5),
            now(),
        );
        assert_eq!(fleet.capacity, None);
        assert!(fleet.members.is_empty());
        assert_eq!(fleet.load().cpu_percent, None);
        assert_eq!(fleet.errors, ["gone"]);
    }
}
