//! One method per operator action, each citing the rules it carries out.

use super::{
    ActionResult, Intent, OrderStatus, PaymentMethod, Shop, ShopAction, ShopError, ShopOrder,
    StatusChange, Warning, blocking, is_captured, now_ms, synced,
};
use crate::executor::Along;
use crate::journal::{OrderRecord, ledger};
use renkei_sdk::{
    AmountChange, CustomerRef, Money, Operation, OperationKind, OrderRef, PaymentSource,
    PaymentState, TransactionRef,
};

/// F-3: what the operator can do when the amount change before capture was refused.
const F3_HINT: &str = "the amount change was refused, so nothing was captured (F-3): capture the \
     authorized amount and settle the difference elsewhere, or cancel and bill another way";

fn illegal(order: &OrderRef, action: ShopAction, reason: impl Into<String>) -> ShopError {
    ShopError::IllegalAction {
        order: order.clone(),
        action: action.name(),
        reason: reason.into(),
    }
}

/// The journal's refusal for `kind` on `payment`, as a typed error (final state G-5/F-12, busy,
/// in review, illegal transition), or `None` if it may start.
fn refusal(
    payment: &OrderRecord,
    gateway: &str,
    kind: OperationKind,
    amount: Option<Money>,
) -> Option<ShopError> {
    ledger::check_begin(payment.order.as_str(), gateway, Some(payment), kind, amount)
        .err()
        .map(ShopError::Refused)
}

fn transaction_of(payment: &OrderRecord) -> Result<TransactionRef, ShopError> {
    payment.transaction.clone().ok_or_else(|| {
        ShopError::Journal(crate::journal::JournalError::Corrupt(format!(
            "order {} is {} at the gateway but has no transaction reference",
            payment.order, payment.state
        )))
    })
}

impl Shop {
    /// The one authorization an order gets, at checkout or on a pre-order's release: one key
    /// per order, so a retry returns the first authorization instead of reserving twice.
    async fn authorize(
        &self,
        gateway: &crate::instance::GatewayInstance,
        order: &OrderRef,
        amount: Money,
        source: PaymentSource,
        customer: Option<CustomerRef>,
    ) -> Result<(crate::executor::Completed, super::GatewayOp), ShopError> {
        let op = Operation::Authorize {
            order: order.clone(),
            amount,
            source,
            customer,
            description: None,
        };
        let intent = Intent::Authorized {
            shop: self.id.clone(),
            gateway: gateway.name().to_owned(),
            amount_due: amount,
        };
        self.run(
            gateway,
            &op,
            &format!("{order}/authorize"),
            None,
            Some(&intent),
        )
        .await
    }

    fn check_amount(
        &self,
        order: &OrderRef,
        gateway: &str,
        amount: Money,
    ) -> Result<(), ShopError> {
        if amount.minor_units <= 0 {
            return Err(ShopError::InvalidAmount {
                order: order.clone(),
                reason: format!(
                    "amount {amount} must be positive; an order with nothing to pay is switched \
                     to \"no payment needed\" (G-11, F-8)"
                ),
            });
        }
        let limits = &self.gateway(gateway)?.manifest().limits;
        if !limits.currencies.contains(&amount.currency) {
            return Err(ShopError::InvalidAmount {
                order: order.clone(),
                reason: format!("{gateway} does not take {}", amount.currency),
            });
        }
        if amount.minor_units < limits.min_amount || amount.minor_units > limits.max_amount {
            // F-7: F-REGI's minimum is 2 yen; a 1-yen bill cannot be paid by card.
            return Err(ShopError::InvalidAmount {
                order: order.clone(),
                reason: format!(
                    "{amount} is outside what {gateway} accepts by card ({} to {}) (F-7)",
                    limits.min_amount, limits.max_amount
                ),
            });
        }
        Ok(())
    }

    async fn require_new(&self, order: &OrderRef) -> Result<(), ShopError> {
        let o = order.clone();
        let (row, payment) = blocking(self.executor.journal(), move |j| {
            Ok((j.shop_row(&o)?, j.order(&o)?))
        })
        .await?;
        if row.is_some() || payment.is_some() {
            return Err(ShopError::OrderExists(order.clone()));
        }
        Ok(())
    }

    fn new_order(
        &self,
        order: &OrderRef,
        gateway: &str,
        amount: Money,
        status: OrderStatus,
    ) -> ShopOrder {
        ShopOrder {
            order: order.clone(),
            shop: self.id.clone(),
            gateway: gateway.to_owned(),
            method: PaymentMethod::Card,
            amount_due: amount,
            status,
            paid: false,
            updated_ms: now_ms(),
            synced_operation: 0,
            synced_version: 0,
            version: 0,
        }
    }

    /// Checkout: authorizes a new card order from the gateway's card token (SBPS token and
    /// token key, F-REGI TOKEN) or a stored customer. A raw card number (`PaymentSource::Card`)
    /// is passed to the plugin and never journaled. Retrying the same order returns the first
    /// authorization.
    pub async fn checkout(
        &self,
        order: &OrderRef,
        gateway: &str,
        amount: Money,
        source: PaymentSource,
        customer: Option<CustomerRef>,
    ) -> Result<ActionResult, ShopError> {
        let instance = self.gateway(gateway)?.clone();
        if !self.linkage(gateway) {
            return Err(ShopError::LinkageOff {
                gateway: gateway.to_owned(),
            });
        }
        self.check_amount(order, gateway, amount)?;
        let existing = self.load(order).await.ok();
        if let Some((shop, _)) = &existing
            && (shop.gateway != gateway || shop.status != OrderStatus::Normal)
        {
            return Err(ShopError::OrderExists(order.clone()));
        }
        let authorized = self
            .authorize(&instance, order, amount, source, customer)
            .await;
        let (done, performed) = match authorized {
            Ok(done) => done,
            Err(e @ (ShopError::NeedsReview { .. } | ShopError::Journal(_))) => {
                // The customer's card may hold an authorization: the order must be visible in
                // the shop (and in the review list) until an operator settles it.
                if existing.is_none() {
                    let shop = self.new_order(order, gateway, amount, OrderStatus::Normal);
                    match self.commit(shop, |_| {}).await {
                        Ok(_) | Err(ShopError::OrderExists(_)) => {}
                        Err(write) => {
                            tracing::error!(order = %order, error = %write, "order in doubt not yet in the shop's records; recovery will add it")
                        }
                    }
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let shop = match existing {
            Some((shop, _)) => shop,
            None => self.new_order(order, gateway, amount, OrderStatus::Normal),
        };
        let shop = match self.commit(shop, synced(&done)).await {
            // Created meanwhile from the journal (a concurrent load of this order).
            Err(ShopError::OrderExists(_)) => self.load(order).await?.0,
            other => other?,
        };
        Ok(self.result(
            ShopAction::Checkout,
            shop,
            done.order.as_ref(),
            vec![performed],
            vec![],
        ))
    }

    /// Registers a pre-order (予約): a card order whose authorization waits for
    /// [`Shop::release_pre_order`] (G-9). Nothing is sent.
    pub async fn register_pre_order(
        &self,
        order: &OrderRef,
        gateway: &str,
        amount: Money,
    ) -> Result<ActionResult, ShopError> {
        self.gateway(gateway)?;
        self.check_amount(order, gateway, amount)?;
        self.require_new(order).await?;
        let record = OrderRecord::awaiting(order, gateway, amount.currency);
        let payment = blocking(self.executor.journal(), move |j| j.register_order(&record)).await?;
        let shop = self.new_order(order, gateway, amount, OrderStatus::PreOrder);
        let shop = self.commit(shop, |_| {}).await?;
        Ok(self.result(
            ShopAction::RegisterPreOrder,
            shop,
            Some(&payment),
            vec![],
            vec![],
        ))
    }

    /// Registers a card order authorized elsewhere (another system, the gateway's own tool) by
    /// its gateway reference, so that the shop's actions reach it. Nothing is sent; use
    /// [`Shop::inquire`] to compare with the gateway.
    pub async fn register_authorized(
        &self,
        order: &OrderRef,
        gateway: &str,
        transaction: TransactionRef,
        authorized: Money,
    ) -> Result<ActionResult, ShopError> {
        self.gateway(gateway)?;
        self.check_amount(order, gateway, authorized)?;
        self.require_new(order).await?;
        let mut record = OrderRecord::awaiting(order, gateway, authorized.currency);
        record.state = PaymentState::Authorized;
        record.transaction = Some(transaction);
        record.authorized = authorized;
        let payment = blocking(self.executor.journal(), move |j| j.register_order(&record)).await?;
        let shop = self.new_order(order, gateway, authorized, OrderStatus::Normal);
        let shop = self.commit(shop, |_| {}).await?;
        Ok(self.result(
            ShopAction::RegisterAuthorized,
            shop,
            Some(&payment),
            vec![],
            vec![],
        ))
    }

    /// Record payment (入金): captures at the shop's current amount (G-2, S-1, F-1, F-2). When
    /// the amount differs from the authorization the plugin changes it first (F-REGI authchange,
    /// SBPS re-authorization or a lower capture); if that change is refused nothing is captured
    /// and the error says what the operator can do (F-3).
    ///
    /// Already captured at the gateway (the payment date had been cancelled, G-6, or a retry):
    /// the order is marked paid without a second capture, and an amount changed since is
    /// reported as not linked (F-9).
    pub async fn record_payment(&self, order: &OrderRef) -> Result<ActionResult, ShopError> {
        let action = ShopAction::RecordPayment;
        let (shop, payment) = self.load(order).await?;
        if shop.status.is_closed() {
            return Err(illegal(
                order,
                action,
                format!("the order is {}", shop.status),
            ));
        }
        if shop.status == OrderStatus::PreOrder {
            return Err(illegal(
                order,
                action,
                "the pre-order has no authorization yet: release it first (G-9)",
            ));
        }
        if shop.paid {
            return Ok(self.result(
                action,
                shop,
                payment.as_ref(),
                vec![],
                vec![Warning::AlreadyPaid],
            ));
        }
        let mut warnings = vec![];
        let mut operations = vec![];
        let mut payment = payment;
        if shop.is_card() {
            let payment_now = payment
                .clone()
                .ok_or_else(|| ShopError::UnknownOrder(order.clone()))?;
            if !self.linkage(&shop.gateway) {
                warnings.push(Warning::LinkageOff {
                    gateway: shop.gateway.clone(),
                });
            } else if is_captured(&payment_now.state) {
                if shop.amount_due != payment_now.captured {
                    warnings.push(Warning::AmountNotLinked {
                        captured: payment_now.captured,
                        amount_due: shop.amount_due,
                    });
                }
            } else if payment_now.state.awaits_authorization() {
                return Err(illegal(
                    order,
                    action,
                    "the gateway holds no authorization for it",
                ));
            } else if let Some(refused) =
                refusal(&payment_now, &shop.gateway, OperationKind::Capture, None)
            {
                return Err(refused);
            } else {
                let gateway = self.gateway(&shop.gateway)?.clone();
                let transaction = transaction_of(&payment_now)?;
                let amount = (shop.amount_due != payment_now.authorized).then_some(shop.amount_due);
                let op = Operation::Capture {
                    order: order.clone(),
                    transaction: transaction.clone(),
                    authorized: payment_now.authorized,
                    amount,
                };
                let key = format!(
                    "{order}/capture/{transaction}/{}",
                    shop.amount_due.minor_units
                );
                let hint = amount.map(|_| F3_HINT);
                let intent = Intent::Paid {
                    shop: self.id.clone(),
                };
                // The order as read here, and the shop's record written with the outcome: one
                // read and two durable writes for the whole action (bulk runs many of these).
                let along = Along {
                    intent: Some(intent.to_json()),
                    known: Some(Some(payment_now.clone())),
                    shop: None,
                };
                let paid = (
                    shop.clone(),
                    (|s: &mut ShopOrder| s.paid = true) as fn(&mut _),
                );
                let (done, performed, written) = self
                    .run_along(&gateway, &op, &key, hint, along, Some(paid))
                    .await?;
                operations.push(performed);
                let sync = synced(&done);
                payment = done.order;
                let shop = match written {
                    Some(shop) => shop,
                    None => {
                        self.commit(shop, move |s| {
                            s.paid = true;
                            sync(s);
                        })
                        .await?
                    }
                };
                // The amount due may have been edited while the capture was in flight: the
                // gateway captured what was due when it started. Said, never silent (and
                // reported by inquire and reconcile until settled).
                if let Some(p) = payment.as_ref().filter(|p| is_captured(&p.state))
                    && p.captured != shop.amount_due
                {
                    warnings.push(Warning::CapturedDiffersFromDue {
                        captured: p.captured,
                        amount_due: shop.amount_due,
                    });
                }
                return Ok(self.result(action, shop, payment.as_ref(), operations, warnings));
            }
        }
        let shop = self.commit(shop, |s| s.paid = true).await?;
        Ok(self.result(action, shop, payment.as_ref(), operations, warnings))
    }

    /// Cancel payment date (入金日取消): the shop shows unpaid again. Never refunds: a
    /// captured gateway stays captured and the result says so (G-6, F-9).
    pub async fn cancel_payment_date(&self, order: &OrderRef) -> Result<ActionResult, ShopError> {
        let action = ShopAction::CancelPaymentDate;
        let (shop, payment) = self.load(order).await?;
        if !shop.paid {
            return Err(illegal(order, action, "no payment date is entered"));
        }
        let mut warnings = vec![];
        if let Some(p) = payment.as_ref().filter(|p| is_captured(&p.state)) {
            warnings.push(Warning::GatewayStaysCaptured {
                captured: p.captured,
            });
        }
        let shop = self.commit(shop, |s| s.paid = false).await?;
        Ok(self.result(action, shop, payment.as_ref(), vec![], warnings))
    }

    /// Status change to cancel / return / uncollectible / delete / hold. With
    /// `cancel_at_gateway` (「…の取引情報を取り消す」) the gateway transaction is cancelled:
    /// voided before capture, refunded after (G-4, S-4, F-6); without it nothing is sent. A
    /// transaction already cancelled cannot be cancelled again (G-5, F-12).
    pub async fn change_status(
        &self,
        order: &OrderRef,
        change: StatusChange,
        cancel_at_gateway: bool,
    ) -> Result<ActionResult, ShopError> {
        let action = ShopAction::ChangeStatus;
        let intent = Intent::Status {
            shop: self.id.clone(),
            status: change.target(),
        };
        let (shop, payment, caught_up) = self.load_caught_up(order).await?;
        if let Some(done) = self.repeated(&caught_up, &intent).await? {
            // This very action reached the gateway before its host died; the journal had the
            // result and the shop's record has just been brought in line (breach 6).
            return Ok(self.result(action, shop, payment.as_ref(), vec![done], vec![]));
        }
        if shop.status == OrderStatus::Deleted {
            return Err(illegal(order, action, "the order's data was deleted"));
        }
        let (payment, operations, warnings, sync) = self
            .cancel_at_gateway(&shop, payment, cancel_at_gateway, action, false, &intent)
            .await?;
        let shop = self
            .commit(shop, move |s| {
                s.status = change.target();
                sync(s);
            })
            .await?;
        Ok(self.result(action, shop, payment.as_ref(), operations, warnings))
    }

    /// Change payment method away from card (決済方法変更). With `cancel_at_gateway` the
    /// authorization is voided (G-10); a captured order must be returned (refunded) first.
    pub async fn change_payment_method(
        &self,
        order: &OrderRef,
        method: &str,
        cancel_at_gateway: bool,
    ) -> Result<ActionResult, ShopError> {
        let method = PaymentMethod::Other {
            name: method.to_owned(),
        };
        self.leave_card(
            order,
            method,
            cancel_at_gateway,
            ShopAction::ChangePaymentMethod,
        )
        .await
    }

    /// No payment needed (決済不要, the bill became 0 through points or coupons). With
    /// `cancel_at_gateway` the authorization is voided (G-11, F-8).
    pub async fn no_payment_needed(
        &self,
        order: &OrderRef,
        cancel_at_gateway: bool,
    ) -> Result<ActionResult, ShopError> {
        self.leave_card(
            order,
            PaymentMethod::NoPaymentNeeded,
            cancel_at_gateway,
            ShopAction::NoPaymentNeeded,
        )
        .await
    }

    async fn leave_card(
        &self,
        order: &OrderRef,
        method: PaymentMethod,
        cancel_at_gateway: bool,
        action: ShopAction,
    ) -> Result<ActionResult, ShopError> {
        let intent = Intent::Method {
            shop: self.id.clone(),
            method: method.clone(),
        };
        let (shop, payment, caught_up) = self.load_caught_up(order).await?;
        if let Some(done) = self.repeated(&caught_up, &intent).await? {
            return Ok(self.result(action, shop, payment.as_ref(), vec![done], vec![]));
        }
        if shop.status.is_closed() {
            return Err(illegal(
                order,
                action,
                format!("the order is {}", shop.status),
            ));
        }
        // Also when the order already left card with the box unticked: the card transaction is
        // still open at the gateway, and ticking the box now must reach it (breach 4).
        let (payment, operations, warnings, sync) = self
            .cancel_at_gateway(&shop, payment, cancel_at_gateway, action, true, &intent)
            .await?;
        let apply = intent.clone();
        let shop = self
            .commit(shop, move |s| {
                apply.apply(s);
                sync(s);
            })
            .await?;
        Ok(self.result(action, shop, payment.as_ref(), operations, warnings))
    }

    /// The gateway side of a cancelling action: void before capture, refund after (unless
    /// `void_only`: G-10 and G-11 apply before capture only), nothing without the checkbox.
    #[allow(clippy::type_complexity)]
    async fn cancel_at_gateway(
        &self,
        shop: &ShopOrder,
        payment: Option<OrderRecord>,
        ticked: bool,
        action: ShopAction,
        void_only: bool,
        intent: &Intent,
    ) -> Result<
        (
            Option<OrderRecord>,
            Vec<super::GatewayOp>,
            Vec<Warning>,
            Box<dyn Fn(&mut ShopOrder) + Send + Sync>,
        ),
        ShopError,
    > {
        let order = &shop.order;
        let nothing: Box<dyn Fn(&mut ShopOrder) + Send + Sync> = Box::new(|_| {});
        // A card transaction that is still open counts whatever the shop's method says now:
        // the method may have been changed with the box unticked (breach 4).
        let open_card = |p: &OrderRecord| {
            shop.is_card() || matches!(p.state, PaymentState::Authorized) || is_captured(&p.state)
        };
        let Some(p) = payment.filter(open_card) else {
            return Ok((None, vec![], vec![], nothing));
        };
        let open = matches!(p.state, PaymentState::Authorized) || is_captured(&p.state);
        if void_only && is_captured(&p.state) && ticked {
            return Err(illegal(
                order,
                action,
                "the card payment is captured: return the order first (refund, G-4); the \
                 gateway cancels an authorization only before capture (G-10, G-11)",
            ));
        }
        if !ticked {
            let warnings = if open {
                vec![Warning::GatewayNotTouched {
                    state: p.state.clone(),
                }]
            } else {
                vec![]
            };
            return Ok((Some(p), vec![], warnings, nothing));
        }
        if !self.linkage(&shop.gateway) {
            return Ok((
                Some(p),
                vec![],
                vec![Warning::LinkageOff {
                    gateway: shop.gateway.clone(),
                }],
                nothing,
            ));
        }
        if p.state.awaits_authorization() {
            return Ok((Some(p), vec![], vec![Warning::NothingToCancel], nothing));
        }
        let (kind, amount) = if is_captured(&p.state) {
            (OperationKind::Refund, None)
        } else {
            (OperationKind::Void, None)
        };
        if let Some(refused) = refusal(&p, &shop.gateway, kind, amount) {
            return Err(refused);
        }
        let gateway = self.gateway(&shop.gateway)?.clone();
        let transaction = transaction_of(&p)?;
        let (op, key) = if kind == OperationKind::Refund {
            let open_amount = p
                .captured
                .checked_sub(p.refunded)
                .ok_or_else(|| illegal(order, action, "inconsistent amounts in the journal"))?;
            (
                Operation::Refund {
                    order: order.clone(),
                    transaction: transaction.clone(),
                    captured: open_amount,
                    amount: None,
                },
                format!("{order}/refund/{transaction}/{}", p.refunded.minor_units),
            )
        } else {
            (
                Operation::Void {
                    order: order.clone(),
                    transaction: transaction.clone(),
                    authorized: p.authorized,
                },
                format!("{order}/void/{transaction}"),
            )
        };
        let (done, performed) = self.run(&gateway, &op, &key, None, Some(intent)).await?;
        let sync = synced(&done);
        Ok((done.order, vec![performed], vec![], Box::new(sync)))
    }

    /// Release a pre-order into normal processing (予約 → 通常処理): requests the
    /// authorization, which cannot be undone (G-9). On a decline nothing changes and the order
    /// stays a pre-order.
    pub async fn release_pre_order(
        &self,
        order: &OrderRef,
        source: PaymentSource,
        customer: Option<CustomerRef>,
    ) -> Result<ActionResult, ShopError> {
        let action = ShopAction::ReleasePreOrder;
        let (shop, payment, caught_up) = self.load_caught_up(order).await?;
        if let Some((id, _)) = caught_up
            .iter()
            .find(|(_, i)| matches!(i, Intent::Authorized { .. }))
        {
            // The release reached the gateway before its host died (see change_status).
            let done = self.performed(crate::journal::OperationId(*id)).await?;
            return Ok(self.result(action, shop, payment.as_ref(), vec![done], vec![]));
        }
        if shop.status != OrderStatus::PreOrder {
            return Err(illegal(
                order,
                action,
                format!(
                    "the order is {}, not a pre-order (a release cannot be repeated or undone, G-9)",
                    shop.status
                ),
            ));
        }
        let mut warnings = vec![];
        let mut operations = vec![];
        let mut payment = payment;
        if shop.is_card() {
            if !self.linkage(&shop.gateway) {
                warnings.push(Warning::LinkageOff {
                    gateway: shop.gateway.clone(),
                });
            } else {
                self.check_amount(order, &shop.gateway, shop.amount_due)?;
                let gateway = self.gateway(&shop.gateway)?.clone();
                let (done, performed) = self
                    .authorize(&gateway, order, shop.amount_due, source, customer)
                    .await?;
                operations.push(performed);
                let sync = synced(&done);
                payment = done.order;
                let shop = self
                    .commit(shop, move |s| {
                        s.status = OrderStatus::Normal;
                        sync(s);
                    })
                    .await?;
                return Ok(self.result(action, shop, payment.as_ref(), operations, warnings));
            }
        }
        let shop = self
            .commit(shop, |s| s.status = OrderStatus::Normal)
            .await?;
        Ok(self.result(action, shop, payment.as_ref(), operations, warnings))
    }

    /// Amount change (金額変更). Before capture it is held until capture where the gateway
    /// works that way (F-4; S-1) or sent at once where it changes authorizations in place;
    /// after capture it is not linked (G-7, F-9). Amounts the gateway cannot take are refused
    /// before anything is sent (F-7: 1 yen at F-REGI), and 0 belongs to "no payment needed"
    /// (F-8).
    pub async fn change_amount(
        &self,
        order: &OrderRef,
        amount_due: Money,
    ) -> Result<ActionResult, ShopError> {
        let action = ShopAction::ChangeAmount;
        let (shop, payment) = self.load(order).await?;
        if let Some(kind) = self.in_flight(order).await? {
            // A capture in flight was started at the amount due as it was; an edit now would
            // make the shop show one amount paid while the gateway captured another (breach 2).
            return Err(ShopError::Refused(crate::journal::Refusal::Busy {
                order: order.to_string(),
                operation: kind,
            }));
        }
        if shop.status.is_closed() {
            return Err(illegal(
                order,
                action,
                format!("the order is {}", shop.status),
            ));
        }
        if amount_due.currency != shop.amount_due.currency {
            return Err(ShopError::InvalidAmount {
                order: order.clone(),
                reason: format!(
                    "the order is billed in {}, not {}",
                    shop.amount_due.currency, amount_due.currency
                ),
            });
        }
        let mut warnings = vec![];
        let mut operations = vec![];
        let mut payment = payment;
        if shop.is_card() {
            self.check_amount(order, &shop.gateway, amount_due)?;
            if let Some(p) = payment.clone() {
                if is_captured(&p.state) {
                    warnings.push(Warning::AmountNotLinked {
                        captured: p.captured,
                        amount_due,
                    });
                } else if p.state == PaymentState::Authorized && amount_due != p.authorized {
                    let gateway = self.gateway(&shop.gateway)?.clone();
                    let in_place =
                        gateway.capabilities().amount_change == AmountChange::ChangeAuthorization;
                    if in_place && self.linkage(&shop.gateway) {
                        if let Some(refused) = refusal(
                            &p,
                            &shop.gateway,
                            OperationKind::ChangeAmount,
                            Some(amount_due),
                        ) {
                            return Err(refused);
                        }
                        let transaction = transaction_of(&p)?;
                        let op = Operation::ChangeAmount {
                            order: order.clone(),
                            transaction: transaction.clone(),
                            authorized: p.authorized,
                            new_amount: amount_due,
                        };
                        let key = format!(
                            "{order}/change_amount/{transaction}/{}",
                            amount_due.minor_units
                        );
                        let intent = Intent::Amount {
                            shop: self.id.clone(),
                            amount_due,
                        };
                        let (done, performed) =
                            self.run(&gateway, &op, &key, None, Some(&intent)).await?;
                        operations.push(performed);
                        payment = done.order;
                    } else {
                        warnings.push(Warning::AmountHeldUntilCapture {
                            authorized: p.authorized,
                            amount_due,
                        });
                    }
                }
            }
        } else if amount_due.minor_units <= 0 {
            return Err(ShopError::InvalidAmount {
                order: order.clone(),
                reason: "amount must be positive (G-11, F-8)".into(),
            });
        }
        let shop = self.commit(shop, |s| s.amount_due = amount_due).await?;
        Ok(self.result(action, shop, payment.as_ref(), operations, warnings))
    }
}
