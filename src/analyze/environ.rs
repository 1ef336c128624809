//! Which environment variables of the source process the image keeps.
//!
//! A daemon started from a login shell carries that shell's variables (tool paths, CI and cloud
//! SDK settings). The image keeps what the program can read: names that appear in the strings
//! of its executable, its libraries, its scripts or its configuration (a program reads a
//! variable by its name, so the name is in its code), plus `PATH`, `LANG`, `LC_*`, `TZ`, `HOME`
//! and what the unit or a wrapper sets. The rest is dropped, each with its reason.

use super::fileset::FileSet;
use crate::host::Host;
use crate::plan::Role;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

/// Kept whatever the program's strings say: the C library, the shell and every runtime read
/// them.
const ALWAYS: &[&str] = &["PATH", "LANG", "TZ", "HOME", "LANGUAGE"];
/// Bytes of one ELF file, and of one script or configuration, searched for names.
const MAX_ELF_SCAN: u64 = 64 << 20;
const MAX_TEXT_SCAN: u64 = 4 << 20;
/// Bytes searched in all: beyond, what is left unscanned counts as reading every name.
const MAX_TOTAL_SCAN: u64 = 1 << 30;
/// Bytes read at a time when searching a file.
const SCAN_CHUNK: usize = 256 << 10;
/// Names shorter than this are not looked for at the tail of longer strings.
const MIN_MERGED_NAME: usize = 6;

/// Variables that describe the login session or the supervisor, not the application.
const HOST_NOISE: &[&str] = &[
    "_",
    "HOSTNAME",
    "INVOCATION_ID",
    "JOURNAL_STREAM",
    "LOGNAME",
    "LS_COLORS",
    "MAIL",
    "MANAGERPID",
    "NOTIFY_SOCKET",
    "OLDPWD",
    "PWD",
    "SHELL",
    "SHLVL",
    "SUDO_COMMAND",
    "SUDO_GID",
    "SUDO_UID",
    "SUDO_USER",
    "SYSTEMD_EXEC_PID",
    "TERM",
    "TMUX",
    "TMUX_PANE",
    "USER",
    "DISPLAY",
    "WATCHDOG_PID",
    "WATCHDOG_USEC",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
    "COLORTERM",
    "EDITOR",
    "PAGER",
    "LESSOPEN",
    "LESSCLOSE",
    "MOTD_SHOWN",
];
const NOISE_PREFIXES: &[&str] = &[
    "SSH_", "XDG_", "DBUS_", "GPG_", "TERM_", "VSCODE_", "CARGO_", "RUSTUP_",
];
pub struct Split {
    pub kept: Vec<String>,
    pub dropped: BTreeMap<String, String>,
}

pub fn split(environ: &[String]) -> Split {
    let mut kept = Vec::new();
    let mut dropped = BTreeMap::new();
    for kv in environ {
        // A process that rewrites its title (nginx, redis) overwrites its environment block: what
        // is left there without `KEY=` is not an environment variable.
        let Some((key, value)) = kv.split_once('=').filter(|(k, _)| is_name(k)) else {
            continue;
        };
        if HOST_NOISE.contains(&key) || NOISE_PREFIXES.iter().any(|p| key.starts_with(p)) {
            dropped.insert(key.to_string(), "host session noise".to_string());
        } else if let Some(kind) = super::secrets::scan_env(key, value) {
            let why = format!("secret: {kind}; passed at run time from secrets/env");
            dropped.insert(key.to_string(), why);
        } else if !kept
            .iter()
            .any(|k: &String| k.split('=').next() == Some(key))
        {
            kept.push(kv.clone());
        }
    }
    if !kept.iter().any(|k| k.starts_with("PATH=")) {
        kept.insert(
            0,
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        );
    }
    Split { kept, dropped }
}

/// What the program's files say about which variables it reads.
pub enum Reads {
    /// These names appear in its code or configuration.
    Names(BTreeSet<String>),
    /// Some of its code cannot be searched (compressed archives, too much of it): every
    /// variable is kept, for this reason.
    Opaque(String),
}

/// Searches the plan's code and configuration for the names in `candidates`.
pub fn reads(host: &dyn Host, files: &FileSet, candidates: &[String]) -> Reads {
    let mut found = BTreeSet::new();
    if candidates.is_empty() {
        return Reads::Names(found);
    }
    let alternatives: Vec<String> = candidates.iter().map(|c| regex::escape(c)).collect();
    let Ok(re) = regex::bytes::Regex::new(&format!("(?-u){}", alternatives.join("|"))) else {
        return Reads::Opaque("the variable names could not be searched for".into());
    };
    let mut total = 0u64;
    for (path, role, _, _) in files.iter() {
        if !matches!(role, Role::Code | Role::Config) {
            continue;
        }
        let lower = path.to_ascii_lowercase();
        if [".jar", ".war", ".ear", ".zip", ".egg", ".whl"]
            .iter()
            .any(|e| lower.ends_with(e))
        {
            return Reads::Opaque(format!(
                "{path} is compressed code whose strings cannot be searched"
            ));
        }
        let head = host.read_limited(Path::new(path), 4).unwrap_or_default();
        let elf = head == b"\x7fELF";
        let limit = if elf { MAX_ELF_SCAN } else { MAX_TEXT_SCAN };
        let Ok(file) = host.open(Path::new(path)) else {
            continue;
        };
        let longest = candidates.iter().map(String::len).max().unwrap_or(0);
        total += scan(file.take(limit), &re, longest, elf, &mut found);
        if total > MAX_TOTAL_SCAN {
            return Reads::Opaque("more code than liftkit searches for variable names".into());
        }
        if found.len() == candidates.len() {
            break;
        }
    }
    Reads::Names(found)
}

/// Searches a file chunk by chunk (memory stays flat whatever its size): each window is the
/// chunk read after the previous one's tail, long enough that a name cut at a chunk's end is
/// whole, with the byte before it, in the next. Returns the bytes read.
fn scan(
    mut src: impl Read,
    re: &regex::bytes::Regex,
    longest: usize,
    elf: bool,
    found: &mut BTreeSet<String>,
) -> u64 {
    let keep = longest + 2;
    let mut window: Vec<u8> = Vec::with_capacity(SCAN_CHUNK + keep);
    let mut chunk = vec![0u8; SCAN_CHUNK];
    let (mut total, mut at_start) = (0u64, true);
    loop {
        let n = match src.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => 0,
        };
        total += n as u64;
        window.extend_from_slice(&chunk[..n]);
        let end = n == 0;
        for m in re.find_iter(&window) {
            // Its neighbours are known: inside the window, or the file's own ends.
            let decided = (m.start() > 0 || at_start) && (m.end() < window.len() || end);
            if decided && is_whole_name(&window, m.start(), m.end(), elf) {
                found.insert(String::from_utf8_lossy(m.as_bytes()).into_owned());
            }
        }
        if end {
            return total;
        }
        if window.len() > keep {
            window.drain(..window.len() - keep);
            at_start = false;
        }
    }
}

/// A name on its own. In a script or configuration: not part of a longer identifier. In an ELF
/// file: a C string of its own (`getenv("CI")` leaves `\0CI\0`; two letters between other
/// bytes are just bytes), or the tail of a longer one for names long enough to tell (the linker
/// merges `"APP_MODE"` into the tail of `"MY_APP_MODE"`).
fn is_whole_name(bytes: &[u8], start: usize, end: usize, elf: bool) -> bool {
    let after = bytes.get(end).copied();
    let before = start.checked_sub(1).map(|i| bytes[i]);
    if elf {
        return after == Some(0)
            && (before.is_none_or(|b| b == 0) || end - start >= MIN_MERGED_NAME);
    }
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    after.is_none_or(|b| !word(b)) && before.is_none_or(|b| !word(b))
}

/// Drops what the program cannot read; `kept_anyway` are names a unit, a hook or a wrapper set,
/// with why. Call after [`split`], on its result.
pub fn keep_read(
    env: &mut Split,
    host: &dyn Host,
    files: &FileSet,
    kept_anyway: &BTreeMap<String, String>,
) -> Option<String> {
    let key = |kv: &String| kv.split('=').next().unwrap_or_default().to_string();
    let candidates: Vec<String> = env
        .kept
        .iter()
        .map(key)
        .filter(|k| !always(k) && !kept_anyway.contains_key(k))
        .collect();
    let names = match reads(host, files, &candidates) {
        Reads::Names(n) => n,
        Reads::Opaque(why) => return Some(why),
    };
    env.kept.retain(|kv| {
        let k = key(kv);
        if always(&k) || kept_anyway.contains_key(&k) || names.contains(&k) {
            return true;
        }
        env.dropped.insert(
            k,
            "not read by the program: no executable, library, script or configuration it uses \
             names it (add it back in the plan if it reads it another way)"
                .to_string(),
        );
        false
    });
    None
}

fn always(key: &str) -> bool {
    ALWAYS.contains(&key) || key.starts_with("LC_")
}

fn is_name(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_app_settings_and_drops_session_and_secrets() {
        let env: Vec<String> = [
            "HOME=/root",
            "SHELL=/bin/bash",
            "LANG=C.UTF-8",
            "DB_PASSWORD=hunter2",
            "SSH_TTY=/dev/pts/0",
            "APP_MODE=prod",
            "-c /etc/x.conf",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let s = split(&env);
        assert!(s.kept.contains(&"LANG=C.UTF-8".to_string()));
        assert!(s.kept.contains(&"APP_MODE=prod".to_string()));
        assert!(s.kept[0].starts_with("PATH="));
        assert_eq!(
            s.kept.len(),
            4,
            "title garbage is not environment: {:?}",
            s.kept
        );
        assert!(s.dropped["DB_PASSWORD"].contains("secret"));
        assert!(s.dropped.contains_key("SHELL") && s.dropped.contains_key("SSH_TTY"));
        assert!(
            s.kept.contains(&"HOME=/root".to_string()),
            "programs read HOME"
        );
    }

    #[test]
    fn names_cut_at_a_chunk_boundary_are_found_once_whole() {
        let re = regex::bytes::Regex::new("(?-u)APP_MODE|CI").unwrap();
        for pad in [
            SCAN_CHUNK - 9,
            SCAN_CHUNK - 4,
            SCAN_CHUNK - 1,
            SCAN_CHUNK,
            SCAN_CHUNK + 1,
        ] {
            let mut bytes = vec![b'x'; pad];
            bytes.extend_from_slice(b"\0APP_MODE\0XCI\0");
            let mut found = BTreeSet::new();
            let read = scan(bytes.as_slice(), &re, 8, true, &mut found);
            assert_eq!(read, bytes.len() as u64);
            assert_eq!(
                found.into_iter().collect::<Vec<_>>(),
                ["APP_MODE"],
                "pad {pad}"
            );
        }
    }

    #[test]
    fn keeps_what_the_program_names_and_drops_the_login_shell() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        // getenv("APP_MODE") and a name the linker merged into the tail of a longer string.
        std::fs::write(
            root.join("usr/bin/app"),
            b"\x7fELF\0APP_MODE\0XMY_TAIL\0NOT_APP_MODEX\0ASCII\0\x1bCI\x01",
        )
        .unwrap();
        std::fs::write(root.join("usr/bin/run.py"), "os.environ['PY_SETTING']\n").unwrap();
        let host = crate::host::at(root);
        let mut files = FileSet::default();
        files.add("/usr/bin/app", Role::Code, "t");
        files.add("/usr/bin/run.py", Role::Code, "t");
        let env: Vec<String> = [
            "PATH=/usr/bin",
            "LC_ALL=C",
            "APP_MODE=prod",
            "MY_TAIL=1",
            "PY_SETTING=x",
            "GOPATH=/root/go",
            "CI=true",
            "AWS_PROFILE=dev",
            "FROM_UNIT=1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut s = split(&env);
        let unit = BTreeMap::from([("FROM_UNIT".to_string(), "unit".to_string())]);
        assert!(keep_read(&mut s, &host, &files, &unit).is_none());
        let kept: Vec<&str> = s
            .kept
            .iter()
            .map(|k| k.split('=').next().unwrap())
            .collect();
        assert_eq!(
            kept,
            [
                "PATH",
                "LC_ALL",
                "APP_MODE",
                "MY_TAIL",
                "PY_SETTING",
                "FROM_UNIT"
            ]
        );
        for gone in ["GOPATH", "CI", "AWS_PROFILE"] {
            assert!(
                s.dropped[gone].contains("not read by the program"),
                "{gone}"
            );
        }
        files.add("/usr/lib/app.jar", Role::Code, "t");
        let mut s = split(&env);
        assert!(keep_read(&mut s, &host, &files, &unit)
            .unwrap()
            .contains("app.jar"));
        assert!(s.kept.iter().any(|k| k.starts_with("GOPATH=")));
    }
}
