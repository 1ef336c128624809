//! Which environment variables of the source process the image keeps.

use std::collections::BTreeMap;

/// Variables that describe the login session or the supervisor, not the application.
const HOST_NOISE: &[&str] = &[
    "_",
    "HOME",
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
            3,
            "title garbage is not environment: {:?}",
            s.kept
        );
        assert!(s.dropped["DB_PASSWORD"].contains("secret"));
        assert!(s.dropped.contains_key("HOME") && s.dropped.contains_key("SSH_TTY"));
    }
}
