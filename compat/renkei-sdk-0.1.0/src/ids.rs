//! Identifier newtypes, so that an order code can never be passed where a gateway reference is
//! expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }
    };
}

id_newtype! {
    /// The shop's own order code (e.g. `100000924506`), as shown in the order-management screen.
    OrderRef
}

id_newtype! {
    /// The gateway's reference for one payment: SBPS `tracking_id`, F-REGI `SEQNO`. A gateway may
    /// replace it (SBPS re-authorization, F-REGI `authchange`), so the host stores the newest.
    TransactionRef
}

id_newtype! {
    /// A stored-customer reference at the gateway (SBPS `cust_code`, F-REGI `CUSTOMERID`).
    CustomerRef
}
