//! The command line of `boltsim`: its commands and flags as clap parses them ([`CliArgs`]), the
//! `run` and `sweep` commands checked into a [`RunConfig`] and a [`SweepConfig`] (the scenario or
//! sweep loaded, defaults resolved), the command that reproduces a run ([`repro_command`]), and
//! how a command fails ([`Failure`], one exit code per kind). The doc comments of the commands
//! and flags are their `--help` text. What a command does is in the library module it calls;
//! printing and exiting are the binary's.

// The doc comments of the commands and flags are written for the terminal, where
// `<scenario name>` is no HTML tag.
#![allow(rustdoc::invalid_html_tags)]

use crate::RunOutput;
use crate::input::InputError;
use crate::scenario::Scenario;
use crate::sweep::{Shard, ShardPlan, Sweep, SweepDir};
use crate::trace::TraceLevel;
use crate::verify::VerifyError;
use clap::{Args, Parser, Subcommand};
use node_core::SimTime;
use std::fmt;
use std::path::{Path, PathBuf};

/// The command line.
#[derive(Parser)]
#[command(
    name = "boltsim",
    version,
    about = "A deterministic discrete-event simulator of the Lightning Network",
    long_about = None
)]
pub struct CliArgs {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// A command and its flags.
#[derive(Subcommand)]
pub enum Command {
    /// Run a scenario: print a summary; write trace.txt, payments.csv, attempts.csv,
    /// summary.json and channels.csv.
    Run(RunArgs),
    /// Replay a scenario against a recorded trace; exit 1 at the first difference.
    Verify {
        /// The scenario file (RON).
        scenario: PathBuf,
        /// The recorded trace [default: the scenario's golden trace, SCENARIO with .trace].
        trace: Option<PathBuf>,
        /// Threads that search routes ahead [default: the machine's cores]; a trace recorded
        /// on any number replays on any other.
        #[arg(long)]
        threads: Option<usize>,
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
    /// Run a sweep: a grid of scenario parameters x seeds, in parallel; resumable (finished cells
    /// are skipped); writes cells/, sweep.json and results.csv.
    Sweep(SweepArgs),
    /// Gather the cells of sweep directories (shards) into one, with its results.csv.
    Merge {
        /// The directory to write.
        out: PathBuf,
        /// The sweep directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
    /// Draw the charts of a sweep's results (PNG, SVG and the points as CSV) and an index.html.
    Report {
        /// A sweep directory, or its results.csv.
        results: PathBuf,
        /// The directory to write [default: RESULTS/report].
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// Only these charts (comma-separated): success_vs_amount, first_try_vs_amount,
        /// within_rounds, paired_difference_vs_amount, fee_vs_amount, rounds_vs_amount,
        /// latency_vs_amount, rounds, latency_cdf, success_over_time [default: all].
        #[arg(long, value_delimiter = ',')]
        charts: Vec<String>,
        /// What success means in success_vs_amount, success_over_time and the paired
        /// differences.
        #[arg(long, default_value = "success", value_parser = ["success", "first_try"])]
        metric: String,
        /// Only the payments the feasibility oracle called feasible (the sweep's scenario needs
        /// outputs: (feasibility_oracle: true)).
        #[arg(long)]
        feasible_only: bool,
        /// A parameter whose values each get their own set of charts (files NAME__PARAM=VALUE).
        #[arg(long)]
        facet: Option<String>,
    },
    /// Describe the network a scenario starts with: components, degree and capacity
    /// distributions, the largest hubs, who can send or receive an amount, articulation points
    /// and what removing a hub does to reachability.
    Inspect {
        /// The scenario file (RON).
        scenario: PathBuf,
        /// Root seed, instead of the scenario's (it draws generated networks and balances).
        #[arg(long)]
        seed: Option<u64>,
        /// The amount whose possible senders and receivers are counted, sat.
        #[arg(long, default_value_t = 10_000)]
        amount_sat: u64,
        /// How many hubs to list and remove one at a time.
        #[arg(long, default_value_t = 10)]
        top: usize,
        /// Also write the network as Graphviz DOT to this file (at most 500 nodes).
        #[arg(long)]
        dot: Option<PathBuf>,
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

/// The flags of `boltsim run`.
#[derive(Args)]
pub struct RunArgs {
    /// The scenario file (RON).
    pub scenario: PathBuf,
    /// Root seed, instead of the scenario's.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output directory [default: out/<scenario name>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Trace level.
    #[arg(long, default_value = "full", value_parser = ["full", "payments", "off"])]
    pub trace_level: String,
    /// Print only the output paths, not the summary.
    #[arg(long)]
    pub quiet: bool,
    /// Check the invariants after every event (slow): funds conserved, no HTLC both settled
    /// and failed, no HTLC left past its expiry. A broken one stops the run with exit 3.
    #[arg(long)]
    pub check: bool,
    /// Threads that search the routes of payments about to start and of retries, ahead
    /// [default: the machine's cores]. Every output is the same bytes whatever the number.
    #[arg(long)]
    pub threads: Option<usize>,
}

/// The flags of `boltsim sweep`.
#[derive(Args)]
pub struct SweepArgs {
    /// The sweep file (RON).
    pub sweep: PathBuf,
    /// Output directory [default: out/sweeps/<sweep name>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Threads [default: the machine's cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run only shard K of N (1-based: cells K-1, K-1+N, ...), for job arrays; merge the
    /// shards' directories afterwards with `boltsim merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Keep each cell's payments.csv, attempts.csv and series.csv (if sampled) as
    /// cells/NNNNNN.payments.csv, .attempts.csv and .series.csv, for the cells this command
    /// runs.
    #[arg(long)]
    pub keep_cells: bool,
}

/// How a command failed: each kind is one exit code.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// A replay differs from its recorded trace (exit 1); the difference is the command's
    /// output.
    Differs,
    /// An input that cannot be used or an output that cannot be written (exit 2): one line,
    /// naming the file and, where known, the position.
    BadInput(String),
    /// A broken invariant (exit 3).
    Invariant {
        /// What broke.
        what: &'static str,
        /// The run's seed.
        seed: u64,
        /// The command that reproduces it.
        repro: String,
    },
}

impl Failure {
    /// The process's exit code: 1 a trace differs, 2 bad input, 3 a broken invariant.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Differs => 1,
            Failure::BadInput(_) => 2,
            Failure::Invariant { .. } => 3,
        }
    }

    /// The line to print after `error: ` (none when the output already says what differs).
    pub fn message(&self) -> Option<String> {
        match self {
            Failure::Differs => None,
            Failure::BadInput(message) => Some(crate::input::one_line(message)),
            Failure::Invariant { what, seed, repro } => {
                Some(format!("{what} (seed {seed}); reproduce with: {repro}"))
            }
        }
    }
}

impl From<InputError> for Failure {
    fn from(e: InputError) -> Failure {
        Failure::BadInput(e.to_string())
    }
}

impl From<VerifyError> for Failure {
    fn from(e: VerifyError) -> Failure {
        Failure::BadInput(e.to_string())
    }
}

/// The command that reproduces a run of the scenario file at `path` with `seed`, checking the
/// invariants after every event if the run did (`check`).
pub fn repro_command(path: &Path, seed: u64, check: bool) -> String {
    let check = if check { " --check" } else { "" };
    format!("boltsim run {} --seed {seed}{check}", path.display())
}

/// A `run` command, checked: its scenario loaded with the command line's seed, its output
/// directory and trace level resolved.
pub struct RunConfig {
    /// The scenario file, as given.
    pub path: PathBuf,
    /// The scenario, with the seed it runs with.
    pub scenario: Scenario,
    /// The output directory.
    pub out: PathBuf,
    /// The trace level.
    pub level: TraceLevel,
    /// Print only the output paths.
    pub quiet: bool,
    /// Check the invariants after every event.
    pub check: bool,
    /// Threads that plan payments ahead.
    pub threads: usize,
}

/// The machine's cores: the default thread count of `run`, `verify` and `sweep`.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl TryFrom<RunArgs> for RunConfig {
    type Error = Failure;

    /// Loads the scenario; its errors are bad input.
    fn try_from(args: RunArgs) -> Result<RunConfig, Failure> {
        let mut scenario = Scenario::load(&args.scenario)?;
        scenario.seed = args.seed.unwrap_or(scenario.seed);
        let out = args.out.unwrap_or_else(|| PathBuf::from("out").join(&scenario.name));
        let level = TraceLevel::from_name(&args.trace_level)
            .expect("invariant: clap admits only the levels' names");
        Ok(RunConfig {
            path: args.scenario,
            scenario,
            out,
            level,
            quiet: args.quiet,
            check: args.check,
            threads: args.threads.unwrap_or_else(cores).max(1),
        })
    }
}

impl RunConfig {
    /// The command that reproduces this run.
    pub fn repro(&self) -> String {
        repro_command(&self.path, self.scenario.seed, self.check)
    }

    /// Runs the scenario and writes its outputs into the output directory, telling `progress`
    /// the simulated time as it goes. A panic in the run (a broken invariant) is caught and
    /// becomes [`Failure::Invariant`]; an output that cannot be written is bad input.
    pub fn run(&self, progress: Option<Box<dyn FnMut(SimTime)>>) -> Result<RunOutput, Failure> {
        let run = std::panic::AssertUnwindSafe(|| {
            let (scenario, out) = (&self.scenario, &self.out);
            let options = crate::DirOptions {
                check: self.check,
                progress,
                threads: self.threads,
                ..crate::DirOptions::new(self.level)
            };
            crate::run_to_dir(scenario, out, options)
        });
        match std::panic::catch_unwind(run) {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(e)) => Err(Failure::BadInput(format!("writing to {}: {e}", self.out.display()))),
            Err(_) => Err(self.invariant("internal invariant broken")),
        }
    }

    /// A run whose funds are not conserved is a broken invariant.
    pub fn check_funds(&self, output: &RunOutput) -> Result<(), Failure> {
        if output.summary.funds.conserved {
            Ok(())
        } else {
            Err(self.invariant("funds not conserved"))
        }
    }

    fn invariant(&self, what: &'static str) -> Failure {
        Failure::Invariant { what, seed: self.scenario.seed, repro: self.repro() }
    }
}

/// A `sweep` command, checked: the sweep loaded, its shard parsed, its output directory taken
/// (locked until the config is dropped, and checked to hold nothing of another sweep) and threads
/// resolved, and the shard's cells planned.
pub struct SweepConfig {
    /// The sweep.
    pub sweep: Sweep,
    /// The shard this process runs.
    pub shard: Shard,
    /// The output directory, owned by this command.
    pub dir: SweepDir,
    /// Threads, at least one.
    pub threads: usize,
    /// Keep each cell's payments.csv and attempts.csv.
    pub keep_cells: bool,
    /// The shard's cells, and how many are finished.
    pub plan: ShardPlan,
}

impl TryFrom<SweepArgs> for SweepConfig {
    type Error = Failure;

    /// Loads the sweep (checking its cells' scenarios), parses the shard, then takes the output
    /// directory: a directory another sweep or merge holds, or that holds another sweep's cells
    /// or a cell file that is none of this sweep's, is refused here, before any cell is counted.
    fn try_from(args: SweepArgs) -> Result<SweepConfig, Failure> {
        let sweep = Sweep::load(&args.sweep)?;
        let shard = match args.shard.as_deref() {
            Some(text) => text.parse().map_err(Failure::BadInput)?,
            None => Shard::WHOLE,
        };
        let dir = args.out.unwrap_or_else(|| sweep.default_dir());
        let dir = SweepDir::open(&dir, &sweep).map_err(Failure::BadInput)?;
        let threads = args.threads.unwrap_or_else(cores).max(1);
        let plan = sweep.plan(shard, &dir);
        Ok(SweepConfig { sweep, shard, dir, threads, keep_cells: args.keep_cells, plan })
    }
}

impl SweepConfig {
    /// How many of the shard's cells are left to run.
    pub fn pending(&self) -> usize {
        self.plan.cells.len() - self.plan.finished
    }

    /// What the sweep is about to do, in one line.
    pub fn describe(&self) -> String {
        format!(
            "{}: {} cells ({} in shard {}, {} already done) on {} threads into {}",
            self.sweep.path,
            self.plan.total,
            self.plan.cells.len(),
            self.shard,
            self.plan.finished,
            self.threads,
            self.dir.path().display()
        )
    }

    /// Runs the shard's unfinished cells on the threads, calling `done` after each; returns how
    /// many ran.
    pub fn run(&self, done: &(dyn Fn() + Sync)) -> Result<usize, Failure> {
        self.dir
            .run(&self.sweep, &self.plan.cells, self.threads, self.keep_cells, done)
            .map_err(Failure::BadInput)
    }

    /// Writes the directory's `results.csv` from every cell it holds, after `ran` cells ran.
    pub fn gather(&self, ran: usize) -> Result<SweepSummary, Failure> {
        let (results, missing) = self.dir.gather().map_err(Failure::BadInput)?;
        Ok(SweepSummary {
            ran,
            done: self.plan.total - missing.len(),
            total: self.plan.total,
            payments: results.rows.len(),
            results: self.dir.path().join("results.csv"),
        })
    }
}

/// What a sweep command did; its `Display` is the line that says so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepSummary {
    /// Cells run by this command.
    pub ran: usize,
    /// Cells of the grid finished in the directory.
    pub done: usize,
    /// Cells of the grid.
    pub total: usize,
    /// Payments in the results.
    pub payments: usize,
    /// The results file.
    pub results: PathBuf,
}

impl fmt::Display for SweepSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ran {} cells; {} of {} done, {} payments; wrote {}",
            self.ran,
            self.done,
            self.total,
            self.payments,
            self.results.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Issue 11: the command printed for a broken invariant left out `--check`, so a run that
    // broke an invariant only under `--check` was not reproduced by it.
    #[test]
    fn regression_issue_11_the_repro_command_keeps_check() {
        let path = Path::new("scenarios/cat_store.ron");
        assert_eq!(
            repro_command(path, 2016, true),
            "boltsim run scenarios/cat_store.ron --seed 2016 --check"
        );
        assert_eq!(repro_command(path, 7, false), "boltsim run scenarios/cat_store.ron --seed 7");
    }

    #[test]
    fn failures_map_to_exit_codes_and_one_line() {
        assert_eq!(Failure::Differs.exit_code(), 1);
        assert_eq!(Failure::Differs.message(), None);
        assert_eq!(Failure::BadInput("x.ron: bad".into()).exit_code(), 2);
        let broken = Failure::Invariant { what: "funds not conserved", seed: 3, repro: "r".into() };
        assert_eq!(broken.exit_code(), 3);
        assert_eq!(
            broken.message().as_deref(),
            Some("funds not conserved (seed 3); reproduce with: r")
        );
    }
}
