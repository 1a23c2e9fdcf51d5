//! `effects.no-money-moved`: a step the plugin declares as moving no money
//! ([`StepEffect::Reads`], [`StepEffect::Registers`]) is held to it against the built-in
//! emulator's book, read just before the request is sent and just after its reply.
//!
//! The host books a failed step of that kind as "nothing happened" and lets a later decline be a
//! clean refusal, so a plugin that declares less than a request does makes the host lose track
//! of money. Only the gateway's own record can show it; an endpoint the suite did not start has
//! no book to read, and the check is then skipped.

use renkei_sdk::StepEffect;
use std::collections::BTreeMap;

/// One payment in an emulator's book: what it holds, in words that change whenever its money or
/// state does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookEntry {
    pub state: String,
}

/// An emulator's payments by the gateway's id.
pub type Book = BTreeMap<String, BookEntry>;

/// What a step declared as `effect` changed in the book that it may not have: `None` when it
/// kept to its declaration. A read changes nothing. A registration may not change or remove
/// a payment, nor create one: every entry in the built-in emulators' books holds or held money
/// (an authorization or later), which a registration cannot make.
pub fn breach(effect: StepEffect, before: &Book, after: &Book) -> Option<String> {
    if effect.may_move_money() {
        return None;
    }
    let mut found = Vec::new();
    for (id, was) in before {
        match after.get(id) {
            Some(now) if now == was => {}
            Some(now) => found.push(format!(
                "payment {id} went from {} to {}",
                was.state, now.state
            )),
            None => found.push(format!("payment {id} ({}) disappeared", was.state)),
        }
    }
    for (id, now) in after {
        if !before.contains_key(id) {
            found.push(format!("payment {id} appeared ({})", now.state));
        }
    }
    (!found.is_empty()).then(|| found.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(entries: &[(&str, &str)]) -> Book {
        entries
            .iter()
            .map(|(id, state)| {
                (
                    (*id).to_owned(),
                    BookEntry {
                        state: (*state).to_owned(),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn a_step_declared_as_moving_no_money_may_not_change_create_or_remove_a_payment() {
        let before = book(&[("p1", "authorized 1000"), ("p2", "captured 500")]);
        for effect in [StepEffect::Reads, StepEffect::Registers] {
            assert_eq!(breach(effect, &before, &before), None);
            let changed = book(&[("p1", "captured 1000"), ("p2", "captured 500")]);
            let found = breach(effect, &before, &changed).unwrap();
            assert!(
                found.contains("p1 went from authorized 1000 to captured 1000"),
                "{found}"
            );
            let created = book(&[
                ("p1", "authorized 1000"),
                ("p2", "captured 500"),
                ("p3", "authorized 9"),
            ]);
            assert!(
                breach(effect, &before, &created)
                    .unwrap()
                    .contains("p3 appeared")
            );
            let removed = book(&[("p1", "authorized 1000")]);
            assert!(breach(effect, &before, &removed).unwrap().contains("p2"));
        }
    }

    #[test]
    fn a_money_step_may_change_the_book() {
        let before = book(&[("p1", "authorized 1000")]);
        let after = book(&[("p1", "captured 1000"), ("p2", "authorized 5")]);
        assert_eq!(breach(StepEffect::MayMoveMoney, &before, &after), None);
    }
}
