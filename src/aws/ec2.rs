//! [`Instances`] over EC2 DescribeInstances, for the instances the group names.
//!
//! The ids go in an `instance-id` filter, not in `InstanceIds`: with `InstanceIds`, one id EC2
//! does not know yet (an instance launched a moment ago, which Auto Scaling already lists; EC2's
//! API is eventually consistent) fails the whole call with `InvalidInstanceID.NotFound`, and then
//! no instance's launch time is known. A filter simply leaves such an id out of the answer.

use aws_sdk_ec2::types::Filter;
use aws_sdk_ec2::Client;

use super::{service_error, to_chrono};
use crate::ports::{InstanceInfo, Instances, ServiceError};

/// EC2 takes up to 200 values per filter in one request (the EC2 User Guide's filtering
/// considerations).
const IDS_PER_CALL: usize = 200;

pub struct Ec2Instances {
    client: Client,
}

impl Ec2Instances {
    pub fn new(client: Client) -> Self {
        Ec2Instances { client }
    }
}

impl Instances for Ec2Instances {
    /// The instances EC2 knows among `ids`; an id it does not know is absent from the answer.
    async fn describe(&self, ids: &[String]) -> Result<Vec<InstanceInfo>, ServiceError> {
        let mut found = Vec::new();
        for batch in ids.chunks(IDS_PER_CALL) {
            let by_id = Filter::builder()
                .name("instance-id")
                .set_values(Some(batch.to_vec()))
                .build();
            let mut pages = self
                .client
                .describe_instances()
                .filters(by_id)
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
