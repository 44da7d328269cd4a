//! [`LogStore`] over S3: ListObjectsV2 one page at a time and streamed GetObject bodies.

use aws_sdk_s3::Client;

use super::{service_error, to_chrono};
use crate::ports::{
    LogStore, ObjectBody, ObjectInfo, Page, SaveOutcome, ServiceError, StateStore, StoredState,
};
use crate::state;

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

    /// GetObject, with the SDK error turned into ours.
    async fn get(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, ServiceError> {
        self.client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| service_error("GetObject", e))
    }

    /// Writes one object, unconditionally (`logscale loggen --s3` uploads sample logs with it).
    pub async fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), ServiceError> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| service_error("PutObject", e))
    }

    /// Asks for pages of at most `n` keys (S3's default and maximum is 1000); tests use a small
    /// page to exercise pagination.
    pub fn with_page_size(mut self, n: i32) -> Self {
        self.page_size = Some(n);
        self
    }
}

impl LogStore for S3LogStore {
    async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        continuation: Option<&str>,
    ) -> Result<Page, ServiceError> {
        let page = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_start_after(start_after.map(str::to_string))
            .set_continuation_token(continuation.map(str::to_string))
            .set_max_keys(self.page_size)
            .send()
            .await
            .map_err(|e| service_error("ListObjectsV2", e))?;
        let objects = page
            .contents()
            .iter()
            .filter_map(|o| {
                Some(ObjectInfo {
                    key: o.key()?.to_string(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                    last_modified: o.last_modified().and_then(to_chrono)?,
                    etag: o.e_tag().map(str::to_string),
                })
            })
            .collect();
        let next = page
            .is_truncated()
            .unwrap_or(false)
            .then(|| page.next_continuation_token().map(str::to_string))
            .flatten();
        Ok(Page { objects, next })
    }

    async fn open(&self, bucket: &str, key: &str) -> Result<ObjectBody, ServiceError> {
        let out = self.get(bucket, key).await?;
        let etag = out.e_tag().map(str::to_string);
        let last_modified = out
            .last_modified()
            .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), 0));
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
            chunks: Box::pin(chunks),
            etag,
            last_modified,
        })
    }
}

impl StateStore for S3LogStore {
    async fn load(&self, bucket: &str, key: &str) -> Result<Option<StoredState>, ServiceError> {
        let out = match self.get(bucket, key).await {
            Ok(out) => out,
            Err(e) if e.is("NoSuchKey") => return Ok(None),
            Err(e) => return Err(e),
        };
        // Refused before the body is read: a huge object (tampered with, or grown wrong)
        // must not take every run's memory and time.
        let declared = out.content_length().map_or(0, |n| n.max(0) as u64);
        let etag = out.e_tag().map(str::to_string);
        if let Some(refused) = state::refuse_size(declared) {
            return Ok(Some(StoredState {
                bytes: Vec::new(),
                etag,
                refused: Some(refused),
            }));
        }
        // Without a declared length, the read stops at the cap all the same.
        let mut body = out.body;
        let mut bytes = Vec::with_capacity(declared as usize);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                ServiceError::new(
                    "GetObject",
                    None,
                    super::DisplayErrorContext(&e).to_string(),
                )
            })?;
            bytes.extend_from_slice(&chunk);
            if let Some(refused) = state::refuse_size(bytes.len() as u64) {
                return Ok(Some(StoredState {
                    bytes: Vec::new(),
                    etag,
                    refused: Some(refused),
                }));
            }
        }
        Ok(Some(StoredState {
            bytes,
            etag,
            refused: None,
        }))
    }

    async fn save(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        expected: Option<&str>,
    ) -> Result<SaveOutcome, ServiceError> {
        let put = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(bytes.into());
        let put = match expected {
            Some(etag) => put.if_match(etag),
            None => put.if_none_match("*"),
        };
        match put.send().await {
            Ok(_) => Ok(SaveOutcome::Saved),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let e = service_error("PutObject", e);
                // 412: the object changed (or exists); 409: a concurrent conditional write.
                if matches!(status, Some(412 | 409))
                    || e.is("PreconditionFailed")
                    || e.is("ConditionalRequestConflict")
                {
                    Ok(SaveOutcome::Conflict)
                } else {
                    Err(e)
                }
            }
        }
    }
}
