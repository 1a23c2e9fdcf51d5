//! `renkei-emulator-{{name}}`: the {{Display}} emulator on an ephemeral port of 127.0.0.1, with
//! the default merchant and keys (the values of `plugins/{{name}}/conformance.toml`). Prints its
//! endpoint URL as the first line of stdout, which `renkei certify plugins/{{name}}` reads, then
//! serves until killed.

use std::io::Write as _;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = renkei_emulator_{{snake}}::Config::default();
    let emulator = match renkei_emulator_{{snake}}::{{Camel}}Emulator::start(config).await {
        Ok(emulator) => emulator,
        Err(e) => {
            eprintln!("renkei-emulator-{{name}}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout();
    if let Err(e) = writeln!(stdout, "{}", emulator.endpoint_url()).and_then(|()| stdout.flush()) {
        eprintln!("renkei-emulator-{{name}}: cannot print the endpoint: {e}");
        return ExitCode::FAILURE;
    }
    // Serves on the runtime's threads; the emulator stops when the process is killed.
    std::future::pending::<()>().await;
    ExitCode::SUCCESS
}
