use renkei_tests::{
    cargo_building_in, plugin_dir, plugin_path, renkei_bin, renkei_building_in, workspace_root,
};
use std::process::Command;

fn renkei(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(renkei_bin())
        .args(args)
        .env_remove("RENKEI_PLUGIN_DIR")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ids(doc: &serde_json::Value) -> Vec<String> {
    doc["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["gateway_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn plugins_json_is_one_document_and_lists_refusals() {
    let dir = std::env::temp_dir().join(format!("renkei-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for p in [
        "renkei-plugin-template",
        "renkei-fixture-faulty",
        "renkei-fixture-abi-next",
    ] {
        let src = plugin_path(p);
        std::fs::copy(&src, dir.join(src.file_name().unwrap())).unwrap();
    }
    let (code, stdout, _) = renkei(&["plugins", "--dir", dir.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0);
    let doc: serde_json::Value =
        serde_json::from_str(&stdout).expect("stdout is one JSON document");
    assert_eq!(ids(&doc), ["faulty", "kumopay"]);
    let refused = doc["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1);
    assert!(
        refused[0]["error"]
            .as_str()
            .unwrap()
            .contains("renkei-sdk 0.3.0")
    );
    let kumo = &doc["plugins"][1];
    assert_eq!(
        kumo["capabilities"]["replay_safe"],
        serde_json::json!(["capture", "void"])
    );
}

#[test]
fn plugins_finds_the_workspace_plugins_with_no_flags() {
    // The default directory is the executable's own, where cargo put the plugins.
    plugin_dir();
    let (code, stdout, _) = renkei(&["plugins", "--json"]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(ids(&doc).contains(&"kumopay".to_owned()), "{stdout}");
    let (code, stdout, _) = renkei(&["plugins"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("kumopay") && stdout.contains("Kumo Pay (template)"),
        "{stdout}"
    );
}

#[test]
fn plugins_show_prints_the_status_and_error_tables() {
    let (code, stdout, _) = renkei(&["plugins", "show", "kumopay", "--json"]);
    assert_eq!(code, 0);
    let m: renkei_sdk::Manifest = serde_json::from_str(&stdout).unwrap();
    assert_eq!(m.statuses.len(), 6);
    assert!(m.errors.iter().any(|e| e.code == "already_captured"));

    let (code, stdout, _) = renkei(&["plugins", "show", "kumopay"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("status table:") && stdout.contains("partially_refunded"));
    assert!(stdout.contains("error table:") && stdout.contains("bad_signature"));

    let (code, stdout, stderr) = renkei(&["plugins", "show", "nope"]);
    assert_ne!(code, 0);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("no plugin with gateway id `nope`"),
        "{stderr}"
    );
}

/// SBPS declares its order-id rules, so the host issues its ids; F-REGI sends its own.
#[test]
fn plugins_show_says_who_makes_the_order_ids() {
    let (code, stdout, _) = renkei(&["plugins", "show", "sbps"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(
            "order ids: issued by the host, one per attempt: at most 38 characters, letters and \
             digits\n"
        ),
        "{stdout}"
    );
    let (_, stdout, _) = renkei(&["plugins", "show", "fregi"]);
    assert!(stdout.contains("order ids: the plugin's own"), "{stdout}");
}

#[test]
fn plugins_show_marks_an_operation_that_only_a_config_key_enables() {
    // F-REGI's inquire exists only at the emulator's inquiry_url (docs/protocols/fregi.md, inquiry).
    let (code, stdout, _) = renkei(&["plugins", "show", "fregi"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("inquire(with inquiry_url)"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("inquiry_url") && l.contains("enables inquire")),
        "{stdout}"
    );
    let (code, stdout, _) = renkei(&["plugins", "show", "fregi", "--json"]);
    assert_eq!(code, 0);
    let m: renkei_sdk::Manifest = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        m.enabling_keys(renkei_sdk::OperationKind::Inquire),
        vec!["inquiry_url"]
    );
    let (code, stdout, _) = renkei(&["plugins", "--json"]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let fregi = doc["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["gateway_id"] == "fregi")
        .expect("fregi listed");
    assert_eq!(
        fregi["config_dependent"],
        serde_json::json!({"inquire": ["inquiry_url"]})
    );
}

/// Starts `renkei emulator <gateway>` on a free port and returns the child and the address it
/// printed.
fn start_emulator(gateway: &str) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(renkei_bin())
        .args(["emulator", gateway, "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .map(|rest| rest.trim().trim_end_matches('/').to_owned())
        .unwrap_or_else(|| panic!("no address in {first:?}"));
    (child, addr)
}

/// One raw HTTP/1.1 exchange; returns the status line and the body bytes.
fn raw_http(addr: &str, request: &str) -> (String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    let split = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete HTTP reply");
    let head = String::from_utf8_lossy(&reply[..split]).into_owned();
    (
        head.lines().next().unwrap_or_default().to_owned(),
        reply[split + 4..].to_vec(),
    )
}

#[test]
fn emulator_fregi_runs_as_a_process_and_answers_its_protocol() {
    let (mut child, addr) = start_emulator("fregi");
    let (status, body) = raw_http(
        &addr,
        &format!(
            "GET /connect/sale.cgi?SHOPID=12345&SEQNO=00000000000000000001 HTTP/1.1\r\n\
             Host: {addr}\r\nConnection: close\r\n\r\n"
        ),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(status.contains("200"), "{status}");
    // An unknown transaction: NG and an EUC-JP message (not valid UTF-8 as sent).
    assert!(body.starts_with(b"NG\n"), "{body:?}");
    assert!(
        std::str::from_utf8(&body).is_err(),
        "the reply is EUC-JP, not UTF-8"
    );
}

#[test]
fn emulator_sbps_runs_as_a_process_and_demands_basic_auth() {
    let (mut child, addr) = start_emulator("sbps");
    let (status, _) = raw_http(
        &addr,
        &format!(
            "POST /api/xmlapi.do HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n"
        ),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(status.contains("401"), "{status}");
}

/// The number just before `marker` in `line` (`"… 240 orders/s aggregate"`).
fn figure_before(line: &str, marker: &str) -> f64 {
    let head = &line[..line
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in {line:?}"))];
    head.split_whitespace()
        .last()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no figure before {marker:?} in {line:?}"))
}

#[test]
fn bench_bulk_runs_two_host_processes_on_one_postgres_journal() {
    let Some(url) = std::env::var("RENKEI_TEST_POSTGRES_URL").ok() else {
        eprintln!(
            "\n*** SKIPPED: `renkei bench bulk --hosts 2` on PostgreSQL (set RENKEI_TEST_POSTGRES_URL) ***\n"
        );
        return;
    };
    let child = Command::new(renkei_bin())
        .args(["bench", "bulk", "--orders", "40", "--concurrency", "8"])
        .args([
            "--hosts",
            "2",
            "--latency-ms",
            "10",
            "--pg-probe-seconds",
            "0",
        ])
        .args(["--postgres", &url])
        .env_remove("RENKEI_PLUGIN_DIR")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");

    let hosts: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("host ") && l.contains("orders in"))
        .collect();
    assert_eq!(hosts.len(), 2, "one result line per host:\n{stdout}");
    for line in &hosts {
        assert!(line.contains("20 orders in"), "{line}");
        assert!(line.contains("(0 failed)"), "{line}");
        assert!(figure_before(line, "orders/s") > 0.0, "{line}");
    }
    let total = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("2 hosts:"))
        .unwrap_or_else(|| panic!("no two-host line:\n{stdout}"));
    assert!(total.contains("40 orders (0 failed)"), "{total}");
    assert!(figure_before(total, "orders/s aggregate") > 0.0, "{total}");
    let single = figure_before(total, "orders/s; aggregate");
    assert!(single > 0.0, "{total}");
    // The existing single-process lines are still printed.
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.contains("bulk capture: 40 orders in") && l.contains("(0 failed)"))
            .count(),
        4,
        "{stdout}"
    );

    // Every schema the bench made is gone.
    let mut pg = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let left: i64 = pg
        .query_one(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE $1",
            &[&format!("renkei_bench_bulk_{pid}%")],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "the bench left schemas behind");
}

#[test]
fn abi_plugins_shows_each_plugins_sdk_version_and_whether_it_runs_through_compatibility() {
    let dir = std::env::temp_dir().join(format!("renkei-cli-abi-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let frozen = &renkei_tests::compat_0_1().template_plugin;
    std::fs::copy(frozen, dir.join(frozen.file_name().unwrap())).unwrap();
    let faulty = plugin_path("renkei-fixture-faulty");
    std::fs::copy(&faulty, dir.join(faulty.file_name().unwrap())).unwrap();
    let dir_arg = dir.to_str().unwrap();

    let (code, stdout, _) = renkei(&["plugins", "--dir", dir_arg, "--json"]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(ids(&doc), ["faulty", "kumopay"]);
    assert_eq!(doc["refused"], serde_json::json!([]));
    let faulty = &doc["plugins"][0];
    assert_eq!(faulty["sdk_version"], renkei_sdk::SDK_VERSION);
    assert_eq!(faulty["abi"], "native");
    let kumo = &doc["plugins"][1];
    assert_eq!(kumo["sdk_version"], "0.1.0");
    assert_eq!(kumo["abi"], "compat 0.1");

    let (code, stdout, _) = renkei(&["plugins", "--dir", dir_arg]);
    assert_eq!(code, 0);
    let line = |id: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(id))
            .unwrap_or_else(|| panic!("no row for {id}:\n{stdout}"))
            .to_owned()
    };
    let kumo = line("kumopay");
    assert!(
        kumo.contains("0.1.0") && kumo.contains("compat 0.1"),
        "{stdout}"
    );
    let faulty = line("faulty");
    assert!(
        faulty.contains(renkei_sdk::SDK_VERSION) && faulty.contains("native"),
        "{stdout}"
    );

    let (code, stdout, _) = renkei(&["plugins", "--dir", dir_arg, "show", "kumopay"]);
    assert_eq!(code, 0);
    assert!(
        stdout
            .lines()
            .next()
            .unwrap()
            .ends_with("sdk 0.1.0 (compat 0.1)"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `renkei handle-key` prints a fresh key a host's `handle_key_file` accepts, never the same
/// twice.
#[test]
fn handle_key_prints_a_fresh_key_the_host_reads() {
    let (code, first, _) = renkei(&["handle-key"]);
    assert_eq!(code, 0);
    let (_, second, _) = renkei(&["handle-key"]);
    assert_ne!(first, second);
    assert_eq!(first.trim().len(), 64);
    assert!(renkei_host::seal::HandleKey::from_hex(&first).is_ok());
}

fn output(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The report's last line says `…: CERTIFIED` (not `NOT CERTIFIED`).
fn certified(stdout: &str) -> bool {
    stdout.lines().any(|l| l.ends_with(": CERTIFIED"))
}

#[test]
fn certify_builds_a_crate_shows_its_tables_and_runs_the_suite() {
    let (code, stdout, stderr) = output(renkei_building_in(&workspace_root()).args([
        "certify",
        "examples/template-plugin",
        "--emulator",
        "template",
    ]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    // `plugins show`'s header, then its tables, then the report.
    assert!(
        stdout.starts_with("Kumo Pay (template) (kumopay) 0.1.0"),
        "{stdout}"
    );
    assert!(stdout.contains("status table:"), "{stdout}");
    assert!(certified(&stdout), "{stdout}");
}

/// The form template against the form emulator in Shift_JIS: the suite's customer (ポール山田)
/// goes out in the plugin's form and comes back in the emulator's reply.
#[test]
fn certify_runs_the_form_template_against_the_form_emulator() {
    let (code, stdout, stderr) = output(renkei_building_in(&workspace_root()).args([
        "certify",
        "examples/template-plugin-form",
        "--emulator",
        "template-form",
    ]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("Kumo Pay form (template) (kumopay-form) 0.1.0"),
        "{stdout}"
    );
    assert!(certified(&stdout), "{stdout}");
}

/// The XML template against the XML emulator in Shift_JIS: the suite's customer (ポール山田)
/// goes out in the plugin's request document and comes back in the emulator's reply.
#[test]
fn certify_runs_the_xml_template_against_the_xml_emulator() {
    let (code, stdout, stderr) = output(renkei_building_in(&workspace_root()).args([
        "certify",
        "examples/template-plugin-xml",
        "--emulator",
        "template-xml",
    ]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("Kumo Pay XML (template) (kumopay-xml) 0.1.0"),
        "{stdout}"
    );
    assert!(certified(&stdout), "{stdout}");
}

#[test]
fn certify_names_a_missing_crate_or_package() {
    let root = workspace_root();
    let (code, _, stderr) = output(renkei_building_in(&root).args([
        "certify",
        "plugins/no-such-plugin",
        "--emulator",
        "template",
    ]));
    assert_ne!(code, 0);
    assert!(
        stderr.contains("`plugins/no-such-plugin` is neither"),
        "{stderr}"
    );
    let (code, _, stderr) = output(renkei_building_in(&root).args([
        "certify",
        "renkei-plugin-no-such",
        "--emulator",
        "template",
    ]));
    assert_ne!(code, 0);
    assert!(
        stderr.contains("no package `renkei-plugin-no-such` in this workspace"),
        "{stderr}"
    );
}

/// Copies the workspace's sources (what git tracks or would, not `target/`) to `to`, where a
/// command can change them.
fn copy_workspace(to: &std::path::Path) {
    let root = workspace_root();
    let listed = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(&root)
        .output()
        .expect("running git ls-files");
    assert!(listed.status.success(), "git ls-files failed");
    for path in listed.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let path = std::path::Path::new(std::str::from_utf8(path).unwrap());
        let from = root.join(path);
        // Listed but deleted in the work tree.
        if !from.is_file() {
            continue;
        }
        let dest = to.join(path);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&from, &dest).unwrap();
    }
}

/// A copy of the workspace's sources at `CARGO_TARGET_TMPDIR/name`, removed when dropped, also
/// when the test fails. A fixed place, so the copy's crates keep their build artifacts (in the
/// test's target directory) from run to run.
struct WorkspaceCopy(std::path::PathBuf);

impl WorkspaceCopy {
    fn new(name: &str) -> WorkspaceCopy {
        let ws = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        let _ = std::fs::remove_dir_all(&ws);
        copy_workspace(&ws);
        WorkspaceCopy(ws)
    }
}

impl Drop for WorkspaceCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Issue 19's "done when": in a copy of the workspace, one command scaffolds a plugin that
/// certifies green against its emulator skeleton, with a second command.
#[test]
fn new_plugin_scaffolds_a_crate_that_certifies_against_its_emulator() {
    let copy = WorkspaceCopy::new("scaffold-workspace");
    let ws = copy.0.as_path();

    let started = std::time::Instant::now();
    let (code, stdout, stderr) = output(renkei_building_in(ws).args(["new-plugin", "acme-pay"]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let manifest = std::fs::read_to_string(ws.join("Cargo.toml")).unwrap();
    assert_eq!(
        manifest.matches("\"plugins/acme-pay\"").count(),
        2,
        "{manifest}"
    );
    assert_eq!(
        manifest.matches("\"emulators/acme-pay\"").count(),
        2,
        "{manifest}"
    );

    // Offline: the lock file already holds every dependency of the new crates.
    let (code, stdout, stderr) = output(
        renkei_building_in(ws)
            .args(["certify", "plugins/acme-pay"])
            .env("CARGO_NET_OFFLINE", "true"),
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.starts_with("Acme Pay (acme-pay) 0.1.0"), "{stdout}");
    assert!(certified(&stdout), "{stdout}");
    eprintln!(
        "new-plugin to a green certify: {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let emulator = ws_target_exe("renkei-emulator-acme-pay");
    assert!(emulator.exists(), "certify built no {}", emulator.display());
    assert_eq!(running(&emulator), 0, "certify left its emulator running");

    // `[certify] emulator_package` names the emulator instead of the folder rule; certify
    // finds a crate by its package name too.
    let settings = ws.join("plugins/acme-pay/conformance.toml");
    let scaffolded = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(
        &settings,
        format!("{scaffolded}\n[certify]\nemulator_package = \"renkei-emulator-nope\"\n"),
    )
    .unwrap();
    let (code, _, stderr) = output(
        renkei_building_in(ws)
            .args(["certify", "renkei-plugin-acme-pay"])
            .env("CARGO_NET_OFFLINE", "true"),
    );
    assert_ne!(code, 0);
    assert!(
        stderr.contains("no package `renkei-emulator-nope`"),
        "{stderr}"
    );
    std::fs::write(
        &settings,
        format!("{scaffolded}\n[certify]\nemulator_package = \"renkei-emulator-acme-pay\"\n"),
    )
    .unwrap();
    let (code, stdout, stderr) = output(
        renkei_building_in(ws)
            .args(["certify", "renkei-plugin-acme-pay"])
            .env("CARGO_NET_OFFLINE", "true"),
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(certified(&stdout), "{stdout}");

    // The guard stops the emulator on a failed run too: settings the suite refuses (exit 2),
    // named by key, never by value.
    std::fs::write(
        &settings,
        "[plugin]\napi_key = \"sk_canary_value\"\n[conformance]\ntokn = \"x\"\n",
    )
    .unwrap();
    let (code, _, stderr) = output(
        renkei_building_in(ws)
            .args(["certify", "plugins/acme-pay/Cargo.toml"])
            .env("CARGO_NET_OFFLINE", "true"),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("conformance.tokn"), "{stderr}");
    assert!(!stderr.contains("sk_canary_value"), "{stderr}");
    assert_eq!(
        running(&emulator),
        0,
        "a failed certify left its emulator running"
    );

    // The scaffold refuses to overwrite, and names only what it supports yet.
    let (code, _, stderr) = output(renkei_building_in(ws).args(["new-plugin", "acme-pay"]));
    assert_ne!(code, 0);
    assert!(stderr.contains("already exists"), "{stderr}");
    let (code, _, stderr) =
        output(renkei_building_in(ws).args(["new-plugin", "zeus", "--wire", "soap"]));
    assert_ne!(code, 0);
    assert!(
        stderr.contains("unknown wire `soap`") && stderr.contains("accepted: json, form, xml"),
        "{stderr}"
    );
    let (code, _, stderr) =
        output(renkei_building_in(ws).args(["new-plugin", "zeus", "--charset", "shift_jis"]));
    assert_ne!(code, 0);
    assert!(stderr.contains("`--wire json` is UTF-8 only"), "{stderr}");
    let (code, _, stderr) = output(renkei_building_in(ws).args(["new-plugin", "Zeus"]));
    assert_ne!(code, 0);
    assert!(stderr.contains("`Zeus` is not a plugin name"), "{stderr}");
    assert!(!ws.join("plugins/zeus").exists() && !ws.join("plugins/Zeus").exists());
}

/// An executable built into the running test's target directory and profile.
fn ws_target_exe(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(std::path::Path::parent).unwrap();
    profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// How many processes run `exe` (Linux: read from /proc; elsewhere not counted).
fn running(exe: &std::path::Path) -> usize {
    if !cfg!(target_os = "linux") {
        return 0;
    }
    let Ok(exe) = exe.canonicalize() else {
        return 0;
    };
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|p| std::fs::read_link(p.path().join("exe")).is_ok_and(|e| e == exe))
        .count()
}

/// `renkei new-plugin NAME --wire form --charset shift_jis|euc-jp`: a crate on the form wire
/// whose own unit tests (recorded bytes) pass and which certifies green against its emulator
/// skeleton speaking the same charset; the suite's customer (ポール山田, `conformance.toml`)
/// travels in that charset both ways.
#[test]
fn new_plugin_scaffolds_form_crates_in_shift_jis_and_euc_jp_that_certify() {
    let copy = WorkspaceCopy::new("scaffold-form-workspace");
    for (name, charset, display) in [
        ("sakura-pay", "shift_jis", "Sakura Pay"),
        ("kiri-pay", "euc-jp", "Kiri Pay"),
    ] {
        scaffold_certify_and_test(copy.0.as_path(), "form", name, charset, display);
    }
}

/// `renkei new-plugin acme-xml --wire xml --charset shift_jis`: a crate on the XML wire that
/// certifies green against its emulator skeleton speaking XML in Shift_JIS (the suite's
/// customer, ポール山田, travels in it both ways) and whose own recorded-byte tests pass.
#[test]
fn new_plugin_scaffolds_an_xml_crate_in_shift_jis_that_certifies() {
    let copy = WorkspaceCopy::new("scaffold-xml-workspace");
    scaffold_certify_and_test(copy.0.as_path(), "xml", "acme-xml", "shift_jis", "Acme Xml");
}

/// In the workspace copy `ws`: `new-plugin NAME --wire WIRE --charset CHARSET`, then `certify`
/// green (the time from scaffold to green printed), the emulator stopped after it, then the new
/// crate's own unit tests.
fn scaffold_certify_and_test(
    ws: &std::path::Path,
    wire: &str,
    name: &str,
    charset: &str,
    display: &str,
) {
    let started = std::time::Instant::now();
    let (code, stdout, stderr) = output(renkei_building_in(ws).args([
        "new-plugin",
        name,
        "--wire",
        wire,
        "--charset",
        charset,
    ]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("{wire} wire in {charset}")),
        "{stdout}"
    );
    let (code, stdout, stderr) = output(
        renkei_building_in(ws)
            .args(["certify", &format!("plugins/{name}")])
            .env("CARGO_NET_OFFLINE", "true"),
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with(&format!("{display} ({name}) 0.1.0")),
        "{stdout}"
    );
    assert!(certified(&stdout), "{stdout}");
    eprintln!(
        "new-plugin --wire {wire} --charset {charset} to a green certify: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let emulator = ws_target_exe(&format!("renkei-emulator-{name}"));
    assert_eq!(running(&emulator), 0, "certify left its emulator running");

    // The scaffold's recorded-byte tests, in its charset.
    let (code, stdout, stderr) = output(
        cargo_building_in(ws)
            .args(["test", "-p", &format!("renkei-plugin-{name}"), "--lib"])
            .env("CARGO_NET_OFFLINE", "true"),
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("a_reply_cut_inside_its_last_value_is_refused_never_read ... ok"),
        "{stdout}"
    );
}
