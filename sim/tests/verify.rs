//! Replaying against recorded traces: the golden trace of every bundled scenario verifies (in
//! this build, debug or release); a one-msat behaviour change is caught at the first line that
//! shows it; traces of other scenarios or format versions are refused.

use sim::scenario::Scenario;
use sim::trace::TraceLevel;
use sim::verify::{VerifyError, VerifyOutcome, verify};
use std::path::{Path, PathBuf};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("boltsim-verify-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_bundled_scenario_verifies_against_its_golden_trace() {
    let mut checked = 0;
    for entry in std::fs::read_dir(scenarios_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "ron") {
            continue;
        }
        let scenario = Scenario::load(&path).unwrap();
        let golden = sim::golden_path(&path);
        assert!(
            golden.exists(),
            "{} has no golden trace: run `boltsim bless {}`",
            path.display(),
            path.display()
        );
        let (outcome, _) = verify(&scenario, &golden, 2).unwrap();
        match outcome {
            VerifyOutcome::Identical { scenario_file_changed, .. } => assert!(
                !scenario_file_changed,
                "{} changed since its trace was blessed: bless it again",
                path.display()
            ),
            VerifyOutcome::Diverged(d) => panic!(
                "{}",
                d.report(
                    &path.display().to_string(),
                    &golden.display().to_string(),
                    &sim::verify::read_header(&golden).unwrap()
                )
            ),
        }
        checked += 1;
    }
    assert!(checked >= 1);
}

#[test]
fn a_fee_one_msat_higher_is_caught_at_the_first_line_that_shows_it() {
    let source = std::fs::read_to_string(scenarios_dir().join("cat_store.ron")).unwrap();
    let original = Scenario::parse("cat_store.ron", &source).unwrap();
    let perturbed_source = source.replace(
        r#"(name: "christian", implementation: cln, wallet_sat: 2_000_000),"#,
        r#"(name: "christian", implementation: cln, wallet_sat: 2_000_000, config: (fee_base_msat: 1001)),"#,
    );
    assert_ne!(source, perturbed_source, "the perturbation applies");
    let perturbed = Scenario::parse("cat_store.ron", &perturbed_source).unwrap();
    // Record the original, then replay the perturbed scenario against it.
    let dir = temp_dir("perturbed");
    let recorded = dir.join("cat_store.trace");
    sim::bless(&original, &recorded).unwrap();
    let (outcome, header) = verify(&perturbed, &recorded, 1).unwrap();
    let VerifyOutcome::Diverged(d) = outcome else { panic!("the change must be caught") };
    // Independently: the first line where the two full traces differ (the scenario digest in the
    // header differs too, as the text changed; verify looks past it to behaviour).
    let (_, a) = sim::run_captured(&original, TraceLevel::Full, false).unwrap();
    let (_, b) = sim::run_captured(&perturbed, TraceLevel::Full, false).unwrap();
    let (a, b) = (String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
    let first = a
        .lines()
        .zip(b.lines())
        .position(|(x, y)| x != y && !x.starts_with("# scenario_sha256"))
        .unwrap();
    assert_eq!(d.line, first as u64 + 1);
    assert_eq!(d.expected.as_deref(), a.lines().nth(first));
    assert_eq!(d.actual.as_deref(), b.lines().nth(first));
    // That line is christian's channel_update to the shop, carrying the new base fee (1001 << 32 | 10 ppm).
    let actual = d.actual.clone().unwrap();
    assert!(
        actual.ends_with(&format!(
            " 258 {} 600 0 {}",
            1020715126971432960u64,
            (1001u64 << 32) | 10
        )),
        "{actual}"
    );
    assert_eq!(d.before.len(), 3);
    assert_eq!(d.before[2].0, d.line - 1);
    assert_eq!(d.expected_after.len(), 3);
    assert_eq!(d.actual_after.len(), 3);
    let report = d.report("cat_store.ron", "cat_store.trace", &header);
    assert!(report.contains("seed 2016"), "{report}");
    // Explained: the line decoded with names, the text change said, the impact counted.
    assert!(
        report.contains("= 600.100000 s  message delivered: channel_update (258) from christian to server, scid 1020715126971432960, timestamp 600, disabled 0, fee_base_msat 1001, fee_ppm 10"),
        "{report}"
    );
    assert!(report.contains("note: the scenario's text changed"), "{report}");
    // The second customer's payment routes through christian: the same outcome, 1 msat more.
    assert_eq!(
        d.impact,
        sim::verify::Impact {
            recorded: 2,
            replayed: 2,
            outcome_changed: 0,
            fee_changed: 1,
            latency_changed: 0
        }
    );
    assert!(report.contains("boltsim verify cat_store.ron cat_store.trace"), "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn traces_of_other_scenarios_or_versions_are_refused() {
    let scenario = Scenario::load(&scenarios_dir().join("cat_store.ron")).unwrap();
    let golden = std::fs::read_to_string(scenarios_dir().join("cat_store.trace")).unwrap();
    let dir = temp_dir("refused");
    let other = dir.join("other.trace");
    std::fs::write(&other, golden.replacen("# scenario cat_store", "# scenario line", 1)).unwrap();
    assert!(matches!(verify(&scenario, &other, 1), Err(VerifyError::OtherScenario { .. })));
    std::fs::write(&other, golden.replacen("# boltsim trace v2", "# boltsim trace v1", 1)).unwrap();
    let err = verify(&scenario, &other, 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: trace format v1; this boltsim reads v2", other.display())
    );
    std::fs::write(&other, "hello\n").unwrap();
    assert!(matches!(verify(&scenario, &other, 1), Err(VerifyError::Format { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_recorded_trace_with_more_or_fewer_lines_diverges_where_one_ends() {
    let scenario = Scenario::load(&scenarios_dir().join("cat_store.ron")).unwrap();
    let golden = std::fs::read_to_string(scenarios_dir().join("cat_store.trace")).unwrap();
    let lines = golden.lines().count() as u64;
    let dir = temp_dir("ends");
    let longer = dir.join("longer.trace");
    std::fs::write(&longer, format!("{golden}1 1 1\n")).unwrap();
    let (VerifyOutcome::Diverged(d), _) = verify(&scenario, &longer, 1).unwrap() else {
        panic!("extra line")
    };
    assert_eq!(
        (d.line, d.expected.as_deref(), d.actual.as_deref()),
        (lines + 1, Some("1 1 1"), None)
    );
    let shorter = dir.join("shorter.trace");
    let cut: String = golden.lines().take(50).map(|l| format!("{l}\n")).collect();
    std::fs::write(&shorter, cut).unwrap();
    let (VerifyOutcome::Diverged(d), _) = verify(&scenario, &shorter, 1).unwrap() else {
        panic!("missing lines")
    };
    assert_eq!((d.line, d.expected.as_deref()), (51, None));
    assert_eq!(d.actual.as_deref(), golden.lines().nth(50));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_binary_exits_1_on_a_difference_and_2_on_a_foreign_trace() {
    let dir = temp_dir("cli");
    let scenario = scenarios_dir().join("cat_store.ron");
    let run = |trace: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_boltsim"))
            .args(["verify", scenario.to_str().unwrap(), trace.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let golden = std::fs::read_to_string(scenarios_dir().join("cat_store.trace")).unwrap();
    let changed = dir.join("changed.trace");
    std::fs::write(&changed, golden.replacen(" 1000000 1\n", " 1000001 1\n", 1)).unwrap();
    let out = run(&changed);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("differs at line"));
    std::fs::write(&changed, golden.replacen("# scenario cat_store", "# scenario other", 1))
        .unwrap();
    let out = run(&changed);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

// Issue 12: `verify` read a line whole, so a 3 GB file with no newline aborted the process.
#[test]
fn regression_verify_refuses_a_line_longer_than_the_limit_and_names_it() {
    let scenario = Scenario::load(&scenarios_dir().join("cat_store.ron")).unwrap();
    let golden = std::fs::read_to_string(scenarios_dir().join("cat_store.trace")).unwrap();
    let dir = temp_dir("long");
    let long = "7".repeat(sim::verify::MAX_TRACE_LINE_BYTES + 1);
    let no_newline = dir.join("no_newline.trace");
    std::fs::write(&no_newline, &long).unwrap();
    let err = verify(&scenario, &no_newline, 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:1: a line longer than 1048576 bytes, the limit of a trace line: not a boltsim trace",
            no_newline.display()
        )
    );
    let mut lines: Vec<&str> = golden.lines().collect();
    lines[11] = &long;
    let inside = dir.join("inside.trace");
    std::fs::write(&inside, lines.join("\n") + "\n").unwrap();
    let err = verify(&scenario, &inside, 1).unwrap_err();
    assert!(matches!(err, VerifyError::Line { line: 12, column: None, .. }), "{err}");
    // A line of exactly the limit is read (and differs).
    lines[11] = &long[1..];
    std::fs::write(&inside, lines.join("\n") + "\n").unwrap();
    let (VerifyOutcome::Diverged(d), _) = verify(&scenario, &inside, 1).unwrap() else {
        panic!("the line differs")
    };
    assert_eq!(d.line, 12);
    std::fs::remove_dir_all(&dir).unwrap();
}

// Issue 12: a trace with Windows line endings diverged "at line 1" between two lines that look
// the same.
#[test]
fn regression_verify_accepts_windows_line_endings_and_still_checks_the_digest() {
    let scenario = Scenario::load(&scenarios_dir().join("cat_store.ron")).unwrap();
    let golden = std::fs::read_to_string(scenarios_dir().join("cat_store.trace")).unwrap();
    let dir = temp_dir("crlf");
    let crlf = dir.join("crlf.trace");
    std::fs::write(&crlf, format!("\u{feff}{}", golden.replace('\n', "\r\n"))).unwrap();
    let (outcome, header) = verify(&scenario, &crlf, 1).unwrap();
    assert_eq!(
        outcome,
        VerifyOutcome::Identical {
            lines: golden.lines().count() as u64,
            scenario_file_changed: false,
            windows_line_endings: true
        }
    );
    let report = outcome.report("cat_store.ron", "crlf.trace", &header);
    assert!(report.contains("(read with Windows line endings)"), "{report}");
    // The digest is compared as any line: a changed digest is a difference.
    let digest = golden.lines().find(|l| l.starts_with("# digest ")).unwrap();
    let changed = golden.replace(digest, &format!("{}0", &digest[..digest.len() - 1]));
    std::fs::write(&crlf, changed.replace('\n', "\r\n")).unwrap();
    let (VerifyOutcome::Diverged(d), _) = verify(&scenario, &crlf, 1).unwrap() else {
        panic!("the digest differs")
    };
    assert_eq!(d.expected.as_deref().map(|l| l.starts_with("# digest ")), Some(true));
    assert_eq!(d.line, golden.lines().position(|l| l == digest).unwrap() as u64 + 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

// Issue 12: a line of a trace that was not UTF-8 gave "cannot read: stream did not contain
// valid UTF-8" with no line.
#[test]
fn regression_verify_names_the_line_and_column_of_bytes_that_are_not_utf8() {
    let scenario = Scenario::load(&scenarios_dir().join("cat_store.ron")).unwrap();
    let golden = std::fs::read_to_string(scenarios_dir().join("cat_store.trace")).unwrap();
    let dir = temp_dir("utf8");
    let bad = dir.join("bad.trace");
    let mut bytes = Vec::new();
    for (i, line) in golden.lines().enumerate() {
        bytes.extend_from_slice(line.as_bytes());
        if i == 19 {
            bytes.extend_from_slice(b" \xff");
        }
        bytes.push(b'\n');
    }
    std::fs::write(&bad, bytes).unwrap();
    let err = verify(&scenario, &bad, 1).unwrap_err();
    let column = golden.lines().nth(19).unwrap().len() + 2;
    assert_eq!(
        err.to_string(),
        format!(
            "{}:20:{column}: not UTF-8: byte 0xff is not part of a valid character",
            bad.display()
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
