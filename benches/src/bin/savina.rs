//! The whole Savina comparison in one command: every workload on every
//! framework compiled in, on both runtime flavours, then idle actors
//! (spawn time and RSS per actor) in fresh processes. Prints a markdown
//! table and, in a full run, writes it with an SVG chart to
//! `benches/results/`.
//!
//! Run with `cargo run --release -p benches --features peers --bin savina`
//! (add `-- --quick` for the small sizes CI uses; without `--features
//! peers` only this framework and raw tokio run).
//!
//! Options:
//!
//! - `--quick`: scale 0.02, 3 samples, 10,000 idle actors, one process
//!   each; prints only, unless `--out` is given.
//! - `--scale X`, `--samples N`, `--idle-actors N`, `--idle-runs N`: override
//!   the sizes.
//! - `--only a,b`: only these workloads (names as in the table; `idle` for
//!   the idle-actor measurement).
//! - `--out DIR`: where to write `savina.md` and `savina.svg`.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use benches::savina::report::{Report, Row, Unit};
use benches::savina::{Entry, Flavour, IdleSample, Outcome, Sizes, Workload, frameworks};

/// The full run's scale: nominal (Savina-like) sizes times this.
const FULL_SCALE: f64 = 0.5;
const QUICK_SCALE: f64 = 0.02;

#[derive(Debug)]
struct Options {
    quick: bool,
    scale: f64,
    samples: usize,
    idle_actors: u64,
    idle_runs: usize,
    only: Option<Vec<String>>,
    out: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let quick = args.iter().any(|a| a == "--quick");
    let mut options = Options {
        quick,
        scale: if quick { QUICK_SCALE } else { FULL_SCALE },
        samples: if quick { 3 } else { 5 },
        idle_actors: if quick { 10_000 } else { 100_000 },
        idle_runs: if quick { 1 } else { 3 },
        only: None,
        out: if quick { None } else { Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results")) },
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--quick" => {}
            "--scale" => options.scale = value()?.parse().map_err(|e| format!("--scale: {e}"))?,
            "--samples" => options.samples = value()?.parse().map_err(|e| format!("--samples: {e}"))?,
            "--idle-actors" => options.idle_actors = value()?.parse().map_err(|e| format!("--idle-actors: {e}"))?,
            "--idle-runs" => options.idle_runs = value()?.parse().map_err(|e| format!("--idle-runs: {e}"))?,
            "--only" => options.only = Some(value()?.split(',').map(str::to_owned).collect()),
            "--out" => options.out = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if options.samples == 0 || options.idle_runs == 0 {
        return Err("--samples and --idle-runs must be at least 1".into());
    }
    Ok(options)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn micros(d: f64) -> String {
    format!("{:.1} µs", d * 1e3)
}

/// Runs one workload on one flavour: a warm-up run per framework, then
/// `samples` rounds in which each framework runs once, so that every
/// framework sees the same machine conditions.
///
/// A framework whose run fails the workload's check (a wrong sum, a lost
/// reply: the workload panics) is not timed: its value is NaN and its note
/// says why, so the table shows it failing rather than fast.
fn measure(options: &Options, all: &[Entry], workload: Workload, flavour: Flavour, sizes: Sizes) -> Row {
    let mut failed: Vec<Option<String>> =
        all.iter().map(|framework| checked_run(framework, workload, flavour, sizes).err()).collect();
    let mut times = vec![Vec::new(); all.len()];
    let mut p50 = vec![Vec::new(); all.len()];
    let mut p99 = vec![Vec::new(); all.len()];
    for _ in 0..options.samples {
        for (i, framework) in all.iter().enumerate() {
            if failed[i].is_some() {
                continue;
            }
            match checked_run(framework, workload, flavour, sizes) {
                Ok(outcome) => {
                    times[i].push(ms(outcome.elapsed));
                    if let (Some(a), Some(b)) = (outcome.p50, outcome.p99) {
                        p50[i].push(ms(a));
                        p99[i].push(ms(b));
                    }
                }
                Err(why) => failed[i] = Some(why),
            }
        }
    }
    let values: Vec<f64> =
        times.into_iter().zip(&failed).map(|(t, f)| if f.is_some() { f64::NAN } else { median(t) }).collect();
    let notes = p50
        .into_iter()
        .zip(p99)
        .zip(failed)
        .map(|((a, b), failed)| match failed {
            Some(why) => Some(format!("fails its check: {why}")),
            None => (!a.is_empty()).then(|| format!("p50 {}, p99 {}", micros(median(a)), micros(median(b)))),
        })
        .collect();
    Row {
        workload: workload.name().to_owned(),
        detail: workload.describe(sizes),
        flavour,
        unit: Unit::Millis,
        values,
        notes,
    }
}

/// One run of `workload` on `framework`, or the first line of the panic of
/// a run that failed its check.
fn checked_run(framework: &Entry, workload: Workload, flavour: Flavour, sizes: Sizes) -> Result<Outcome, String> {
    std::panic::catch_unwind(|| (framework.run)(workload, flavour, sizes)).map_err(|panic| {
        let text = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("a panic");
        text.lines().next().unwrap_or(text).to_owned()
    })
}

/// Measures idle actors of one framework in a fresh child process.
fn idle_child(framework: &str, flavour: Flavour, actors: u64) -> IdleSample {
    let exe = std::env::current_exe().expect("cannot find this executable");
    let output = Command::new(exe)
        .args(["--idle-child", framework, flavour.name(), &actors.to_string()])
        .output()
        .expect("cannot start a child process");
    assert!(
        output.status.success(),
        "idle child for {framework} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<u64> = stdout
        .split_whitespace()
        .map(|f| f.parse().unwrap_or_else(|_| panic!("idle child printed {stdout:?}")))
        .collect();
    let [spawn_ns, rss_before, rss_after] = fields[..] else { panic!("idle child printed {stdout:?}") };
    IdleSample { actors, spawn: Duration::from_nanos(spawn_ns), rss_before, rss_after }
}

/// The child side of [`idle_child`].
fn run_idle_child(args: &[String]) -> ExitCode {
    let [framework, flavour, actors] = args else { return ExitCode::FAILURE };
    let flavour = if flavour == "multi" { Flavour::Multi } else { Flavour::Current };
    let actors: u64 = actors.parse().expect("actor count");
    let entry = frameworks().into_iter().find(|e| e.name == framework).expect("unknown framework");
    let sample = (entry.idle)(flavour, actors);
    println!("{} {} {}", sample.spawn.as_nanos(), sample.rss_before, sample.rss_after);
    // Exit at once: tearing down 100,000 actors is not part of the measure.
    std::process::exit(0)
}

/// Spawn time and RSS per idle actor, both flavours, median of the runs.
fn measure_idle(options: &Options, all: &[Entry]) -> Vec<Row> {
    let n = options.idle_actors;
    let mut spawn_rows = Vec::new();
    let mut memory_rows = Vec::new();
    for flavour in Flavour::ALL {
        let mut spawn = Vec::new();
        let mut bytes = Vec::new();
        for framework in all {
            let samples: Vec<IdleSample> =
                (0..options.idle_runs).map(|_| idle_child(framework.name, flavour, n)).collect();
            spawn.push(median(samples.iter().map(|s| ms(s.spawn)).collect()));
            bytes.push(median(samples.iter().map(|s| s.bytes_per_actor()).collect()));
        }
        let line: Vec<String> = all
            .iter()
            .zip(spawn.iter().zip(&bytes))
            .map(|(e, (t, b))| format!("{} {t:.1} ms {b:.0} B", e.name))
            .collect();
        eprintln!("  idle/{}: {}", flavour.name(), line.join(", "));
        let detail = format!("spawn {n} actors, tell + ask each once (fresh process)");
        spawn_rows.push(Row::without_notes("spawn", detail, flavour, Unit::Millis, spawn));
        let detail = format!("RSS growth per idle actor, {n} actors (fresh process)");
        memory_rows.push(Row::without_notes("idle_memory", detail, flavour, Unit::Bytes, bytes));
    }
    spawn_rows.extend(memory_rows);
    spawn_rows
}

/// The CPU model, from `/proc/cpuinfo`.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Today's date (UTC), as YYYY-MM-DD.
fn today() -> String {
    let days = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() / 86_400).unwrap_or(0) as i64;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn rustc_version() -> String {
    Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--idle-child") {
        return run_idle_child(&args[1..]);
    }
    let options = match parse(&args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("savina: {e}");
            return ExitCode::FAILURE;
        }
    };
    let wanted = |name: &str| options.only.as_ref().is_none_or(|only| only.iter().any(|o| o == name));
    let all = frameworks();
    let sizes = Sizes::new(options.scale);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let setup = vec![
        format!("date: {}", today()),
        format!("machine: {cores} cores, {} (shared, noisy: compare ratios, not absolute times)", cpu_model()),
        format!("toolchain: {}, release profile", rustc_version()),
        format!(
            "scale factor: {} of the nominal sizes; {} samples per cell after one warm-up run, median; \
             frameworks interleaved within each sample",
            options.scale, options.samples
        ),
        format!("idle actors: {} per process, median of {} fresh processes", options.idle_actors, options.idle_runs),
        format!(
            "command: `cargo run --release -p benches{} --bin savina{}`",
            if all.len() > 2 { " --features peers" } else { "" },
            if options.quick { " -- --quick" } else { "" }
        ),
    ];
    eprintln!("Savina comparison; scale factor {} (sizes below), {} samples", options.scale, options.samples);
    eprintln!("frameworks: {}", all.iter().map(|e| e.name).collect::<Vec<_>>().join(", "));

    let mut rows = Vec::new();
    for workload in Workload::ALL {
        if !wanted(workload.name()) {
            continue;
        }
        for flavour in Flavour::ALL {
            let row = measure(&options, &all, workload, flavour, sizes);
            let line: Vec<String> = all
                .iter()
                .zip(&row.values)
                .map(|(e, v)| match v.is_nan() {
                    true => format!("{} fails its check", e.name),
                    false => format!("{} {v:.1} ms", e.name),
                })
                .collect();
            eprintln!("  {}/{} ({}): {}", workload.name(), flavour.name(), row.detail, line.join(", "));
            rows.push(row);
        }
    }
    if wanted("idle") {
        rows.extend(measure_idle(&options, &all));
    }

    let report = Report { frameworks: all.iter().map(|e| e.name).collect(), rows, setup };
    let markdown = report.markdown("savina.svg");
    println!("{markdown}");
    if let Some(dir) = &options.out {
        std::fs::create_dir_all(dir).expect("cannot create the output directory");
        std::fs::write(dir.join("savina.md"), &markdown).expect("cannot write savina.md");
        std::fs::write(dir.join("savina.svg"), report.svg()).expect("cannot write savina.svg");
        eprintln!("wrote savina.md and savina.svg to {}", dir.display());
    }
    ExitCode::SUCCESS
}
