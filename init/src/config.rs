//! `/etc/liftkit/init.conf`: what `liftkit host-image` tells init about this host, one directive
//! per line (`service NAME stop=SIGQUIT restart=on-failure`, `volume NAME UID GID [SEED]`, `expose PORT`,
//! `runtime PATH`, `hostname NAME`, `module PATH`). A line-based format keeps init free of parsers.

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Config {
    pub hostname: Option<String>,
    pub runtime: String,
    pub modules: Vec<String>,
    pub services: Vec<Service>,
    pub volumes: Vec<VolumeDir>,
    pub expose: Vec<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub stop_signal: String,
    pub restart: Restart,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    Always,
    OnFailure,
    No,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeDir {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// The image's own files at the volume's path (in the system image), copied into the
    /// volume when it is new: on tmpfs (no data disk) and on a data disk that lacks it, the app
    /// finds what the image has there, as an engine's new volume shows it.
    pub seed: Option<String>,
}

pub fn parse(text: &str) -> Result<Config, String> {
    let mut c = Config {
        runtime: "/usr/bin/runc".to_string(),
        ..Config::default()
    };
    for (n, line) in text.lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let bad = || format!("init.conf line {}: cannot read {line:?}", n + 1);
        match words.as_slice() {
            [] => {}
            [w, ..] if w.starts_with('#') => {}
            ["hostname", name] => c.hostname = Some(name.to_string()),
            ["runtime", path] => c.runtime = path.to_string(),
            ["module", path] => c.modules.push(path.to_string()),
            ["expose", port] => c.expose.push(port.parse().map_err(|_| bad())?),
            ["volume", name, uid, gid, seed @ ..] if seed.len() <= 1 => c.volumes.push(VolumeDir {
                name: name.to_string(),
                uid: uid.parse().map_err(|_| bad())?,
                gid: gid.parse().map_err(|_| bad())?,
                seed: seed.first().map(|s| s.to_string()),
            }),
            ["service", name, opts @ ..] => {
                let mut s = Service {
                    name: name.to_string(),
                    stop_signal: "SIGTERM".to_string(),
                    restart: Restart::OnFailure,
                };
                for opt in opts {
                    match opt.split_once('=') {
                        Some(("stop", sig)) => s.stop_signal = sig.to_string(),
                        Some(("restart", "always")) => s.restart = Restart::Always,
                        Some(("restart", "on-failure")) => s.restart = Restart::OnFailure,
                        Some(("restart", "no")) => s.restart = Restart::No,
                        _ => return Err(bad()),
                    }
                }
                c.services.push(s);
            }
            _ => return Err(bad()),
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_directive() {
        let c = parse(
            "# host\nhostname redis\nruntime /usr/sbin/runc\nmodule /lib/modules/x/virtio.ko\n\
             service redis stop=SIGTERM restart=always\nvolume var-lib-redis 101 102\nexpose 6379\n\
             volume srv-www 0 0 /containers/services/redis/lower/srv/www\n",
        )
        .unwrap();
        assert_eq!(c.hostname.as_deref(), Some("redis"));
        assert_eq!(c.runtime, "/usr/sbin/runc");
        assert_eq!(c.modules.len(), 1);
        assert_eq!(c.services[0].restart, Restart::Always);
        assert_eq!(c.volumes[0].uid, 101);
        assert_eq!(c.volumes[0].seed, None);
        assert_eq!(
            c.volumes[1].seed.as_deref(),
            Some("/containers/services/redis/lower/srv/www")
        );
        assert_eq!(c.expose, [6379]);
    }

    #[test]
    fn rejects_what_it_does_not_know() {
        assert!(parse("servce x").is_err());
        assert!(parse("service x restart=sometimes").is_err());
        assert!(parse("expose http").is_err());
    }
}
