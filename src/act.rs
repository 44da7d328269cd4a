//! Applies a [`Decision`] through the Auto Scaling port: the only place capacity changes.
//!
//! A hold or a dry run makes no call. AWS's "not now" answers (`ScalingActivityInProgress`
//! during a cooldown or activity, `ResourceContention`) turn the decision into a hold that says
//! so; any other failure is a hold too, with the error, never a retry at a different size.
//! The SDK itself already retries throttling and 5xx answers with backoff.

use serde::Serialize;

use tokio::time::Instant;

use crate::budget::within;
use crate::decide::{Action, Decision, Rule};
use crate::ports::{ScalingGroups, ServiceError};

/// The decision as carried out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub decision: Decision,
    /// SetDesiredCapacity was called and succeeded.
    pub applied: bool,
    pub error: Option<ServiceError>,
}

/// Carries out `decision` for `group`. `decision.to` is already within the group's limits.
pub async fn apply<G: ScalingGroups>(
    groups: &G,
    group: &str,
    decision: Decision,
    dry_run: bool,
    honor_cooldown: bool,
    by: Option<Instant>,
) -> Outcome {
    if decision.action() == Action::Hold {
        return Outcome {
            decision,
            applied: false,
            error: None,
        };
    }
    if dry_run {
        let to = decision.to;
        let mut decision = decision;
        decision.reasons.push(crate::decide::Reason {
            rule: Rule::DryRun,
            detail: format!("dry run: would set desired capacity to {to}; no call made"),
        });
        return Outcome {
            decision,
            applied: false,
            error: None,
        };
    }
    match within(
        by,
        "SetDesiredCapacity",
        groups.set_desired(group, decision.to, honor_cooldown),
    )
    .await
    {
        Ok(()) => Outcome {
            decision,
            applied: true,
            error: None,
        },
        Err(e) => {
            let (rule, detail) = if e.is("ScalingActivityInProgress") {
                (
                    Rule::ActivityInProgress,
                    format!("AWS refused the change while a scaling activity or cooldown is in progress ({}); holding", e.message),
                )
            } else if e.is("ResourceContention") {
                (
                    Rule::ResourceContention,
                    format!(
                        "AWS reported contention on the group ({}); holding",
                        e.message
                    ),
                )
            } else if e.is_out_of_time() {
                (
                    Rule::SetCapacityFailed,
                    "SetDesiredCapacity did not answer within the cycle's time budget; whether \
                     the group changed is unknown until the next run reads it; holding"
                        .to_string(),
                )
            } else {
                (Rule::SetCapacityFailed, format!("{e}; holding"))
            };
            Outcome {
                decision: decision.into_hold(rule, detail),
                applied: false,
                error: Some(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::GroupInfo;
    use std::sync::Mutex;

    /// Records calls; answers with a queued error when one is set.
    #[derive(Default)]
    struct Recorder {
        calls: Mutex<Vec<(u32, bool)>>,
        fail_with: Option<ServiceError>,
    }

    impl ScalingGroups for Recorder {
        async fn describe(&self, _: &str) -> Result<Option<GroupInfo>, ServiceError> {
            Ok(None)
        }
        async fn set_desired(&self, _: &str, d: u32, honor: bool) -> Result<(), ServiceError> {
            self.calls.lock().unwrap().push((d, honor));
            self.fail_with.clone().map_or(Ok(()), Err)
        }
        async fn activity_in_progress(&self, _: &str) -> Result<bool, ServiceError> {
            Ok(false)
        }
        async fn other_scalers(&self, _: &str) -> Result<Vec<String>, ServiceError> {
            Ok(Vec::new())
        }
    }

    fn up() -> Decision {
        Decision {
            from: 2,
            to: 3,
            reasons: vec![],
            signals: vec![],
            window: vec![],
            explanation: String::new(),
        }
    }

    #[tokio::test]
    async fn applies_with_honor_cooldown() {
        let r = Recorder::default();
        let o = apply(&r, "web", up(), false, true, None).await;
        assert!(o.applied);
        assert_eq!(*r.calls.lock().unwrap(), [(3, true)]);
    }

    #[tokio::test]
    async fn dry_run_and_hold_make_no_call() {
        let r = Recorder::default();
        let o = apply(&r, "web", up(), true, true, None).await;
        assert!(!o.applied);
        assert_eq!(o.decision.to, 3, "a dry run still reports what it would do");
        let o = apply(
            &r,
            "web",
            Decision::hold(2, Rule::Steady, "x"),
            false,
            true,
            None,
        )
        .await;
        assert!(!o.applied);
        assert!(r.calls.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn activity_in_progress_becomes_a_hold_with_the_reason() {
        for code in [
            "ScalingActivityInProgress",
            "ResourceContention",
            "InternalFailure",
        ] {
            let r = Recorder {
                fail_with: Some(ServiceError::new("SetDesiredCapacity", Some(code), "busy")),
                ..Recorder::default()
            };
            let o = apply(&r, "web", up(), false, true, None).await;
            assert!(!o.applied, "{code}");
            assert_eq!(o.decision.action(), Action::Hold, "{code}");
            assert_eq!(o.decision.to, 2, "{code}");
            assert!(o.error.unwrap().is(code));
        }
    }
}
