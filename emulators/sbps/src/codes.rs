//! SBPS error codes: `mmm` (payment method) + `tt` (error type) + `iii` (item), §8.1.
//!
//! The method part always comes from the request's function id, so rules and configuration
//! speak in [`ErrorReason`]s (type + item) and the pipeline prefixes the method when it replies.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A configured error code that is not of the SBPS shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Not five ASCII letters or digits (two for the type, three for the item).
    #[error("an error reason is 2 type + 3 item characters, e.g. \"41999\"; got {0:?}")]
    BadReason(String),
    /// Not eight ASCII letters or digits.
    #[error("an error code is 3 method + 2 type + 3 item characters, e.g. \"10141999\"; got {0:?}")]
    BadCode(String),
}

/// The type and item of an error code (`"41999"` in `10141999`), without the payment method.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ErrorReason([u8; 5]);

impl ErrorReason {
    /// Builds a reason from a type and an item, e.g. `ErrorReason::new(b"41", b"999")`.
    pub const fn new(ty: &[u8; 2], item: &[u8; 3]) -> Self {
        Self([ty[0], ty[1], item[0], item[1], item[2]])
    }

    /// The two-character error type (`"41"`).
    pub fn error_type(&self) -> &str {
        self.as_str().split_at(2).0
    }

    /// The three-character item (`"999"`).
    pub fn item(&self) -> &str {
        self.as_str().split_at(2).1
    }

    /// The five characters as text.
    pub fn as_str(&self) -> &str {
        // Constructed from ASCII only (checked in `parse`; `new` takes byte literals of ASCII).
        std::str::from_utf8(&self.0).unwrap_or("?????")
    }

    /// Parses `"41999"`.
    pub fn parse(text: &str) -> Result<Self, CodeError> {
        let b = text.as_bytes();
        if b.len() != 5 || !b.iter().all(u8::is_ascii_alphanumeric) {
            return Err(CodeError::BadReason(text.to_owned()));
        }
        Ok(Self([b[0], b[1], b[2], b[3], b[4]]))
    }

    /// The full code for payment method `method` (`"101"`).
    pub fn with_method(self, method: &str) -> ErrorCode {
        let m = method.as_bytes();
        let method = if m.len() == 3 && m.iter().all(u8::is_ascii_alphanumeric) {
            [m[0], m[1], m[2]]
        } else {
            *b"999"
        };
        ErrorCode {
            method,
            reason: self,
        }
    }
}

impl fmt::Display for ErrorReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for ErrorReason {
    type Error = CodeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ErrorReason> for String {
    fn from(value: ErrorReason) -> Self {
        value.as_str().to_owned()
    }
}

/// A complete 8-character `res_err_code`, e.g. `10141999`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ErrorCode {
    method: [u8; 3],
    reason: ErrorReason,
}

impl ErrorCode {
    /// Parses `"10141999"`.
    pub fn parse(text: &str) -> Result<Self, CodeError> {
        let b = text.as_bytes();
        if b.len() != 8 || !b.iter().all(u8::is_ascii_alphanumeric) {
            return Err(CodeError::BadCode(text.to_owned()));
        }
        let reason =
            ErrorReason::parse(&text[3..]).map_err(|_| CodeError::BadCode(text.to_owned()))?;
        Ok(Self {
            method: [b[0], b[1], b[2]],
            reason,
        })
    }

    /// The three-character payment method (`"101"` for credit cards).
    pub fn method(&self) -> &str {
        std::str::from_utf8(&self.method).unwrap_or("999")
    }

    /// Type and item.
    pub fn reason(&self) -> ErrorReason {
        self.reason
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.method())?;
        f.write_str(self.reason.as_str())
    }
}

impl TryFrom<String> for ErrorCode {
    type Error = CodeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ErrorCode> for String {
    fn from(value: ErrorCode) -> Self {
        value.to_string()
    }
}

/// Error types (§8.2, §8.3).
pub mod types {
    /// Malformed XML.
    pub const MALFORMED: &[u8; 2] = b"00";
    /// Unknown API request id.
    pub const UNKNOWN_ID: &[u8; 2] = b"02";
    /// Required field missing.
    pub const REQUIRED: &[u8; 2] = b"03";
    /// Invalid characters or data type.
    pub const CHARSET: &[u8; 2] = b"04";
    /// Too many digits or bytes.
    pub const LENGTH: &[u8; 2] = b"05";
    /// Bad format.
    pub const FORMAT: &[u8; 2] = b"06";
    /// Value outside the defined set.
    pub const VALUE: &[u8; 2] = b"07";
    /// Hash mismatch.
    pub const HASH: &[u8; 2] = b"09";
    /// Request expired.
    pub const EXPIRED: &[u8; 2] = b"10";
    /// Parameter not allowed (re-authorization).
    pub const NOT_ALLOWED: &[u8; 2] = b"13";
    /// No merchant configuration for merchant_id + service_id.
    pub const NO_MERCHANT: &[u8; 2] = b"14";
    /// SBPS system error.
    pub const SYSTEM: &[u8; 2] = b"80";
}

/// Item codes (§8.3, third part of the code).
pub mod items {
    /// Request id.
    pub const REQUEST_ID: &[u8; 3] = b"000";
    /// `merchant_id`.
    pub const MERCHANT_ID: &[u8; 3] = b"001";
    /// `service_id`.
    pub const SERVICE_ID: &[u8; 3] = b"002";
    /// `cust_code`.
    pub const CUST_CODE: &[u8; 3] = b"003";
    /// `order_id`.
    pub const ORDER_ID: &[u8; 3] = b"004";
    /// `item_id`.
    pub const ITEM_ID: &[u8; 3] = b"005";
    /// `item_name`.
    pub const ITEM_NAME: &[u8; 3] = b"006";
    /// `tax`.
    pub const TAX: &[u8; 3] = b"007";
    /// `amount`.
    pub const AMOUNT: &[u8; 3] = b"008";
    /// `order_rowno`.
    pub const ORDER_ROWNO: &[u8; 3] = b"013";
    /// `request_date`.
    pub const REQUEST_DATE: &[u8; 3] = b"023";
    /// `limit_second`.
    pub const LIMIT_SECOND: &[u8; 3] = b"024";
    /// `sps_hashcode`.
    pub const HASHCODE: &[u8; 3] = b"025";
    /// Target `sps_transaction_id`.
    pub const SPS_TRANSACTION_ID: &[u8; 3] = b"026";
    /// Target `tracking_id`.
    pub const TRACKING_ID: &[u8; 3] = b"027";
    /// `encrypted_flg`.
    pub const ENCRYPTED_FLG: &[u8; 3] = b"028";
    /// `processing_datetime`.
    pub const PROCESSING_DATETIME: &[u8; 3] = b"029";
    /// `sps_cust_info_return_flg`.
    pub const CUST_INFO_RETURN_FLG: &[u8; 3] = b"030";
    /// `cc_number`.
    pub const CC_NUMBER: &[u8; 3] = b"200";
    /// `cc_expiration`.
    pub const CC_EXPIRATION: &[u8; 3] = b"201";
    /// `dealings_type`.
    pub const DEALINGS_TYPE: &[u8; 3] = b"202";
    /// `divide_times`.
    pub const DIVIDE_TIMES: &[u8; 3] = b"203";
    /// `cust_manage_flg` (store-card flag).
    pub const CUST_MANAGE_FLG: &[u8; 3] = b"205";
    /// `security_code`.
    pub const SECURITY_CODE: &[u8; 3] = b"209";
    /// `pay_info_control_type`.
    pub const PAY_INFO_CONTROL_TYPE: &[u8; 3] = b"214";
    /// `pay_info_detail_control_type`.
    pub const PAY_INFO_DETAIL_CONTROL_TYPE: &[u8; 3] = b"215";
    /// `cardbrand_return_flg`.
    pub const CARDBRAND_RETURN_FLG: &[u8; 3] = b"217";
    /// `token`.
    pub const TOKEN: &[u8; 3] = b"227";
    /// `token_key`.
    pub const TOKEN_KEY: &[u8; 3] = b"228";
    /// No specific item. Business-rule errors always use it (§8.3), and so does validation of
    /// fields whose item code the protocol notes did not find (`free1..3`, `dtl_*`, `resrv1..3`,
    /// `response_info_type`).
    pub const NONE: &[u8; 3] = b"999";
}

/// Business-rule reasons of the credit functions (§8.3, §10.5); all use item `999`.
pub mod reasons {
    use super::{ErrorReason, items, types};

    const fn business(ty: &[u8; 2]) -> ErrorReason {
        ErrorReason::new(ty, b"999")
    }

    /// 22: card limit exceeded.
    pub const LIMIT_EXCEEDED: ErrorReason = business(b"22");
    /// 23: card unusable.
    pub const CARD_UNUSABLE: ErrorReason = business(b"23");
    /// 27: card number or expiry wrong.
    pub const CARD_NUMBER_OR_EXPIRY: ErrorReason = business(b"27");
    /// 37: the merchant is on automatic sales; a sales request is unnecessary.
    pub const AUTO_SALES: ErrorReason = business(b"37");
    /// 40: sales on a cancelled authorization.
    pub const SALES_ON_CANCELLED: ErrorReason = business(b"40");
    /// 41: sales already completed.
    pub const ALREADY_SOLD: ErrorReason = business(b"41");
    /// 42: processing_datetime outside the sales window.
    pub const SALES_WINDOW: ErrorReason = business(b"42");
    /// 45: refund of a cancelled authorization.
    pub const REFUND_ON_CANCELLED: ErrorReason = business(b"45");
    /// 46: already refunded.
    pub const ALREADY_REFUNDED: ErrorReason = business(b"46");
    /// 49: cancel (00305) that must be a refund.
    pub const CANCEL_NEEDS_REFUND: ErrorReason = business(b"49");
    /// 52: already cancelled (00305).
    pub const ALREADY_CANCELLED: ErrorReason = business(b"52");
    /// 59: automatic sales: commit first, then refund.
    pub const AUTO_SALES_COMMIT_FIRST: ErrorReason = business(b"59");
    /// 60: already processed, commit cannot be done.
    pub const COMMIT_NOT_POSSIBLE: ErrorReason = business(b"60");
    /// 61: security code wrong.
    pub const SECURITY_CODE_WRONG: ErrorReason = business(b"61");
    /// 79: amount exceeds the authorized amount.
    pub const OVER_AUTHORIZED: ErrorReason = business(b"79");
    /// 95: customer (card storage) state inconsistent, e.g. no stored card.
    pub const NO_STORED_CARD: ErrorReason = business(b"95");
    /// 96: duplicate request (same order_id).
    pub const DUPLICATE_ORDER_ID: ErrorReason = business(b"96");
    /// K0: partial refund before sales.
    pub const NOT_SOLD_YET: ErrorReason = business(b"K0");
    /// K1: refunds would exceed the sales amount.
    pub const OVER_REFUND: ErrorReason = business(b"K1");
    /// T1: token decryption failed (unknown token).
    pub const TOKEN_INVALID: ErrorReason = business(b"T1");
    /// T2: token expired.
    pub const TOKEN_EXPIRED: ErrorReason = business(b"T2");
    /// 09: hash mismatch.
    pub const HASH_MISMATCH: ErrorReason = ErrorReason::new(types::HASH, items::NONE);
    /// 10: request expired.
    pub const REQUEST_EXPIRED: ErrorReason = ErrorReason::new(types::EXPIRED, items::NONE);
    /// 00: malformed XML (sent with method `999`, the method being unknown).
    pub const MALFORMED_XML: ErrorReason = ErrorReason::new(types::MALFORMED, items::NONE);
    /// 14 + 001: merchant_id does not match a configured merchant.
    pub const MERCHANT_ID_MISMATCH: ErrorReason =
        ErrorReason::new(types::NO_MERCHANT, items::MERCHANT_ID);
    /// 14 + 002: service_id does not match.
    pub const SERVICE_ID_MISMATCH: ErrorReason =
        ErrorReason::new(types::NO_MERCHANT, items::SERVICE_ID);
    /// 11 + 026: no payment for this sps_transaction_id.
    pub const UNKNOWN_SPS_TRANSACTION_ID: ErrorReason = ErrorReason::new(b"11", b"026");
    /// 12 + 027: no payment for this tracking_id.
    pub const UNKNOWN_TRACKING_ID: ErrorReason = ErrorReason::new(b"12", b"027");
    /// 80: SBPS system error. What the gateway-error faults answer by default: a code that says
    /// SBPS failed without saying whether it had already acted (§9.3 warns to inquire after 8x).
    pub const SYSTEM_ERROR: ErrorReason = ErrorReason::new(types::SYSTEM, items::NONE);
    /// 02 + 000: unknown API request id.
    pub const UNKNOWN_FUNCTION: ErrorReason =
        ErrorReason::new(types::UNKNOWN_ID, items::REQUEST_ID);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_and_code_round_trip() {
        let r = ErrorReason::parse("K1999").unwrap();
        assert_eq!(r.error_type(), "K1");
        assert_eq!(r.item(), "999");
        assert_eq!(r.with_method("101").to_string(), "101K1999");
        assert_eq!(
            reasons::ALREADY_SOLD.with_method("101").to_string(),
            "10141999"
        );
        let c = ErrorCode::parse("99900999").unwrap();
        assert_eq!(c.method(), "999");
        assert_eq!(c.reason().as_str(), "00999");
        assert!(ErrorCode::parse("1014199").is_err());
        assert!(ErrorReason::parse("4199!").is_err());
        assert_eq!(
            reasons::HASH_MISMATCH.with_method("x").to_string(),
            "99909999"
        );
    }

    #[test]
    fn serde_uses_the_plain_text() {
        let json = serde_json::to_string(&reasons::UNKNOWN_TRACKING_ID).unwrap();
        assert_eq!(json, "\"12027\"");
        let back: ErrorReason = serde_json::from_str(&json).unwrap();
        assert_eq!(back, reasons::UNKNOWN_TRACKING_ID);
        assert!(serde_json::from_str::<ErrorCode>("\"1\"").is_err());
    }
}
