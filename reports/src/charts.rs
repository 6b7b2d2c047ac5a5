//! Charts as data ([`Chart`]: series of points, optional interval bands, lines or bars) drawn to
//! PNG and SVG with plotters. PNG text uses DejaVu Sans, embedded in the binary (`assets/`,
//! Bitstream Vera license beside it), so no system font is needed and a PNG looks the same
//! everywhere; SVG text names the `sans-serif` family and is drawn in the viewer's font. Each
//! series has its colour, dash pattern and marker shape, and the legend shows a sample of each;
//! vertical dashed markers label instants (faults).
//! PNGs are encoded here without metadata, so identical charts are identical bytes. This module
//! draws what it is given; choosing what to show is [`crate::report`]'s.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use std::sync::Once;

/// The embedded font.
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
/// The family name charts ask for.
const FAMILY: &str = "sans-serif";

/// Pixel size of every chart.
pub const SIZE: (u32, u32) = (960, 600);

/// How a chart's series are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Lines through the points, with markers.
    Lines,
    /// Bars grouped at each x (x values are small integers: categories).
    Bars,
}

/// One series: a legend name, its points and, optionally, an interval (x, low, high) per point.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// (x, y) points, by increasing x.
    pub points: Vec<(f64, f64)>,
    /// (x, low, high) for a shaded band.
    pub band: Vec<(f64, f64, f64)>,
    /// How many payments (or pairs) each point stands on, by point; empty when not counted.
    pub n: Vec<u64>,
}

/// A chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// The title.
    pub title: String,
    /// The x axis label, with its unit.
    pub x_label: String,
    /// The y axis label, with its unit.
    pub y_label: String,
    /// Logarithmic x axis.
    pub x_log: bool,
    /// Y range (fixed, e.g. 0 to 100 %), or from the data when `None`.
    pub y_range: Option<(f64, f64)>,
    /// Lines or bars.
    pub kind: Kind,
    /// A note under the title (what the bands are).
    pub note: String,
    /// The legend prefers the lower corners (for rising curves); it goes to the corner with the
    /// fewest points of the data in any case.
    pub legend_low: bool,
    /// A legend entry naming what the shaded bands are (empty: none).
    pub band_label: String,
    /// The series.
    pub series: Vec<Series>,
    /// Vertical marker lines: (x, label), e.g. a fault's start on a time axis.
    pub markers: Vec<(f64, String)>,
}

/// How series `i` is told apart besides its colour: a dash pattern (dash, gap in pixels; none:
/// solid) and a marker shape, so that overlapping lines and grey-scale prints stay readable.
fn dash(i: usize) -> Option<(u32, u32)> {
    [None, Some((10, 5)), Some((3, 4)), Some((14, 4)), Some((6, 3))][i % 5]
}

/// The marker shapes, in turn: circle, triangle, square, diamond, plus; all filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Circle,
    Triangle,
    Square,
    Diamond,
    Plus,
}

fn shape(i: usize) -> Shape {
    [Shape::Circle, Shape::Triangle, Shape::Square, Shape::Diamond, Shape::Plus][(i / 5 + i) % 5]
}

/// The outline of `shape` in pixels around (`dx`, `dy`).
fn outline(shape: Shape, dx: i32, dy: i32) -> Vec<(i32, i32)> {
    let points: &[(i32, i32)] = match shape {
        Shape::Circle => &[(4, 0), (3, 3), (0, 4), (-3, 3), (-4, 0), (-3, -3), (0, -4), (3, -3)],
        Shape::Triangle => &[(0, -5), (5, 4), (-5, 4)],
        Shape::Square => &[(-4, -4), (4, -4), (4, 4), (-4, 4)],
        Shape::Diamond => &[(0, -5), (5, 0), (0, 5), (-5, 0)],
        Shape::Plus => &[
            (-1, -5),
            (1, -5),
            (1, -1),
            (5, -1),
            (5, 1),
            (1, 1),
            (1, 5),
            (-1, 5),
            (-1, 1),
            (-5, 1),
            (-5, -1),
            (-1, -1),
        ],
    };
    points.iter().map(|&(x, y)| (x + dx, y + dy)).collect()
}

/// A drawing failure, as text.
pub type DrawError = String;

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            plotters::style::register_font(FAMILY, style, FONT)
                .unwrap_or_else(|_| panic!("invariant: the embedded font parses"));
        }
    });
}

/// The colours of the series, in order (colour-blind-safe, after Wong 2011), then repeating.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// The chart as PNG bytes.
pub fn png(chart: &Chart) -> Result<Vec<u8>, DrawError> {
    register_font();
    let (w, h) = SIZE;
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        draw(&root, chart)?;
        root.present().map_err(|e| e.to_string())?;
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(&rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// The chart as SVG text.
pub fn svg(chart: &Chart) -> Result<String, DrawError> {
    register_font();
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
        draw(&root, chart)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(text)
}

/// The data's x and y extents (with bands), or unit ranges when empty.
fn extents(chart: &Chart) -> ((f64, f64), (f64, f64)) {
    let xs = chart.series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1).chain(s.band.iter().flat_map(|b| [b.1, b.2])));
    let fold = |it: &mut dyn Iterator<Item = f64>| {
        it.filter(|v| v.is_finite()).fold(None, |acc: Option<(f64, f64)>, v| {
            Some(acc.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
        })
    };
    let (mut x0, mut x1) = fold(&mut xs.into_iter()).unwrap_or((1.0, 10.0));
    if x1 <= x0 {
        (x0, x1) = if chart.x_log { (x0 / 2.0, x1 * 2.0) } else { (x0 - 1.0, x1 + 1.0) };
    }
    let (y0, y1) = chart.y_range.unwrap_or_else(|| {
        let (lo, hi) = fold(&mut ys.into_iter()).unwrap_or((0.0, 1.0));
        (lo.min(0.0), if hi > lo.min(0.0) { hi * 1.05 } else { 1.0 })
    });
    ((x0, x1), (y0, y1))
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> Result<(), DrawError>
where
    DB::ErrorType: 'static,
{
    let fail = |e: &dyn std::fmt::Display| e.to_string();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let note = wrap(&chart.note, NOTE_CHARS);
    let (title_area, plot_area) = root.split_vertically(42 + 19 * note.len() as i32);
    title_area
        .draw(&Text::new(
            chart.title.clone(),
            (20, 8),
            (FAMILY, 24).into_font().style(FontStyle::Bold),
        ))
        .map_err(|e| fail(&e))?;
    for (i, line) in note.iter().enumerate() {
        title_area
            .draw(&Text::new(
                line.clone(),
                (20, 38 + 19 * i as i32),
                (FAMILY, 15).into_font().color(&RGBColor(80, 80, 80)),
            ))
            .map_err(|e| fail(&e))?;
    }
    let ((x0, x1), (y0, y1)) = extents(chart);
    let mut builder = ChartBuilder::on(&plot_area);
    builder.margin(20).x_label_area_size(55).y_label_area_size(75);
    let label_style = (FAMILY, 16).into_font();
    let desc_style = (FAMILY, 18).into_font();
    macro_rules! body {
        ($ctx:expr) => {{
            let mut ctx = $ctx;
            ctx.configure_mesh()
                .x_desc(chart.x_label.as_str())
                .y_desc(chart.y_label.as_str())
                .label_style(label_style.clone())
                .axis_desc_style(desc_style.clone())
                .light_line_style(RGBColor(235, 235, 235))
                .bold_line_style(RGBColor(210, 210, 210))
                .x_label_formatter(&|x| short_number(*x))
                .y_label_formatter(&|y| short_number(*y))
                .draw()
                .map_err(|e| fail(&e))?;
            let groups = chart.series.len().max(1) as f64;
            for (i, series) in chart.series.iter().enumerate() {
                let c = colour(i);
                if !series.band.is_empty() {
                    let upper = series.band.iter().map(|b| (b.0, b.2.clamp(y0, y1)));
                    let lower = series.band.iter().rev().map(|b| (b.0, b.1.clamp(y0, y1)));
                    let outline: Vec<(f64, f64)> = upper.chain(lower).collect();
                    ctx.draw_series(std::iter::once(Polygon::new(outline, c.mix(0.15))))
                        .map_err(|e| fail(&e))?;
                }
                let (pattern, form) = (dash(i), shape(i));
                let drawn = match chart.kind {
                    Kind::Lines => {
                        let points = series.points.iter().copied();
                        match pattern {
                            None => ctx.draw_series(LineSeries::new(points, c.stroke_width(2))),
                            Some((d, g)) => ctx.draw_series(DashedLineSeries::new(
                                points,
                                d,
                                g,
                                c.stroke_width(2),
                            )),
                        }
                        .map_err(|e| fail(&e))?;
                        // Markers on sparse lines only; a CDF's hundreds of points are a curve.
                        let marked =
                            if series.points.len() <= 40 { &series.points[..] } else { &[] };
                        ctx.draw_series(marked.iter().map(|&p| {
                            EmptyElement::at(p) + Polygon::new(outline(form, 0, 0), c.filled())
                        }))
                        .map_err(|e| fail(&e))?
                    }
                    Kind::Bars => {
                        let width = 0.8 / groups;
                        ctx.draw_series(series.points.iter().map(|&(x, y)| {
                            let left = x - 0.4 + width * i as f64;
                            Rectangle::new([(left, 0.0), (left + width, y)], c.filled())
                        }))
                        .map_err(|e| fail(&e))?
                    }
                };
                let bars = chart.kind == Kind::Bars;
                drawn.label(series.name.clone()).legend(move |(x, y)| {
                    // A sample of the line, its dash and its marker (a bar: a block).
                    let (d, g) = pattern.unwrap_or((100, 1));
                    let (width, height) = if bars { (12, 5) } else { (2, 0) };
                    let sample = if bars { vec![] } else { vec![(0, 0), (24, 0)] };
                    let block = if bars {
                        vec![(0, -height), (24, -height), (24, height), (0, height)]
                    } else {
                        outline(form, 12, 0)
                    };
                    EmptyElement::at((x, y))
                        + DashedPathElement::new(sample, d, g, c.stroke_width(width))
                        + Polygon::new(block, c.filled())
                });
            }
            for (x, label) in &chart.markers {
                let grey = RGBColor(90, 90, 90);
                let top = y0 + (y1 - y0) * 0.97;
                ctx.draw_series(std::iter::once(DashedPathElement::new(
                    vec![(*x, y0), (*x, y1)],
                    6,
                    4,
                    grey.stroke_width(1),
                )))
                .map_err(|e| fail(&e))?;
                ctx.draw_series(std::iter::once(Text::new(
                    format!(" {label}"),
                    (*x, top),
                    (FAMILY, 14).into_font().color(&grey),
                )))
                .map_err(|e| fail(&e))?;
            }
            if !chart.band_label.is_empty() {
                let grey = RGBColor(120, 120, 120);
                ctx.draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                    .map_err(|e| fail(&e))?
                    .label(chart.band_label.clone())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 18, y + 5)], grey.mix(0.25).filled())
                    });
            }
            if !chart.series.is_empty() {
                ctx.configure_series_labels()
                    .label_font(label_style.clone())
                    .background_style(WHITE.mix(0.85))
                    .border_style(RGBColor(160, 160, 160))
                    .position(legend_corner(chart, (x0, x1), (y0, y1)))
                    .draw()
                    .map_err(|e| fail(&e))?;
            }
        }};
    }
    if chart.x_log {
        body!(builder.build_cartesian_2d((x0..x1).log_scale(), y0..y1).map_err(|e| fail(&e))?);
    } else if chart.kind == Kind::Bars {
        body!(builder.build_cartesian_2d((x0 - 0.6)..(x1 + 0.6), y0..y1).map_err(|e| fail(&e))?);
    } else {
        body!(builder.build_cartesian_2d(x0..x1, y0..y1).map_err(|e| fail(&e))?);
    }
    Ok(())
}

/// The corner of the plot holding the fewest points and band ends (the legend's place), by
/// preference among equals: the upper right, or the lower right when `legend_low`.
fn legend_corner(chart: &Chart, (x0, x1): (f64, f64), (y0, y1): (f64, f64)) -> SeriesLabelPosition {
    let nx = |x: f64| {
        if chart.x_log && x0 > 0.0 && x > 0.0 {
            (x.ln() - x0.ln()) / (x1.ln() - x0.ln())
        } else {
            (x - x0) / (x1 - x0)
        }
    };
    let ny = |y: f64| (y - y0) / (y1 - y0);
    // Corners: (right, upper); the legend box takes about 45% of the width and height.
    let mut counts = [0usize; 4];
    let corners = [(true, true), (true, false), (false, true), (false, false)];
    for series in &chart.series {
        let ys = series.points.iter().map(|p| (p.0, p.1));
        let bands = series.band.iter().flat_map(|b| [(b.0, b.1), (b.0, b.2)]);
        for (x, y) in ys.chain(bands) {
            let (x, y) = (nx(x), ny(y));
            for (k, (right, upper)) in corners.iter().enumerate() {
                let in_x = if *right { x > 0.55 } else { x < 0.45 };
                let in_y = if *upper { y > 0.55 } else { y < 0.45 };
                counts[k] += usize::from(in_x && in_y);
            }
        }
    }
    let order: [usize; 4] = if chart.legend_low { [1, 3, 0, 2] } else { [0, 1, 2, 3] };
    let best = order.into_iter().min_by_key(|&k| counts[k]).unwrap_or(0);
    match corners[best] {
        (true, true) => SeriesLabelPosition::UpperRight,
        (true, false) => SeriesLabelPosition::LowerRight,
        (false, true) => SeriesLabelPosition::UpperLeft,
        (false, false) => SeriesLabelPosition::LowerLeft,
    }
}

/// The most characters of a note's line (15 px text across a 960 px chart).
const NOTE_CHARS: usize = 115;

/// `text` in lines of at most `width` characters, broken at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// An axis number, short: 1k, 2.5M, 0.25, 40.
pub fn short_number(v: f64) -> String {
    let a = v.abs();
    let (value, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{}{suffix}", if text == "-0" { "0" } else { text })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(kind: Kind) -> Chart {
        Chart {
            title: "Success rate".into(),
            x_label: "amount (sat)".into(),
            y_label: "succeeded (%)".into(),
            x_log: kind == Kind::Lines,
            y_range: Some((0.0, 100.0)),
            kind,
            note: "bands: 95% t interval over seeds".into(),
            legend_low: false,
            band_label: "shaded: 95% t interval over seeds".into(),
            series: (0..6)
                .map(|i| Series {
                    name: format!("router {i}"),
                    points: vec![(1.0, 90.0 - f64::from(i)), (2.0, 80.0), (3.0, 50.0)],
                    band: vec![(1.0, 85.0, 95.0), (2.0, 70.0, 90.0), (3.0, 40.0, 60.0)],
                    n: vec![10, 10, 10],
                })
                .collect(),
            markers: vec![(2.5, "crash n0".into())],
        }
    }

    #[test]
    fn charts_are_valid_png_and_svg_and_reproducible() {
        // Six series: dashes and markers repeat with different pairings, never both alike.
        let styles: Vec<(Option<(u32, u32)>, usize)> =
            (0..10).map(|i| (dash(i), shape(i) as usize)).collect();
        for (i, a) in styles.iter().enumerate() {
            assert!(!styles[..i].contains(a), "series {i} looks like an earlier one");
        }
        for kind in [Kind::Lines, Kind::Bars] {
            let bytes = png(&chart(kind)).unwrap();
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
            let decoder = png::Decoder::new(&bytes[..]);
            let mut reader = decoder.read_info().expect("a PNG that decodes");
            let mut pixels = vec![0; reader.output_buffer_size()];
            let info = reader.next_frame(&mut pixels).unwrap();
            assert_eq!((info.width, info.height), SIZE);
            assert!(pixels.iter().any(|&p| p != 255), "something is drawn");
            assert_eq!(png(&chart(kind)).unwrap(), bytes, "same chart, same bytes");
            let text = svg(&chart(kind)).unwrap();
            assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"), "{text}");
            assert!(text.contains("Success rate") && text.contains("router 5"));
            assert!(text.contains("crash n0"), "the marker's label");
            assert!(
                text.contains("shaded: 95% t interval over seeds"),
                "the legend names the bands"
            );
        }
    }

    #[test]
    fn notes_wrap_at_spaces() {
        assert_eq!(wrap("a bb ccc dd", 6), ["a bb", "ccc dd"]);
        assert_eq!(wrap("short", 115), ["short"]);
    }

    #[test]
    fn axis_numbers_are_short() {
        assert_eq!(short_number(1_000.0), "1k");
        assert_eq!(short_number(2_500_000.0), "2.5M");
        assert_eq!(short_number(0.25), "0.25");
        assert_eq!(short_number(40.0), "40");
    }
}
