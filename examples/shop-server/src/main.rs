//! `renkei-shop-server --config shop.toml` serves a shop linked to real gateways;
//! `renkei-shop-server --demo` serves one linked to both loopback emulators, with a few orders.

use clap::Parser;
use rand::RngCore;
use renkei_shop_server::auth::Operators;
use renkei_shop_server::config::{ServerConfig, open_shop};
use renkei_shop_server::demo::Demo;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    version,
    about = "Example shop server embedding renkei-host: JSON API and operator page"
)]
struct Args {
    /// The configuration file: the host's (plugin_dir, [gateways.NAME]) plus [server].
    #[arg(long, required_unless_present = "demo", conflicts_with = "demo")]
    config: Option<PathBuf>,
    /// Start both gateway emulators in-process and seed a few orders.
    #[arg(long)]
    demo: bool,
    /// Address to listen on (default: [server] listen, or 127.0.0.1:8080 with --demo). Anything
    /// but loopback exposes the operator API to the network: put TLS in front of it.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Directory to load the plugins from (default: the config's plugin_dir, else
    /// $RENKEI_PLUGIN_DIR, else the executable's directory, where cargo puts them).
    #[arg(long)]
    plugin_dir: Option<PathBuf>,
}

fn default_plugin_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("RENKEI_PLUGIN_DIR") {
        return Ok(dir.into());
    }
    std::env::current_exe()
        .map_err(|e| format!("cannot locate the executable: {e}"))?
        .parent()
        .map(PathBuf::from)
        .ok_or_else(|| "the executable has no parent directory".to_owned())
}

/// The demo's one operator, `demo`, with a fresh random token written to a file only its user
/// can read: the token is never printed, so it never lands in a terminal log.
fn demo_operator(dir: &std::path::Path) -> Result<(Operators, PathBuf), String> {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let path = dir.join("operator-token");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("creating {}: {e}", path.display()))?;
        writeln!(file, "{token}").map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    let operators = Operators::with_token("demo", &token).map_err(|e| e.to_string())?;
    Ok((operators, path))
}

async fn run(args: Args) -> Result<(), String> {
    let (shop, operators, listen, _demo) = if args.demo {
        let dir = match args.plugin_dir {
            Some(dir) => dir,
            None => default_plugin_dir()?,
        };
        let journal_dir =
            std::env::temp_dir().join(format!("renkei-shop-demo-{}", std::process::id()));
        std::fs::create_dir_all(&journal_dir).map_err(|e| e.to_string())?;
        let demo = Demo::start(
            &dir,
            &journal_dir.join("journal.db"),
            Duration::from_secs(10),
        )
        .await
        .map_err(|e| e.to_string())?;
        demo.seed().await.map_err(|e| e.to_string())?;
        println!("SBPS emulator:   {}", demo.sbps.endpoint_url());
        println!("F-REGI emulator: {}", demo.fregi.base_url());
        println!("GMO-PG emulator: {}", demo.gmopg.endpoint_url());
        println!("journal:         {}", demo.journal.display());
        let (operators, token_file) = demo_operator(&journal_dir)?;
        println!(
            "operator:        demo, token in {} (paste it into the page)",
            token_file.display()
        );
        let listen = args
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        (demo.shop.clone(), operators, listen, Some(demo))
    } else {
        let path = args.config.expect("clap requires --config without --demo");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let config =
            ServerConfig::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let dir = match args.plugin_dir.or_else(|| config.host.plugin_dir.clone()) {
            Some(dir) => dir,
            None => default_plugin_dir()?,
        };
        let shop = open_shop(&config, &dir).await.map_err(|e| e.to_string())?;
        let listen = args.listen.unwrap_or(config.listen);
        (shop, config.operators, listen, None)
    };
    if !listen.ip().is_loopback() {
        tracing::warn!(%listen, "listening beyond loopback: put TLS in front of this server");
    }
    // Operations left in flight while the server runs (a journal write that failed, a task
    // that died) are settled once their lease runs out, not at the next restart.
    let _recovery = shop.spawn_recovery(std::time::Duration::from_secs(10));
    let names: Vec<&str> = operators.names().collect();
    tracing::info!(operators = ?names, "operators configured");
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("listening on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("operator page:   http://{addr}/");
    println!(
        "try:             curl -s -H \"Authorization: Bearer $TOKEN\" http://{addr}/api/orders"
    );
    axum::serve(listener, renkei_shop_server::router(shop, operators.into()))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("renkei-shop-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("renkei-shop-server: {e}");
            ExitCode::FAILURE
        }
    }
}
