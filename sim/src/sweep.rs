//! Sweeps: a grid of scenario parameters × seeds, each combination a cell run on its own. A
//! sweep file names a base scenario, the seeds and the grid; cells are numbered in grid order
//! (the first parameter slowest, seeds fastest). Each finished cell is written atomically to
//! `cells/NNNNNN.csv` in the output directory (the [`reports::results`] format, after comment
//! lines naming the sweep's fingerprint, the cell and its parameters), so an interrupt loses no
//! finished cell and a second run skips them; `results.csv` is every cell's rows in cell order,
//! so it is the same whatever the number of threads or shards. `--shard K/N` runs cells K-1,
//! K-1+N, ... ([`shard_cells`]), and [`merge`] gathers the cells of several directories.
//!
//! A directory holds one sweep's cells and nothing else: a sweep or a merge owns it while it runs
//! ([`SweepDir`], an exclusive lock on `sweep.lock`), its `sweep.json` names the sweep, and every
//! cell file is checked against it (fingerprint, cell, parameters, rows) when a sweep resumes and
//! when a merge gathers it; what does not belong is refused with one line, never counted as done.
//!
//! This module plans cells (a [`Shard`] of them, and which are finished), runs them on threads,
//! merges files and writes a sweep's report ([`write_report`]); the flags are [`crate::cli`]'s
//! and the progress bar the binary's.

use crate::generate::TopologyKind;
use crate::output::{DirLock, write_atomic};
use crate::results::NodeLabels;
use crate::scenario::{Scenario, ScenarioError, ScenarioFile, StepSpec};
use crate::workload::AmountSpec;
use node_core::router::RouterConfig;
use reports::results::{Marker, SweepResults, SweepRow};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many combinations of axis values a sweep checks when it loads (each is validated; one
/// reading a snapshot takes a second).
const MAX_CHECKED_COMBINATIONS: usize = 2_000;

/// The most cells a sweep may have (a `sweep.json` saying more is refused).
pub const MAX_CELLS: usize = 1_000_000;

/// The file in a sweep directory that a sweep or merge holds an exclusive lock on while it runs.
pub const LOCK_FILE: &str = "sweep.lock";

/// Where else `sweep` can write, said when a directory is refused.
const SWEEP_ELSEWHERE: &str = "give another --out";

/// Where else `merge` can write, said when a directory is refused.
const MERGE_ELSEWHERE: &str = "merge into another directory";

/// One axis of the grid: a scenario field and its values.
#[derive(Clone, Debug, Deserialize)]
pub enum Axis {
    /// The workload's amount, fixed per cell, sat (column `amount_sat`).
    AmountSat(Vec<u64>),
    /// Every node's router (column `router`, the router's name; `_2`, ... for variants).
    Router(Vec<RouterConfig>),
    /// The workload's arrival rate, payments per second (column `rate_per_s`).
    RatePerS(Vec<f64>),
    /// The generated network's node count (column `nodes`).
    Nodes(Vec<u32>),
    /// The generated network's wiring (column `topology`).
    Topology(Vec<TopologyKind>),
    /// Random crashes per node and day (column `crashes_per_node_day`).
    CrashesPerNodeDay(Vec<f64>),
    /// Random unilateral closes per channel and day (column `force_closes_per_channel_day`).
    ForceClosesPerChannelDay(Vec<f64>),
    /// Any field of the scenario, by its path (`workload.receivers`, `faults`,
    /// `node_defaults.mpp_timeout_s`): each value is RON text put in the field's place (added if
    /// the field is absent). The column is the path; the labels are `labels`, or the values'
    /// text with spaces dropped and commas turned to `;`.
    Field {
        /// Field names from the top of the scenario, joined by dots.
        path: String,
        /// The values, as RON text.
        values: Vec<String>,
        /// Their labels in the results (no commas); empty: from the values.
        #[serde(default)]
        labels: Vec<String>,
    },
}

impl Axis {
    /// The results column.
    pub fn column(&self) -> &str {
        match self {
            Axis::Field { path, .. } => path,
            Axis::AmountSat(_) => "amount_sat",
            Axis::Router(_) => "router",
            Axis::RatePerS(_) => "rate_per_s",
            Axis::Nodes(_) => "nodes",
            Axis::Topology(_) => "topology",
            Axis::CrashesPerNodeDay(_) => "crashes_per_node_day",
            Axis::ForceClosesPerChannelDay(_) => "force_closes_per_channel_day",
        }
    }

    fn len(&self) -> usize {
        match self {
            Axis::AmountSat(v) => v.len(),
            Axis::Router(v) => v.len(),
            Axis::RatePerS(v) => v.len(),
            Axis::Nodes(v) => v.len(),
            Axis::Topology(v) => v.len(),
            Axis::CrashesPerNodeDay(v) | Axis::ForceClosesPerChannelDay(v) => v.len(),
            Axis::Field { values, .. } => values.len(),
        }
    }

    /// Value `i`'s label in the results (no commas).
    fn label(&self, i: usize) -> String {
        match self {
            Axis::Field { values, labels, .. } => match labels.get(i) {
                Some(label) => label.clone(),
                None => values[i]
                    .chars()
                    .filter(|c| !c.is_whitespace() && *c != '"')
                    .map(|c| if c == ',' { ';' } else { c })
                    .collect(),
            },
            Axis::AmountSat(v) => v[i].to_string(),
            Axis::Router(v) => {
                // Distinct configurations of one kind are numbered in order of first appearance.
                let name = v[i].name();
                let mut kinds: Vec<&RouterConfig> = Vec::new();
                for r in v.iter().filter(|r| r.name() == name) {
                    if !kinds.contains(&r) {
                        kinds.push(r);
                    }
                }
                match kinds.iter().position(|r| **r == v[i]).unwrap_or(0) {
                    0 => name.to_string(),
                    n => format!("{name}_{}", n + 1),
                }
            }
            Axis::RatePerS(v) | Axis::CrashesPerNodeDay(v) | Axis::ForceClosesPerChannelDay(v) => {
                format!("{}", v[i])
            }
            Axis::Nodes(v) => v[i].to_string(),
            Axis::Topology(v) => match v[i] {
                TopologyKind::ScaleFree { links_per_node } => {
                    format!("scale_free_{links_per_node}")
                }
                TopologyKind::MainnetLike => "mainnet_like".into(),
                TopologyKind::ErdosRenyi { channels } => format!("erdos_renyi_{channels}"),
                TopologyKind::Ring => "ring".into(),
                TopologyKind::Line => "line".into(),
                TopologyKind::Star => "star".into(),
                TopologyKind::Grid { columns } => format!("grid_{columns}"),
            },
        }
    }

    /// Sets value `i` in a scenario file (a `Field` is set in the text, before parsing:
    /// [`Sweep::scenario`]).
    fn apply(&self, i: usize, raw: &mut ScenarioFile) -> Result<(), String> {
        let need = |what: &str| format!("the {} axis needs a scenario with {what}", self.column());
        match self {
            Axis::Field { .. } => {}
            Axis::AmountSat(v) => {
                let w = raw.workload.as_mut().ok_or_else(|| need("a workload"))?;
                w.amount = AmountSpec::Fixed { amount_msat: v[i].saturating_mul(1000) };
            }
            Axis::Router(v) => {
                // Every payment of the cell is planned by this router: the scenario's, every
                // node's, and none of the workload's, list's or steps' own.
                raw.router = Some(v[i]);
                raw.node_defaults.router = Some(v[i]);
                for node in &mut raw.nodes {
                    node.config.router = None;
                }
                if let Some(w) = raw.workload.as_mut() {
                    w.routers.clear();
                }
                if let Some(p) = raw.payments.as_mut() {
                    p.routers.clear();
                }
                for step in &mut raw.script {
                    if let StepSpec::Pay { router, .. } | StepSpec::Keysend { router, .. } = step {
                        *router = None;
                    }
                }
            }
            Axis::RatePerS(v) => {
                raw.workload.as_mut().ok_or_else(|| need("a workload"))?.rate_per_s = v[i];
            }
            Axis::Nodes(v) => {
                raw.generate.as_mut().ok_or_else(|| need("a generated network"))?.nodes = v[i]
            }
            Axis::Topology(v) => {
                raw.generate.as_mut().ok_or_else(|| need("a generated network"))?.kind = v[i]
            }
            Axis::CrashesPerNodeDay(v) => {
                raw.random_faults
                    .as_mut()
                    .ok_or_else(|| need("random_faults"))?
                    .crashes_per_node_day = v[i];
            }
            Axis::ForceClosesPerChannelDay(v) => {
                raw.random_faults
                    .as_mut()
                    .ok_or_else(|| need("random_faults"))?
                    .force_closes_per_channel_day = v[i];
            }
        }
        Ok(())
    }
}

/// A sweep file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "Sweep")]
pub struct SweepFile {
    /// Short name (the default output directory is `out/sweeps/<name>`).
    pub name: String,
    /// What it shows.
    #[serde(default)]
    pub description: String,
    /// The base scenario, relative to the sweep file.
    pub scenario: String,
    /// The seeds each combination runs with.
    pub seeds: Vec<u64>,
    /// The axes.
    pub grid: Vec<Axis>,
}

/// A loaded sweep: the file, its base scenario's text and path.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// The file.
    pub file: SweepFile,
    /// The sweep file's path, as given.
    pub path: String,
    /// The base scenario's path.
    pub scenario_path: PathBuf,
    /// The base scenario's text.
    pub scenario_text: String,
    /// The sweep file's text.
    pub text: String,
}

/// What a sweep directory records about its sweep (`sweep.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepInfo {
    /// The sweep's name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// The base scenario, as the sweep file names it.
    pub scenario: String,
    /// The seeds.
    pub seeds: Vec<u64>,
    /// Each axis: its column and value labels.
    pub axes: Vec<(String, Vec<String>)>,
    /// How many cells the whole grid has.
    pub cells: usize,
    /// SHA-256 of the sweep file and of the base scenario, hex: cells of another sweep (or of
    /// this one before an edit) are never resumed or merged with these.
    pub fingerprint: String,
}

impl SweepInfo {
    /// Cell `cell`'s value label on each axis, and its seed.
    fn values(&self, cell: usize) -> (Vec<&str>, u64) {
        let lens: Vec<usize> = self.axes.iter().map(|(_, values)| values.len()).collect();
        let (at, seed) = grid_position(cell, &lens, self.seeds.len());
        let values = self.axes.iter().zip(at).map(|((_, v), i)| v[i].as_str()).collect();
        (values, self.seeds[seed])
    }

    /// Cell `cell`'s values as `column=label`, the seed last (`cell` must be in the grid).
    fn labels(&self, cell: usize) -> Vec<String> {
        let (values, seed) = self.values(cell);
        let mut labels: Vec<String> =
            self.axes.iter().zip(values).map(|((column, _), v)| format!("{column}={v}")).collect();
        labels.push(format!("seed={seed}"));
        labels
    }

    /// The comment lines a cell file starts with: the sweep, its fingerprint, the cell and its
    /// values ([`read_cell`] checks them).
    fn cell_header(&self, cell: usize) -> String {
        format!(
            "# sweep: {}\n# fingerprint: {}\n# cell: {cell}\n# params: {}\n",
            self.name,
            self.fingerprint,
            self.labels(cell).join(", ")
        )
    }
}

/// Cell `cell`'s value index on each axis (of `lens` values) and its seed's index (of `seeds`):
/// the first axis slowest, the seeds fastest.
fn grid_position(cell: usize, lens: &[usize], seeds: usize) -> (Vec<usize>, usize) {
    let mut rest = cell / seeds;
    let mut at = vec![0; lens.len()];
    for (slot, &len) in at.iter_mut().zip(lens).rev() {
        *slot = rest % len;
        rest /= len;
    }
    (at, cell % seeds)
}

/// The cells of a grid with axes of `lengths` and `seeds` seeds; `None` past `usize`.
fn grid_cells(lengths: impl Iterator<Item = usize>, seeds: usize) -> Option<usize> {
    lengths.chain([seeds]).try_fold(1usize, |product, n| product.checked_mul(n))
}

/// The results columns of a grid with axes `columns`: the axes, and `router` (each payment's)
/// when no axis sets it.
fn param_columns<'a>(columns: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut params: Vec<String> = columns.map(str::to_string).collect();
    if !params.iter().any(|p| p == "router") {
        params.push("router".into());
    }
    params
}

impl Sweep {
    /// Reads a sweep file and its base scenario, and checks the base and the first cell.
    pub fn load(path: &Path) -> Result<Sweep, ScenarioError> {
        let shown = path.display().to_string();
        let fail =
            |position, message: String| ScenarioError { file: shown.clone(), position, message };
        let text = crate::input::read_file(path)?;
        let options = ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
        let file: SweepFile = options
            .from_str(&text)
            .map_err(|e| fail(Some((e.span.start.line, e.span.start.col)), e.code.to_string()))?;
        // The name is a directory under out/sweeps: the rule for scenario names keeps it there.
        let literal = format!("{:?}", file.name);
        let what = format!("sweep name {literal}");
        crate::scenario::check_name_in(&shown, &text, &file.name, &what, "name", &literal)?;
        if file.seeds.is_empty() {
            return Err(fail(None, "a sweep needs at least one seed".into()));
        }
        if let Some(axis) = file.grid.iter().find(|a| a.len() == 0) {
            return Err(fail(None, format!("the {} axis has no values", axis.column())));
        }
        for axis in &file.grid {
            let Axis::Field { path, values, labels } = axis else { continue };
            let taken = ["cell", "seed", "router", "amount_sat"];
            if taken.contains(&path.as_str())
                || reports::results::PAYMENT_COLUMNS.contains(&path.as_str())
            {
                return Err(fail(
                    None,
                    format!(
                        "the Field axis {path:?} would name a results column taken by boltsim; use the {path} axis of its own, or another field"
                    ),
                ));
            }
            if !labels.is_empty() && labels.len() != values.len() {
                return Err(fail(
                    None,
                    format!(
                        "the {path} axis has {} labels for {} values",
                        labels.len(),
                        values.len()
                    ),
                ));
            }
            if let Some(bad) = labels.iter().find(|l| l.contains([',', '\n', '"']) || l.is_empty())
            {
                return Err(fail(
                    None,
                    format!(
                        "the {path} axis's label {bad:?} is empty or holds a comma, a quote or a line break"
                    ),
                ));
            }
            let all: Vec<String> = (0..axis.len()).map(|i| axis.label(i)).collect();
            if let Some(i) = (0..all.len()).find(|&i| all[..i].contains(&all[i])) {
                return Err(fail(
                    None,
                    format!("the {path} axis has the label {:?} twice: give labels", all[i]),
                ));
            }
        }
        let columns: Vec<&str> = file.grid.iter().map(Axis::column).collect();
        if let Some(c) = columns.iter().enumerate().find(|(i, c)| columns[..*i].contains(c)) {
            return Err(fail(None, format!("the {} axis is given twice", c.1)));
        }
        let scenario_path = path.parent().unwrap_or(Path::new("")).join(&file.scenario);
        let scenario_text = crate::input::read_file(&scenario_path)?;
        let sweep = Sweep { file, path: shown.clone(), scenario_path, scenario_text, text };
        if sweep.cells() > MAX_CELLS {
            return Err(fail(None, format!("{} cells: at most 1,000,000", sweep.cells())));
        }
        // Every combination of axis values must make a valid scenario (seeds do not matter):
        // a sweep should not stop halfway on a bad one.
        let seeds = sweep.file.seeds.len();
        for cell in (0..sweep.cells() / seeds).map(|c| c * seeds).take(MAX_CHECKED_COMBINATIONS) {
            // Reported against the sweep file, whose axis value is at fault, naming where in
            // the base scenario the value lands.
            sweep.scenario(cell).map_err(|e| {
                let labels = sweep.labels(cell).join(", ");
                fail(None, format!("cell {cell} ({labels}) is not a valid scenario: {e}"))
            })?;
        }
        Ok(sweep)
    }

    /// How many cells: the product of the axes' lengths times the seeds.
    pub fn cells(&self) -> usize {
        grid_cells(self.file.grid.iter().map(Axis::len), self.file.seeds.len())
            .unwrap_or(usize::MAX)
    }

    /// Cell `cell`'s value index on each axis and its seed.
    fn coordinates(&self, cell: usize) -> (Vec<usize>, u64) {
        let lens: Vec<usize> = self.file.grid.iter().map(Axis::len).collect();
        let (at, seed) = grid_position(cell, &lens, self.file.seeds.len());
        (at, self.file.seeds[seed])
    }

    /// Cell `cell`'s values as `column=label`, the seed last.
    pub fn labels(&self, cell: usize) -> Vec<String> {
        self.info().labels(cell)
    }

    /// The scenario of cell `cell`: the base with the cell's values and seed. `Field` values
    /// are set in the base's text first ([`crate::scenario::splice`]); a position in an error
    /// then counts in that text.
    pub fn scenario(&self, cell: usize) -> Result<Scenario, ScenarioError> {
        let (at, seed) = self.coordinates(cell);
        let file = self.scenario_path.display().to_string();
        let mut text = std::borrow::Cow::Borrowed(self.scenario_text.as_str());
        for (axis, &i) in self.file.grid.iter().zip(&at) {
            if let Axis::Field { path, values, .. } = axis {
                text = crate::scenario::splice::set_field(&text, path, &values[i])
                    .map_err(|message| ScenarioError {
                        file: file.clone(),
                        position: None,
                        message,
                    })?
                    .into();
            }
        }
        Scenario::parse_with(&file, &text, |raw| {
            raw.seed = seed;
            for (axis, &i) in self.file.grid.iter().zip(&at) {
                axis.apply(i, raw)?;
            }
            Ok(())
        })
    }

    /// The results columns: the axes, and `router` (each payment's) when no axis sets it.
    pub fn params(&self) -> Vec<String> {
        param_columns(self.file.grid.iter().map(Axis::column))
    }

    /// The output directory when none is given: `out/sweeps/<name>`.
    pub fn default_dir(&self) -> PathBuf {
        PathBuf::from("out/sweeps").join(&self.file.name)
    }

    /// The cells of `shard` and how many of them `dir` already holds (every cell file there was
    /// checked when it was opened).
    pub fn plan(&self, shard: Shard, dir: &SweepDir) -> ShardPlan {
        let total = self.cells();
        let cells = shard.cells(total);
        let finished = cells.iter().filter(|&&c| cell_path(&dir.path, c).exists()).count();
        ShardPlan { total, cells, finished }
    }

    /// What `sweep.json` says.
    pub fn info(&self) -> SweepInfo {
        SweepInfo {
            name: self.file.name.clone(),
            description: self.file.description.clone(),
            scenario: self.file.scenario.clone(),
            seeds: self.file.seeds.clone(),
            axes: self
                .file
                .grid
                .iter()
                .map(|a| (a.column().to_string(), (0..a.len()).map(|i| a.label(i)).collect()))
                .collect(),
            cells: self.cells(),
            fingerprint: {
                let hex = |b: [u8; 32]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
                format!(
                    "{}-{}",
                    hex(node_core::ids::sha256(self.text.as_bytes())),
                    hex(node_core::ids::sha256(self.scenario_text.as_bytes()))
                )
            },
        }
    }

    /// Runs cell `cell` and returns its rows (every payment asked for, refused ones too) and,
    /// when `keep` is set, the run's `payments.csv` and `attempts.csv`.
    pub fn run_cell(&self, cell: usize, keep: bool) -> Result<CellOutput, String> {
        let scenario = self.scenario(cell).map_err(|e| e.to_string())?;
        let (at, seed) = self.coordinates(cell);
        let out = crate::run(&scenario, crate::RunOptions::without_trace())
            .map_err(|e| format!("cell {cell}: {e}"))?;
        let labels: Vec<String> =
            self.file.grid.iter().zip(&at).map(|(axis, &i)| axis.label(i)).collect();
        let own_router = !self.file.grid.iter().any(|a| matches!(a, Axis::Router(_)));
        let nodes = NodeLabels::of(&scenario);
        let rows = out
            .results
            .payments()
            .iter()
            .map(|p| {
                let mut params = labels.clone();
                if own_router {
                    params.push(p.router.clone());
                }
                SweepRow { cell: cell as u32, seed, params, payment: p.row(&nodes) }
            })
            .collect();
        let kept = if keep {
            let (mut payments, mut attempts) = (Vec::new(), Vec::new());
            out.results.write_csv(&nodes, &mut payments).map_err(|e| e.to_string())?;
            out.results.write_attempts_csv(&nodes, &mut attempts).map_err(|e| e.to_string())?;
            Some((payments, attempts, out.series.clone().map(String::into_bytes)))
        } else {
            None
        };
        let markers = out
            .fault_log
            .iter()
            .map(|(at, label)| Marker {
                cell: cell as u32,
                time_us: at.as_micros(),
                label: label.clone(),
            })
            .collect();
        Ok(CellOutput { results: SweepResults { params: self.params(), rows, markers }, kept })
    }
}

/// A cell's kept `payments.csv`, `attempts.csv` and `series.csv` (if sampled), as bytes.
pub type KeptFiles = (Vec<u8>, Vec<u8>, Option<Vec<u8>>);

/// What a cell's run leaves.
pub struct CellOutput {
    /// Its rows.
    pub results: SweepResults,
    /// Its `payments.csv`, `attempts.csv` and `series.csv` (if sampled), when kept
    /// (`--keep-cells`).
    pub kept: Option<KeptFiles>,
}

/// One shard of a sweep's cells, `k` of `n` (1-based), for job arrays: cells k-1, k-1+n, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, from 1.
    pub k: usize,
    /// How many shards.
    pub n: usize,
}

impl Shard {
    /// Every cell.
    pub const WHOLE: Shard = Shard { k: 1, n: 1 };

    /// The cells of this shard, of `total`.
    pub fn cells(self, total: usize) -> Vec<usize> {
        shard_cells(total, self.k, self.n)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `K/N` with 1 <= K <= N; the error is the line `--shard` reports.
    fn from_str(text: &str) -> Result<Shard, String> {
        let parsed =
            text.split_once('/').and_then(|(k, n)| Some((k.parse().ok()?, n.parse().ok()?)));
        match parsed {
            Some((k, n)) if n >= 1 && (1..=n).contains(&k) => Ok(Shard { k, n }),
            _ => Err(format!("--shard {text}: expected K/N with 1 <= K <= N")),
        }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// The cells one process runs: a shard's, and how many of them are already finished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardPlan {
    /// How many cells the whole grid has.
    pub total: usize,
    /// The shard's cells.
    pub cells: Vec<usize>,
    /// How many of them the output directory already holds.
    pub finished: usize,
}

/// The cells of shard `k` of `n` (1-based): cells k-1, k-1+n, k-1+2n, ...
pub fn shard_cells(cells: usize, k: usize, n: usize) -> Vec<usize> {
    (k.saturating_sub(1)..cells).step_by(n.max(1)).collect()
}

/// The file of a finished cell.
pub fn cell_path(dir: &Path, cell: usize) -> PathBuf {
    dir.join("cells").join(format!("{cell:06}.csv"))
}

/// A sweep directory this process owns: created, locked and checked. The lock (an exclusive
/// [`File::lock`] on [`LOCK_FILE`]) is held until the value is dropped or the process ends, so no
/// other sweep or merge writes into the directory meanwhile; the check found its `sweep.json` to
/// be this sweep's (or none, in a directory without cells) and every cell file to be one of this
/// sweep's cells. A [`crate::cli::SweepConfig`] holds one from its check to its end.
#[derive(Debug)]
pub struct SweepDir {
    /// The directory.
    path: PathBuf,
    /// Its sweep, as `sweep.json` records it.
    info: SweepInfo,
    /// The hold on the directory; dropping it releases the lock.
    _lock: DirLock,
}

impl SweepDir {
    /// Takes `path` for `sweep`: creates it, locks it (refused at once if another sweep or merge
    /// holds it), checks that it holds no other sweep's `sweep.json` and no cell file that is not
    /// one of `sweep`'s cells, and writes its `sweep.json`. Errors are one line naming the
    /// directory or the file, and what to do.
    pub fn open(path: &Path, sweep: &Sweep) -> Result<SweepDir, String> {
        let lock = lock(path, SWEEP_ELSEWHERE)?;
        let info = sweep.info();
        claim(path, &info, SWEEP_ELSEWHERE)?;
        for cell in finished_cells(path)? {
            read_cell(&cell_path(path, cell), &info, cell)?;
        }
        let json = serde_json::to_string_pretty(&info).expect("invariant: plain data serializes");
        write_atomic(&path.join("sweep.json"), format!("{json}\n").as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(SweepDir { path: path.to_path_buf(), info, _lock: lock })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs the `cells` of `sweep` (the sweep it was opened for) not yet finished here on
    /// `threads` threads, calling `done` after each; returns how many ran. Each cell's file is
    /// written atomically as soon as it finishes, after its `payments.csv`, `attempts.csv` and
    /// `series.csv` when `keep` is set ([`kept_paths`]).
    pub fn run(
        &self,
        sweep: &Sweep,
        cells: &[usize],
        threads: usize,
        keep: bool,
        done: &(dyn Fn() + Sync),
    ) -> Result<usize, String> {
        if sweep.info().fingerprint != self.info.fingerprint {
            return Err(format!("{}: opened for another sweep", self.path.display()));
        }
        let pending: Vec<usize> =
            cells.iter().copied().filter(|&c| !cell_path(&self.path, c).exists()).collect();
        let next = AtomicUsize::new(0);
        let failure: Mutex<Option<String>> = Mutex::new(None);
        std::thread::scope(|scope| {
            for _ in 0..threads.clamp(1, pending.len().max(1)) {
                scope.spawn(|| {
                    loop {
                        if failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                            return;
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&cell) = pending.get(i) else { return };
                        let written = sweep.run_cell(cell, keep).and_then(|out| {
                            let path = cell_path(&self.path, cell);
                            let write = |path: &Path, bytes: &[u8]| {
                                write_atomic(path, bytes)
                                    .map_err(|e| format!("{}: {e}", path.display()))
                            };
                            // The kept files first: the cell file says the cell is done.
                            if let Some((payments, attempts, series)) = &out.kept {
                                let [p, a, s] = kept_paths(&self.path, cell);
                                write(&p, payments)?;
                                write(&a, attempts)?;
                                if let Some(series) = series {
                                    write(&s, series)?;
                                }
                            }
                            let text = self.info.cell_header(cell) + &out.results.to_csv();
                            write(&path, text.as_bytes())
                        });
                        match written {
                            Ok(()) => done(),
                            Err(e) => {
                                if let Ok(mut f) = failure.lock() {
                                    f.get_or_insert(e);
                                }
                                return;
                            }
                        }
                    }
                });
            }
        });
        match failure.into_inner().ok().flatten() {
            Some(e) => Err(e),
            None => Ok(pending.len()),
        }
    }

    /// Writes the directory's `results.csv` from every cell it holds, as [`merge`] of it into
    /// itself (which this directory's own lock would refuse).
    pub fn gather(&self) -> Result<(SweepResults, Vec<usize>), String> {
        merge_into(&self.path, std::slice::from_ref(&self.path), SWEEP_ELSEWHERE)
    }
}

/// Creates `dir` and its `cells/`, and takes the exclusive lock on its [`LOCK_FILE`]; refused at
/// once if another process (or another [`SweepDir`] of this one) holds it. `elsewhere` says where
/// else to write.
fn lock(dir: &Path, elsewhere: &str) -> Result<DirLock, String> {
    std::fs::create_dir_all(dir.join("cells")).map_err(|e| format!("{}: {e}", dir.display()))?;
    match DirLock::try_hold(dir, LOCK_FILE) {
        Ok(Some(lock)) => {
            // What a killed sweep or merge was writing: its cell files, sweep.json, results.csv.
            let cleaned =
                crate::output::remove_stale_temps(dir, |n| n == "sweep.json" || n == "results.csv")
                    .and_then(|()| crate::output::remove_stale_temps(&dir.join("cells"), |_| true));
            cleaned.map_err(|e| format!("{}: {e}", dir.display()))?;
            Ok(lock)
        }
        Ok(None) => Err(format!(
            "{}: another sweep is running there (or a merge into it): wait for it to end, or \
             {elsewhere}",
            dir.display()
        )),
        Err(e) => Err(format!("{}: cannot lock: {e}", dir.join(LOCK_FILE).display())),
    }
}

/// Checks that `dir` may take the cells of the sweep `info` describes: its `sweep.json` is that
/// sweep's, or it has none (or none that can be read) and no cells either. `elsewhere` says where
/// else to write otherwise.
fn claim(dir: &Path, info: &SweepInfo, elsewhere: &str) -> Result<(), String> {
    let remedy = format!("{elsewhere}, or remove the directory to start over");
    match read_info(dir) {
        Ok(old) if old.fingerprint == info.fingerprint => Ok(()),
        Ok(old) => Err(format!(
            "{} holds the cells of another sweep ({}) or of this one before an edit: {remedy}",
            dir.display(),
            old.name
        )),
        Err(_) if finished_cells(dir)?.is_empty() => Ok(()),
        Err(e) => {
            Err(format!("{} holds cells but no valid sweep.json ({e}): {remedy}", dir.display()))
        }
    }
}

/// Runs `cells` of `sweep` not yet finished in `dir` on `threads` threads, calling `done` after
/// each; returns how many ran: [`SweepDir::open`], then [`SweepDir::run`].
pub fn run(
    sweep: &Sweep,
    dir: &Path,
    cells: &[usize],
    threads: usize,
    keep: bool,
    done: &(dyn Fn() + Sync),
) -> Result<usize, String> {
    SweepDir::open(dir, sweep)?.run(sweep, cells, threads, keep, done)
}

/// Where a cell's kept `payments.csv`, `attempts.csv` and `series.csv` go:
/// `cells/NNNNNN.payments.csv`, `.attempts.csv` and `.series.csv` beside its cell file.
pub fn kept_paths(dir: &Path, cell: usize) -> [PathBuf; 3] {
    let cells = dir.join("cells");
    ["payments", "attempts", "series"].map(|kind| cells.join(format!("{cell:06}.{kind}.csv")))
}

/// The cell files in `dir`, by index: the files of `cells/` named as [`cell_path`] names them.
pub fn finished_cells(dir: &Path) -> Result<Vec<usize>, String> {
    let cells = dir.join("cells");
    let entries = match std::fs::read_dir(&cells) {
        Ok(entries) => entries,
        Err(_) => return Ok(Vec::new()),
    };
    let mut found: Vec<usize> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let cell: usize = name.strip_suffix(".csv")?.parse().ok()?;
            (name == format!("{cell:06}.csv")).then_some(cell)
        })
        .collect();
    found.sort_unstable();
    Ok(found)
}

/// Reads cell file `path`, which must hold cell `cell` of the sweep `info` describes: its comment
/// lines name the sweep's fingerprint, the cell and its values, its columns are the sweep's and
/// its rows are all of that cell, seed and values. Returns the file's bytes and its rows. Errors
/// are one line naming the file.
fn read_cell(
    path: &Path,
    info: &SweepInfo,
    cell: usize,
) -> Result<(Vec<u8>, SweepResults), String> {
    let refuse = |why: String| {
        format!(
            "{}: {why}; remove the file to run its cell again, or the sweep's directory to start \
             over",
            path.display()
        )
    };
    if cell >= info.cells {
        return Err(refuse(format!("cell {cell} is not in the grid of {} cells", info.cells)));
    }
    let text = crate::input::read_file(path).map_err(|e| refuse(e.message))?;
    let header: BTreeMap<&str, &str> = text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("# ")?.split_once(": "))
        .collect();
    let field = |key: &str| header.get(key).copied();
    let labels = info.labels(cell).join(", ");
    match field("fingerprint") {
        None => {
            return Err(refuse(
                "no sweep fingerprint in its first lines (garbled, or not written by this \
                 version of boltsim)"
                    .into(),
            ));
        }
        Some(f) if f != info.fingerprint => {
            let name = field("sweep").unwrap_or("unnamed");
            return Err(refuse(format!(
                "a cell of another sweep ({name}) or of this one before an edit, not of {}",
                info.name
            )));
        }
        Some(_) => {}
    }
    if field("cell") != Some(cell.to_string().as_str()) {
        let other = field("cell").unwrap_or("none");
        return Err(refuse(format!("it says it holds cell {other}, not cell {cell}")));
    }
    if field("params") != Some(labels.as_str()) {
        let other = field("params").unwrap_or("none");
        return Err(refuse(format!("it says its values are {other}, not {labels}")));
    }
    let results = SweepResults::from_csv(&text)
        .map_err(|(line, m)| format!("{}:{line}: {m}", path.display()))?;
    let params = param_columns(info.axes.iter().map(|(column, _)| column.as_str()));
    if results.params != params {
        return Err(refuse(format!(
            "its columns are {}, not {}",
            results.params.join(","),
            params.join(",")
        )));
    }
    let (values, seed) = info.values(cell);
    let foreign = results.rows.iter().find(|row| {
        row.cell as usize != cell
            || row.seed != seed
            || row.params.iter().zip(&values).any(|(a, b)| a != b)
    });
    if let Some(row) = foreign {
        return Err(refuse(format!(
            "a row of cell {} (seed {}, {}) in the file of cell {cell} ({labels})",
            row.cell,
            row.seed,
            row.params.join(", ")
        )));
    }
    Ok((text.into_bytes(), results))
}

/// Reads `sweep.json` of a sweep directory. Its cell count must be what its axes and seeds make
/// and at most [`MAX_CELLS`], since merging sizes its work by it.
pub fn read_info(dir: &Path) -> Result<SweepInfo, String> {
    let path = dir.join("sweep.json");
    let text = crate::input::read_file(&path).map_err(|e| e.to_string())?;
    let info: SweepInfo = serde_json::from_str(&text).map_err(|e| {
        let (position, message) = crate::input::json_error(text.as_bytes(), &e, "not sweep.json");
        ScenarioError { file: path.display().to_string(), position, message }.to_string()
    })?;
    let grid = grid_cells(info.axes.iter().map(|(_, values)| values.len()), info.seeds.len());
    if grid == Some(info.cells) && info.cells <= MAX_CELLS {
        return Ok(info);
    }
    use crate::import::locate::{Step, position};
    let at = position(text.as_bytes(), &[Step::Key("cells")])
        .map_or(String::new(), |(line, column)| format!(":{line}:{column}"));
    let sizes: Vec<String> = info
        .axes
        .iter()
        .map(|(column, values)| format!("{} {column}", values.len()))
        .chain([format!("{} seeds", info.seeds.len())])
        .collect();
    Err(match grid {
        Some(n) if n <= MAX_CELLS => format!(
            "{}{at}: \"cells\": {} is not the {n} cells of its grid ({})",
            path.display(),
            info.cells,
            sizes.join(" x ")
        ),
        _ => format!(
            "{}{at}: \"cells\": {}: a grid of {} has more than {MAX_CELLS} cells",
            path.display(),
            info.cells,
            sizes.join(" x ")
        ),
    })
}

/// Every finished cell of the `dirs` (the same sweep, sharded or not), into `out`: the cell
/// files, `sweep.json` and `results.csv` with every row in cell order. Returns the results and
/// the cells missing from the grid. `out` is locked while it is written (refused at once if a
/// sweep or merge holds it) and must hold nothing of another sweep; every cell file gathered is
/// checked to be the cell of this sweep its name says, else the merge is refused naming it.
pub fn merge(out: &Path, dirs: &[PathBuf]) -> Result<(SweepResults, Vec<usize>), String> {
    let _lock = lock(out, MERGE_ELSEWHERE)?;
    merge_into(out, dirs, MERGE_ELSEWHERE)
}

/// [`merge`] into `out`, whose lock the caller holds; `elsewhere` says where else to write when
/// `out` holds another sweep.
fn merge_into(
    out: &Path,
    dirs: &[PathBuf],
    elsewhere: &str,
) -> Result<(SweepResults, Vec<usize>), String> {
    let mut info: Option<SweepInfo> = None;
    // Every cell file, by cell then directory: the first directory's copy of a cell is kept.
    let mut files: Vec<(usize, PathBuf)> = Vec::new();
    for dir in dirs {
        let this = read_info(dir)?;
        if info.as_ref().is_some_and(|i| *i != this) {
            return Err(format!("{}: a different sweep from the first directory", dir.display()));
        }
        info = Some(this);
        files.extend(finished_cells(dir)?.into_iter().map(|c| (c, cell_path(dir, c))));
    }
    let info = info.ok_or("no sweep directory given")?;
    claim(out, &info, elsewhere)?;
    files.sort_by_key(|(cell, _)| *cell);
    // Every file is checked before anything is written: a refused merge writes nothing.
    let mut gathered: Vec<(usize, &PathBuf, Vec<u8>, SweepResults)> = Vec::new();
    for (cell, path) in &files {
        let (bytes, results) = read_cell(path, &info, *cell)?;
        if gathered.last().is_none_or(|(last, ..)| last != cell) {
            gathered.push((*cell, path, bytes, results));
        }
    }
    // sweep.json first, so that a merge cut short leaves cells that the directory names.
    let json = serde_json::to_string_pretty(&info).expect("invariant: plain data serializes");
    write_atomic(&out.join("sweep.json"), format!("{json}\n").as_bytes())
        .map_err(|e| format!("{}: {e}", out.display()))?;
    let mut all = SweepResults {
        params: param_columns(info.axes.iter().map(|(column, _)| column.as_str())),
        rows: Vec::new(),
        markers: Vec::new(),
    };
    let mut cells: Vec<usize> = Vec::new();
    for (cell, path, bytes, results) in gathered {
        let target = cell_path(out, cell);
        if target != *path {
            write_atomic(&target, &bytes).map_err(|e| format!("{}: {e}", target.display()))?;
        }
        all.rows.extend(results.rows);
        all.markers.extend(results.markers);
        cells.push(cell);
    }
    let path = out.join("results.csv");
    write_atomic(&path, all.to_csv().as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    let missing = (0..info.cells).filter(|c| cells.binary_search(c).is_err()).collect();
    Ok((all, missing))
}

/// What to say of the cells [`merge`] found `missing`, if any: how many, and the first ten.
pub fn missing_note(missing: &[usize]) -> Option<String> {
    if missing.is_empty() {
        return None;
    }
    let first: Vec<String> = missing.iter().take(10).map(|c| c.to_string()).collect();
    Some(format!(
        "{} cells not run yet (first: {}); run their shards and merge again",
        missing.len(),
        first.join(", ")
    ))
}

/// What [`write_report`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportSummary {
    /// How many files.
    pub files: usize,
    /// The report's page.
    pub index: PathBuf,
}

/// Draws the charts of the results at `results` (a sweep directory, or its `results.csv`; or a run's
/// directory, or a `series.csv`, for its time series) into `out` (default: `report/` beside the
/// results), each file atomically. The title and the list
/// of parameters come from the directory's `sweep.json`, if it has one. Errors are one line,
/// naming the file.
pub fn write_report(
    results: &Path,
    out: Option<&Path>,
    options: &reports::report::ReportOptions,
) -> Result<ReportSummary, String> {
    // A run's directory (or its series.csv, or a sweep cell's kept NNNNNN.series.csv): the charts
    // of its time series.
    let series_file = if results.is_dir() && !results.join("results.csv").exists() {
        Some(results.join(crate::SERIES_FILE))
    } else if results.to_string_lossy().ends_with("series.csv") {
        Some(results.to_path_buf())
    } else {
        None
    };
    if results.is_dir()
        && !results.join("results.csv").exists()
        && results.join("sweep.json").exists()
    {
        return Err(format!(
            "{}: a sweep directory without results.csv: gather its cells with boltsim merge first",
            results.display()
        ));
    }
    if let Some(series_path) = series_file {
        let dir = series_path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let series = crate::input::read_file(&series_path).map_err(|e| e.to_string())?;
        let channels_path = dir.join(crate::OUTPUT_FILES[4]);
        let channels = if series_path.file_name() == Some(std::ffi::OsStr::new(crate::SERIES_FILE))
            && channels_path.exists()
        {
            Some(crate::input::read_file(&channels_path).map_err(|e| e.to_string())?)
        } else {
            None
        };
        let title = format!("boltsim run: {}", series_path.display());
        let files = reports::series::report(&series, channels.as_deref(), &title).map_err(
            |(file, line, m)| {
                let path = if file == 0 { &series_path } else { &channels_path };
                format!("{}:{line}: {m}", path.display())
            },
        )?;
        let out = out.map_or_else(|| dir.join("report"), Path::to_path_buf);
        std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
        for (name, bytes) in &files {
            let path = out.join(name);
            write_atomic(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        return Ok(ReportSummary { files: files.len(), index: out.join("index.html") });
    }
    let (dir, csv) = if results.is_dir() {
        (results.to_path_buf(), results.join("results.csv"))
    } else {
        (results.parent().unwrap_or(Path::new(".")).to_path_buf(), results.to_path_buf())
    };
    let text = crate::input::read_file(&csv).map_err(|e| e.to_string())?;
    let data = SweepResults::from_csv(&text)
        .map_err(|(line, m)| format!("{}:{line}: {m}", csv.display()))?;
    let (title, about) = match read_info(&dir) {
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
    let files = reports::report::report(&data, &title, &about, options)?;
    let out = out.map_or_else(|| dir.join("report"), Path::to_path_buf);
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    for (name, bytes) in &files {
        let path = out.join(name);
        write_atomic(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(ReportSummary { files: files.len(), index: out.join("index.html") })
}
