//! `renkei plugins [--dir DIR] [--json]` and `renkei plugins show ID [--json]`.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use renkei_host::PluginRegistry;
use renkei_sdk::{Manifest, OperationKind};
use serde_json::json;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use unicode_width::UnicodeWidthStr as _;

/// `writeln!` into the output buffer (writing to a `String` cannot fail).
macro_rules! wln {
    ($out:expr, $($arg:tt)*) => {{
        let _ = writeln!($out, $($arg)*);
    }};
}

#[derive(Args)]
pub struct PluginsArgs {
    /// Directory to load plugins from (default: $RENKEI_PLUGIN_DIR, else the executable's directory).
    #[arg(long, global = true)]
    dir: Option<PathBuf>,
    /// Print one JSON document on stdout instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Option<PluginsCommand>,
}

#[derive(Subcommand)]
enum PluginsCommand {
    /// Print a plugin's status table and error table.
    Show {
        /// Gateway id (e.g. `sbps`).
        id: String,
    },
}

pub fn run(args: PluginsArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    let dir = match args.dir {
        Some(dir) => dir,
        None => crate::default_plugin_dir()?,
    };
    let mut registry = PluginRegistry::new();
    let report = registry
        .load_dir(&dir)
        .with_context(|| format!("loading the plugins in {}", dir.display()))?;
    match args.command {
        None => {
            if args.json {
                let doc = json!({
                    "dir": dir,
                    "host_sdk_version": renkei_sdk::SDK_VERSION,
                    "plugins": registry.iter().map(|p| {
                        let m = p.manifest();
                        json!({
                            "gateway_id": m.gateway_id,
                            "display_name": m.display_name,
                            "plugin_version": m.plugin_version.to_string(),
                            "sdk_version": p.sdk_version().to_string(),
                            // `native`, or `compat 0.1` for a plugin run through the frozen
                            // 0.1.0 SDK.
                            "abi": p.abi().label(),
                            "path": p.path(),
                            "capabilities": m.capabilities,
                            // Declared operations an instance offers only with one of these
                            // config keys set.
                            "config_dependent": OperationKind::ALL.iter()
                                .filter_map(|op| {
                                    let keys = m.enabling_keys(*op);
                                    (!keys.is_empty()).then(|| (op.name(), keys))
                                })
                                .collect::<std::collections::BTreeMap<_, _>>(),
                            "limits": m.limits,
                        })
                    }).collect::<Vec<_>>(),
                    "refused": report.refused.iter().map(|e| json!({"error": e.to_string()})).collect::<Vec<_>>(),
                });
                wln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&doc)
                        .context("writing the plugin list as JSON")?
                );
            } else {
                print_list(out, &registry, &dir);
                for e in &report.refused {
                    eprintln!("refused: {e}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(PluginsCommand::Show { id }) => {
            let Some(plugin) = registry.get(&id) else {
                let known: Vec<_> = registry.iter().map(|p| p.gateway_id().to_owned()).collect();
                anyhow::bail!(
                    "no plugin with gateway id `{id}` in {} (found: {})",
                    dir.display(),
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                );
            };
            if args.json {
                wln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(plugin.manifest())
                        .context("writing the manifest as JSON")?
                );
            } else {
                print_manifest(out, plugin.manifest(), plugin.abi().label());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `renkei plugins show` for one library file, loaded on its own (`renkei certify`).
pub fn show_file(path: &std::path::Path, out: &mut String) -> anyhow::Result<()> {
    let plugin = renkei_host::loader::load_file(path)
        .with_context(|| format!("loading the plugin {}", path.display()))?;
    print_manifest(out, plugin.manifest(), plugin.abi().label());
    Ok(())
}

fn capability_summary(m: &Manifest) -> String {
    let c = &m.capabilities;
    let mut parts: Vec<String> = c
        .operations
        .iter()
        .map(|op| {
            let mut s = op.name().to_owned();
            if c.is_replay_safe(*op) {
                s.push('*');
            }
            // Offered only by instances configured with one of these keys.
            let keys = m.enabling_keys(*op);
            if !keys.is_empty() {
                s.push_str(&format!("(with {})", keys.join("|")));
            }
            s
        })
        .collect();
    // The way, not only a yes: it decides what the host can settle by itself after a lost reply.
    if c.partial_capture.is_supported() {
        parts.push(c.partial_capture.describe().into());
    }
    if c.partial_refund.is_supported() {
        parts.push(c.partial_refund.describe().into());
    }
    parts.push(format!(
        "amount-change:{}",
        serde_json::to_value(c.amount_change)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    ));
    parts.push(format!(
        "inquiry:{}",
        serde_json::to_value(c.inquiry)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    ));
    // What settles a lost authorization by itself instead of by an operator.
    if c.authorization_inquiry {
        parts.push("finds authorizations by order id".into());
    }
    if m.multi_error != renkei_sdk::MultiError::MostCautious {
        parts.push(format!("multi-error:{}", m.multi_error));
    }
    // Commas: the partial ways are phrases with spaces of their own.
    parts.join(", ")
}

/// Prints rows under a header, every column but the last padded to its widest cell (in
/// terminal columns: the gateways' Japanese labels take two a character).
fn print_table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let n = header.len();
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].width())
                .chain([header[i].width()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut print_row = |cells: Vec<&str>| {
        let mut line = String::from("  ");
        for (i, cell) in cells.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < n {
                line.push_str(&" ".repeat(widths[i] - cell.width() + 2));
            }
        }
        wln!(out, "{}", line.trim_end());
    };
    print_row(header.to_vec());
    for r in rows {
        print_row(r.iter().map(String::as_str).collect());
    }
}

fn print_list(out: &mut String, registry: &PluginRegistry, dir: &std::path::Path) {
    wln!(
        out,
        "plugins in {} (host sdk {}):",
        dir.display(),
        renkei_sdk::SDK_VERSION
    );
    if registry.is_empty() {
        wln!(out, "  (none)");
        return;
    }
    let rows: Vec<Vec<String>> = registry
        .iter()
        .map(|p| {
            let m = p.manifest();
            vec![
                m.gateway_id.clone(),
                m.display_name.clone(),
                m.plugin_version.to_string(),
                p.sdk_version().to_string(),
                p.abi().label().to_owned(),
                capability_summary(m),
            ]
        })
        .collect();
    print_table(
        out,
        &[
            "ID",
            "NAME",
            "VERSION",
            "SDK",
            "ABI",
            "CAPABILITIES (* = replay-safe)",
        ],
        &rows,
    );
}

fn print_manifest(out: &mut String, m: &Manifest, abi: &str) {
    wln!(
        out,
        "{} ({}) {}, sdk {} ({abi})",
        m.display_name,
        m.gateway_id,
        m.plugin_version,
        m.sdk_version
    );
    wln!(out, "capabilities: {}", capability_summary(m));
    wln!(
        out,
        "limits: {}..={} {}",
        m.limits.min_amount,
        m.limits.max_amount,
        m.limits
            .currencies
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    match &m.limits.order_id {
        Some(rules) => wln!(
            out,
            "order ids: issued by the host, one per attempt: at most {} characters, letters and \
             digits{}",
            rules.max_len,
            if rules.symbols.is_empty() {
                String::new()
            } else {
                format!(" and {:?}", rules.symbols)
            }
        ),
        None => wln!(out, "order ids: the plugin's own"),
    }
    wln!(out, "\nconfig keys:");
    let rows: Vec<Vec<String>> = m
        .config
        .iter()
        .map(|k| {
            let mut flags = vec![if k.required { "required" } else { "optional" }.to_owned()];
            if k.secret {
                flags.push("secret".into());
            }
            if let Some(d) = &k.default {
                flags.push(format!("default {d}"));
            }
            if !k.enables.is_empty() {
                let ops: Vec<_> = k.enables.iter().map(|op| op.name()).collect();
                flags.push(format!("enables {}", ops.join(", ")));
            }
            if let Some(reason) = &k.public_reason {
                flags.push(format!("public: {reason}"));
            }
            vec![
                k.name.clone(),
                format!("{:?}", k.kind).to_lowercase(),
                flags.join(", "),
            ]
        })
        .collect();
    print_table(out, &["KEY", "TYPE", "FLAGS"], &rows);
    wln!(out, "\nstatus table:");
    let rows: Vec<Vec<String>> = m
        .statuses
        .iter()
        .map(|s| {
            vec![
                s.code.clone(),
                s.label.clone(),
                s.state.to_string(),
                if s.terminal { "terminal" } else { "" }.to_owned(),
            ]
        })
        .collect();
    print_table(out, &["CODE", "LABEL", "UNIFIED STATE", ""], &rows);
    wln!(out, "\nerror table:");
    let rows: Vec<Vec<String>> = m
        .errors
        .iter()
        .map(|e| vec![e.code.clone(), e.kind.name().to_owned(), e.message.clone()])
        .collect();
    print_table(out, &["CODE", "KIND", "MEANING"], &rows);
    let unsupported: Vec<_> = OperationKind::ALL
        .iter()
        .filter(|op| !m.capabilities.supports(**op))
        .map(|op| op.name())
        .collect();
    if !unsupported.is_empty() {
        wln!(out, "\nnot supported: {}", unsupported.join(", "));
    }
}
