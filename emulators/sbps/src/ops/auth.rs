//! Authorization (`ST01-00131/00111/00101-101`) and re-authorization (`ST01-00133/00113-101`).

use super::{Call, Outcome, Refused, Success};
use crate::cards::{self, Card};
use crate::codes::{ErrorReason, items, reasons, types};
use crate::function::Function;
use crate::state::{CommitStatus, Payment, PaymentStatus, Source, State, summarize};
use crate::xml::Node;

const TOKEN: &[&str] = &["pay_option_manage", "token"];
const TOKEN_KEY: &[&str] = &["pay_option_manage", "token_key"];
const CC_NUMBER: &[&str] = &["pay_method_info", "cc_number"];
const DEALINGS_TYPE: &[&str] = &["pay_method_info", "dealings_type"];
const DIVIDE_TIMES: &[&str] = &["pay_method_info", "divide_times"];

/// How the card is to be paid in installments (`dealings_type`, `divide_times`).
struct Details {
    dealings_type: String,
    divide_times: Option<String>,
}

impl Details {
    fn from_request(call: &Call<'_>) -> Option<Self> {
        Some(Self {
            dealings_type: call.value(DEALINGS_TYPE)?.to_owned(),
            divide_times: call.value(DIVIDE_TIMES).map(str::to_owned),
        })
    }
}

/// `ST01-00131-101`, `ST01-00111-101`, `ST01-00101-101`.
pub(super) fn authorize(call: &Call<'_>, state: &mut State) -> Outcome {
    let order_id = call.value(&["order_id"]).unwrap_or_default();
    refuse_used_order_id(call, state, order_id)?;
    let card = if call.function.takes_card_data() {
        card_from_request(call).ok_or_else(|| missing(items::CC_NUMBER))?
    } else {
        token_request_card(call, state)?
    };
    let details = Details::from_request(call).ok_or_else(|| missing(items::DEALINGS_TYPE))?;
    approve(call, state, order_id, card, details, None)
}

/// `ST01-00133-101`, `ST01-00113-101`: a new payment from an old one; the old one is untouched.
pub(super) fn reauthorize(call: &Call<'_>, state: &mut State) -> Outcome {
    let rules = &call.config.rules;
    let source_id = call.value(&["tracking_id"]).unwrap_or_default();
    let source = state
        .payment(source_id)
        .filter(|p| p.merchant == call.merchant_idx)
        .ok_or(rules.unknown_tracking_id)?;
    let source_card = source.card().cloned();
    let source_details = Details {
        dealings_type: source.dealings_type.clone(),
        divide_times: source.divide_times.clone(),
    };

    let control = call
        .value(&["pay_option_manage", "pay_info_control_type"])
        .unwrap_or("B");
    let detail_control = call
        .value(&["pay_option_manage", "pay_info_detail_control_type"])
        .unwrap_or("B");
    if control == "B" && rules.reauth_b_rejects_card_data {
        if call.value(CC_NUMBER).is_some() {
            return Err(ErrorReason::new(types::NOT_ALLOWED, items::CC_NUMBER).into());
        }
        if call.value(TOKEN).is_some() {
            return Err(ErrorReason::new(types::NOT_ALLOWED, items::TOKEN).into());
        }
    }
    let card = match control {
        "B" => source_card.ok_or(rules.unknown_tracking_id)?,
        "M" => stored_card(call, state)?,
        _ if call.function == Function::ReauthorizeWithCard => {
            card_from_request(call).ok_or_else(|| missing(items::CC_NUMBER))?
        }
        _ => match call.value(TOKEN) {
            Some(token) => card_from_token(call, state, token)?,
            None => return Err(missing(items::TOKEN)),
        },
    };
    let details = if detail_control == "B" {
        source_details
    } else {
        Details::from_request(call).ok_or_else(|| missing(items::DEALINGS_TYPE))?
    };
    let order_id = call.value(&["order_id"]).unwrap_or_default();
    refuse_used_order_id(call, state, order_id)?;
    let source_id = source_id.to_owned();
    approve(call, state, order_id, card, details, Some(source_id))
}

/// A required field that only the function can tell is missing (type 03, no `id`).
fn missing(item: &[u8; 3]) -> Refused {
    Refused::without_id(ErrorReason::new(types::REQUIRED, item))
}

/// Type 96: the order id was used before by this merchant (observed without `id`).
fn refuse_used_order_id(call: &Call<'_>, state: &State, order_id: &str) -> Result<(), Refused> {
    if state.order_id_used(call.merchant_idx, order_id) {
        return Err(Refused {
            reason: reasons::DUPLICATE_ORDER_ID,
            with_id: call.config.rules.duplicate_order_id_reply_has_id,
        });
    }
    Ok(())
}

/// 00131: the token if given, else card data if given, else the customer's stored card.
fn token_request_card(call: &Call<'_>, state: &State) -> Result<Card, Refused> {
    if let Some(token) = call.value(TOKEN) {
        return card_from_token(call, state, token);
    }
    if let Some(card) = card_from_request(call) {
        return Ok(card);
    }
    stored_card(call, state)
}

fn card_from_token(call: &Call<'_>, state: &State, token: &str) -> Result<Card, Refused> {
    let rules = &call.config.rules;
    let entry = state.token(token).ok_or(rules.unknown_token)?;
    if let Some(expected) = &entry.token_key {
        if call.value(TOKEN_KEY) != Some(expected.as_str()) {
            // A token_key that does not belong to the token fails decryption, like an unknown token.
            return Err(rules.unknown_token.into());
        }
    }
    if entry.expired {
        return Err(rules.expired_token.into());
    }
    Ok(Card {
        number: entry.card.number.clone(),
        expiration: entry.card.expiration.clone(),
        security_code: entry.card.security_code.clone(),
    })
}

fn card_from_request(call: &Call<'_>) -> Option<Card> {
    Some(Card {
        number: call.value(CC_NUMBER)?.to_owned(),
        expiration: call
            .value(&["pay_method_info", "cc_expiration"])
            .unwrap_or_default()
            .to_owned(),
        security_code: call
            .value(&["pay_method_info", "security_code"])
            .map(str::to_owned),
    })
}

fn stored_card(call: &Call<'_>, state: &State) -> Result<Card, Refused> {
    let cust_code = call.value(&["cust_code"]).unwrap_or_default();
    state
        .stored_card(call.merchant_idx, cust_code)
        .and_then(|stored| stored.full_card.clone())
        .ok_or_else(|| call.config.rules.no_stored_card.into())
}

/// Runs the decline script, then creates the payment and builds the OK body (§10.5 auth 3–4).
fn approve(
    call: &Call<'_>,
    state: &mut State,
    order_id: &str,
    card: Card,
    details: Details,
    reauthorization_of: Option<String>,
) -> Outcome {
    let config = call.config;
    if let Err(reason) = cards::screen(&card, call.now, &config.rules, &config.card_rules) {
        if config.rules.declined_order_id_is_used {
            state.mark_order_id_used(call.merchant_idx, order_id);
        }
        return Err(Refused {
            reason,
            with_id: config.rules.decline_reply_has_id,
        });
    }

    let tracking_id = state.ids.tracking_id();
    let sps_transaction_id = call.new_transaction_id(&mut state.ids);
    let cust_code = call.value(&["cust_code"]).unwrap_or_default();
    let amount = call.number(&["amount"]).unwrap_or(0);
    let mut payment = Payment {
        merchant_id: call.merchant.merchant_id.clone(),
        service_id: call.merchant.service_id.clone(),
        tracking_id: tracking_id.clone(),
        auth_sps_transaction_id: sps_transaction_id.clone(),
        auth_function: call.function.id().to_owned(),
        order_id: order_id.to_owned(),
        cust_code: cust_code.to_owned(),
        authorized_amount: amount,
        captured_amount: 0,
        refunded_total: 0,
        payment_status: PaymentStatus::Authorized,
        commit_status: CommitStatus::Uncommitted,
        auth_at: call.now,
        sales_date: None,
        card: summarize(&card),
        dealings_type: details.dealings_type,
        divide_times: details.divide_times,
        cc_company_code: config.cc_company_code.clone(),
        recognized_no: config.recognized_no.clone(),
        reauthorization_of,
        history: Vec::new(),
        merchant: call.merchant_idx,
        full_card: Some(card.clone()),
    };
    payment.record(
        call.now,
        Source::Api,
        call.function.id(),
        Some(sps_transaction_id.clone()),
        Some(amount),
    );
    state.insert_payment(payment);
    state.mark_order_id_used(call.merchant_idx, order_id);
    if call.flag(&["pay_option_manage", "cust_manage_flg"]) {
        state.store_card(call.merchant, call.merchant_idx, cust_code, &card);
    }

    let mut method_info = vec![Node::Leaf(
        "cc_company_code",
        config.cc_company_code.clone(),
    )];
    if call.flag(&["pay_option_manage", "cardbrand_return_flg"]) {
        method_info.push(Node::Leaf("cardbrand_code", card.brand().code().to_owned()));
    }
    method_info.push(Node::Leaf("recognized_no", config.recognized_no.clone()));
    method_info.push(Node::BlankLine);
    let mut body = vec![
        Node::Leaf("res_tracking_id", tracking_id),
        Node::Group("res_pay_method_info", method_info),
    ];
    if call.flag(&["sps_cust_info_return_flg"]) {
        let (cust_no, payment_no) = state
            .stored_card(call.merchant_idx, cust_code)
            .map(|s| (s.sps_cust_no.clone(), s.sps_payment_no.clone()))
            .unwrap_or_default();
        body.push(Node::Group(
            "res_sps_info",
            vec![
                Node::Leaf("res_sps_cust_no", cust_no),
                Node::Leaf("res_sps_payment_no", payment_no),
            ],
        ));
    }
    Ok(Success {
        sps_transaction_id,
        body,
        process_date: call.now,
    })
}
