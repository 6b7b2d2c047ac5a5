//! The results file of a sweep, `results.csv`: one row per payment of every cell, with the cell's
//! index, its seed and its parameters, then the payment. The header names the parameters, so a
//! notebook reads the file as is:
//!
//! ```text
//! cell,seed,router,amount_sat,amount_msat,succeeded,fee_msat,latency_us,attempts,start_us
//! 0,1,cheapest,1000,1000000,1,12,600000,1,1510
//! ```
//!
//! Parameters are the columns between `seed` and `amount_msat`; their values are text (a router
//! label, an amount). `latency_us` is empty for payments that did not end. A file may start with
//! comment lines (`#`) before the header, which [`SweepResults::from_csv`] skips: a sweep's cell
//! files say there which sweep and cell they hold; `results.csv` has none. This module reads and
//! writes the format; it does not know what the parameters or the comments mean.

use crate::PaymentRow;
use std::fmt::Write as _;

/// The fixed columns after the parameters.
const PAYMENT_COLUMNS: [&str; 6] =
    ["amount_msat", "succeeded", "fee_msat", "latency_us", "attempts", "start_us"];

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
    /// Whether the payment ended (succeeded or failed) before the run did.
    pub ended: bool,
}

/// All rows of a sweep (or of some of its cells).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepResults {
    /// The parameter names.
    pub params: Vec<String>,
    /// The rows, by cell then payment.
    pub rows: Vec<SweepRow>,
}

impl SweepResults {
    /// The CSV text, header first.
    pub fn to_csv(&self) -> String {
        let mut s = String::from("cell,seed");
        for p in &self.params {
            s.push(',');
            s.push_str(p);
        }
        for c in PAYMENT_COLUMNS {
            s.push(',');
            s.push_str(c);
        }
        s.push('\n');
        for row in &self.rows {
            let _ = write!(s, "{},{}", row.cell, row.seed);
            for v in &row.params {
                s.push(',');
                s.push_str(v);
            }
            let p = &row.payment;
            let latency = if row.ended { p.latency_us.to_string() } else { String::new() };
            let _ = writeln!(
                s,
                ",{},{},{},{latency},{},{}",
                p.amount_msat,
                u8::from(p.succeeded),
                p.fee_msat,
                p.attempts,
                p.start_us
            );
        }
        s
    }

    /// Parses the CSV text, after any comment lines (`#`) before the header; errors are (line,
    /// message), the line counted from the top of the text.
    pub fn from_csv(text: &str) -> Result<SweepResults, (usize, String)> {
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
        if n < 2 + PAYMENT_COLUMNS.len()
            || header[..2] != ["cell", "seed"]
            || header[n - PAYMENT_COLUMNS.len()..] != PAYMENT_COLUMNS
        {
            return Err((
                header_line,
                format!(
                    "not a sweep results file: the header must be cell,seed,PARAMS...,{}",
                    PAYMENT_COLUMNS.join(",")
                ),
            ));
        }
        let params: Vec<String> =
            header[2..n - PAYMENT_COLUMNS.len()].iter().map(|s| s.to_string()).collect();
        let mut rows = Vec::new();
        for (line, text) in lines.filter(|(_, l)| !l.is_empty()) {
            let fields: Vec<&str> = text.split(',').collect();
            if fields.len() != n {
                return Err((line, format!("{} fields where the header has {n}", fields.len())));
            }
            let int = |i: usize| -> Result<u64, (usize, String)> {
                fields[i].parse().map_err(|_| {
                    (line, format!("{} {:?} is not a whole number", header[i], fields[i]))
                })
            };
            let k = n - PAYMENT_COLUMNS.len();
            let ended = !fields[k + 3].is_empty();
            rows.push(SweepRow {
                cell: u32::try_from(int(0)?).map_err(|_| (line, "cell above 2^32".to_string()))?,
                seed: int(1)?,
                params: fields[2..k].iter().map(|s| s.to_string()).collect(),
                payment: PaymentRow {
                    amount_msat: int(k)?,
                    succeeded: match fields[k + 1] {
                        "1" => true,
                        "0" => false,
                        other => return Err((line, format!("succeeded {other:?} is not 0 or 1"))),
                    },
                    fee_msat: int(k + 2)?,
                    latency_us: if ended { int(k + 3)? } else { 0 },
                    attempts: u32::try_from(int(k + 4)?)
                        .map_err(|_| (line, "attempts above 2^32".to_string()))?,
                    start_us: int(k + 5)?,
                },
                ended,
            });
        }
        Ok(SweepResults { params, rows })
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
        let row = |cell, succeeded, ended| SweepRow {
            cell,
            seed: 7,
            params: vec!["lnd_apriori".into(), "1000".into()],
            payment: PaymentRow {
                amount_msat: 1_000_000,
                succeeded,
                fee_msat: if succeeded { 12 } else { 0 },
                latency_us: if ended { 600_000 } else { 0 },
                attempts: 2,
                start_us: 1_510,
            },
            ended,
        };
        let results = SweepResults {
            params: vec!["router".into(), "amount_sat".into()],
            rows: vec![row(0, true, true), row(1, false, false)],
        };
        let text = results.to_csv();
        assert!(text.starts_with("cell,seed,router,amount_sat,amount_msat,succeeded,"));
        assert!(text.contains("\n1,7,lnd_apriori,1000,1000000,0,0,,2,1510\n"), "{text}");
        assert_eq!(SweepResults::from_csv(&text).unwrap(), results);
        assert_eq!(results.param("amount_sat"), Some(1));
        let bad = text.replace("1000000,0,0", "1000000,x,0");
        assert_eq!(SweepResults::from_csv(&bad).unwrap_err().0, 3);
        assert_eq!(SweepResults::from_csv("a,b\n").unwrap_err().0, 1);
        // Comment lines before the header are skipped; lines are still counted from the top.
        let commented = format!("# sweep: tiny\n# cell: 0\n{text}");
        assert_eq!(SweepResults::from_csv(&commented).unwrap(), results);
        let bad = format!("# sweep: tiny\n{bad}");
        assert_eq!(SweepResults::from_csv(&bad).unwrap_err().0, 4);
        assert_eq!(SweepResults::from_csv("# only a comment\n").unwrap_err().0, 2);
    }
}
