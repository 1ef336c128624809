//! `liftkit-init sysctl FILE…`: the onboot sysctl container's program (init is multi-call, so the
//! host carries no other binary for it). Applies `key = value` lines through /proc/sys.

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
