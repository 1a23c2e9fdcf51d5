//! The gateways' books, read from the emulators as an operator reads the gateway's screen, and
//! the same money as the journal states it.
//!
//! Money is compared as two numbers per order: the authorization still open (not captured, not
//! cancelled) and the net captured (captured less refunded). Both gateways and the journal can
//! state them however the transactions were chained (F-REGI's amount changes replace one
//! `SEQNO` by another; SBPS re-authorizes under a new tracking id).

use crate::Gw;
use renkei_emulator_fregi::{FregiEmulator, Status};
use renkei_emulator_gmopg::{GmopgEmulator, Status as GmoStatus};
use renkei_emulator_sbps::{PaymentStatus, SbpsEmulator};
use renkei_host::journal::OrderRecord;
use renkei_sdk::PaymentState;
use serde::Serialize;

/// One order's money at the gateway.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Book {
    /// Authorized and not yet captured or cancelled.
    pub open_auth: i64,
    /// Captured less refunded.
    pub net_captured: i64,
    /// Captured in all (before refunds).
    pub captured: i64,
    pub refunded: i64,
    /// Transactions that hold money or an authorization. More than one means the order was
    /// charged twice.
    pub live: usize,
    /// The gateway's reference of the newest transaction (SBPS tracking id, F-REGI SEQNO).
    pub newest: Option<String>,
    /// The newest transaction's `AUTHCODE` (F-REGI).
    pub newest_authcode: Option<String>,
    /// Transactions of the order, of any state.
    pub transactions: usize,
    /// The references of its open authorizations, oldest first.
    pub open_authorizations: Vec<String>,
}

impl Book {
    /// The two numbers compared with the journal.
    pub fn money(&self) -> (i64, i64) {
        (self.open_auth, self.net_captured)
    }
}

/// The money the journal states for an order, as (open authorization, net captured); `None`
/// when the journal's state cannot say (an unknown state).
pub fn journal_money(r: &OrderRecord) -> Option<(i64, i64)> {
    let net = r.captured.minor_units - r.refunded.minor_units;
    Some(match &r.state {
        PaymentState::AwaitingAuthorization
        | PaymentState::Registered
        | PaymentState::Verified
        | PaymentState::AuthorizationFailed
        | PaymentState::Voided => (0, 0),
        PaymentState::Authorized | PaymentState::CaptureFailed => (r.authorized.minor_units, 0),
        PaymentState::Captured { .. } | PaymentState::Refunded { .. } => (0, net),
        PaymentState::Unknown { .. } => return None,
    })
}

/// SBPS: the payments whose `order_id` is the order code followed by an attempt tag (12 hex).
pub fn sbps(emulator: &SbpsEmulator, order: &str) -> Book {
    let mut book = Book::default();
    for p in emulator.dump().payments {
        let attempt_tag = p.order_id.strip_prefix(order);
        if !attempt_tag.is_some_and(|t| t.len() == 12 && t.bytes().all(|b| b.is_ascii_hexdigit())) {
            continue;
        }
        book.transactions += 1;
        let (captured, refunded) = (p.captured_amount as i64, p.refunded_total as i64);
        match p.payment_status {
            PaymentStatus::Authorized => {
                book.open_auth += p.authorized_amount as i64;
                book.live += 1;
                book.open_authorizations.push(p.tracking_id.clone());
            }
            PaymentStatus::Sold | PaymentStatus::Refunded => {
                book.captured += captured;
                book.refunded += refunded;
                book.net_captured += captured - refunded;
                if captured > refunded {
                    book.live += 1;
                }
            }
            PaymentStatus::Cancelled => {}
        }
        if book.newest.as_ref().is_none_or(|t| p.tracking_id > *t) {
            book.newest = Some(p.tracking_id.clone());
        }
    }
    book.open_authorizations.sort();
    book
}

/// F-REGI: the transactions whose `ID` (伝票番号) is the order code.
pub fn fregi(emulator: &FregiEmulator, order: &str) -> Book {
    let mut book = Book::default();
    let mut txns: Vec<_> = emulator
        .transactions()
        .into_iter()
        .filter(|t| t.id == order)
        .collect();
    txns.sort_by(|a, b| a.seqno.cmp(&b.seqno));
    // The first sale of the chain is what was captured; what it was cut to since is refunded.
    let mut first_sale = None;
    for t in &txns {
        book.transactions += 1;
        if t.sold_at.is_some() && first_sale.is_none() {
            first_sale = Some(t.amount as i64);
        }
        match t.status {
            Status::Authorized => {
                book.open_auth += t.amount as i64;
                book.live += 1;
                book.open_authorizations.push(t.seqno.clone());
            }
            Status::SoldPending | Status::SoldTransmitted => {
                book.net_captured += t.amount as i64;
                book.live += 1;
            }
            _ => {}
        }
    }
    book.captured = first_sale.unwrap_or(0).max(book.net_captured);
    book.refunded = book.captured - book.net_captured;
    if let Some(t) = txns.last() {
        book.newest = Some(t.seqno.clone());
        book.newest_authcode = Some(t.authcode.clone());
    }
    book
}

/// GMO-PG: the transactions whose `OrderID` is the order code followed by an attempt tag (12
/// hex), as the host issues them (`OrderIdRules::attempt_id`). A cancelled sale keeps its
/// captured amount in `captured_amount`; a `ChangeTran CAPTURE` lowers `amount` below it.
///
/// `newest` is what an operator reading GMO-PG's screen names as the payment: the newest
/// transaction that was executed, not a registration an attempt left behind when its card was
/// declined (`UNPROCESSED`). The emulator lists transactions in the order they were entered;
/// `EntryTran` times are whole seconds, so a declined attempt and the retry that authorized
/// often share one, and only that order tells them apart (simulation seed 43004: an operator
/// named the declined attempt's registration, and every later capture was refused).
pub fn gmopg(emulator: &GmopgEmulator, order: &str) -> Book {
    let mut book = Book::default();
    let txns: Vec<_> = emulator
        .transactions()
        .into_iter()
        .filter(|t| {
            t.order_id
                .strip_prefix(order)
                .is_some_and(|tag| tag.len() == 12 && tag.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .collect();
    let mut newest_executed = None;
    for t in &txns {
        book.transactions += 1;
        let amount = t.amount as i64;
        match t.status {
            GmoStatus::Auth | GmoStatus::Sauth => {
                book.open_auth += amount;
                book.live += 1;
                book.open_authorizations.push(t.order_id.clone());
            }
            GmoStatus::Sales | GmoStatus::Capture => {
                let captured = t.captured_amount.map_or(amount, |c| c as i64);
                book.captured += captured;
                book.refunded += captured - amount;
                book.net_captured += amount;
                if amount > 0 {
                    book.live += 1;
                }
            }
            GmoStatus::Void | GmoStatus::Return | GmoStatus::Returnx => {
                if let Some(captured) = t.captured_amount {
                    book.captured += captured as i64;
                    book.refunded += captured as i64;
                }
            }
            GmoStatus::Unprocessed | GmoStatus::Authenticated | GmoStatus::Check => continue,
        }
        newest_executed = Some(t.order_id.clone());
    }
    book.newest = newest_executed.or_else(|| txns.last().map(|t| t.order_id.clone()));
    book
}

/// The order's book at `gw`.
pub fn read(rig: &crate::rig::Rig, gw: Gw, order: &str) -> Book {
    match gw {
        Gw::Sbps => rig
            .sbps
            .as_ref()
            .map(|e| sbps(e, order))
            .unwrap_or_default(),
        Gw::Fregi => rig
            .fregi
            .as_ref()
            .map(|e| fregi(e, order))
            .unwrap_or_default(),
        Gw::Gmopg => rig
            .gmopg
            .as_ref()
            .map(|e| gmopg(e, order))
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use renkei_emulator_gmopg::{Config, DEFAULT_SHOP_ID, DEFAULT_SHOP_PASS, TEST_TOKEN_OK};

    async fn post(url: String, body: String) -> String {
        reqwest::Client::new()
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    fn field<'a>(reply: &'a str, key: &str) -> &'a str {
        reply
            .split('&')
            .find_map(|p| p.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {key} in {reply}"))
    }

    /// Simulation seed 43004: a checkout's first attempt was declined (its `EntryTran` stays
    /// `UNPROCESSED`), the retry authorized in the same second, and the operator's decision named
    /// the first attempt's registration as the payment, so every later capture was refused
    /// (`E11010002`) and reconcile reported drift no tool made. The book names the executed one.
    #[tokio::test]
    async fn the_gmopg_payment_is_the_executed_transaction_not_a_declined_attempts_registration() {
        let e = GmopgEmulator::start(Config::default()).await.unwrap();
        let base = e.endpoint_url();
        let shop = format!("ShopID={DEFAULT_SHOP_ID}&ShopPass={DEFAULT_SHOP_PASS}");
        // Attempt tags chosen so that the declined attempt's id sorts after the retry's.
        let (declined, authorized) = ("Q1ffffffffffff", "Q1000000000000");
        for order in [declined, authorized] {
            let r = post(
                format!("{base}EntryTran.idPass"),
                format!("{shop}&OrderID={order}&JobCd=AUTH&Amount=100"),
            )
            .await;
            assert!(r.starts_with("AccessID="), "{r}");
            if order == authorized {
                let (id, pass) = (field(&r, "AccessID"), field(&r, "AccessPass"));
                let r = post(
                    format!("{base}ExecTran.idPass"),
                    format!(
                        "{shop}&AccessID={id}&AccessPass={pass}&OrderID={order}&Method=1&Token={TEST_TOKEN_OK}"
                    ),
                )
                .await;
                assert!(r.starts_with("ACS=0"), "{r}");
            }
        }
        let book = gmopg(&e, "Q1");
        assert_eq!(book.newest.as_deref(), Some(authorized), "{book:?}");
        assert_eq!((book.open_auth, book.live, book.transactions), (100, 1, 2));
        e.shutdown().await;
    }
}
