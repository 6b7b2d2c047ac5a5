//! The `boltsim` binary: parses arguments, loads scenarios, calls the library, writes outputs and
//! maps errors to exit codes: 0 success, 1 a trace differs (`verify`), 2 bad input (one line
//! naming the file and position), 3 a broken invariant (with the command that reproduces it).

use clap::{Parser, Subcommand};
use sim::scenario::Scenario;
use sim::trace::TraceLevel;
use sim::verify::VerifyOutcome;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "boltsim",
    version,
    about = "A deterministic discrete-event simulator of the Lightning Network"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a scenario: print a summary; write trace.txt, payments.csv, attempts.csv and
    /// summary.json.
    Run {
        /// The scenario file (RON).
        scenario: PathBuf,
        /// Root seed, instead of the scenario's.
        #[arg(long)]
        seed: Option<u64>,
        /// Output directory [default: out/<scenario name>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Trace level.
        #[arg(long, default_value = "full", value_parser = ["full", "payments", "off"])]
        trace_level: String,
        /// Print only the output paths, not the summary.
        #[arg(long)]
        quiet: bool,
        /// Check the invariants after every event (slow): funds conserved, no HTLC both settled
        /// and failed, no HTLC left past its expiry. A broken one stops the run with exit 3.
        #[arg(long)]
        check: bool,
    },
    /// Replay a scenario against a recorded trace; exit 1 at the first difference.
    Verify {
        /// The scenario file (RON).
        scenario: PathBuf,
        /// The recorded trace [default: the scenario's golden trace, SCENARIO with .trace].
        trace: Option<PathBuf>,
    },
    /// Record the golden trace of each scenario beside it (SCENARIO with .trace).
    Bless {
        /// Scenario files.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Convert a network snapshot to a scenario (nodes and channels): Core Lightning
    /// listchannels, lnd describegraph, CLoTH CSV (a directory or one of its files) or SimLN
    /// sim_network; JSON may be gzip-packed.
    Import {
        /// The snapshot.
        file: PathBuf,
        /// Its format [default: told from the file].
        #[arg(long, value_parser = ["cln", "lnd", "cloth", "simln"])]
        format: Option<String>,
        /// The scenario file to write [default: standard output].
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
    /// Write the network a scenario starts with in SimLN's sim_network format, to cross-check a
    /// run against SimLN.
    Export {
        /// The scenario file (RON).
        scenario: PathBuf,
        /// Root seed, instead of the scenario's (it draws generated networks and balances).
        #[arg(long)]
        seed: Option<u64>,
        /// The SimLN file to write [default: standard output].
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
}

fn load(path: &Path) -> Result<Scenario, ExitCode> {
    Scenario::load(path).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Cmd::Run { scenario, seed, out, trace_level, quiet, check } => {
            run(&scenario, seed, out, &trace_level, quiet, check)
        }
        Cmd::Verify { scenario, trace } => verify(&scenario, trace),
        Cmd::Bless { scenarios } => scenarios.iter().try_for_each(|s| bless(s)),
        Cmd::Import { file, format, out } => import(&file, format.as_deref(), out),
        Cmd::Export { scenario, seed, out } => export(&scenario, seed, out),
    };
    result.err().unwrap_or(ExitCode::SUCCESS)
}

fn run(
    path: &Path,
    seed: Option<u64>,
    out: Option<PathBuf>,
    level: &str,
    quiet: bool,
    check: bool,
) -> Result<(), ExitCode> {
    let mut scenario = load(path)?;
    scenario.seed = seed.unwrap_or(scenario.seed);
    let dir = out.unwrap_or_else(|| PathBuf::from("out").join(&scenario.name));
    let level = TraceLevel::from_name(level).expect("clap checked the level");
    let repro = format!("boltsim run {} --seed {}", path.display(), scenario.seed);
    let output = match std::panic::catch_unwind(|| sim::run_to_dir(&scenario, &dir, level, check)) {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => {
            eprintln!("error: writing to {}: {e}", dir.display());
            return Err(ExitCode::from(2));
        }
        Err(_) => {
            eprintln!(
                "error: internal invariant broken (seed {}); reproduce with: {repro}",
                scenario.seed
            );
            return Err(ExitCode::from(3));
        }
    };
    if !quiet {
        print!("{}", output.summary.to_text());
    }
    println!("wrote {}/{{{}}}", dir.display(), sim::OUTPUT_FILES.join(","));
    if !output.summary.funds.conserved {
        eprintln!("error: funds not conserved (seed {}); reproduce with: {repro}", scenario.seed);
        return Err(ExitCode::from(3));
    }
    Ok(())
}

fn verify(path: &Path, trace: Option<PathBuf>) -> Result<(), ExitCode> {
    let scenario = load(path)?;
    let trace = trace.unwrap_or_else(|| sim::golden_path(path));
    match sim::verify::verify(&scenario, &trace) {
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::from(2))
        }
        Ok((VerifyOutcome::Identical { lines, scenario_file_changed }, header)) => {
            let note = if scenario_file_changed {
                " (the scenario's text changed, its behaviour did not)"
            } else {
                ""
            };
            println!(
                "{}: identical, {lines} lines (seed {}, level {}){note}",
                trace.display(),
                header.seed,
                header.level.name()
            );
            Ok(())
        }
        Ok((VerifyOutcome::Diverged(d), header)) => {
            print!(
                "{}",
                d.report(&path.display().to_string(), &trace.display().to_string(), &header)
            );
            Err(ExitCode::from(1))
        }
    }
}

fn bless(path: &Path) -> Result<(), ExitCode> {
    let scenario = load(path)?;
    let trace = sim::golden_path(path);
    let (level, bytes, footer) = sim::bless(&scenario, &trace).map_err(|e| {
        eprintln!("error: writing {}: {e}", trace.display());
        ExitCode::from(2)
    })?;
    println!(
        "{}: {} events at level {}, {bytes} bytes, digest {}",
        trace.display(),
        footer.events,
        level.name(),
        footer.digest
    );
    Ok(())
}

/// Writes `text` to `out` atomically, or to standard output.
fn emit(text: &str, out: Option<PathBuf>) -> Result<(), ExitCode> {
    match out {
        Some(path) => sim::output::write_atomic(&path, text.as_bytes()).map_err(|e| {
            eprintln!("error: writing {}: {e}", path.display());
            ExitCode::from(2)
        }),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn import(file: &Path, format: Option<&str>, out: Option<PathBuf>) -> Result<(), ExitCode> {
    let format = format.and_then(sim::import::GraphFormat::from_name);
    let graph = sim::import::read_graph(file, format).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })?;
    eprintln!(
        "{}: {} nodes, {} channels{}",
        file.display(),
        graph.node_ids.len(),
        graph.channels.len(),
        if graph.has_balances() { ", with balances" } else { "" }
    );
    emit(&sim::export::scenario_ron(&graph, &file.display().to_string()), out)
}

fn export(path: &Path, seed: Option<u64>, out: Option<PathBuf>) -> Result<(), ExitCode> {
    let mut scenario = load(path)?;
    scenario.seed = seed.unwrap_or(scenario.seed);
    let (graph, max_htlcs) = sim::export::scenario_graph(&scenario);
    let (text, dropped) = sim::import::simln::write_sim_network(&graph, &max_htlcs);
    if dropped.uneven_balances > 0 || dropped.disabled_directions > 0 {
        eprintln!(
            "note: SimLN starts every channel evenly split and has no disabled directions: {} \
             channels lose their balances, {} disabled directions are written enabled",
            dropped.uneven_balances, dropped.disabled_directions
        );
    }
    emit(&text, out)
}
