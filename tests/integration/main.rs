//! Renkei's integration tests, one binary (each file in `tests/` would relink everything).

/// Loading real plugin libraries: refusals, panics, tracing, secrets.
mod plugins;

/// The `renkei` command line, run as a user would.
mod cli;

/// The ABI across SDK versions: 0.1.0 plugins in this host, this SDK's plugins in a 0.1.0 host,
/// handshakes this host cannot use.
mod abi;

/// The SBPS plugin, loaded as a cdylib, against the SBPS emulator.
mod sbps;

/// The F-REGI plugin, loaded as a cdylib, against the F-REGI emulator.
mod fregi;

/// The GMO-PG plugin, loaded as a cdylib, through the executor against the GMO-PG emulator.
mod gmopg;

/// The journaled executor: exactly once, review, recovery.
mod journal;

/// What the host keeps for a plugin between operations without a secret in clear: replies in
/// the plugin's redacted form, handles with sealed secret parts, the payment's dates.
mod reply_copy;

/// A lost authorization found, or proven absent, under its attempt's order id.
mod authorization_search;

/// The same against SBPS, which has an inquiry and reads before it acts.
mod journal_sbps;

/// One table of faults, each row run against both gateways with the settlement their
/// declarations give it.
mod fault_matrix;

/// Hosts killed mid-run and hosts racing on one journal.
mod crash;

/// `renkei demo`, the README's main command, run as a process.
mod demo;

/// The shop actions: every rule of docs/rules.md through both plugins and emulators.
mod shop;

/// The plugin conformance suite (`renkei conformance`), run as a vendor would run it.
mod conformance;

/// What the rigs above share.
mod support;
