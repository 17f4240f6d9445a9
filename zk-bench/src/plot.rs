//! SVG plots: throughput against outstanding requests per client, and latency percentiles.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::clients::ClientKind;
use crate::report::{CellSummary, Results, Spread};
use crate::spec::Workload;

type Res<T> = Result<T, String>;

const PANELS: [Workload; 3] = [Workload::Get, Workload::Set, Workload::Create];

fn err<E: std::fmt::Display>(e: E) -> String {
    format!("plot: {e}")
}

/// The core cells of workload `w`, ordered by outstanding requests.
fn series(results: &Results, w: Workload) -> Vec<&CellSummary> {
    let mut cells: Vec<&CellSummary> =
        results.cells.iter().filter(|c| c.cell.is_core() && c.cell.workload == w).collect();
    cells.sort_by_key(|c| c.cell.outstanding);
    cells
}

fn clients_of(results: &Results) -> Vec<ClientKind> {
    let mut all: Vec<ClientKind> = results.cells.iter().flat_map(|c| c.clients.iter().map(|s| s.client)).collect();
    all.sort();
    all.dedup();
    all
}

fn color(i: usize) -> RGBColor {
    const COLORS: [RGBColor; 8] = [
        RGBColor(0, 0, 0),
        RGBColor(214, 39, 40),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(31, 119, 180),
        RGBColor(44, 160, 44),
        RGBColor(140, 86, 75),
        RGBColor(127, 127, 127),
    ];
    COLORS[i % COLORS.len()]
}

/// Writes the plots that have data; returns their paths.
pub fn write(results: &Results, dir: &Path) -> Res<Vec<PathBuf>> {
    let mut written = Vec::new();
    if PANELS.iter().any(|&w| !series(results, w).is_empty()) {
        let path = dir.join("throughput.svg");
        throughput(results, &path)?;
        written.push(path);
        let path = dir.join("latency.svg");
        latency(results, &path)?;
        written.push(path);
    }
    Ok(written)
}

fn throughput(results: &Results, path: &Path) -> Res<()> {
    let clients = clients_of(results);
    let root = SVGBackend::new(path, (1500, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled("Throughput vs outstanding requests (1 session, 100 B; median, bars = min–max)", ("sans-serif", 20))
        .map_err(err)?;
    for (panel, w) in root.split_evenly((1, 3)).iter().zip(PANELS) {
        let cells = series(results, w);
        let ymax = cells
            .iter()
            .flat_map(|c| c.clients.iter().filter_map(|s| s.ops_per_s.map(|o| o.max)))
            .fold(1000.0, f64::max)
            * 1.1;
        let mut chart = ChartBuilder::on(panel)
            .caption(w.name(), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((0.7f64..1500.0).log_scale(), 0f64..ymax)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("requests outstanding")
            .y_desc("ops/s")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| crate::report::fmt_ops(*y))
            .draw()
            .map_err(err)?;
        for (i, client) in clients.iter().enumerate() {
            let pts: Vec<(f64, Spread)> = cells
                .iter()
                .filter_map(|c| c.client(*client).and_then(|s| s.ops_per_s).map(|o| (c.cell.outstanding as f64, o)))
                .collect();
            if pts.is_empty() {
                continue;
            }
            let c = color(i);
            chart
                .draw_series(LineSeries::new(pts.iter().map(|&(x, s)| (x, s.median)), c.stroke_width(2)))
                .map_err(err)?
                .label(client.name())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
            chart.draw_series(pts.iter().map(|&(x, s)| Circle::new((x, s.median), 3, c.filled()))).map_err(err)?;
            chart
                .draw_series(
                    pts.iter().map(|&(x, s)| PathElement::new(vec![(x, s.min), (x, s.max)], c.stroke_width(1))),
                )
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)
}

fn latency(results: &Results, path: &Path) -> Res<()> {
    let clients = clients_of(results);
    let root = SVGBackend::new(path, (1500, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(
            "Latency vs outstanding requests (1 session, 100 B): p50 solid, p99 dashed, p99.9 dotted",
            ("sans-serif", 20),
        )
        .map_err(err)?;
    for (panel, w) in root.split_evenly((1, 3)).iter().zip(PANELS) {
        let cells = series(results, w);
        let all = cells.iter().flat_map(|c| c.clients.iter()).flat_map(|s| [s.p50_us, s.p999_us]).flatten();
        let (lo, hi) = all.fold((f64::MAX, 0.0f64), |(lo, hi), s| (lo.min(s.median), hi.max(s.median)));
        let (lo, hi) = if hi > 0.0 { (lo / 1000.0 * 0.7, hi / 1000.0 * 1.5) } else { (0.01, 100.0) };
        let mut chart = ChartBuilder::on(panel)
            .caption(w.name(), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((0.7f64..1500.0).log_scale(), (lo.max(0.001)..hi).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("requests outstanding")
            .y_desc("ms")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y}"))
            .draw()
            .map_err(err)?;
        for (i, client) in clients.iter().enumerate() {
            let c = color(i);
            let line = |pick: fn(&crate::report::ClientSummary) -> Option<Spread>| -> Vec<(f64, f64)> {
                cells
                    .iter()
                    .filter_map(|cell| {
                        cell.client(*client).and_then(pick).map(|s| (cell.cell.outstanding as f64, s.median / 1000.0))
                    })
                    .collect()
            };
            let p50 = line(|s| s.p50_us);
            if p50.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(p50.clone(), c.stroke_width(2)))
                .map_err(err)?
                .label(client.name())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
            chart.draw_series(p50.iter().map(|&p| Circle::new(p, 3, c.filled()))).map_err(err)?;
            chart.draw_series(DashedLineSeries::new(line(|s| s.p99_us), 6, 4, c.stroke_width(1))).map_err(err)?;
            chart.draw_series(DashedLineSeries::new(line(|s| s.p999_us), 2, 3, c.stroke_width(1))).map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)
}
