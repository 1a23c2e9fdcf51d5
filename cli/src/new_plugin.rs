//! `renkei new-plugin NAME [--wire json|form|xml] [--charset utf-8|shift_jis|euc-jp] [--dir DIR]`:
//! scaffolds a gateway plugin crate `plugins/NAME` from a template plugin (Kumo Pay: JSON,
//! `examples/template-plugin`, form, `examples/template-plugin-form`, or XML,
//! `examples/template-plugin-xml`) and its emulator
//! `emulators/NAME` from the Kumo Pay emulator (set to the same wire and charset), and adds both
//! to the workspace.
//!
//! The sources are embedded in the `renkei` binary, so the command works from an installed copy.
//! Names, wire and charset are filled in by explicit substitutions, one table per crate and
//! wire, each pair an exact string of that template's sources: a test holds every pair of every
//! variant to match, so a change to a template that a pair no longer fits fails here rather
//! than leaving a `KumoPay` in a new plugin.

use clap::Args;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct NewPluginArgs {
    /// The gateway id: lower case, `[a-z][a-z0-9]*` words joined by `-` (e.g. `acme-pay`).
    name: String,
    /// The wire format of the gateway's requests and replies: `json` (JSON documents), `form`
    /// (form requests, `key=value&` replies: GMO-PG's shape) or `xml` (XML request and reply
    /// documents: SBPS's shape).
    #[arg(long, default_value = "json")]
    wire: String,
    /// The character set of the gateway's messages: `utf-8`, `shift_jis` or `euc-jp` (form and
    /// xml only). Default: `utf-8` for json, `shift_jis` for form and xml.
    #[arg(long)]
    charset: Option<String>,
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
    #[error("unknown wire `{0}` (accepted: json, form, xml)")]
    Wire(String),
    #[error("unknown charset `{0}` (accepted: utf-8, shift_jis, euc-jp)")]
    Charset(String),
    #[error(
        "`--wire json` is UTF-8 only (RFC 8259), not `--charset {charset}`: use `--wire form` or `--wire xml` for a gateway that writes {charset}"
    )]
    Combination { charset: &'static str },
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

/// The wire format of the gateway's requests and replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    Json,
    Form,
    Xml,
}

impl Wire {
    pub fn parse(wire: &str) -> Result<Wire, NewPluginError> {
        match wire.to_ascii_lowercase().as_str() {
            "json" => Ok(Wire::Json),
            "form" => Ok(Wire::Form),
            "xml" => Ok(Wire::Xml),
            _ => Err(NewPluginError::Wire(wire.to_owned())),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Wire::Json => "json",
            Wire::Form => "form",
            Wire::Xml => "xml",
        }
    }
}

/// The character set of the gateway's messages (both directions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    ShiftJis,
    EucJp,
}

impl Charset {
    pub fn parse(charset: &str) -> Result<Charset, NewPluginError> {
        match charset.to_ascii_lowercase().replace('-', "_").as_str() {
            "utf_8" | "utf8" => Ok(Charset::Utf8),
            "shift_jis" | "sjis" => Ok(Charset::ShiftJis),
            "euc_jp" | "eucjp" => Ok(Charset::EucJp),
            _ => Err(NewPluginError::Charset(charset.to_owned())),
        }
    }

    /// As `--charset` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Charset::Utf8 => "utf-8",
            Charset::ShiftJis => "shift_jis",
            Charset::EucJp => "euc-jp",
        }
    }

    /// The variant of `renkei_sdk::wire::Charset` and of the emulator's `Charset`.
    fn variant(self) -> &'static str {
        match self {
            Charset::Utf8 => "Utf8",
            Charset::ShiftJis => "ShiftJis",
            Charset::EucJp => "EucJp",
        }
    }
}

/// What a scaffold speaks: a wire and a charset that fit together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Speech {
    pub wire: Wire,
    pub charset: Charset,
}

impl Speech {
    /// The wire and charset as given (`charset` `None`: the wire's usual one), refused when
    /// they do not fit together.
    pub fn parse(wire: &str, charset: Option<&str>) -> Result<Speech, NewPluginError> {
        let wire = Wire::parse(wire)?;
        let charset = match (wire, charset) {
            (_, Some(c)) => Charset::parse(c)?,
            (Wire::Json, None) => Charset::Utf8,
            (Wire::Form | Wire::Xml, None) => Charset::ShiftJis,
        };
        if wire == Wire::Json && charset != Charset::Utf8 {
            return Err(NewPluginError::Combination {
                charset: charset.name(),
            });
        }
        Ok(Speech { wire, charset })
    }

    /// Every combination the scaffold accepts (the tests render each).
    #[cfg(test)]
    pub fn all() -> Vec<Speech> {
        let mut all = vec![Speech {
            wire: Wire::Json,
            charset: Charset::Utf8,
        }];
        for wire in [Wire::Form, Wire::Xml] {
            all.extend(
                [Charset::Utf8, Charset::ShiftJis, Charset::EucJp]
                    .map(|charset| Speech { wire, charset }),
            );
        }
        all
    }
}

/// A template source: its path in the new crate and its text.
type Source = (&'static str, &'static str);

/// The JSON template's files that the form and XML templates share (by `#[path]`).
const SHARED_PLUGIN_SOURCES: &[Source] = &[
    (
        "src/manifest.rs",
        include_str!("../../examples/template-plugin/src/manifest.rs"),
    ),
    (
        "src/signing.rs",
        include_str!("../../examples/template-plugin/src/signing.rs"),
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
        "conformance.toml",
        include_str!("../templates/conformance.toml"),
    ),
];

const JSON_PLUGIN_SOURCES: &[Source] = &[
    (
        "Cargo.toml",
        include_str!("../../examples/template-plugin/Cargo.toml"),
    ),
    (
        "src/lib.rs",
        include_str!("../../examples/template-plugin/src/lib.rs"),
    ),
    (
        "src/protocol.rs",
        include_str!("../../examples/template-plugin/src/protocol.rs"),
    ),
    (
        "src/tests.rs",
        include_str!("../../examples/template-plugin/src/tests.rs"),
    ),
];

const FORM_PLUGIN_SOURCES: &[Source] = &[
    (
        "Cargo.toml",
        include_str!("../../examples/template-plugin-form/Cargo.toml"),
    ),
    (
        "src/lib.rs",
        include_str!("../../examples/template-plugin-form/src/lib.rs"),
    ),
    (
        "src/protocol.rs",
        include_str!("../../examples/template-plugin-form/src/protocol.rs"),
    ),
    (
        "src/tests.rs",
        include_str!("../../examples/template-plugin-form/src/tests.rs"),
    ),
];

const XML_PLUGIN_SOURCES: &[Source] = &[
    (
        "Cargo.toml",
        include_str!("../../examples/template-plugin-xml/Cargo.toml"),
    ),
    (
        "src/lib.rs",
        include_str!("../../examples/template-plugin-xml/src/lib.rs"),
    ),
    (
        "src/protocol.rs",
        include_str!("../../examples/template-plugin-xml/src/protocol.rs"),
    ),
    (
        "src/tests.rs",
        include_str!("../../examples/template-plugin-xml/src/tests.rs"),
    ),
];

/// The plugin's template sources for `wire`.
fn plugin_sources(wire: Wire) -> Vec<Source> {
    let own = match wire {
        Wire::Json => JSON_PLUGIN_SOURCES,
        Wire::Form => FORM_PLUGIN_SOURCES,
        Wire::Xml => XML_PLUGIN_SOURCES,
    };
    own.iter().chain(SHARED_PLUGIN_SOURCES).copied().collect()
}

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
    (
        "src/form.rs",
        include_str!("../../emulators/kumopay/src/form.rs"),
    ),
    (
        "src/xml.rs",
        include_str!("../../emulators/kumopay/src/xml.rs"),
    ),
    ("src/main.rs", include_str!("../templates/emulator-main.rs")),
    (
        "tests/protocol.rs",
        include_str!("../../emulators/kumopay/tests/protocol.rs"),
    ),
];

/// The plugin's substitutions for `speech`, applied in order to every plugin source (longer
/// strings before the shorter ones they contain): the wire's own pairs, then the common ones.
fn plugin_substitutions(n: &Names, speech: Speech) -> Vec<(&'static str, String)> {
    let mut table = match speech.wire {
        Wire::Json => json_plugin_substitutions(n),
        Wire::Form => form_plugin_substitutions(n, speech.charset),
        Wire::Xml => xml_plugin_substitutions(n, speech.charset),
    };
    table.extend(common_plugin_substitutions(n));
    table
}

/// The JSON template's own pairs.
fn json_plugin_substitutions(n: &Names) -> Vec<(&'static str, String)> {
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
        ("\"kumopay\"", format!("\"{}\"", n.id)),
    ]
}

/// The form template's own pairs: its names, the JSON template's files it shares by path
/// copied in place, and the charset.
fn form_plugin_substitutions(n: &Names, charset: Charset) -> Vec<(&'static str, String)> {
    let mut table = vec![
        (
            "name = \"renkei-plugin-template-form\"",
            format!("name = \"renkei-plugin-{}\"", n.id),
        ),
        (
            "description = \"The template plugin on the form wire: form requests and key=value replies in a charset\"",
            format!("description = \"Renkei gateway plugin for {}\"", n.display),
        ),
        (
            "//! # Kumo Pay form: the Renkei template plugin on the form wire\n\
             //!\n\
             //! Kumo Pay's operations as `examples/template-plugin` writes them, spoken over the form wire\n\
             //! of Japanese gateways such as GMO-PG: form requests and `key=value&` replies in a charset\n\
             //! (`protocol::CHARSET`), errors as parallel `ErrCode`/`ErrInfo` lists. It keeps the JSON\n\
             //! template's manifest, status table, error table and signing (those files are the JSON\n\
             //! template's own, shared by path here; `renkei new-plugin --wire form` copies them):",
            format!(
                "//! # {}: a Renkei gateway plugin\n\
                 //!\n\
                 //! Scaffolded by `renkei new-plugin --wire form --charset {}` from the template plugin's\n\
                 //! form wire (form requests and `key=value&` replies in `protocol::CHARSET`, errors as\n\
                 //! `ErrCode`/`ErrInfo` lists): change each file to the gateway's own, from its manual:",
                n.display,
                charset.name()
            ),
        ),
        ("\"Kumo Pay form (template)\"", format!("\"{}\"", n.display)),
        ("\"kumopay-form\"", format!("\"{}\"", n.id)),
    ];
    table.extend(shared_in_place(charset));
    table
}

/// The pairs the form and XML templates share: the JSON template's files they use by path are
/// copied into the new crate (its modules are its own files), the charset, and the suite's
/// customer.
fn shared_in_place(charset: Charset) -> Vec<(&'static str, String)> {
    let mut table = vec![
        (
            "pub const CHARSET: Charset = Charset::ShiftJis;",
            format!(
                "pub const CHARSET: Charset = Charset::{};",
                charset.variant()
            ),
        ),
        // The suite's customer: a name every Japanese charset writes, which travels through it.
        (
            "customer = \"renkei-conformance\"",
            "customer = \"ポール山田\"".to_owned(),
        ),
    ];
    table.extend(
        [
            "#[path = \"../../template-plugin/src/errors.rs\"]\n",
            "#[path = \"../../template-plugin/src/manifest.rs\"]\n",
            "#[path = \"../../template-plugin/src/signing.rs\"]\n",
            "#[path = \"../../template-plugin/src/status.rs\"]\n",
        ]
        .map(|from| (from, String::new())),
    );
    table
}

/// The XML template's own pairs: its names, then what it shares with the form template.
fn xml_plugin_substitutions(n: &Names, charset: Charset) -> Vec<(&'static str, String)> {
    let mut table = vec![
        (
            "name = \"renkei-plugin-template-xml\"",
            format!("name = \"renkei-plugin-{}\"", n.id),
        ),
        (
            "description = \"The template plugin on the XML wire: XML request and reply documents in a charset\"",
            format!("description = \"Renkei gateway plugin for {}\"", n.display),
        ),
        (
            "//! # Kumo Pay XML: the Renkei template plugin on the XML wire\n\
             //!\n\
             //! Kumo Pay's operations as `examples/template-plugin` writes them, spoken over the XML wire\n\
             //! of Japanese gateways such as SBPS: XML request and reply documents in a charset\n\
             //! (`protocol::CHARSET`), a refusal listing every problem as one `<error>`. It keeps the JSON\n\
             //! template's manifest, status table, error table and signing (those files are the JSON\n\
             //! template's own, shared by path here; `renkei new-plugin --wire xml` copies them):",
            format!(
                "//! # {}: a Renkei gateway plugin\n\
                 //!\n\
                 //! Scaffolded by `renkei new-plugin --wire xml --charset {}` from the template plugin's\n\
                 //! XML wire (XML request and reply documents in `protocol::CHARSET`, a refusal listing\n\
                 //! every problem as one `<error>`): change each file to the gateway's own, from its manual:",
                n.display,
                charset.name()
            ),
        ),
        ("\"Kumo Pay XML (template)\"", format!("\"{}\"", n.display)),
        ("\"kumopay-xml\"", format!("\"{}\"", n.id)),
    ];
    table.extend(shared_in_place(charset));
    table
}

/// The pairs both templates need: names in the files they share, and the display name, type
/// and headers everywhere.
fn common_plugin_substitutions(n: &Names) -> Vec<(&'static str, String)> {
    vec![
        // "a Kumo Pay card token", but "an Acme Pay card token".
        (" a Kumo Pay ", format!(" {} {} ", n.article(), n.display)),
        (
            " a [`KumoPay`]",
            format!(" {} [`{}`]", n.article(), n.camel),
        ),
        ("Kumo-Timestamp", format!("{}-Timestamp", n.camel)),
        ("Kumo-Signature", format!("{}-Signature", n.camel)),
        ("Kumo Pay", n.display.clone()),
        ("KumoPay", n.camel.clone()),
        ("Kumo captures", format!("{} captures", n.display)),
        ("api.kumopay.example", format!("api.{}.example", n.id)),
        ("{{name}}", n.id.clone()),
    ]
}

/// The emulator's substitutions for `speech`, applied in order to every emulator source.
fn emulator_substitutions(n: &Names, speech: Speech) -> Vec<(&'static str, String)> {
    let protocol = match speech.wire {
        Wire::Json => "JSON-over-HTTP protocol".to_owned(),
        Wire::Form => format!("form protocol ({})", speech.charset.name()),
        Wire::Xml => format!("XML protocol ({})", speech.charset.name()),
    };
    let mut table = vec![
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
                "//! A tiny loopback server speaking {}'s {protocol} as `plugins/{}` speaks it\n\
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
    ];
    // The skeleton's default config (what its `main` starts) speaks the plugin's wire.
    let variant = speech.charset.variant();
    match speech.wire {
        Wire::Json => {}
        Wire::Form => table.push((
            "wire: Wire::Json,",
            format!("wire: Wire::Form(Charset::{variant}),"),
        )),
        Wire::Xml => table.push((
            "wire: Wire::Json,",
            format!("wire: Wire::Xml(Charset::{variant}),"),
        )),
    }
    table
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

/// The two crates' files for `speech`, by path relative to the workspace root.
pub fn files(n: &Names, speech: Speech) -> Vec<(PathBuf, String)> {
    let plugin = Path::new("plugins").join(&n.id);
    let emulator = Path::new("emulators").join(&n.id);
    render(
        &plugin_sources(speech.wire),
        &plugin_substitutions(n, speech),
    )
    .into_iter()
    .map(|(p, t)| (plugin.join(p), t))
    .chain(
        render(EMULATOR_SOURCES, &emulator_substitutions(n, speech))
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
    let speech = Speech::parse(&args.wire, args.charset.as_deref())?;
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
    for (path, text) in files(&names, speech) {
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
        "created {plugin_dir} (package renkei-plugin-{id}, gateway id `{id}`, type {camel}, \
         {wire} wire in {charset}) and {emulator_dir} (package renkei-emulator-{id}), added to the \
         workspace members\n\
         next: renkei certify {plugin_dir}",
        id = names.id,
        camel = names.camel,
        wire = speech.wire.name(),
        charset = speech.charset.name(),
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

    fn json() -> Speech {
        Speech::parse("json", None).unwrap()
    }

    fn form(charset: &str) -> Speech {
        Speech::parse("form", Some(charset)).unwrap()
    }

    #[test]
    fn wire_and_charset_are_parsed_defaulted_and_refused_when_they_do_not_fit() {
        assert_eq!(
            json(),
            Speech {
                wire: Wire::Json,
                charset: Charset::Utf8
            }
        );
        assert_eq!(Speech::parse("form", None).unwrap(), form("shift_jis"));
        assert_eq!(form("Shift-JIS"), form("sjis"));
        assert_eq!(form("EUC-JP").charset, Charset::EucJp);
        assert_eq!(form("UTF8").charset, Charset::Utf8);
        let refused = |wire: &str, charset: Option<&str>| {
            Speech::parse(wire, charset).unwrap_err().to_string()
        };
        let xml = |charset: &str| Speech::parse("xml", Some(charset)).unwrap();
        assert_eq!(
            Speech::parse("XML", None).unwrap(),
            Speech {
                wire: Wire::Xml,
                charset: Charset::ShiftJis
            }
        );
        assert_eq!(xml("euc-jp").charset, Charset::EucJp);
        assert_eq!(xml("utf-8").charset, Charset::Utf8);
        let e = refused("json", Some("shift_jis"));
        assert!(
            e.contains("UTF-8 only") && e.contains("--wire form") && e.contains("--wire xml"),
            "{e}"
        );
        let e = refused("soap", None);
        assert!(e.contains("accepted: json, form, xml"), "{e}");
        let e = refused("form", Some("latin1"));
        assert!(e.contains("accepted: utf-8, shift_jis, euc-jp"), "{e}");
        let e = refused("xml", Some("latin1"));
        assert!(e.contains("accepted: utf-8, shift_jis, euc-jp"), "{e}");
        assert_eq!(Speech::all().len(), 7);
    }

    /// Every pair must still match the template sources of its variant: a template change that
    /// a pair no longer fits would otherwise leave the template's names in new plugins.
    #[test]
    fn every_substitution_matches_the_template_sources_of_every_variant() {
        let n = acme();
        for speech in Speech::all() {
            for (sources, table) in [
                (
                    plugin_sources(speech.wire),
                    plugin_substitutions(&n, speech),
                ),
                (
                    EMULATOR_SOURCES.to_vec(),
                    emulator_substitutions(&n, speech),
                ),
            ] {
                for (from, _) in &table {
                    assert!(
                        sources.iter().any(|(_, text)| text.contains(from)),
                        "{speech:?}: no template source contains {from:?}"
                    );
                }
            }
        }
    }

    /// The form and XML templates' modules that are the JSON template's files, by path: each is
    /// copied into the new crate, whose `lib.rs` then finds it in place.
    #[test]
    fn the_form_and_xml_templates_share_exactly_the_files_the_scaffold_copies() {
        for sources in [FORM_PLUGIN_SOURCES, XML_PLUGIN_SOURCES] {
            shares_exactly_the_files_the_scaffold_copies(sources);
        }
    }

    fn shares_exactly_the_files_the_scaffold_copies(sources: &[Source]) {
        let lib = sources.iter().find(|(p, _)| *p == "src/lib.rs").unwrap().1;
        let by_path: Vec<&str> = lib
            .lines()
            .filter_map(|l| l.strip_prefix("#[path = \"../../template-plugin/"))
            .map(|l| l.trim_end_matches("\"]"))
            .collect();
        let mut shared: Vec<&str> = SHARED_PLUGIN_SOURCES
            .iter()
            .map(|(p, _)| *p)
            .filter(|p| p.ends_with(".rs"))
            .collect();
        shared.sort_unstable();
        assert_eq!(by_path, shared);
    }

    #[test]
    fn the_scaffold_names_the_new_gateway_everywhere() {
        for speech in Speech::all() {
            names_the_new_gateway_everywhere(speech);
        }
    }

    fn names_the_new_gateway_everywhere(speech: Speech) {
        let files = files(&acme(), speech);
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
        assert!(lib.contains("pub const DISPLAY_NAME: &str = \"Acme Pay\";"));
        assert!(lib.contains("pub struct AcmePay {"));
        assert!(lib.contains("renkei_sdk::export_gateway!(AcmePay);"));
        assert!(lib.contains("authorizing without an Acme Pay card token"));
        assert!(!lib.contains("#[path"), "{speech:?}: a module left by path");
        assert!(
            file("plugins/acme-pay/src/manifest.rs").contains("display_name: DISPLAY_NAME.into()")
        );
        assert!(file("plugins/acme-pay/src/signing.rs").contains("\"AcmePay-Signature\""));
        let protocol = file("plugins/acme-pay/src/protocol.rs");
        let emulator = file("emulators/acme-pay/src/lib.rs");
        let settings = file("plugins/acme-pay/conformance.toml");
        match speech.wire {
            Wire::Json => {
                assert!(protocol.contains("\"application/json\""));
                assert!(emulator.contains("wire: Wire::Json,"));
                assert!(settings.contains("customer = \"renkei-conformance\""));
            }
            Wire::Form | Wire::Xml => {
                let variant = speech.charset.variant();
                assert!(
                    protocol.contains(&format!("pub const CHARSET: Charset = Charset::{variant};"))
                );
                let wire = if speech.wire == Wire::Form {
                    "Form"
                } else {
                    "Xml"
                };
                assert!(emulator.contains(&format!("wire: Wire::{wire}(Charset::{variant}),")));
                assert!(settings.contains("customer = \"ポール山田\""));
                assert!(lib.contains(&format!(
                    "--wire {} --charset {}",
                    speech.wire.name(),
                    speech.charset.name()
                )));
            }
        }
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
