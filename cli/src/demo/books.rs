//! The books: what the gateways hold (the emulators' own state, standing in for their admin
//! screens) and what the journal holds, read for the operator's comparisons and the closing
//! tables.

use super::table::yen;
use super::{Day, FREGI_SHOP, Gw, OPERATOR};
use anyhow::Context as _;
use renkei_emulator_fregi::{Status as FregiStatus, Transaction as FregiTransaction};
use renkei_emulator_gmopg::Status as GmoStatus;
use renkei_emulator_sbps::PaymentStatus;
use renkei_host::journal::{DriftRecord, OrderRecord, StoredOutcome};
use renkei_host::shop::DriftEvent;
use renkei_sdk::{Money, OrderRef, PaymentState, TransactionRef};
use std::collections::{BTreeMap, BTreeSet};

/// Money totals of one gateway, as the journal or the emulator sees them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Totals {
    /// Authorizations still held (authorized, neither captured nor voided).
    pub(super) authorized: i64,
    pub(super) captured: i64,
    pub(super) refunded: i64,
}

impl Totals {
    pub(super) fn add(&mut self, other: Totals) {
        self.authorized += other.authorized;
        self.captured += other.captured;
        self.refunded += other.refunded;
    }
}

impl Day {
    /// One transaction on F-REGI's admin screen, searched by the SEQNO of a reference: the
    /// emulator's own state stands in for the screen (only the shop's own transactions show).
    pub(super) fn fregi_screen(&self, reference: &str) -> Option<FregiTransaction> {
        self.fregi
            .transaction(fregi_seqno(reference))
            .filter(|x| x.shop_id == FREGI_SHOP)
    }

    /// What the operator reports from F-REGI's admin screen: the status its label names (read
    /// through the plugin's status table, F-11), the transaction's amount and its SEQNO.
    pub(super) fn screen_outcome(&self, x: &FregiTransaction) -> Option<StoredOutcome> {
        let entry = self
            .shop
            .gateway(Gw::Fregi.id())
            .ok()?
            .manifest()
            .statuses
            .iter()
            .find(|s| s.label == x.status_label)?
            .clone();
        let amount = Money::jpy(i64::from(x.amount));
        let (authorized, captured, refunded) = match entry.state {
            PaymentState::Authorized => (Some(amount), None, None),
            PaymentState::Captured { .. } => (Some(amount), Some(amount), None),
            PaymentState::Refunded { .. } => (Some(amount), Some(amount), Some(amount)),
            _ => (None, None, None),
        };
        Some(StoredOutcome {
            state: entry.state,
            gateway_status: Some(entry.code),
            // The reference as the plugin keeps it: SEQNO and 承認番号, both on the screen.
            transaction: Some(TransactionRef::new(fregi_reference(x))),
            replaced: None,
            handle: None,
            authorization_code: (!x.authcode.is_empty()).then(|| x.authcode.clone()),
            authorized,
            captured,
            refunded,
            notes: vec![format!("read on F-REGI's admin screen by {OPERATOR}")],
        })
    }

    /// The day's orders on `gw`, each with its payment as the journal records it.
    pub(super) async fn payments(
        &self,
        gw: Gw,
    ) -> anyhow::Result<Vec<(OrderRef, Option<OrderRecord>)>> {
        let orders: Vec<OrderRef> = self
            .rows
            .keys()
            .filter(|(g, _)| *g == gw)
            .map(|(_, o)| o.clone())
            .collect();
        let mut payments = Vec::with_capacity(orders.len());
        for order in orders {
            let payment = self
                .shop
                .payment(&order)
                .await
                .with_context(|| format!("reading the payment of {order}"))?;
            payments.push((order, payment));
        }
        Ok(payments)
    }

    /// The F-REGI orders of the day that hold a transaction, with the journal's SEQNO.
    pub(super) async fn fregi_transactions(
        &self,
    ) -> anyhow::Result<Vec<(OrderRef, TransactionRef)>> {
        Ok(self
            .payments(Gw::Fregi)
            .await?
            .into_iter()
            .filter_map(|(order, payment)| Some((order, payment?.transaction?)))
            .collect())
    }

    pub(super) fn gateway_of(&self, order: &OrderRef) -> Option<Gw> {
        Gw::ALL
            .into_iter()
            .find(|&gw| self.rows.contains_key(&(gw, order.clone())))
    }

    /// The emulator's own book of one gateway, per transaction (the key the emulator uses:
    /// SBPS's tracking id, F-REGI's zero-padded `SEQNO`), the shop's transactions only.
    pub(super) fn book(&self, gw: Gw) -> BTreeMap<String, Totals> {
        match gw {
            Gw::Sbps => self
                .sbps
                .dump()
                .payments
                .iter()
                .map(|p| {
                    let t = Totals {
                        authorized: if p.payment_status == PaymentStatus::Authorized {
                            i64::from(p.authorized_amount)
                        } else {
                            0
                        },
                        captured: i64::from(p.captured_amount),
                        refunded: i64::from(p.refunded_total),
                    };
                    (p.tracking_id.clone(), t)
                })
                .collect(),
            Gw::Fregi => self
                .fregi
                .transactions()
                .iter()
                .filter(|x| x.shop_id == FREGI_SHOP)
                .map(|x| {
                    let amount = i64::from(x.amount);
                    let sold = x.status.is_sold() || x.status.is_sale_cancelled();
                    let t = Totals {
                        authorized: if x.status == FregiStatus::Authorized {
                            amount
                        } else {
                            0
                        },
                        captured: if sold { amount } else { 0 },
                        refunded: if x.status.is_sale_cancelled() {
                            amount
                        } else {
                            0
                        },
                    };
                    (x.seqno.clone(), t)
                })
                .collect(),
            // Keyed by OrderID, the plugin's reference. A cancelled sale keeps what it
            // captured (`captured_amount`); a ChangeTran on a sale lowered `amount` below it.
            Gw::Gmopg => self
                .gmopg
                .transactions()
                .iter()
                .map(|x| {
                    let amount = x.amount as i64;
                    let captured = x.captured_amount.map_or(0, |c| c as i64);
                    let t = match x.status {
                        GmoStatus::Auth | GmoStatus::Sauth => Totals {
                            authorized: amount,
                            captured: 0,
                            refunded: 0,
                        },
                        GmoStatus::Sales | GmoStatus::Capture => Totals {
                            authorized: 0,
                            captured,
                            refunded: captured - amount,
                        },
                        GmoStatus::Void | GmoStatus::Return | GmoStatus::Returnx => Totals {
                            authorized: 0,
                            captured,
                            refunded: captured,
                        },
                        GmoStatus::Unprocessed | GmoStatus::Authenticated | GmoStatus::Check => {
                            Totals {
                                authorized: 0,
                                captured: 0,
                                refunded: 0,
                            }
                        }
                    };
                    (x.order_id.clone(), t)
                })
                .collect(),
        }
    }

    /// The orders of one gateway with drift, and what the gateway shows on each: the status
    /// labels of its drift events (reconcile's and those kept open in the journal), or their
    /// kinds where the event names no status of the gateway's table ("already done").
    pub(super) fn drifted(
        &self,
        gw: Gw,
        drift: &[DriftEvent],
        kept: &[DriftRecord],
    ) -> BTreeMap<String, String> {
        let mut seen: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
        for d in drift.iter().filter(|d| d.gateway == gw.id()) {
            let (labels, kinds) = seen.entry(d.order.to_string()).or_default();
            match &d.gateway_label {
                Some(l) => labels.insert(l.clone()),
                None => kinds.insert(d.kind.name().to_owned()),
            };
        }
        for d in kept.iter().filter(|d| d.gateway == gw.id()) {
            let (labels, kinds) = seen.entry(d.order.to_string()).or_default();
            match d.gateway_status.as_deref().and_then(|c| self.label(gw, c)) {
                Some(l) => labels.insert(l),
                None => kinds.insert(d.kind.clone()),
            };
        }
        seen.into_iter()
            .map(|(order, (labels, kinds))| {
                let shown = if labels.is_empty() { kinds } else { labels };
                (order, shown.into_iter().collect::<Vec<_>>().join(", "))
            })
            .collect()
    }

    pub(super) fn label(&self, gw: Gw, code: &str) -> Option<String> {
        self.shop
            .gateway(gw.id())
            .ok()?
            .manifest()
            .statuses
            .iter()
            .find(|s| s.code == code)
            .map(|s| s.label.clone())
    }
}

/// One transaction as F-REGI's admin screen lists it.
pub(super) fn screen_line(x: &FregiTransaction) -> String {
    format!(
        "SEQNO {}  ID {}  {}  {}",
        x.seqno,
        x.id,
        x.status_label,
        yen(i64::from(x.amount))
    )
}

/// The emulator's key for a transaction reference (F-REGI `SEQNO`s are compared as numbers;
/// the plugin's reference is `SEQNO-AUTHCODE`).
pub(super) fn normalize(gw: Gw, t: &str) -> String {
    match gw {
        Gw::Sbps | Gw::Gmopg => t.to_owned(),
        Gw::Fregi => fregi_seqno(t)
            .parse::<u64>()
            .map(|n| format!("{n:020}"))
            .unwrap_or_else(|_| t.to_owned()),
    }
}

/// The `SEQNO` of the F-REGI plugin's reference (`SEQNO-AUTHCODE`, or a legacy bare `SEQNO`):
/// what F-REGI's admin screen is searched by.
pub(super) fn fregi_seqno(reference: &str) -> &str {
    reference
        .split_once('-')
        .map_or(reference, |(seqno, _)| seqno)
}

/// The F-REGI plugin's reference for a transaction on the admin screen: `SEQNO-AUTHCODE`, the
/// SEQNO alone when there is no 承認番号.
pub(super) fn fregi_reference(x: &FregiTransaction) -> String {
    if x.authcode.is_empty() {
        x.seqno.clone()
    } else {
        format!("{}-{}", x.seqno, x.authcode)
    }
}
