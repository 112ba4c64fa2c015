//! The Savina-derived workloads under criterion.
//!
//! The same workload code as the `savina` binary (which writes the
//! published table and chart), measured by criterion instead: one group per
//! `savina/<workload>/<flavour>` (apart from the `core` bench's groups), one
//! function per framework (this one, raw tokio, and with `--features peers`
//! kameo, ractor, xtra and actix).
//!
//! Sizes are the nominal ones times `SAVINA_SCALE` (default 0.02, the
//! `--quick` sizes), so that a run takes minutes:
//!
//! ```sh
//! cargo bench -p benches --bench savina -- 'savina/ping_pong/'
//! SAVINA_SCALE=0.2 cargo bench -p benches --features peers --bench savina
//! ```
//!
//! Each iteration builds a fresh runtime and actors outside the clock and
//! times only the workload's measured part.

use std::time::Duration;

use benches::savina::{Flavour, Sizes, Workload, frameworks};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};

fn scale() -> f64 {
    std::env::var("SAVINA_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(0.02)
}

fn savina(c: &mut Criterion) {
    let sizes = Sizes::new(scale());
    eprintln!("Savina workloads at scale factor {}", sizes.scale);
    let all = frameworks();
    for workload in Workload::ALL {
        for flavour in Flavour::ALL {
            let mut group = c.benchmark_group(format!("savina/{}/{}", workload.name(), flavour.name()));
            group
                .sample_size(10)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(2))
                .sampling_mode(SamplingMode::Flat);
            for framework in &all {
                group.bench_function(framework.name, |b| {
                    b.iter_custom(|iters| (0..iters).map(|_| (framework.run)(workload, flavour, sizes).elapsed).sum())
                });
            }
            group.finish();
        }
    }
}

criterion_group!(benches, savina);
criterion_main!(benches);
