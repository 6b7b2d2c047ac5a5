//! Draws issue 15's size charts from `benches/size_scaling.csv` (written by
//! `benches/size_scaling.sh`): payments per second of CPU against network size, and peak memory
//! against network size, each on log-log axes with the growth exponent between the smallest and
//! largest network in the note (1: linear).
//!
//! ```sh
//! cargo run --release -p boltsim-benches --example size_chart -- benches/size_scaling.csv benches
//! ```

use reports::charts::{Chart, Kind, Series, png, svg};
use std::path::Path;

/// One measured network size.
struct Row {
    nodes: f64,
    payments: f64,
    user_s: f64,
    peak_mib: f64,
    idle_user_s: f64,
    idle_peak_mib: f64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(csv), Some(dir)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: size_chart SIZE_SCALING_CSV OUT_DIR");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(csv).unwrap_or_else(|e| {
        eprintln!("{csv}: {e}");
        std::process::exit(2);
    });
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<f64> = line.split(',').filter_map(|v| v.trim().parse().ok()).collect();
        let [nodes, _channels, payments, user_s, peak_kib, idle_user_s, idle_peak_kib] = f[..]
        else {
            eprintln!("{csv}:{}: expected 7 numbers", i + 1);
            std::process::exit(2);
        };
        rows.push(Row {
            nodes,
            payments,
            user_s,
            peak_mib: peak_kib / 1024.0,
            idle_user_s,
            idle_peak_mib: idle_peak_kib / 1024.0,
        });
    }
    if rows.len() < 2 {
        eprintln!("{csv}: needs at least two sizes");
        std::process::exit(2);
    }
    let series = |name: &str, y: &dyn Fn(&Row) -> f64| Series {
        name: name.to_string(),
        points: rows.iter().map(|r| (r.nodes, y(r))).collect(),
        band: Vec::new(),
        n: Vec::new(),
    };
    // The exponent k of y ~ nodes^k between the first and the last size.
    let growth = |y: &dyn Fn(&Row) -> f64| {
        let (a, b) = (&rows[0], &rows[rows.len() - 1]);
        (y(b) / y(a)).ln() / (b.nodes / a.nodes).ln()
    };
    let pps = |r: &Row| r.payments / r.user_s;
    let net_pps = |r: &Row| r.payments / (r.user_s - r.idle_user_s).max(1e-3);
    let charts = [
        (
            "size_pps",
            Chart {
                title: "Payments per second against network size (MainnetLike, lnd)".into(),
                x_label: "nodes".into(),
                y_label: "payments per CPU second".into(),
                x_log: true,
                y_range: None,
                kind: Kind::Lines,
                note: format!(
                    "5,000 payments, median 10,000 sat; whole run grows as nodes^{:.2}, \
                     payments alone (idle network's CPU taken out) as nodes^{:.2}",
                    growth(&pps),
                    growth(&net_pps)
                ),
                legend_low: true,
                band_label: String::new(),
                series: vec![series("whole run", &pps), series("payments alone", &net_pps)],
                markers: Vec::new(),
            },
        ),
        (
            "size_memory",
            Chart {
                title: "Peak memory against network size (MainnetLike)".into(),
                x_label: "nodes".into(),
                y_label: "peak resident memory (MiB)".into(),
                x_log: true,
                y_range: None,
                kind: Kind::Lines,
                note: format!(
                    "grows as nodes^{:.2} under 5,000 payments, nodes^{:.2} idle",
                    growth(&|r| r.peak_mib),
                    growth(&|r| r.idle_peak_mib)
                ),
                legend_low: false,
                band_label: String::new(),
                series: vec![
                    series("5,000 payments", &|r| r.peak_mib),
                    series("idle, one minute", &|r| r.idle_peak_mib),
                ],
                markers: Vec::new(),
            },
        ),
    ];
    for (name, chart) in charts {
        let dir = Path::new(dir);
        let write = |file: String, bytes: &[u8]| {
            let path = dir.join(file);
            let tmp = path.with_extension("tmp");
            if let Err(e) = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, &path))
            {
                eprintln!("{}: {e}", path.display());
                std::process::exit(1);
            }
            println!("wrote {}", path.display());
        };
        match (png(&chart), svg(&chart)) {
            (Ok(p), Ok(s)) => {
                write(format!("{name}.png"), &p);
                write(format!("{name}.svg"), s.as_bytes());
            }
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("{name}: {e}");
                std::process::exit(1);
            }
        }
    }
}
