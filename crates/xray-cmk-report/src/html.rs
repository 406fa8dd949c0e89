//! `xray-cmk report`: one self-contained HTML file (no external assets: inline CSS, an inline SVG
//! chart, a few lines of inline script for the filter) that prints well.
//!
//! The page is a MiniJinja template (`templates/report.html.j2`, compiled into the binary) over a
//! JSON context the command assembles from the history; values are HTML-escaped by the engine.

use serde_json::Value;

const TEMPLATE: &str = include_str!("../templates/report.html.j2");

/// Why the report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("report template: {0}")]
    Template(minijinja::Error),
    #[error("rendering the report: {0:#}")]
    Render(minijinja::Error),
}

/// Renders the report from `context` (see the template for the fields it reads).
pub fn render(context: &Value) -> Result<String, RenderError> {
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.add_template("report.html", TEMPLATE)
        .map_err(RenderError::Template)?;
    let template = env
        .get_template("report.html")
        .map_err(RenderError::Template)?;
    template
        .render(minijinja::Value::from(minijinja::value::Serde(context)))
        .map_err(RenderError::Render)
}

/// The compliance trend as an inline SVG line chart: one point per audit run, 0–100 %.
pub fn trend_svg(points: &[(String, Option<f64>)]) -> String {
    let (w, h, left, bottom, top) = (720.0_f64, 200.0_f64, 40.0_f64, 24.0_f64, 10.0_f64);
    let plot_w = w - left - 10.0;
    let plot_h = h - bottom - top;
    let n = points.len();
    let x = |i: usize| {
        if n <= 1 {
            left + plot_w / 2.0
        } else {
            left + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y = |pct: f64| top + plot_h * (1.0 - pct / 100.0);
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="Compliance per audit run">"##
    );
    for pct in [0.0, 50.0, 100.0] {
        svg.push_str(&format!(
            r##"<line x1="{left}" x2="{}" y1="{y}" y2="{y}" stroke="#d0d7de"/><text x="{}" y="{}" text-anchor="end">{pct:.0}%</text>"##,
            w - 10.0,
            left - 6.0,
            y(pct) + 4.0,
            y = y(pct)
        ));
    }
    let known: Vec<(usize, f64)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, (_, p))| p.map(|p| (i, p)))
        .collect();
    let path: Vec<String> = known
        .iter()
        .map(|(i, p)| format!("{:.1},{:.1}", x(*i), y(*p)))
        .collect();
    if !path.is_empty() {
        svg.push_str(&format!(
            r##"<polyline fill="none" stroke="#0969da" stroke-width="2" points="{}"/>"##,
            path.join(" ")
        ));
    }
    for (i, p) in &known {
        let label = html_escape(&points[*i].0);
        svg.push_str(&format!(
            r##"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="#0969da"><title>{label}: {p:.1}%</title></circle>"##,
            x(*i),
            y(*p)
        ));
    }
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        let date = |s: &str| html_escape(s.get(..16).unwrap_or(s));
        svg.push_str(&format!(
            r##"<text x="{left}" y="{}">{}</text><text x="{}" y="{}" text-anchor="end">{}</text>"##,
            h - 6.0,
            date(&first.0),
            w - 10.0,
            h - 6.0,
            date(&last.0)
        ));
    }
    svg.push_str("</svg>");
    svg
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trend_is_an_inline_svg_with_a_point_per_run() {
        let svg = trend_svg(&[
            ("2026-12-01T10:00:00Z".into(), Some(25.0)),
            ("2026-12-01T11:00:00Z".into(), None),
            ("2026-12-01T12:00:00Z".into(), Some(90.0)),
        ]);
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("25.0%") && svg.contains("90.0%"));
    }

    #[test]
    fn values_are_escaped() {
        let ctx = serde_json::json!({
            "generated_at": "<now>", "version": "0", "scope": "<script>x</script>",
            "kpi": {"since": "s", "runs": 0, "compliance": {"now": null},
                    "mttr": {"remediated": []}, "findings": {"open": 0},
                    "cost": {"keys": 0, "assumptions": []}},
            "compliance_now": "-", "mttr": "-", "mttr_median": "-", "open_by_severity": "",
            "cost_now": "$0", "cost_max": "$0", "trend_svg": "<svg></svg>",
            "heat": {"regions": [], "rows": []}, "groups": [], "keys": [], "exemptions": [],
            "evidence": [],
        });
        let html = render(&ctx).expect("render");
        assert!(html.contains("&lt;script&gt;x"), "escaped");
        assert!(!html.contains("<script>x"), "escaped");
        assert!(html.contains("<svg></svg>"), "the chart is trusted markup");
        assert!(
            !html.contains("http://") || html.contains("xmlns"),
            "no external assets"
        );
    }
}
