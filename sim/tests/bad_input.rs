//! Bad scenario files get one line naming the file and, where it applies, the line and column,
//! and `boltsim run` exits with code 2. Never a panic.

use sim::scenario::Scenario;
use std::process::Command;

/// A valid scenario with `script` and extra `nodes` spliced in.
fn scenario(nodes: &str, channels: &str, script: &str) -> String {
    format!(
        r#"Scenario(
    name: "bad",
    nodes: [
        (name: "alice", wallet_sat: 1_000_000),
        (name: "bob"),{nodes}
    ],
    channels: [{channels}],
    shops: [(node: "bob", items: [(name: "cat", price_msat: 1000, content: "meow")])],
    script: [
        {script}
    ],
)
"#
    )
}

/// Parses `text` and returns the error's position and message.
fn error_of(text: &str) -> ((usize, usize), String) {
    let err = Scenario::parse("bad.ron", text).expect_err("the scenario is invalid");
    let line = err.to_string();
    assert!(line.starts_with("bad.ron:"), "{line}");
    assert!(!line.contains('\n'), "one line: {line}");
    (err.position.unwrap_or((0, 0)), err.message)
}

#[test]
fn the_template_itself_is_valid() {
    Scenario::parse("ok.ron", &scenario("", "", r#"Connect(from: "alice", to: "bob"),"#)).unwrap();
}

#[test]
fn malformed_ron_points_at_the_error() {
    let text = scenario("", "", r#"Connect(from: "alice", to: "bob""#);
    let ((line, _), message) = error_of(&text);
    assert_eq!(line, 11, "{message}");
}

#[test]
fn an_unknown_field_is_named_where_it_stands() {
    let text = scenario("", "", r#"Connect(from: "alice", to: "bob", speed: 3),"#);
    let ((line, col), message) = error_of(&text);
    assert_eq!((line, col), (10, 43), "{message}");
    assert!(message.contains("speed"), "{message}");
}

#[test]
fn an_unknown_node_name_points_at_the_name() {
    let text = scenario("", "", r#"Pay(from: "alice", to: "carol", amount_msat: 5),"#);
    let ((line, col), message) = error_of(&text);
    assert_eq!((line, col), (10, 32), "{message}");
    assert_eq!(message, r#"unknown node "carol""#);
}

#[test]
fn a_zero_amount_is_refused() {
    let text = scenario("", "", r#"Pay(from: "alice", to: "bob", amount_msat: 0),"#);
    let ((line, col), message) = error_of(&text);
    assert_eq!((line, col), (10, 52));
    assert_eq!(message, "amount_msat must be positive");
}

#[test]
fn a_channel_to_itself_is_refused() {
    let text = scenario("", r#"(from: "alice", to: "alice", capacity_sat: 100_000)"#, "");
    let ((line, col), message) = error_of(&text);
    assert_eq!((line, col), (7, 36), "points at the second \"alice\"");
    assert!(message.contains("to itself"), "{message}");
}

#[test]
fn duplicate_node_names_point_at_the_second() {
    let text = scenario(
        r#"
        (name: "alice"),"#,
        "",
        "",
    );
    let ((line, col), message) = error_of(&text);
    assert_eq!((line, col), (6, 16));
    assert_eq!(message, r#"duplicate node name "alice""#);
}

#[test]
fn funding_below_the_dust_limit_is_refused() {
    let text = scenario("", "", r#"FundChannel(from: "alice", to: "bob", amount_sat: 300),"#);
    let ((line, col), message) = error_of(&text);
    assert_eq!((line, col), (10, 59));
    assert!(message.contains("below the dust limit 354 sat"), "{message}");
    let text = scenario("", r#"(from: "alice", to: "bob", capacity_sat: 100)"#, "");
    assert!(error_of(&text).1.contains("below the dust limit"));
}

#[test]
fn buying_what_is_not_sold_is_refused() {
    let text = scenario("", "", r#"Buy(customer: "alice", shop: "bob", item: "dog"),"#);
    let ((line, col), message) = error_of(&text);
    assert_eq!((line, col), (10, 51));
    assert_eq!(message, r#"shop "bob" sells no "dog""#);
    let text = scenario("", "", r#"Buy(customer: "bob", shop: "alice", item: "cat"),"#);
    assert_eq!(error_of(&text).1, r#"node "alice" runs no shop"#);
}

#[test]
fn out_of_range_numbers_are_refused_with_their_position() {
    let text = scenario("", "", r#"Pay(from: "alice", to: "bob", amount_msat: -5),"#);
    let ((line, _), _) = error_of(&text);
    assert_eq!(line, 10);
    let text = scenario("", "", r#"Sleep(duration_ms: 99999999999999999999),"#);
    assert_eq!(error_of(&text).0.0, 10);
}

fn boltsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_boltsim")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn the_binary_prints_one_line_and_exits_with_2() {
    let dir = std::env::temp_dir().join(format!("boltsim-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.ron");
    std::fs::write(&path, scenario("", "", r#"Pay(from: "alice", to: "carol", amount_msat: 5),"#))
        .unwrap();
    let file = path.to_str().unwrap();
    let (code, stdout, stderr) =
        boltsim(&["run", file, "--out", dir.join("out").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert_eq!(stdout, "");
    assert_eq!(stderr, format!("error: {file}:10:32: unknown node \"carol\"\n"));
    assert!(!dir.join("out").exists(), "nothing is written for a bad scenario");
    let missing = dir.join("missing.ron");
    let (code, _, stderr) = boltsim(&["run", missing.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("missing.ron: cannot read"), "{stderr}");
    std::fs::write(&path, "not ron at all").unwrap();
    let (code, _, stderr) = boltsim(&["run", file]);
    assert_eq!(code, 2);
    assert!(stderr.starts_with(&format!("error: {file}:1:")), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn numbers_beyond_what_bitcoin_or_the_chain_allow_are_refused() {
    let text =
        scenario("", r#"(from: "alice", to: "bob", capacity_sat: 2_100_000_000_000_001)"#, "");
    let ((line, _), message) = error_of(&text);
    assert_eq!(line, 7);
    assert!(message.contains("more than all bitcoin"), "{message}");
    let text = scenario("", "", "")
        .replace(r#"name: "bad","#, r#"name: "bad", chain: (start_height: 16_777_100),"#);
    let ((line, _), message) = error_of(&text);
    assert_eq!(line, 2);
    assert!(message.contains("2^24"), "{message}");
    let text = scenario("", "", "").replace(
        r#"name: "bad","#,
        r#"name: "bad", links: (latency: Constant(latency_ms: 100_000_000)),"#,
    );
    assert!(error_of(&text).1.contains("more than a day"));
}

/// Parses `text` as if it were a file in tests/fixtures (snapshot paths resolve from there) and
/// returns the error's position and message.
fn fixture_error_of(text: &str) -> ((usize, usize), String) {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bad.ron");
    let err = Scenario::parse(file, text).expect_err("the scenario is invalid");
    (err.position.unwrap_or((0, 0)), err.message)
}

/// A scenario of imported nodes only, and one of generated nodes only, whose `node_defaults`
/// are `defaults`.
fn imported_and_generated(defaults: &str) -> [String; 2] {
    [
        format!(
            "Scenario(\n    name: \"bad\",\n    node_defaults: ({defaults}),\n    \
             import: (file: \"listchannels.json\"),\n)\n"
        ),
        format!(
            "Scenario(\n    name: \"bad\",\n    node_defaults: ({defaults}),\n    generate: (kind: \
             Ring, nodes: 5, capacity: (min_sat: 100_000, max_sat: 200_000)),\n)\n"
        ),
    ]
}

// Issue 11: the dust floor was checked only for listed nodes; imported and generated ones took
// a `node_defaults` dust limit below 354 sat.
#[test]
fn the_dust_floor_holds_for_imported_and_generated_nodes() {
    for text in imported_and_generated("dust_limit_sat: 353") {
        let ((line, col), message) = fixture_error_of(&text);
        assert_eq!((line, col), (3, 37), "{message}\n{text}");
        assert_eq!(message, "dust_limit_sat must be at least 354 (BOLT 2 floor)");
    }
}

// Issue 11: `max_accepted_htlcs` was checked only for listed nodes; imported and generated ones
// took 0 or more than 483 from `node_defaults`.
#[test]
fn max_accepted_htlcs_holds_for_imported_and_generated_nodes() {
    for value in ["0", "484"] {
        for text in imported_and_generated(&format!("max_accepted_htlcs: {value}")) {
            let ((line, col), message) = fixture_error_of(&text);
            assert_eq!((line, col), (3, 41), "{message}\n{text}");
            assert_eq!(message, "max_accepted_htlcs must be 1 to 483");
        }
    }
}

// Issue 11: a too large `poll_interval_ms` was searched for as `poll_interval_ms: 0`, so the
// error had no position.
#[test]
fn regression_issue_11_a_too_long_poll_interval_points_at_its_value() {
    let text = scenario("", "", "").replace(
        r#"content: "meow")])],"#,
        r#"content: "meow")], poll_interval_ms: 86_400_001)],"#,
    );
    let ((line, col), message) = error_of(&text);
    assert_eq!((line, col), (8, 104), "{message}");
    assert_eq!(message, "poll_interval_ms must be between 1 and 86400000");
    let text = text.replace("86_400_001", "0");
    assert_eq!(error_of(&text).0, (8, 104));
}

// Issue 12: a scenario that was not UTF-8 was reported at a byte index ("from index 27"), and one
// that started with a byte-order mark got "Expected opening `(`".
#[test]
fn regression_scenario_files_say_where_they_are_not_utf8_and_may_start_with_a_bom() {
    let dir = std::env::temp_dir().join(format!("boltsim-bad-utf8-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("latin1.ron");
    let text = scenario("", "", r#"Connect(from: "alice", to: "bob"),"#);
    let (before, after) = text.split_once("bob").unwrap();
    let bytes = [before.as_bytes(), b"b\xe9b", after.as_bytes()].concat();
    std::fs::write(&path, &bytes).unwrap();
    let err = Scenario::load(&path).unwrap_err();
    assert_eq!(err.position, Some((5, 18)), "{err}");
    assert_eq!(err.message, "not UTF-8: byte 0xe9 is not part of a valid character");
    let path = dir.join("bom.ron");
    std::fs::write(&path, format!("\u{feff}{text}")).unwrap();
    assert_eq!(Scenario::load(&path).unwrap().nodes.len(), 2);
    assert_eq!(Scenario::parse("bom.ron", &format!("\u{feff}{text}")).unwrap().nodes.len(), 2);
    // Positions on the first line do not count the mark.
    let err = Scenario::parse("bom.ron", "\u{feff}Scenario(nme: \"x\")").unwrap_err();
    assert_eq!(err.position.map(|p| p.0), Some(1), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// Issue 12: a payment list that was not UTF-8 was "cannot read: stream did not contain valid
// UTF-8", with no position.
#[test]
fn regression_a_payment_list_that_is_not_utf8_is_refused_at_its_line_and_column() {
    let dir = std::env::temp_dir().join(format!("boltsim-bad-list-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let list = dir.join("list.csv");
    std::fs::write(&list, b"time_ms,sender,receiver,amount_msat\n5,alice,b\xe9b,100\n").unwrap();
    let path = dir.join("s.ron");
    let text = r#"Scenario(
        name: "list", seed: 1,
        nodes: [(name: "alice", wallet_sat: 1000000), (name: "bob", wallet_sat: 1000000)],
        payments: (file: "list.csv"),
        stop: (max_duration_s: 10),
    )"#;
    std::fs::write(&path, text).unwrap();
    let err = Scenario::load(&path).unwrap_err();
    assert_eq!((err.file.as_str(), err.position), (list.to_str().unwrap(), Some((2, 10))));
    assert_eq!(err.message, "not UTF-8: byte 0xe9 is not part of a valid character");
    std::fs::remove_dir_all(&dir).unwrap();
}

// Issue 12: a generated network without a capacity range was refused with no position.
#[test]
fn regression_a_generated_network_without_capacities_is_refused_at_its_kind() {
    let text = "Scenario(\n    name: \"g\",\n    generate: (kind: Ring, nodes: 5),\n)";
    let err = Scenario::parse("g.ron", text).unwrap_err();
    assert_eq!(err.position, Some((3, 22)), "{err}");
    assert!(err.message.starts_with("a generated network needs a capacity range"), "{err}");
}

// Issue 12 (review): a scenario path naming a FIFO waited forever for a writer, and one naming
// /dev/zero read 256 MiB of zeros before it was refused. Only regular files are read.
#[test]
fn regression_an_input_that_is_not_a_regular_file_is_refused_at_once() {
    let dir = std::env::temp_dir().join(format!("boltsim-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("pipe.ron");
    match std::process::Command::new("mkfifo").arg(&fifo).status() {
        Ok(status) if status.success() => {
            let err = Scenario::load(&fifo).unwrap_err();
            assert_eq!(err.message, "cannot read: not a regular file", "{err}");
            // A recorded trace too.
            let err = sim::verify::read_header(&fifo).unwrap_err().to_string();
            assert!(err.ends_with("cannot read: not a regular file"), "{err}");
        }
        _ => eprintln!("skipped the FIFO case: mkfifo is not available here"),
    }
    let err = Scenario::load(&dir).unwrap_err();
    assert_eq!(err.message, "cannot read: a directory", "{err}");
    if std::path::Path::new("/dev/zero").exists() {
        let err = Scenario::load(std::path::Path::new("/dev/zero")).unwrap_err();
        assert_eq!(err.message, "cannot read: not a regular file", "{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
