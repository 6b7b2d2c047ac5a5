//! The charts of a sweep: routing success rate against payment amount (log x, one line per
//! router, 95% interval), fee in ppm against amount, the attempts histogram, the payment latency
//! CDF and the success rate over simulated time, each as PNG and SVG, and an `index.html` showing
//! them with the sweep's parameters.
//!
//! Series are the cells' parameters other than the amount (a router, say, or "lnd_apriori,
//! nodes=1000"). The amount axis is the `amount_sat` parameter when the sweep has one, else the
//! payments' amounts in bins of a half decade. Intervals follow DESIGN.md: with two or more seeds,
//! a t interval over the per-seed rates (and the line is their mean); with one, the Wilson score
//! interval of the pooled rate. Each chart's note says which.

use crate::charts::{self, Chart, Kind, Series};
use crate::results::{SweepResults, SweepRow};
use crate::{Proportion, mean_t95};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// A produced file: its name in the output directory and its bytes.
pub type File = (String, Vec<u8>);

/// An x position kept exact for grouping (f64 is not Ord): the value's bits, positive values only.
type Key = u64;

fn key(x: f64) -> Key {
    x.to_bits()
}

fn unkey(k: Key) -> f64 {
    f64::from_bits(k)
}

/// The series name of a row: its parameters other than `skip`, router values bare.
fn series_of(results: &SweepResults, row: &SweepRow, skip: Option<usize>) -> String {
    let parts: Vec<String> = results
        .params
        .iter()
        .zip(&row.params)
        .enumerate()
        .filter(|(i, _)| Some(*i) != skip)
        .map(
            |(_, (name, value))| {
                if name == "router" { value.clone() } else { format!("{name}={value}") }
            },
        )
        .collect();
    if parts.is_empty() { "all".into() } else { parts.join(", ") }
}

/// The amount axis: the `amount_sat` parameter, or the payment's amount in half-decade bins
/// (their geometric centre), sat.
fn amount_x(results: &SweepResults, row: &SweepRow) -> f64 {
    if let Some(i) = results.param("amount_sat")
        && let Ok(sat) = row.params[i].parse::<f64>()
    {
        return sat;
    }
    let sat = (row.payment.amount_msat as f64 / 1000.0).max(0.001);
    let bin = libm::floor(libm::log10(sat) * 2.0);
    libm::pow(10.0, (bin + 0.5) / 2.0)
}

/// Success rate (%) per series and x, with its interval: t over seeds, or Wilson pooled.
fn rate_series(
    results: &SweepResults,
    skip: Option<usize>,
    x_of: impl Fn(&SweepRow) -> f64,
) -> (Vec<Series>, Intervals) {
    // series -> x -> seed -> proportion
    let mut groups: BTreeMap<String, BTreeMap<Key, BTreeMap<u64, Proportion>>> = BTreeMap::new();
    for row in results.rows.iter().filter(|r| r.payment.started()) {
        let p = groups
            .entry(series_of(results, row, skip))
            .or_default()
            .entry(key(x_of(row)))
            .or_default()
            .entry(row.seed)
            .or_default();
        p.trials += 1;
        p.successes += u64::from(row.payment.succeeded());
    }
    let seeds: BTreeSet<u64> = results.rows.iter().map(|r| r.seed).collect();
    let over_seeds = seeds.len() >= 2;
    let mut fell_back = false;
    let series = groups
        .into_iter()
        .map(|(name, by_x)| {
            let mut s = Series { name, points: Vec::new(), band: Vec::new() };
            for (k, by_seed) in by_x {
                let x = unkey(k);
                let pooled = by_seed.values().fold(Proportion::default(), |a, p| Proportion {
                    successes: a.successes + p.successes,
                    trials: a.trials + p.trials,
                });
                let rates: Vec<f64> = by_seed.values().filter_map(Proportion::rate).collect();
                let (y, lo, hi) = match (over_seeds, mean_t95(&rates)) {
                    (true, Some((mean, lo, hi))) => (mean, lo.max(0.0), hi.min(1.0)),
                    _ => {
                        // One seed in this group (a sweep with one seed, a partial merge, a
                        // sparse time bin): the pooled rate's Wilson interval.
                        fell_back |= over_seeds;
                        let (lo, hi) = pooled.wilson(1.96).unwrap_or((0.0, 1.0));
                        (pooled.rate().unwrap_or(0.0), lo, hi)
                    }
                };
                s.points.push((x, 100.0 * y));
                s.band.push((x, 100.0 * lo, 100.0 * hi));
            }
            s
        })
        .collect();
    (series, Intervals { over_seeds, fell_back })
}

/// Which intervals a success-rate chart shows.
#[derive(Clone, Copy, Debug)]
struct Intervals {
    /// Two or more seeds: t intervals of the per-seed rates.
    over_seeds: bool,
    /// Some points had one seed only and show a Wilson interval instead.
    fell_back: bool,
}

fn interval_note(i: Intervals) -> String {
    match (i.over_seeds, i.fell_back) {
        (true, false) => {
            "lines: mean over seeds; bands: 95% t interval of the per-seed success rates".into()
        }
        (true, true) => "lines: mean over seeds; bands: 95% t interval of the per-seed success \
                         rates (Wilson score interval where one seed had payments)"
            .into(),
        (false, _) => {
            "bands: 95% Wilson score interval of the pooled success rate (one seed)".into()
        }
    }
}

/// The legend entry naming the bands.
fn band_legend(i: Intervals) -> String {
    if i.over_seeds {
        "shaded: 95% t interval over seeds".into()
    } else {
        "shaded: 95% Wilson interval".into()
    }
}

/// The quantile `q` of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Every chart of `results`.
pub fn charts(results: &SweepResults) -> Vec<(String, Chart)> {
    let amount_param = results.param("amount_sat");
    let mut out = Vec::new();
    let (series, over_seeds) = rate_series(results, amount_param, |r| amount_x(results, r));
    out.push((
        "success_vs_amount".into(),
        Chart {
            title: "Routing success rate by payment amount".into(),
            x_label: "payment amount (sat, log scale)".into(),
            y_label: "payments that succeeded (%)".into(),
            x_log: true,
            y_range: Some((0.0, 100.0)),
            kind: Kind::Lines,
            note: interval_note(over_seeds),
            legend_low: false,
            band_label: band_legend(over_seeds),
            series,
        },
    ));
    // Fees of succeeded payments: median ppm, band from the first to the third quartile.
    let mut fees: BTreeMap<String, BTreeMap<Key, Vec<f64>>> = BTreeMap::new();
    for row in results.rows.iter().filter(|r| r.payment.succeeded()) {
        if let Some(ppm) = crate::fee_ppm(&row.payment) {
            fees.entry(series_of(results, row, amount_param))
                .or_default()
                .entry(key(amount_x(results, row)))
                .or_default()
                .push(ppm);
        }
    }
    let series = fees
        .into_iter()
        .map(|(name, by_x)| {
            let mut s = Series { name, points: Vec::new(), band: Vec::new() };
            for (k, mut v) in by_x {
                v.sort_by(f64::total_cmp);
                let x = unkey(k);
                s.points.push((x, quantile(&v, 0.5)));
                s.band.push((x, quantile(&v, 0.25), quantile(&v, 0.75)));
            }
            s
        })
        .collect();
    out.push((
        "fee_vs_amount".into(),
        Chart {
            title: "Fee paid by payment amount".into(),
            x_label: "payment amount (sat, log scale)".into(),
            y_label: "fee (ppm of the amount)".into(),
            x_log: true,
            y_range: None,
            kind: Kind::Lines,
            note: "succeeded payments; lines: median; bands: first to third quartile".into(),
            legend_low: false,
            band_label: "shaded: first to third quartile".into(),
            series,
        },
    ));
    // Attempts: the share of payments per attempt count (0: no route was ever found; 10: ten or
    // more).
    let mut attempts: BTreeMap<String, BTreeMap<u32, u64>> = BTreeMap::new();
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    for row in results.rows.iter().filter(|r| r.payment.started()) {
        let name = series_of(results, row, amount_param);
        *attempts
            .entry(name.clone())
            .or_default()
            .entry(row.payment.attempts.min(10))
            .or_default() += 1;
        *totals.entry(name).or_default() += 1;
    }
    let series = attempts
        .into_iter()
        .map(|(name, counts)| {
            let total = totals[&name] as f64;
            let points = (0..=10u32)
                .map(|a| {
                    (f64::from(a), 100.0 * counts.get(&a).copied().unwrap_or(0) as f64 / total)
                })
                .collect();
            Series { name, points, band: Vec::new() }
        })
        .collect();
    out.push((
        "attempts".into(),
        Chart {
            title: "Attempts per payment".into(),
            x_label: "attempts (0: no route found; 10: ten or more)".into(),
            y_label: "payments (%)".into(),
            x_log: false,
            y_range: None,
            kind: Kind::Bars,
            note: "every payment, succeeded or not; each part of a split payment is an attempt"
                .into(),
            legend_low: false,
            band_label: String::new(),
            series,
        },
    ));
    // Latency of succeeded payments: the empirical CDF, at every half percent.
    let mut latency: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for row in results.rows.iter().filter(|r| r.payment.succeeded()) {
        if let Some(latency_us) = row.payment.latency_us {
            latency
                .entry(series_of(results, row, amount_param))
                .or_default()
                .push(latency_us.max(1) as f64 / 1e6);
        }
    }
    let series = latency
        .into_iter()
        .map(|(name, mut v)| {
            v.sort_by(f64::total_cmp);
            let points = (0..=200)
                .map(|i| (quantile(&v, f64::from(i) / 200.0), f64::from(i) / 2.0))
                .collect();
            Series { name, points, band: Vec::new() }
        })
        .collect();
    out.push((
        "latency_cdf".into(),
        Chart {
            title: "Payment latency".into(),
            x_label: "start to success (s, log scale)".into(),
            y_label: "succeeded payments done (%)".into(),
            x_log: true,
            y_range: Some((0.0, 100.0)),
            kind: Kind::Lines,
            note: "empirical CDF of succeeded payments, pooled over cells and seeds".into(),
            legend_low: true,
            band_label: String::new(),
            series,
        },
    ));
    // Success over simulated time: twenty equal bins of start time.
    let end_us = results.rows.iter().map(|r| r.payment.start_us).max().unwrap_or(0).max(1);
    // Twenty bins: the last payment falls in the last, never a twenty-first.
    let width_us = end_us / 20 + 1;
    let (series, over_seeds) = rate_series(results, amount_param, |r| {
        let bin = r.payment.start_us / width_us;
        (bin as f64 + 0.5) * width_us as f64 / 1e6
    });
    out.push((
        "success_over_time".into(),
        Chart {
            title: "Routing success rate over simulated time".into(),
            x_label: "payment start (s of simulated time)".into(),
            y_label: "payments that succeeded (%)".into(),
            x_log: false,
            y_range: Some((0.0, 100.0)),
            kind: Kind::Lines,
            note: format!("{}; bins of {:.0} s", interval_note(over_seeds), width_us as f64 / 1e6),
            legend_low: false,
            band_label: band_legend(over_seeds),
            series,
        },
    ));
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Every file of the report: each chart as PNG and SVG, and `index.html`, which shows them
/// with `about` (the sweep's parameters, as name and value).
pub fn report(
    results: &SweepResults,
    title: &str,
    about: &[(String, String)],
) -> Result<Vec<File>, charts::DrawError> {
    let mut files = Vec::new();
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n\
         <style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}\
         img{{max-width:100%;border:1px solid #ddd}}</style>\n</head>\n<body>\n<h1>{t}</h1>\n<table>\n",
        t = escape(title)
    );
    let cells: BTreeSet<u32> = results.rows.iter().map(|r| r.cell).collect();
    let mut rows: Vec<(String, String)> = about.to_vec();
    rows.push(("cells with payments".into(), cells.len().to_string()));
    rows.push(("payments".into(), results.rows.len().to_string()));
    for (name, value) in &rows {
        let _ = writeln!(html, "<tr><th>{}</th><td>{}</td></tr>", escape(name), escape(value));
    }
    html.push_str("</table>\n");
    for (name, chart) in charts(results) {
        files.push((format!("{name}.png"), charts::png(&chart)?));
        files.push((format!("{name}.svg"), charts::svg(&chart)?.into_bytes()));
        let _ = writeln!(
            html,
            "<h2>{}</h2>\n<p>{}</p>\n<p><img src=\"{name}.png\" alt=\"{}\"><br><a href=\"{name}.svg\">SVG</a></p>",
            escape(&chart.title),
            escape(&chart.note),
            escape(&chart.title)
        );
    }
    html.push_str("</body>\n</html>\n");
    files.push(("index.html".into(), html.into_bytes()));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PaymentRow;

    fn results() -> SweepResults {
        let mut rows = Vec::new();
        // Two routers, two amounts, two seeds; router b fails at the larger amount.
        for (cell, (router, amount_sat)) in
            [("a", 1_000u64), ("a", 100_000), ("b", 1_000), ("b", 100_000)].into_iter().enumerate()
        {
            for seed in [1u64, 2] {
                for i in 0..10u64 {
                    let succeeded = !(router == "b" && amount_sat == 100_000 && i < 5 + seed);
                    rows.push(SweepRow {
                        cell: cell as u32,
                        seed,
                        params: vec![router.into(), amount_sat.to_string()],
                        payment: PaymentRow {
                            amount_msat: amount_sat * 1000,
                            outcome: if succeeded { "succeeded" } else { "failed" }.into(),
                            fee_msat: if succeeded { amount_sat } else { 0 },
                            latency_us: Some(500_000 + i * 100_000),
                            attempts: if succeeded { 1 } else { 3 },
                            rounds: if succeeded { 1 } else { 3 },
                            success_round: succeeded.then_some(1),
                            start_us: i * 1_000_000,
                            ..PaymentRow::default()
                        },
                    });
                }
            }
        }
        SweepResults { params: vec!["router".into(), "amount_sat".into()], rows }
    }

    #[test]
    fn success_rates_are_per_seed_means_with_t_intervals() {
        let all = charts(&results());
        let success = &all[0].1;
        assert_eq!(success.series.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        let b = &success.series[1];
        assert_eq!(b.points, [(1_000.0, 100.0), (100_000.0, 35.0)], "seeds at 40% and 30%");
        // t(1) = 12.706, s = 0.0707, margin 12.706 * 0.05 = 0.6353, clamped at 0.
        let (x, lo, hi) = b.band[1];
        assert_eq!((x, lo), (100_000.0, 0.0));
        assert!((hi - 98.53).abs() < 0.01, "{hi}");
        assert!(success.note.contains("t interval"));
        let fee = &all[1].1;
        assert_eq!(fee.series[0].points, [(1_000.0, 1_000.0), (100_000.0, 1_000.0)], "1000 ppm");
        let attempts = &all[2].1;
        assert_eq!(attempts.series[1].points[3], (3.0, 100.0 * 13.0 / 40.0), "b: 13 of 40 took 3");
    }

    #[test]
    fn time_bins_are_twenty_and_hold_the_last_payment() {
        let all = charts(&results());
        let over_time = &all[4].1;
        // Starts from 0 to 9 s exactly: twenty bins of 0.450001 s, the last payment in the last.
        let xs: Vec<f64> = over_time.series[0].points.iter().map(|p| p.0).collect();
        assert!(xs.len() <= 20 && xs.iter().all(|&x| x < 9.0 + 0.450001), "{xs:?}");
        assert!(xs.last().is_some_and(|&x| x > 8.5), "{xs:?}");
    }

    #[test]
    fn one_seed_uses_the_wilson_interval() {
        let mut one = results();
        one.rows.retain(|r| r.seed == 1);
        let success = &charts(&one)[0].1;
        let b = &success.series[1];
        assert_eq!(b.points[1], (100_000.0, 40.0));
        let (lo, hi) = Proportion { successes: 4, trials: 10 }.wilson(1.96).unwrap();
        assert_eq!(b.band[1], (100_000.0, 100.0 * lo, 100.0 * hi));
        assert!(success.note.contains("Wilson"));
    }

    #[test]
    fn the_report_is_complete_and_reproducible() {
        let about = [("sweep".to_string(), "test".to_string())];
        let files = report(&results(), "Test sweep", &about).unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
        for chart in
            ["success_vs_amount", "fee_vs_amount", "attempts", "latency_cdf", "success_over_time"]
        {
            assert!(names.contains(&format!("{chart}.png").as_str()), "{chart}");
            assert!(names.contains(&format!("{chart}.svg").as_str()), "{chart}");
        }
        let index = String::from_utf8(files.last().unwrap().1.clone()).unwrap();
        assert!(
            index.contains("<img src=\"success_vs_amount.png\"") && index.contains("<td>test</td>")
        );
        assert_eq!(report(&results(), "Test sweep", &about).unwrap(), files, "byte-identical");
    }
}
