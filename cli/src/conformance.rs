//! `renkei conformance PLUGIN [--emulator sbps|fregi|gmopg|template|template-form|template-xml | --endpoint URL] [--config FILE]
//! [--json]`: certifies a built plugin library (see the `renkei-conformance` crate for the
//! checks and their ids).

use anyhow::Context as _;
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
    pub(crate) plugin: PathBuf,
    /// Run against a built-in loopback emulator: sbps, fregi, gmopg, template (Kumo Pay),
    /// template-form (Kumo Pay on the form wire, Shift_JIS) or template-xml (Kumo Pay on the XML
    /// wire, Shift_JIS).
    #[arg(long, conflicts_with = "endpoint")]
    pub(crate) emulator: Option<String>,
    /// Run against this endpoint URL (written to the plugin's URL config key).
    #[arg(long)]
    pub(crate) endpoint: Option<String>,
    /// TOML file: `[plugin]` config values and a `[conformance]` section (token, amount…).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Print one JSON document on stdout instead of the readable report.
    #[arg(long)]
    pub(crate) json: bool,
}

pub fn run(args: ConformanceArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    let json = args.json;
    let report = match target(&args)
        .and_then(|t| renkei_conformance::certify(&args.plugin, &t).map_err(anyhow::Error::from))
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("renkei: conformance could not run: {e:#}");
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

fn target(args: &ConformanceArgs) -> anyhow::Result<Target> {
    if args.emulator.is_none() && args.endpoint.is_none() && args.config.is_none() {
        anyhow::bail!("give --emulator, --endpoint or --config: the suite needs an endpoint");
    }
    let emulator = args
        .emulator
        .as_deref()
        .map(str::parse::<Builtin>)
        .transpose()?;
    let settings = match &args.config {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Some(Settings::from_toml(&text).with_context(|| format!("{}", path.display()))?)
        }
    };
    Ok(Target {
        emulator,
        endpoint: args.endpoint.clone(),
        settings,
    })
}
