//! The results table (markdown) and chart (SVG) of a comparison run.
//!
//! The chart is written by hand (rectangles, lines and text elements): it
//! is a bar chart, and a plotting library would bring font dependencies
//! for text that a browser renders anyway.

use std::fmt::Write as _;

use super::{Flavour, Framework, Raw};

/// What a row measures, and in what unit its values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A time, in milliseconds.
    Millis,
    /// Bytes per actor.
    Bytes,
}

/// One workload on one flavour: a value per framework (lower is better).
#[derive(Debug, Clone)]
pub struct Row {
    /// The workload's name.
    pub workload: String,
    /// What one run does.
    pub detail: String,
    /// The runtime flavour.
    pub flavour: Flavour,
    /// The unit of `values`.
    pub unit: Unit,
    /// One value per framework, in the order of [`Report::frameworks`].
    pub values: Vec<f64>,
    /// Optional notes per framework (such as latency percentiles).
    pub notes: Vec<Option<String>>,
}

impl Row {
    /// A row without notes: one `None` per value.
    pub fn without_notes(workload: &str, detail: String, flavour: Flavour, unit: Unit, values: Vec<f64>) -> Self {
        let notes = vec![None; values.len()];
        Row { workload: workload.to_owned(), detail, flavour, unit, values, notes }
    }
}

/// Everything a run measured, and where.
#[derive(Debug, Clone)]
pub struct Report {
    /// The frameworks, raw tokio among them.
    pub frameworks: Vec<&'static str>,
    /// The measurements.
    pub rows: Vec<Row>,
    /// The machine, the date, the sizes and the command, one line each.
    pub setup: Vec<String>,
}

impl Report {
    fn raw_index(&self) -> usize {
        self.frameworks.iter().position(|&f| f == Raw::NAME).expect("raw tokio is always measured")
    }

    /// The frameworks other than raw tokio, with their indices.
    fn compared(&self) -> Vec<(usize, &'static str)> {
        let raw = self.raw_index();
        self.frameworks.iter().copied().enumerate().filter(|&(i, _)| i != raw).collect()
    }

    /// Raw's value divided by framework `i`'s: above 1 is faster (or
    /// smaller) than raw tokio.
    pub fn ratio(&self, row: &Row, i: usize) -> f64 {
        row.values[self.raw_index()] / row.values[i]
    }

    /// The markdown report: setup, ratios, absolute values.
    pub fn markdown(&self, chart_file: &str) -> String {
        let mut out = String::new();
        let compared = self.compared();
        out.push_str("# Savina comparison\n\n");
        for line in &self.setup {
            let _ = writeln!(out, "- {line}");
        }
        out.push_str(
            "\n## Ratio to raw tokio, same run\n\n\
             Raw tokio's value divided by the framework's (time, or bytes per actor), both \
             measured in the same process: above 1.00 is faster (or smaller) than a hand-written \
             tokio task and channel, below is slower. Values under 0.50 (more than 2x behind raw) \
             are in bold. A framework whose run gave a wrong result is not timed (\"fails its \
             check\"; the absolute table says which check).\n\n",
        );
        let _ = write!(out, "| workload | flavour |");
        for (_, name) in &compared {
            let _ = write!(out, " {name} |");
        }
        out.push_str("\n|---|---|");
        for _ in &compared {
            out.push_str("---:|");
        }
        out.push('\n');
        for row in &self.rows {
            let _ = write!(out, "| {} | {} |", row.workload, row.flavour.name());
            for &(i, _) in &compared {
                let ratio = self.ratio(row, i);
                if ratio.is_nan() {
                    out.push_str(" fails its check |");
                } else if ratio < 0.5 {
                    let _ = write!(out, " **{ratio:.2}** |");
                } else {
                    let _ = write!(out, " {ratio:.2} |");
                }
            }
            out.push('\n');
        }
        let _ = write!(out, "\n![ratio to raw tokio, log scale]({chart_file})\n");

        out.push_str("\n## Absolute values (median of the samples)\n\n");
        let _ = write!(out, "| workload | what one run does | flavour |");
        for name in &self.frameworks {
            let _ = write!(out, " {name} |");
        }
        out.push_str("\n|---|---|---|");
        for _ in &self.frameworks {
            out.push_str("---:|");
        }
        out.push('\n');
        for row in &self.rows {
            let _ = write!(out, "| {} | {} | {} |", row.workload, row.detail, row.flavour.name());
            for (value, note) in row.values.iter().zip(&row.notes) {
                let value = match row.unit {
                    _ if value.is_nan() => "not timed".to_owned(),
                    Unit::Millis => format!("{value:.1} ms"),
                    Unit::Bytes => format!("{value:.0} B"),
                };
                match note {
                    Some(note) => {
                        let _ = write!(out, " {value} ({note}) |");
                    }
                    None => {
                        let _ = write!(out, " {value} |");
                    }
                }
            }
            out.push('\n');
        }
        out
    }

    /// The chart: per flavour, one group of bars per workload, one bar per
    /// framework, on a log scale centred on raw tokio (1.0).
    pub fn svg(&self) -> String {
        const COLOURS: [&str; 6] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
        const LABEL_W: f64 = 190.0;
        const PLOT_W: f64 = 520.0;
        const BAR_H: f64 = 7.0;
        const GAP: f64 = 8.0;
        // The axis covers ratios 1/32 .. 4 (log2 from -5 to 2).
        const LOG_MIN: f64 = -5.0;
        const LOG_MAX: f64 = 2.0;
        let compared = self.compared();
        let x = |ratio: f64| {
            let l = ratio.log2().clamp(LOG_MIN, LOG_MAX);
            LABEL_W + (l - LOG_MIN) / (LOG_MAX - LOG_MIN) * PLOT_W
        };
        let group_h = compared.len() as f64 * BAR_H + GAP;
        let mut body = String::new();
        let mut y = 40.0;
        for flavour in Flavour::ALL {
            let rows: Vec<&Row> = self.rows.iter().filter(|r| r.flavour == flavour).collect();
            if rows.is_empty() {
                continue;
            }
            let title = match flavour {
                Flavour::Multi => "multi-thread runtime, 2 workers (actix: 2 arbiters)",
                Flavour::Current => "current-thread runtime (actix: 1 arbiter)",
            };
            let _ = writeln!(body, r#"<text x="{LABEL_W}" y="{y}" font-weight="bold">{title}</text>"#);
            y += 10.0;
            let top = y;
            for row in &rows {
                let _ = writeln!(
                    body,
                    r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
                    LABEL_W - 6.0,
                    y + group_h / 2.0,
                    row.workload
                );
                for (k, &(i, name)) in compared.iter().enumerate() {
                    let ratio = self.ratio(row, i);
                    if ratio.is_nan() {
                        let _ = writeln!(
                            body,
                            r#"<text x="{:.1}" y="{:.1}" font-size="7">{name}: fails its check</text>"#,
                            x(1.0) + 3.0,
                            y + (k + 1) as f64 * BAR_H - 1.0
                        );
                        continue;
                    }
                    let (x0, x1) = (x(1.0).min(x(ratio)), x(1.0).max(x(ratio)));
                    let _ = writeln!(
                        body,
                        r#"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{BAR_H}" fill="{}"><title>{name}: {ratio:.2}</title></rect>"#,
                        y + k as f64 * BAR_H,
                        (x1 - x0).max(1.0),
                        COLOURS[k % COLOURS.len()]
                    );
                }
                y += group_h;
            }
            // Grid lines and their labels.
            crate::chart::log_grid(&mut body, LOG_MIN as i32..=LOG_MAX as i32, x, top, y);
            y += 40.0;
        }
        // Legend.
        let mut lx = LABEL_W;
        for (k, &(_, name)) in compared.iter().enumerate() {
            let _ = writeln!(
                body,
                r#"<rect x="{lx}" y="{y}" width="12" height="12" fill="{}"/>"#,
                COLOURS[k % COLOURS.len()]
            );
            let _ = writeln!(body, r#"<text x="{}" y="{}">{name}</text>"#, lx + 16.0, y + 10.0);
            lx += 110.0;
        }
        y += 30.0;
        let width = LABEL_W + PLOT_W + 30.0;
        format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" viewBox="0 0 {width} {y}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
<text x="{LABEL_W}" y="20" font-size="13" font-weight="bold">Ratio to raw tokio (raw / framework, log scale; right of 1 is faster or smaller)</text>
{body}</svg>
"##
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            frameworks: vec!["actor_core", "raw_tokio", "kameo"],
            rows: vec![Row {
                workload: "tell".into(),
                detail: "1 actor".into(),
                flavour: Flavour::Multi,
                unit: Unit::Millis,
                values: vec![10.0, 20.0, 50.0],
                notes: vec![None, None, Some("p50 1 µs".into())],
            }],
            setup: vec!["machine: test".into()],
        }
    }

    #[test]
    fn ratios_are_raw_over_framework_and_slow_ones_are_bold() {
        let report = report();
        assert_eq!(report.ratio(&report.rows[0], 0), 2.0);
        let md = report.markdown("chart.svg");
        assert!(md.contains("| tell | multi | 2.00 | **0.40** |"), "{md}");
        assert!(md.contains("50.0 ms (p50 1 µs)"), "{md}");
    }

    #[test]
    fn the_chart_has_one_bar_per_framework_and_workload() {
        let svg = report().svg();
        assert_eq!(svg.matches("<title>").count(), 2);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
    }
}
