//! `renkei emulator sbps|fregi|gmopg [--listen ADDR] [--config FILE]`.

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Clone, Copy, ValueEnum)]
enum Gateway {
    Sbps,
    Fregi,
    Gmopg,
}

#[derive(Args)]
pub struct EmulatorArgs {
    /// Which gateway to emulate.
    gateway: Gateway,
    /// Address to listen on; port 0 picks a free one. The address is printed at start.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Emulator configuration (JSON, or TOML by the `.toml` extension); defaults when absent.
    #[arg(long)]
    config: Option<PathBuf>,
}

fn load<C: DeserializeOwned + Default>(path: Option<&Path>) -> anyhow::Result<C> {
    let Some(path) = path else {
        return Ok(C::default());
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if path.extension().is_some_and(|e| e == "toml") {
        // The message alone: toml's full display quotes the file back, with its secrets.
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))
    } else {
        serde_json::from_str(&text).with_context(|| format!("{}", path.display()))
    }
}

pub fn run(args: EmulatorArgs) -> anyhow::Result<ExitCode> {
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "renkei: warning: {} is not a loopback address; the emulator accepts its published \
             test credentials from anyone who can reach it",
            args.listen
        );
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        match args.gateway {
            Gateway::Sbps => {
                let config: renkei_emulator_sbps::Config = load(args.config.as_deref())?;
                renkei_emulator_sbps::serve(args.listen, config)
                    .await
                    .with_context(|| format!("serving the SBPS emulator on {}", args.listen))
            }
            Gateway::Fregi => {
                let config: renkei_emulator_fregi::Config = load(args.config.as_deref())?;
                renkei_emulator_fregi::serve(args.listen, config)
                    .await
                    .with_context(|| format!("serving the F-REGI emulator on {}", args.listen))
            }
            Gateway::Gmopg => {
                let config: renkei_emulator_gmopg::Config = load(args.config.as_deref())?;
                renkei_emulator_gmopg::serve(args.listen, config)
                    .await
                    .with_context(|| format!("serving the GMO-PG emulator on {}", args.listen))
            }
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
