//! An HTML page printed to PDF by headless Chromium, where one is installed: the browser lays
//! out the page exactly as a reader sees it, so the PDF says what the HTML says.
//!
//! Each print uses a new, empty profile directory (removed after) and is cut off from the
//! network: the page is self-contained and nothing should be fetched while printing it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BROWSERS: &[&str] = &["chromium", "chromium-browser", "google-chrome", "chrome"];
const TIMEOUT: Duration = Duration::from_secs(120);

/// The first Chromium on `PATH`.
pub fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    BROWSERS.iter().find_map(|b| {
        std::env::split_paths(&path)
            .map(|d| d.join(b))
            .find(|p| p.is_file())
    })
}

/// Prints `html` to `pdf`; `Err` says why not (no Chromium, or it failed) in a sentence.
/// `date` (`SOURCE_DATE_EPOCH`) is the PDF's creation date; without one it carries none, so the
/// same page prints to the same bytes.
pub fn print(html: &Path, pdf: &Path, date: Option<u64>) -> Result<(), String> {
    let browser =
        chromium().ok_or("no Chromium on PATH (chromium, chromium-browser, google-chrome)")?;
    let page = std::fs::canonicalize(html).map_err(|e| format!("{}: {e}", html.display()))?;
    // Beside the PDF, not in a shared /tmp: nobody else can have made it, and it is removed after.
    let profile = pdf.with_file_name(format!(".chromium-profile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir(&profile).map_err(|e| format!("{}: {e}", profile.display()))?;
    let tmp = pdf.with_extension("pdf.partial");
    let result = run(&browser, &profile, &page, &tmp);
    let _ = std::fs::remove_dir_all(&profile);
    result.and_then(|()| {
        let len = std::fs::metadata(&tmp).map(|m| m.len()).unwrap_or(0);
        if len == 0 {
            return Err(format!("{} wrote no PDF", browser.display()));
        }
        let mut bytes = std::fs::read(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        pin_dates(&mut bytes, date);
        std::fs::write(&tmp, &bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, pdf).map_err(|e| format!("{}: {e}", pdf.display()))
    })
}

fn run(browser: &Path, profile: &Path, page: &Path, out: &Path) -> Result<(), String> {
    // Its chatter goes to a file: a pipe nobody reads while it runs could fill and stall it.
    let log_path = profile.join("stderr.log");
    let log =
        std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
            "--proxy-server=127.0.0.1:9",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--print-to-pdf={}", out.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", browser.display()))?;
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                let err = std::fs::read_to_string(&log_path).unwrap_or_default();
                let last = err.lines().last().unwrap_or_default().to_string();
                return Err(format!("{} failed ({status}): {last}", browser.display()));
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} did not finish printing in {} s",
                    browser.display(),
                    TIMEOUT.as_secs()
                ));
            }
        }
    }
}

/// Chromium stamps the print time into the document information (`/CreationDate` and
/// `/ModDate`, the only bytes that differ between two prints of one page). Each is rewritten in
/// place, at the same length, so the cross-reference offsets stay right: to `date` when given,
/// else blanked to spaces (both entries are optional in PDF).
pub fn pin_dates(pdf: &mut [u8], date: Option<u64>) {
    for key in [&b"/CreationDate ("[..], &b"/ModDate ("[..]] {
        let mut from = 0;
        while let Some(at) = find(&pdf[from..], key).map(|i| i + from) {
            let value = at + key.len();
            let Some(close) = pdf[value..]
                .iter()
                .position(|&b| b == b')')
                .map(|i| i + value)
            else {
                break;
            };
            match date.map(pdf_date) {
                Some(stamp) if stamp.len() == close - value => {
                    pdf[value..close].copy_from_slice(stamp.as_bytes());
                }
                _ => pdf[at..=close].fill(b' '),
            }
            from = close;
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `D:YYYYMMDDHHmmSS+00'00'`, the form Chromium writes.
fn pdf_date(unix_secs: u64) -> String {
    let iso = crate::timefmt::rfc3339(unix_secs);
    let digits: String = iso.chars().filter(char::is_ascii_digit).collect();
    format!("D:{digits}+00'00'")
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &[u8] = b"<</Creator (x)\n/CreationDate (D:20261201172159+00'00')\n\
        /ModDate (D:20261201172159+00'00')>>\nxref";

    #[test]
    fn dates_are_pinned_in_place() {
        let mut pdf = INFO.to_vec();
        pin_dates(&mut pdf, Some(1_700_000_000));
        let text = String::from_utf8(pdf).unwrap();
        assert_eq!(text.len(), INFO.len(), "offsets stay");
        assert!(
            text.contains("/CreationDate (D:20231114221320+00'00')"),
            "{text}"
        );
        assert!(
            text.contains("/ModDate (D:20231114221320+00'00')"),
            "{text}"
        );
    }

    #[test]
    fn without_a_date_the_entries_are_blanked() {
        let mut pdf = INFO.to_vec();
        pin_dates(&mut pdf, None);
        let text = String::from_utf8(pdf).unwrap();
        assert_eq!(text.len(), INFO.len());
        assert!(
            !text.contains("Date") && text.contains("/Creator (x)") && text.ends_with(">>\nxref")
        );
    }
}
