//! `MG01-00101-101`: the payment inquiry. Reads, never writes.

use super::{Call, Outcome, Refused, Success};
use crate::state::State;
use crate::xml::Node;

/// `MG01-00101-101` (§6.8, §10.5).
pub(super) fn inquire(call: &Call<'_>, state: &mut State) -> Outcome {
    let rules = &call.config.rules;
    let (payment, ids) = state
        .target_mut(
            call.merchant_idx,
            call.value(&["tracking_id"]),
            call.value(&["sps_transaction_id"]),
            rules,
        )
        .map_err(Refused::from)?;

    let mut detail = Vec::with_capacity(5);
    match call.value(&["response_info_type"]) {
        Some("1") => detail.push(Node::Leaf(
            "cc_number",
            "*".repeat(payment.card.number_length),
        )),
        Some("2") => detail.push(Node::Leaf("cc_number", payment.card.masked_number.clone())),
        _ if rules.inquiry_omits_cc_number_for_type_0 => {}
        _ => detail.push(Node::Leaf("cc_number", String::new())),
    }
    detail.push(Node::Leaf("cc_expiration", payment.card.expiration.clone()));
    detail.push(Node::Leaf("dealings_type", payment.dealings_type.clone()));
    detail.push(Node::Leaf(
        "divide_times",
        payment.divide_times.clone().unwrap_or_default(),
    ));
    detail.push(Node::Leaf("bonus_details_times", String::new()));

    let mut info = vec![
        Node::Group("res_pay_method_info_detail", detail),
        Node::Leaf("cc_company_code", payment.cc_company_code.clone()),
    ];
    if call.flag(&["pay_option_manage", "cardbrand_return_flg"]) {
        info.push(Node::Leaf(
            "cardbrand_code",
            payment.card.brand.code().to_owned(),
        ));
    }
    info.push(Node::Leaf("recognized_no", payment.recognized_no.clone()));
    info.push(Node::Leaf(
        "commit_status",
        u8::from(payment.commit_status).to_string(),
    ));
    info.push(Node::Leaf(
        "payment_status",
        payment.payment_status.code().to_string(),
    ));

    let sps_transaction_id = call.new_transaction_id(ids);
    Ok(Success {
        sps_transaction_id,
        body: vec![
            Node::Leaf("res_status", "0".to_owned()),
            Node::Group("res_pay_method_info", info),
        ],
        process_date: call.now,
    })
}
