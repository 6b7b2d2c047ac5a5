//! The `boltsim` binary: parses arguments, loads the scenario, calls the library, writes the
//! outputs and maps errors to exit codes: 0 success, 2 bad input (one line naming the file and
//! position), 3 a broken invariant (with the command that reproduces it).

use clap::{Parser, Subcommand};
use sim::scenario::Scenario;
use sim::trace::TraceLevel;
use std::path::PathBuf;
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
    /// Run a scenario: print a summary; write trace.txt, payments.csv and summary.json.
    Run {
        /// The scenario file (RON).
        scenario: PathBuf,
        /// Root seed, instead of the scenario's.
        #[arg(long)]
        seed: Option<u64>,
        /// Output directory [default: out/<scenario name>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Trace level: full, payments or off.
        #[arg(long, default_value = "full", value_parser = ["full", "payments", "off"])]
        trace_level: String,
        /// Print only the output paths, not the summary.
        #[arg(long)]
        quiet: bool,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Cmd::Run { scenario, seed, out, trace_level, quiet } => {
            let mut loaded = match Scenario::load(&scenario) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            if let Some(seed) = seed {
                loaded.seed = seed;
            }
            let dir = out.unwrap_or_else(|| PathBuf::from("out").join(&loaded.name));
            let level = TraceLevel::from_name(&trace_level).expect("clap checked the level");
            let repro = format!("boltsim run {} --seed {}", scenario.display(), loaded.seed);
            let result = std::panic::catch_unwind(|| sim::run_to_dir(&loaded, &dir, level));
            let output = match result {
                Ok(Ok(output)) => output,
                Ok(Err(e)) => {
                    eprintln!("error: writing to {}: {e}", dir.display());
                    return ExitCode::from(2);
                }
                Err(_) => {
                    eprintln!(
                        "error: internal invariant broken (seed {}); reproduce with: {repro}",
                        loaded.seed
                    );
                    return ExitCode::from(3);
                }
            };
            if !quiet {
                print!("{}", output.summary.to_text());
            }
            println!("wrote {}/{{{}}}", dir.display(), sim::OUTPUT_FILES.join(","));
            if !output.summary.funds.conserved {
                eprintln!(
                    "error: funds not conserved (seed {}); reproduce with: {repro}",
                    loaded.seed
                );
                return ExitCode::from(3);
            }
            ExitCode::SUCCESS
        }
    }
}
