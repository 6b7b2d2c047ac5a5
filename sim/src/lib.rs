//! sim: the world around the nodes. It runs real node logic (`node-core`) against a mocked
//! clock, a mocked chain and virtual links, driven by one event queue, from a seeded scenario
//! file, and writes a trace, per-payment results and a summary. Same scenario and seed, same
//! bytes.
//!
//! [`run`] is the one entry point the binary, the tests and the benchmarks share. Modules, in the
//! order a run uses them: [`scenario`] (the RON format, parsed and validated into a model),
//! [`import`] and [`generate`] (networks from snapshots and generators), [`genesis`] (the start
//! of a run: every channel, the genesis block, the graph, the drawn faults), [`rng`] (every
//! seeded stream), [`world`] (the run: state, event loop, script, applications, faults, invariant
//! checks, first searches planned ahead on other threads), [`nodes`] (the nodes, behind a lock
//! each), [`engine`] (the event queue), [`chain`] (the mocked chain), [`link`] (latency and
//! ordering), [`shop`] and [`workload`] (applications), [`random_faults`] (faults drawn from the seed);
//! then the outputs: [`trace`], [`results`] (with the labelled feasibility [`oracle`]),
//! [`series`] (time series) and [`summary`], [`output`] (atomic files), [`verify`] (replay
//! against a recorded trace, its lines read by [`decode`]), [`export`] (networks out),
//! [`inspect`] (a network described), [`sweep`] (grids of runs and their reports), [`input`] (the
//! one error of every input file) and [`cli`] (the command line of the `boltsim` binary).

#![deny(missing_docs)]

pub mod chain;
pub mod cli;
pub mod decode;
pub mod engine;
pub mod export;
pub mod generate;
pub mod genesis;
pub mod import;
pub mod input;
pub mod inspect;
pub mod keyhash;
pub mod link;
pub mod nodes;
pub mod oracle;
pub mod output;
pub mod random_faults;
pub mod results;
pub mod rng;
pub mod scenario;
pub mod series;
pub mod shop;
pub mod summary;
pub mod sweep;
pub mod trace;
pub mod verify;
pub mod workload;
pub mod world;

use node_core::SimTime;
use results::Results;
use scenario::Scenario;
use std::io::{self, Write};
use summary::RunSummary;
use trace::{TraceFooter, TraceHeader, TraceLevel, TraceWriter};
use world::World;

/// How to run a scenario.
pub struct RunOptions {
    /// Where the trace goes.
    pub trace: Box<dyn Write>,
    /// How much it records.
    pub level: TraceLevel,
    /// Check the invariants after every event (slow); a broken one panics with the seed.
    pub check: bool,
    /// Told the simulated time now and then while the run goes (a progress bar on a terminal);
    /// what it does reaches no output.
    pub progress: Option<Box<dyn FnMut(SimTime)>>,
    /// Threads the run may use (at least 1): to plan payments ahead (`world::ahead`) and to
    /// build the start's nodes. Every output is the same bytes whatever the number.
    pub threads: usize,
}

/// How [`run_to_dir`] runs: [`RunOptions`] but the trace, which goes to the directory.
pub struct DirOptions {
    /// How much the trace records.
    pub level: TraceLevel,
    /// Check the invariants after every event (slow); a broken one panics with the seed.
    pub check: bool,
    /// Told the simulated time now and then while the run goes.
    pub progress: Option<Box<dyn FnMut(SimTime)>>,
    /// Threads the run may use (at least 1); the files are the same bytes whatever the number.
    pub threads: usize,
}

impl DirOptions {
    /// A run tracing at `level` on one thread, unchecked, with no progress.
    pub fn new(level: TraceLevel) -> DirOptions {
        DirOptions { level, check: false, progress: None, threads: 1 }
    }
}

impl RunOptions {
    /// A run whose trace is discarded.
    pub fn without_trace() -> RunOptions {
        RunOptions {
            trace: Box::new(io::sink()),
            level: TraceLevel::Off,
            check: false,
            progress: None,
            threads: 1,
        }
    }
}

/// What a run produced.
pub struct RunOutput {
    /// Per-payment records.
    pub results: Results,
    /// The summary.
    pub summary: RunSummary,
    /// The trace's footer.
    pub footer: TraceFooter,
    /// The trace writer's output, flushed.
    pub trace: Box<dyn Write>,
    /// The channels of the start, with their starting balances.
    pub start_channels: Vec<genesis::PlacedChannel>,
    /// `series.csv`, when the scenario samples time series.
    pub series: Option<String>,
    /// Every fault that started: when, and its kind and node (`crash n0`).
    pub fault_log: Vec<(SimTime, String)>,
}

/// Runs `scenario` to its end.
pub fn run(scenario: &Scenario, options: RunOptions) -> io::Result<RunOutput> {
    let header = TraceHeader {
        scenario: scenario.name.clone(),
        scenario_sha256: scenario.file_sha256,
        seed: scenario.seed,
        level: options.level,
        nodes: scenario.nodes.iter().map(|n| n.name.clone()).collect(),
    };
    let trace = TraceWriter::new(options.trace, &header);
    let mut world = World::new(scenario, trace, options.check, options.threads);
    world.run(options.progress);
    let (record, writer) = world.finish();
    let (trace, footer) = writer.finish()?;
    let summary = RunSummary::build(&record, scenario, &footer, options.level.name());
    Ok(RunOutput {
        results: record.results,
        summary,
        footer,
        trace,
        start_channels: record.start_channels,
        series: record.series,
        fault_log: record.fault_log,
    })
}

/// Runs `scenario` with its trace kept in memory; returns the output and the trace bytes.
pub fn run_captured(
    scenario: &Scenario,
    level: TraceLevel,
    check: bool,
) -> io::Result<(RunOutput, Vec<u8>)> {
    let buffer = output::SharedBuffer::default();
    let options =
        RunOptions { trace: Box::new(buffer.clone()), level, check, progress: None, threads: 1 };
    let out = run(scenario, options)?;
    Ok((out, buffer.bytes()))
}

/// The time series a run writes beside [`OUTPUT_FILES`] when its scenario samples them.
pub const SERIES_FILE: &str = "series.csv";

/// The files a run writes into its output directory.
pub const OUTPUT_FILES: [&str; 5] =
    ["trace.txt", "payments.csv", "attempts.csv", "summary.json", "channels.csv"];

/// Runs `scenario` and writes `trace.txt`, `payments.csv`, `attempts.csv`, `summary.json` and
/// `channels.csv` into `dir` (created if missing). The directory is held for the run (a second run into it fails at
/// once), temporary files a killed run left there are removed, and the five files replace the
/// old ones once all are written ([`output::commit_all`]): an error while running or writing
/// replaces none, and no temporary file is left.
pub fn run_to_dir(
    scenario: &Scenario,
    dir: &std::path::Path,
    options: DirOptions,
) -> io::Result<RunOutput> {
    let DirOptions { level, check, progress, threads } = options;
    std::fs::create_dir_all(dir)?;
    let _held = output::DirLock::acquire(dir, "run")?;
    output::remove_stale_temps(dir, |name| OUTPUT_FILES.contains(&name) || name == SERIES_FILE)?;
    let trace = output::Pending::new(&dir.join(OUTPUT_FILES[0]));
    let file = io::BufWriter::new(std::fs::File::create(trace.tmp())?);
    let options = RunOptions { trace: Box::new(file), level, check, progress, threads };
    let mut out = run(scenario, options)?;
    out.trace = Box::new(io::sink()); // drops (and closes) the file, already flushed by the footer
    let labels = results::NodeLabels::of(scenario);
    let (mut payments, mut attempts) = (Vec::new(), Vec::new());
    out.results.write_csv(&labels, &mut payments)?;
    out.results.write_attempts_csv(&labels, &mut attempts)?;
    // Written as it goes: a network of a million nodes has five million rows.
    let channels = output::Pending::new(&dir.join(OUTPUT_FILES[4]));
    let mut file = io::BufWriter::new(std::fs::File::create(channels.tmp())?);
    results::write_channels_csv(&out.start_channels, &labels, &mut file)?;
    file.into_inner().map_err(io::IntoInnerError::into_error)?;
    let files = [
        trace,
        output::Pending::write(&dir.join(OUTPUT_FILES[1]), &payments)?,
        output::Pending::write(&dir.join(OUTPUT_FILES[2]), &attempts)?,
        output::Pending::write(&dir.join(OUTPUT_FILES[3]), out.summary.to_json().as_bytes())?,
        channels,
    ];
    let series = match &out.series {
        Some(csv) => Some(output::Pending::write(&dir.join(SERIES_FILE), csv.as_bytes())?),
        None => None,
    };
    output::commit_all(files.into_iter().chain(series))?;
    if out.series.is_none() {
        // A series of an earlier run would not match this run's other files.
        match std::fs::remove_file(dir.join(SERIES_FILE)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(out)
}

/// Golden traces are recorded at the `full` level while they stay under this size, bytes, and at
/// the `payments` level beyond.
pub const GOLDEN_FULL_LIMIT_BYTES: u64 = 1 << 20;

/// The golden trace path of a scenario file: beside it, `.ron` replaced by `.trace`.
pub fn golden_path(scenario_path: &std::path::Path) -> std::path::PathBuf {
    scenario_path.with_extension("trace")
}

/// Records the golden trace of `scenario` at `trace_path` (atomically): the `full` level if that
/// stays under [`GOLDEN_FULL_LIMIT_BYTES`], else the `payments` level. Returns the level, the
/// size in bytes and the footer.
pub fn bless(
    scenario: &Scenario,
    trace_path: &std::path::Path,
) -> io::Result<(TraceLevel, u64, TraceFooter)> {
    for level in [TraceLevel::Full, TraceLevel::Payments] {
        let pending = output::Pending::new(trace_path);
        let file = io::BufWriter::new(std::fs::File::create(pending.tmp())?);
        let options =
            RunOptions { trace: Box::new(file), level, check: false, progress: None, threads: 1 };
        let mut out = run(scenario, options)?;
        out.trace = Box::new(io::sink());
        let bytes = std::fs::metadata(pending.tmp())?.len();
        if bytes < GOLDEN_FULL_LIMIT_BYTES || level == TraceLevel::Payments {
            pending.commit()?;
            return Ok((level, bytes, out.footer));
        }
    }
    unreachable!("the payments level always commits")
}
