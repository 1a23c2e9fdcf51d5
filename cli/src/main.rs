//! `renkei`: the command line of the Renkei host.

mod bench;
mod certify;
mod conformance;
mod demo;
mod emulator;
mod new_plugin;
mod plugins;
mod simulate;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "renkei",
    version,
    about = "Link a shop's order management to card gateways through plugins"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the gateway plugins found in a directory, or show one plugin's tables.
    Plugins(plugins::PluginsArgs),
    /// Run a gateway emulator (SBPS or F-REGI) on a local address until Ctrl-C.
    Emulator(emulator::EmulatorArgs),
    /// Play one day of a shop on both gateways against loopback emulators, then check the
    /// journal against the emulators' books (exits non-zero on any surprise).
    Demo(demo::DemoArgs),
    /// Benchmarks of the whole host (bulk capture against a loopback emulator).
    Bench(bench::BenchArgs),
    /// Certify a built plugin library against an emulator or an endpoint.
    Conformance(conformance::ConformanceArgs),
    /// Build a plugin crate, show its tables and certify it, in one step (against the crate's
    /// own emulator `emulators/NAME` when the workspace has one).
    Certify(certify::CertifyArgs),
    /// Scaffold a gateway plugin crate `plugins/NAME` and its emulator `emulators/NAME` from the
    /// template plugin, and add both to the workspace (then: `renkei certify plugins/NAME`).
    NewPlugin(new_plugin::NewPluginArgs),
    /// Random shop days with faults, gateway-tool actions and crashes, checked against a
    /// model after every step (exits non-zero on a violation, with the command to replay it).
    Simulate(simulate::SimulateArgs),
    /// Print a fresh key for sealing the secret parts of payment handles (64 hex digits), for
    /// a host's `handle_key_file`: `renkei handle-key > handle.key && chmod 600 handle.key`.
    HandleKey,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Simulate(_)) {
        // The same printed logs, plus the watch for secrets in every log line.
        renkei_sim::logs::install("error");
    } else {
        // Logs go to stderr so that `--json` output on stdout stays one clean document.
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
            )
            .with_writer(std::io::stderr)
            .init();
    }
    // Output is gathered, then written once: a closed pipe (`renkei plugins | head`) ends the
    // program quietly instead of panicking in `println!`.
    let mut out = String::new();
    let result = match cli.command {
        Command::Plugins(args) => plugins::run(args, &mut out),
        // Long-running: prints its banner itself, as soon as it listens.
        Command::Emulator(args) => emulator::run(args),
        Command::Conformance(args) => conformance::run(args, &mut out),
        Command::Certify(args) => certify::run(args, &mut out),
        Command::NewPlugin(args) => new_plugin::run(args, &mut out),
        // Long-running: print as they go.
        Command::Demo(args) => demo::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::HandleKey => {
            out.push_str(&renkei_host::seal::HandleKey::generate().to_hex());
            out.push('\n');
            Ok(ExitCode::SUCCESS)
        }
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("renkei: cannot write output: {e}");
        return ExitCode::FAILURE;
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            // The whole chain: what was being done, then why it failed.
            eprintln!("renkei: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Where plugins are looked for when no `--dir` is given: `RENKEI_PLUGIN_DIR`, else the
/// directory of the `renkei` executable, where `cargo build` puts the workspace's plugins.
pub fn default_plugin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("RENKEI_PLUGIN_DIR") {
        return Ok(dir.into());
    }
    std::env::current_exe()
        .context("cannot locate the renkei executable")?
        .parent()
        .map(PathBuf::from)
        .context("the renkei executable has no parent directory")
}
