//! The SBPS credit-card functions the emulator answers, named by their root `id`.

use std::fmt;

/// A credit-card function of the sps-api (§6). The payment-method suffix `101` is credit card.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Function {
    /// `ST01-00131-101`: authorization with a token, or the card stored for `cust_code`.
    AuthorizeWithToken,
    /// `ST01-00111-101`: authorization with the raw card number in `pay_method_info`.
    AuthorizeWithCard,
    /// `ST01-00101-101`: the older authorization with card data, same fields as 00111.
    AuthorizeLegacy,
    /// `ST01-00133-101`: re-authorization, token era.
    ReauthorizeWithToken,
    /// `ST01-00113-101`: re-authorization, card-data variant.
    ReauthorizeWithCard,
    /// `ST02-00101-101`: commit (確定).
    Commit,
    /// `ST02-00201-101`: sales / capture (売上).
    Sales,
    /// `ST02-00303-101`: cancel before sales, full refund after (取消返金).
    CancelOrRefund,
    /// `ST02-00305-101`: cancel of an unsold authorization only (legacy).
    Cancel,
    /// `ST02-00307-101`: partial refund (部分返金).
    PartialRefund,
    /// `MG01-00101-101`: payment inquiry (決済結果参照).
    Inquiry,
}

impl Function {
    /// Every function, in the order of `docs/protocols/sbps.md` §6.
    pub const ALL: [Function; 11] = [
        Function::AuthorizeWithToken,
        Function::AuthorizeWithCard,
        Function::AuthorizeLegacy,
        Function::ReauthorizeWithToken,
        Function::ReauthorizeWithCard,
        Function::Commit,
        Function::Sales,
        Function::CancelOrRefund,
        Function::Cancel,
        Function::PartialRefund,
        Function::Inquiry,
    ];

    /// The root `id`, e.g. `ST02-00201-101`.
    pub const fn id(self) -> &'static str {
        match self {
            Function::AuthorizeWithToken => "ST01-00131-101",
            Function::AuthorizeWithCard => "ST01-00111-101",
            Function::AuthorizeLegacy => "ST01-00101-101",
            Function::ReauthorizeWithToken => "ST01-00133-101",
            Function::ReauthorizeWithCard => "ST01-00113-101",
            Function::Commit => "ST02-00101-101",
            Function::Sales => "ST02-00201-101",
            Function::CancelOrRefund => "ST02-00303-101",
            Function::Cancel => "ST02-00305-101",
            Function::PartialRefund => "ST02-00307-101",
            Function::Inquiry => "MG01-00101-101",
        }
    }

    /// The id without hyphens, as embedded in `sps_transaction_id` (§7.2).
    pub const fn compact_id(self) -> &'static str {
        match self {
            Function::AuthorizeWithToken => "ST0100131101",
            Function::AuthorizeWithCard => "ST0100111101",
            Function::AuthorizeLegacy => "ST0100101101",
            Function::ReauthorizeWithToken => "ST0100133101",
            Function::ReauthorizeWithCard => "ST0100113101",
            Function::Commit => "ST0200101101",
            Function::Sales => "ST0200201101",
            Function::CancelOrRefund => "ST0200303101",
            Function::Cancel => "ST0200305101",
            Function::PartialRefund => "ST0200307101",
            Function::Inquiry => "MG0100101101",
        }
    }

    /// Looks a root `id` up.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.id() == id)
    }

    /// Whether the function creates a new payment.
    pub const fn is_authorization(self) -> bool {
        matches!(
            self,
            Function::AuthorizeWithToken
                | Function::AuthorizeWithCard
                | Function::AuthorizeLegacy
                | Function::ReauthorizeWithToken
                | Function::ReauthorizeWithCard
        )
    }

    /// Whether the card travels as raw card data rather than as a token.
    pub const fn takes_card_data(self) -> bool {
        matches!(
            self,
            Function::AuthorizeWithCard | Function::AuthorizeLegacy | Function::ReauthorizeWithCard
        )
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// The payment-method code `mmm` of a root id: its last three characters (§10.3 step 2).
pub(crate) fn method_code(id: &str) -> &str {
    let trimmed = id.trim();
    match trimmed
        .len()
        .checked_sub(3)
        .and_then(|start| trimmed.get(start..))
    {
        Some(m) if m.bytes().all(|b| b.is_ascii_alphanumeric()) => m,
        _ => "999",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_compact_ids_drop_hyphens() {
        for f in Function::ALL {
            assert_eq!(Function::from_id(f.id()), Some(f));
            assert_eq!(f.compact_id(), f.id().replace('-', ""));
        }
        assert_eq!(Function::from_id("MG02-00101-101"), None);
        assert_eq!(method_code("MG02-00101-101"), "101");
        assert_eq!(method_code("ST01-00101-401"), "401");
        assert_eq!(method_code("x"), "999");
    }
}
