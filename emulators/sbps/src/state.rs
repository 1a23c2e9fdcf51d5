//! Stored state (§10.4): payments keyed by `tracking_id`, the index by the authorization's
//! `sps_transaction_id`, used order ids, stored cards, tokens and the id counters.
//!
//! All of it sits behind one mutex in the server, taken for the few microseconds a transition
//! needs and never across an await, so every request sees and leaves a consistent state and
//! two requests can never both move one payment.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::cards::{Brand, Card};
use crate::codes::{ErrorReason, reasons};
use crate::config::{Config, MerchantConfig, RefundAfterPartial, Rules, TestToken};
use crate::function::Function;
use crate::time::JstDateTime;

/// `payment_status` of MG01 (§6.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum PaymentStatus {
    /// 1 与信済: authorized.
    Authorized,
    /// 2 売上済: sold.
    Sold,
    /// 3 与信取消済: authorization cancelled.
    Cancelled,
    /// 4 返金済: refunded, in full or in part.
    Refunded,
}

impl PaymentStatus {
    /// The SBPS code.
    pub fn code(self) -> u8 {
        match self {
            PaymentStatus::Authorized => 1,
            PaymentStatus::Sold => 2,
            PaymentStatus::Cancelled => 3,
            PaymentStatus::Refunded => 4,
        }
    }
}

impl From<PaymentStatus> for u8 {
    fn from(value: PaymentStatus) -> Self {
        value.code()
    }
}

impl TryFrom<u8> for PaymentStatus {
    type Error = String;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        match value {
            1 => Ok(PaymentStatus::Authorized),
            2 => Ok(PaymentStatus::Sold),
            3 => Ok(PaymentStatus::Cancelled),
            4 => Ok(PaymentStatus::Refunded),
            other => Err(format!("unknown payment_status {other}")),
        }
    }
}

/// `commit_status` of MG01 (§6.8). A cancel or refund does not reset it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum CommitStatus {
    /// 0: not committed.
    Uncommitted,
    /// 1: committed.
    Committed,
}

impl From<CommitStatus> for u8 {
    fn from(value: CommitStatus) -> Self {
        match value {
            CommitStatus::Uncommitted => 0,
            CommitStatus::Committed => 1,
        }
    }
}

impl TryFrom<u8> for CommitStatus {
    type Error = String;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        match value {
            0 => Ok(CommitStatus::Uncommitted),
            1 => Ok(CommitStatus::Committed),
            other => Err(format!("unknown commit_status {other}")),
        }
    }
}

/// The card behind a payment, as far as a dump may show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardSummary {
    /// `************` + last four digits.
    pub masked_number: String,
    /// Digits in the full number (MG01 `response_info_type=1` masks all of them).
    pub number_length: usize,
    /// `YYYYMM`.
    pub expiration: String,
    /// Brand from the issuer prefix.
    pub brand: Brand,
}

/// Who changed a payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A request to the sps-api.
    Api,
    /// An action in SBPS's own management tool (rules G-8, S-3); the shop is not told.
    Admin,
}

/// One change to a payment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When it happened (emulator clock).
    pub at: JstDateTime,
    /// API request or admin tool.
    pub source: Source,
    /// Function id (`ST02-00201-101`) or admin action (`admin_capture`).
    pub operation: String,
    /// The `res_sps_transaction_id` of the reply, for API operations.
    pub sps_transaction_id: Option<String>,
    /// Amount moved, where the operation has one.
    pub amount: Option<u32>,
}

/// One payment as stored by the emulator (§10.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// Owning merchant.
    pub merchant_id: String,
    /// Owning service.
    pub service_id: String,
    /// 14-digit id of the payment.
    pub tracking_id: String,
    /// `sps_transaction_id` of the authorization reply.
    pub auth_sps_transaction_id: String,
    /// Function that created it.
    pub auth_function: String,
    /// Merchant's purchase id.
    pub order_id: String,
    /// Merchant's customer code.
    pub cust_code: String,
    /// Amount authorized (yen).
    pub authorized_amount: u32,
    /// Amount sold (0 until sales).
    pub captured_amount: u32,
    /// Sum of refunds.
    pub refunded_total: u32,
    /// 1..4.
    pub payment_status: PaymentStatus,
    /// 0/1.
    pub commit_status: CommitStatus,
    /// When it was authorized.
    pub auth_at: JstDateTime,
    /// Business date of the sale (midnight), once sold.
    pub sales_date: Option<JstDateTime>,
    /// The card.
    pub card: CardSummary,
    /// 10 lump sum, 21 bonus, 61 installments, 80 revolving.
    pub dealings_type: String,
    /// Installments, for dealings type 61.
    pub divide_times: Option<String>,
    /// Issuer code returned at authorization.
    pub cc_company_code: String,
    /// Approval number.
    pub recognized_no: String,
    /// The payment this one re-authorized, if any.
    pub reauthorization_of: Option<String>,
    /// Every change, oldest first.
    pub history: Vec<HistoryEntry>,
    #[serde(skip)]
    pub(crate) merchant: usize,
    #[serde(skip)]
    pub(crate) full_card: Option<Card>,
}

impl Payment {
    /// What is left to refund.
    pub fn refundable(&self) -> u32 {
        self.captured_amount.saturating_sub(self.refunded_total)
    }

    pub(crate) fn card(&self) -> Option<&Card> {
        self.full_card.as_ref()
    }

    pub(crate) fn record(
        &mut self,
        at: JstDateTime,
        source: Source,
        operation: &str,
        txid: Option<String>,
        amount: Option<u32>,
    ) {
        self.history.push(HistoryEntry {
            at,
            source,
            operation: operation.to_owned(),
            sps_transaction_id: txid,
            amount,
        });
    }

    /// Commit (§10.5): only an uncommitted, unsold authorization. With automatic sales the
    /// commit is also the sale.
    pub(crate) fn commit(&mut self, auto_sale_on: Option<JstDateTime>) -> Result<(), ErrorReason> {
        if self.commit_status != CommitStatus::Uncommitted
            || self.payment_status != PaymentStatus::Authorized
        {
            return Err(reasons::COMMIT_NOT_POSSIBLE);
        }
        self.commit_status = CommitStatus::Committed;
        if let Some(today) = auto_sale_on {
            self.payment_status = PaymentStatus::Sold;
            self.captured_amount = self.authorized_amount;
            self.sales_date = Some(today.start_of_day());
        }
        Ok(())
    }

    /// Whether a sale of `amount` (the authorized amount if `None`) is possible, and of how much.
    /// A smaller amount is a partial capture; a larger one is refused with type 79.
    pub(crate) fn check_capture(&self, amount: Option<u32>) -> Result<u32, ErrorReason> {
        match self.payment_status {
            PaymentStatus::Cancelled => Err(reasons::SALES_ON_CANCELLED),
            PaymentStatus::Sold | PaymentStatus::Refunded => Err(reasons::ALREADY_SOLD),
            PaymentStatus::Authorized => {
                let amount = amount.unwrap_or(self.authorized_amount);
                if amount > self.authorized_amount {
                    return Err(reasons::OVER_AUTHORIZED);
                }
                Ok(amount)
            }
        }
    }

    /// Sale: 1 → 2, after [`Payment::check_capture`]. Returns the amount sold.
    pub(crate) fn capture(
        &mut self,
        amount: Option<u32>,
        sales_date: JstDateTime,
    ) -> Result<u32, ErrorReason> {
        let amount = self.check_capture(amount)?;
        self.payment_status = PaymentStatus::Sold;
        self.captured_amount = amount;
        self.sales_date = Some(sales_date.start_of_day());
        Ok(amount)
    }

    /// Cancel of an unsold authorization: 1 → 3.
    pub(crate) fn cancel_authorization(&mut self) -> Result<(), ErrorReason> {
        match self.payment_status {
            PaymentStatus::Authorized => {
                self.payment_status = PaymentStatus::Cancelled;
                Ok(())
            }
            PaymentStatus::Cancelled => Err(reasons::ALREADY_CANCELLED),
            PaymentStatus::Sold | PaymentStatus::Refunded => Err(reasons::CANCEL_NEEDS_REFUND),
        }
    }

    /// Refund of everything not yet refunded: 2 → 4, or 4 → 4 after partial refunds when the
    /// policy allows it. Returns the amount refunded now.
    pub(crate) fn refund_rest(&mut self, policy: RefundAfterPartial) -> Result<u32, ErrorReason> {
        match self.payment_status {
            PaymentStatus::Authorized => Err(reasons::NOT_SOLD_YET),
            PaymentStatus::Cancelled => Err(reasons::REFUND_ON_CANCELLED),
            PaymentStatus::Refunded
                if self.refundable() == 0 || policy == RefundAfterPartial::AlreadyRefunded =>
            {
                Err(reasons::ALREADY_REFUNDED)
            }
            PaymentStatus::Sold | PaymentStatus::Refunded => {
                let amount = self.refundable();
                self.refunded_total = self.captured_amount;
                self.payment_status = PaymentStatus::Refunded;
                Ok(amount)
            }
        }
    }

    /// Partial refund of `amount`: status 4 from the first one on (JV's live tests).
    pub(crate) fn refund_partial(&mut self, amount: u32, rules: &Rules) -> Result<(), ErrorReason> {
        match self.payment_status {
            PaymentStatus::Authorized => Err(reasons::NOT_SOLD_YET),
            PaymentStatus::Cancelled => Err(rules.partial_refund_on_cancelled),
            PaymentStatus::Sold | PaymentStatus::Refunded => {
                if amount > self.refundable() {
                    return Err(reasons::OVER_REFUND);
                }
                self.refunded_total += amount;
                self.payment_status = PaymentStatus::Refunded;
                Ok(())
            }
        }
    }
}

/// A card stored for a customer (`cust_manage_flg=1`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCard {
    /// Owning merchant.
    pub merchant_id: String,
    /// Owning service.
    pub service_id: String,
    /// The merchant's customer code.
    pub cust_code: String,
    /// 12-digit SBPS customer number (`res_sps_cust_no`).
    pub sps_cust_no: String,
    /// 3-digit payment-method number (`res_sps_payment_no`), raised at each re-store.
    pub sps_payment_no: String,
    /// The card.
    pub card: CardSummary,
    #[serde(skip)]
    pub(crate) full_card: Option<Card>,
}

/// Used order ids of one merchant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsedOrderIds {
    /// Merchant.
    pub merchant_id: String,
    /// Service.
    pub service_id: String,
    /// Sorted.
    pub order_ids: Vec<String>,
}

/// The whole emulator state, as `dump()` and `GET /__emulator__/dump` return it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The emulator clock.
    pub now: JstDateTime,
    /// Whether the clock is frozen.
    pub clock_frozen: bool,
    /// Every payment, by tracking id.
    pub payments: Vec<Payment>,
    /// Order ids that can no longer be authorized.
    pub used_order_ids: Vec<UsedOrderIds>,
    /// Stored cards.
    pub stored_cards: Vec<StoredCard>,
    /// Tokens the authorization accepts (card numbers masked).
    pub tokens: Vec<TokenSummary>,
    /// Installed faults.
    pub faults: Vec<crate::faults::InstalledFault>,
    /// Next tracking id to be handed out.
    pub next_tracking_id: String,
}

/// A registered token, without its card number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSummary {
    /// The token.
    pub token: String,
    /// Whether it is refused as expired.
    pub expired: bool,
    /// Its card.
    pub card: CardSummary,
}

pub(crate) fn summarize(card: &Card) -> CardSummary {
    CardSummary {
        masked_number: card.masked(),
        number_length: card.number.len(),
        expiration: card.expiration.clone(),
        brand: card.brand(),
    }
}

/// Mutable emulator state.
#[derive(Debug)]
pub(crate) struct State {
    payments: HashMap<String, Payment>,
    by_transaction_id: HashMap<String, String>,
    order_ids: HashMap<usize, HashSet<String>>,
    stored_cards: HashMap<(usize, String), StoredCard>,
    tokens: HashMap<String, TestToken>,
    pub(crate) ids: Ids,
}

/// Id counters (§10.4): tracking ids, the `sps_transaction_id` serial, customer numbers.
#[derive(Debug)]
pub(crate) struct Ids {
    next_tracking_id: u64,
    next_serial: u64,
    next_customer_no: u64,
}

impl Ids {
    /// A fresh 14-digit tracking id.
    pub(crate) fn tracking_id(&mut self) -> String {
        let id = format!("{:014}", self.next_tracking_id % 100_000_000_000_000);
        self.next_tracking_id += 1;
        id
    }

    /// A fresh `sps_transaction_id` (§7.2): letter, merchant, service, the function id without
    /// hyphens, an 11-digit serial; 32 characters. Every OK reply gets one.
    pub(crate) fn transaction_id(
        &mut self,
        letter: char,
        merchant: &MerchantConfig,
        function: Function,
    ) -> String {
        let serial = self.next_serial % 100_000_000_000;
        self.next_serial += 1;
        format!(
            "{letter}{}{}{}{serial:011}",
            merchant.merchant_id,
            merchant.service_id,
            function.compact_id()
        )
    }

    fn customer_no(&mut self) -> String {
        let n = self.next_customer_no;
        self.next_customer_no += 1;
        format!("{:012}", 100_000_000_000 + n % 100_000_000_000)
    }
}

impl State {
    pub(crate) fn new(config: &Config) -> Self {
        Self {
            payments: HashMap::new(),
            by_transaction_id: HashMap::new(),
            order_ids: HashMap::new(),
            stored_cards: HashMap::new(),
            tokens: config
                .tokens
                .iter()
                .map(|t| (t.token.clone(), t.clone()))
                .collect(),
            ids: Ids {
                next_tracking_id: config.first_tracking_id,
                next_serial: 1,
                next_customer_no: 1,
            },
        }
    }

    pub(crate) fn token(&self, token: &str) -> Option<&TestToken> {
        self.tokens.get(token)
    }

    pub(crate) fn register_token(&mut self, token: TestToken) {
        self.tokens.insert(token.token.clone(), token);
    }

    pub(crate) fn order_id_used(&self, merchant: usize, order_id: &str) -> bool {
        self.order_ids
            .get(&merchant)
            .is_some_and(|ids| ids.contains(order_id))
    }

    pub(crate) fn mark_order_id_used(&mut self, merchant: usize, order_id: &str) {
        self.order_ids
            .entry(merchant)
            .or_default()
            .insert(order_id.to_owned());
    }

    pub(crate) fn payment(&self, tracking_id: &str) -> Option<&Payment> {
        self.payments.get(tracking_id)
    }

    pub(crate) fn payment_mut(&mut self, tracking_id: &str) -> Option<&mut Payment> {
        self.payments.get_mut(tracking_id)
    }

    /// Finds the target of an ST02 / MG01 request (§10.4): by `tracking_id` if given, else by
    /// the authorization's `sps_transaction_id`; a payment of another merchant is not found.
    pub(crate) fn target_mut(
        &mut self,
        merchant: usize,
        tracking_id: Option<&str>,
        sps_transaction_id: Option<&str>,
        rules: &Rules,
    ) -> Result<(&mut Payment, &mut Ids), ErrorReason> {
        let owned = |p: &&Payment| p.merchant == merchant;
        let by_txid = sps_transaction_id
            .and_then(|tx| self.by_transaction_id.get(tx))
            .and_then(|tid| self.payments.get(tid))
            .filter(owned)
            .map(|p| p.tracking_id.clone());
        let key = match (tracking_id, sps_transaction_id) {
            (Some(tid), tx) => {
                if self.payments.get(tid).filter(owned).is_none() {
                    return Err(rules.unknown_tracking_id);
                }
                if tx.is_some() && by_txid.as_deref() != Some(tid) {
                    return Err(rules.target_mismatch);
                }
                tid.to_owned()
            }
            (None, Some(_)) => by_txid.ok_or(rules.unknown_sps_transaction_id)?,
            (None, None) => return Err(rules.unknown_tracking_id),
        };
        let payment = self
            .payments
            .get_mut(&key)
            .ok_or(rules.unknown_tracking_id)?;
        Ok((payment, &mut self.ids))
    }

    pub(crate) fn insert_payment(&mut self, payment: Payment) {
        self.by_transaction_id.insert(
            payment.auth_sps_transaction_id.clone(),
            payment.tracking_id.clone(),
        );
        self.payments.insert(payment.tracking_id.clone(), payment);
    }

    pub(crate) fn stored_card(&self, merchant: usize, cust_code: &str) -> Option<&StoredCard> {
        self.stored_cards.get(&(merchant, cust_code.to_owned()))
    }

    /// Stores (or replaces) the card of a customer; the payment number goes up on each store.
    pub(crate) fn store_card(
        &mut self,
        merchant: &MerchantConfig,
        merchant_idx: usize,
        cust_code: &str,
        card: &Card,
    ) {
        let key = (merchant_idx, cust_code.to_owned());
        if let Some(existing) = self.stored_cards.get_mut(&key) {
            let next = existing.sps_payment_no.parse::<u32>().unwrap_or(0) + 1;
            existing.sps_payment_no = format!("{:03}", next % 1000);
            existing.card = summarize(card);
            existing.full_card = Some(card.clone());
            return;
        }
        let sps_cust_no = self.ids.customer_no();
        self.stored_cards.insert(
            key,
            StoredCard {
                merchant_id: merchant.merchant_id.clone(),
                service_id: merchant.service_id.clone(),
                cust_code: cust_code.to_owned(),
                sps_cust_no,
                sps_payment_no: "001".to_owned(),
                card: summarize(card),
                full_card: Some(card.clone()),
            },
        );
    }

    pub(crate) fn snapshot(
        &self,
        merchants: &[MerchantConfig],
        now: JstDateTime,
        clock_frozen: bool,
        faults: Vec<crate::faults::InstalledFault>,
    ) -> Snapshot {
        let payments: BTreeMap<_, _> = self.payments.iter().collect();
        let mut used_order_ids: Vec<UsedOrderIds> = self
            .order_ids
            .iter()
            .filter_map(|(m, ids)| {
                let merchant = merchants.get(*m)?;
                let mut order_ids: Vec<String> = ids.iter().cloned().collect();
                order_ids.sort();
                Some(UsedOrderIds {
                    merchant_id: merchant.merchant_id.clone(),
                    service_id: merchant.service_id.clone(),
                    order_ids,
                })
            })
            .collect();
        used_order_ids
            .sort_by(|a, b| (&a.merchant_id, &a.service_id).cmp(&(&b.merchant_id, &b.service_id)));
        let mut stored_cards: Vec<StoredCard> = self.stored_cards.values().cloned().collect();
        stored_cards.sort_by(|a, b| {
            (&a.merchant_id, &a.service_id, &a.cust_code).cmp(&(
                &b.merchant_id,
                &b.service_id,
                &b.cust_code,
            ))
        });
        let mut tokens: Vec<TokenSummary> = self
            .tokens
            .values()
            .map(|t| TokenSummary {
                token: t.token.clone(),
                expired: t.expired,
                card: summarize(&Card {
                    number: t.card.number.clone(),
                    expiration: t.card.expiration.clone(),
                    security_code: None,
                }),
            })
            .collect();
        tokens.sort_by(|a, b| a.token.cmp(&b.token));
        Snapshot {
            now,
            clock_frozen,
            payments: payments.into_values().cloned().collect(),
            used_order_ids,
            stored_cards,
            tokens,
            faults,
            next_tracking_id: format!("{:014}", self.ids.next_tracking_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment() -> Payment {
        let card = Card {
            number: "4242424242424242".into(),
            expiration: "203012".into(),
            security_code: None,
        };
        Payment {
            merchant_id: "99999".into(),
            service_id: "001".into(),
            tracking_id: "00000000000001".into(),
            auth_sps_transaction_id: "tx".into(),
            auth_function: "ST01-00131-101".into(),
            order_id: "o".into(),
            cust_code: "c".into(),
            authorized_amount: 1000,
            captured_amount: 0,
            refunded_total: 0,
            payment_status: PaymentStatus::Authorized,
            commit_status: CommitStatus::Uncommitted,
            auth_at: JstDateTime::parse("20240102030405").unwrap(),
            sales_date: None,
            card: summarize(&card),
            dealings_type: "10".into(),
            divide_times: None,
            cc_company_code: "99665".into(),
            recognized_no: "123456".into(),
            reauthorization_of: None,
            history: vec![],
            merchant: 0,
            full_card: Some(card),
        }
    }

    #[test]
    fn lifecycle_transitions_follow_section_9() {
        let now = JstDateTime::parse("20240102030405").unwrap();
        let rules = Rules::default();
        let mut p = payment();
        assert_eq!(p.capture(Some(1001), now), Err(reasons::OVER_AUTHORIZED));
        assert_eq!(p.refund_partial(1, &rules), Err(reasons::NOT_SOLD_YET));
        assert_eq!(p.capture(Some(600), now), Ok(600));
        assert_eq!(p.capture(None, now), Err(reasons::ALREADY_SOLD));
        assert_eq!(p.commit(None), Err(reasons::COMMIT_NOT_POSSIBLE));
        assert_eq!(p.refund_partial(601, &rules), Err(reasons::OVER_REFUND));
        p.refund_partial(100, &rules).unwrap();
        assert_eq!(p.payment_status, PaymentStatus::Refunded);
        assert_eq!(
            p.refund_rest(RefundAfterPartial::AlreadyRefunded),
            Err(reasons::ALREADY_REFUNDED)
        );
        assert_eq!(p.refund_rest(RefundAfterPartial::RefundRemainder), Ok(500));
        assert_eq!(
            p.refund_rest(RefundAfterPartial::RefundRemainder),
            Err(reasons::ALREADY_REFUNDED)
        );
        assert_eq!(p.cancel_authorization(), Err(reasons::CANCEL_NEEDS_REFUND));

        let mut q = payment();
        q.cancel_authorization().unwrap();
        assert_eq!(q.cancel_authorization(), Err(reasons::ALREADY_CANCELLED));
        assert_eq!(q.capture(None, now), Err(reasons::SALES_ON_CANCELLED));
        assert_eq!(
            q.refund_rest(RefundAfterPartial::RefundRemainder),
            Err(reasons::REFUND_ON_CANCELLED)
        );
        let json = serde_json::to_value(&q).unwrap();
        assert_eq!(json["payment_status"], 3);
        assert_eq!(json["card"]["brand"], "V");
        assert!(!json.to_string().contains("4242424242424242"));
    }

    #[test]
    fn ids_have_the_documented_shapes() {
        let config = Config::default();
        let mut state = State::new(&config);
        assert_eq!(state.ids.tracking_id(), "00000000000001");
        let tx = state
            .ids
            .transaction_id('C', &config.merchants[0], Function::Sales);
        assert_eq!(tx, "C99999001ST020020110100000000001");
        assert_eq!(tx.len(), 32);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Commit,
        Capture(Option<u32>),
        Cancel,
        RefundRest,
        RefundPartial(u32),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            Just(Op::Commit),
            proptest::option::of(1u32..1500).prop_map(Op::Capture),
            Just(Op::Cancel),
            Just(Op::RefundRest),
            (1u32..800).prop_map(Op::RefundPartial),
        ]
    }

    proptest::proptest! {
        #[test]
        fn money_invariants_hold_for_any_operation_sequence(ops in proptest::collection::vec(op(), 0..24)) {
            let now = JstDateTime::parse("20240102030405").unwrap();
            let rules = Rules::default();
            let mut p = payment();
            let mut was_sold = false;
            for op in ops {
                let before = p.clone();
                let result = match op {
                    Op::Commit => p.commit(None).map(|_| 0),
                    Op::Capture(amount) => p.capture(amount, now),
                    Op::Cancel => p.cancel_authorization().map(|_| 0),
                    Op::RefundRest => p.refund_rest(RefundAfterPartial::RefundRemainder),
                    Op::RefundPartial(amount) => p.refund_partial(amount, &rules).map(|_| 0),
                };
                if result.is_err() {
                    proptest::prop_assert_eq!(&p, &before, "a refused operation changes nothing");
                }
                proptest::prop_assert!(p.captured_amount <= p.authorized_amount);
                proptest::prop_assert!(p.refunded_total <= p.captured_amount);
                if was_sold {
                    proptest::prop_assert!(matches!(p.payment_status, PaymentStatus::Sold | PaymentStatus::Refunded));
                    proptest::prop_assert_eq!(p.captured_amount, before.captured_amount);
                }
                was_sold |= p.payment_status == PaymentStatus::Sold;
                if p.payment_status == PaymentStatus::Cancelled {
                    proptest::prop_assert_eq!(p.captured_amount, 0);
                }
                if p.refunded_total > 0 {
                    proptest::prop_assert_eq!(p.payment_status, PaymentStatus::Refunded);
                }
            }
        }
    }
}
