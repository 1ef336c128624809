//! Small text helpers the report encoders share.

/// Decimal units, one decimal: what people compare with `du --si` and registry listings.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Joins words into one line a shell reads back as the same words.
pub fn shell_join<'a>(words: impl IntoIterator<Item = &'a String>) -> String {
    words
        .into_iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quote(w: &str) -> String {
    let plain = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

/// A percentage with no false precision: `0.4%`, `38%`.
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "–".to_string();
    }
    let p = part as f64 * 100.0 / whole as f64;
    if p < 10.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_quotes() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(11_500_000), "11.5 MB");
        let words = ["/usr/sbin/nginx", "-g", "daemon off;"].map(String::from);
        assert_eq!(shell_join(&words), "/usr/sbin/nginx -g 'daemon off;'");
        assert_eq!(percent(1, 3), "33%");
        assert_eq!(percent(1, 300), "0.3%");
    }
}
