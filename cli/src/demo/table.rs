//! The table: the closing table of each gateway with its totals, and the text of each cell.

use super::books::{Totals, normalize};
use super::{Day, Gw};
use renkei_host::Resolution;
use renkei_host::journal::DriftRecord;
use renkei_host::shop::{DriftEvent, GatewayOp};
use renkei_sdk::{OrderRef, PaymentState};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use unicode_width::UnicodeWidthStr as _;

impl Day {
    /// The closing table of one gateway, and its totals checked against the emulator's book.
    ///
    /// A difference between the journal and the gateway is explained only by a drift event:
    /// one reconcile reported, or one kept open in the journal (`kept`, from [`Shop::drifts`]).
    pub(super) async fn table(
        &mut self,
        gw: Gw,
        drift: &[DriftEvent],
        kept: &[DriftRecord],
    ) -> anyhow::Result<()> {
        let drifted = self.drifted(gw, drift, kept);
        // The emulator's book, per transaction.
        let book = self.book(gw);
        let gateway_total = book.values().fold(Totals::default(), |mut a, t| {
            a.add(*t);
            a
        });

        let mut lines: Vec<[String; 5]> = Vec::new();
        let mut journal_total = Totals::default();
        let mut linked_total = Totals::default();
        let mut unexplained = Vec::new();
        let mut bulk_ok: Vec<(OrderRef, String, String, String)> = Vec::new();
        for (order, payment) in self.payments(gw).await? {
            let (label, state, mine, theirs) = match &payment {
                Some(p) => {
                    let label = p
                        .gateway_status
                        .as_deref()
                        .and_then(|code| self.label(gw, code))
                        .unwrap_or_else(|| "–".into());
                    let mine = Totals {
                        authorized: if p.state == PaymentState::Authorized {
                            p.authorized.minor_units
                        } else {
                            0
                        },
                        captured: p.captured.minor_units,
                        refunded: p.refunded.minor_units,
                    };
                    let theirs = p
                        .transaction
                        .as_ref()
                        .and_then(|t| book.get(normalize(gw, t.as_str()).as_str()).copied())
                        .unwrap_or_default();
                    (label, p.state.to_string(), mine, theirs)
                }
                None => (
                    "–".into(),
                    "no payment".into(),
                    Totals::default(),
                    Totals::default(),
                ),
            };
            journal_total.add(mine);
            linked_total.add(theirs);
            let drift = drifted.get(order.as_str());
            if mine != theirs && drift.is_none() {
                unexplained.push(format!(
                    "{order}: journal {mine:?}, {} {theirs:?}, and no drift event is open on it",
                    gw.title()
                ));
            }
            let state = match drift {
                Some(seen) => format!("{state} ⚠ drift: gateway {seen}"),
                None => state,
            };
            let row = &self.rows[&(gw, order.clone())];
            let is_bulk = order.as_str().starts_with("1000008");
            if is_bulk && drift.is_none() && row.ops.iter().all(|o| !o.contains("refused")) {
                bulk_ok.push((order, row.ops.join(", "), label, state));
                continue;
            }
            lines.push([
                order.to_string(),
                row.actions.join(" → "),
                if row.ops.is_empty() {
                    "nothing sent".into()
                } else {
                    row.ops.join(", ")
                },
                label,
                state,
            ]);
        }
        // The bulk orders that went through, grouped by what happened to them.
        let mut groups: BTreeMap<(String, String, String), Vec<OrderRef>> = BTreeMap::new();
        for (order, ops, label, state) in bulk_ok {
            groups.entry((ops, label, state)).or_default().push(order);
        }
        for ((ops, label, state), orders) in groups {
            lines.push([
                format!(
                    "{}…{} ({} orders)",
                    orders[0],
                    &orders[orders.len() - 1].as_str()[8..],
                    orders.len()
                ),
                "checkout → bulk record payment".into(),
                ops,
                label,
                state,
            ]);
        }
        lines.sort_by(|a, b| a[0].cmp(&b[0]));

        say!("");
        say!("{} at the end of the day", gw.title());
        print_table(
            [
                "order",
                "shop actions",
                "gateway operations sent",
                "gateway status",
                "unified state",
            ],
            &lines,
        );

        // Totals: the journal's against the emulator's own book.
        let unlinked = Totals {
            authorized: gateway_total.authorized - linked_total.authorized,
            captured: gateway_total.captured - linked_total.captured,
            refunded: gateway_total.refunded - linked_total.refunded,
        };
        say!("  totals        authorized (held)   captured    refunded");
        say!(
            "  journal       {:>17} {:>10} {:>11}",
            yen(journal_total.authorized),
            yen(journal_total.captured),
            yen(journal_total.refunded)
        );
        say!(
            "  {:<13} {:>17} {:>10} {:>11}   (the emulator's own state)",
            gw.title(),
            yen(gateway_total.authorized),
            yen(gateway_total.captured),
            yen(gateway_total.refunded)
        );
        let difference = Totals {
            authorized: gateway_total.authorized - journal_total.authorized,
            captured: gateway_total.captured - journal_total.captured,
            refunded: gateway_total.refunded - journal_total.refunded,
        };
        if difference == Totals::default() {
            say!("  ✓ the journal's totals equal {}'s", gw.title());
        } else {
            say!(
                "  difference    {:>17} {:>10} {:>11}   = the orders with drift events ({})",
                signed_yen(difference.authorized),
                signed_yen(difference.captured),
                signed_yen(difference.refunded),
                drifted.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        let money_outside = unlinked != Totals::default();
        self.check(
            !money_outside,
            format!(
                "{} holds money on transactions the journal does not know: {unlinked:?}",
                gw.title()
            ),
        );
        for u in unexplained {
            self.check(false, u);
        }
        if !money_outside && self.problems.is_empty() {
            say!(
                "  ✓ every yen of difference is on an order with a drift event; none outside the journal"
            );
        }
        Ok(())
    }
}

pub(super) fn op_text(op: &GatewayOp) -> String {
    let mut s = format!("{}[{}]", op.kind, op.steps.join("+"));
    if op.from_journal {
        s.push_str(" (from journal)");
    }
    match op.resolution {
        Some(Resolution::Inquiry) => s.push_str(" reply lost → settled by inquiry"),
        Some(Resolution::Replay) => s.push_str(" reply lost → settled by replay"),
        None => {}
    }
    s
}

pub(super) fn status_text(label: Option<&str>, state: Option<&PaymentState>) -> String {
    match (label, state) {
        (Some(l), Some(s)) => format!("{l} ({s})"),
        (None, Some(s)) => s.to_string(),
        (Some(l), None) => l.to_owned(),
        (None, None) => "no card payment".into(),
    }
}

pub(super) fn yen(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|g| std::str::from_utf8(g).unwrap_or("?"))
        .collect();
    format!("{}¥{}", if n < 0 { "-" } else { "" }, groups.join(","))
}

fn signed_yen(n: i64) -> String {
    if n > 0 {
        format!("+{}", yen(n))
    } else {
        yen(n)
    }
}

/// Columns padded to their display width: a Japanese status label takes two terminal columns a
/// character, which a `{:<w$}` count of `char`s would get wrong.
fn print_table(header: [&str; 5], rows: &[[String; 5]]) {
    let mut widths = header.map(|h| h.width());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut s = String::from(" ");
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let pad = w - cell.width();
            let _ = write!(s, " {cell}{}", " ".repeat(pad));
            if i < 4 {
                s.push_str(" │");
            }
        }
        s.trim_end().to_owned()
    };
    say!("{}", line(header));
    // Under each `│` of a row, a `┼`.
    let rule: Vec<String> = widths.iter().map(|w| "─".repeat(w + 2)).collect();
    say!(" {}", rule.join("┼"));
    for row in rows {
        say!("{}", line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yen_groups_thousands() {
        assert_eq!(yen(0), "¥0");
        assert_eq!(yen(1_000), "¥1,000");
        assert_eq!(yen(1_234_567), "¥1,234,567");
        assert_eq!(yen(-6_600), "-¥6,600");
        assert_eq!(signed_yen(6_600), "+¥6,600");
    }

    #[test]
    fn japanese_labels_take_two_columns() {
        assert_eq!("売上済".width(), 6);
        assert_eq!("売上済(未伝送)".width(), 14);
        assert_eq!("captured".width(), 8);
    }
}
