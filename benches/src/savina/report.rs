//! The results table (markdown) and chart (SVG).
