//! The scalers users would pick instead of logscale, re-implemented from their documentation so
//! `logscale simulate --policy target-tracking|hpa` can replay the same trace through them.
//!
//! Both see what a CPU-based scaler sees: each minute's CPU (the model gives every serving
//! instance the same), how many instances the group has, how many of them serve and how many
//! are past their warm-up. Both are asked at logscale's cadence
//! ([`super::PERIOD_MINUTES`]) with the minutes since the last decision, so they keep the
//! minute resolution of their metrics but act no more often than logscale can.
//!
//! # `target-tracking`: EC2 Auto Scaling target tracking on average CPU
//! As AWS documents it:
//! <https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-target-tracking.html>,
//! <https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-default-instance-warmup.html>
//! and <https://docs.aws.amazon.com/autoscaling/application/userguide/target-tracking-scaling-policy-overview.html>.
//! - Two alarms on the group's average CPU, with detailed (1-minute) monitoring: the scale-out
//!   alarm when 3 of 3 one-minute datapoints are above the target, the scale-in alarm when 15
//!   of 15 are below 90 % of it. These are the alarms target tracking creates and manages (its
//!   `AlarmHigh` and `AlarmLow`, as CloudWatch shows them; they must not be edited); the
//!   guides describe them only as "more aggressive in adding capacity … than in removing".
//! - It "scales out proportionally to the metric as fast as it can, but scales in more
//!   gradually": the new capacity is `ceil(warm × metric / target)`, where only instances past
//!   their warm-up count, both in the metric and in the capacity the proportion applies to
//!   (the metric of a warming instance is left out, so repeated alarms while it warms add
//!   nothing twice).
//! - While an instance warms up the policy does not scale in.
//!
//! What it simplifies: the alarms are evaluated at logscale's cadence rather than each minute
//! (an alarm may fire up to `PERIOD_MINUTES − 1` minutes later than on AWS), CloudWatch's own
//! delay of a minute or two in publishing datapoints is left out (in the peer's favour), a
//! scale-in removes down to the capacity the busiest minute of the 15 would need (AWS does not
//! publish its scale-in step; this is the conservative reading), and the datapoints before a
//! capacity change are forgotten, since they describe another capacity.
//!
//! # `hpa`: the Kubernetes Horizontal Pod Autoscaler on CPU, default behavior
//! As <https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/> (the
//! algorithm, the tolerance, not-ready pods, the default behavior) and the autoscaling/v2 API
//! reference (`HorizontalPodAutoscalerBehavior`, `HPAScalingRules`: the 300 s scale-down
//! window, "doubling the number of pods, or an absolute change of 4 pods in a 15s window",
//! `selectPolicy: Max`) describe it:
//! - `desired = ceil(ready × utilization / target)`, no change while the ratio is within the
//!   tolerance of 0.1 of 1.
//! - Pods not ready (here: instances launched but not yet serving) are left out of the average;
//!   on a scale-up they count as using 0 % and the ratio is computed again, and no change is
//!   made if that flips it or brings it within the tolerance; on a scale-down they are set
//!   aside.
//! - Scale-down stabilization of 300 s: the highest recommendation of the last five minutes
//!   wins; no stabilization on scale-up.
//! - Scale-up limited to the larger of +100 % and +4 pods per 15 s; scale-down unlimited.
//!
//! What it simplifies: the HPA loop runs every 15 s; here its recommendation is computed once a
//! minute (from each minute's CPU, the metrics server's resolution) and acted on every
//! `PERIOD_MINUTES`, so the scale-up limit applies once per decision (one 15-second period's
//! worth: at most ×2 or +4, where the real HPA could double again 15 s later). Missing metrics
//! do not arise in the model. A pod counts as ready once it serves: the model gives a serving
//! instance the same CPU from its first minute, so the CPU initialization period, which guards
//! against a starting pod's unrepresentative CPU, has nothing to guard against here.

use std::collections::VecDeque;

/// What one minute showed a CPU-based scaler.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinuteSample {
    pub minute: u32,
    /// The CPU of each serving instance, %; `None` when none serves.
    pub cpu: Option<f64>,
    /// Instances that serve (launched and booted).
    pub serving: u32,
    /// Instances past their warm-up, the ones a group's average CPU covers.
    pub warm: u32,
}

/// The group at a decision: its limits, its size, and the minutes since the last decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerInput<'a> {
    pub min: u32,
    pub max: u32,
    /// Instances in the group (launched, warm or not).
    pub current: u32,
    /// The minutes since the last decision, oldest first.
    pub minutes: &'a [MinuteSample],
}

impl PeerInput<'_> {
    fn clamp(&self, n: u32) -> u32 {
        n.clamp(self.min, self.max.max(self.min))
    }

    fn warm_now(&self) -> u32 {
        self.minutes.last().map_or(self.current, |m| m.warm)
    }
}

/// Datapoints above the target that put the scale-out alarm in ALARM (3 of 3, 1-minute).
pub const TARGET_TRACKING_SCALE_OUT_DATAPOINTS: usize = 3;
/// Datapoints below the scale-in threshold that put the scale-in alarm in ALARM (15 of 15).
pub const TARGET_TRACKING_SCALE_IN_DATAPOINTS: usize = 15;
/// The scale-in alarm's threshold as a fraction of the target.
pub const TARGET_TRACKING_SCALE_IN_FRACTION: f64 = 0.9;

/// EC2 Auto Scaling target tracking on average CPU (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct TargetTracking {
    pub target_cpu: f64,
    /// The one-minute datapoints since the last capacity change, newest last, at most as many
    /// as the scale-in alarm reads.
    datapoints: VecDeque<Option<f64>>,
}

impl TargetTracking {
    pub fn new(target_cpu: f64) -> TargetTracking {
        TargetTracking {
            target_cpu,
            datapoints: VecDeque::new(),
        }
    }

    /// The capacity the policy sets after the given minutes.
    pub fn decide(&mut self, input: &PeerInput) -> u32 {
        for m in input.minutes {
            if self.datapoints.len() == TARGET_TRACKING_SCALE_IN_DATAPOINTS {
                self.datapoints.pop_front();
            }
            // Without a warm instance the group's average has no datapoint.
            self.datapoints.push_back(m.cpu.filter(|_| m.warm > 0));
        }
        let warm = input.warm_now();
        let last = |n: usize| -> Option<Vec<f64>> {
            (self.datapoints.len() >= n)
                .then(|| self.datapoints.iter().rev().take(n).copied().collect())
                .flatten()
        };
        let proportional = |cpu: f64| (f64::from(warm) * cpu / self.target_cpu).ceil() as u32;
        let mut to = input.current;
        if let Some(high) = last(TARGET_TRACKING_SCALE_OUT_DATAPOINTS)
            .filter(|points| points.iter().all(|&cpu| cpu > self.target_cpu))
        {
            // The newest datapoint is the alarm's metric value.
            to = input.clamp(proportional(high[0]).max(input.current));
        } else if let Some(low) = last(TARGET_TRACKING_SCALE_IN_DATAPOINTS).filter(|points| {
            points
                .iter()
                .all(|&cpu| cpu < TARGET_TRACKING_SCALE_IN_FRACTION * self.target_cpu)
        }) {
            if warm == input.current {
                let busiest = low.iter().copied().fold(0.0, f64::max);
                to = input.clamp(proportional(busiest).min(input.current));
            }
        }
        if to != input.current {
            self.datapoints.clear();
        }
        to
    }
}

/// The HPA's default tolerance on the usage ratio.
pub const HPA_TOLERANCE: f64 = 0.1;
/// The HPA's default scale-down stabilization window, minutes (300 s).
pub const HPA_SCALE_DOWN_STABILIZATION_MINUTES: u32 = 5;
/// The HPA's default scale-up policies: +100 % or +4 pods a period, whichever is larger.
pub const HPA_SCALE_UP_PERCENT: u32 = 100;
pub const HPA_SCALE_UP_PODS: u32 = 4;

/// The Kubernetes HPA on CPU with its default behavior (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct Hpa {
    pub target_cpu: f64,
    /// (minute, unstabilized recommendation), newest last, no older than the window.
    recommendations: VecDeque<(u32, u32)>,
}

impl Hpa {
    pub fn new(target_cpu: f64) -> Hpa {
        Hpa {
            target_cpu,
            recommendations: VecDeque::new(),
        }
    }

    /// The replica count the HPA's replica calculator proposes for one minute's CPU.
    pub fn recommend(&self, current: u32, sample: &MinuteSample) -> u32 {
        let Some(cpu) = sample.cpu.filter(|_| sample.serving > 0) else {
            return current;
        };
        let ready = f64::from(sample.serving);
        let usage_ratio = cpu / self.target_cpu;
        let unready = current.saturating_sub(sample.serving);
        if unready == 0 {
            if (1.0 - usage_ratio).abs() <= HPA_TOLERANCE {
                return current;
            }
            return (usage_ratio * ready).ceil() as u32;
        }
        // With pods not ready: on a scale-up they count as using 0 %; on a scale-down they are
        // left out. The ratio is computed again over the pods that count.
        let (new_ratio, counted) = if usage_ratio > 1.0 {
            let all = f64::from(current);
            (cpu * ready / all / self.target_cpu, all)
        } else {
            (usage_ratio, ready)
        };
        let flips = (usage_ratio < 1.0) != (new_ratio < 1.0);
        if (1.0 - new_ratio).abs() <= HPA_TOLERANCE || flips {
            return current;
        }
        let proposed = (new_ratio * counted).ceil() as u32;
        if (new_ratio < 1.0 && proposed > current) || (new_ratio > 1.0 && proposed < current) {
            return current;
        }
        proposed
    }

    /// The replica count the HPA sets after the given minutes.
    pub fn decide(&mut self, input: &PeerInput) -> u32 {
        let Some(now) = input.minutes.last() else {
            return input.current;
        };
        for m in input.minutes {
            let recommendation = self.recommend(input.current, m);
            self.recommendations.push_back((m.minute, recommendation));
        }
        // A recommendation counts while it is younger than the window.
        while self
            .recommendations
            .front()
            .is_some_and(|&(minute, _)| minute + HPA_SCALE_DOWN_STABILIZATION_MINUTES <= now.minute)
        {
            self.recommendations.pop_front();
        }
        let desired = self
            .recommendations
            .back()
            .map_or(input.current, |&(_, r)| r);
        // No scale-up window: the newest recommendation is the floor; the scale-down window's
        // highest recommendation is the ceiling, and the current count is kept between them.
        let highest = self
            .recommendations
            .iter()
            .map(|&(_, r)| r)
            .max()
            .unwrap_or(desired);
        let stabilized = input.current.max(desired).min(highest.max(desired));
        let up_limit = (input.current + input.current * HPA_SCALE_UP_PERCENT / 100)
            .max(input.current + HPA_SCALE_UP_PODS);
        input.clamp(stabilized.min(up_limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minutes from `from` at the given CPUs, with `ready` instances serving and warm.
    fn minutes(from: u32, cpus: &[f64], ready: u32) -> Vec<MinuteSample> {
        cpus.iter()
            .enumerate()
            .map(|(i, &cpu)| MinuteSample {
                minute: from + i as u32,
                cpu: Some(cpu),
                serving: ready,
                warm: ready,
            })
            .collect()
    }

    fn input(current: u32, minutes: &[MinuteSample]) -> PeerInput<'_> {
        PeerInput {
            min: 1,
            max: 40,
            current,
            minutes,
        }
    }

    #[test]
    fn target_tracking_scales_out_proportionally_after_three_minutes_above_target() {
        let mut tt = TargetTracking::new(65.0);
        // Two minutes above: the alarm needs three.
        let m = minutes(0, &[40.0, 40.0, 40.0, 90.0, 90.0], 4);
        assert_eq!(tt.decide(&input(4, &m)), 4);
        // The third: ceil(4 × 91 / 65) = 6.
        let m = minutes(5, &[91.0, 91.0, 91.0, 91.0, 91.0], 4);
        assert_eq!(tt.decide(&input(4, &m)), 6);
    }

    #[test]
    fn target_tracking_counts_only_warm_instances_in_the_proportion() {
        let mut tt = TargetTracking::new(65.0);
        // 6 in the group, 4 warm at 91 %: ceil(4 × 91 / 65) = 6, already there.
        let m = minutes(0, &[91.0; 5], 4);
        assert_eq!(tt.decide(&input(6, &m)), 6);
    }

    #[test]
    fn target_tracking_does_not_scale_in_before_fifteen_minutes_below_target() {
        let mut tt = TargetTracking::new(65.0);
        // 14 minutes at 20 % (below 90 % of 65): still nothing.
        let m = minutes(0, &[20.0; 5], 8);
        assert_eq!(tt.decide(&input(8, &m)), 8);
        let m = minutes(5, &[20.0; 5], 8);
        assert_eq!(tt.decide(&input(8, &m)), 8);
        let m = minutes(10, &[20.0; 4], 8);
        assert_eq!(tt.decide(&input(8, &m)), 8);
        // The 15th: ceil(8 × 20 / 65) = 3.
        let m = minutes(14, &[20.0], 8);
        assert_eq!(tt.decide(&input(8, &m)), 3);
    }

    #[test]
    fn target_tracking_scale_in_needs_all_fifteen_below_ninety_percent_of_target() {
        let mut tt = TargetTracking::new(65.0);
        // 60 % is below the target but above 58.5 %, its scale-in threshold.
        let mut cpus = vec![20.0; 14];
        cpus.push(60.0);
        let m = minutes(0, &cpus, 8);
        assert_eq!(tt.decide(&input(8, &m)), 8);
    }

    #[test]
    fn target_tracking_does_not_scale_in_while_an_instance_warms_up() {
        let mut tt = TargetTracking::new(65.0);
        let m = minutes(0, &[20.0; 15], 7);
        assert_eq!(tt.decide(&input(8, &m)), 8);
    }

    #[test]
    fn target_tracking_forgets_datapoints_of_another_capacity() {
        let mut tt = TargetTracking::new(65.0);
        let m = minutes(0, &[20.0; 15], 8);
        assert_eq!(tt.decide(&input(8, &m)), 3);
        // Low again right after the scale-in: 15 new minutes are needed.
        let m = minutes(15, &[10.0; 5], 3);
        assert_eq!(tt.decide(&input(3, &m)), 3);
    }

    #[test]
    fn hpa_holds_within_the_tolerance() {
        let hpa = Hpa::new(65.0);
        let at = |cpu: f64| MinuteSample {
            minute: 0,
            cpu: Some(cpu),
            serving: 10,
            warm: 10,
        };
        // 71 / 65 = 1.09: within 0.1 of 1.
        assert_eq!(hpa.recommend(10, &at(71.0)), 10);
        // 73 / 65 = 1.12: ceil(10 × 1.12) = 12.
        assert_eq!(hpa.recommend(10, &at(73.0)), 12);
        // 58 / 65 = 0.89: ceil(10 × 0.89) = 9.
        assert_eq!(hpa.recommend(10, &at(58.0)), 9);
    }

    #[test]
    fn hpa_counts_unready_pods_as_idle_on_a_scale_up() {
        let hpa = Hpa::new(65.0);
        // 4 serving of 6 at 100 %: 4 × 100 / 6 / 65 = 1.03, within the tolerance once the two
        // launching pods count at 0 %.
        let sample = MinuteSample {
            minute: 0,
            cpu: Some(100.0),
            serving: 4,
            warm: 4,
        };
        assert_eq!(hpa.recommend(6, &sample), 6);
        // 4 serving of 5 at 100 %: 1.23 → ceil(5 × 1.23) = 7.
        assert_eq!(hpa.recommend(5, &sample), 7);
    }

    #[test]
    fn hpa_sets_unready_pods_aside_on_a_scale_down() {
        let hpa = Hpa::new(65.0);
        // 10 serving of 16 at 26 %: ceil(10 × 0.4) = 4, the launching six left out.
        let sample = MinuteSample {
            minute: 0,
            cpu: Some(26.0),
            serving: 10,
            warm: 10,
        };
        assert_eq!(hpa.recommend(16, &sample), 4);
    }

    #[test]
    fn hpa_stabilization_holds_the_highest_recommendation_of_five_minutes() {
        let mut hpa = Hpa::new(65.0);
        // 10 pods: the first minute needs 10 (65 %), then 4 (26 %).
        let m = minutes(0, &[65.0, 26.0, 26.0, 26.0, 26.0], 10);
        assert_eq!(hpa.decide(&input(10, &m)), 10);
        // Five minutes later the 10 has left the window: down to the highest of the last five.
        let m = minutes(5, &[26.0, 26.0, 39.0, 26.0, 26.0], 10);
        assert_eq!(hpa.decide(&input(10, &m)), 6);
    }

    #[test]
    fn hpa_scale_down_window_is_three_hundred_seconds() {
        let mut hpa = Hpa::new(65.0);
        let m = minutes(0, &[65.0; 5], 10);
        assert_eq!(hpa.decide(&input(10, &m)), 10);
        // Minute 4's recommendation (10) is 5 minutes old at minute 9: out of the window.
        let m = minutes(5, &[26.0; 5], 10);
        assert_eq!(hpa.decide(&input(10, &m)), 4);
    }

    #[test]
    fn hpa_scales_up_by_the_larger_of_double_and_four() {
        let mut hpa = Hpa::new(65.0);
        let m = minutes(0, &[100.0; 5], 2);
        // ceil(2 × 100 / 65) = 4: within +4.
        assert_eq!(hpa.decide(&input(2, &m)), 4);
        // Demand far above: 2 → 6 (+4 beats ×2).
        let mut hpa = Hpa::new(10.0);
        assert_eq!(hpa.decide(&input(2, &m)), 6);
        // 10 → 20 (×2 beats +4).
        let m = minutes(0, &[100.0; 5], 10);
        let mut hpa = Hpa::new(10.0);
        assert_eq!(hpa.decide(&input(10, &m)), 20);
    }
}
