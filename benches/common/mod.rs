//! Settings shared by every criterion bench in this directory.

use criterion::Criterion;
use std::time::Duration;

/// Short runs without HTML plots: rendering them with the plotters backend costs more than
/// the measuring, and these machines are shared, so ratios matter more than tight intervals.
pub fn config(measure: Duration) -> Criterion {
    Criterion::default()
        .without_plots()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(measure)
}
