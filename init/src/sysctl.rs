//! The system's kernel settings: PID 1 applies `/etc/sysctl.d/*.conf` of the system image at
//! boot, before the onboot containers (as systemd-sysctl does), rather than starting a container
//! to write /proc/sys (LinuxKit's onboot `sysctl`): under TCG that container alone took 2 s of a
//! 12 s boot. `liftkit-init sysctl FILE…` applies the same lines from the command line.
//! Applies `key = value` lines through /proc/sys.

/// Where the host image keeps its settings.
pub const DIR: &str = "/etc/sysctl.d";

/// Every `*.conf` under `dir`, in name order (as sysctl.d is read); none is no error.
pub fn apply_dir(dir: &str) -> i32 {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .map(|p| p.to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    run(&files)
}

pub fn run(files: &[String]) -> i32 {
    let mut failed = 0;
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("sysctl: {file}: {e}");
                failed += 1;
                continue;
            }
        };
        for (key, value) in entries(&text) {
            let path = format!("/proc/sys/{}", key.replace('.', "/"));
            match std::fs::write(&path, format!("{value}\n")) {
                Ok(()) => eprintln!("sysctl: {key} = {value}"),
                Err(e) => {
                    eprintln!("sysctl: {key}: {e}");
                    failed += 1;
                }
            }
        }
    }
    i32::from(failed > 0)
}

fn entries(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_directory_without_settings_is_no_error() {
        let dir = std::env::temp_dir().join(format!("liftkit-sysctl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("README"), "not a .conf\n").unwrap();
        assert_eq!(super::apply_dir(dir.to_str().unwrap()), 0);
        assert_eq!(super::apply_dir("/nonexistent/sysctl.d"), 0);
        std::fs::write(dir.join("10-bad.conf"), "no.such.key = 1\n").unwrap();
        assert_eq!(
            super::apply_dir(dir.to_str().unwrap()),
            1,
            "a key /proc/sys lacks fails"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_sysctl_conf_lines() {
        let e = super::entries(
            "# c\nvm.overcommit_memory = 1\nnet.ipv4.ip_local_port_range=32768 60999\n\n",
        );
        assert_eq!(
            e,
            [
                ("vm.overcommit_memory", "1"),
                ("net.ipv4.ip_local_port_range", "32768 60999")
            ]
        );
    }
}
