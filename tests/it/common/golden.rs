//! Golden files for CLI output, the way uv snapshots its CLI: the command, its exit code, stdout
//! and stderr in one reviewed text file under `tests/golden/cli/`. `LIFTKIT_BLESS=1` rewrites
//! them; review the change with `git diff tests/golden/cli`. Variable parts (temporary paths,
//! pids, ports) are replaced by `[NAME]` placeholders before comparing.

use std::path::Path;
use std::process::Command;

/// Runs `cmd` (liftkit, with `shown` as the arguments to print), with the environment made
/// stable, and renders what it did; `filters` are (regex, replacement) pairs applied after.
pub fn run_for_golden(cmd: &mut Command, shown: &str, filters: &[(&str, &str)]) -> String {
    let out = cmd
        .env("COLUMNS", "100")
        .env("NO_COLOR", "1")
        .env_remove("LINES")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let code = out
        .status
        .code()
        .map_or_else(|| "signal".to_string(), |c| c.to_string());
    let text = format!(
        "$ liftkit {shown}\nexit code: {code}\n----- stdout -----\n{}----- stderr -----\n{}",
        ensure_newline(&String::from_utf8_lossy(&out.stdout)),
        ensure_newline(&String::from_utf8_lossy(&out.stderr)),
    );
    apply(&text, filters)
}

pub fn apply(text: &str, filters: &[(&str, &str)]) -> String {
    let repo = env!("CARGO_MANIFEST_DIR");
    let mut text = text.replace(repo, "[REPO]");
    for (pattern, replacement) in filters {
        let re = regex::Regex::new(pattern).unwrap_or_else(|e| panic!("filter {pattern}: {e}"));
        text = re.replace_all(&text, *replacement).into_owned();
    }
    text
}

fn ensure_newline(s: &str) -> String {
    if s.is_empty() || s.ends_with('\n') {
        s.to_string()
    } else {
        format!("{s}\n[no newline at the end]\n")
    }
}

/// Compares `actual` with `tests/golden/cli/<name>.txt`, or writes it under `LIFTKIT_BLESS`.
pub fn assert_golden(name: &str, actual: &str) {
    assert_golden_file(&format!("tests/golden/cli/{name}.txt"), actual);
}

/// Compares `actual` with the golden file at `rel` (from the repository's root), or writes it
/// under `LIFTKIT_BLESS`; a mismatch panics with the unified diff.
pub fn assert_golden_file(rel: &str, actual: &str) {
    if let Some(diff) = golden_diff(rel, actual) {
        panic!(
            "{rel}: differs from its golden file; if the change is intended, rerun with \
             LIFTKIT_BLESS=1 and review `git diff`:\n{diff}"
        );
    }
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Whether golden files are being rewritten (`LIFTKIT_BLESS` set) rather than compared.
pub fn blessing() -> bool {
    std::env::var_os("LIFTKIT_BLESS").is_some()
}

/// None when `actual` is the golden file at `rel` (or was just written there under bless); else
/// the unified diff, against an empty text when the golden file is missing.
pub fn golden_diff(rel: &str, actual: &str) -> Option<String> {
    let path = repo().join(rel);
    if blessing() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return None;
    }
    let expected = std::fs::read_to_string(&path);
    if expected.as_deref().ok() == Some(actual) {
        return None;
    }
    let expected = expected.unwrap_or_default();
    let diff = similar::TextDiff::from_lines(&expected, actual)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!(
                "{rel}{}",
                if expected.is_empty() {
                    " (missing)"
                } else {
                    ""
                }
            ),
            "this run",
        )
        .to_string();
    Some(diff)
}
