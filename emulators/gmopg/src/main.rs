//! `renkei-emulator-gmopg [--listen ADDR]`: the GMO-PG emulator, by default on an ephemeral port
//! of 127.0.0.1, with the default shop and test tokens (the values of
//! `plugins/gmopg/conformance.toml`, `docs/protocols/gmopg.md` §10). Prints its endpoint URL
//! (`http://127.0.0.1:PORT/payment/`) as the first line of stdout, which `renkei certify
//! plugins/gmopg` reads, then the banner, then serves until killed.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

use renkei_emulator_gmopg::{Config, GmopgEmulator};

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut listen: Option<SocketAddr> = None;
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--listen", Some(addr)) => match addr.parse() {
                Ok(addr) => listen = Some(addr),
                Err(e) => {
                    eprintln!("renkei-emulator-gmopg: --listen {addr}: {e}");
                    return ExitCode::FAILURE;
                }
            },
            _ => {
                eprintln!("usage: renkei-emulator-gmopg [--listen ADDR]");
                return ExitCode::FAILURE;
            }
        }
    }
    let config = Config::default();
    let started = match listen {
        Some(addr) => GmopgEmulator::bind(addr, config).await,
        None => GmopgEmulator::start(config).await,
    };
    let emulator = match started {
        Ok(emulator) => emulator,
        Err(e) => {
            eprintln!("renkei-emulator-gmopg: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout();
    let printed = writeln!(stdout, "{}", emulator.endpoint_url())
        .and_then(|()| write!(stdout, "{}", emulator.banner()))
        .and_then(|()| stdout.flush());
    if let Err(e) = printed {
        eprintln!("renkei-emulator-gmopg: cannot print the endpoint: {e}");
        return ExitCode::FAILURE;
    }
    // Serves on the runtime's threads; the emulator stops when the process is killed.
    std::future::pending::<()>().await;
    ExitCode::SUCCESS
}
