//! reports: analysis of plain result records, for the charts researchers publish. It defines its
//! own record types ([`PaymentRow`], [`results::SweepResults`]) and depends on no crate of the
//! workspace: the simulator turns its results into rows, and this crate never runs a
//! simulation. Here: the statistics (success rates with the Wilson score interval, the t interval
//! of per-seed means, fees in ppm); [`results`]: the sweep results file; [`charts`]: PNG and SVG
//! drawing with an embedded font; [`report`]: the charts of a sweep and their `index.html`.
//! Identical results give byte-identical files: nothing here reads a clock or hash order.

#![deny(missing_docs)]

pub mod charts;
pub mod report;
pub mod results;

/// One payment, as the reports see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaymentRow {
    /// What the payee was to receive, msat.
    pub amount_msat: u64,
    /// Whether it succeeded.
    pub succeeded: bool,
    /// The fee paid, msat (0 unless it succeeded).
    pub fee_msat: u64,
    /// Start to end, µs.
    pub latency_us: u64,
    /// Attempts made.
    pub attempts: u32,
    /// When it started, µs of simulated time.
    pub start_us: u64,
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

/// The success rate of `rows`.
pub fn success_rate<'a>(rows: impl IntoIterator<Item = &'a PaymentRow>) -> Proportion {
    rows.into_iter().fold(Proportion::default(), |acc, row| Proportion {
        successes: acc.successes + u64::from(row.succeeded),
        trials: acc.trials + 1,
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
    (row.succeeded && row.amount_msat > 0)
        .then(|| row.fee_msat as f64 * 1e6 / row.amount_msat as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(succeeded: bool) -> PaymentRow {
        PaymentRow {
            amount_msat: 1_000_000,
            succeeded,
            fee_msat: 1_001,
            latency_us: 1,
            attempts: 1,
            start_us: 0,
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
        let rows = [row(true), row(false), row(true), row(true)];
        let rate = success_rate(&rows);
        assert_eq!(rate, Proportion { successes: 3, trials: 4 });
        assert_eq!(rate.rate(), Some(0.75));
        assert_eq!(fee_ppm(&rows[0]), Some(1001.0));
        assert_eq!(fee_ppm(&rows[1]), None);
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
