//! [`Metrics`] over CloudWatch GetMetricData: per instance, `AWS/EC2 CPUUtilization` and
//! `CWAgent mem_used_percent` (dimension `InstanceId`), one-minute Average points over the
//! window, averaged. Up to 500 queries per call, as GetMetricData allows. The configured metric
//! (`LOGSCALE_METRIC`) is one query of its own: its statistic per minute, those points averaged
//! (not the latest alone: the last minute may still be filling in, and CPU is averaged the same
//! way).

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_sdk_cloudwatch::Client;
use chrono::{DateTime, Utc};

use super::{service_error, to_smithy};
use crate::metric::MetricSpec;
use crate::ports::{InstanceLoad, Metrics, ServiceError};

const QUERIES_PER_CALL: usize = 500;
const PERIOD_SECONDS: i32 = 60;

pub const CPU: (&str, &str) = ("AWS/EC2", "CPUUtilization");
pub const MEMORY: (&str, &str) = ("CWAgent", "mem_used_percent");

pub struct CloudWatchMetrics {
    client: Client,
}

impl CloudWatchMetrics {
    pub fn new(client: Client) -> Self {
        CloudWatchMetrics { client }
    }
}

fn query(id: String, (namespace, name): (&str, &str), instance: &str) -> MetricDataQuery {
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace(namespace)
                        .metric_name(name)
                        .dimensions(
                            Dimension::builder()
                                .name("InstanceId")
                                .value(instance)
                                .build(),
                        )
                        .build(),
                )
                .period(PERIOD_SECONDS)
                .stat("Average")
                .build(),
        )
        .return_data(true)
        .build()
}

impl Metrics for CloudWatchMetrics {
    async fn instance_load(
        &self,
        ids: &[String],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<BTreeMap<String, InstanceLoad>, ServiceError> {
        // Query ids must start with a lower-case letter: c<n> is CPU, m<n> memory of ids[n].
        let queries: Vec<MetricDataQuery> = ids
            .iter()
            .enumerate()
            .flat_map(|(n, id)| {
                [
                    query(format!("c{n}"), CPU, id),
                    query(format!("m{n}"), MEMORY, id),
                ]
            })
            .collect();
        let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for batch in queries.chunks(QUERIES_PER_CALL) {
            let mut pages = self
                .client
                .get_metric_data()
                .start_time(to_smithy(start))
                .end_time(to_smithy(end))
                .set_metric_data_queries(Some(batch.to_vec()))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| service_error("GetMetricData", e))?;
                for result in page.metric_data_results() {
                    if let Some(id) = result.id() {
                        values
                            .entry(id.to_string())
                            .or_default()
                            .extend_from_slice(result.values());
                    }
                }
            }
        }
        let mean = |v: Option<&Vec<f64>>| {
            v.filter(|v| !v.is_empty())
                .map(|v| v.iter().sum::<f64>() / v.len() as f64)
        };
        Ok(ids
            .iter()
            .enumerate()
            .map(|(n, id)| {
                let cpu = values.get(&format!("c{n}"));
                let load = InstanceLoad {
                    cpu_percent: mean(cpu),
                    memory_percent: mean(values.get(&format!("m{n}"))),
                    cpu_datapoints: cpu.map_or(0, Vec::len),
                };
                (id.clone(), load)
            })
            .collect())
    }

    async fn metric(
        &self,
        spec: &MetricSpec,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Option<f64>, ServiceError> {
        let metric = Metric::builder()
            .namespace(&spec.namespace)
            .metric_name(&spec.name)
            .set_dimensions(Some(
                spec.dimensions
                    .iter()
                    .map(|(name, value)| Dimension::builder().name(name).value(value).build())
                    .collect(),
            ))
            .build();
        let query = MetricDataQuery::builder()
            .id("metric")
            .metric_stat(
                MetricStat::builder()
                    .metric(metric)
                    .period(PERIOD_SECONDS)
                    .stat(spec.statistic.name())
                    .build(),
            )
            .return_data(true)
            .build();
        let mut pages = self
            .client
            .get_metric_data()
            .start_time(to_smithy(start))
            .end_time(to_smithy(end))
            .metric_data_queries(query)
            .into_paginator()
            .send();
        let mut points = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| service_error("GetMetricData", e))?;
            for result in page.metric_data_results() {
                points.extend_from_slice(result.values());
            }
        }
        Ok((!points.is_empty()).then(|| points.iter().sum::<f64>() / points.len() as f64))
    }
}
