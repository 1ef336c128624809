//! Horizontal bar charts as geometry: the templates draw them as inline SVG, so the report needs
//! no script and no network, and prints as it shows.

use serde::{Deserialize, Serialize};

const LABEL_WIDTH: u32 = 210;
const BAR_AREA: u32 = 500;
const VALUE_WIDTH: u32 = 230;
const ROW: u32 = 30;
const BAR: u32 = 18;
const LABEL_CHARS: usize = 30;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Chart {
    pub width: u32,
    pub height: u32,
    pub rows: Vec<ChartRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChartRow {
    pub label: String,
    pub text_y: u32,
    pub value: String,
    pub value_x: u32,
    pub bars: Vec<ChartBar>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChartBar {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// CSS class: the series (`host`, `image`, `layer`).
    pub class: String,
}

/// One row: a label, bars drawn over each other (the first full height, the later ones inset so
/// a part shows inside its whole), and the text printed after the longest bar.
pub struct Row {
    pub label: String,
    pub bars: Vec<(u64, &'static str)>,
    pub value: String,
}

pub fn bars(rows: Vec<Row>) -> Chart {
    let max = rows
        .iter()
        .flat_map(|r| r.bars.iter().map(|b| b.0))
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = |v: u64| -> u32 {
        if v == 0 {
            0
        } else {
            ((v as f64 / max as f64 * f64::from(BAR_AREA)).round() as u32).max(2)
        }
    };
    let rows: Vec<ChartRow> = rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let top = i as u32 * ROW + (ROW - BAR) / 2;
            let longest = r.bars.iter().map(|b| scale(b.0)).max().unwrap_or(0);
            ChartRow {
                label: truncate(&r.label),
                text_y: top + BAR - 4,
                value: r.value,
                value_x: LABEL_WIDTH + longest + 8,
                bars: r
                    .bars
                    .iter()
                    .enumerate()
                    .map(|(j, (v, class))| {
                        let inset = if j == 0 { 0 } else { 4 };
                        ChartBar {
                            x: LABEL_WIDTH,
                            y: top + inset,
                            width: scale(*v),
                            height: BAR - 2 * inset,
                            class: (*class).to_string(),
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    Chart {
        width: LABEL_WIDTH + BAR_AREA + VALUE_WIDTH,
        height: (rows.len() as u32 * ROW).max(ROW),
        rows,
    }
}

fn truncate(s: &str) -> String {
    if s.chars().count() <= LABEL_CHARS {
        s.to_string()
    } else {
        let cut: String = s.chars().take(LABEL_CHARS - 1).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_value_fills_the_bar_area_and_parts_sit_inside() {
        let c = bars(vec![
            Row {
                label: "a".into(),
                bars: vec![(100, "host"), (25, "image")],
                value: "x".into(),
            },
            Row {
                label: "b".into(),
                bars: vec![(0, "host")],
                value: "y".into(),
            },
        ]);
        assert_eq!(c.rows[0].bars[0].width, BAR_AREA);
        assert_eq!(c.rows[0].bars[1].width, BAR_AREA / 4);
        assert!(c.rows[0].bars[1].height < c.rows[0].bars[0].height);
        assert_eq!(c.rows[1].bars[0].width, 0);
        assert_eq!(c.height, 2 * ROW);
    }
}
