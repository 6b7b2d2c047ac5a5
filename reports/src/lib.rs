//! reports: analysis of plain result records, for the charts researchers publish. It defines its
//! own record types ([`PaymentRow`], [`results::SweepResults`]) and depends on no crate of the
//! workspace: the simulator turns its results into rows, and this crate never runs a
//! simulation. Here: the statistics (success rates with the Wilson score interval, the t interval
//! of per-seed means, fees in ppm); [`results`]: the sweep results file; [`charts`]: PNG and SVG
//! drawing with an embedded font; [`report`]: the charts of a sweep and their `index.html`;
//! [`series`]: the charts of one run's time series.
//! Identical results give byte-identical files: nothing here reads a clock or hash order.

#![deny(missing_docs)]

pub mod charts;
pub mod report;
pub mod results;
pub mod series;

/// One payment, as the reports see it: every column of a sweep's `results.csv` after the cell's
/// parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PaymentRow {
    /// Its id within its run (the `id` of that run's `payments.csv`).
    pub id: u64,
    /// The payer's name.
    pub sender: String,
    /// The payee's name.
    pub receiver: String,
    /// The payer's public key, for an imported node (CLoTH: its id); else empty.
    pub sender_pubkey: String,
    /// The payer's alias, for an imported node; else empty.
    pub sender_alias: String,
    /// The payee's public key, for an imported node; else empty.
    pub receiver_pubkey: String,
    /// The payee's alias, for an imported node; else empty.
    pub receiver_alias: String,
    /// What the payee was to receive, msat.
    pub amount_msat: u64,
    /// `succeeded`, `failed`, `refused` (never started) or `pending`.
    pub outcome: String,
    /// Why it failed or was refused (empty otherwise).
    pub failure_reason: String,
    /// The BOLT 4 code of its last failed attempt, for failed payments.
    pub failure_code: Option<u16>,
    /// The fee paid, msat (0 unless it succeeded).
    pub fee_msat: u64,
    /// Start to end, µs; `None` if it had not ended when the run did.
    pub latency_us: Option<u64>,
    /// Attempts made (each part of a split payment is one).
    pub attempts: u32,
    /// Attempt rounds (the parts sent together are one round).
    pub rounds: u32,
    /// Parts that paid it (0 unless it succeeded).
    pub parts: u32,
    /// Hops of its longest path.
    pub hops: u32,
    /// The round it succeeded on, if it did.
    pub success_round: Option<u32>,
    /// When it started, µs of simulated time.
    pub start_us: u64,
    /// The feasibility oracle's class at its start (empty: the oracle did not run).
    pub feasibility: String,
}

impl PaymentRow {
    /// Whether it succeeded.
    pub fn succeeded(&self) -> bool {
        self.outcome == "succeeded"
    }

    /// Whether it started (a refused payment never did; rates are over started payments).
    pub fn started(&self) -> bool {
        self.outcome != "refused"
    }

    /// Whether it succeeded on its first round.
    pub fn first_try(&self) -> bool {
        self.success_round == Some(1)
    }
}

/// A CSV field: as is, or quoted (with `"` doubled) when it holds a comma, a quote or a line
/// break.
pub fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

/// The fields of one CSV line, quoted fields unquoted ([`csv_field`]'s inverse); `None` when a
/// quote is not closed.
pub fn csv_split(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, ',') => {
                fields.push(std::mem::take(&mut field));
                at_start = true;
                continue;
            }
            (false, '"') if at_start => quoted = true,
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (_, c) => field.push(c),
        }
        at_start = false;
    }
    if quoted {
        return None;
    }
    fields.push(field);
    Some(fields)
}

/// Successes out of trials.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Proportion {
    /// Successes.
    pub successes: u64,
    /// Trials.
    pub trials: u64,
}

impl Proportion {
    /// The share of successes, or `None` without trials.
    pub fn rate(&self) -> Option<f64> {
        (self.trials > 0).then(|| self.successes as f64 / self.trials as f64)
    }

    /// The Wilson score interval at `z` standard scores (1.96 for 95%), or `None` without trials.
    /// It stays inside [0, 1] and behaves at rates of 0 and 1, where the normal interval fails.
    pub fn wilson(&self, z: f64) -> Option<(f64, f64)> {
        let p = self.rate()?;
        let n = self.trials as f64;
        let z2 = z * z;
        let denominator = 1.0 + z2 / n;
        let centre = (p + z2 / (2.0 * n)) / denominator;
        let margin = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
        Some(((centre - margin).max(0.0), (centre + margin).min(1.0)))
    }
}

/// The success rate of the payments of `rows` that started (refused ones never did).
pub fn success_rate<'a>(rows: impl IntoIterator<Item = &'a PaymentRow>) -> Proportion {
    rows.into_iter().filter(|row| row.started()).fold(Proportion::default(), |acc, row| {
        Proportion { successes: acc.successes + u64::from(row.succeeded()), trials: acc.trials + 1 }
    })
}

/// Two-sided 97.5% quantiles of Student's t for 1 to 30 degrees of freedom (the 95% interval).
const T_975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// The mean of `values` and its 95% t interval (`None` with fewer than two values).
pub fn mean_t95(values: &[f64]) -> Option<(f64, f64, f64)> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
    // Past 30 degrees of freedom: the quantiles at 40, 60 and 120, then the normal's.
    let t = T_975.get(n - 2).copied().unwrap_or(match n - 1 {
        31..=40 => 2.021,
        41..=60 => 2.000,
        61..=120 => 1.980,
        _ => 1.960,
    });
    let margin = t * (variance / n as f64).sqrt();
    Some((mean, mean - margin, mean + margin))
}

/// The fee of a succeeded payment in millionths of its amount, or `None`.
pub fn fee_ppm(row: &PaymentRow) -> Option<f64> {
    (row.succeeded() && row.amount_msat > 0)
        .then(|| row.fee_msat as f64 * 1e6 / row.amount_msat as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(outcome: &str) -> PaymentRow {
        PaymentRow {
            amount_msat: 1_000_000,
            outcome: outcome.into(),
            fee_msat: 1_001,
            latency_us: Some(1),
            attempts: 1,
            ..PaymentRow::default()
        }
    }

    #[test]
    fn wilson_interval_matches_the_textbook_value() {
        // 8 of 10 at 95%: [0.4902, 0.9433] (Wilson 1927; Newcombe 1998, table I).
        let (lo, hi) = Proportion { successes: 8, trials: 10 }.wilson(1.96).unwrap();
        assert!((lo - 0.4902).abs() < 1e-4, "{lo}");
        assert!((hi - 0.9433).abs() < 1e-4, "{hi}");
        // All successes: the interval reaches 1 and stays below it from the left.
        let (lo, hi) = Proportion { successes: 10, trials: 10 }.wilson(1.96).unwrap();
        assert_eq!(hi, 1.0);
        assert!((lo - 0.7225).abs() < 1e-4, "{lo}");
        assert_eq!(Proportion::default().wilson(1.96), None);
    }

    #[test]
    fn success_rate_and_fee_ppm_come_from_the_rows() {
        let rows = [row("succeeded"), row("failed"), row("succeeded"), row("succeeded")];
        let rate = success_rate(&rows);
        assert_eq!(rate, Proportion { successes: 3, trials: 4 });
        let with_refused = [row("succeeded"), row("refused")];
        assert_eq!(success_rate(&with_refused), Proportion { successes: 1, trials: 1 });
        assert_eq!(rate.rate(), Some(0.75));
        assert_eq!(fee_ppm(&rows[0]), Some(1001.0));
        assert_eq!(fee_ppm(&rows[1]), None);
    }

    #[test]
    fn csv_fields_survive_commas_quotes_and_empty_values() {
        let fields = ["plain", "a,b", "say \"hi\"", "", "last"];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f).into_owned()).collect();
        let line = line.join(",");
        assert_eq!(line, "plain,\"a,b\",\"say \"\"hi\"\"\",,last");
        assert_eq!(csv_split(&line).unwrap(), fields);
        assert_eq!(csv_split("\"open,"), None);
    }

    #[test]
    fn t_interval_matches_a_hand_computation() {
        // 0.6, 0.8, 1.0: mean 0.8, s = 0.2, t(2) = 4.303, margin 4.303 * 0.2 / sqrt(3) = 0.4969.
        let (mean, lo, hi) = mean_t95(&[0.6, 0.8, 1.0]).unwrap();
        assert!((mean - 0.8).abs() < 1e-12);
        assert!((hi - mean - 0.49687).abs() < 1e-4, "{hi}");
        assert!((mean - lo - 0.49687).abs() < 1e-4, "{lo}");
        assert_eq!(mean_t95(&[0.5]), None);
        let (_, lo, hi) = mean_t95(&[0.5, 0.5, 0.5]).unwrap();
        assert_eq!((lo, hi), (0.5, 0.5), "no spread, no interval");
    }
}
