//! Observing the group: what Auto Scaling, EC2 and CloudWatch say, turned into one [`Fleet`].
//!
//! [`observe`] makes the calls (the group first, then its instances and their load and the
//! group's scaling activities concurrently); [`Fleet::from_observation`] is pure and decides,
//! per instance, whether it is warming up and whether it counts in the averages. Both the
//! decision's inputs ([`Fleet::load`], [`Fleet::conditions`]) and the record's instances
//! ([`Fleet::instance_records`]) are read from that one value, so they cannot disagree.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use tokio::time::Instant;

use crate::budget::within;
use crate::decide::{Capacity, Conditions};
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
    /// Launched less than the warm-up ago, or not yet in service.
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
        if self.warming_up {
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

/// The group as this cycle sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fleet {
    /// `None` when the group could not be read (see `errors`).
    pub capacity: Option<Capacity>,
    pub members: Vec<Member>,
    pub activity_in_progress: bool,
    pub errors: Vec<String>,
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
}

impl Fleet {
    /// Judges each member: instances younger than `warmup` (or still pending) are warming up;
    /// only in-service, warmed-up instances with CPU datapoints count.
    pub fn from_observation(
        obs: Observation,
        warmup: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Fleet {
        let Observation {
            group,
            ec2,
            mut load,
            activity_in_progress,
            errors,
        } = obs;
        let Some(group) = group else {
            return Fleet {
                capacity: None,
                members: Vec::new(),
                activity_in_progress,
                errors,
            };
        };
        let members = group
            .instances
            .into_iter()
            .map(|member| {
                let ec2 = ec2.get(&member.id);
                let load = load.remove(&member.id).unwrap_or_default();
                let launch_time = ec2.and_then(|i| i.launch_time);
                let in_service = member.lifecycle_state == "InService";
                let warming_up = member.lifecycle_state.starts_with("Pending")
                    || (in_service && launch_time.is_some_and(|t| now - t < warmup));
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
        }
    }

    /// What holds a scale-in back besides the signals.
    pub fn conditions(&self) -> Conditions {
        Conditions {
            activity_in_progress: self.activity_in_progress,
            warming_up: self.members.iter().filter(|m| m.warming_up).count() as u32,
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

/// Reads the group, then its instances, their load over `[start, end]` and whether a scaling
/// activity runs, each call cut off at `by`. Never fails: each failed or unanswered call is in
/// `errors`.
pub async fn observe<G, I, M>(
    groups: &G,
    instances: &I,
    metrics: &M,
    group_name: &str,
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
    let (ec2, load, activity) = tokio::join!(
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
    );
    match ec2 {
        Ok(list) => obs.ec2 = list.into_iter().map(|i| (i.id.clone(), i)).collect(),
        Err(e) => obs.errors.push(e.to_string()),
    }
    match load {
        Ok(load) => obs.load = load,
        Err(e) => obs.errors.push(e.to_string()),
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
                warming_up: 2
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
