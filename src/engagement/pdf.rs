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
pub fn print(html: &Path, pdf: &Path) -> Result<(), String> {
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
