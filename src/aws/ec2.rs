//! [`Instances`] over EC2 DescribeInstances, for the instances the group names.

use aws_sdk_ec2::Client;

use super::{service_error, to_chrono};
use crate::ports::{InstanceInfo, Instances, ServiceError};

/// DescribeInstances takes at most this many ids per call.
const IDS_PER_CALL: usize = 1000;

pub struct Ec2Instances {
    client: Client,
}

impl Ec2Instances {
    pub fn new(client: Client) -> Self {
        Ec2Instances { client }
    }
}

impl Instances for Ec2Instances {
    async fn describe(&self, ids: &[String]) -> Result<Vec<InstanceInfo>, ServiceError> {
        let mut found = Vec::new();
        for batch in ids.chunks(IDS_PER_CALL) {
            let mut pages = self
                .client
                .describe_instances()
                .set_instance_ids(Some(batch.to_vec()))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| service_error("DescribeInstances", e))?;
                for reservation in page.reservations() {
                    for i in reservation.instances() {
                        let Some(id) = i.instance_id() else { continue };
                        found.push(InstanceInfo {
                            id: id.to_string(),
                            state: i
                                .state()
                                .and_then(|s| s.name())
                                .map(|n| n.as_str().to_string())
                                .unwrap_or_default(),
                            instance_type: i.instance_type().map(|t| t.as_str().to_string()),
                            launch_time: i.launch_time().and_then(to_chrono),
                        });
                    }
                }
            }
        }
        Ok(found)
    }
}
