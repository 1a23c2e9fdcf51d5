//! The simulator's own model of each order: what the shop must show after the actions that
//! succeeded, and what the order ever asked for. Written from the rules (G-2, G-6, G-7…), not
//! from the host's ledger, so that a mistake in the host is not copied into its judge.

use crate::Gw;

/// One order as the simulator expects it.
#[derive(Clone, Debug)]
pub struct ModelOrder {
    pub id: String,
    pub gw: Gw,
    /// The amount due the shop must show.
    pub due: i64,
    /// The most this order ever asked the gateway for (authorizations, amount changes, the
    /// gateway tool's captures): the gateway may never hold more.
    pub max_amount: i64,
    /// Whether the shop must show a payment date.
    pub paid: bool,
    /// Paid by card (not switched to another method or "no payment needed").
    pub card: bool,
    /// Cancelled, returned, uncollectible or deleted.
    pub closed: bool,
    pub pre_order: bool,
    /// The model cannot know the shop's state (an outcome under review, a crash, two actions
    /// at once): the shop's own record is taken as the model's until it is settled.
    pub uncertain: bool,
    /// The gateway's own tool acted on the order and the host has not looked since: the
    /// journal may differ from the gateway without being wrong (G-8), until the host looks.
    pub tool_unseen: bool,
    /// The gateway's own tool ever acted on the order: the only outside cause of drift.
    pub tool_touched: bool,
    /// The tool's last action is one no inquiry can show (SBPS reports 返金済 without
    /// amounts, S-3: the rest refunded after a partial refund looks the same): only the
    /// operator, reading the screen, can tell the host.
    pub tool_invisible: bool,
    /// An operation under review took effect in part (F-REGI's authchange before a sale whose
    /// outcome is unknown): the operator settles the review as "no effect" and reports the rest
    /// from the screen as drift, as the review's evidence tells them to.
    pub partial_effect: bool,
    /// A "captured ≠ due" warning was given since the amount or the capture last changed.
    pub flagged_due: bool,
    /// What happened to the order, for a violation's report.
    pub history: Vec<String>,
}

impl ModelOrder {
    pub fn new(id: String, gw: Gw, due: i64) -> ModelOrder {
        ModelOrder {
            id,
            gw,
            due,
            max_amount: due,
            paid: false,
            card: true,
            closed: false,
            pre_order: false,
            uncertain: false,
            tool_unseen: false,
            tool_touched: false,
            tool_invisible: false,
            partial_effect: false,
            flagged_due: false,
            history: Vec::new(),
        }
    }

    pub fn note(&mut self, step: u64, line: impl Into<String>) {
        self.history
            .push(format!("step {step:>5}: {}", line.into()));
    }

    /// The host looked at the gateway (an inquiry, or an operation that reads first).
    pub fn host_looked(&mut self) {
        if !self.tool_invisible {
            self.tool_unseen = false;
        }
    }

    pub fn asks(&mut self, amount: i64) {
        self.max_amount = self.max_amount.max(amount);
    }
}
