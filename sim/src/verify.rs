//! Replaying a scenario against a recorded trace. The recorded file is read as a stream, line by
//! line, while the replay writes its own trace into a comparer, so neither trace is ever held
//! whole in memory. The first line that differs is reported with three lines of context, the
//! seed, and the commands that reproduce it; each shown line is also decoded (kind and field
//! names, node names, message types and failure codes: [`crate::decode`]), a changed scenario text
//! is said, and both traces are read to their ends to count the payments whose outcome, fee or
//! time changed. A recorded trace of another format version or of
//! another scenario is refused before anything runs. The replay uses the seed and level written in
//! the recorded header.
//!
//! Recorded lines are read with bounds: at most [`MAX_TRACE_LINE_BYTES`] each, UTF-8; a longer
//! line or one that is not UTF-8 is an error naming its line. Windows line endings (`\r\n`, as a
//! checkout with `core.autocrlf` writes them) and a byte-order mark before the first line are
//! accepted: the lines are compared without them, so the footer's digest line is still compared
//! with the replay's.

use crate::scenario::Scenario;
use crate::trace::{FORMAT_VERSION, TraceLevel};
use crate::{RunOptions, run};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;
use std::rc::Rc;

/// Lines of context shown around a difference.
pub const CONTEXT_LINES: usize = 3;

/// The longest line a recorded trace may hold, in bytes, its line ending not counted: 1 MiB.
/// The longest event lines boltsim writes are kinds 71 and 73: at most nine integers and one
/// node id per hop of a route (20 hops by default, at most 255 as the hop limit is a `u8`), so at
/// most 264 fields of 20 digits and a space, 5,544 bytes. Header lines carry the scenario's and
/// the nodes' names, which no real scenario makes a megabyte long.
pub const MAX_TRACE_LINE_BYTES: usize = 1 << 20;

/// Why a recorded trace cannot be verified at all.
#[derive(Debug)]
pub enum VerifyError {
    /// The file cannot be read.
    Io {
        /// The file.
        path: String,
        /// The error.
        error: io::Error,
    },
    /// A line of the file cannot be a trace line: longer than [`MAX_TRACE_LINE_BYTES`], or not
    /// UTF-8.
    Line {
        /// The file.
        path: String,
        /// 1-based line number.
        line: u64,
        /// 1-based column (in characters) of the first byte that is not UTF-8, if that is what
        /// is wrong.
        column: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// The file is not a boltsim trace of this format version.
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The trace records another scenario.
    OtherScenario {
        /// The file.
        path: String,
        /// The scenario it records.
        recorded: String,
        /// The scenario given.
        given: String,
    },
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            VerifyError::Io { path, error } => format!("{path}: cannot read: {error}"),
            VerifyError::Line { path, line, column: Some(column), reason } => {
                format!("{path}:{line}:{column}: {reason}")
            }
            VerifyError::Line { path, line, column: None, reason } => {
                format!("{path}:{line}: {reason}")
            }
            VerifyError::Format { path, reason } => format!("{path}: {reason}"),
            VerifyError::OtherScenario { path, recorded, given } => {
                format!("{path}: the trace records scenario {recorded:?}, not {given:?}")
            }
        };
        // What the file said is quoted in the reasons: one line whatever it held.
        f.write_str(&crate::input::one_line(&text))
    }
}

impl std::error::Error for VerifyError {}

/// The first difference between a recorded trace and its replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// 1-based line number in the trace file.
    pub line: u64,
    /// The recorded line (`None`: the recorded trace ended here).
    pub expected: Option<String>,
    /// The replayed line (`None`: the replay ended here).
    pub actual: Option<String>,
    /// The lines just before, identical in both, with their numbers.
    pub before: Vec<(u64, String)>,
    /// The recorded lines that follow.
    pub expected_after: Vec<String>,
    /// The replayed lines that follow.
    pub actual_after: Vec<String>,
    /// The scenario's text changed since the trace was recorded (its digest in the header).
    pub scenario_file_changed: bool,
    /// The node names, by id, to decode lines with.
    pub names: Vec<String>,
    /// What the difference did to the payments, from both traces read to their ends.
    pub impact: Impact,
}

/// How the payments of a replay differ from those of the recorded trace, each side read from its
/// payment lines (kinds 70, 73, 74, 76) to the end, a payment matched by payer, payee, amount
/// and start (ids may shift after a difference).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Impact {
    /// Payments in the recorded trace.
    pub recorded: usize,
    /// Payments in the replay.
    pub replayed: usize,
    /// Payments in both whose outcome (succeeded, failed, refused, unfinished) differs.
    pub outcome_changed: usize,
    /// Payments that succeeded in both, for different fees.
    pub fee_changed: usize,
    /// Payments that ended in both, after different times.
    pub latency_changed: usize,
}

/// What a trace says of each payment: outcome (0 unfinished, 1 succeeded, 2 failed,
/// 3 refused), start, end and fee, keyed by what the payment is (payer, payee, amount, start,
/// and a count among equal ones) rather than by its id, which a difference may shift.
#[derive(Debug, Default)]
struct Ledger {
    payments: std::collections::BTreeMap<PaymentKey, (u8, u64, Option<u64>, u64)>,
    /// The key of each payment id seen started.
    keys: std::collections::BTreeMap<u64, PaymentKey>,
}

/// (payer, payee, amount msat, start µs, index among payments equal in all four).
type PaymentKey = (u64, u64, u64, u64, u32);

impl Ledger {
    fn key(&mut self, id: u64, payer: u64, payee: u64, amount_msat: u64, time: u64) -> PaymentKey {
        let mut key = (payer, payee, amount_msat, time, 0);
        while self.payments.contains_key(&key) {
            key.4 += 1;
        }
        self.keys.insert(id, key);
        key
    }

    fn feed(&mut self, line: &str) {
        let mut fields = line.split(' ').map(|f| f.parse::<u64>());
        let (Some(Ok(time)), Some(Ok(kind))) = (fields.next(), fields.next()) else { return };
        if !matches!(kind, 70 | 73 | 74 | 76) {
            return;
        }
        let values: Vec<u64> = fields.map_while(Result::ok).collect();
        match (kind, values.as_slice()) {
            (70, [payer, id, payee, amount, ..]) => {
                let key = self.key(*id, *payer, *payee, *amount, time);
                self.payments.insert(key, (0, time, None, 0));
            }
            (73, [_, id, _, fee, ..]) => {
                if let Some(p) = self.keys.get(id).and_then(|k| self.payments.get_mut(k)) {
                    (p.0, p.2, p.3) = (1, Some(time), *fee);
                }
            }
            (74, [_, id, ..]) => {
                if let Some(p) = self.keys.get(id).and_then(|k| self.payments.get_mut(k)) {
                    (p.0, p.2) = (2, Some(time));
                }
            }
            (76, [payer, payee, id, amount, ..]) => {
                let key = self.key(*id, *payer, *payee, *amount, time);
                self.payments.insert(key, (3, time, Some(time), 0));
            }
            _ => {}
        }
    }

    fn impact(&self, replay: &Ledger) -> Impact {
        let mut impact = Impact {
            recorded: self.payments.len(),
            replayed: replay.payments.len(),
            ..Impact::default()
        };
        for (id, a) in &self.payments {
            let Some(b) = replay.payments.get(id) else { continue };
            impact.outcome_changed += usize::from(a.0 != b.0);
            impact.fee_changed += usize::from(a.0 == 1 && b.0 == 1 && a.3 != b.3);
            let latency = |p: &(u8, u64, Option<u64>, u64)| p.2.map(|end| end.saturating_sub(p.1));
            impact.latency_changed += usize::from(
                latency(a).is_some() && latency(b).is_some() && latency(a) != latency(b),
            );
        }
        impact
    }
}

/// What verifying found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyOutcome {
    /// The replay wrote the same trace.
    Identical {
        /// Lines compared.
        lines: u64,
        /// The recorded file's scenario digest differed from the scenario's (only its text
        /// changed, not its behaviour).
        scenario_file_changed: bool,
        /// The recorded file has Windows line endings (`\r\n`), read as `\n`.
        windows_line_endings: bool,
    },
    /// The replay differs.
    Diverged(Divergence),
}

/// What the recorded header says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedHeader {
    /// The scenario's name.
    pub scenario: String,
    /// Hex SHA-256 of the scenario file.
    pub scenario_sha256: String,
    /// The seed.
    pub seed: u64,
    /// The level.
    pub level: TraceLevel,
}

/// Reads the header of the trace at `path`.
pub fn read_header(path: &Path) -> Result<RecordedHeader, VerifyError> {
    let mut lines = TraceLines::open(path)?;
    let shown = lines.path.clone();
    let format = |reason: String| VerifyError::Format { path: shown.clone(), reason };
    let first = lines.next()?.unwrap_or_default();
    let expected_first = format!("# boltsim trace v{FORMAT_VERSION}");
    if first.trim_end() != expected_first {
        return Err(match first.trim_end().strip_prefix("# boltsim trace v") {
            Some(version) => {
                format(format!("trace format v{version}; this boltsim reads v{FORMAT_VERSION}"))
            }
            None => format(format!(
                "not a boltsim trace (no '# boltsim trace v{FORMAT_VERSION}' first line)"
            )),
        });
    }
    let mut field = |name: &str| -> Result<String, VerifyError> {
        let line = lines.next()?.unwrap_or_default();
        let value = line.trim_end().strip_prefix(&format!("# {name} ")).map(str::to_string);
        value.ok_or_else(|| format(format!("header line '# {name} ...' missing")))
    };
    let scenario = field("scenario")?;
    let scenario_sha256 = field("scenario_sha256")?;
    let seed = field("seed")?.parse().map_err(|_| format("the seed is not an integer".into()))?;
    let level = field("level")?;
    let level = TraceLevel::from_name(&level)
        .ok_or_else(|| format(format!("unknown trace level {level:?}")))?;
    Ok(RecordedHeader { scenario, scenario_sha256, seed, level })
}

/// A recorded trace read line by line, with bounds: at most `max_bytes` per line (its line
/// ending not counted), UTF-8; `\r\n` read as `\n`, and a byte-order mark before the first
/// line skipped.
struct TraceLines {
    reader: Box<dyn BufRead>,
    /// The file, as shown in errors.
    path: String,
    /// Lines read so far.
    line: u64,
    max_bytes: usize,
    /// Whether a line ended with `\r\n`.
    windows_line_endings: bool,
}

impl TraceLines {
    fn open(path: &Path) -> Result<TraceLines, VerifyError> {
        let shown = path.display().to_string();
        let file = crate::input::open_regular(path)
            .map_err(|error| VerifyError::Io { path: shown.clone(), error })?;
        Ok(TraceLines {
            reader: Box::new(BufReader::new(file)),
            path: shown,
            line: 0,
            max_bytes: MAX_TRACE_LINE_BYTES,
            windows_line_endings: false,
        })
    }

    /// The next line without its line ending, or `None` at the end of the file.
    fn next(&mut self) -> Result<Option<String>, VerifyError> {
        let number = self.line + 1;
        let mut bytes = Vec::new();
        loop {
            let buffer = match self.reader.fill_buf() {
                Ok(buffer) => buffer,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(VerifyError::Io { path: self.path.clone(), error }),
            };
            if buffer.is_empty() {
                break;
            }
            let (take, ends) = match buffer.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buffer.len(), false),
            };
            // Room for the line and its `\r\n`, and no more.
            if bytes.len() + take > self.max_bytes + 2 {
                return Err(self.too_long(number));
            }
            bytes.extend_from_slice(&buffer[..take]);
            self.reader.consume(take);
            if ends {
                break;
            }
        }
        if bytes.is_empty() {
            return Ok(None);
        }
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
                self.windows_line_endings = true;
            }
        }
        if bytes.len() > self.max_bytes {
            return Err(self.too_long(number));
        }
        if number == 1 && bytes.starts_with(crate::input::BYTE_ORDER_MARK) {
            bytes.drain(..crate::input::BYTE_ORDER_MARK.len());
        }
        let text = crate::input::utf8(&self.path, bytes).map_err(|e| VerifyError::Line {
            path: self.path.clone(),
            line: number,
            column: e.position.map(|(_, column)| column),
            reason: e.message,
        })?;
        self.line = number;
        Ok(Some(text))
    }

    fn too_long(&self, line: u64) -> VerifyError {
        VerifyError::Line {
            path: self.path.clone(),
            line,
            column: None,
            reason: format!(
                "a line longer than {} bytes, the limit of a trace line: not a boltsim trace",
                self.max_bytes
            ),
        }
    }
}

/// Compares written lines with the lines of a recorded trace, read as they are needed.
struct Comparer {
    recorded: TraceLines,
    pending: Vec<u8>,
    line: u64,
    before: VecDeque<(u64, String)>,
    divergence: Option<Divergence>,
    scenario_file_changed: bool,
    /// Why the recorded file could not be read on; nothing more is read from it.
    error: Option<VerifyError>,
    /// The payments of each side, read as the lines go by.
    recorded_ledger: Ledger,
    replayed_ledger: Ledger,
}

impl Comparer {
    fn next_recorded(&mut self) -> Option<String> {
        if self.error.is_some() {
            return None;
        }
        let line = self.recorded.next().unwrap_or_else(|e| {
            self.error = Some(e);
            None
        });
        if let Some(line) = &line {
            self.recorded_ledger.feed(line);
        }
        line
    }

    fn compare(&mut self, actual: String) {
        self.replayed_ledger.feed(&actual);
        if let Some(d) = &mut self.divergence {
            if d.actual_after.len() < CONTEXT_LINES {
                d.actual_after.push(actual);
            }
            return;
        }
        self.line += 1;
        let expected = self.next_recorded();
        let same = match &expected {
            Some(e) if e == &actual => true,
            // A scenario file whose text changed but whose behaviour did not still verifies.
            Some(e)
                if e.starts_with("# scenario_sha256 ")
                    && actual.starts_with("# scenario_sha256 ") =>
            {
                self.scenario_file_changed = true;
                true
            }
            _ => false,
        };
        if same {
            self.before.push_back((self.line, actual));
            if self.before.len() > CONTEXT_LINES {
                self.before.pop_front();
            }
        } else {
            self.diverge(expected, Some(actual));
        }
    }

    fn diverge(&mut self, expected: Option<String>, actual: Option<String>) {
        let mut expected_after = Vec::new();
        if expected.is_some() {
            while expected_after.len() < CONTEXT_LINES {
                match self.next_recorded() {
                    Some(line) => expected_after.push(line),
                    None => break,
                }
            }
        }
        self.divergence = Some(Divergence {
            line: self.line,
            expected,
            actual,
            before: self.before.drain(..).collect(),
            expected_after,
            actual_after: Vec::new(),
            scenario_file_changed: self.scenario_file_changed,
            names: Vec::new(),
            impact: Impact::default(),
        });
    }

    /// The replay ended: the recorded trace must end too. After a difference, the rest of the
    /// recorded trace is read for its payments.
    fn finish(&mut self) {
        if self.divergence.is_none()
            && let Some(extra) = self.next_recorded()
        {
            self.line += 1;
            self.diverge(Some(extra), None);
        }
        if self.divergence.is_some() {
            while self.next_recorded().is_some() {}
            let impact = self.recorded_ledger.impact(&self.replayed_ledger);
            if let Some(d) = self.divergence.as_mut() {
                d.impact = impact;
            }
        }
    }
}

/// A `Write` end for the trace writer that feeds a shared comparer.
struct CompareSink(Rc<RefCell<Comparer>>);

impl Write for CompareSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut c = self.0.borrow_mut();
        c.pending.extend_from_slice(buf);
        while let Some(end) = c.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = c.pending.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            c.compare(text);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Replays `scenario` against the trace recorded at `trace_path`, with the recorded seed and
/// level, on `threads` threads (a trace recorded on any number replays on any other).
pub fn verify(
    scenario: &Scenario,
    trace_path: &Path,
    threads: usize,
) -> Result<(VerifyOutcome, RecordedHeader), VerifyError> {
    let header = read_header(trace_path)?;
    let shown = trace_path.display().to_string();
    if header.scenario != scenario.name {
        return Err(VerifyError::OtherScenario {
            path: shown,
            recorded: header.scenario,
            given: scenario.name.clone(),
        });
    }
    let comparer = Rc::new(RefCell::new(Comparer {
        recorded: TraceLines::open(trace_path)?,
        pending: Vec::new(),
        line: 0,
        before: VecDeque::new(),
        divergence: None,
        scenario_file_changed: false,
        error: None,
        recorded_ledger: Ledger::default(),
        replayed_ledger: Ledger::default(),
    }));
    let mut replay = scenario.clone();
    replay.seed = header.seed;
    let options = RunOptions {
        trace: Box::new(CompareSink(comparer.clone())),
        level: header.level,
        check: false,
        progress: None,
        threads,
    };
    run(&replay, options).map_err(|error| VerifyError::Io { path: shown.clone(), error })?;
    let mut c = comparer.borrow_mut();
    c.finish();
    if let Some(error) = c.error.take() {
        return Err(error);
    }
    let outcome = match c.divergence.take() {
        Some(mut d) => {
            d.names = scenario.nodes.iter().map(|n| n.name.clone()).collect();
            VerifyOutcome::Diverged(d)
        }
        None => VerifyOutcome::Identical {
            lines: c.line,
            scenario_file_changed: c.scenario_file_changed,
            windows_line_endings: c.recorded.windows_line_endings,
        },
    };
    Ok((outcome, header))
}

impl VerifyOutcome {
    /// What `boltsim verify` prints: one line for an identical replay, else the divergence's
    /// [`report`](Divergence::report).
    pub fn report(&self, scenario_path: &str, trace_path: &str, header: &RecordedHeader) -> String {
        match self {
            VerifyOutcome::Identical { lines, scenario_file_changed, windows_line_endings } => {
                let note = match (*scenario_file_changed, *windows_line_endings) {
                    (false, false) => "",
                    (true, false) => " (the scenario's text changed, its behaviour did not)",
                    (false, true) => " (read with Windows line endings)",
                    (true, true) => {
                        " (read with Windows line endings; the scenario's text changed, its \
                         behaviour did not)"
                    }
                };
                format!(
                    "{trace_path}: identical, {lines} lines (seed {}, level {}){note}\n",
                    header.seed,
                    header.level.name()
                )
            }
            VerifyOutcome::Diverged(d) => d.report(scenario_path, trace_path, header),
        }
    }
}

impl Divergence {
    /// The report printed by `boltsim verify`: the first differing line with context, the seed,
    /// and the commands that reproduce it.
    pub fn report(&self, scenario_path: &str, trace_path: &str, header: &RecordedHeader) -> String {
        let mut s = format!(
            "{trace_path}: the replay of {scenario_path} (seed {}, level {}) differs at line {}:\n",
            header.seed,
            header.level.name(),
            self.line
        );
        if self.scenario_file_changed {
            s.push_str(
                "note: the scenario's text changed since the trace was recorded (its digest \
                 differs); the difference below is what the change did\n",
            );
        }
        let decoded = |line: &str| -> String {
            crate::decode::describe(line, &self.names)
                .map(|d| format!("  {:>7}    = {d}\n", ""))
                .unwrap_or_default()
        };
        for (n, line) in &self.before {
            s.push_str(&format!("  {n:>7}  {line}\n"));
            s.push_str(&decoded(line));
        }
        let end = "<end of trace>".to_string();
        let expected = self.expected.as_ref().unwrap_or(&end);
        let actual = self.actual.as_ref().unwrap_or(&end);
        s.push_str(&format!("- {:>7}  {expected}\n", self.line));
        s.push_str(&decoded(expected));
        s.push_str(&format!("+ {:>7}  {actual}\n", self.line));
        s.push_str(&decoded(actual));
        if !self.expected_after.is_empty() {
            s.push_str("  recorded goes on:\n");
            for (i, line) in self.expected_after.iter().enumerate() {
                s.push_str(&format!("- {:>7}  {line}\n", self.line + 1 + i as u64));
            }
        }
        if !self.actual_after.is_empty() {
            s.push_str("  replay goes on:\n");
            for (i, line) in self.actual_after.iter().enumerate() {
                s.push_str(&format!("+ {:>7}  {line}\n", self.line + 1 + i as u64));
            }
        }
        let i = &self.impact;
        s.push_str(&format!(
            "impact, both traces read to their ends: {} payments recorded, {} replayed; of those in both, {} changed outcome, {} succeeded in both for a different fee, {} took a different time\n",
            i.recorded, i.replayed, i.outcome_changed, i.fee_changed, i.latency_changed
        ));
        s.push_str(&format!(
            "reproduce: boltsim verify {scenario_path} {trace_path}\n   or see the whole replay: boltsim run {scenario_path} --seed {} --trace-level {} --out out/replay && diff {trace_path} out/replay/trace.txt\n",
            header.seed,
            header.level.name()
        ));
        s
    }
}
