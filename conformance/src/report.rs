//! The suite's findings: one [`CheckResult`] per check id, as text for people and JSON for
//! machines.

use serde::Serialize;
use std::fmt::Write as _;

/// Evidence lines kept per check.
pub const MAX_EVIDENCE: usize = 10;

/// How a check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// Not applicable to this plugin (the manifest does not declare what it tests), or not
    /// runnable because an earlier step failed; `reason` says which.
    Skip,
}

/// The result of one check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// Stable id (`status.unknown-code`, `robustness.capture.truncated`…), documented in the
    /// crate docs and the README.
    pub id: String,
    /// A failure of a required check fails the certification; advisory checks only warn.
    pub required: bool,
    pub verdict: Verdict,
    /// Why a check was skipped, or a one-line summary of a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the plugin did that made the check fail: the operation, the input, the answer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
}

impl CheckResult {
    /// A pass of `id`, required unless the [`registry`](crate::registry) says it is advisory.
    pub fn pass(id: impl Into<String>) -> CheckResult {
        let id = id.into();
        CheckResult {
            required: crate::registry::lookup(&id).is_none_or(|e| e.required),
            id,
            verdict: Verdict::Pass,
            reason: None,
            evidence: Vec::new(),
        }
    }

    pub fn skip(id: impl Into<String>, reason: impl Into<String>) -> CheckResult {
        CheckResult {
            verdict: Verdict::Skip,
            reason: Some(reason.into()),
            ..CheckResult::pass(id)
        }
    }

    /// Passes when `evidence` is empty, fails with it otherwise. A defect usually shows on
    /// every call; the first [`MAX_EVIDENCE`] occurrences are kept and the rest counted.
    pub fn from_evidence(id: impl Into<String>, mut evidence: Vec<String>) -> CheckResult {
        let mut r = CheckResult::pass(id);
        if !evidence.is_empty() {
            if evidence.len() > MAX_EVIDENCE {
                let more = evidence.len() - MAX_EVIDENCE;
                evidence.truncate(MAX_EVIDENCE);
                evidence.push(format!("… and {more} more of the same kind"));
            }
            r.verdict = Verdict::Fail;
            r.evidence = evidence;
        }
        r
    }

    pub fn advisory(mut self) -> CheckResult {
        self.required = false;
        self
    }
}

/// Everything one run found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The plugin file as given.
    pub plugin: String,
    /// The manifest's gateway id and version, when the host could load the plugin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin_version: Option<String>,
    /// Where the dynamic checks ran: an emulator's name or the endpoint URL.
    pub target: String,
    /// True when no required check failed.
    pub certified: bool,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub checks: Vec<CheckResult>,
}

impl Report {
    pub fn new(plugin: String, target: String, checks: Vec<CheckResult>) -> Report {
        let count = |v| checks.iter().filter(|c| c.verdict == v).count();
        Report {
            plugin,
            gateway_id: None,
            plugin_version: None,
            target,
            certified: !checks
                .iter()
                .any(|c| c.required && c.verdict == Verdict::Fail),
            passed: count(Verdict::Pass),
            failed: count(Verdict::Fail),
            skipped: count(Verdict::Skip),
            checks,
        }
    }

    /// The result of check `id`, if the run has one.
    pub fn check(&self, id: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// Ids of the checks that failed.
    pub fn failed_ids(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|c| c.verdict == Verdict::Fail)
            .map(|c| c.id.as_str())
            .collect()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serialises")
    }

    /// The readable report: one line per check, evidence indented under failures.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let who = match (&self.gateway_id, &self.plugin_version) {
            (Some(id), Some(v)) => format!("{id} {v} ({})", self.plugin),
            _ => self.plugin.clone(),
        };
        let _ = writeln!(out, "Conformance of {who} against {}", self.target);
        for c in &self.checks {
            let mark = match (c.verdict, c.required) {
                (Verdict::Pass, _) => "PASS",
                (Verdict::Fail, true) => "FAIL",
                (Verdict::Fail, false) => "WARN",
                (Verdict::Skip, _) => "SKIP",
            };
            let _ = write!(out, "  {mark}  {}", c.id);
            if let Some(reason) = &c.reason {
                let _ = write!(out, ": {reason}");
            }
            out.push('\n');
            for e in &c.evidence {
                let _ = writeln!(out, "          - {e}");
            }
        }
        let _ = writeln!(
            out,
            "{} passed, {} failed, {} skipped: {}",
            self.passed,
            self.failed,
            self.skipped,
            if self.certified {
                "CERTIFIED"
            } else {
                "NOT CERTIFIED"
            }
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_required_check_denies_certification_and_an_advisory_one_does_not() {
        let advisory = CheckResult::from_evidence("a", vec!["x".into()]).advisory();
        let ok = Report::new("p".into(), "t".into(), vec![advisory.clone()]);
        assert!(ok.certified);
        assert_eq!(ok.failed_ids(), ["a"]);
        let required = CheckResult::from_evidence("b", vec!["y".into()]);
        let bad = Report::new("p".into(), "t".into(), vec![advisory, required]);
        assert!(!bad.certified);
        assert!(bad.to_text().contains("FAIL  b"), "{}", bad.to_text());
        let json: serde_json::Value = serde_json::from_str(&bad.to_json()).unwrap();
        assert_eq!(json["checks"][1]["verdict"], "fail");
        assert_eq!(json["checks"][1]["evidence"][0], "y");
    }
}
