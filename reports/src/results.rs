//! The results file of a sweep, `results.csv`: one row per payment asked for in every cell (those
//! refused before they started included, with outcome `refused`), with the cell's index, its
//! seed and its parameters, then the payment. The header names the parameters, so a notebook
//! reads the file as is:
//!
//! ```text
//! cell,seed,router,amount_sat,id,sender,receiver,sender_pubkey,sender_alias,receiver_pubkey,receiver_alias,amount_msat,outcome,failure_reason,failure_code,succeeded,fee_msat,latency_us,attempts,rounds,parts,hops,first_try,success_round,start_us,feasibility
//! 0,1,cheapest,1000,0,n12,n40,,,,,1000000,succeeded,,,1,12,600000,1,1,1,3,1,1,1510,
//! ```
//!
//! Parameters are the columns between `seed` and `id`; their values are text (a router label, an
//! amount). `latency_us` is empty for payments that did not end; `succeeded` and `first_try` are
//! 0 or 1, derived from `outcome` and `success_round` for the reader's convenience. Aliases are
//! quoted when they hold a comma or a quote ([`crate::csv_field`]). A file may start with comment
//! lines (`#`) before the header, which [`SweepResults::from_csv`] skips: a sweep's cell files
//! say there which sweep and cell they hold; `results.csv` has none. This module reads and writes
//! the format; it does not know what the parameters or the comments mean.

use crate::{PaymentRow, csv_field, csv_split};
use std::fmt::Write as _;

/// The fixed columns after the parameters.
pub const PAYMENT_COLUMNS: [&str; 22] = [
    "id",
    "sender",
    "receiver",
    "sender_pubkey",
    "sender_alias",
    "receiver_pubkey",
    "receiver_alias",
    "amount_msat",
    "outcome",
    "failure_reason",
    "failure_code",
    "succeeded",
    "fee_msat",
    "latency_us",
    "attempts",
    "rounds",
    "parts",
    "hops",
    "first_try",
    "success_round",
    "start_us",
    "feasibility",
];

/// One payment of one cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepRow {
    /// The cell's index in the sweep's grid order.
    pub cell: u32,
    /// The cell's seed.
    pub seed: u64,
    /// The cell's parameter values, in the order of [`SweepResults::params`].
    pub params: Vec<String>,
    /// The payment.
    pub payment: PaymentRow,
}

/// Something that happened to a cell's network at an instant: a fault, drawn on time charts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    /// The cell.
    pub cell: u32,
    /// When, µs of simulated time.
    pub time_us: u64,
    /// What (`crash n0`), no line break.
    pub label: String,
}

/// All rows of a sweep (or of some of its cells).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepResults {
    /// The parameter names.
    pub params: Vec<String>,
    /// The rows, by cell then payment.
    pub rows: Vec<SweepRow>,
    /// The faults of the cells, by cell then time: comment lines `# fault: CELL TIME_US LABEL`
    /// before the header.
    pub markers: Vec<Marker>,
}

/// The outcomes a row may have.
const OUTCOMES: [&str; 4] = ["succeeded", "failed", "refused", "pending"];

impl SweepResults {
    /// The CSV text, header first.
    pub fn to_csv(&self) -> String {
        let mut s = String::new();
        for m in &self.markers {
            let _ = writeln!(
                s,
                "# fault: {} {} {}",
                m.cell,
                m.time_us,
                m.label.replace(['\n', '\r'], " ")
            );
        }
        s.push_str("cell,seed");
        for p in &self.params {
            s.push(',');
            s.push_str(p);
        }
        for c in PAYMENT_COLUMNS {
            s.push(',');
            s.push_str(c);
        }
        s.push('\n');
        let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        for row in &self.rows {
            let _ = write!(s, "{},{}", row.cell, row.seed);
            for v in &row.params {
                s.push(',');
                s.push_str(v);
            }
            let p = &row.payment;
            let _ = writeln!(
                s,
                ",{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                p.id,
                csv_field(&p.sender),
                csv_field(&p.receiver),
                csv_field(&p.sender_pubkey),
                csv_field(&p.sender_alias),
                csv_field(&p.receiver_pubkey),
                csv_field(&p.receiver_alias),
                p.amount_msat,
                p.outcome,
                p.failure_reason,
                opt(p.failure_code.map(u64::from)),
                u8::from(p.succeeded()),
                p.fee_msat,
                opt(p.latency_us),
                p.attempts,
                p.rounds,
                p.parts,
                p.hops,
                u8::from(p.first_try()),
                opt(p.success_round.map(u64::from)),
                p.start_us,
                p.feasibility,
            );
        }
        s
    }

    /// Parses the CSV text, after any comment lines (`#`) before the header; errors are (line,
    /// message), the line counted from the top of the text.
    pub fn from_csv(text: &str) -> Result<SweepResults, (usize, String)> {
        let mut markers = Vec::new();
        for (i, line) in text.lines().enumerate().take_while(|(_, l)| l.starts_with('#')) {
            let Some(rest) = line.trim_end_matches('\r').strip_prefix("# fault: ") else {
                continue;
            };
            let mut parts = rest.splitn(3, ' ');
            let (cell, time, label) = (parts.next(), parts.next(), parts.next());
            let parsed = cell.and_then(|c| c.parse().ok()).zip(time.and_then(|t| t.parse().ok()));
            let Some((cell, time_us)) = parsed else {
                return Err((i + 1, "a fault line must be '# fault: CELL TIME_US LABEL'".into()));
            };
            markers.push(Marker { cell, time_us, label: label.unwrap_or("").to_string() });
        }
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
            .skip_while(|(_, l)| l.starts_with('#'));
        let (header_line, header): (usize, Vec<&str>) = lines
            .next()
            .map(|(i, l)| (i, l.split(',').collect()))
            .unwrap_or((text.lines().count() + 1, Vec::new()));
        let n = header.len();
        let k = n.saturating_sub(PAYMENT_COLUMNS.len());
        if n < 2 + PAYMENT_COLUMNS.len()
            || header[..2] != ["cell", "seed"]
            || header[k..] != PAYMENT_COLUMNS
        {
            return Err((
                header_line,
                format!(
                    "not a sweep results file of this version: the header must be cell,seed,PARAMS...,{}",
                    PAYMENT_COLUMNS.join(",")
                ),
            ));
        }
        let params: Vec<String> = header[2..k].iter().map(|s| s.to_string()).collect();
        let mut rows = Vec::new();
        for (line, text) in lines.filter(|(_, l)| !l.is_empty()) {
            let fields =
                csv_split(text).ok_or((line, "a quoted field is not closed".to_string()))?;
            if fields.len() != n {
                return Err((line, format!("{} fields where the header has {n}", fields.len())));
            }
            let int = |i: usize| -> Result<u64, (usize, String)> {
                fields[i].parse().map_err(|_| {
                    (line, format!("{} {:?} is not a whole number", header[i], fields[i]))
                })
            };
            let opt = |i: usize| -> Result<Option<u64>, (usize, String)> {
                if fields[i].is_empty() { Ok(None) } else { int(i).map(Some) }
            };
            let small = |i: usize| -> Result<u32, (usize, String)> {
                u32::try_from(int(i)?).map_err(|_| (line, format!("{} above 2^32", header[i])))
            };
            let outcome = fields[k + 8].clone();
            if !OUTCOMES.contains(&outcome.as_str()) {
                return Err((
                    line,
                    format!("outcome {outcome:?} is not one of {}", OUTCOMES.join(", ")),
                ));
            }
            let failure_code = match opt(k + 10)? {
                Some(code) => Some(
                    u16::try_from(code)
                        .map_err(|_| (line, "failure_code above 65535".to_string()))?,
                ),
                None => None,
            };
            let success_round = match opt(k + 19)? {
                Some(r) => Some(
                    u32::try_from(r).map_err(|_| (line, "success_round above 2^32".to_string()))?,
                ),
                None => None,
            };
            rows.push(SweepRow {
                cell: small(0)?,
                seed: int(1)?,
                params: fields[2..k].to_vec(),
                payment: PaymentRow {
                    id: int(k)?,
                    sender: fields[k + 1].clone(),
                    receiver: fields[k + 2].clone(),
                    sender_pubkey: fields[k + 3].clone(),
                    sender_alias: fields[k + 4].clone(),
                    receiver_pubkey: fields[k + 5].clone(),
                    receiver_alias: fields[k + 6].clone(),
                    amount_msat: int(k + 7)?,
                    outcome,
                    failure_reason: fields[k + 9].clone(),
                    failure_code,
                    fee_msat: int(k + 12)?,
                    latency_us: opt(k + 13)?,
                    attempts: small(k + 14)?,
                    rounds: small(k + 15)?,
                    parts: small(k + 16)?,
                    hops: small(k + 17)?,
                    success_round,
                    start_us: int(k + 20)?,
                    feasibility: fields[k + 21].clone(),
                },
            });
        }
        Ok(SweepResults { params, rows, markers })
    }

    /// The index of parameter `name`.
    pub fn param(&self, name: &str) -> Option<usize> {
        self.params.iter().position(|p| p == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_survive_a_round_trip() {
        let row = |cell: u32, outcome: &str, ended: bool| SweepRow {
            cell,
            seed: 7,
            params: vec!["lnd_apriori".into(), "1000".into()],
            payment: PaymentRow {
                id: u64::from(cell),
                sender: "n1".into(),
                receiver: "n2".into(),
                sender_pubkey: "02aa".into(),
                sender_alias: "Shop, \"the\" best".into(),
                amount_msat: 1_000_000,
                outcome: outcome.into(),
                failure_reason: if outcome == "failed" { "no_route".into() } else { String::new() },
                failure_code: (outcome == "failed").then_some(4103),
                fee_msat: if outcome == "succeeded" { 12 } else { 0 },
                latency_us: ended.then_some(600_000),
                attempts: 2,
                rounds: 2,
                parts: u32::from(outcome == "succeeded"),
                hops: 3,
                success_round: (outcome == "succeeded").then_some(2),
                start_us: 1_510,
                feasibility: "feasible".into(),
                ..PaymentRow::default()
            },
        };
        let results = SweepResults {
            params: vec!["router".into(), "amount_sat".into()],
            rows: vec![row(0, "succeeded", true), row(1, "failed", false)],
            markers: vec![Marker { cell: 1, time_us: 1_200_000_000, label: "crash n0".into() }],
        };
        let text = results.to_csv();
        assert!(
            text.starts_with("# fault: 1 1200000000 crash n0\ncell,seed,router,amount_sat,id,")
        );
        assert!(
            text.contains(
                "\n1,7,lnd_apriori,1000,1,n1,n2,02aa,\"Shop, \"\"the\"\" best\",,,1000000,failed,no_route,4103,0,0,,2,2,0,3,0,,1510,feasible\n"
            ),
            "{text}"
        );
        assert_eq!(SweepResults::from_csv(&text).unwrap(), results);
        assert_eq!(results.param("amount_sat"), Some(1));
        let bad = text.replace("1000000,failed", "1000000,lost");
        assert_eq!(SweepResults::from_csv(&bad).unwrap_err().0, 4);
        let bad = text.replace("failed,no_route,4103", "failed,no_route,x");
        assert_eq!(SweepResults::from_csv(&bad).unwrap_err().0, 4);
        assert_eq!(SweepResults::from_csv("a,b\n").unwrap_err().0, 1);
        // Comment lines before the header are skipped; lines are still counted from the top.
        let commented = format!("# sweep: tiny\n# cell: 0\n{text}");
        assert_eq!(SweepResults::from_csv(&commented).unwrap(), results);
        let bad = format!("# sweep: tiny\n{bad}");
        assert_eq!(SweepResults::from_csv(&bad).unwrap_err().0, 5);
        assert_eq!(SweepResults::from_csv("# only a comment\n").unwrap_err().0, 2);
    }
}
