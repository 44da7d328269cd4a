//! [`LogStore`] over S3: ListObjectsV2 (all pages) and streamed GetObject bodies.

use aws_sdk_s3::Client;

use super::{service_error, to_chrono};
use crate::ports::{LogStore, ObjectBody, ObjectInfo, ServiceError};

#[derive(Clone)]
pub struct S3LogStore {
    client: Client,
    page_size: Option<i32>,
}

/// An S3 client; `path_style` for endpoints that cannot resolve bucket host names.
pub fn client(sdk: &aws_config::SdkConfig, path_style: bool) -> Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(path_style)
        .build();
    Client::from_conf(conf)
}

impl S3LogStore {
    pub fn new(client: Client) -> Self {
        S3LogStore {
            client,
            page_size: None,
        }
    }

    /// Asks for pages of at most `n` keys (S3's default and maximum is 1000); tests use a small
    /// page to exercise pagination.
    pub fn with_page_size(mut self, n: i32) -> Self {
        self.page_size = Some(n);
        self
    }
}

impl LogStore for S3LogStore {
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>, ServiceError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_max_keys(self.page_size)
            .into_paginator()
            .send();
        let mut objects = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| service_error("ListObjectsV2", e))?;
            for o in page.contents() {
                let (Some(key), Some(modified)) = (o.key(), o.last_modified().and_then(to_chrono))
                else {
                    continue;
                };
                objects.push(ObjectInfo {
                    key: key.to_string(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                    last_modified: modified,
                });
            }
        }
        Ok(objects)
    }

    async fn open(&self, bucket: &str, key: &str) -> Result<ObjectBody, ServiceError> {
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| service_error("GetObject", e))?;
        let content_encoding = out.content_encoding().map(str::to_string);
        let chunks = futures::stream::unfold(out.body, |mut body| async move {
            let next = body.next().await?;
            let next = next.map_err(|e| {
                ServiceError::new(
                    "GetObject",
                    None,
                    super::DisplayErrorContext(&e).to_string(),
                )
            });
            Some((next, body))
        });
        Ok(ObjectBody {
            content_encoding,
            chunks: Box::pin(chunks),
        })
    }
}
