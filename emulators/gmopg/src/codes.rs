//! GMO-PG's error replies (`docs/protocols/gmopg.md` §5): `ErrCode=…|…&ErrInfo=…|…`, one entry
//! per problem found, and the codes this emulator answers with the English text of S1's list
//! (`lib/gmo/const.rb`, `API_ERROR_MESSAGES_EN`), for the catalogue and the dump only: the wire
//! carries codes, never messages.

use serde::Serialize;

/// The codes the emulator answers, with S1's English message.
pub const CODES: &[(&str, &str)] = &[
    ("E00000001", "HTTP method is not POST."),
    (
        "E00000003",
        "The Content-type item of the HTTP request header is incorrect.",
    ),
    (
        "E00000010",
        "The HTTP content is empty or the format is incorrect.",
    ),
    ("E01010001", "Shop ID not specified"),
    ("E01020001", "Shop Password not specified"),
    ("E01030002", "Shop ID and Password are invalid"),
    ("E01040001", "Order ID not specified"),
    ("E01040003", "Order ID too long"),
    ("E01040010", "Order ID previously used"),
    (
        "E01040013",
        "Order ID contains characters other than a-z, A-Z, 0-9 and -",
    ),
    ("E01050001", "Process Classification not specified"),
    ("E01050002", "Process Classification is invalid"),
    ("E01060001", "Amount not specified"),
    ("E01060005", "Amount exceeds maximum allowed"),
    ("E01060006", "Amount contains non-numeric characters"),
    (
        "E01060010",
        "Capture Amount does not match Authorization Amount",
    ),
    ("E01070005", "Tax/Shipping exceeds maximum allowed"),
    ("E01070006", "Tax/Shipping contains non-numeric characters"),
    ("E01090001", "Access ID not specified"),
    ("E01090008", "Access ID incorrectly formatted"),
    ("E01100001", "Access Password not specified"),
    ("E01100008", "Access Password incorrectly formatted"),
    ("E01110002", "Access ID and Password are invalid"),
    ("E01170001", "Card Number not specified"),
    ("E01170006", "Card Number contains non-numeric characters"),
    ("E01170011", "Card Number not 10-16 characters in length"),
    ("E01180001", "Expiration Date not specified"),
    (
        "E01180003",
        "Expiration Date is not four characters in length",
    ),
    (
        "E01180006",
        "Expiration Date contains non-numeric characters",
    ),
    ("E01180008", "The expiration date format is incorrect."),
    ("E01260002", "Payment Method is invalid"),
    ("E01270001", "Number of Payments not specified"),
    (
        "E01270006",
        "Number of Payments contains non-numeric characters",
    ),
    ("E01320012", "Client Field 1 too long"),
    ("E01330012", "Client Field 2 too long"),
    ("E01340012", "Client Field 3 too long"),
    ("E01400007", "Client Field Flag is not 1 or 0"),
    ("E01460008", "Security Code incorrectly formatted"),
    ("E01490005", "Amount + Tax/Shipping exceeds maximum allowed"),
    ("E11010001", "Transaction settlement already complete"),
    (
        "E11010002",
        "Transaction settlement is not complete and thus can not be modified",
    ),
    (
        "E11010003",
        "Transaction Process Classification can not be performed",
    ),
    (
        "E11010010",
        "Transaction process can not be performed because transaction is more than 180 days old",
    ),
    ("E90010001", "Duplicate transaction"),
    (
        "E91099997",
        "The requested API does not exist. Please check the URL.",
    ),
    ("42G020000", "Card balance is insufficient"),
    ("42G030000", "Card limit has been exceeded"),
    ("42G120000", "Card is not valid for transactions"),
    ("42G440000", "Security code is incorrect"),
    ("42G550000", "Card limit has been exceeded"),
    ("42G650000", "Card number is incorrect"),
    ("42G830000", "Expiration date is incorrect"),
];

/// S1's message for `info`, if the emulator knows the code.
pub fn message(info: &str) -> Option<&'static str> {
    CODES.iter().find(|(c, _)| *c == info).map(|(_, m)| *m)
}

/// One row of the catalogue (`GET /__emulator__/codes`).
#[derive(Clone, Debug, Serialize)]
pub struct CodeEntry {
    /// `ErrCode` (the class).
    pub err_code: String,
    /// `ErrInfo` (the detail).
    pub err_info: &'static str,
    /// S1's English message.
    pub message: &'static str,
}

/// Every code the emulator answers.
pub fn catalogue() -> Vec<CodeEntry> {
    CODES
        .iter()
        .map(|(info, message)| CodeEntry {
            err_code: err_code(info),
            err_info: info,
            message,
        })
        .collect()
}

/// The `ErrCode` (class) of an `ErrInfo`: `G` and two digits for a card company's `42G…`
/// decline (`42G020000` → `G02`, §5.2), else its first three characters (`E01090008` → `E01`).
pub fn err_code(info: &str) -> String {
    match info.strip_prefix("42G") {
        Some(rest) if rest.chars().count() >= 2 => {
            format!("G{}", rest.chars().take(2).collect::<String>())
        }
        _ => info.chars().take(3).collect(),
    }
}

/// An error reply: the `ErrInfo` of every problem found, in the order found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GmoError {
    /// The `ErrInfo` entries.
    pub infos: Vec<String>,
}

impl GmoError {
    /// One problem.
    pub fn one(info: &str) -> GmoError {
        GmoError {
            infos: vec![info.to_owned()],
        }
    }

    /// Adds a problem unless it is already listed.
    pub fn push(&mut self, info: &str) {
        if !self.infos.iter().any(|i| i == info) {
            self.infos.push(info.to_owned());
        }
    }

    /// No problem found.
    pub fn is_empty(&self) -> bool {
        self.infos.is_empty()
    }

    /// `Err(self)` when a problem was found.
    pub fn check(self) -> Result<(), GmoError> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }

    /// The `ErrCode` list, parallel to [`GmoError::infos`].
    pub fn codes(&self) -> Vec<String> {
        self.infos.iter().map(|i| err_code(i)).collect()
    }

    /// `ErrCode=a|b&ErrInfo=x|y` as text.
    pub fn line(&self) -> String {
        format!(
            "ErrCode={}&ErrInfo={}",
            self.codes().join("|"),
            self.infos.join("|")
        )
    }

    /// Whether any entry is this code.
    pub fn has(&self, info: &str) -> bool {
        self.infos.iter().any(|i| i == info)
    }
}

impl std::fmt::Display for GmoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.line())
    }
}

impl std::error::Error for GmoError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s5_1_error_classes() {
        assert_eq!(err_code("E01090008"), "E01");
        assert_eq!(err_code("42G020000"), "G02");
        assert_eq!(err_code("E90010001"), "E90");
        // A fault's code is free text: never a panic on a character boundary.
        assert_eq!(err_code("42Gあい"), "Gあい");
        assert_eq!(err_code("ほげほげ"), "ほげほ");
        let mut e = GmoError::one("E01090008");
        e.push("E01100008");
        e.push("E01090008");
        assert_eq!(e.line(), "ErrCode=E01|E01&ErrInfo=E01090008|E01100008");
    }

    #[test]
    fn every_code_is_nine_characters() {
        for (code, _) in CODES {
            assert_eq!(code.len(), 9, "{code}");
        }
    }
}
