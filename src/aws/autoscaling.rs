//! [`ScalingGroups`] over EC2 Auto Scaling: DescribeAutoScalingGroups and SetDesiredCapacity.

use aws_sdk_autoscaling::Client;

use super::service_error;
use crate::ports::{GroupInfo, GroupInstance, ScalingGroups, ServiceError};

pub struct AutoScalingGroups {
    client: Client,
}

impl AutoScalingGroups {
    pub fn new(client: Client) -> Self {
        AutoScalingGroups { client }
    }
}

fn non_negative(v: Option<i32>) -> u32 {
    v.unwrap_or(0).max(0) as u32
}

impl ScalingGroups for AutoScalingGroups {
    async fn describe(&self, group: &str) -> Result<Option<GroupInfo>, ServiceError> {
        let out = self
            .client
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(group)
            .send()
            .await
            .map_err(|e| service_error("DescribeAutoScalingGroups", e))?;
        let Some(g) = out
            .auto_scaling_groups()
            .iter()
            .find(|g| g.auto_scaling_group_name() == Some(group))
        else {
            return Ok(None);
        };
        Ok(Some(GroupInfo {
            name: group.to_string(),
            min: non_negative(g.min_size()),
            max: non_negative(g.max_size()),
            desired: non_negative(g.desired_capacity()),
            instances: g
                .instances()
                .iter()
                .filter_map(|i| {
                    Some(GroupInstance {
                        id: i.instance_id()?.to_string(),
                        lifecycle_state: i
                            .lifecycle_state()
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_default(),
                        health_status: i.health_status().unwrap_or_default().to_string(),
                        weight: i.weighted_capacity().map(str::to_string),
                    })
                })
                .collect(),
            capacity_type: g.desired_capacity_type().map(str::to_string),
            default_instance_warmup: g
                .default_instance_warmup()
                .and_then(|w| u32::try_from(w).ok()),
            policy_weights: g
                .mixed_instances_policy()
                .and_then(|p| p.launch_template())
                .map(|t| {
                    t.overrides()
                        .iter()
                        .filter_map(|o| o.weighted_capacity().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        }))
    }

    async fn set_desired(
        &self,
        group: &str,
        desired: u32,
        honor_cooldown: bool,
    ) -> Result<(), ServiceError> {
        let desired = i32::try_from(desired).map_err(|_| {
            ServiceError::new(
                "SetDesiredCapacity",
                None,
                format!("{desired} is too large"),
            )
        })?;
        self.client
            .set_desired_capacity()
            .auto_scaling_group_name(group)
            .desired_capacity(desired)
            .honor_cooldown(honor_cooldown)
            .send()
            .await
            .map_err(|e| service_error("SetDesiredCapacity", e))?;
        Ok(())
    }

    async fn other_scalers(&self, group: &str) -> Result<Vec<String>, ServiceError> {
        let mut found = Vec::new();
        let mut policies = self
            .client
            .describe_policies()
            .auto_scaling_group_name(group)
            .into_paginator()
            .send();
        while let Some(page) = policies.next().await {
            let page = page.map_err(|e| service_error("DescribePolicies", e))?;
            found.extend(
                page.scaling_policies()
                    .iter()
                    // A disabled policy does not scale.
                    .filter(|p| p.enabled() != Some(false))
                    .map(|p| {
                        format!(
                            "{} {}",
                            p.policy_type().unwrap_or("policy"),
                            p.policy_name().unwrap_or("?")
                        )
                    }),
            );
        }
        let mut actions = self
            .client
            .describe_scheduled_actions()
            .auto_scaling_group_name(group)
            .into_paginator()
            .send();
        while let Some(page) = actions.next().await {
            let page = page.map_err(|e| service_error("DescribeScheduledActions", e))?;
            found.extend(page.scheduled_update_group_actions().iter().map(|a| {
                format!(
                    "scheduled action {}",
                    a.scheduled_action_name().unwrap_or("?")
                )
            }));
        }
        Ok(found)
    }

    async fn activity_in_progress(&self, group: &str) -> Result<bool, ServiceError> {
        let out = self
            .client
            .describe_scaling_activities()
            .auto_scaling_group_name(group)
            .max_records(10)
            .send()
            .await
            .map_err(|e| service_error("DescribeScalingActivities", e))?;
        Ok(out.activities().iter().any(|a| {
            !matches!(
                a.status_code().map(|s| s.as_str()),
                Some("Successful" | "Failed" | "Cancelled")
            )
        }))
    }
}
