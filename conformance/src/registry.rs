//! Every conformance check, declared once: its id, its family, whether a failure denies
//! certification, and a one-line summary. The run list for a plugin that does not load
//! ([`ONCE_IDS`]), the report's order ([`rank`]), each result's `required` flag
//! ([`lookup`]) and the README's table of checks ([`markdown_table`], kept equal to the README
//! by a test) all come from here. The exact rule each check applies is in the crate docs.

/// A family of checks: the first segment of their ids. The order of the variants is the order
/// of the report and of the documentation tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Manifest,
    Status,
    Capability,
    Lifecycle,
    Invariant,
    Replay,
    Robustness,
    Determinism,
    Secrets,
    Panic,
    Effects,
}

impl Family {
    pub const ALL: [Family; 11] = [
        Family::Manifest,
        Family::Status,
        Family::Capability,
        Family::Lifecycle,
        Family::Invariant,
        Family::Replay,
        Family::Robustness,
        Family::Determinism,
        Family::Secrets,
        Family::Panic,
        Family::Effects,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Family::Manifest => "manifest",
            Family::Status => "status",
            Family::Capability => "capability",
            Family::Lifecycle => "lifecycle",
            Family::Invariant => "invariant",
            Family::Replay => "replay",
            Family::Robustness => "robustness",
            Family::Determinism => "determinism",
            Family::Secrets => "secrets",
            Family::Panic => "panic",
            Family::Effects => "effects",
        }
    }

    /// Whether the family's checks run once per operation (and reply), not once per plugin.
    pub const fn per_operation(self) -> bool {
        matches!(self, Family::Replay | Family::Robustness)
    }

    /// The family an id belongs to, by its first segment.
    pub fn of(id: &str) -> Option<Family> {
        let (first, _) = id.split_once('.')?;
        Family::ALL.into_iter().find(|f| f.name() == first)
    }
}

/// One row of the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub check: Check,
    /// The stable id; for a per-operation check, a pattern whose `<…>` segments name what fills
    /// them (`robustness.<operation>.<reply>`).
    pub id: &'static str,
    pub family: Family,
    /// A failure of a required check denies certification; an advisory one only warns.
    pub required: bool,
    pub summary: &'static str,
}

impl Entry {
    /// Whether `id` is this check's id, or an instance of its pattern.
    fn matches(&self, id: &str) -> bool {
        if !self.family.per_operation() {
            return self.id == id;
        }
        let (mut pattern, mut segments) = (self.id.split('.'), id.split('.'));
        loop {
            match (pattern.next(), segments.next()) {
                (None, None) => return true,
                (Some(p), Some(s)) if p.starts_with('<') || p == s => {}
                _ => return false,
            }
        }
    }
}

macro_rules! registry {
    (@required Required) => { true };
    (@required Advisory) => { false };
    ($($check:ident $id:literal $family:ident $required:ident $summary:literal;)*) => {
        /// A conformance check. Code names checks by variant, so an id cannot be misspelt.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Check { $($check),* }

        /// The registry, in report order.
        pub const REGISTRY: &[Entry] = &[$(Entry {
            check: Check::$check,
            id: $id,
            family: Family::$family,
            required: registry!(@required $required),
            summary: $summary,
        }),*];
    };
}

// One check a line: variant, id, family, required or advisory, summary (the README's table).
registry! {
    ManifestValid "manifest.valid" Manifest Required "the host's manifest validation; SDK version within the host's range; config keys `lower_snake_case`, described, defaults that parse as their type";
    ManifestSecretNames "manifest.secret-names" Manifest Advisory "keys named like credentials in words `secrets.config-names` does not judge (`*credential*`, `*private*`) are flagged `secret`";
    StatusTotal "status.total" Status Required "each row maps one code to one known state; no catch-all row (`*`, `default`…); codes unambiguous; terminal flags agree with the declared operations; every state a declared operation reaches has a row";
    StatusUnknownCode "status.unknown-code" Status Required "a real reply with its status code replaced by an unseen one yields `Unknown` with that raw code, not a guess";
    CapabilityUnsupported "capability.unsupported" Capability Required "an operation the configured instance does not offer gets the typed `unsupported` error without a request";
    CapabilityDeclared "capability.declared" Capability Required "an operation the configured instance offers builds a request";
    LifecycleCaptureRefund "lifecycle.capture-refund" Lifecycle Required "authorize → capture → full refund end in the expected states and amounts";
    LifecycleAuthorizeVoid "lifecycle.authorize-void" Lifecycle Required "authorize → void ends in the expected states and amounts";
    LifecycleCaptureLower "lifecycle.capture-lower" Lifecycle Required "a capture below the authorization, where partial capture or amount changes are declared; a capture declared in place keeps the reference";
    LifecycleCaptureHigher "lifecycle.capture-higher" Lifecycle Required "a capture above the authorization, where amount changes are declared";
    LifecyclePartialRefund "lifecycle.partial-refund" Lifecycle Required "a partial refund, then the remainder, where partial refunds are declared; one declared in place keeps the reference";
    LifecycleChangeAmount "lifecycle.change-amount" Lifecycle Required "an amount change of an authorization, where declared";
    LifecycleInquiry "lifecycle.inquiry" Lifecycle Required "after each step an inquiry agrees with it, and its status code maps to that state in the table";
    LifecycleOrderIds "lifecycle.order-ids" Lifecycle Required "where the manifest declares order-id rules, each attempt's authorization carries the order id the host issued for that attempt";
    LifecycleDeclineRetry "lifecycle.decline-retry" Lifecycle Required "a declined authorization is a clean refusal (not applied), not a review; a new attempt for the same order then authorizes";
    LifecycleFindAuthorization "lifecycle.find-authorization" Lifecycle Required "where `authorization_inquiry` is declared, a search under an attempt's host-issued order id finds the authorization it made, with its reference; one under an id never sent finds nothing";
    LifecycleMultiError "lifecycle.multi-error" Lifecycle Required "an authorization refused with several error codes in one reply reports every code the reply names from the error table, and the kind the manifest's `multi_error` rule gives them";
    InvariantCaptureTwice "invariant.capture-twice" Invariant Required "a second capture is refused or answered \"already done\"";
    InvariantRefundAboveCaptured "invariant.refund-above-captured" Invariant Required "a refund above the captured amount is refused and the payment stays captured";
    InvariantAfterRefund "invariant.after-refund" Invariant Required "after a full refund, capture and refund are refused";
    InvariantCaptureAfterVoid "invariant.capture-after-void" Invariant Required "capture after a void is refused, not answered \"already done\"";
    InvariantAfterVoid "invariant.after-void" Invariant Required "after a void, nothing succeeds and the payment stays voided";
    Replay "replay.<operation>" Replay Required "each operation declared replay-safe answers `already_done` when replayed after a success";
    Robustness "robustness.<operation>.<reply>" Robustness Required "empty, truncated, wrongly encoded, HTTP 500 and random replies give a typed error, never a success or a panic, and never a kind that claims nothing moved after a request that could move money";
    RobustnessCutAnywhere "robustness.<operation>.cut-anywhere" Robustness Required "every real reply cut at every byte offset (inside its last value too) gives a typed error that does not claim nothing moved, or the whole reply's own answer; never another success, step or a panic";
    DeterminismRequests "determinism.requests" Determinism Required "the same operation and context produce the same request bytes; the same reply the same answer";
    SecretsConfigNames "secrets.config-names" Secrets Required "a config key named like a credential (a word `password`, `passwd`, `pass`, `passphrase`, `key`, `secret`, `token` or `pin`, or one ending in `password`, `passwd`, `secret`, `token` or `key`) is `secret`, or says why it is public (`public_reason`)";
    SecretsRequests "secrets.requests" Secrets Required "no canary secret in a request's logged forms (URL, redacted headers, journal copy, continuation)";
    SecretsErrors "secrets.errors" Secrets Required "no canary secret in an error message";
    SecretsDebug "secrets.debug" Secrets Required "no canary secret in the `Debug` output of anything the plugin returns";
    SecretsLogs "secrets.logs" Secrets Required "no canary secret in the plugin's tracing events or spans";
    SecretsPanics "secrets.panics" Secrets Required "no canary secret in a panic message";
    SecretsHandle "secrets.handle" Secrets Required "a secret part of a handle the plugin returned is in no journaled or logged form: request forms, reply journal copies, errors, answers' Debug, tracing events";
    PanicContainment "panic.containment" Panic Required "no call panicked (including on a damaged continuation); the suite survives a panic and reports it here";
    EffectsNoMoneyMoved "effects.no-money-moved" Effects Required "every step declared as moving no money (`reads`, `registers`) leaves the built-in emulator's book (each payment's state and amounts) as it was; skipped against an endpoint the suite did not start";
}

impl Check {
    pub fn entry(self) -> &'static Entry {
        &REGISTRY[self as usize]
    }

    /// The check's id (the pattern, for a per-operation check: see [`Check::instance`]).
    pub fn id(self) -> &'static str {
        self.entry().id
    }

    /// The id of one instance of a per-operation check: `parts` fill the pattern's `<…>`
    /// segments in order (`Check::Replay.instance(&["capture"])` is `replay.capture`).
    pub fn instance(self, parts: &[&str]) -> String {
        let mut parts = parts.iter();
        let id = self
            .id()
            .split('.')
            .map(|s| {
                if s.starts_with('<') {
                    *parts.next().expect("a part for every placeholder")
                } else {
                    s
                }
            })
            .collect::<Vec<_>>()
            .join(".");
        assert!(
            parts.next().is_none(),
            "more parts than placeholders in {id}"
        );
        id
    }
}

/// The entry a reported id belongs to (an instance of a per-operation check belongs to its
/// pattern's entry). The pattern with the fewest placeholders wins:
/// `robustness.capture.cut-anywhere` is its own check, not a `<reply>` of
/// `robustness.<operation>.<reply>`.
pub fn lookup(id: &str) -> Option<&'static Entry> {
    REGISTRY
        .iter()
        .filter(|e| e.matches(id))
        .min_by_key(|e| e.id.matches('<').count())
}

/// Report order: by family, in [`Family::ALL`] order; an id of no family goes last.
pub fn rank(id: &str) -> usize {
    Family::of(id).map_or(Family::ALL.len(), |f| f as usize)
}

const ONCE_COUNT: usize = {
    let (mut n, mut i) = (0, 0);
    while i < REGISTRY.len() {
        if !REGISTRY[i].family.per_operation() {
            n += 1;
        }
        i += 1;
    }
    n
};

/// Ids of the checks that run once per plugin, in report order.
pub const ONCE_IDS: [&str; ONCE_COUNT] = {
    let mut out = [""; ONCE_COUNT];
    let (mut n, mut i) = (0, 0);
    while i < REGISTRY.len() {
        if !REGISTRY[i].family.per_operation() {
            out[n] = REGISTRY[i].id;
            n += 1;
        }
        i += 1;
    }
    out
};

/// The README's table of checks.
pub fn markdown_table() -> String {
    let mut out = String::from("| check id | what it means |\n| --- | --- |\n");
    for e in REGISTRY {
        let advisory = if e.required { "" } else { "advisory: " };
        out.push_str(&format!("| `{}` | {advisory}{} |\n", e.id, e.summary));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_row_is_its_variants_and_ids_are_unique_well_formed_and_grouped_by_family() {
        for (i, e) in REGISTRY.iter().enumerate() {
            assert_eq!(e.check as usize, i, "{} is not its variant's row", e.id);
            assert_eq!(
                Family::of(e.id),
                Some(e.family),
                "{} is not in its family",
                e.id
            );
            assert_eq!(
                e.id.contains('<'),
                e.family.per_operation(),
                "{}: only per-operation checks have placeholders",
                e.id
            );
            assert!(!e.summary.contains('|'), "{}: a `|` breaks the table", e.id);
            assert_eq!(lookup(e.id), Some(e));
        }
        let mut ids: Vec<_> = REGISTRY.iter().map(|e| e.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), REGISTRY.len());
        let ranks: Vec<_> = REGISTRY.iter().map(|e| rank(e.id)).collect();
        assert!(ranks.is_sorted(), "rows out of family order: {ranks:?}");
        assert!(
            Family::ALL
                .iter()
                .enumerate()
                .all(|(i, f)| *f as usize == i)
        );
    }

    #[test]
    fn instances_of_per_operation_checks_find_their_pattern() {
        let id = Check::Robustness.instance(&["capture", "empty"]);
        assert_eq!(id, "robustness.capture.empty");
        assert_eq!(lookup(&id).map(|e| e.check), Some(Check::Robustness));
        assert_eq!(Check::Replay.instance(&["void"]), "replay.void");
        assert_eq!(lookup("replay.void").map(|e| e.check), Some(Check::Replay));
        let cut = Check::RobustnessCutAnywhere.instance(&["refund"]);
        assert_eq!(cut, "robustness.refund.cut-anywhere");
        assert_eq!(
            lookup(&cut).map(|e| e.check),
            Some(Check::RobustnessCutAnywhere)
        );
        assert_eq!(
            lookup("robustness.refund.truncated").map(|e| e.check),
            Some(Check::Robustness)
        );
        assert_eq!(lookup("robustness.capture"), None);
        assert_eq!(lookup("replay.void.empty"), None);
        assert_eq!(lookup("manifest.other"), None);
        assert_eq!(rank("panic.containment"), Family::Panic as usize);
        assert_eq!(rank("other"), Family::ALL.len());
    }

    #[test]
    fn only_manifest_secret_names_is_advisory() {
        let advisory: Vec<_> = REGISTRY
            .iter()
            .filter(|e| !e.required)
            .map(|e| e.id)
            .collect();
        assert_eq!(advisory, ["manifest.secret-names"]);
    }

    #[test]
    fn once_ids_are_the_per_plugin_rows_in_order() {
        let expected: Vec<_> = REGISTRY
            .iter()
            .filter(|e| !e.family.per_operation())
            .map(|e| e.id)
            .collect();
        assert_eq!(ONCE_IDS.to_vec(), expected);
        assert_eq!(ONCE_IDS[0], "manifest.valid");
    }

    /// The README's table of checks is the registry's: edit a row above, then paste the table
    /// this prints between the README's markers.
    #[test]
    fn the_readme_lists_the_registry() {
        const BEGIN: &str =
            "<!-- conformance-checks: generated from conformance/src/registry.rs -->\n";
        const END: &str = "<!-- /conformance-checks -->";
        let readme = include_str!("../../README.md");
        let start = readme.find(BEGIN).expect("the README's begin marker") + BEGIN.len();
        let end = start + readme[start..].find(END).expect("the README's end marker");
        let expected = markdown_table();
        assert!(
            readme[start..end] == expected,
            "the README's table of checks differs from the registry; it should be:\n\n{expected}"
        );
    }

    /// The crate docs' table (the exact rules) has one row per check, in registry order.
    #[test]
    fn the_crate_docs_describe_every_check_in_order() {
        let documented: Vec<&str> = include_str!("lib.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("//! | `"))
            .filter_map(|l| l.split_once('`').map(|(id, _)| id))
            .collect();
        let registered: Vec<&str> = REGISTRY.iter().map(|e| e.id).collect();
        assert_eq!(documented, registered);
    }
}
