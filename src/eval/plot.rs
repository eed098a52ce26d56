//! The PNG plot of an eval: cumulative tasks solved against tasks run, one line per arm.
//! Text is drawn with DejaVu Sans embedded in the binary (no system fonts needed).

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use super::report::{ArmKind, EvalReport};

/// The plot could not be drawn or written.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the plot {path}: {message}")]
pub struct PlotError {
    /// The file.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

const FONT: &str = "sans-serif";

/// Registers the embedded font once per process.
fn register_embedded_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded DejaVu Sans is a valid TrueType font.
        let _ = register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// Writes the plot of `report` to `path` (a `.png`).
pub fn write_plot(report: &EvalReport, path: &Path) -> Result<(), PlotError> {
    register_embedded_font();
    let error = |e: &dyn std::fmt::Display| PlotError {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let tasks = report
        .arms
        .iter()
        .map(|a| a.outcomes.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let root = BitMapBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| error(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Cumulative tasks solved: {}", report.source),
            (FONT, 20),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0..tasks, 0..tasks)
        .map_err(|e| error(&e))?;
    chart
        .configure_mesh()
        .x_desc("tasks run")
        .y_desc("tasks solved")
        .label_style((FONT, 14))
        .draw()
        .map_err(|e| error(&e))?;
    for arm in &report.arms {
        // The arm without a library is drawn first and wider, so it shows where the curves
        // overlap.
        let (color, width) = match arm.kind {
            ArmKind::WithLibrary => (BLUE, 2),
            ArmKind::WithoutLibrary => (RED, 6),
        };
        let points = std::iter::once((0, 0)).chain(
            arm.summary()
                .cumulative_solved
                .into_iter()
                .enumerate()
                .map(|(i, solved)| (i + 1, solved)),
        );
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(width)))
            .map_err(|e| error(&e))?
            .label(arm.kind.label())
            .legend(move |(x, y)| {
                PathElement::new([(x, y), (x + 20, y)], color.stroke_width(width))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| error(&e))?;
    root.present().map_err(|e| error(&e))?;
    Ok(())
}
