//! Pages that change by themselves: an error page stamped with the time it was made (squid's
//! "Generated <date> by <host>"), a status page with a counter. Their digest differs between any
//! two answers, the original's own included, so comparing digests would call every lift of them
//! different. When the digests differ, the original is asked twice more, a second apart: the
//! lines that differ between its own two answers are the page's varying part, and the lifted
//! app answers the same when every other line is the original's.

/// How many lines vary between the original's answers `a` and `b`, when `lifted` has every
/// other line of theirs (and as many lines); None when it does not, or when the original's
/// answers do not vary by line (then a difference is the lifted app's).
pub fn same_apart_from_varying(a: &[u8], b: &[u8], lifted: &[u8]) -> Option<usize> {
    let (a, b, l) = (lines(a), lines(b), lines(lifted));
    if a.len() != b.len() || a.len() != l.len() || a == b {
        return None;
    }
    let mut varying = 0;
    for ((x, y), z) in a.iter().zip(&b).zip(&l) {
        if x != y {
            varying += 1;
        } else if x != z {
            return None;
        }
    }
    Some(varying)
}

fn lines(body: &[u8]) -> Vec<&[u8]> {
    body.split(|&c| c == b'\n').collect()
}

#[cfg(test)]
mod tests {
    use super::same_apart_from_varying as same;

    #[test]
    fn only_the_lines_the_original_changes_itself_may_differ() {
        let a = b"<h1>Error</h1>\n<p>Generated 07:01:27 by vm</p>\n</html>\n";
        let b = b"<h1>Error</h1>\n<p>Generated 07:01:28 by vm</p>\n</html>\n";
        let lifted = b"<h1>Error</h1>\n<p>Generated 07:01:29 by 3f2a9c</p>\n</html>\n";
        assert_eq!(same(a, b, lifted), Some(1));
        let other = b"<h1>Other</h1>\n<p>Generated 07:01:29 by vm</p>\n</html>\n";
        assert_eq!(same(a, b, other), None, "a stable line differs");
        assert_eq!(
            same(a, a, lifted),
            None,
            "a stable original: the lift differs"
        );
        assert_eq!(same(a, b, b"<h1>Error</h1>\n"), None, "fewer lines");
    }
}
