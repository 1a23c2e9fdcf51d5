//! `renkei new-plugin NAME [--wire json] [--charset utf-8] [--dir DIR]`: scaffolds a gateway
//! plugin crate `plugins/NAME` from the template plugin (Kumo Pay) and its emulator
//! `emulators/NAME` from the Kumo Pay emulator, and adds both to the workspace.
//!
//! The sources are embedded in the `renkei` binary, so the command works from an installed copy.
//! Names are filled in by explicit substitutions, one table per crate, each pair an exact string
//! of the template sources: a test holds every pair to match, so a change to the template that
//! a pair no longer fits fails here rather than leaving a `KumoPay` in a new plugin.

use clap::Args;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct NewPluginArgs {
    /// The gateway id: lower case, `[a-z][a-z0-9]*` words joined by `-` (e.g. `acme-pay`).
    name: String,
    /// The wire format of the gateway's requests and replies (only `json` so far).
    #[arg(long, default_value = "json")]
    wire: String,
    /// The character set of the gateway's messages (only `utf-8` so far).
    #[arg(long, default_value = "utf-8")]
    charset: String,
    /// The workspace root (holding the workspace Cargo.toml); default: the current directory.
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Why a plugin was not scaffolded. Nothing is written when one of these is answered before the
/// files (bad name, existing folder, no workspace).
#[derive(Debug, thiserror::Error)]
pub enum NewPluginError {
    #[error(
        "`{0}` is not a plugin name: lower-case letters and digits, words joined by `-`, starting with a letter, at most 32 characters (e.g. `acme-pay`)"
    )]
    BadName(String),
    #[error("not yet: json only (`--wire {0}` is not supported by this version)")]
    Wire(String),
    #[error("not yet: utf-8 only (`--charset {0}` is not supported by this version)")]
    Charset(String),
    #[error("{0} already exists: choose another name or remove it")]
    Exists(PathBuf),
    #[error("{path} is not a workspace manifest: {reason}")]
    Workspace { path: PathBuf, reason: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The forms of a plugin name the sources need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// `acme-pay`: the gateway id and folder name.
    pub id: String,
    /// `acme_pay`: in crate names as Rust writes them.
    pub snake: String,
    /// `AcmePay`: type names.
    pub camel: String,
    /// `Acme Pay`: the display name.
    pub display: String,
}

impl Names {
    /// The indefinite article before the display name.
    fn article(&self) -> &'static str {
        if self.display.starts_with(['A', 'E', 'I', 'O', 'U']) {
            "an"
        } else {
            "a"
        }
    }

    pub fn parse(name: &str) -> Result<Names, NewPluginError> {
        let bad = || NewPluginError::BadName(name.to_owned());
        let words: Vec<&str> = name.split('-').collect();
        let word_ok = |w: &str| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        if name.len() > 32
            || !name.starts_with(|c: char| c.is_ascii_lowercase())
            || !words.iter().all(|w| word_ok(w))
        {
            return Err(bad());
        }
        let capitalized: Vec<String> = words
            .iter()
            .map(|w| {
                let (first, rest) = w.split_at(1);
                format!("{}{rest}", first.to_ascii_uppercase())
            })
            .collect();
        Ok(Names {
            id: name.to_owned(),
            snake: name.replace('-', "_"),
            camel: capitalized.concat(),
            display: capitalized.join(" "),
        })
    }
}

/// A template source: its path in the new crate and its text.
type Source = (&'static str, &'static str);

const PLUGIN_SOURCES: &[Source] = &[
    (
        "Cargo.toml",
        include_str!("../../examples/template-plugin/Cargo.toml"),
    ),
    (
        "src/lib.rs",
        include_str!("../../examples/template-plugin/src/lib.rs"),
    ),
    (
        "src/manifest.rs",
        include_str!("../../examples/template-plugin/src/manifest.rs"),
    ),
    (
        "src/protocol.rs",
        include_str!("../../examples/template-plugin/src/protocol.rs"),
    ),
    (
        "src/status.rs",
        include_str!("../../examples/template-plugin/src/status.rs"),
    ),
    (
        "src/errors.rs",
        include_str!("../../examples/template-plugin/src/errors.rs"),
    ),
    (
        "src/tests.rs",
        include_str!("../../examples/template-plugin/src/tests.rs"),
    ),
    (
        "conformance.toml",
        include_str!("../templates/conformance.toml"),
    ),
];

const EMULATOR_SOURCES: &[Source] = &[
    (
        "Cargo.toml",
        include_str!("../../emulators/kumopay/Cargo.toml"),
    ),
    (
        "src/lib.rs",
        include_str!("../../emulators/kumopay/src/lib.rs"),
    ),
    (
        "src/server.rs",
        include_str!("../../emulators/kumopay/src/server.rs"),
    ),
    ("src/main.rs", include_str!("../templates/emulator-main.rs")),
    (
        "tests/protocol.rs",
        include_str!("../../emulators/kumopay/tests/protocol.rs"),
    ),
];

/// The plugin's substitutions, applied in order to every plugin source (longer strings before
/// the shorter ones they contain).
fn plugin_substitutions(n: &Names) -> Vec<(&'static str, String)> {
    vec![
        (
            "name = \"renkei-plugin-template\"",
            format!("name = \"renkei-plugin-{}\"", n.id),
        ),
        (
            "description = \"A minimal but real Renkei gateway plugin to copy when adding a gateway\"",
            format!("description = \"Renkei gateway plugin for {}\"", n.display),
        ),
        (
            "# cdylib: what the host loads. rlib: only so the benchmark can link the same code statically;\n\
             # a real plugin lists cdylib alone (two plugin rlibs in one binary clash on the export symbol).\n\
             crate-type = [\"cdylib\", \"rlib\"]",
            "# cdylib alone: what the host loads (two plugin rlibs in one binary clash on the export\n\
             # symbol).\n\
             crate-type = [\"cdylib\"]"
                .to_owned(),
        ),
        (
            "//! # Kumo Pay: the Renkei template plugin\n\
             //!\n\
             //! A small made-up gateway with a JSON-over-HTTPS protocol, written the way every Renkei plugin is\n\
             //! written. Copy this folder to start a new gateway:",
            format!(
                "//! # {}: a Renkei gateway plugin\n\
                 //!\n\
                 //! Scaffolded by `renkei new-plugin` from the template plugin's JSON-over-HTTPS protocol:\n\
                 //! change each file to the gateway's own, from its manual:",
                n.display
            ),
        ),
        ("\"Kumo Pay (template)\"", format!("\"{}\"", n.display)),
        // "a Kumo Pay card token", but "an Acme Pay card token".
        (" a Kumo Pay ", format!(" {} {} ", n.article(), n.display)),
        (" a [`KumoPay`]", format!(" {} [`{}`]", n.article(), n.camel)),
        ("Kumo-Timestamp", format!("{}-Timestamp", n.camel)),
        ("Kumo-Signature", format!("{}-Signature", n.camel)),
        ("Kumo Pay", n.display.clone()),
        ("KumoPay", n.camel.clone()),
        ("Kumo captures", format!("{} captures", n.display)),
        ("\"kumopay\"", format!("\"{}\"", n.id)),
        ("api.kumopay.example", format!("api.{}.example", n.id)),
        ("{{name}}", n.id.clone()),
    ]
}

/// The emulator's substitutions, applied in order to every emulator source.
fn emulator_substitutions(n: &Names) -> Vec<(&'static str, String)> {
    vec![
        (
            "name = \"renkei-emulator-kumopay\"",
            format!("name = \"renkei-emulator-{}\"", n.id),
        ),
        (
            "description = \"Loopback emulator of Kumo Pay, the made-up gateway of the template plugin, so a vendor's first conformance run is green\"",
            format!(
                "description = \"Loopback emulator of {}, so that `renkei certify plugins/{}` runs against it\"",
                n.display, n.id
            ),
        ),
        (
            "//! A tiny loopback server speaking Kumo Pay, the made-up JSON-over-HTTP protocol of\n\
             //! `examples/template-plugin`, so that a vendor who copies the template sees a green\n\
             //! `renkei conformance … --emulator template` run on day one, and the conformance suite's own\n\
             //! broken fixtures have something real to fail against.",
            format!(
                "//! A tiny loopback server speaking {}'s JSON-over-HTTP protocol as `plugins/{}` speaks it\n\
                 //! (scaffolded by `renkei new-plugin`), so that `renkei certify plugins/{}` runs against\n\
                 //! it. Change it with the plugin, from the gateway's manual.",
                n.display, n.id, n.id
            ),
        ),
        (
            "The protocol, as the template plugin speaks it:",
            "The protocol, as the plugin speaks it:".to_owned(),
        ),
        (
            "the template's error table",
            "the plugin's error table".to_owned(),
        ),
        (
            "as the template plugin's manifest declares it",
            "as the plugin's manifest declares it".to_owned(),
        ),
        (
            "get_the_template_error_codes",
            "get_the_error_table_codes".to_owned(),
        ),
        ("Kumo-Timestamp", format!("{}-Timestamp", n.camel)),
        ("Kumo-Signature", format!("{}-Signature", n.camel)),
        (
            "kumo-timestamp",
            format!("{}-timestamp", n.camel.to_ascii_lowercase()),
        ),
        (
            "kumo-signature",
            format!("{}-signature", n.camel.to_ascii_lowercase()),
        ),
        ("Kumo Pay", n.display.clone()),
        ("Kumo's JSON", format!("{}'s JSON", n.display)),
        ("TemplateEmulator", format!("{}Emulator", n.camel)),
        (
            "renkei_emulator_kumopay",
            format!("renkei_emulator_{}", n.snake),
        ),
        ("{{name}}", n.id.clone()),
        ("{{snake}}", n.snake.clone()),
        ("{{Camel}}", n.camel.clone()),
        ("{{Display}}", n.display.clone()),
    ]
}

/// Every source with the substitutions applied, in order.
fn render(sources: &[Source], table: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    sources
        .iter()
        .map(|(path, text)| {
            let text = table
                .iter()
                .fold((*text).to_owned(), |t, (from, to)| t.replace(from, to));
            (*path, text)
        })
        .collect()
}

/// The two crates' files, by path relative to the workspace root.
pub fn files(n: &Names) -> Vec<(PathBuf, String)> {
    let plugin = Path::new("plugins").join(&n.id);
    let emulator = Path::new("emulators").join(&n.id);
    render(PLUGIN_SOURCES, &plugin_substitutions(n))
        .into_iter()
        .map(|(p, t)| (plugin.join(p), t))
        .chain(
            render(EMULATOR_SOURCES, &emulator_substitutions(n))
                .into_iter()
                .map(|(p, t)| (emulator.join(p), t)),
        )
        .collect()
}

/// The workspace manifest with `members` (and `default-members`, when it has that list) given
/// each of `paths` it lacks, comments and layout kept: a new entry is laid out like the last.
pub fn add_members(manifest: &str, paths: &[String]) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = manifest.parse().map_err(|e| format!("{e}"))?;
    let workspace = doc
        .get_mut("workspace")
        .and_then(toml_edit::Item::as_table_mut)
        .ok_or("no [workspace] table")?;
    for list in ["members", "default-members"] {
        let Some(item) = workspace.get_mut(list) else {
            if list == "members" {
                return Err("no workspace members list".into());
            }
            continue;
        };
        let array = item
            .as_array_mut()
            .ok_or_else(|| format!("workspace `{list}` is not an array"))?;
        let prefix = array
            .iter()
            .last()
            .and_then(|v| v.decor().prefix())
            .and_then(|p| p.as_str())
            .unwrap_or(" ")
            .to_owned();
        for path in paths {
            if array.iter().any(|v| v.as_str() == Some(path)) {
                continue;
            }
            let mut value = toml_edit::Value::from(path.as_str());
            value.decor_mut().set_prefix(prefix.clone());
            array.push_formatted(value);
        }
    }
    Ok(doc.to_string())
}

pub fn run(args: NewPluginArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    let names = Names::parse(&args.name)?;
    if args.wire != "json" {
        return Err(NewPluginError::Wire(args.wire).into());
    }
    if !args.charset.eq_ignore_ascii_case("utf-8") && !args.charset.eq_ignore_ascii_case("utf8") {
        return Err(NewPluginError::Charset(args.charset).into());
    }
    let root = match args.dir {
        Some(dir) => dir,
        None => std::env::current_dir()?,
    };
    let manifest_path = root.join("Cargo.toml");
    let workspace_error = |reason: String| NewPluginError::Workspace {
        path: manifest_path.clone(),
        reason,
    };
    let manifest =
        std::fs::read_to_string(&manifest_path).map_err(|e| workspace_error(e.to_string()))?;
    let plugin_dir = format!("plugins/{}", names.id);
    let emulator_dir = format!("emulators/{}", names.id);
    for dir in [&plugin_dir, &emulator_dir] {
        if root.join(dir).exists() {
            return Err(NewPluginError::Exists(root.join(dir)).into());
        }
    }
    let manifest = add_members(&manifest, &[plugin_dir.clone(), emulator_dir.clone()])
        .map_err(workspace_error)?;

    let write = |path: &Path, text: &str| -> Result<(), NewPluginError> {
        let failed = |source| NewPluginError::Write {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        std::fs::write(path, text).map_err(failed)
    };
    let mut sources = Vec::new();
    for (path, text) in files(&names) {
        let path = root.join(path);
        write(&path, &text)?;
        if path.extension().is_some_and(|e| e == "rs") {
            sources.push(path);
        }
    }
    write(&manifest_path, &manifest)?;
    // The renamed types sort and wrap differently from the template's: format the new files
    // the way `cargo fmt` will, so a workspace's format check stays green.
    let formatted = std::process::Command::new("rustfmt")
        .args(["--edition", "2024"])
        .args(&sources)
        .status()
        .is_ok_and(|s| s.success());
    if !formatted {
        eprintln!("renkei: warning: rustfmt did not run on the new sources: run `cargo fmt`");
    }

    let _ = writeln!(
        out,
        "created {plugin_dir} (package renkei-plugin-{id}, gateway id `{id}`, type {camel}) and \
         {emulator_dir} (package renkei-emulator-{id}), added to the workspace members\n\
         next: renkei certify {plugin_dir}",
        id = names.id,
        camel = names.camel,
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acme() -> Names {
        Names::parse("acme-pay").unwrap()
    }

    #[test]
    fn a_name_gives_the_id_crate_type_and_display_forms() {
        assert_eq!(
            acme(),
            Names {
                id: "acme-pay".into(),
                snake: "acme_pay".into(),
                camel: "AcmePay".into(),
                display: "Acme Pay".into(),
            }
        );
        assert_eq!(Names::parse("zeus2").unwrap().camel, "Zeus2");
        for bad in [
            "",
            "Acme",
            "2pay",
            "acme-",
            "-acme",
            "acme--pay",
            "acme_pay",
            "acme pay",
            "acmé",
            "a23456789012345678901234567890123",
        ] {
            assert!(Names::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    /// Every pair must still match the template sources: a template change that a pair no
    /// longer fits would otherwise leave the template's names in new plugins.
    #[test]
    fn every_substitution_matches_the_template_sources() {
        let n = acme();
        for (sources, table) in [
            (PLUGIN_SOURCES, plugin_substitutions(&n)),
            (EMULATOR_SOURCES, emulator_substitutions(&n)),
        ] {
            for (from, _) in &table {
                assert!(
                    sources.iter().any(|(_, text)| text.contains(from)),
                    "no template source contains {from:?}"
                );
            }
        }
    }

    #[test]
    fn the_scaffold_names_the_new_gateway_everywhere() {
        let files = files(&acme());
        for (path, text) in &files {
            let lower = text.to_lowercase();
            assert!(!lower.contains("kumo"), "{} mentions Kumo", path.display());
            assert!(
                !text.contains("{{"),
                "{} keeps a placeholder",
                path.display()
            );
            assert!(
                !lower.contains("template") || path.ends_with("src/lib.rs"),
                "{} mentions the template",
                path.display()
            );
        }
        let file = |p: &str| {
            &files
                .iter()
                .find(|(path, _)| path == Path::new(p))
                .unwrap_or_else(|| panic!("no {p}"))
                .1
        };
        let cargo = file("plugins/acme-pay/Cargo.toml");
        assert!(cargo.contains("name = \"renkei-plugin-acme-pay\""));
        assert!(cargo.contains("crate-type = [\"cdylib\"]\n"));
        let lib = file("plugins/acme-pay/src/lib.rs");
        assert!(lib.contains("pub const GATEWAY_ID: &str = \"acme-pay\";"));
        assert!(lib.contains("pub struct AcmePay {"));
        assert!(lib.contains("renkei_sdk::export_gateway!(AcmePay);"));
        assert!(lib.contains("authorizing without an Acme Pay card token"));
        assert!(
            file("plugins/acme-pay/src/manifest.rs").contains("display_name: \"Acme Pay\".into()")
        );
        assert!(file("plugins/acme-pay/src/protocol.rs").contains("\"AcmePay-Signature\""));
        assert!(file("emulators/acme-pay/src/lib.rs").contains("header(\"acmepay-signature\")"));
        assert!(
            file("emulators/acme-pay/Cargo.toml").contains("name = \"renkei-emulator-acme-pay\"")
        );
        assert!(
            file("emulators/acme-pay/src/main.rs")
                .contains("renkei_emulator_acme_pay::AcmePayEmulator::start(config)")
        );
        assert!(
            file("plugins/acme-pay/conformance.toml").contains("renkei certify plugins/acme-pay")
        );
    }

    #[test]
    fn members_are_added_to_both_lists_keeping_comments_and_layout() {
        let manifest = "[workspace]\n# why\nmembers = [\n    \"sdk\",\n    \"cli\",\n]\n# users\ndefault-members = [\n    \"sdk\",\n]\n\n[workspace.package]\nedition = \"2024\"\n";
        let paths = [
            "plugins/acme-pay".to_owned(),
            "emulators/acme-pay".to_owned(),
        ];
        let edited = add_members(manifest, &paths).unwrap();
        assert_eq!(
            edited,
            "[workspace]\n# why\nmembers = [\n    \"sdk\",\n    \"cli\",\n    \"plugins/acme-pay\",\n    \"emulators/acme-pay\",\n]\n# users\ndefault-members = [\n    \"sdk\",\n    \"plugins/acme-pay\",\n    \"emulators/acme-pay\",\n]\n\n[workspace.package]\nedition = \"2024\"\n"
        );
        // Already there: unchanged.
        assert_eq!(add_members(&edited, &paths).unwrap(), edited);
        assert!(add_members("[package]\nname = \"x\"\n", &paths).is_err());
    }

    #[test]
    fn the_workspace_manifest_gets_both_crates() {
        let root = include_str!("../../Cargo.toml");
        let paths = [
            "plugins/acme-pay".to_owned(),
            "emulators/acme-pay".to_owned(),
        ];
        let edited = add_members(root, &paths).unwrap();
        let doc: toml::Table = toml::from_str(&edited).unwrap();
        for list in ["members", "default-members"] {
            let members = doc["workspace"][list].as_array().unwrap();
            for p in &paths {
                assert!(
                    members.iter().any(|m| m.as_str() == Some(p)),
                    "{list} lacks {p}"
                );
            }
        }
        // Only additions: every line of the original is still there, in order.
        let kept: Vec<&str> = edited.lines().filter(|l| !l.contains("acme-pay")).collect();
        assert_eq!(kept, root.lines().collect::<Vec<_>>());
    }
}
