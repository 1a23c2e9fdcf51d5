//! `renkei conformance PLUGIN [--emulator sbps|fregi|template | --endpoint URL] [--config FILE]
//! [--json]`: certifies a built plugin library (see the `renkei-conformance` crate for the
//! checks and their ids).

use clap::Args;
use renkei_conformance::{Builtin, Settings, Target};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit status when the suite could not run at all (bad settings, emulator did not start), as
/// opposed to 1 for "ran, and a required check failed".
const SUITE_ERROR: u8 = 2;

#[derive(Args)]
pub struct ConformanceArgs {
    /// The plugin library to certify (`.so`, `.dylib` or `.dll`).
    plugin: PathBuf,
    /// Run against a built-in loopback emulator: sbps, fregi or template (Kumo Pay).
    #[arg(long, conflicts_with = "endpoint")]
    emulator: Option<String>,
    /// Run against this endpoint URL (written to the plugin's URL config key).
    #[arg(long)]
    endpoint: Option<String>,
    /// TOML file: `[plugin]` config values and a `[conformance]` section (token, amount…).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print one JSON document on stdout instead of the readable report.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ConformanceArgs, out: &mut String) -> Result<ExitCode, String> {
    let json = args.json;
    let report = match target(&args)
        .and_then(|t| renkei_conformance::certify(&args.plugin, &t).map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("renkei: conformance could not run: {e}");
            return Ok(ExitCode::from(SUITE_ERROR));
        }
    };
    if json {
        out.push_str(&report.to_json());
        out.push('\n');
    } else {
        out.push_str(&report.to_text());
    }
    Ok(if report.certified {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn target(args: &ConformanceArgs) -> Result<Target, String> {
    if args.emulator.is_none() && args.endpoint.is_none() && args.config.is_none() {
        return Err("give --emulator, --endpoint or --config: the suite needs an endpoint".into());
    }
    let emulator = args
        .emulator
        .as_deref()
        .map(str::parse::<Builtin>)
        .transpose()
        .map_err(|e| e.to_string())?;
    let settings = match &args.config {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            Some(Settings::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))?)
        }
    };
    Ok(Target {
        emulator,
        endpoint: args.endpoint.clone(),
        settings,
    })
}
