//! Every sentence a decision's `explanation` can be, built here and nowhere else, so the
//! wording stays one voice across the policies and the holds decided after them.

use super::{Reason, SignalReport};

/// The `default` policy's: what happens, then every reason in order, e.g.
/// "Scaling out from 4 to 6: cpu 90.0% against a target of 65.0% proposes 6."
/// A hold where every signal sits within tolerance says just that.
pub(super) fn proportional(
    from: u32,
    to: u32,
    reasons: &[Reason],
    signals: &[SignalReport],
) -> String {
    let details = details(reasons);
    let all_within_tolerance = !signals.is_empty() && signals.iter().all(|s| s.within_tolerance);
    if to == from && !details.is_empty() && all_within_tolerance {
        return sentence(
            from,
            to,
            &["every signal is within tolerance of its target"],
        );
    }
    sentence(from, to, &details)
}

/// The `original` policy's, as the original tool wrote it: a step lists every reason
/// ("2 → 3: average CPU 75.0% is above 70%."), a hold only the last.
pub(super) fn original(from: u32, to: u32, reasons: &[Reason]) -> String {
    if to == from {
        let last = reasons.last().map_or("", |r| r.detail.as_str());
        format!("Holding at {to}: {last}.")
    } else {
        format!("{from} → {to}: {}.", details(reasons).join("; "))
    }
}

/// A decision that holds at `at` for one reason: "Holding at 3: the group is paused."
pub(super) fn hold(at: u32, detail: &str) -> String {
    sentence(at, at, &[detail])
}

/// A decision to change, turned into a hold after the fact:
/// "Would go from 2 to 4, but holding: another run updated the policy state."
pub(super) fn held_back(from: u32, to: u32, detail: &str) -> String {
    format!("Would go from {from} to {to}, but holding: {detail}.")
}

/// "Scaling out from 2 to 4", "Scaling in from 4 to 3" or "Holding at 4", then the details
/// separated by semicolons, as one sentence.
fn sentence(from: u32, to: u32, details: &[&str]) -> String {
    let head = match to.cmp(&from) {
        std::cmp::Ordering::Greater => format!("Scaling out from {from} to {to}"),
        std::cmp::Ordering::Less => format!("Scaling in from {from} to {to}"),
        std::cmp::Ordering::Equal => format!("Holding at {to}"),
    };
    if details.is_empty() {
        format!("{head}.")
    } else {
        format!("{head}: {}.", details.join("; "))
    }
}

fn details(reasons: &[Reason]) -> Vec<&str> {
    reasons.iter().map(|r| r.detail.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::{Rule, Signal};

    fn reasons(details: &[&str]) -> Vec<Reason> {
        details
            .iter()
            .map(|d| Reason::new(Rule::Proposal, *d))
            .collect()
    }

    fn report(within_tolerance: bool) -> SignalReport {
        SignalReport {
            signal: Signal::Cpu,
            value: 60.0,
            target: 65.0,
            basis: 4,
            proposal: 4,
            within_tolerance,
        }
    }

    #[test]
    fn every_shape_of_explanation() {
        let two = reasons(&["a", "b"]);
        let cases: Vec<(&str, String, &str)> = vec![
            (
                "proportional out",
                proportional(2, 4, &two, &[report(false)]),
                "Scaling out from 2 to 4: a; b.",
            ),
            (
                "proportional in",
                proportional(4, 3, &two, &[]),
                "Scaling in from 4 to 3: a; b.",
            ),
            (
                "proportional hold",
                proportional(4, 4, &two, &[report(false), report(true)]),
                "Holding at 4: a; b.",
            ),
            (
                "proportional hold within tolerance",
                proportional(4, 4, &two, &[report(true)]),
                "Holding at 4: every signal is within tolerance of its target.",
            ),
            (
                "within tolerance does not hide a change",
                proportional(4, 5, &two, &[report(true)]),
                "Scaling out from 4 to 5: a; b.",
            ),
            (
                "proportional without reasons",
                proportional(4, 4, &[], &[report(true)]),
                "Holding at 4.",
            ),
            ("original step", original(2, 3, &two), "2 → 3: a; b."),
            ("original hold", original(3, 3, &two), "Holding at 3: b."),
            ("hold", hold(3, "paused"), "Holding at 3: paused."),
            (
                "held back",
                held_back(2, 4, "conflict"),
                "Would go from 2 to 4, but holding: conflict.",
            ),
        ];
        for (name, got, want) in cases {
            assert_eq!(got, want, "{name}");
        }
    }
}
