//! Checks that feed the plugin fabricated input, built from the real exchanges the scenarios
//! recorded: `robustness.*` (with `robustness.<op>.cut-anywhere`), `determinism.requests`,
//! `status.unknown-code`, `panic.containment`, and the `secrets.*` checks over everything the
//! plugin said during the run.

use crate::harness::{Call, Harness, Run};
use crate::registry::Check;
use crate::report::CheckResult;
use renkei_sdk::{ErrorKind, HttpResponse, OperationKind, Outcome, PaymentState, Secret, Step};

/// The bad replies every exchange is fed, by the name used in check ids.
pub const BAD_REPLIES: [&str; 5] = ["empty", "truncated", "encoding", "http-500", "random"];

fn bad_reply(name: &str, real: &HttpResponse) -> HttpResponse {
    let mut r = real.clone();
    match name {
        "empty" => r.body.clear(),
        "truncated" => r.body.truncate(real.body.len() / 2),
        // The same bytes read as Latin-1 and re-encoded as UTF-16LE with a byte-order mark:
        // every parser that expects an ASCII-compatible encoding must refuse it.
        "encoding" => {
            r.body = [0xFF, 0xFE]
                .into_iter()
                .chain(real.body.iter().flat_map(|b| [*b, 0]))
                .collect();
        }
        "http-500" => r.status = 500,
        _ => {
            // A fixed linear congruential sequence: the same "random" bytes on every run.
            let mut x: u32 = 0x2545_f491;
            r.body = (0..256)
                .map(|_| {
                    x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (x >> 24) as u8
                })
                .collect();
        }
    }
    r
}

/// Error kinds that claim the gateway refused knowingly, i.e. nothing moved. An unreadable
/// reply to a request that could change the payment proves no such thing. Read by the SDK's
/// one classification, so the suite holds a plugin to exactly what the host will conclude.
fn claims_nothing_moved(kind: ErrorKind) -> bool {
    renkei_sdk::is_refusal(kind)
}

/// `robustness.<op>.<reply>` for every declared operation: each exchange of a real run is
/// answered with each bad reply; the plugin must return a typed error (never a step or an
/// outcome, never a panic), and one that does not claim nothing moved after a request that
/// could change the payment. After the first exchange, see [`records_doubt`].
pub fn robustness(h: &Harness, runs: &[Run]) -> Vec<CheckResult> {
    let mut out = Vec::new();
    for kind in OperationKind::ALL {
        if !h.capabilities().supports(kind) {
            continue;
        }
        let run = runs.iter().find(|r| r.op.kind() == kind);
        for name in BAD_REPLIES {
            let id = Check::Robustness.instance(&[kind.name(), name]);
            let Some(run) = run else {
                out.push(CheckResult::skip(
                    id,
                    format!("no {kind} succeeded against the endpoint, so there is no real reply to damage"),
                ));
                continue;
            };
            let mut evidence = Vec::new();
            let mut tolerated = Vec::new();
            for (i, x) in run.exchanges.iter().enumerate() {
                let reply = bad_reply(name, &x.reply);
                let answer = h.interpret(&run.op, &x.ctx, &x.state, &reply, &id);
                let what = format!(
                    "step `{}` given the `{name}` reply (HTTP {}, {} bytes)",
                    x.step,
                    reply.status,
                    reply.body.len()
                );
                match answer {
                    Ok(step) if i > 0 && records_doubt(&step, &x.answer) => {
                        tolerated.push(format!("{what}: {}", describe(&step)))
                    }
                    Ok(step) => evidence.push(format!(
                        "{what}: {}, as if the reply were fine",
                        describe(&step)
                    )),
                    Err(e) if e.kind == ErrorKind::Panicked => {
                        evidence.push(format!("{what}: panicked ({e})"))
                    }
                    Err(e) if x.effect.may_move_money() && claims_nothing_moved(e.kind) => evidence
                        .push(format!(
                            "{what}: answered `{e}`, which tells the host nothing moved, \
                             though the request may have been processed"
                        )),
                    Err(_) => {}
                }
            }
            let mut result = CheckResult::from_evidence(id, evidence);
            if !tolerated.is_empty() {
                result.reason = Some(format!(
                    "accepted because an earlier exchange's real reply had already settled the \
                     operation and the plugin recorded the doubt: {}",
                    tolerated.join("; ")
                ));
            }
            out.push(result);
        }
    }
    out
}

/// Bodies up to this long are cut at every offset; longer ones at every offset of their last
/// [`CUT_TAIL`] bytes and every [`CUT_STRIDE`]th offset before.
const CUT_EVERYWHERE_UP_TO: usize = 4096;
const CUT_TAIL: usize = 512;
const CUT_STRIDE: usize = 16;
/// Cut points named in the evidence per exchange; the rest are counted.
const CUTS_SHOWN: usize = 5;

/// The lengths of the strict prefixes of a `len`-byte body the cut-anywhere check feeds.
fn cut_points(len: usize) -> Vec<usize> {
    if len <= CUT_EVERYWHERE_UP_TO {
        return (0..len).collect();
    }
    let tail = len - CUT_TAIL;
    (0..tail).step_by(CUT_STRIDE).chain(tail..len).collect()
}

/// `robustness.<op>.cut-anywhere` for every declared operation: each real reply of the runs the
/// scenarios kept for the operation (one successful run each), cut at every byte offset (see [`cut_points`]), is fed to `interpret` for its
/// exchange. A cut reply may give a typed error (not a panic, and not one that claims nothing
/// moved after a request that could move money), or exactly the real reply's answer (the cut
/// removed nothing the plugin reads, such as a final newline); after the first exchange, also
/// an answer that [records the doubt](records_doubt). Anything else, above all a success read
/// from a value cut short (`AMOUNT=1080` cut to `AMOUNT=108`), is evidence. The half-body
/// `truncated` reply finds a parser that ignores a missing end; this finds one that reads
/// whatever prefix it is given.
pub fn cut_anywhere(h: &Harness, runs: &[Run]) -> Vec<CheckResult> {
    let mut out = Vec::new();
    for kind in OperationKind::ALL {
        if !h.capabilities().supports(kind) {
            continue;
        }
        let id = Check::RobustnessCutAnywhere.instance(&[kind.name()]);
        let runs: Vec<&Run> = runs.iter().filter(|r| r.op.kind() == kind).collect();
        if runs.is_empty() {
            out.push(CheckResult::skip(
                id,
                format!(
                    "no {kind} succeeded against the endpoint, so there is no real reply to cut"
                ),
            ));
            continue;
        }
        let (mut evidence, mut tolerated, mut fed) = (Vec::new(), 0usize, 0usize);
        for (n, run) in runs.iter().enumerate() {
            for (i, x) in run.exchanges.iter().enumerate() {
                let len = x.reply.body.len();
                let mut bad = Vec::new();
                for cut in cut_points(len) {
                    fed += 1;
                    let mut reply = x.reply.clone();
                    reply.body.truncate(cut);
                    let answer = h.interpret(&run.op, &x.ctx, &x.state, &reply, &id);
                    let finding = match answer {
                        Ok(step) if Ok(&step) == x.answer.as_ref() => None,
                        Ok(step) if i > 0 && records_doubt(&step, &x.answer) => {
                            tolerated += 1;
                            None
                        }
                        Ok(step) => Some(match (&step, &x.answer) {
                            (Step::Done(o), Ok(Step::Done(r))) => format!(
                                "answered success, unlike the whole reply: {}",
                                outcome_difference(o, r)
                            ),
                            _ => format!("{}, as if the reply were whole", describe(&step)),
                        }),
                        Err(e) if e.kind == ErrorKind::Panicked => Some(format!("panicked ({e})")),
                        Err(e) if x.effect.may_move_money() && claims_nothing_moved(e.kind) => {
                            Some(format!(
                                "answered `{e}`, which tells the host nothing moved, though the \
                                 request may have been processed"
                            ))
                        }
                        Err(_) => None,
                    };
                    if let Some(f) = finding {
                        bad.push(format!("at byte {cut}: {f}"));
                    }
                }
                if bad.is_empty() {
                    continue;
                }
                let more = bad.len().saturating_sub(CUTS_SHOWN);
                bad.truncate(CUTS_SHOWN);
                // The scenarios keep one run per operation; name the run only if there are more.
                let run_name = if runs.len() > 1 {
                    format!("{kind} run {}", n + 1)
                } else {
                    kind.to_string()
                };
                let mut line = format!(
                    "{run_name}, step `{}` (HTTP {}, {len} bytes), cut {}",
                    x.step,
                    x.reply.status,
                    bad.join("; ")
                );
                if more > 0 {
                    line.push_str(&format!("; and at {more} more cut point(s)"));
                }
                evidence.push(line);
            }
        }
        let mut result = CheckResult::from_evidence(id, evidence);
        if fed == 0 {
            result = CheckResult::skip(
                result.id,
                format!("every real {kind} reply had an empty body: nothing to cut"),
            );
        } else if tolerated > 0 {
            result.reason = Some(format!(
                "{tolerated} of {fed} cut replies answered after an earlier exchange's real \
                 reply had settled the operation, with the doubt recorded"
            ));
        }
        out.push(result);
    }
    out
}

/// What differs between the outcome of a damaged reply and the real one, field by field, with
/// both values (outcomes hold states, references and amounts, no credentials).
fn outcome_difference(got: &Outcome, real: &Outcome) -> String {
    fn text<T: std::fmt::Display>(v: &Option<T>) -> String {
        v.as_ref()
            .map_or_else(|| "none".to_owned(), |v| format!("{:?}", v.to_string()))
    }
    let fields = [
        ("state", got.state.to_string(), real.state.to_string()),
        (
            "status",
            text(&got.gateway_status),
            text(&real.gateway_status),
        ),
        (
            "transaction",
            text(&got.transaction),
            text(&real.transaction),
        ),
        ("replaced", text(&got.replaced), text(&real.replaced)),
        (
            "authorization code",
            text(&got.authorization_code),
            text(&real.authorization_code),
        ),
        ("authorized", text(&got.authorized), text(&real.authorized)),
        ("captured", text(&got.captured), text(&real.captured)),
        ("refunded", text(&got.refunded), text(&real.refunded)),
        (
            "notes",
            format!("{:?}", got.notes),
            format!("{:?}", real.notes),
        ),
    ];
    let diffs: Vec<String> = fields
        .into_iter()
        .filter(|(_, a, b)| a != b)
        .map(|(name, a, b)| format!("{name} {a} instead of {b}"))
        .collect();
    if diffs.is_empty() {
        "the same fields".into()
    } else {
        diffs.join(", ")
    }
}

fn describe(step: &Step) -> String {
    match step {
        Step::Done(o) if o.notes.is_empty() => format!("answered success ({})", o.state),
        Step::Done(o) => format!("answered success ({}) noting {:?}", o.state, o.notes),
        Step::Send(next) => format!("carried on to step `{}`", &*next.step),
    }
}

/// Whether a non-error answer to a damaged reply is an honest degradation: the plugin either
/// finished with a note for the operator that the real reply did not produce, or carried on
/// with a continuation different from the real reply's (it remembers that something was off).
/// Only asked for exchanges after the first: an earlier real reply has then established the
/// operation (an SBPS authorization stands even when its commit's answer is lost, and the
/// capture heals an uncommitted one). A plugin that treats the damaged reply exactly like the
/// real one records nothing, and fails.
fn records_doubt(step: &Step, real: &Result<Step, renkei_sdk::GatewayError>) -> bool {
    match (step, real) {
        (Step::Done(o), Ok(Step::Done(r))) => o.notes.iter().any(|n| !r.notes.contains(n)),
        (Step::Send(x), Ok(Step::Send(r))) => x.state != r.state,
        _ => false,
    }
}

/// `determinism.requests`: the same operation and context give the same request bytes (and the
/// same reply gives the same answer), checked on every recorded run.
pub fn determinism(h: &Harness, runs: &[Run]) -> CheckResult {
    let id = Check::DeterminismRequests.id();
    if runs.is_empty() {
        return CheckResult::skip(id, "no operation succeeded against the endpoint");
    }
    let mut evidence = Vec::new();
    for run in runs {
        let kind = run.op.kind();
        let a = h.prepare(&run.op, &run.prepared, id);
        let b = h.prepare(&run.op, &run.prepared, id);
        if let Some(diff) = difference(&a, &b) {
            evidence.push(format!("prepare {kind} twice with one context: {diff}"));
        }
        for x in &run.exchanges {
            let again = h.interpret(&run.op, &x.ctx, &x.state, &x.reply, id);
            if let Some(diff) = difference(&x.answer, &again) {
                evidence.push(format!(
                    "interpret {kind} step `{}` twice with one reply: {diff}",
                    x.step
                ));
            }
        }
    }
    CheckResult::from_evidence(id, evidence)
}

/// Where two answers differ, named by field (never by value: requests hold credentials).
fn difference(
    a: &Result<Step, renkei_sdk::GatewayError>,
    b: &Result<Step, renkei_sdk::GatewayError>,
) -> Option<String> {
    if a == b {
        return None;
    }
    Some(match (a, b) {
        (Ok(Step::Send(x)), Ok(Step::Send(y))) => {
            let fields = [
                ("step", x.step == y.step),
                ("method", x.request.method == y.request.method),
                ("url", x.request.url == y.request.url),
                ("headers", x.request.headers == y.request.headers),
                ("body", x.request.body == y.request.body),
                ("journal body", x.journal_body == y.journal_body),
                ("continuation", x.state == y.state),
                ("effect", x.effect == y.effect),
            ];
            let differ: Vec<&str> = fields
                .iter()
                .filter(|(_, same)| !same)
                .map(|(n, _)| *n)
                .collect();
            format!("the requests differ in {}", differ.join(", "))
        }
        (Ok(Step::Done(_)), Ok(Step::Done(_))) => "the outcomes differ".into(),
        (Err(_), Err(_)) => "the errors differ".into(),
        _ => "one call succeeded and the other did not".into(),
    })
}

/// A code of `like`'s length and character class that the status table does not list.
fn unseen_code(like: &str, table: &[&str]) -> Option<String> {
    let n = like.len().max(1);
    let candidates: Vec<String> = if like.bytes().all(|b| b.is_ascii_digit()) {
        (0..10u8)
            .rev()
            .map(|d| std::iter::repeat_n(char::from(b'0' + d), n).collect())
            .collect()
    } else {
        ["zq", "xv", "qj"]
            .iter()
            .map(|p| p.chars().cycle().take(n).collect())
            .collect()
    };
    candidates
        .into_iter()
        .find(|c| c != like && !table.contains(&c.as_str()))
}

/// Byte offsets where `code` occurs in `body` as a whole token (not inside a longer word).
pub(crate) fn token_positions(body: &[u8], code: &[u8]) -> Vec<usize> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    if code.is_empty() || body.len() < code.len() {
        return Vec::new();
    }
    (0..=body.len() - code.len())
        .filter(|&i| &body[i..i + code.len()] == code)
        .filter(|&i| i == 0 || !word(body[i - 1]))
        .filter(|&i| body.get(i + code.len()).is_none_or(|b| !word(*b)))
        .collect()
}

/// `status.unknown-code`: a real reply that reported a status code, with that code replaced by
/// one the table does not list, must give `Unknown` carrying the new code, not a guess.
pub fn unknown_code(h: &Harness, runs: &[Run]) -> CheckResult {
    let id = Check::StatusUnknownCode.id();
    let table: Vec<&str> = h
        .manifest()
        .statuses
        .iter()
        .map(|s| s.code.as_str())
        .collect();
    // Prefer an inquiry: reporting the status is its whole job.
    let mut candidates: Vec<&Run> = runs.iter().collect();
    candidates.sort_by_key(|r| r.op.kind() != OperationKind::Inquire);
    let source = candidates.into_iter().find_map(|run| {
        let x = run.exchanges.last()?;
        match &x.answer {
            Ok(Step::Done(o)) => Some((run, x, o.gateway_status.clone()?)),
            _ => None,
        }
    });
    let Some((run, x, code)) = source else {
        return CheckResult::skip(
            id,
            "no successful reply reported a gateway status code to replace",
        );
    };
    let Some(unseen) = unseen_code(&code, &table) else {
        return CheckResult::skip(id, format!("no unseen code shaped like {code:?} exists"));
    };
    let positions = token_positions(&x.reply.body, code.as_bytes());
    if positions.is_empty() {
        return CheckResult::skip(
            id,
            format!(
                "the status code {code:?} does not appear in the {} reply's bytes (encrypted \
                 or encoded), so no unseen code can be fed",
                run.op.kind()
            ),
        );
    }
    let mut refusals = Vec::new();
    for at in positions {
        let mut reply = x.reply.clone();
        reply.body.splice(at..at + code.len(), unseen.bytes());
        let what = format!(
            "{} reply with status {code:?} replaced by unseen {unseen:?} (byte {at})",
            run.op.kind()
        );
        match h.interpret(&run.op, &x.ctx, &x.state, &reply, id) {
            Ok(Step::Done(o)) if o.gateway_status.as_deref() == Some(unseen.as_str()) => {
                let want = PaymentState::Unknown {
                    raw: unseen.clone(),
                };
                return if o.state == want {
                    CheckResult::pass(id)
                } else {
                    CheckResult::from_evidence(
                        id,
                        vec![format!("{what}: answered {} instead of {want}", o.state)],
                    )
                };
            }
            // This occurrence was not where the status is read from.
            Ok(_) => {}
            Err(e) if e.kind == ErrorKind::Panicked => {
                return CheckResult::from_evidence(id, vec![format!("{what}: panicked ({e})")]);
            }
            Err(e) => refusals.push(format!("{what}: {e}")),
        }
    }
    if refusals.is_empty() {
        return CheckResult::skip(
            id,
            format!("replacing {code:?} in the reply never changed the reported status"),
        );
    }
    let mut evidence = vec![format!(
        "an unseen status must give `unknown` with the raw code; the plugin refused the reply \
         instead"
    )];
    evidence.extend(refusals);
    CheckResult::from_evidence(id, evidence)
}

/// `panic.containment`: a continuation the plugin did not write (a damaged journal row) must
/// give a typed error, and no call of the whole run may have panicked. The suite itself
/// survives either way: the SDK turns a plugin panic into an `ErrorKind::Panicked` error.
pub fn panic_containment(h: &Harness, runs: &[Run]) -> CheckResult {
    let id = Check::PanicContainment.id();
    for run in runs {
        if let Some(x) = run.exchanges.first() {
            for state in [&b"\xff\xfe not a continuation"[..], b""] {
                let _ = h.interpret(&run.op, &x.ctx, state, &x.reply, "damaged continuation");
            }
        }
    }
    let evidence = h
        .calls()
        .iter()
        .filter(|c| c.error_kind == Some(ErrorKind::Panicked))
        .map(|c| format!("{}: {}", c.origin, c.error.as_deref().unwrap_or("panicked")))
        .collect();
    CheckResult::from_evidence(id, evidence)
}

/// The canary values searched for: secret config values and the payment token.
pub struct Canaries(pub Vec<String>);

/// The `secrets.*` checks over every recorded call.
pub fn secrets(calls: &[Call], canaries: &Canaries) -> Vec<CheckResult> {
    let ids = [
        Check::SecretsRequests.id(),
        Check::SecretsErrors.id(),
        Check::SecretsDebug.id(),
        Check::SecretsLogs.id(),
        Check::SecretsPanics.id(),
    ];
    if canaries.0.is_empty() {
        return ids
            .iter()
            .map(|id| CheckResult::skip(*id, "no secret config value or token to look for"))
            .collect();
    }
    let leaks = |text: &str| canaries.0.iter().any(|c| text.contains(c.as_str()));
    let mut evidence: [Vec<String>; 5] = Default::default();
    let placeholder = Secret::PLACEHOLDER;
    for c in calls {
        let panicked = c.error_kind == Some(ErrorKind::Panicked);
        if c.logged_request.iter().any(|t| leaks(t)) {
            evidence[0].push(format!(
                "{}: a logged or journaled request form holds a canary",
                c.origin
            ));
        }
        if c.error.as_deref().is_some_and(leaks) && !panicked {
            evidence[1].push(format!("{}: the error message holds a canary", c.origin));
        }
        if leaks(&c.debug) {
            evidence[2].push(format!(
                "{}: the Debug form of the answer holds a canary",
                c.origin
            ));
        }
        if c.events.iter().any(|e| leaks(e)) {
            evidence[3].push(format!("{}: a tracing event holds a canary", c.origin));
        }
        if panicked && c.error.as_deref().is_some_and(leaks) {
            evidence[4].push(format!("{}: the panic message holds a canary", c.origin));
        }
        // The host removed a secret before it reached us: attribute it to where the
        // placeholder surfaced.
        if c.scrubbed > 0 {
            let n = c.scrubbed;
            let line = |channel: &str| {
                format!(
                    "{}: the host had to scrub {n} configured secret(s) from the plugin's {channel}",
                    c.origin
                )
            };
            if panicked {
                evidence[4].push(line("panic message"));
            } else if c.events.iter().any(|e| e.contains(placeholder)) {
                let shown: Vec<&String> = c
                    .events
                    .iter()
                    .filter(|e| e.contains(placeholder))
                    .collect();
                evidence[3].push(format!("{} ({shown:?})", line("tracing events")));
            } else if c.error.as_deref().is_some_and(|e| e.contains(placeholder)) {
                evidence[1].push(line("error message"));
            } else {
                evidence[0].push(line("journal copy of a request"));
            }
        }
    }
    ids.iter()
        .zip(evidence)
        .map(|(id, e)| CheckResult::from_evidence(*id, e))
        .collect()
}

/// `effects.no-money-moved`: every step the scenarios sent that was declared as moving no money
/// left the gateway's book as it was (see [`crate::effects`]).
pub fn no_money_moved(h: &Harness) -> CheckResult {
    let id = Check::EffectsNoMoneyMoved.id();
    if !h.reads_book() {
        return CheckResult::skip(
            id,
            "the endpoint is not an emulator the suite started, so its book cannot be read",
        );
    }
    let steps = h.no_money_steps();
    if steps.is_empty() {
        return CheckResult::skip(id, "no step was declared as moving no money");
    }
    let evidence: Vec<String> = steps
        .iter()
        .filter_map(|s| {
            s.breach.as_ref().map(|b| {
                format!(
                    "{}: declared to move no money, but the gateway's book changed: {b}",
                    s.what
                )
            })
        })
        .collect();
    let mut result = CheckResult::from_evidence(id, evidence);
    if result.evidence.is_empty() {
        let mut kinds: Vec<&str> = steps.iter().map(|s| s.what.as_str()).collect();
        kinds.sort();
        kinds.dedup();
        result.reason = Some(format!(
            "{} steps checked against the book: {}",
            steps.len(),
            kinds.join("; ")
        ));
    }
    result
}

/// `secrets.handle`: a secret part of a handle the plugin returned (a per-payment secret the
/// gateway sent back, GMO-PG's `AccessPass`) is in none of the forms the host journals or logs
/// in clear: a request's logged forms (URL, redacted headers, journal copy, continuation), a
/// reply's journal copy (`Gateway::journal_reply`), an error, the `Debug` form of an answer
/// (an outcome's authorization code and notes are journaled), a tracing event.
pub fn handle_secrets(h: &Harness) -> CheckResult {
    let id = Check::SecretsHandle.id();
    let secrets: Vec<(String, String, String)> = h
        .handle_secrets()
        .into_iter()
        .filter(|(_, _, v)| v.len() >= 4)
        .collect();
    if secrets.is_empty() {
        return CheckResult::skip(id, "no handle the plugin returned has a secret part");
    }
    let mut evidence = Vec::new();
    for (from, name, value) in &secrets {
        let found = |text: &str| text.contains(value.as_str());
        for c in h.calls() {
            let places = [
                (
                    "a logged or journaled request form",
                    c.logged_request.iter().any(|t| found(t)),
                ),
                ("an error message", c.error.as_deref().is_some_and(found)),
                ("the Debug form of the answer", found(&c.debug)),
                ("a tracing event", c.events.iter().any(|e| found(e))),
            ];
            for (place, hit) in places {
                if hit {
                    evidence.push(format!(
                        "the secret part `{name}` of the handle from {from} is in {place} \
                         of {}",
                        c.origin
                    ));
                }
            }
        }
        for (what, copy) in h.reply_copies() {
            if copy.windows(value.len()).any(|w| w == value.as_bytes()) {
                evidence.push(format!(
                    "the secret part `{name}` of the handle from {from} is in the journal copy \
                     of the {what} (redact it in `journal_reply`)"
                ));
            }
        }
    }
    evidence.dedup();
    CheckResult::from_evidence(id, evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_replies_are_what_their_names_say() {
        let real = HttpResponse::new(200, b"{\"a\":1}".to_vec());
        assert!(bad_reply("empty", &real).body.is_empty());
        assert_eq!(bad_reply("truncated", &real).body, b"{\"a");
        assert_eq!(
            bad_reply("encoding", &real).body[..4],
            [0xFF, 0xFE, b'{', 0]
        );
        assert_eq!(bad_reply("http-500", &real).status, 500);
        let random = bad_reply("random", &real);
        assert_eq!(random.body.len(), 256);
        assert_eq!(random, bad_reply("random", &real), "deterministic");
    }

    #[test]
    fn cut_points_are_every_strict_prefix_or_the_tail_and_every_16th_before() {
        assert!(cut_points(0).is_empty());
        assert_eq!(cut_points(3), [0, 1, 2]);
        assert_eq!(cut_points(4096), (0..4096).collect::<Vec<_>>());
        let long = cut_points(5000);
        let tail = 5000 - 512;
        assert!(long.iter().all(|&c| c < 5000), "strict prefixes only");
        assert!(
            (tail..5000).all(|c| long.contains(&c)),
            "every offset of the tail"
        );
        let before: Vec<_> = long.iter().copied().filter(|&c| c < tail).collect();
        assert_eq!(before, (0..tail).step_by(16).collect::<Vec<_>>());
        assert!(long.is_sorted());
    }

    #[test]
    fn an_outcome_difference_names_each_differing_field_with_both_values() {
        let jpy = |n| renkei_sdk::Money::new(n, renkei_sdk::Currency::JPY);
        let mut real = Outcome::new(PaymentState::Authorized);
        real.authorized = Some(jpy(1080));
        let mut got = real.clone();
        got.authorized = Some(jpy(108));
        let text = outcome_difference(&got, &real);
        assert!(text.starts_with("authorized \""), "{text}");
        assert!(text.contains("108") && text.contains("1080"), "{text}");
        assert!(!text.contains("state"), "{text}");
        assert_eq!(outcome_difference(&real, &real), "the same fields");
    }

    #[test]
    fn status_codes_are_found_as_whole_tokens_only() {
        let body = b"<payment_status>1</payment_status><x>10</x><y>1</y>";
        let at = token_positions(body, b"1");
        assert_eq!(at.len(), 2);
        assert_eq!(&body[at[0]..at[0] + 1], b"1");
        assert!(token_positions(b"\"status\":\"authorized\"", b"authorized").len() == 1);
        assert!(token_positions(b"unauthorized", b"authorized").is_empty());
    }

    #[test]
    fn unseen_codes_keep_the_shape_and_avoid_the_table() {
        assert_eq!(unseen_code("1", &["1", "2", "9"]).as_deref(), Some("8"));
        assert_eq!(
            unseen_code("authorized", &["authorized"]).as_deref(),
            Some("zqzqzqzqzq")
        );
    }

    #[test]
    fn a_scrubbed_log_line_is_a_log_leak_and_a_canary_in_a_journal_body_a_request_leak() {
        let canaries = Canaries(vec!["canary-1234".into()]);
        let logged = Call {
            origin: "prepare capture".into(),
            events: vec![format!("DEBUG message=key {}", Secret::PLACEHOLDER)],
            scrubbed: 1,
            ..Call::default()
        };
        let journaled = Call {
            origin: "prepare authorize".into(),
            logged_request: vec!["{\"token\":\"canary-1234\"}".into()],
            ..Call::default()
        };
        let r = secrets(&[logged, journaled], &canaries);
        let failed: Vec<&str> = r
            .iter()
            .filter(|c| c.verdict == crate::report::Verdict::Fail)
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(failed, ["secrets.requests", "secrets.logs"]);
    }
}
