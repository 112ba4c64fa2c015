//! What the SVG charts of the ratio reports share.

use std::fmt::Write as _;
use std::ops::RangeInclusive;

/// Draws the vertical grid of a log2 ratio axis into `body`: one line per
/// power of two in `powers` from `top` down to `bottom` (the line at 1.0
/// darker), each labelled below `bottom` (`1/4`, `1/2`, `1`, `2`, …). `x`
/// maps a ratio to its horizontal position.
///
/// ```
/// let mut body = String::new();
/// benches::chart::log_grid(&mut body, -1..=1, |r| 100.0 * r, 10.0, 50.0);
/// assert_eq!(body.matches("<line").count(), 3);
/// assert!(body.contains(">1/2</text>") && body.contains(">2</text>"));
/// ```
pub fn log_grid(body: &mut String, powers: RangeInclusive<i32>, x: impl Fn(f64) -> f64, top: f64, bottom: f64) {
    for p in powers {
        let gx = x(2f64.powi(p));
        let label = if p >= 0 { format!("{}", 1 << p) } else { format!("1/{}", 1 << -p) };
        let (stroke, width) = if p == 0 { ("#000", 1.5) } else { ("#bbb", 0.5) };
        let _ = writeln!(
            body,
            r#"<line x1="{gx:.1}" y1="{top:.1}" x2="{gx:.1}" y2="{bottom:.1}" stroke="{stroke}" stroke-width="{width}"/>"#
        );
        let _ = writeln!(body, r#"<text x="{gx:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#, bottom + 12.0);
    }
}
