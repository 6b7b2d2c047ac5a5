//! The `boltsim` binary: parses the command line ([`sim::cli`]), calls the library, prints what it
//! returns and maps failures to exit codes: 0 success, 1 a trace differs (`verify`), 2 bad input
//! (one line naming the file and position), 3 a broken invariant (with the command that
//! reproduces it).

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use sim::cli::{CliArgs, Command, Failure, RunConfig, SweepConfig};
use sim::scenario::Scenario;
use sim::verify::VerifyOutcome;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    match dispatch(CliArgs::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if let Some(message) = failure.message() {
                eprintln!("error: {message}");
            }
            ExitCode::from(failure.exit_code())
        }
    }
}

fn dispatch(command: Command) -> Result<(), Failure> {
    match command {
        Command::Run(args) => {
            let config = RunConfig::try_from(args)?;
            let bar = progress_bar(config.scenario.max_duration.as_secs() as usize, RUN_TEMPLATE);
            let shown = bar.clone();
            let output = config
                .run(Some(Box::new(move |now| shown.set_position(now.as_secs()))))
                .inspect_err(|_| bar.abandon())?;
            bar.finish_and_clear();
            if !config.quiet {
                print!("{}", output.summary.to_text());
            }
            let mut files = sim::OUTPUT_FILES.to_vec();
            if output.series.is_some() {
                files.push(sim::SERIES_FILE);
            }
            println!("wrote {}/{{{}}}", config.out.display(), files.join(","));
            config.check_funds(&output)
        }
        Command::Verify { scenario: path, trace, threads } => {
            let trace = trace.unwrap_or_else(|| sim::golden_path(&path));
            let threads = threads.unwrap_or_else(sim::cli::cores).max(1);
            let (outcome, header) = sim::verify::verify(&Scenario::load(&path)?, &trace, threads)?;
            let (shown_path, shown_trace) =
                (path.display().to_string(), trace.display().to_string());
            print!("{}", outcome.report(&shown_path, &shown_trace, &header));
            match outcome {
                VerifyOutcome::Identical { .. } => Ok(()),
                VerifyOutcome::Diverged(_) => Err(Failure::Differs),
            }
        }
        Command::Bless { scenarios } => scenarios.iter().try_for_each(|path| {
            let trace = sim::golden_path(path);
            let (level, bytes, footer) = sim::bless(&Scenario::load(path)?, &trace)
                .map_err(|e| Failure::BadInput(format!("writing {}: {e}", trace.display())))?;
            let (shown, events, level) = (trace.display(), footer.events, level.name());
            println!(
                "{shown}: {events} events at level {level}, {bytes} bytes, digest {}",
                footer.digest
            );
            Ok(())
        }),
        Command::Import { file, format, out } => {
            let format = format.as_deref().and_then(sim::import::GraphFormat::from_name);
            let graph = sim::import::read_graph(&file, format)?;
            let (nodes, channels) = (graph.node_ids.len(), graph.channels.len());
            let balances = if graph.has_balances() { ", with balances" } else { "" };
            eprintln!("{}: {nodes} nodes, {channels} channels{balances}", file.display());
            emit(&sim::export::scenario_ron(&graph, &file.display().to_string()), out)
        }
        Command::Inspect { scenario, seed, amount_sat, top, dot } => {
            let mut scenario = Scenario::load(&scenario)?;
            scenario.seed = seed.unwrap_or(scenario.seed);
            if let Some(path) = dot {
                let text = sim::inspect::dot(&scenario).map_err(Failure::BadInput)?;
                emit(&text, Some(path))?;
            }
            let options = sim::inspect::InspectOptions { amount_sat, top };
            print!("{}", sim::inspect::report(&scenario, &options));
            Ok(())
        }
        Command::Export { scenario, seed, out } => {
            let mut scenario = Scenario::load(&scenario)?;
            scenario.seed = seed.unwrap_or(scenario.seed);
            let (text, note) = sim::export::simln_network(&scenario);
            if let Some(note) = note {
                eprintln!("note: {note}");
            }
            emit(&text, out)
        }
        Command::Sweep(args) => {
            let config = SweepConfig::try_from(args)?;
            let bar = progress_bar(config.pending(), SWEEP_TEMPLATE);
            eprintln!("{}", config.describe());
            let ran = config.run(&|| bar.inc(1)).inspect_err(|_| bar.abandon())?;
            bar.finish_and_clear();
            println!("{}", config.gather(ran)?);
            Ok(())
        }
        Command::Merge { out, dirs } => {
            let (results, missing) = sim::sweep::merge(&out, &dirs).map_err(Failure::BadInput)?;
            let csv = out.join("results.csv");
            println!("{} payments; wrote {}", results.rows.len(), csv.display());
            if let Some(note) = sim::sweep::missing_note(&missing) {
                eprintln!("note: {note}");
            }
            Ok(())
        }
        Command::Report { results, out, charts, metric, feasible_only, facet } => {
            use reports::report::{CHARTS, Metric, ReportOptions};
            if let Some(bad) = charts.iter().find(|c| !CHARTS.contains(&c.as_str())) {
                return Err(Failure::BadInput(format!(
                    "--charts {bad}: not a chart ({})",
                    CHARTS.join(", ")
                )));
            }
            let metric = if metric == "first_try" { Metric::FirstTry } else { Metric::Success };
            let options = ReportOptions { charts, metric, feasible_only, facet };
            let report = sim::sweep::write_report(&results, out.as_deref(), &options)
                .map_err(Failure::BadInput)?;
            println!("wrote {} files; open {}", report.files, report.index.display());
            Ok(())
        }
    }
}

/// Writes `text` to `out` atomically, or to standard output.
fn emit(text: &str, out: Option<PathBuf>) -> Result<(), Failure> {
    match out {
        Some(path) => sim::output::write_atomic(&path, text.as_bytes())
            .map_err(|e| Failure::BadInput(format!("writing {}: {e}", path.display()))),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

const SWEEP_TEMPLATE: &str = "{bar:40} {pos}/{len} cells, {elapsed} elapsed, ETA {eta}";
const RUN_TEMPLATE: &str = "{bar:40} {pos}/{len} simulated s, {elapsed} elapsed";

/// A bar of `len` on a terminal, else hidden (the real clock it shows reaches no output).
fn progress_bar(len: usize, template: &str) -> ProgressBar {
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar = if terminal { ProgressBar::new(len as u64) } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template(template).expect("invariant: a valid template"));
    bar
}
