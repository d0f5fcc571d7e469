//! `--svg`: a grouped bar chart of the ratios per workload (plotters, SVG backend).
//!
//! One group per workload with three bars — auto/oracle, auto/rayon, auto/sequential — and a
//! dashed line at 1.0 (below it auto is faster). Bars taller than the axis are clipped at it.
//!
//! ```
//! use amorsize_bench::{grid::PoolConfig, report::{row, Kind, StrategyResult}};
//! let pool = Some(PoolConfig { workers: 2, chunk: 8 });
//! let ns = |k, t| StrategyResult::new("", k, pool, None, vec![t; 5]);
//! let results = [ns(Kind::Sequential, 900), ns(Kind::Rayon, 600), ns(Kind::Pool, 500),
//!                ns(Kind::Auto, 550), ns(Kind::AutoPlanned, 520), ns(Kind::Planner, 10)];
//! let r = row("light", 100, &results, &serde_json::Value::Null).unwrap();
//! let svg = amorsize_bench::svg::render(&[r], "suite")?;
//! assert!(svg.lines().any(|l| l.trim() == "light")); // the group's label
//! for series in ["auto/oracle", "auto/rayon", "auto/sequential"] {
//!     assert!(svg.contains(series));
//! }
//! # Ok::<(), amorsize::Error>(())
//! ```

use crate::report::Row;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The colours and names of the three bars, in drawing order.
const SERIES: [(&str, RGBColor); 3] = [
    ("auto/oracle", RGBColor(0x1f, 0x77, 0xb4)),
    ("auto/rayon", RGBColor(0xff, 0x7f, 0x0e)),
    ("auto/sequential", RGBColor(0x2c, 0xa0, 0x2c)),
];

fn chart_err(e: impl std::fmt::Display) -> amorsize::Error {
    amorsize::Error::invalid_input("svg chart", e.to_string())
}

/// The upper end of the y axis: a little above the largest finite ratio, at least 1.5, at
/// most 10 (larger bars are clipped).
///
/// ```
/// assert_eq!(amorsize_bench::svg::y_max(&[0.5, 0.9]), 1.5);
/// assert_eq!(amorsize_bench::svg::y_max(&[2.0]), 2.2);
/// assert_eq!(amorsize_bench::svg::y_max(&[f64::NAN, 50.0]), 10.0);
/// ```
pub fn y_max(ratios: &[f64]) -> f64 {
    let m = ratios
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .fold(0.0f64, f64::max);
    ((m * 1.1 * 10.0).round() / 10.0).clamp(1.5, 10.0)
}

/// Draws the chart of `rows` and returns the SVG text.
///
/// ```
/// let svg = amorsize_bench::svg::render(&[], "empty suite")?;
/// assert!(svg.starts_with("<svg") && svg.contains("empty suite"));
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn render(rows: &[Row], title: &str) -> amorsize::Result<String> {
    let mut out = String::new();
    {
        let width = (160 + 95 * rows.len().max(1)) as u32;
        let root = SVGBackend::with_string(&mut out, (width, 560)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_err)?;
        let values = |r: &Row| [r.auto_oracle, r.auto_rayon, r.auto_sequential];
        let all: Vec<f64> = rows.iter().flat_map(values).collect();
        let top = y_max(&all);
        let n = rows.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(60)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5f64..n - 0.5, 0f64..top)
            .map_err(chart_err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc("ratio (lower is better for auto)")
            .draw()
            .map_err(chart_err)?;
        // Workload names under each group, drawn by hand: plotters' own tick placement
        // does not guarantee one tick per group.
        let label_style = ("sans-serif", 13)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Top));
        for (i, r) in rows.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(i as f64, 0.0));
            root.draw(&Text::new(
                r.workload.clone(),
                (x, y + 8),
                label_style.clone(),
            ))
            .map_err(chart_err)?;
        }
        let bar = 0.26;
        for (k, (name, colour)) in SERIES.iter().enumerate() {
            let offset = (k as f64 - 1.0) * bar;
            chart
                .draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
                    let v = values(r)[k];
                    v.is_finite().then(|| {
                        let x = i as f64 + offset;
                        Rectangle::new(
                            [(x - bar / 2.0, 0.0), (x + bar / 2.0, v.min(top))],
                            colour.filled(),
                        )
                    })
                }))
                .map_err(chart_err)?
                .label(*name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled())
                });
        }
        chart
            .draw_series(DashedLineSeries::new(
                vec![(-0.5, 1.0), (n - 0.5, 1.0)],
                6,
                4,
                BLACK.stroke_width(1),
            ))
            .map_err(chart_err)?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(chart_err)?;
        root.present().map_err(chart_err)?;
    }
    Ok(out)
}

/// Draws the chart and writes it to `path`.
///
/// ```
/// let path = std::env::temp_dir().join("amorsize-bench-doc.svg");
/// amorsize_bench::svg::write(&path, &[], "t")?;
/// assert!(std::fs::read_to_string(&path).unwrap().starts_with("<svg"));
/// # std::fs::remove_file(&path).ok();
/// assert!(amorsize_bench::svg::write(std::path::Path::new("/no/such/dir/x.svg"), &[], "t").is_err());
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn write(path: &std::path::Path, rows: &[Row], title: &str) -> amorsize::Result<()> {
    let svg = render(rows, title)?;
    std::fs::write(path, svg)
        .map_err(|e| amorsize::Error::io(format!("writing {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::PoolConfig;
    use crate::report::Marks;

    fn row(name: &str, a: f64) -> Row {
        Row {
            workload: name.into(),
            items: 1,
            sequential_s: 1.0,
            rayon_s: 1.0,
            rayon_best_s: 1.0,
            rayon_best_min_len: 1,
            oracle_s: 1.0,
            oracle: PoolConfig {
                workers: 1,
                chunk: 1,
            },
            auto_s: a,
            auto_planned_s: a,
            auto_remembered_s: a,
            planner_s: 0.0,
            auto_oracle: a,
            auto_rayon: a,
            auto_rayon_best: a,
            auto_sequential: a,
            planned_oracle: a,
            remembered_oracle: a,
            overhead: 0.0,
            overhead_net: 0.0,
            marks: Marks {
                sequential: true,
                rayon: true,
                oracle: true,
                overhead: None,
            },
        }
    }

    #[test]
    fn chart_names_every_workload_and_series() {
        let names = crate::workloads::NAMES;
        let rows: Vec<Row> = names
            .iter()
            .enumerate()
            .map(|(i, n)| row(n, 0.5 + i as f64 * 0.1))
            .collect();
        let svg = render(&rows, "test chart").unwrap();
        assert!(svg.starts_with("<svg"));
        for n in names {
            // plotters writes a text element's content on a line of its own
            assert!(svg.lines().any(|l| l.trim() == *n), "label {n} missing");
        }
        for (s, _) in SERIES {
            assert!(svg.contains(s), "legend {s} missing");
        }
        // one bar per ratio: 3 per workload (plus the legend's swatches and the background).
        assert!(svg.matches("<rect").count() >= 3 * names.len());
    }

    #[test]
    fn chart_survives_missing_ratios_and_no_rows() {
        let mut r = row("x", 1.0);
        r.auto_rayon = f64::NAN;
        assert!(render(&[r], "t").is_ok());
        assert!(render(&[], "t").is_ok());
    }
}
