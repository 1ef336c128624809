//! Headless Chromium (Debian `chromium`) as the judge of generated HTML: a screenshot, the DOM as
//! the browser built it, and the text as it lays it out (printed to PDF, read back by pdftotext).
//! Every run is cut off from the network and uses a fresh profile.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium(profile: &Path) -> Command {
    let mut c = Command::new("chromium");
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--proxy-server=127.0.0.1:9",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

fn url(html: &Path) -> String {
    format!("file://{}", std::fs::canonicalize(html).unwrap().display())
}

fn run(mut cmd: Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Renders `html` at 1280×`height` into a PNG beside it and returns its path; copied into
/// `$LIFTKIT_SHOTS_DIR` when set, for people to look at.
pub fn screenshot(html: &Path, height: u32, name: &str) -> PathBuf {
    let profile = tempfile::tempdir().unwrap();
    let png = html.with_file_name(name);
    let mut c = chromium(profile.path());
    c.arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size=1280,{height}"))
        .arg(url(html));
    run(c);
    if let Ok(dir) = std::env::var("LIFTKIT_SHOTS_DIR") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(&png, Path::new(&dir).join(name)).unwrap();
    }
    png
}

/// The DOM after Chromium parsed and laid out the page.
pub fn dom(html: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut c = chromium(profile.path());
    c.arg("--dump-dom").arg(url(html));
    String::from_utf8(run(c)).unwrap()
}

/// The text of the page as Chromium prints it (what a reader of the printed report sees).
pub fn printed_text(html: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let pdf = html.with_extension("pdf");
    let mut c = chromium(profile.path());
    c.arg("--no-pdf-header-footer")
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(url(html));
    run(c);
    let mut t = Command::new("pdftotext");
    t.args(["-layout"]).arg(&pdf).arg("-");
    String::from_utf8_lossy(&run(t)).into_owned()
}

/// Asserts `png` is a PNG of the given size whose pixels are not one flat colour: a page that
/// failed to render is white.
pub fn assert_rendered_png(png: &Path, width: u32, height: u32) {
    let bytes = std::fs::read(png).unwrap();
    assert!(
        bytes.len() > 20_000,
        "{}: only {} bytes",
        png.display(),
        bytes.len()
    );
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a valid PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG pixels");
    assert_eq!(
        (info.width, info.height),
        (width, height),
        "{}",
        png.display()
    );
    let channels = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let inked = pixels
        .chunks(channels)
        .filter(|p| p.iter().take(3).any(|&c| c < 200))
        .count();
    let total = (info.width * info.height) as usize;
    assert!(
        inked * 100 > total,
        "{}: only {inked} of {total} pixels carry ink: the page looks blank",
        png.display()
    );
    let mut colours: Vec<&[u8]> = pixels.chunks(channels).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        colours.len() > 50,
        "{}: {} colours",
        png.display(),
        colours.len()
    );
}
