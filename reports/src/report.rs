//! The charts of a sweep, each as PNG, SVG and the CSV of its points, and an `index.html` showing
//! them with the sweep's parameters and a table of paired router differences.
//!
//! Charts (a chart whose x axis would hold one value is not drawn):
//! - `success_vs_amount` (the `--metric`: success, or first-try success) and
//!   `first_try_vs_amount`: the share of payments started, by amount;
//! - `within_rounds`: success within 1, 2, 3, 5 and 10 attempt rounds;
//! - `paired_difference_vs_amount`: each router's success minus the baseline's on the same
//!   payments (same cell values but the router, seed and payment id), in percentage points;
//! - `fee_vs_amount`, `rounds_vs_amount` and `latency_vs_amount`: fees, attempt rounds and
//!   latency faceted by amount; with a single amount, `rounds` (histogram) and `latency_cdf`;
//! - `success_over_time`: twenty bins of start time, the faults of the cells marked, every series
//!   (a control cell and a crash cell, say) overlaid.
//!
//! Series are the cells' parameters other than the amount and the facet (a router, say, or
//! "lnd, faults=hub_crash"). The amount axis is the `amount_sat` parameter when the sweep has
//! one, else the payments' amounts in bins of a half decade. Intervals follow DESIGN.md: with two
//! or more seeds, a t interval over the per-seed values (the line is their mean); with one, the
//! Wilson score interval of the pooled rate; paired differences use the paired-proportion
//! interval over payments with one seed. Each chart's note says which, and how many payments
//! each point stands on. Rates count payments that started (refused ones never did).

use crate::charts::{self, Chart, Kind, Series};
use crate::results::{SweepResults, SweepRow};
use crate::{Proportion, mean_t95};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// A produced file: its name in the output directory and its bytes.
pub type File = (String, Vec<u8>);

/// What counts as a success in rate charts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Succeeded at all.
    Success,
    /// Succeeded on the first round.
    FirstTry,
}

impl Metric {
    fn of(self, row: &SweepRow) -> bool {
        match self {
            Metric::Success => row.payment.succeeded(),
            Metric::FirstTry => row.payment.first_try(),
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Metric::Success => "succeeded",
            Metric::FirstTry => "succeeded on the first try",
        }
    }
}

/// Which charts, of which rows, split how.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// The charts to draw by name (empty: all).
    pub charts: Vec<String>,
    /// The success metric of `success_vs_amount` and `success_over_time`.
    pub metric: Metric,
    /// Only payments the feasibility oracle called feasible.
    pub feasible_only: bool,
    /// A parameter whose values each get their own set of charts.
    pub facet: Option<String>,
}

impl Default for ReportOptions {
    fn default() -> ReportOptions {
        ReportOptions {
            charts: Vec::new(),
            metric: Metric::Success,
            feasible_only: false,
            facet: None,
        }
    }
}

/// Every chart name, in the order they are drawn.
pub const CHARTS: [&str; 10] = [
    "success_vs_amount",
    "first_try_vs_amount",
    "within_rounds",
    "paired_difference_vs_amount",
    "fee_vs_amount",
    "rounds_vs_amount",
    "latency_vs_amount",
    "rounds",
    "latency_cdf",
    "success_over_time",
];

/// An x position kept exact for grouping (f64 is not Ord): the value's bits, positive values only.
type Key = u64;

fn key(x: f64) -> Key {
    x.to_bits()
}

fn unkey(k: Key) -> f64 {
    f64::from_bits(k)
}

/// The view of the results a set of charts draws: the rows, the parameters that name series.
struct View<'a> {
    results: &'a SweepResults,
    rows: Vec<&'a SweepRow>,
    /// Parameters left out of series names (the amount, the facet).
    skip: Vec<usize>,
}

impl View<'_> {
    /// The series name of a row: its parameters but the skipped ones, router values bare.
    fn series(&self, row: &SweepRow) -> String {
        let parts: Vec<String> = self
            .results
            .params
            .iter()
            .zip(&row.params)
            .enumerate()
            .filter(|(i, _)| !self.skip.contains(i))
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
    fn amount(&self, row: &SweepRow) -> f64 {
        if let Some(i) = self.results.param("amount_sat")
            && let Ok(sat) = row.params[i].parse::<f64>()
        {
            return sat;
        }
        let sat = (row.payment.amount_msat as f64 / 1000.0).max(0.001);
        let bin = libm::floor(libm::log10(sat) * 2.0);
        libm::pow(10.0, (bin + 0.5) / 2.0)
    }

    fn started(&self) -> impl Iterator<Item = &&SweepRow> {
        self.rows.iter().filter(|r| r.payment.started())
    }

    /// How many distinct amounts the rows have.
    fn amounts(&self) -> usize {
        self.started().map(|r| key(self.amount(r))).collect::<BTreeSet<_>>().len()
    }
}

/// A rate (%) per series and x with its interval: t over seeds, or Wilson pooled; rows are
/// those `x_of` places (`None`: left out).
fn rate_series(
    view: &View,
    x_of: impl Fn(&SweepRow) -> Option<f64>,
    success: impl Fn(&SweepRow) -> bool,
) -> (Vec<Series>, Intervals) {
    // series -> x -> seed -> proportion
    let mut groups: BTreeMap<String, BTreeMap<Key, BTreeMap<u64, Proportion>>> = BTreeMap::new();
    for row in view.started() {
        let Some(x) = x_of(row) else { continue };
        let p = groups
            .entry(view.series(row))
            .or_default()
            .entry(key(x))
            .or_default()
            .entry(row.seed)
            .or_default();
        p.trials += 1;
        p.successes += u64::from(success(row));
    }
    let seeds: BTreeSet<u64> = view.rows.iter().map(|r| r.seed).collect();
    let over_seeds = seeds.len() >= 2;
    let mut intervals = Intervals { over_seeds, fell_back: false, n: (u64::MAX, 0) };
    let series = groups
        .into_iter()
        .map(|(name, by_x)| {
            let mut s = Series { name, points: Vec::new(), band: Vec::new(), n: Vec::new() };
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
                        intervals.fell_back |= over_seeds;
                        let (lo, hi) = pooled.wilson(1.96).unwrap_or((0.0, 1.0));
                        (pooled.rate().unwrap_or(0.0), lo, hi)
                    }
                };
                s.points.push((x, 100.0 * y));
                s.band.push((x, 100.0 * lo, 100.0 * hi));
                s.n.push(pooled.trials);
                intervals.n = (intervals.n.0.min(pooled.trials), intervals.n.1.max(pooled.trials));
            }
            s
        })
        .collect();
    (series, intervals)
}

/// Which intervals a rate chart shows, and the fewest and most payments behind a point.
#[derive(Clone, Copy, Debug)]
struct Intervals {
    /// Two or more seeds: t intervals of the per-seed rates.
    over_seeds: bool,
    /// Some points had one seed only and show a Wilson interval instead.
    fell_back: bool,
    /// (fewest, most) payments per point.
    n: (u64, u64),
}

impl Intervals {
    fn note(self) -> String {
        let bands = match (self.over_seeds, self.fell_back) {
            (true, false) => "lines: mean over seeds; bands: 95% t interval of the per-seed rates",
            (true, true) => {
                "lines: mean over seeds; bands: 95% t interval of the per-seed rates (Wilson \
                 where one seed had payments)"
            }
            (false, _) => "bands: 95% Wilson score interval of the pooled rate (one seed)",
        };
        format!("{bands}; {}", n_note(self.n))
    }

    fn legend(self) -> String {
        if self.over_seeds {
            "shaded: 95% t interval over seeds".into()
        } else {
            "shaded: 95% Wilson interval".into()
        }
    }
}

/// "n = 40 to 100 payments per point".
fn n_note((low, high): (u64, u64)) -> String {
    match (low, high) {
        (u64::MAX, _) => "no payments".into(),
        (l, h) if l == h => format!("n = {l} payments per point"),
        (l, h) => format!("n = {l} to {h} payments per point"),
    }
}

/// The quantile `q` of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A line chart on the amount axis.
fn by_amount(
    title: &str,
    y_label: &str,
    note: String,
    band_label: String,
    series: Vec<Series>,
) -> Chart {
    Chart {
        title: title.into(),
        x_label: "payment amount (sat, log scale)".into(),
        y_label: y_label.into(),
        x_log: true,
        y_range: None,
        kind: Kind::Lines,
        note,
        legend_low: false,
        band_label,
        series,
        markers: Vec::new(),
    }
}

/// Per series and x: the values `value_of` gives (`None`: row left out).
fn values_by_x(
    view: &View,
    x_of: impl Fn(&SweepRow) -> f64,
    value_of: impl Fn(&SweepRow) -> Option<f64>,
) -> BTreeMap<String, BTreeMap<Key, Vec<f64>>> {
    let mut out: BTreeMap<String, BTreeMap<Key, Vec<f64>>> = BTreeMap::new();
    for row in view.started() {
        if let Some(v) = value_of(row) {
            out.entry(view.series(row)).or_default().entry(key(x_of(row))).or_default().push(v);
        }
    }
    out
}

/// Median lines with a first-to-third-quartile band.
fn median_series(groups: BTreeMap<String, BTreeMap<Key, Vec<f64>>>) -> (Vec<Series>, (u64, u64)) {
    let mut n = (u64::MAX, 0);
    let series = groups
        .into_iter()
        .map(|(name, by_x)| {
            let mut s = Series { name, points: Vec::new(), band: Vec::new(), n: Vec::new() };
            for (k, mut v) in by_x {
                v.sort_by(f64::total_cmp);
                let x = unkey(k);
                s.points.push((x, quantile(&v, 0.5)));
                s.band.push((x, quantile(&v, 0.25), quantile(&v, 0.75)));
                s.n.push(v.len() as u64);
                n = (n.0.min(v.len() as u64), n.1.max(v.len() as u64));
            }
            s
        })
        .collect();
    (series, n)
}

/// The paired differences of each router's metric from the baseline's, on the same payments:
/// per router and x (`None`: pooled over x), (mean difference, low, high, pairs), in points.
#[allow(clippy::type_complexity)]
fn paired(
    view: &View,
    metric: Metric,
    x_of: &dyn Fn(&SweepRow) -> Option<f64>,
) -> Option<(String, BTreeMap<String, BTreeMap<Key, (f64, f64, f64, u64)>>, bool)> {
    let router = view.results.param("router")?;
    let routers: BTreeSet<&str> = view.rows.iter().map(|r| r.params[router].as_str()).collect();
    if routers.len() < 2 {
        return None;
    }
    let baseline = if routers.contains("cheapest") { "cheapest" } else { routers.first()? };
    // The payment a row is: its other parameters, seed and id.
    let pair_key = |row: &SweepRow| {
        let others: Vec<&str> = row
            .params
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != router)
            .map(|(_, v)| v.as_str())
            .collect();
        (others.join(","), row.seed, row.payment.id)
    };
    let base: BTreeMap<_, &SweepRow> = view
        .started()
        .filter(|r| r.params[router] == baseline)
        .map(|r| (pair_key(r), *r))
        .collect();
    // router -> x -> seed -> (pairs, router-only successes, baseline-only successes)
    let mut counts: BTreeMap<String, BTreeMap<Key, BTreeMap<u64, (u64, u64, u64)>>> =
        BTreeMap::new();
    for row in view.started().filter(|r| r.params[router] != baseline) {
        let Some(b) = base.get(&pair_key(row)) else { continue };
        let same = (&b.payment.sender, &b.payment.receiver, b.payment.amount_msat)
            == (&row.payment.sender, &row.payment.receiver, row.payment.amount_msat);
        let Some(x) = x_of(row).filter(|_| same) else { continue };
        let c = counts
            .entry(row.params[router].clone())
            .or_default()
            .entry(key(x))
            .or_default()
            .entry(row.seed)
            .or_default();
        let (r, bb) = (metric.of(row), metric.of(b));
        *c = (c.0 + 1, c.1 + u64::from(r && !bb), c.2 + u64::from(bb && !r));
    }
    let seeds: BTreeSet<u64> = view.rows.iter().map(|r| r.seed).collect();
    let over_seeds = seeds.len() >= 2;
    let out = counts
        .into_iter()
        .map(|(name, by_x)| {
            let points = by_x
                .into_iter()
                .map(|(k, by_seed)| {
                    let (n, b, c) =
                        by_seed.values().fold((0, 0, 0), |a, v| (a.0 + v.0, a.1 + v.1, a.2 + v.2));
                    let diffs: Vec<f64> = by_seed
                        .values()
                        .filter(|v| v.0 > 0)
                        .map(|v| (v.1 as f64 - v.2 as f64) / v.0 as f64)
                        .collect();
                    let (d, lo, hi) = match (over_seeds, mean_t95(&diffs)) {
                        (true, Some(t)) => t,
                        _ => {
                            // Paired proportions (Newcombe's Wald form): (b - c) / n with
                            // se = sqrt(b + c - (b - c)^2 / n) / n.
                            let nf = n.max(1) as f64;
                            let d = (b as f64 - c as f64) / nf;
                            let var =
                                (b as f64 + c as f64 - (b as f64 - c as f64).powi(2) / nf).max(0.0);
                            let se = var.sqrt() / nf;
                            (d, d - 1.96 * se, d + 1.96 * se)
                        }
                    };
                    (k, (100.0 * d, 100.0 * lo, 100.0 * hi, n))
                })
                .collect();
            (name, points)
        })
        .collect();
    Some((baseline.to_string(), out, over_seeds))
}

/// Every chart of `results`, as `options` asks (one set per facet value when faceted).
pub fn charts(
    results: &SweepResults,
    options: &ReportOptions,
) -> Result<Vec<(String, Chart)>, String> {
    let mut rows: Vec<&SweepRow> = results.rows.iter().collect();
    if options.feasible_only {
        if !rows.iter().any(|r| !r.payment.feasibility.is_empty()) {
            return Err("no payment has a feasibility class: run the sweep's scenario with \
                        outputs: (feasibility_oracle: true)"
                .into());
        }
        rows.retain(|r| r.payment.feasibility == "feasible");
    }
    let amount = results.param("amount_sat");
    let facet = match &options.facet {
        Some(name) => Some(results.param(name).ok_or_else(|| {
            format!(
                "--facet {name}: not a parameter of these results ({})",
                results.params.join(", ")
            )
        })?),
        None => None,
    };
    let skip: Vec<usize> = amount.into_iter().chain(facet).collect();
    let mut out = Vec::new();
    match facet {
        None => out.extend(chart_set(&View { results, rows, skip }, options, "")),
        Some(f) => {
            let values: BTreeSet<&str> = rows.iter().map(|r| r.params[f].as_str()).collect();
            for value in values {
                let subset: Vec<&SweepRow> =
                    rows.iter().copied().filter(|r| r.params[f] == value).collect();
                let view = View { results, rows: subset, skip: skip.clone() };
                // File names keep letters, digits and `_-.=`; anything else becomes `_`.
                let safe =
                    |t: &str| -> String {
                        t.chars()
                            .map(|c| {
                                if c.is_ascii_alphanumeric() || "_-.=".contains(c) {
                                    c
                                } else {
                                    '_'
                                }
                            })
                            .collect()
                    };
                let suffix = format!("__{}={}", safe(&results.params[f]), safe(value));
                out.extend(chart_set(&view, options, &suffix));
            }
        }
    }
    let wanted = |name: &str| {
        options.charts.is_empty()
            || options.charts.iter().any(|c| name == c || name.starts_with(&format!("{c}__")))
    };
    Ok(out.into_iter().filter(|(name, _)| wanted(name)).collect())
}

/// The charts of one view; `suffix` ends each name and title (a facet's value).
fn chart_set(view: &View, options: &ReportOptions, suffix: &str) -> Vec<(String, Chart)> {
    let mut out: Vec<(String, Chart)> = Vec::new();
    let titled =
        |t: &str| if suffix.is_empty() { t.to_string() } else { format!("{t} ({})", &suffix[2..]) };
    let multi_amount = view.amounts() >= 2;
    let amount_of = |r: &SweepRow| Some(view.amount(r));
    if multi_amount {
        let metric = options.metric;
        let (series, i) = rate_series(view, amount_of, |r| metric.of(r));
        let title = match metric {
            Metric::Success => "Routing success rate by payment amount",
            Metric::FirstTry => "First-try success rate by payment amount",
        };
        let mut c = by_amount(
            &titled(title),
            &format!("payments that {} (%)", metric.noun()),
            i.note(),
            i.legend(),
            series,
        );
        c.y_range = Some((0.0, 100.0));
        out.push(("success_vs_amount".into(), c));
        let (series, i) = rate_series(view, amount_of, |r| r.payment.first_try());
        let mut c = by_amount(
            &titled("First-try success rate by payment amount"),
            "payments that succeeded on their first round (%)",
            i.note(),
            i.legend(),
            series,
        );
        c.y_range = Some((0.0, 100.0));
        out.push(("first_try_vs_amount".into(), c));
    }
    // Success within k rounds, pooled over amounts.
    let mut within: BTreeMap<String, Series> = BTreeMap::new();
    let mut within_i = Intervals { over_seeds: false, fell_back: false, n: (u64::MAX, 0) };
    for k in [1u32, 2, 3, 5, 10] {
        let (series, i) = rate_series(
            view,
            |_| Some(f64::from(k)),
            |r| r.payment.success_round.is_some_and(|s| s <= k),
        );
        within_i = Intervals {
            over_seeds: i.over_seeds,
            fell_back: within_i.fell_back | i.fell_back,
            n: (within_i.n.0.min(i.n.0), within_i.n.1.max(i.n.1)),
        };
        for s in series {
            let entry = within.entry(s.name.clone()).or_insert(Series {
                name: s.name,
                points: vec![],
                band: vec![],
                n: vec![],
            });
            entry.points.extend(s.points);
            entry.band.extend(s.band);
            entry.n.extend(s.n);
        }
    }
    out.push((
        "within_rounds".into(),
        Chart {
            title: titled("Success within k attempt rounds"),
            x_label: "attempt rounds allowed, k".into(),
            y_label: "payments that succeeded within k rounds (%)".into(),
            x_log: false,
            y_range: Some((0.0, 100.0)),
            kind: Kind::Lines,
            note: format!("pooled over amounts; {}", within_i.note()),
            legend_low: true,
            band_label: within_i.legend(),
            series: within.into_values().collect(),
            markers: Vec::new(),
        },
    ));
    if multi_amount
        && let Some((baseline, by_router, over_seeds)) = paired(view, options.metric, &amount_of)
        && !by_router.is_empty()
    {
        let mut n = (u64::MAX, 0);
        let series = by_router
            .into_iter()
            .map(|(name, by_x)| {
                let mut s = Series {
                    name: format!("{name} − {baseline}"),
                    points: vec![],
                    band: vec![],
                    n: vec![],
                };
                for (k, (d, lo, hi, pairs)) in by_x {
                    s.points.push((unkey(k), d));
                    s.band.push((unkey(k), lo, hi));
                    s.n.push(pairs);
                    n = (n.0.min(pairs), n.1.max(pairs));
                }
                s
            })
            .collect();
        let bands = if over_seeds {
            "mean over seeds of the per-seed paired differences; bands: 95% t interval"
        } else {
            "bands: 95% interval for paired proportions over payments (one seed)"
        };
        out.push((
            "paired_difference_vs_amount".into(),
            by_amount(
                &titled(&format!(
                    "Paired difference in {} from {baseline}",
                    match options.metric {
                        Metric::Success => "success",
                        Metric::FirstTry => "first-try success",
                    }
                )),
                "difference (percentage points)",
                format!(
                    "pairs: the same payment (seed, id, other cell values) under both routers; {bands}; {}",
                    n_note(n).replace("payments", "pairs")
                ),
                "shaded: 95% interval".into(),
                series,
            ),
        ));
    }
    if multi_amount {
        let fees = values_by_x(view, |r| view.amount(r), |r| crate::fee_ppm(&r.payment));
        let (series, n) = median_series(fees);
        out.push((
            "fee_vs_amount".into(),
            by_amount(
                &titled("Fee paid by payment amount"),
                "fee (ppm of the amount)",
                format!(
                    "succeeded payments; lines: median; bands: first to third quartile; {}",
                    n_note(n)
                ),
                "shaded: first to third quartile".into(),
                series,
            ),
        ));
        let rounds = values_by_x(view, |r| view.amount(r), |r| Some(f64::from(r.payment.rounds)));
        let mut n = (u64::MAX, 0);
        let series = rounds
            .into_iter()
            .map(|(name, by_x)| {
                let mut s = Series { name, points: vec![], band: vec![], n: vec![] };
                for (k, v) in by_x {
                    let count = v.len() as f64;
                    let mean = v.iter().sum::<f64>() / count;
                    let sd = (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>()
                        / (count - 1.0).max(1.0))
                    .sqrt();
                    let half = 1.96 * sd / count.sqrt();
                    s.points.push((unkey(k), mean));
                    s.band.push((unkey(k), (mean - half).max(0.0), mean + half));
                    s.n.push(v.len() as u64);
                    n = (n.0.min(v.len() as u64), n.1.max(v.len() as u64));
                }
                s
            })
            .collect();
        out.push((
            "rounds_vs_amount".into(),
            by_amount(&titled("Attempt rounds per payment by amount"), "attempt rounds (mean)", format!("payments started, succeeded or not; bands: 95% normal interval of the mean; {}", n_note(n)), "shaded: 95% interval of the mean".into(), series),
        ));
        let latency = values_by_x(
            view,
            |r| view.amount(r),
            |r| {
                r.payment.succeeded().then_some(())?;
                r.payment.latency_us.map(|l| l.max(1) as f64 / 1e6)
            },
        );
        let (series, n) = median_series(latency);
        out.push((
            "latency_vs_amount".into(),
            by_amount(
                &titled("Payment latency by amount"),
                "start to success (s, median)",
                format!("succeeded payments; bands: first to third quartile; {}", n_note(n)),
                "shaded: first to third quartile".into(),
                series,
            ),
        ));
    } else {
        // One amount: the distributions themselves.
        let mut rounds: BTreeMap<String, BTreeMap<u32, u64>> = BTreeMap::new();
        let mut totals: BTreeMap<String, u64> = BTreeMap::new();
        for row in view.started() {
            let name = view.series(row);
            *rounds
                .entry(name.clone())
                .or_default()
                .entry(row.payment.rounds.min(10))
                .or_default() += 1;
            *totals.entry(name).or_default() += 1;
        }
        let series = rounds
            .into_iter()
            .map(|(name, counts)| {
                let total = totals[&name];
                let points = (0..=10u32)
                    .map(|a| {
                        (
                            f64::from(a),
                            100.0 * counts.get(&a).copied().unwrap_or(0) as f64 / total as f64,
                        )
                    })
                    .collect();
                Series { name, points, band: Vec::new(), n: vec![total; 11] }
            })
            .collect();
        out.push((
            "rounds".into(),
            Chart {
                title: titled("Attempt rounds per payment"),
                x_label: "attempt rounds (0: no route found; 10: ten or more)".into(),
                y_label: "payments (%)".into(),
                x_log: false,
                y_range: None,
                kind: Kind::Bars,
                note: "payments started, succeeded or not; the parts sent together are one round"
                    .into(),
                legend_low: false,
                band_label: String::new(),
                series,
                markers: Vec::new(),
            },
        ));
        let mut latency: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for row in view.started().filter(|r| r.payment.succeeded()) {
            if let Some(l) = row.payment.latency_us {
                latency.entry(view.series(row)).or_default().push(l.max(1) as f64 / 1e6);
            }
        }
        let series = latency
            .into_iter()
            .map(|(name, mut v)| {
                v.sort_by(f64::total_cmp);
                let points = (0..=200)
                    .map(|i| (quantile(&v, f64::from(i) / 200.0), f64::from(i) / 2.0))
                    .collect();
                Series { name, points, band: Vec::new(), n: vec![v.len() as u64; 201] }
            })
            .collect();
        out.push((
            "latency_cdf".into(),
            Chart {
                title: titled("Payment latency"),
                x_label: "start to success (s, log scale)".into(),
                y_label: "succeeded payments done (%)".into(),
                x_log: true,
                y_range: Some((0.0, 100.0)),
                kind: Kind::Lines,
                note: "empirical CDF of succeeded payments, pooled over cells and seeds".into(),
                legend_low: true,
                band_label: String::new(),
                series,
                markers: Vec::new(),
            },
        ));
    }
    // Over simulated time: twenty equal bins of start time, faults marked.
    let end_us = view.started().map(|r| r.payment.start_us).max().unwrap_or(0);
    let start_us = view.started().map(|r| r.payment.start_us).min().unwrap_or(0);
    if end_us > start_us {
        // Twenty bins from the first start to the last: the last payment falls in the last.
        let width_us = (end_us - start_us) / 20 + 1;
        let metric = options.metric;
        let (series, i) = rate_series(
            view,
            |r| {
                let bin = (r.payment.start_us - start_us) / width_us;
                Some((start_us + bin * width_us) as f64 / 1e6 + width_us as f64 / 2e6)
            },
            |r| metric.of(r),
        );
        let cells: BTreeSet<u32> = view.rows.iter().map(|r| r.cell).collect();
        let markers: BTreeSet<(u64, &str)> = view
            .results
            .markers
            .iter()
            .filter(|m| cells.contains(&m.cell))
            .map(|m| (m.time_us, m.label.as_str()))
            .collect();
        out.push((
            "success_over_time".into(),
            Chart {
                title: titled(match metric {
                    Metric::Success => "Routing success rate over simulated time",
                    Metric::FirstTry => "First-try success rate over simulated time",
                }),
                x_label: "payment start (s of simulated time)".into(),
                y_label: format!("payments that {} (%)", metric.noun()),
                x_log: false,
                y_range: Some((0.0, 100.0)),
                kind: Kind::Lines,
                note: format!(
                    "{}; bins of {:.0} s{}",
                    i.note(),
                    width_us as f64 / 1e6,
                    if markers.is_empty() { "" } else { "; dashed: faults" }
                ),
                legend_low: true,
                band_label: i.legend(),
                series,
                markers: {
                    // Faults at one instant share a line and a label.
                    let mut at: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
                    for (t, label) in markers {
                        at.entry(t).or_default().push(label);
                    }
                    at.into_iter().map(|(t, l)| (t as f64 / 1e6, l.join("; "))).collect()
                },
            },
        ));
    }
    out.into_iter().map(|(name, chart)| (format!("{name}{suffix}"), chart)).collect()
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A chart's points as CSV: series, x, y, low, high, n.
pub(crate) fn points_csv(chart: &Chart) -> String {
    let mut s = String::from("series,x,y,low,high,n\n");
    for series in &chart.series {
        for (i, &(x, y)) in series.points.iter().enumerate() {
            let band = series.band.get(i);
            let _ = writeln!(
                s,
                "{},{x},{y},{},{},{}",
                crate::csv_field(&series.name),
                band.map(|b| b.1.to_string()).unwrap_or_default(),
                band.map(|b| b.2.to_string()).unwrap_or_default(),
                series.n.get(i).map(|n| n.to_string()).unwrap_or_default()
            );
        }
    }
    s
}

/// Every file of the report: each chart as PNG, SVG and CSV, and `index.html`, which shows them
/// with `about` (the sweep's parameters, as name and value) and the paired router differences.
pub fn report(
    results: &SweepResults,
    title: &str,
    about: &[(String, String)],
    options: &ReportOptions,
) -> Result<Vec<File>, charts::DrawError> {
    let all = charts(results, options)?;
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
    let started = results.rows.iter().filter(|r| r.payment.started()).count();
    rows.push(("payments started".into(), started.to_string()));
    if options.feasible_only {
        rows.push(("rows".into(), "feasible payments only (feasibility oracle)".into()));
    }
    for (name, value) in &rows {
        let _ = writeln!(html, "<tr><th>{}</th><td>{}</td></tr>", escape(name), escape(value));
    }
    html.push_str("</table>\n");
    // The paired differences, pooled over amounts.
    let view = View {
        results,
        rows: results
            .rows
            .iter()
            .filter(|r| !options.feasible_only || r.payment.feasibility == "feasible")
            .collect(),
        skip: results.param("amount_sat").into_iter().collect(),
    };
    if let Some((baseline, by_router, over_seeds)) = paired(&view, options.metric, &|_| Some(0.0))
        && !by_router.is_empty()
    {
        let _ = writeln!(
            html,
            "<h2>Paired differences from {}</h2>\n<p>{} minus {} on the same payments, percentage points, 95% interval ({}).</p>\n<table>\n<tr><th>router</th><th>difference</th><th>95% interval</th><th>pairs</th></tr>",
            escape(&baseline),
            match options.metric {
                Metric::Success => "Success",
                Metric::FirstTry => "First-try success",
            },
            escape(&baseline),
            if over_seeds { "t over seeds" } else { "paired proportions, one seed" }
        );
        for (router, by_x) in by_router {
            for (d, lo, hi, n) in by_x.into_values() {
                let _ = writeln!(
                    html,
                    "<tr><td>{}</td><td>{d:+.1}</td><td>{lo:+.1} to {hi:+.1}</td><td>{n}</td></tr>",
                    escape(&router)
                );
            }
        }
        html.push_str("</table>\n");
    }
    for (name, chart) in all {
        chart_files(&name, &chart, &mut files, &mut html)?;
    }
    html.push_str("</body>\n</html>\n");
    files.push(("index.html".into(), html.into_bytes()));
    Ok(files)
}

/// Chart `name` as PNG, SVG and the CSV of its points into `files`, and its section of an
/// `index.html` into `html`.
pub(crate) fn chart_files(
    name: &str,
    chart: &Chart,
    files: &mut Vec<File>,
    html: &mut String,
) -> Result<(), charts::DrawError> {
    files.push((format!("{name}.png"), charts::png(chart)?));
    files.push((format!("{name}.svg"), charts::svg(chart)?.into_bytes()));
    files.push((format!("{name}.csv"), points_csv(chart).into_bytes()));
    let _ = writeln!(
        html,
        "<h2>{}</h2>\n<p>{}</p>\n<p><img src=\"{name}.png\" alt=\"{}\"><br><a href=\"{name}.svg\">SVG</a> · <a href=\"{name}.csv\">points (CSV, with n)</a></p>",
        escape(&chart.title),
        escape(&chart.note),
        escape(&chart.title)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PaymentRow;
    use crate::results::Marker;

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
                            id: i,
                            sender: format!("s{i}"),
                            receiver: format!("r{i}"),
                            amount_msat: amount_sat * 1000,
                            outcome: if succeeded { "succeeded" } else { "failed" }.into(),
                            fee_msat: if succeeded { amount_sat } else { 0 },
                            latency_us: Some(500_000 + i * 100_000),
                            attempts: if succeeded { 1 } else { 3 },
                            rounds: if succeeded { 1 + u32::from(i == 0) } else { 3 },
                            success_round: succeeded.then_some(1 + u32::from(i == 0)),
                            start_us: i * 1_000_000,
                            ..PaymentRow::default()
                        },
                    });
                }
            }
        }
        let markers = vec![Marker { cell: 2, time_us: 4_000_000, label: "crash n0".into() }];
        SweepResults { params: vec!["router".into(), "amount_sat".into()], rows, markers }
    }

    fn chart<'a>(all: &'a [(String, Chart)], name: &str) -> &'a Chart {
        &all.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no {name}")).1
    }

    #[test]
    fn success_rates_are_per_seed_means_with_t_intervals() {
        let all = charts(&results(), &ReportOptions::default()).unwrap();
        let success = chart(&all, "success_vs_amount");
        assert_eq!(success.series.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        let b = &success.series[1];
        assert_eq!(b.points, [(1_000.0, 100.0), (100_000.0, 35.0)], "seeds at 40% and 30%");
        assert_eq!(b.n, [20, 20], "n per point");
        // t(1) = 12.706, s = 0.0707, margin 12.706 * 0.05 = 0.6353, clamped at 0.
        let (x, lo, hi) = b.band[1];
        assert_eq!((x, lo), (100_000.0, 0.0));
        assert!((hi - 98.53).abs() < 0.01, "{hi}");
        assert!(
            success.note.contains("t interval")
                && success.note.contains("n = 20 payments per point")
        );
        let fee = chart(&all, "fee_vs_amount");
        assert_eq!(fee.series[0].points, [(1_000.0, 1_000.0), (100_000.0, 1_000.0)], "1000 ppm");
        // First try: payment 0 of every cell took 2 rounds.
        let first = chart(&all, "first_try_vs_amount");
        assert_eq!(first.series[0].points, [(1_000.0, 90.0), (100_000.0, 90.0)]);
        let within = chart(&all, "within_rounds");
        let a: Vec<(f64, f64)> = within.series[0].points.clone();
        assert_eq!(a, [(1.0, 90.0), (2.0, 100.0), (3.0, 100.0), (5.0, 100.0), (10.0, 100.0)]);
        assert!(
            !all.iter().any(|(n, _)| n == "rounds" || n == "latency_cdf"),
            "faceted by amount instead"
        );
    }

    #[test]
    fn routers_are_compared_on_the_same_payments() {
        let all = charts(&results(), &ReportOptions::default()).unwrap();
        let paired = chart(&all, "paired_difference_vs_amount");
        assert_eq!(paired.series.len(), 1);
        assert_eq!(paired.series[0].name, "b − a");
        // At 100k sat b loses 6 then 7 of 10 that a pays: per-seed differences -60 and -70.
        let (x, d) = paired.series[0].points[1];
        assert_eq!(x, 100_000.0);
        assert!((d + 65.0).abs() < 1e-9, "{d}");
        assert_eq!(paired.series[0].n, [20, 20]);
    }

    #[test]
    fn time_bins_are_twenty_hold_the_last_payment_and_mark_faults() {
        let all = charts(&results(), &ReportOptions::default()).unwrap();
        let over_time = chart(&all, "success_over_time");
        let xs: Vec<f64> = over_time.series[0].points.iter().map(|p| p.0).collect();
        assert!(xs.len() <= 20 && xs.iter().all(|&x| x < 9.0 + 0.450001), "{xs:?}");
        assert!(xs.last().is_some_and(|&x| x > 8.5), "{xs:?}");
        assert_eq!(over_time.markers, [(4.0, "crash n0".to_string())]);
        // Bins start at the first payment: starts from 3,000 s to 3,009 s get ten bins.
        let mut late = results();
        for row in &mut late.rows {
            row.payment.start_us += 3_000_000_000;
        }
        let all = charts(&late, &ReportOptions::default()).unwrap();
        let xs: Vec<f64> =
            chart(&all, "success_over_time").series[0].points.iter().map(|p| p.0).collect();
        assert_eq!(xs.len(), 10, "{xs:?}");
        assert!(xs[0] > 3_000.0 && xs[0] < 3_000.5, "{xs:?}");
    }

    #[test]
    fn one_seed_uses_the_wilson_interval_and_one_amount_no_amount_axis() {
        let mut one = results();
        one.rows.retain(|r| r.seed == 1);
        let all = charts(&one, &ReportOptions::default()).unwrap();
        let b = &chart(&all, "success_vs_amount").series[1];
        assert_eq!(b.points[1], (100_000.0, 40.0));
        let (lo, hi) = Proportion { successes: 4, trials: 10 }.wilson(1.96).unwrap();
        assert_eq!(b.band[1], (100_000.0, 100.0 * lo, 100.0 * hi));
        one.rows.retain(|r| r.params[1] == "1000");
        let all = charts(&one, &ReportOptions::default()).unwrap();
        let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["within_rounds", "rounds", "latency_cdf", "success_over_time"],
            "no one-point chart"
        );
    }

    #[test]
    fn options_pick_charts_rows_and_facets() {
        let options = ReportOptions {
            charts: vec!["success_vs_amount".into()],
            facet: Some("router".into()),
            ..ReportOptions::default()
        };
        let all = charts(&results(), &options).unwrap();
        let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["success_vs_amount__router=a", "success_vs_amount__router=b"]);
        assert_eq!(all[1].1.series[0].name, "all");
        let err =
            charts(&results(), &ReportOptions { feasible_only: true, ..ReportOptions::default() })
                .unwrap_err();
        assert!(err.contains("feasibility_oracle"), "{err}");
        let mut feasible = results();
        for (i, row) in feasible.rows.iter_mut().enumerate() {
            row.payment.feasibility = if i % 2 == 0 { "feasible" } else { "no_liquid_path" }.into();
        }
        let all =
            charts(&feasible, &ReportOptions { feasible_only: true, ..ReportOptions::default() })
                .unwrap();
        assert_eq!(chart(&all, "success_vs_amount").series[0].n, [10, 10]);
        let err = charts(
            &results(),
            &ReportOptions { facet: Some("nodes".into()), ..ReportOptions::default() },
        )
        .unwrap_err();
        assert!(err.contains("not a parameter"), "{err}");
    }

    #[test]
    fn the_report_is_complete_and_reproducible() {
        let about = [("sweep".to_string(), "test".to_string())];
        let options = ReportOptions::default();
        let files = report(&results(), "Test sweep", &about, &options).unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
        for chart in [
            "success_vs_amount",
            "first_try_vs_amount",
            "within_rounds",
            "paired_difference_vs_amount",
            "fee_vs_amount",
            "rounds_vs_amount",
            "latency_vs_amount",
            "success_over_time",
        ] {
            for ext in ["png", "svg", "csv"] {
                assert!(names.contains(&format!("{chart}.{ext}").as_str()), "{chart}.{ext}");
            }
        }
        let index = String::from_utf8(files.last().unwrap().1.clone()).unwrap();
        assert!(
            index.contains("<img src=\"success_vs_amount.png\"") && index.contains("<td>test</td>")
        );
        assert!(index.contains("Paired differences from a"), "{index}");
        let csv = String::from_utf8(
            files.iter().find(|f| f.0 == "success_vs_amount.csv").unwrap().1.clone(),
        )
        .unwrap();
        assert!(csv.starts_with("series,x,y,low,high,n\na,1000,100,"), "{csv}");
        assert_eq!(
            report(&results(), "Test sweep", &about, &options).unwrap(),
            files,
            "byte-identical"
        );
    }
}
