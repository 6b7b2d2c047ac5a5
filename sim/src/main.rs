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
    /// Run a sweep: a grid of scenario parameters x seeds, in parallel; resumable (finished cells
    /// are skipped); writes cells/, sweep.json and results.csv.
    Sweep {
        /// The sweep file (RON).
        sweep: PathBuf,
        /// Output directory [default: out/sweeps/<sweep name>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Threads [default: the machine's cores].
        #[arg(long)]
        threads: Option<usize>,
        /// Run only shard K of N (1-based: cells K-1, K-1+N, ...), for job arrays; merge the
        /// shards' directories afterwards with `boltsim merge`.
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
    },
    /// Gather the cells of sweep directories (shards) into one, with its results.csv.
    Merge {
        /// The directory to write.
        out: PathBuf,
        /// The sweep directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
    /// Draw the charts of a sweep's results (PNG and SVG) and an index.html.
    Report {
        /// A sweep directory, or its results.csv.
        results: PathBuf,
        /// The directory to write [default: RESULTS/report].
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
        Cmd::Sweep { sweep, out, threads, shard } => {
            run_sweep(&sweep, out, threads, shard.as_deref())
        }
        Cmd::Merge { out, dirs } => merge(&out, &dirs),
        Cmd::Report { results, out } => report(&results, out),
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

fn bad_input(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn run_sweep(
    path: &Path,
    out: Option<PathBuf>,
    threads: Option<usize>,
    shard: Option<&str>,
) -> Result<(), ExitCode> {
    let sweep = sim::sweep::Sweep::load(path).map_err(bad_input)?;
    let total = sweep.cells();
    let (k, n) = match shard {
        None => (1, 1),
        Some(text) => {
            let parsed =
                text.split_once('/').and_then(|(k, n)| Some((k.parse().ok()?, n.parse().ok()?)));
            match parsed {
                Some((k, n)) if n >= 1 && (1..=n).contains(&k) => (k, n),
                _ => {
                    return Err(bad_input(format!(
                        "--shard {text}: expected K/N with 1 <= K <= N"
                    )));
                }
            }
        }
    };
    let cells = sim::sweep::shard_cells(total, k, n);
    let dir = out.unwrap_or_else(|| PathBuf::from("out/sweeps").join(&sweep.file.name));
    let threads = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let finished = cells.iter().filter(|&&c| sim::sweep::cell_path(&dir, c).exists()).count();
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new((cells.len() - finished) as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} cells, {elapsed} elapsed, ETA {eta}",
        )
        .expect("invariant: a valid template"),
    );
    eprintln!(
        "{}: {} cells ({} in shard {k}/{n}, {finished} already done) on {threads} threads into {}",
        sweep.path,
        total,
        cells.len(),
        dir.display()
    );
    let ran = sim::sweep::run(&sweep, &dir, &cells, threads, &|| bar.inc(1)).map_err(|e| {
        bar.abandon();
        eprintln!("error: {e}");
        ExitCode::from(2)
    })?;
    bar.finish_and_clear();
    let (results, missing) =
        sim::sweep::merge(&dir, std::slice::from_ref(&dir)).map_err(bad_input)?;
    println!(
        "ran {ran} cells; {} of {total} done, {} payments; wrote {}",
        total - missing.len(),
        results.rows.len(),
        dir.join("results.csv").display()
    );
    Ok(())
}

fn merge(out: &Path, dirs: &[PathBuf]) -> Result<(), ExitCode> {
    let (results, missing) = sim::sweep::merge(out, dirs).map_err(bad_input)?;
    println!("{} payments; wrote {}", results.rows.len(), out.join("results.csv").display());
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(10).map(|c| c.to_string()).collect();
        eprintln!(
            "note: {} cells not run yet (first: {}); run their shards and merge again",
            missing.len(),
            shown.join(", ")
        );
    }
    Ok(())
}

fn report(results: &Path, out: Option<PathBuf>) -> Result<(), ExitCode> {
    let (dir, csv) = if results.is_dir() {
        (results.to_path_buf(), results.join("results.csv"))
    } else {
        (results.parent().unwrap_or(Path::new(".")).to_path_buf(), results.to_path_buf())
    };
    let text = std::fs::read_to_string(&csv)
        .map_err(|e| bad_input(format!("{}: cannot read: {e}", csv.display())))?;
    let data = reports::results::SweepResults::from_csv(&text)
        .map_err(|(line, m)| bad_input(format!("{}:{line}: {m}", csv.display())))?;
    let (title, about) = match sim::sweep::read_info(&dir) {
        Ok(info) => {
            let mut about = vec![
                ("sweep".to_string(), info.name.clone()),
                ("description".to_string(), info.description.clone()),
                ("scenario".to_string(), info.scenario.clone()),
                ("seeds".to_string(), format!("{:?}", info.seeds)),
            ];
            for (column, values) in &info.axes {
                about.push((column.clone(), values.join(", ")));
            }
            about.push(("cells in the grid".to_string(), info.cells.to_string()));
            (format!("boltsim sweep: {}", info.name), about)
        }
        Err(_) => (format!("boltsim results: {}", csv.display()), Vec::new()),
    };
    let files = reports::report::report(&data, &title, &about).map_err(bad_input)?;
    let out = out.unwrap_or_else(|| dir.join("report"));
    std::fs::create_dir_all(&out).map_err(|e| bad_input(format!("{}: {e}", out.display())))?;
    for (name, bytes) in &files {
        let path = out.join(name);
        sim::output::write_atomic(&path, bytes)
            .map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
    }
    println!("wrote {} files; open {}", files.len(), out.join("index.html").display());
    Ok(())
}
