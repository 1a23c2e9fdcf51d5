//! The write-ahead journal: every gateway exchange is recorded, and committed, before it is
//! sent; every outcome after. One storage interface ([`JournalStore`]), two backends (SQLite, the
//! embedded default; PostgreSQL, for several hosts sharing one journal), one set of money rules
//! ([`ledger`]) that both run inside their transactions.

mod codec;
mod group;
pub mod ledger;
mod logic;
mod migrate;
pub mod model;
mod pool;
pub mod postgres;
pub mod sqlite;
mod store;
#[doc(hidden)]
pub mod suite;

pub use ledger::{Contradiction, Drift, Refusal};
pub use model::*;
pub use store::{
    Applied, Begin, Decision, DriftDecision, JournalError, JournalStore, ShopFollowUp,
};

#[cfg(test)]
mod tests;
