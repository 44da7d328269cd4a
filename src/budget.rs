//! One time budget for the whole cycle, cut from the invocation's deadline.
//!
//! A scheduled Lambda that times out leaves no record and no scaling, and Lambda retries it.
//! So every phase gets a bounded share of the time and is cut off at its end with
//! [`within`]; what did not arrive is named in the record and the decision is made on what
//! did (never a scale-in on partial data). The reserve (`LOGSCALE_RESERVE_SECONDS`) is kept for
//! what comes after gathering:
//!
//! ```text
//! now ── discover, read, observe, load state ──┬─ save ─┬─ act ─┬─ tidy ─┬─ record ── deadline
//!                                  deadline − reserve   −r/2    −r/5     −r/10
//! ```
//!
//! Without a deadline (the CLI, or an emulator that sends none) nothing is cut off.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::ports::ServiceError;

/// When each phase must have finished; `None` for no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Budget {
    /// Listing, reading, observing the group and loading the state (they run concurrently).
    pub gather_by: Option<Instant>,
    /// Saving the policy's state.
    pub save_by: Option<Instant>,
    /// SetDesiredCapacity.
    pub act_by: Option<Instant>,
    /// After acting: deleting the discovery queue's messages of the objects counted.
    pub tidy_by: Option<Instant>,
}

impl Budget {
    /// Shares out the time to `deadline`, keeping `reserve` for save, act and the record.
    pub fn new(deadline: Option<Instant>, reserve: Duration) -> Budget {
        let before = |d: Instant, keep: Duration| d.checked_sub(keep).unwrap_or(d);
        Budget {
            gather_by: deadline.map(|d| before(d, reserve)),
            save_by: deadline.map(|d| before(d, reserve / 2)),
            act_by: deadline.map(|d| before(d, reserve / 5)),
            tidy_by: deadline.map(|d| before(d, reserve / 10)),
        }
    }
}

/// Runs one call, giving up at `by` with [`ServiceError::out_of_time`]. Dropping the call's
/// future cancels its request.
pub async fn within<T, F>(
    by: Option<Instant>,
    operation: &'static str,
    call: F,
) -> Result<T, ServiceError>
where
    F: Future<Output = Result<T, ServiceError>>,
{
    match by {
        None => call.await,
        Some(at) => tokio::time::timeout_at(at, call)
            .await
            .unwrap_or_else(|_| Err(ServiceError::out_of_time(operation))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_is_shared_between_save_act_and_the_record() {
        let deadline = Instant::now() + Duration::from_secs(60);
        let b = Budget::new(Some(deadline), Duration::from_secs(15));
        assert_eq!(b.gather_by, Some(deadline - Duration::from_secs(15)));
        assert_eq!(b.save_by, Some(deadline - Duration::from_millis(7500)));
        assert_eq!(b.act_by, Some(deadline - Duration::from_secs(3)));
        assert_eq!(b.tidy_by, Some(deadline - Duration::from_millis(1500)));
        assert!(b.gather_by < b.save_by && b.save_by < b.act_by && b.act_by < b.tidy_by);
        assert_eq!(
            Budget::new(None, Duration::from_secs(15)),
            Budget::default()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_past_its_share_is_cut_off_and_named() {
        let by = Some(Instant::now() + Duration::from_secs(5));
        let slow = async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<u32, ServiceError>(1)
        };
        let started = Instant::now();
        let err = within(by, "DescribeAutoScalingGroups", slow)
            .await
            .unwrap_err();
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        assert!(err.is_out_of_time());
        assert_eq!(err.operation, "DescribeAutoScalingGroups");
        assert_eq!(
            within(by, "X", async { Ok::<u32, ServiceError>(2) }).await,
            Ok(2)
        );
        assert_eq!(
            within(None, "X", async { Ok::<u32, ServiceError>(3) }).await,
            Ok(3)
        );
    }
}
