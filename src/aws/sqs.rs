//! [`Queue`] over SQS: ReceiveMessage with a short long-poll, DeleteMessageBatch.

use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use aws_sdk_sqs::Client;

use super::service_error;
use crate::ports::{Queue, QueuedMessage, ServiceError};

/// How long one receive waits for a message when the queue looks empty. Long polling asks every
/// SQS server, so an empty answer means empty (a short poll samples some servers and can come
/// back empty while messages wait); one second keeps the cost of the last, empty call small.
const WAIT_SECONDS: i32 = 1;

/// The SQS client is built at the first call: only queue discovery makes one, and the other
/// layouts need not pay for it at every cold start (issue 18).
#[derive(Clone)]
pub struct SqsQueue {
    sdk: aws_config::SdkConfig,
    client: std::sync::Arc<std::sync::OnceLock<Client>>,
}

impl SqsQueue {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        SqsQueue {
            sdk: sdk.clone(),
            client: Default::default(),
        }
    }

    fn client(&self) -> &Client {
        self.client.get_or_init(|| Client::new(&self.sdk))
    }
}

impl Queue for SqsQueue {
    async fn receive(&self, queue_url: &str, max: u32) -> Result<Vec<QueuedMessage>, ServiceError> {
        let out = self
            .client()
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .wait_time_seconds(WAIT_SECONDS)
            .send()
            .await
            .map_err(|e| service_error("ReceiveMessage", e))?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| {
                Some(QueuedMessage {
                    id: m.message_id()?.to_string(),
                    receipt: m.receipt_handle()?.to_string(),
                    body: m.body().unwrap_or_default().to_string(),
                })
            })
            .collect())
    }

    async fn delete(&self, queue_url: &str, receipts: &[String]) -> Result<usize, ServiceError> {
        if receipts.is_empty() {
            return Ok(0);
        }
        let entries = receipts
            .iter()
            .enumerate()
            .map(|(i, receipt)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(receipt)
                    .build()
                    .map_err(|e| ServiceError::new("DeleteMessageBatch", None, e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client()
            .delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| service_error("DeleteMessageBatch", e))?;
        // Entries can fail one by one inside a successful call: only the successes count.
        Ok(out.successful().len())
    }
}
