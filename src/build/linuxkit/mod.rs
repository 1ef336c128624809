//! `linuxkit.yml`: a LinuxKit host tailored to one lifted app, and `LINUXKIT.md` with the exact
//! commands that build it offline from `image.tar`.
//!
//! The host is LinuxKit's usual shape (kernel, init + runc + containerd, onboot sysctl/network/
//! disk, the app as a service) carrying what the source host had that the app depends on: its
//! boot parameters and sysctls, the app's capabilities, rlimits, user, network mode and volumes.

pub mod pins;
pub mod schema;
pub mod tailor;

use crate::plan::{AppPlan, Plan};
use schema::{File, Id, Image, Kernel, Moby};
use std::path::Path;

pub const FILE_NAME: &str = "linuxkit.yml";
pub const NOTES_NAME: &str = "LINUXKIT.md";
/// Where the host's sysctls are written for the sysctl onboot container to apply.
const SYSCTL_CONF: &str = "etc/sysctl.d/01-liftkit.conf";

/// The host for one app.
pub fn render(plan: &Plan, app: &AppPlan) -> Moby {
    let mut init = vec![
        pins::INIT.to_string(),
        pins::RUNC.to_string(),
        pins::CONTAINERD.to_string(),
    ];
    if tailor::uses_tls(app) {
        init.push(pins::CA_CERTIFICATES.to_string());
    }
    let mut files = vec![File {
        path: Some("etc/linuxkit-config".to_string()),
        metadata: Some("yaml".to_string()),
        ..File::default()
    }];
    let sysctls = tailor::sysctls(plan);
    let mut onboot = Vec::new();
    if !sysctls.is_empty() {
        let conf: String = sysctls
            .iter()
            .map(|(k, v)| format!("{k} = {v}\n"))
            .collect();
        files.push(File {
            path: Some(SYSCTL_CONF.to_string()),
            contents: Some(conf),
            mode: Some("0644".to_string()),
            ..File::default()
        });
        onboot.push(Image {
            name: "sysctl".to_string(),
            image: pins::SYSCTL.to_string(),
            binds: Some(vec![format!("/{SYSCTL_CONF}:/{SYSCTL_CONF}")]),
            ..Image::default()
        });
    }
    onboot.push(Image {
        name: "dhcpcd".to_string(),
        image: pins::DHCPCD.to_string(),
        command: Some(strings(&[
            "/sbin/dhcpcd",
            "--nobackground",
            "-f",
            "/dhcpcd.conf",
            "-1",
        ])),
        ..Image::default()
    });
    let volumes = tailor::volumes(app);
    if volumes.iter().any(|v| !v.tmpfs) {
        // The first disk, formatted if blank, mounted where the volumes live: data survives reboots.
        onboot.push(Image {
            name: "format".to_string(),
            image: pins::FORMAT.to_string(),
            ..Image::default()
        });
        onboot.push(Image {
            name: "mount".to_string(),
            image: pins::MOUNT.to_string(),
            command: Some(strings(&["/usr/bin/mountie", tailor::VOLUMES_DIR])),
            ..Image::default()
        });
    }
    let mut cmdline = pins::CONSOLE_CMDLINE.to_string();
    for p in tailor::boot_params(plan) {
        cmdline.push(' ');
        cmdline.push_str(&p);
    }
    Moby {
        kernel: Some(Kernel {
            image: Some(pins::KERNEL.to_string()),
            cmdline: Some(cmdline),
            ..Kernel::default()
        }),
        init,
        onboot,
        services: vec![service(app)],
        files,
        ..Moby::default()
    }
}

/// The app's service entry; the offline host image's OCI bundle follows the same entry.
pub fn service(app: &AppPlan) -> Image {
    let img = &app.image;
    let volumes = tailor::volumes(app);
    let mut binds: Vec<String> = volumes
        .iter()
        .filter(|v| !v.tmpfs)
        .map(|v| format!("{}/{}:{}", tailor::VOLUMES_DIR, v.name, v.path))
        .collect();
    if tailor::resolves_names(app) {
        binds.push("/etc/resolv.conf:/etc/resolv.conf".to_string());
    }
    let tmpfs: Vec<String> = volumes
        .iter()
        .filter(|v| v.tmpfs)
        .map(|v| v.path.clone())
        .collect();
    let mut command = img.launch();
    command.extend(img.cmd.iter().cloned());
    let rlimits = tailor::rlimits(app);
    let h = &app.hardening;
    Image {
        name: app.slug(),
        image: img.name.clone(),
        // Hardened: exactly the kept capabilities (an empty list is none at all).
        capabilities: crate::harden::service_capabilities(app),
        readonly: h.read_only.then_some(true),
        no_new_privileges: h.no_new_privileges.then_some(true),
        binds: (!binds.is_empty()).then_some(binds),
        tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
        command: (!command.is_empty()).then_some(command),
        env: (!img.env.is_empty()).then(|| img.env.clone()),
        cwd: (!img.workdir.is_empty()).then(|| img.workdir.clone()),
        net: (img.network == "host").then(|| "host".to_string()),
        uid: (img.uid != 0).then_some(Id::Number(i64::from(img.uid))),
        gid: (img.gid != 0).then_some(Id::Number(i64::from(img.gid))),
        rlimits: (!rlimits.is_empty()).then_some(rlimits),
        ..Image::default()
    }
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// The exact commands that build this host with the `linuxkit` CLI, offline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Commands {
    /// Pull LinuxKit's own images on a connected machine, once, into the cache that travels.
    pub cache_pull: Vec<String>,
    /// Register the lifted image in LinuxKit's cache (it reads the index's
    /// `io.containerd.image.name`): no registry needed.
    pub cache_import: String,
    pub build: String,
}

/// Commands for the app built in `app_dir` (as the user should type it, e.g. `out/nginx`).
pub fn commands(app: &AppPlan, app_dir: &Path) -> Commands {
    let dir = app_dir.display().to_string();
    Commands {
        cache_pull: pins::ALL
            .iter()
            .map(|i| format!("linuxkit cache pull {i}"))
            .collect(),
        cache_import: format!("linuxkit cache import {dir}/image.tar"),
        build: format!(
            "linuxkit build --format kernel+initrd --name {} --dir {dir}/linuxkit {dir}/{FILE_NAME}",
            app.slug()
        ),
    }
}

/// The notes beside `linuxkit.yml`: what the host carries from the source, and how to build it.
pub fn notes(plan: &Plan, app: &AppPlan, app_dir: &Path) -> String {
    let c = commands(app, app_dir);
    let sysctls = tailor::sysctls(plan);
    let mut s = format!(
        "# A LinuxKit host for {name}\n\n\
         `{FILE_NAME}` describes a minimal, immutable host whose only service is the lifted \
         `{image}`.\n\n## Build it with LinuxKit, offline\n\n\
         On a connected machine, once (the cache directory then travels with the output):\n\n```sh\n{pull}\n```\n\n\
         Then, without a registry:\n\n```sh\n{import}\n{build}\n```\n\n\
         This writes `{slug}-kernel`, `{slug}-initrd.img` and `{slug}-cmdline` under `{dir}/linuxkit/`.\n\n\
         Without the `linuxkit` CLI or its images: `liftkit host-image {dir}` builds the same \
         host from this machine's kernel and runc.\n\n## Carried from the source host ({host})\n\n",
        name = app.name,
        image = app.image.name,
        pull = c.cache_pull.join("\n"),
        import = c.cache_import,
        build = c.build,
        slug = app.slug(),
        dir = app_dir.display(),
        host = plan.source.hostname,
    );
    let params = tailor::boot_params(plan);
    s.push_str(&format!(
        "- boot parameters: {}\n",
        if params.is_empty() {
            "none relevant".to_string()
        } else {
            params.join(" ")
        }
    ));
    s.push_str(&format!(
        "- sysctls: {}\n",
        if sysctls.is_empty() {
            "none".to_string()
        } else {
            sysctls
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    ));
    s.push_str(&format!(
        "- capabilities: {}\n- rlimits: {}\n- network: {}\n- restart: {}\n",
        crate::harden::service_capabilities(app)
            .map_or_else(|| "the defaults".to_string(), |c| c.join(", ")),
        tailor::rlimits(app).join(" "),
        app.image.network,
        tailor::restart(app),
    ));
    for v in tailor::volumes(app) {
        s.push_str(&format!(
            "- volume {}: {}\n",
            v.path,
            if v.tmpfs {
                "tmpfs".to_string()
            } else {
                format!(
                    "{}/{} on the first disk (formatted if blank)",
                    tailor::VOLUMES_DIR,
                    v.name
                )
            }
        ));
    }
    s
}

/// Writes `linuxkit.yml` and `LINUXKIT.md` into the app's output directory.
pub fn write(
    cx: &crate::build::Context,
    _: &mut crate::build::AppBuild,
) -> Result<(), crate::build::BuildError> {
    let (plan, app) = (cx.plan, cx.app);
    let header = format!(
        "# LinuxKit host for {} lifted by liftkit {} from {}. Build: see {NOTES_NAME}.\n",
        app.name,
        env!("CARGO_PKG_VERSION"),
        plan.source.hostname
    );
    let yaml = schema::to_yaml(&render(plan, app)).map_err(cx.encode(FILE_NAME))?;
    cx.write(FILE_NAME, &(header + &yaml))?;
    cx.write(NOTES_NAME, &notes(plan, app, cx.shown_dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Fit, ImageSpec, Owners, Source, Volume, VolumeKind};

    fn plan() -> Plan {
        let app = AppPlan {
            name: "redis".to_string(),
            analyzer: "redis".to_string(),
            version: "7.0".to_string(),
            fit: Fit::Good,
            fit_reasons: vec![],
            processes: vec![],
            unit: None,
            image: ImageSpec {
                name: "localhost/liftkit/redis:7.0".to_string(),
                entrypoint: vec![
                    "/usr/bin/redis-server".to_string(),
                    "/etc/redis.conf".to_string(),
                ],
                cmd: vec![],
                user: "redis".to_string(),
                uid: 101,
                gid: 102,
                workdir: "/".to_string(),
                env: vec!["PATH=/usr/bin".to_string()],
                env_dropped: Default::default(),
                ports: vec!["80/tcp".to_string()],
                listen: vec![],
                stop_signal: None,
                owners: Owners::Keep,
                network: "host".to_string(),
                restart: Some("on-failure".to_string()),
                rlimits: [("nofile".to_string(), (10032, 10032))]
                    .into_iter()
                    .collect(),
                capabilities: vec!["CAP_SETUID".to_string()],
                supervisor: true,
            },
            files: vec![],
            generated: vec![],
            links: vec![],
            dirs: vec![],
            volumes: vec![Volume {
                path: "/var/lib/redis".to_string(),
                kind: VolumeKind::Volume,
                populate: true,
                populate_with: None,
                live_writes: None,
                scratch: false,
                why: "data".to_string(),
            }],
            secrets: vec![],
            connections: vec![],
            probes: vec![],
            findings: vec![],
            packages: vec![],
            deploy: Default::default(),
            excluded: vec![],
            hardening: Default::default(),
        };
        Plan {
            schema: 1,
            exclude: vec![],
            source: Source {
                hostname: "db1".to_string(),
                os: "Debian".to_string(),
                os_id: String::new(),
                os_version_id: String::new(),
                kernel: "6.1".to_string(),
                root: "/".to_string(),
                snapshot: String::new(),
                packages_count: 0,
                sysctls: [
                    ("vm.overcommit_memory", "1"),
                    ("net.core.somaxconn", "4096"),
                    ("transparent_hugepage", "always [madvise] never"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
                boot_cmdline: "BOOT_IMAGE=/vmlinuz root=/dev/sda1 mitigations=off quiet"
                    .to_string(),
                cpu_level: 3,
            },
            apps: vec![app],
        }
    }

    #[test]
    fn generated_host_parses_against_the_schema_and_carries_the_source() {
        let plan = plan();
        let text = schema::to_yaml(&render(&plan, &plan.apps[0])).unwrap();
        let moby = schema::parse(&text).expect("valid linuxkit.yml");
        let kernel = moby.kernel.unwrap();
        let cmdline = kernel.cmdline.unwrap();
        assert!(
            cmdline.contains("mitigations=off") && cmdline.contains("transparent_hugepage=madvise")
        );
        assert!(
            !cmdline.contains("root=/dev/sda1"),
            "the source's root disk is not carried"
        );
        let redis = moby.services.iter().find(|s| s.name == "redis").unwrap();
        let caps = redis.capabilities.clone().unwrap();
        assert!(
            caps.contains(&"CAP_NET_BIND_SERVICE".to_string()),
            "port 80 needs it"
        );
        assert_eq!(redis.rlimits.clone().unwrap(), vec!["nofile,10032,10032"]);
        assert_eq!(redis.uid, Some(Id::Number(101)));
        assert_eq!(redis.net.as_deref(), Some("host"));
        assert_eq!(
            redis.binds.clone().unwrap(),
            vec!["/var/lib/liftkit/var-lib-redis:/var/lib/redis"]
        );
        let names: Vec<_> = moby.onboot.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["sysctl", "dhcpcd", "format", "mount"]);
        let conf = moby
            .files
            .iter()
            .find(|f| f.path.as_deref() == Some(SYSCTL_CONF))
            .unwrap();
        let conf = conf.contents.clone().unwrap();
        assert!(
            conf.contains("vm.overcommit_memory = 1") && !conf.contains("transparent_hugepage")
        );
    }

    #[test]
    fn commands_name_the_outputs() {
        let plan = plan();
        let c = commands(&plan.apps[0], Path::new("out/redis"));
        assert_eq!(c.cache_import, "linuxkit cache import out/redis/image.tar");
        assert!(c
            .build
            .ends_with("--name redis --dir out/redis/linuxkit out/redis/linuxkit.yml"));
    }
}
