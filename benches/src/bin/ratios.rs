//! The ratio table and chart of the `core` bench, from criterion's results.
//!
//! ```sh
//! cargo bench -p benches --bench core                    # writes target/criterion
//! cargo run --release -p benches --bin idle_memory       # optional: memory row
//! cargo run --release -p benches --bin ratios            # prints the tables
//! ```
//!
//! For each local workload and runtime flavour it reads the median time per
//! iteration of `actor_core`, `raw_bounded` and `raw_unbounded`
//! (`target/criterion/<workload>_<flavour>/<side>/<baseline>/estimates.json`),
//! divides by the operations per iteration (the group's throughput, from
//! `new/benchmark.json`), and prints, as markdown:
//!
//! - the main table: per workload, the faster raw side's time per
//!   operation, ours, and the ratio raw / ours (higher is better, 1.00 is
//!   as fast as the hand-written program), for both flavours; then idle
//!   memory per actor, if `idle_memory` has written its results;
//! - the detail table: every side's time per operation, the ratio to each
//!   raw side, and each run's ratio.
//!
//! Runs: criterion keeps only the latest run in `new/`. To combine several
//! runs, save each under its own name and list them:
//!
//! ```sh
//! cargo bench -p benches --bench core -- --save-baseline r1
//! cargo bench -p benches --bench core -- --save-baseline r2
//! cargo run --release -p benches --bin ratios -- --baselines r1,r2
//! ```
//!
//! Each ratio is taken within one run (ours and raw measured minutes apart,
//! on the same machine); the table shows the median over the runs and the
//! range. The chart, a small hand-written SVG of the same ratios with their
//! ranges, goes to `benches/results/core.svg` (`--svg PATH` elsewhere,
//! `--no-svg` for none). Other options: `--criterion DIR` (criterion's
//! output directory), `--memory FILE` (the `idle_memory` results).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use benches::Flavour;
use benches::local::{Side, Workload};
use serde_json::Value;

/// The target's median time per iteration, in nanoseconds, of one side in
/// one run.
fn median_ns(dir: &Path, baseline: &str) -> Result<f64, String> {
    let path = dir.join(baseline).join("estimates.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    json["median"]["point_estimate"].as_f64().ok_or_else(|| format!("{}: no median", path.display()))
}

/// The operations per iteration recorded with a benchmark, if any.
fn elements(dir: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join("new").join("benchmark.json")).ok()?;
    let json: Value = serde_json::from_str(&text).ok()?;
    json["throughput"]["Elements"].as_f64()
}

/// The directory criterion gives a group and function (its
/// `make_filename_safe`: `/` and a few other characters become `_`).
fn bench_dir(root: &Path, group: &str, function: &str) -> PathBuf {
    let safe = |s: &str| s.replace(['?', '"', '/', '\\', '*', '<', '>', ':', '|', '^'], "_");
    root.join(safe(group)).join(safe(function))
}

/// One side's time per operation (ns), per run.
#[derive(Debug, Clone)]
struct Cell {
    ns_per_op: Vec<f64>,
}

/// One workload on one flavour: a cell per side, in [`Side::ALL`] order.
#[derive(Debug, Clone)]
struct Row {
    workload: Workload,
    flavour: Flavour,
    cells: Vec<Cell>,
}

impl Row {
    fn cell(&self, side: Side) -> &Cell {
        &self.cells[Side::ALL.iter().position(|&s| s == side).expect("every side has a cell")]
    }

    fn runs(&self) -> usize {
        self.cells[0].ns_per_op.len()
    }

    /// The faster raw side's time per op in run `i`, and which it was.
    fn best_raw(&self, i: usize) -> (f64, Side) {
        let bounded = self.cell(Side::RawBounded).ns_per_op[i];
        let unbounded = self.cell(Side::RawUnbounded).ns_per_op[i];
        if bounded <= unbounded { (bounded, Side::RawBounded) } else { (unbounded, Side::RawUnbounded) }
    }

    /// Raw / ours in run `i`, against the faster raw side.
    fn ratio(&self, i: usize) -> f64 {
        self.best_raw(i).0 / self.cell(Side::ActorCore).ns_per_op[i]
    }

    /// Raw / ours in run `i`, against one raw side.
    fn ratio_to(&self, raw: Side, i: usize) -> f64 {
        self.cell(raw).ns_per_op[i] / self.cell(Side::ActorCore).ns_per_op[i]
    }

    fn ratios(&self) -> Vec<f64> {
        (0..self.runs()).map(|i| self.ratio(i)).collect()
    }
}

/// Idle memory per actor, bytes, per side (median of the runs).
#[derive(Debug, Clone)]
struct Memory {
    actors: u64,
    runs: usize,
    bytes: Vec<(Side, f64)>,
}

impl Memory {
    fn get(&self, side: Side) -> Option<f64> {
        self.bytes.iter().find(|(s, _)| *s == side).map(|&(_, b)| b)
    }

    /// The smaller raw side's bytes / ours: higher is better.
    fn ratio(&self) -> Option<f64> {
        let raw = self.get(Side::RawBounded)?.min(self.get(Side::RawUnbounded)?);
        Some(raw / self.get(Side::ActorCore)?)
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

fn min_max(values: &[f64]) -> (f64, f64) {
    values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

/// Reads every workload, flavour and side from criterion's directory.
fn read_rows(root: &Path, baselines: &[String]) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for workload in Workload::ALL {
        for flavour in Flavour::ALL {
            let group = format!("{}/{}", workload.name(), flavour.name());
            let mut cells = Vec::new();
            for side in Side::ALL {
                let dir = bench_dir(root, &group, side.name());
                let ops = elements(&dir).unwrap_or(workload.ops_per_iter() as f64);
                let ns_per_op =
                    baselines.iter().map(|b| median_ns(&dir, b).map(|ns| ns / ops)).collect::<Result<Vec<_>, _>>()?;
                cells.push(Cell { ns_per_op });
            }
            rows.push(Row { workload, flavour, cells });
        }
    }
    Ok(rows)
}

/// Reads `idle_memory`'s results.
fn read_memory(path: &Path) -> Result<Memory, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let actors = json["actors"].as_u64().ok_or("no actor count")?;
    let mut runs = 0;
    let mut bytes = Vec::new();
    for side in Side::ALL {
        let list: Vec<f64> = json["bytes_per_actor"][side.name()]
            .as_array()
            .ok_or_else(|| format!("no figures for {}", side.name()))?
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        if list.is_empty() {
            return Err(format!("no figures for {}", side.name()));
        }
        runs = list.len();
        bytes.push((side, median(&list)));
    }
    Ok(Memory { actors, runs, bytes })
}

/// A time per operation, with a unit that keeps three digits or so.
fn time(ns: f64) -> String {
    if ns >= 10_000.0 { format!("{:.1} µs", ns / 1_000.0) } else { format!("{ns:.0} ns") }
}

fn short(side: Side) -> &'static str {
    match side {
        Side::ActorCore => "ours",
        Side::RawBounded => "b",
        Side::RawUnbounded => "u",
    }
}

/// The ratio cell: median, and the range when there is more than one run.
fn ratio_cell(ratios: &[f64]) -> String {
    let m = median(ratios);
    if ratios.len() > 1 {
        let (lo, hi) = min_max(ratios);
        format!("**{m:.2}** ({lo:.2}-{hi:.2})")
    } else {
        format!("**{m:.2}**")
    }
}

fn main_table(rows: &[Row], memory: Option<&Memory>) -> String {
    let mut out = String::new();
    out.push_str(
        "| workload (one op) | multi: raw | multi: ours | multi: ratio | current: raw | current: ours | current: ratio |\n",
    );
    out.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    for workload in Workload::ALL {
        let _ = write!(out, "| {} ({}) |", workload.name(), workload.op());
        for flavour in Flavour::ALL {
            let row = rows.iter().find(|r| r.workload == workload && r.flavour == flavour).expect("every row is read");
            let runs = row.runs();
            let raw: Vec<f64> = (0..runs).map(|i| row.best_raw(i).0).collect();
            // Which raw side was faster, in most runs.
            let bounded_wins = (0..runs).filter(|&i| row.best_raw(i).1 == Side::RawBounded).count();
            let which = if 2 * bounded_wins >= runs { Side::RawBounded } else { Side::RawUnbounded };
            let _ = write!(
                out,
                " {} ({}) | {} | {} |",
                time(median(&raw)),
                short(which),
                time(median(&row.cell(Side::ActorCore).ns_per_op)),
                ratio_cell(&row.ratios())
            );
        }
        out.push('\n');
    }
    if let Some(memory) = memory {
        let raw_b = memory.get(Side::RawBounded).unwrap_or(f64::NAN);
        let raw_u = memory.get(Side::RawUnbounded).unwrap_or(f64::NAN);
        let (raw, which) = if raw_b <= raw_u { (raw_b, Side::RawBounded) } else { (raw_u, Side::RawUnbounded) };
        let _ = writeln!(
            out,
            "| idle memory (bytes per actor) | {raw:.0} B ({}) | {:.0} B | **{:.2}** | | | |",
            short(which),
            memory.get(Side::ActorCore).unwrap_or(f64::NAN),
            memory.ratio().unwrap_or(f64::NAN)
        );
    }
    out
}

fn detail_table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str(
        "| workload | flavour | raw_bounded | raw_unbounded | actor_core | ours vs bounded | ours vs unbounded | \
         ratio per run |\n|---|---|---:|---:|---:|---:|---:|---|\n",
    );
    for row in rows {
        let runs = row.runs();
        let per_run: Vec<String> = row.ratios().iter().map(|r| format!("{r:.2}")).collect();
        let vs = |raw| median(&(0..runs).map(|i| row.ratio_to(raw, i)).collect::<Vec<_>>());
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {:.2} | {:.2} | {} |",
            row.workload.name(),
            row.flavour.name(),
            time(median(&row.cell(Side::RawBounded).ns_per_op)),
            time(median(&row.cell(Side::RawUnbounded).ns_per_op)),
            time(median(&row.cell(Side::ActorCore).ns_per_op)),
            vs(Side::RawBounded),
            vs(Side::RawUnbounded),
            per_run.join(", ")
        );
    }
    out
}

/// The chart: per workload a bar per flavour (the median ratio) with the
/// range of the runs as a whisker, on a log scale, with lines at 1.0 and at
/// the issue's target of 0.8; then idle memory.
fn svg(rows: &[Row], memory: Option<&Memory>, title: &str) -> String {
    const LABEL_W: f64 = 200.0;
    const PLOT_W: f64 = 480.0;
    const BAR_H: f64 = 9.0;
    const GAP: f64 = 10.0;
    const COLOURS: [(&str, &str); 2] = [("multi", "#1f77b4"), ("current", "#ff7f0e")];
    // The axis: powers of two that cover every ratio and 1/4 .. 2.
    let mut all: Vec<f64> = rows.iter().flat_map(Row::ratios).collect();
    all.extend(memory.and_then(Memory::ratio));
    let (lo, hi) = min_max(&all);
    let log_min = lo.min(0.25).log2().floor();
    let log_max = hi.max(2.0).log2().ceil();
    let x = |r: f64| LABEL_W + (r.log2().clamp(log_min, log_max) - log_min) / (log_max - log_min) * PLOT_W;

    let mut body = String::new();
    let top = 50.0;
    let mut y = top;
    let bar = |body: &mut String, y: f64, colour: &str, label: &str, ratios: &[f64]| {
        let m = median(ratios);
        let (a, b) = (x(1.0).min(x(m)), x(1.0).max(x(m)));
        let _ = writeln!(
            body,
            r#"<rect x="{a:.1}" y="{y:.1}" width="{:.1}" height="{BAR_H}" fill="{colour}"><title>{label}: {m:.2}</title></rect>"#,
            (b - a).max(1.0)
        );
        if ratios.len() > 1 {
            let (r0, r1) = min_max(ratios);
            let mid = y + BAR_H / 2.0;
            let _ = writeln!(
                body,
                r##"<line x1="{:.1}" y1="{mid:.1}" x2="{:.1}" y2="{mid:.1}" stroke="#333" stroke-width="1"/>"##,
                x(r0),
                x(r1)
            );
        }
        let _ = writeln!(
            body,
            r#"<text x="{:.1}" y="{:.1}" font-size="9">{m:.2}</text>"#,
            x(m).max(x(1.0)) + 4.0,
            y + BAR_H - 1.0
        );
    };
    for workload in Workload::ALL {
        let group_h = 2.0 * BAR_H + GAP;
        let _ = writeln!(
            body,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{} ({})</text>"#,
            LABEL_W - 8.0,
            y + BAR_H + 3.0,
            workload.name(),
            workload.op()
        );
        for (k, (flavour, colour)) in COLOURS.iter().enumerate() {
            let row = rows
                .iter()
                .find(|r| r.workload == workload && r.flavour.name() == *flavour)
                .expect("every row is read");
            bar(&mut body, y + k as f64 * BAR_H, colour, &format!("{} {flavour}", workload.name()), &row.ratios());
        }
        y += group_h;
    }
    if let Some(ratio) = memory.and_then(Memory::ratio) {
        let _ = writeln!(
            body,
            r#"<text x="{}" y="{:.1}" text-anchor="end">idle memory (bytes per actor)</text>"#,
            LABEL_W - 8.0,
            y + BAR_H - 1.0
        );
        bar(&mut body, y, "#2ca02c", "idle memory, multi", &[ratio]);
        y += BAR_H + GAP;
    }
    // Grid lines, 1.0 and the target.
    benches::chart::log_grid(&mut body, log_min as i32..=log_max as i32, x, top - 4.0, y);
    let tx = x(0.8);
    let _ = writeln!(
        body,
        r##"<line x1="{tx:.1}" y1="{}" x2="{tx:.1}" y2="{y:.1}" stroke="#d62728" stroke-width="1" stroke-dasharray="4 3"/>"##,
        top - 4.0
    );
    let _ = writeln!(
        body,
        r##"<text x="{tx:.1}" y="{:.1}" text-anchor="middle" fill="#d62728" font-size="9">0.8</text>"##,
        top - 8.0
    );
    // Legend.
    let ly = y + 30.0;
    let mut lx = LABEL_W;
    for (name, colour) in COLOURS.iter().chain([("idle memory", "#2ca02c")].iter()) {
        let label = match *name {
            "multi" => "multi-thread, 2 workers",
            "current" => "current-thread",
            other => other,
        };
        let _ = writeln!(body, r#"<rect x="{lx}" y="{:.1}" width="12" height="12" fill="{colour}"/>"#, ly - 10.0);
        let _ = writeln!(body, r#"<text x="{}" y="{ly:.1}">{label}</text>"#, lx + 16.0);
        lx += 170.0;
    }
    let height = ly + 16.0;
    let width = LABEL_W + PLOT_W + 50.0;
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="18" font-size="13" font-weight="bold">{title}</text>
<text x="10" y="34" font-size="10">raw time / our time per operation (bytes for memory), log scale; right of 1 is faster than the hand-written tokio program; whiskers: range over the runs</text>
{body}</svg>
"##
    )
}

#[derive(Debug)]
struct Options {
    criterion: PathBuf,
    baselines: Vec<String>,
    memory: PathBuf,
    svg: Option<PathBuf>,
    title: String,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    // target/<profile>/ratios -> target/criterion
    let target = exe.parent().and_then(|p| p.parent()).ok_or("the executable is not in a target directory")?;
    let criterion = target.join("criterion");
    let mut options = Options {
        memory: criterion.join("idle_memory.json"),
        criterion,
        baselines: vec!["new".into()],
        svg: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results").join("core.svg")),
        title: "actor_core against hand-written tokio, per workload".into(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--criterion" => options.criterion = PathBuf::from(value()?),
            "--baselines" => options.baselines = value()?.split(',').map(str::to_owned).collect(),
            "--memory" => options.memory = PathBuf::from(value()?),
            "--svg" => options.svg = Some(PathBuf::from(value()?)),
            "--no-svg" => options.svg = None,
            "--title" => options.title = value()?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("ratios: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rows = match read_rows(&options.criterion, &options.baselines) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("ratios: {e}\n(run `cargo bench -p benches --bench core` first)");
            return ExitCode::FAILURE;
        }
    };
    let memory = match read_memory(&options.memory) {
        Ok(memory) => Some(memory),
        Err(e) => {
            eprintln!("ratios: no idle memory figures ({e}); run `cargo run --release -p benches --bin idle_memory`");
            None
        }
    };
    println!(
        "Ratio = raw time / our time per operation (higher is better; 1.00 = as fast as the hand-written \
         program), against the faster raw side (b: bounded, u: unbounded channel). Median of {} run(s) \
         ({}), range in brackets.\n",
        options.baselines.len(),
        options.baselines.join(", ")
    );
    print!("{}", main_table(&rows, memory.as_ref()));
    if let Some(memory) = &memory {
        println!(
            "\nIdle memory: RSS growth per actor, {} actors, multi-thread runtime, median of {} processes; \
             raw_bounded {:.0} B, raw_unbounded {:.0} B, actor_core {:.0} B.",
            memory.actors,
            memory.runs,
            memory.get(Side::RawBounded).unwrap_or(f64::NAN),
            memory.get(Side::RawUnbounded).unwrap_or(f64::NAN),
            memory.get(Side::ActorCore).unwrap_or(f64::NAN)
        );
    }
    println!("\nEvery side, time per operation (median of the runs):\n");
    print!("{}", detail_table(&rows));
    if let Some(path) = &options.svg {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        match std::fs::write(path, svg(&rows, memory.as_ref(), &options.title)) {
            Ok(()) => eprintln!("wrote {}", path.display()),
            Err(e) => {
                eprintln!("ratios: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ours: f64, bounded: f64, unbounded: f64) -> Row {
        let cell = |ns| Cell { ns_per_op: vec![ns] };
        Row {
            workload: Workload::Tell,
            flavour: Flavour::Multi,
            cells: vec![cell(ours), cell(bounded), cell(unbounded)],
        }
    }

    #[test]
    fn the_ratio_is_the_faster_raw_over_ours() {
        let r = row(50.0, 40.0, 30.0);
        assert_eq!(r.best_raw(0), (30.0, Side::RawUnbounded));
        assert!((r.ratio(0) - 0.6).abs() < 1e-12);
        assert!((r.ratio_to(Side::RawBounded, 0) - 0.8).abs() < 1e-12);
    }

    #[test]
    fn results_are_read_from_criterion_layout() {
        let root = std::env::temp_dir().join(format!("ratios-test-{}", std::process::id()));
        for workload in Workload::ALL {
            for flavour in Flavour::ALL {
                for (side, ns) in Side::ALL.into_iter().zip([200.0, 100.0, 150.0]) {
                    let dir = bench_dir(&root, &format!("{}/{}", workload.name(), flavour.name()), side.name());
                    std::fs::create_dir_all(dir.join("new")).unwrap();
                    std::fs::write(
                        dir.join("new").join("estimates.json"),
                        format!(r#"{{"median":{{"point_estimate":{}}}}}"#, ns * 10.0),
                    )
                    .unwrap();
                    std::fs::write(dir.join("new").join("benchmark.json"), r#"{"throughput":{"Elements":10}}"#)
                        .unwrap();
                }
            }
        }
        let rows = read_rows(&root, &["new".into()]).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(rows.len(), Workload::ALL.len() * 2);
        assert!(rows.iter().all(|r| (r.ratio(0) - 0.5).abs() < 1e-12));
        let table = main_table(&rows, None);
        assert!(table.contains("| tell (tell) | 100 ns (b) | 200 ns | **0.50** |"), "{table}");
        let chart = svg(&rows, None, "t");
        assert_eq!(chart.matches("<rect x=").count(), Workload::ALL.len() * 2 + 3, "a bar per row, a legend");
    }
}
