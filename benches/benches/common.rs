//! What the criterion benches share: the settings of a group, and timing
//! work that runs as a task on a tokio runtime.

use std::future::Future;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};
use tokio::runtime::Runtime;

/// A group of `samples` flat samples of 3 s after a warm-up of `warm_up`,
/// counting `elements` per iteration.
pub(crate) fn group<'a>(
    c: &'a mut Criterion,
    name: String,
    samples: usize,
    warm_up: Duration,
    elements: u64,
) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(samples)
        .warm_up_time(warm_up)
        .measurement_time(Duration::from_secs(3))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(elements));
    group
}

/// Runs `work` as a task on `runtime` and returns the time it reports.
pub(crate) fn timed_on<F>(runtime: &Runtime, work: F) -> Duration
where
    F: Future<Output = Duration> + Send + 'static,
{
    runtime.block_on(runtime.spawn(work)).expect("benchmark task panicked")
}
