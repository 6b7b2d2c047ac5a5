//! The charts of one run's time series (`series.csv`, long format `time_us,kind,entity,metric,
//! value`, and optionally `channels.csv` for capacities and starting balances): the depletion of
//! the channel directions that forwarded the most, and network-wide success per sample interval
//! with the faults marked. This module reads the two files' text; finding them is the caller's.

use crate::charts::{Chart, Kind, Series};
use crate::csv_split;
use std::collections::BTreeMap;

/// How many channel directions the depletion chart follows.
pub const DEPLETION_DIRECTIONS: usize = 8;

/// One row of `series.csv`.
struct Row<'a> {
    time_us: u64,
    kind: &'a str,
    entity: &'a str,
    metric: &'a str,
    value: u64,
}

fn rows(text: &str) -> Result<Vec<Row<'_>>, (usize, String)> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, "time_us,kind,entity,metric,value")) => {}
        _ => {
            return Err((
                1,
                "not a series file: the header must be time_us,kind,entity,metric,value".into(),
            ));
        }
    }
    lines
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, line)| {
            let f: Vec<&str> = line.split(',').collect();
            let int = |s: &str| {
                s.parse::<u64>().map_err(|_| (i + 1, format!("{s:?} is not a whole number")))
            };
            if f.len() != 5 {
                return Err((i + 1, format!("{} fields where the header has 5", f.len())));
            }
            Ok(Row {
                time_us: int(f[0])?,
                kind: f[1],
                entity: f[2],
                metric: f[3],
                value: int(f[4])?,
            })
        })
        .collect()
}

/// Per direction of `channels.csv`: (capacity msat, starting balance msat).
fn channels(text: &str) -> Result<BTreeMap<String, (u64, u64)>, (usize, String)> {
    let mut lines = text.lines().enumerate();
    let header: Vec<String> = lines.next().and_then(|(_, l)| csv_split(l)).unwrap_or_default();
    let column = |name: &str| header.iter().position(|h| h == name);
    let (Some(d), Some(c), Some(b)) =
        (column("direction"), column("capacity_sat"), column("start_balance_msat"))
    else {
        return Err((
            1,
            "not a channels file: no direction, capacity_sat and start_balance_msat columns".into(),
        ));
    };
    let mut out = BTreeMap::new();
    for (i, line) in lines.filter(|(_, l)| !l.is_empty()) {
        let f = csv_split(line).ok_or((i + 1, "a quoted field is not closed".to_string()))?;
        let int = |k: usize| {
            f.get(k)
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or((i + 1, format!("column {} is not a whole number", header[k])))
        };
        let direction = f.get(d).ok_or((i + 1, "no direction field".to_string()))?;
        out.insert(direction.clone(), (int(c)?.saturating_mul(1000), int(b)?));
    }
    Ok(out)
}

/// The charts of a run's series; `channels` is its `channels.csv`, if at hand. Errors are (file,
/// line, message) with file 0 the series and 1 the channels.
pub fn charts(
    series: &str,
    channels_text: Option<&str>,
) -> Result<Vec<(String, Chart)>, (u8, usize, String)> {
    let rows = rows(series).map_err(|(l, m)| (0, l, m))?;
    let channels = match channels_text {
        Some(text) => Some(channels(text).map_err(|(l, m)| (1, l, m))?),
        None => None,
    };
    let faults: Vec<(f64, String)> = rows
        .iter()
        .filter(|r| r.kind == "fault")
        .map(|r| (r.time_us as f64 / 1e6, format!("{} {}", r.metric, r.entity)))
        .collect();
    let mut out = Vec::new();
    // The directions that forwarded the most (ties: by name), their balance over time.
    let mut forwards: BTreeMap<&str, u64> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.kind == "direction" && r.metric == "forwards") {
        forwards.insert(r.entity, r.value);
    }
    let mut busiest: Vec<(&str, u64)> = forwards.into_iter().collect();
    busiest.sort_by_key(|&(entity, n)| (std::cmp::Reverse(n), entity));
    busiest.truncate(DEPLETION_DIRECTIONS);
    if !busiest.is_empty() {
        let series = busiest
            .iter()
            .map(|&(entity, n)| {
                let known = channels.as_ref().and_then(|c| c.get(entity)).copied();
                let scale = |msat: u64| match known {
                    Some((capacity, _)) if capacity > 0 => 100.0 * msat as f64 / capacity as f64,
                    _ => msat as f64 / 1000.0,
                };
                let mut points: Vec<(f64, f64)> =
                    known.map(|(_, start)| vec![(0.0, scale(start))]).unwrap_or_default();
                for r in rows.iter().filter(|r| r.entity == entity && r.metric == "balance_msat") {
                    points.push((r.time_us as f64 / 1e6, scale(r.value)));
                }
                Series {
                    name: format!("{entity} ({n} forwards)"),
                    points,
                    band: Vec::new(),
                    n: Vec::new(),
                }
            })
            .collect();
        let percent = channels.is_some();
        out.push((
            "depletion".into(),
            Chart {
                title: "Balance of the busiest channel directions".into(),
                x_label: "simulated time (s)".into(),
                y_label: if percent { "sender's balance (% of capacity)".into() } else { "sender's balance (sat)".into() },
                x_log: false,
                y_range: percent.then_some((0.0, 100.0)),
                kind: Kind::Lines,
                note: format!(
                    "the {} directions that forwarded the most HTLCs; a point at each sample where the balance changed{}",
                    busiest.len(),
                    if faults.is_empty() { "" } else { "; dashed: faults" }
                ),
                legend_low: false,
                band_label: String::new(),
                series,
                markers: faults.clone(),
            },
        ));
    }
    // Network success per interval.
    let mut ended: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.kind == "network") {
        let e = ended.entry(r.time_us).or_default();
        match r.metric {
            "succeeded" => e.0 += r.value,
            "failed" => e.1 += r.value,
            _ => {}
        }
    }
    // (time, succeeded, ended) per sample with payments ending.
    let points: Vec<(u64, u64, u64)> = ended
        .into_iter()
        .filter(|(_, (s, f))| s + f > 0)
        .map(|(t, (s, f))| (t, s, s + f))
        .collect();
    if points.len() >= 2 {
        let band = points
            .iter()
            .map(|&(t, s, n)| {
                let (lo, hi) = crate::Proportion { successes: s, trials: n }
                    .wilson(1.96)
                    .unwrap_or((0.0, 1.0));
                (t as f64 / 1e6, 100.0 * lo, 100.0 * hi)
            })
            .collect();
        out.push((
            "network_success".into(),
            Chart {
                title: "Payments that succeeded, per sample interval".into(),
                x_label: "simulated time (s)".into(),
                y_label: "payments ended in the interval that succeeded (%)".into(),
                x_log: false,
                y_range: Some((0.0, 100.0)),
                kind: Kind::Lines,
                note: format!(
                    "one point per sample of series.csv; bands: 95% Wilson interval; n = {} to {} payments per point{}",
                    points.iter().map(|p| p.2).min().unwrap_or(0),
                    points.iter().map(|p| p.2).max().unwrap_or(0),
                    if faults.is_empty() { "" } else { "; dashed: faults" }
                ),
                legend_low: true,
                band_label: "shaded: 95% Wilson interval".into(),
                series: vec![Series {
                    name: "all payments".into(),
                    points: points.iter().map(|p| (p.0 as f64 / 1e6, 100.0 * p.1 as f64 / p.2 as f64)).collect(),
                    band,
                    n: points.iter().map(|p| p.2).collect(),
                }],
                markers: faults,
            },
        ));
    }
    Ok(out)
}

/// Every file of a run's series report: each chart as PNG, SVG and CSV, and `index.html`.
pub fn report(
    series: &str,
    channels_text: Option<&str>,
    title: &str,
) -> Result<Vec<crate::report::File>, (u8, usize, String)> {
    let all = charts(series, channels_text)?;
    let mut files = Vec::new();
    let escape = crate::report::escape;
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n\
         <style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}}\
         img{{max-width:100%;border:1px solid #ddd}}</style>\n</head>\n<body>\n<h1>{t}</h1>\n",
        t = escape(title)
    );
    if all.is_empty() {
        html.push_str("<p>No direction forwarded anything and fewer than two samples had payments end: nothing to draw.</p>\n");
    }
    for (name, chart) in all {
        crate::report::chart_files(&name, &chart, &mut files, &mut html)
            .map_err(|e| (0u8, 0usize, e))?;
    }
    html.push_str("</body>\n</html>\n");
    files.push(("index.html".into(), html.into_bytes()));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERIES: &str = "time_us,kind,entity,metric,value
60000000,direction,1x0x0/a,balance_msat,600000000
60000000,direction,1x0x0/a,forwards,3
60000000,direction,1x0x1/b,forwards,5
60000000,network,all,succeeded,3
60000000,network,all,failed,1
90000000,fault,n0,crash,1
120000000,direction,1x0x0/a,balance_msat,400000000
120000000,network,all,succeeded,1
120000000,network,all,failed,3
";

    const CHANNELS: &str = "direction,scid,from,to,capacity_sat,opener,announced,start_balance_msat,fee_base_msat,fee_ppm,cltv_expiry_delta,htlc_minimum_msat,htlc_maximum_msat,disabled
1x0x0/a,1x0x0,a,b,1000000,1,1,800000000,1000,1,40,1,1000000000,0
";

    #[test]
    fn depletion_and_success_over_time_come_from_the_series() {
        let all = charts(SERIES, Some(CHANNELS)).unwrap();
        let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["depletion", "network_success"]);
        let depletion = &all[0].1;
        assert_eq!(depletion.series[0].name, "1x0x1/b (5 forwards)", "the busiest first");
        assert_eq!(depletion.series[1].points, [(0.0, 80.0), (60.0, 60.0), (120.0, 40.0)]);
        assert_eq!(depletion.markers, [(90.0, "crash n0".to_string())]);
        let success = &all[1].1;
        assert_eq!(success.series[0].points, [(60.0, 75.0), (120.0, 25.0)]);
        assert_eq!(success.series[0].n, [4, 4]);
        assert!(charts("x\n", None).is_err());
    }
}
