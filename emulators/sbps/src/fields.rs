//! Per-function field specifications and the validation of §10.3 step 4.
//!
//! Each field is checked in the order required (03) → characters (04) → length (05) →
//! format (06) → allowed values (07), fields in the order SBPS lists them, first failure wins.
//! Fields that travel encoded (base64 M-type, or 3DES when `encrypted_flg=1`) only get the
//! presence check here; their content is checked once decoded ([`validate_decoded`]).
//!
//! Lengths come from the reference clients' validation (§6.1). Where the protocol notes found no item
//! code for a field, errors use item `999`.

use std::sync::OnceLock;

use crate::codec::sjis_len;
use crate::codes::{ErrorReason, items, types};
use crate::function::Function;
use crate::time::{JstDateTime, parse_year_month};
use crate::xml::Request;

/// Group whose children are 3DES-encrypted when `encrypted_flg=1` (§5.2).
pub(crate) const ENCRYPTED_GROUP: &str = "pay_method_info";

/// Names of the M-type fields that travel as base64 of Shift_JIS (§5.1).
pub(crate) const MULTIBYTE_FIELDS: [&str; 8] = [
    "item_name",
    "free1",
    "free2",
    "free3",
    "dtl_item_name",
    "resrv1",
    "resrv2",
    "resrv3",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// ASCII digits only; spaces are errors (DOC rule).
    Digits,
    /// Printable ASCII, spaces kept.
    Ascii,
    /// Any Shift_JIS text without control characters; length in Shift_JIS bytes.
    Text,
    /// `YYYYMMDDhhmmss`.
    DateTime,
    /// `YYYYMM`.
    YearMonth,
    /// Hex digits.
    Hex,
}

#[derive(Clone, Copy, Debug)]
struct Field {
    path: &'static [&'static str],
    item: &'static [u8; 3],
    kind: Kind,
    required: bool,
    /// The field may be missing when this other field has a value (tracking_id vs
    /// sps_transaction_id, §10.4).
    unless: Option<&'static [&'static str]>,
    min_len: usize,
    max_len: usize,
    allowed: &'static [&'static str],
    range: Option<(u64, u64)>,
}

impl Field {
    const fn new(
        path: &'static [&'static str],
        item: &'static [u8; 3],
        kind: Kind,
        max_len: usize,
    ) -> Self {
        Self {
            path,
            item,
            kind,
            required: false,
            unless: None,
            min_len: 0,
            max_len,
            allowed: &[],
            range: None,
        }
    }
    const fn flag(path: &'static [&'static str], item: &'static [u8; 3]) -> Self {
        Self::new(path, item, Kind::Digits, 1).allowed(&["0", "1"])
    }
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn unless(mut self, other: &'static [&'static str]) -> Self {
        self.unless = Some(other);
        self
    }
    const fn min_len(mut self, n: usize) -> Self {
        self.min_len = n;
        self
    }
    const fn exact(self) -> Self {
        let n = self.max_len;
        self.min_len(n)
    }
    const fn allowed(mut self, values: &'static [&'static str]) -> Self {
        self.allowed = values;
        self
    }
    const fn range(mut self, lo: u64, hi: u64) -> Self {
        self.range = Some((lo, hi));
        self
    }
    fn name(&self) -> &'static str {
        self.path.last().copied().unwrap_or_default()
    }
    fn is_multibyte(&self) -> bool {
        MULTIBYTE_FIELDS.contains(&self.name())
    }
    fn travels_encoded(&self, encrypted: bool) -> bool {
        self.is_multibyte() || (encrypted && self.path.first() == Some(&ENCRYPTED_GROUP))
    }
    fn reason(&self, ty: &[u8; 2]) -> ErrorReason {
        ErrorReason::new(ty, self.item)
    }
}

const MERCHANT_ID: Field = Field::new(&["merchant_id"], items::MERCHANT_ID, Kind::Digits, 5)
    .exact()
    .required();
const SERVICE_ID: Field = Field::new(&["service_id"], items::SERVICE_ID, Kind::Digits, 3)
    .exact()
    .required();
const SPS_TRANSACTION_ID: Field = Field::new(
    &["sps_transaction_id"],
    items::SPS_TRANSACTION_ID,
    Kind::Ascii,
    32,
);
const TARGET_TRACKING_ID: Field = Field::new(&["tracking_id"], items::TRACKING_ID, Kind::Ascii, 14)
    .required()
    .unless(&["sps_transaction_id"]);
const SOURCE_TRACKING_ID: Field =
    Field::new(&["tracking_id"], items::TRACKING_ID, Kind::Ascii, 14).required();
const PROCESSING_DATETIME: Field = Field::new(
    &["processing_datetime"],
    items::PROCESSING_DATETIME,
    Kind::DateTime,
    14,
);
const CUST_CODE: Field = Field::new(&["cust_code"], items::CUST_CODE, Kind::Text, 64).required();
const ORDER_ID: Field = Field::new(&["order_id"], items::ORDER_ID, Kind::Ascii, 38).required();
const ITEM_ID: Field = Field::new(&["item_id"], items::ITEM_ID, Kind::Ascii, 32).required();
const ITEM_NAME: Field = Field::new(&["item_name"], items::ITEM_NAME, Kind::Text, 40);
const TAX: Field = Field::new(&["tax"], items::TAX, Kind::Digits, 7);
const AMOUNT: Field = Field::new(&["amount"], items::AMOUNT, Kind::Digits, 7)
    .required()
    .range(1, 9_999_999);
const FREE1: Field = Field::new(&["free1"], items::NONE, Kind::Text, 20);
const FREE2: Field = Field::new(&["free2"], items::NONE, Kind::Text, 20);
const FREE3: Field = Field::new(&["free3"], items::NONE, Kind::Text, 20);
const ORDER_ROWNO: Field = Field::new(&["order_rowno"], items::ORDER_ROWNO, Kind::Digits, 2);
const CUST_INFO_RETURN_FLG: Field =
    Field::flag(&["sps_cust_info_return_flg"], items::CUST_INFO_RETURN_FLG);
const DTL_ROWNO: Field = Field::new(&["dtls", "dtl", "dtl_rowno"], items::NONE, Kind::Digits, 3);
const DTL_ITEM_ID: Field = Field::new(
    &["dtls", "dtl", "dtl_item_id"],
    items::NONE,
    Kind::Ascii,
    32,
);
const DTL_ITEM_NAME: Field = Field::new(
    &["dtls", "dtl", "dtl_item_name"],
    items::NONE,
    Kind::Text,
    40,
);
const DTL_ITEM_COUNT: Field = Field::new(
    &["dtls", "dtl", "dtl_item_count"],
    items::NONE,
    Kind::Digits,
    6,
);
const DTL_TAX: Field = Field::new(&["dtls", "dtl", "dtl_tax"], items::NONE, Kind::Digits, 7);
const DTL_AMOUNT: Field = Field::new(&["dtls", "dtl", "dtl_amount"], items::NONE, Kind::Digits, 7);
const CC_NUMBER: Field = Field::new(
    &["pay_method_info", "cc_number"],
    items::CC_NUMBER,
    Kind::Digits,
    16,
)
.min_len(12);
const CC_EXPIRATION: Field = Field::new(
    &["pay_method_info", "cc_expiration"],
    items::CC_EXPIRATION,
    Kind::YearMonth,
    6,
)
.exact();
const SECURITY_CODE: Field = Field::new(
    &["pay_method_info", "security_code"],
    items::SECURITY_CODE,
    Kind::Digits,
    4,
)
.min_len(3);
const DEALINGS_TYPE: Field = Field::new(
    &["pay_method_info", "dealings_type"],
    items::DEALINGS_TYPE,
    Kind::Digits,
    2,
)
.allowed(&["10", "21", "61", "80"]);
const DIVIDE_TIMES: Field = Field::new(
    &["pay_method_info", "divide_times"],
    items::DIVIDE_TIMES,
    Kind::Digits,
    3,
);
const RESRV1: Field = Field::new(&["pay_method_info", "resrv1"], items::NONE, Kind::Text, 100);
const RESRV2: Field = Field::new(&["pay_method_info", "resrv2"], items::NONE, Kind::Text, 100);
const RESRV3: Field = Field::new(&["pay_method_info", "resrv3"], items::NONE, Kind::Text, 100);
// Real tokens are long hex strings (216 characters in the recorded traffic).
const TOKEN: Field = Field::new(
    &["pay_option_manage", "token"],
    items::TOKEN,
    Kind::Ascii,
    512,
);
const TOKEN_KEY: Field = Field::new(
    &["pay_option_manage", "token_key"],
    items::TOKEN_KEY,
    Kind::Ascii,
    512,
);
const CUST_MANAGE_FLG: Field = Field::flag(
    &["pay_option_manage", "cust_manage_flg"],
    items::CUST_MANAGE_FLG,
);
const CARDBRAND_RETURN_FLG: Field = Field::flag(
    &["pay_option_manage", "cardbrand_return_flg"],
    items::CARDBRAND_RETURN_FLG,
);
const PAY_INFO_CONTROL_TYPE: Field = Field::new(
    &["pay_option_manage", "pay_info_control_type"],
    items::PAY_INFO_CONTROL_TYPE,
    Kind::Ascii,
    1,
)
.required()
.allowed(&["B", "M", "R"]);
const PAY_INFO_DETAIL_CONTROL_TYPE: Field = Field::new(
    &["pay_option_manage", "pay_info_detail_control_type"],
    items::PAY_INFO_DETAIL_CONTROL_TYPE,
    Kind::Ascii,
    1,
)
.required()
.allowed(&["B", "R"]);
const OPTION_AMOUNT: Field = Field::new(
    &["pay_option_manage", "amount"],
    items::AMOUNT,
    Kind::Digits,
    7,
)
.range(1, 9_999_999);
const RESPONSE_INFO_TYPE: Field =
    Field::new(&["response_info_type"], items::NONE, Kind::Digits, 1).allowed(&["0", "1", "2"]);
const ENCRYPTED_FLG: Field = Field::flag(&["encrypted_flg"], items::ENCRYPTED_FLG);
const REQUEST_DATE: Field =
    Field::new(&["request_date"], items::REQUEST_DATE, Kind::DateTime, 14).required();
const LIMIT_SECOND: Field = Field::new(&["limit_second"], items::LIMIT_SECOND, Kind::Digits, 4);
const HASHCODE: Field = Field::new(&["sps_hashcode"], items::HASHCODE, Kind::Hex, 40)
    .exact()
    .required();

const TAIL: [Field; 4] = [ENCRYPTED_FLG, REQUEST_DATE, LIMIT_SECOND, HASHCODE];

/// Fields shared by every authorization after the ids, up to `pay_method_info`.
const ORDER_FIELDS: [Field; 17] = [
    CUST_CODE,
    ORDER_ID,
    ITEM_ID,
    ITEM_NAME,
    TAX,
    AMOUNT,
    FREE1,
    FREE2,
    FREE3,
    ORDER_ROWNO,
    CUST_INFO_RETURN_FLG,
    DTL_ROWNO,
    DTL_ITEM_ID,
    DTL_ITEM_NAME,
    DTL_ITEM_COUNT,
    DTL_TAX,
    DTL_AMOUNT,
];

/// The field list of `function`, built once.
fn fields_of(function: Function) -> &'static [Field] {
    static SPECS: OnceLock<Vec<(Function, Vec<Field>)>> = OnceLock::new();
    let specs = SPECS.get_or_init(|| {
        Function::ALL
            .into_iter()
            .map(|f| (f, build_fields(f)))
            .collect()
    });
    specs
        .iter()
        .find(|(f, _)| *f == function)
        .map_or(&[], |(_, fields)| fields.as_slice())
}

fn build_fields(function: Function) -> Vec<Field> {
    let mut fields = vec![MERCHANT_ID, SERVICE_ID];
    let card_data = [
        CC_NUMBER,
        CC_EXPIRATION,
        SECURITY_CODE,
        DEALINGS_TYPE,
        DIVIDE_TIMES,
        RESRV1,
        RESRV2,
        RESRV3,
    ];
    match function {
        Function::AuthorizeWithToken
        | Function::AuthorizeWithCard
        | Function::AuthorizeLegacy
        | Function::ReauthorizeWithToken
        | Function::ReauthorizeWithCard => {
            let reauth = matches!(
                function,
                Function::ReauthorizeWithToken | Function::ReauthorizeWithCard
            );
            if reauth {
                fields.push(SOURCE_TRACKING_ID);
            }
            fields.extend(ORDER_FIELDS);
            for mut f in card_data {
                // The card data is the whole point of 00111/00101; a reauth may reuse the old
                // payment's card and details instead (control type B), checked when dispatched.
                let card_field = f.item == items::CC_NUMBER || f.item == items::CC_EXPIRATION;
                if (card_field
                    && matches!(
                        function,
                        Function::AuthorizeWithCard | Function::AuthorizeLegacy
                    ))
                    || (f.item == items::DEALINGS_TYPE && !reauth)
                {
                    f = f.required();
                }
                fields.push(f);
            }
            if !function.takes_card_data() {
                fields.extend([TOKEN, TOKEN_KEY]);
            }
            fields.extend([CUST_MANAGE_FLG, CARDBRAND_RETURN_FLG]);
            if reauth {
                fields.extend([PAY_INFO_CONTROL_TYPE, PAY_INFO_DETAIL_CONTROL_TYPE]);
            }
        }
        Function::Commit | Function::CancelOrRefund | Function::Cancel => {
            fields.extend([SPS_TRANSACTION_ID, TARGET_TRACKING_ID, PROCESSING_DATETIME]);
        }
        Function::Sales => {
            fields.extend([
                SPS_TRANSACTION_ID,
                TARGET_TRACKING_ID,
                PROCESSING_DATETIME,
                OPTION_AMOUNT,
            ]);
        }
        Function::PartialRefund => {
            fields.extend([
                SPS_TRANSACTION_ID,
                TARGET_TRACKING_ID,
                PROCESSING_DATETIME,
                OPTION_AMOUNT.required(),
            ]);
        }
        Function::Inquiry => {
            fields.extend([
                SPS_TRANSACTION_ID,
                TARGET_TRACKING_ID,
                RESPONSE_INFO_TYPE,
                CARDBRAND_RETURN_FLG,
            ]);
        }
    }
    fields.extend(TAIL);
    fields
}

/// §10.3 step 4: presence of every field, content of the fields that travel in plain text.
pub(crate) fn validate_plain(
    function: Function,
    request: &Request,
    encrypted: bool,
) -> Result<(), ErrorReason> {
    for field in fields_of(function) {
        let elements = request.find_all(field.path);
        let present = elements.iter().any(|e| !e.value.trim().is_empty());
        let excused = field
            .unless
            .is_some_and(|other| request.value(other).is_some());
        if field.required && !present && !excused {
            return Err(field.reason(types::REQUIRED));
        }
        if field.travels_encoded(encrypted) {
            continue;
        }
        for element in elements {
            check_content(field, &element.value)?;
        }
    }
    Ok(())
}

/// §10.3 step 6, after decoding: content of the base64 and encrypted fields, then the rules
/// that tie two fields together.
pub(crate) fn validate_decoded(
    function: Function,
    request: &Request,
    encrypted: bool,
) -> Result<(), ErrorReason> {
    for field in fields_of(function) {
        if !field.travels_encoded(encrypted) {
            continue;
        }
        for element in request.find_all(field.path) {
            check_content(field, &element.value)?;
        }
    }
    if request.value(DEALINGS_TYPE.path) == Some("61") && request.value(DIVIDE_TIMES.path).is_none()
    {
        // Installments need a number of installments.
        return Err(DIVIDE_TIMES.reason(types::REQUIRED));
    }
    match (request.value(TOKEN.path), request.value(TOKEN_KEY.path)) {
        (Some(_), None) => Err(TOKEN_KEY.reason(types::REQUIRED)),
        (None, Some(_)) => Err(TOKEN.reason(types::REQUIRED)),
        _ => Ok(()),
    }
}

/// Item code for a decoding failure of the field named `name` (§10.3 step 6: `mmm04<item>`).
pub(crate) fn item_of(name: &str) -> &'static [u8; 3] {
    match name {
        "cc_number" => items::CC_NUMBER,
        "cc_expiration" => items::CC_EXPIRATION,
        "security_code" => items::SECURITY_CODE,
        "dealings_type" => items::DEALINGS_TYPE,
        "divide_times" => items::DIVIDE_TIMES,
        "item_name" => items::ITEM_NAME,
        _ => items::NONE,
    }
}

fn check_content(field: &Field, value: &str) -> Result<(), ErrorReason> {
    if value.is_empty() {
        return Ok(());
    }
    // DOC: tab, LF and CR are errors inside any value; spaces are errors in numeric values.
    let chars_ok = match field.kind {
        Kind::Digits | Kind::DateTime | Kind::YearMonth => {
            value.bytes().all(|b| b.is_ascii_digit())
        }
        Kind::Hex => value.bytes().all(|b| b.is_ascii_hexdigit()),
        Kind::Ascii => value.bytes().all(|b| (b' '..=b'~').contains(&b)),
        Kind::Text => !value.chars().any(char::is_control),
    };
    if !chars_ok {
        return Err(field.reason(types::CHARSET));
    }
    let len = if field.kind == Kind::Text {
        sjis_len(value)
    } else {
        value.len()
    };
    if len > field.max_len {
        return Err(field.reason(types::LENGTH));
    }
    if len < field.min_len {
        return Err(field.reason(types::FORMAT));
    }
    let format_ok = match field.kind {
        Kind::DateTime => JstDateTime::parse(value).is_ok(),
        Kind::YearMonth => parse_year_month(value).is_some(),
        _ => true,
    };
    if !format_ok {
        return Err(field.reason(types::FORMAT));
    }
    if !field.allowed.is_empty() && !field.allowed.contains(&value) {
        return Err(field.reason(types::VALUE));
    }
    if let Some((lo, hi)) = field.range {
        let in_range = value.parse::<u64>().is_ok_and(|n| (lo..=hi).contains(&n));
        if !in_range {
            return Err(field.reason(types::VALUE));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse_request;

    fn req(body: &str) -> Request {
        parse_request(format!("<sps-api-request id='x'>{body}</sps-api-request>").as_bytes())
            .unwrap()
    }

    const HEAD: &str = "<merchant_id>99999</merchant_id><service_id>001</service_id>";
    const TAIL_OK: &str = "<request_date>20240102030405</request_date><sps_hashcode>0123456789abcdef0123456789abcdef01234567</sps_hashcode>";

    fn commit(middle: &str) -> Result<(), ErrorReason> {
        validate_plain(
            Function::Commit,
            &req(&format!("{HEAD}{middle}{TAIL_OK}")),
            false,
        )
    }

    #[test]
    fn tracking_id_is_required_unless_a_transaction_id_names_the_payment() {
        assert_eq!(commit("").unwrap_err().as_str(), "03027");
        assert!(commit("<tracking_id>00000000000001</tracking_id>").is_ok());
        assert!(
            commit("<sps_transaction_id>C99999001ST0100131101000000001</sps_transaction_id>")
                .is_ok()
        );
        assert_eq!(
            commit("<tracking_id>000000000000001</tracking_id>")
                .unwrap_err()
                .as_str(),
            "05027"
        );
    }

    #[test]
    fn checks_run_in_the_documented_order() {
        let t = "<tracking_id>1</tracking_id>";
        assert_eq!(
            commit(&format!(
                "{t}<processing_datetime>2024010203040</processing_datetime>"
            ))
            .unwrap_err()
            .as_str(),
            "06029"
        );
        assert_eq!(
            commit(&format!(
                "{t}<processing_datetime>20241302030405</processing_datetime>"
            ))
            .unwrap_err()
            .as_str(),
            "06029"
        );
        assert_eq!(
            commit(&format!(
                "{t}<processing_datetime>2024 102030405</processing_datetime>"
            ))
            .unwrap_err()
            .as_str(),
            "04029"
        );
        assert_eq!(
            commit(&format!(
                "{t}<processing_datetime>202401020304050</processing_datetime>"
            ))
            .unwrap_err()
            .as_str(),
            "05029"
        );
        let bad_merchant =
            format!("<merchant_id>9999a</merchant_id><service_id>001</service_id>{t}{TAIL_OK}");
        assert_eq!(
            validate_plain(Function::Commit, &req(&bad_merchant), false)
                .unwrap_err()
                .as_str(),
            "04001"
        );
        let tab = format!("{HEAD}<tracking_id>1\t</tracking_id>{TAIL_OK}");
        assert_eq!(
            validate_plain(Function::Commit, &req(&tab), false)
                .unwrap_err()
                .as_str(),
            "04027"
        );
    }

    #[test]
    fn dealings_type_length_is_checked_before_its_value() {
        // The recorded sandbox answer to dealings_type 1000 was 10105202.
        let body = format!(
            "{HEAD}<cust_code>c</cust_code><order_id>o</order_id><item_id>i</item_id><amount>1</amount>\
             <pay_method_info><cc_number>4242424242424242</cc_number><cc_expiration>203001</cc_expiration>\
             <dealings_type>1000</dealings_type></pay_method_info>{TAIL_OK}"
        );
        assert_eq!(
            validate_plain(Function::AuthorizeWithCard, &req(&body), false)
                .unwrap_err()
                .as_str(),
            "05202"
        );
        let body = body.replace("1000", "11");
        assert_eq!(
            validate_plain(Function::AuthorizeWithCard, &req(&body), false)
                .unwrap_err()
                .as_str(),
            "07202"
        );
        // Encrypted card data is only checked once decrypted.
        let body = body.replace("<dealings_type>11", "<dealings_type>xx==");
        assert!(validate_plain(Function::AuthorizeWithCard, &req(&body), true).is_ok());
    }

    #[test]
    fn amounts_must_be_in_range_and_token_needs_its_key() {
        let t = format!("{HEAD}<tracking_id>1</tracking_id>");
        let refund = |amount: &str| {
            validate_plain(
                Function::PartialRefund,
                &req(&format!(
                    "{t}<pay_option_manage>{amount}</pay_option_manage>{TAIL_OK}"
                )),
                false,
            )
        };
        assert_eq!(refund("").unwrap_err().as_str(), "03008");
        assert_eq!(refund("<amount>0</amount>").unwrap_err().as_str(), "07008");
        assert_eq!(
            refund("<amount>10000000</amount>").unwrap_err().as_str(),
            "05008"
        );
        assert!(refund("<amount>1</amount>").is_ok());
        let token_only = req(&format!(
            "{HEAD}<pay_option_manage><token>T</token></pay_option_manage>"
        ));
        assert_eq!(
            validate_decoded(Function::AuthorizeWithToken, &token_only, false)
                .unwrap_err()
                .as_str(),
            "03228"
        );
    }
}
