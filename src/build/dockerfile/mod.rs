//! Two Dockerfiles beside the image, over `rootfs/` (the image's files laid out as they are in
//! its layer, owners and modes of the source host):
//!
//! - `Dockerfile`, exact: `FROM scratch`, `COPY rootfs/ /`, the owners back where COPY made
//!   everything root's, and the image's config, each line with its reason. `podman build` or
//!   `docker build` gives an image holding the same files that runs the same way;
//! - `Dockerfile.maintained`: Debian's own packages at the source's versions, then only what no
//!   package gives (see `maintained`): the path to keep patching the app.

mod maintained;

use super::{AppBuild, BuildError, Context};
use crate::plan::{AppPlan, VolumeKind};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const ROOTFS: &str = "rootfs";
/// Directory trees owned by someone other than root, each under its parent's name.
pub const OWNERS: &str = "owners";

pub fn write(cx: &Context, _: &mut AppBuild) -> Result<(), BuildError> {
    let (owners, special) = unpack_layer(cx)?;
    let chowns = chown_lines(&owners);
    lay_out_owned_trees(cx, &chowns)?;
    let text = exact(cx.app, &chowns, &special, &owners).map_err(cx.encode("Dockerfile"))?;
    cx.write("Dockerfile", &text)?;
    let text = maintained::dockerfile(cx, &owners, &special)
        .map_err(cx.encode("Dockerfile.maintained"))?;
    cx.write("Dockerfile.maintained", &text)
}

/// Owner of each path in the layer (relative, without leading `/`), and whether a directory.
pub(crate) type Owners = BTreeMap<PathBuf, (u32, u32, bool)>;
/// Regular files with setuid, setgid or sticky bits, and their full mode.
pub(crate) type SpecialModes = BTreeMap<PathBuf, u32>;

/// Unpacks the image's one layer into `rootfs/`, keeping owners (when run as root), modes,
/// mtimes and links, and returns who owns what.
fn unpack_layer(cx: &Context) -> Result<(Owners, SpecialModes), BuildError> {
    let blob = cx
        .image
        .layout_dir
        .join("blobs/sha256")
        .join(cx.image.layer_digest.trim_start_matches("sha256:"));
    let dest = cx.dir.join(ROOTFS);
    let io = cx.io(ROOTFS);
    let run = || -> std::io::Result<(Owners, SpecialModes)> {
        std::fs::create_dir_all(&dest)?;
        let mut owners = Owners::new();
        let mut special = SpecialModes::new();
        let mut times = Vec::new();
        let gz = flate2::read::GzDecoder::new(std::fs::File::open(&blob)?);
        let mut archive = tar::Archive::new(gz);
        archive.set_preserve_permissions(true);
        // Times are set by path afterwards: the archive's own way works on open descriptors.
        archive.set_preserve_mtime(false);
        archive.set_preserve_ownerships(is_root());
        archive.set_unpack_xattrs(false);
        for entry in archive.entries()? {
            let mut entry = entry?;
            let path = entry.path()?.into_owned();
            let header = entry.header();
            let is_dir = header.entry_type().is_dir();
            let (uid, gid) = (
                header.uid().unwrap_or(0) as u32,
                header.gid().unwrap_or(0) as u32,
            );
            let mtime = header.mtime().unwrap_or(0) as i64;
            let rel = PathBuf::from(path.to_string_lossy().trim_end_matches('/'));
            let mode = header.mode().unwrap_or(0);
            if header.entry_type().is_file() && mode & 0o7000 != 0 {
                special.insert(rel.clone(), mode & 0o7777);
            }
            owners.insert(rel, (uid, gid, is_dir));
            entry.unpack_in(&dest)?;
            times.push((dest.join(&path), mtime));
        }
        // Children first, so setting a file's time never touches its directory's again.
        for (path, mtime) in times.iter().rev() {
            set_mtime(path, *mtime)?;
        }
        Ok((owners, special))
    };
    run().map_err(io)
}

/// The entry's time, by path, on the link itself rather than what it points to.
fn set_mtime(path: &Path, mtime: i64) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let t = libc::timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    // SAFETY: a valid C path and two timespecs, as utimensat takes them.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            [t, t].as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// One `COPY --chown` giving back an owner COPY dropped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Chown {
    pub path: PathBuf,
    pub uid: u32,
    pub gid: u32,
    /// For a directory: `owners/<n>/` holds it under its own name, since COPY gives the owner
    /// to what it copies, never to the directory it copies into.
    pub tree: Option<usize>,
}

impl Chown {
    fn line(&self) -> String {
        let shown = self.path.to_string_lossy();
        match self.tree {
            Some(n) => {
                let parent = self.path.parent().map_or(String::new(), |p| {
                    let p = p.to_string_lossy();
                    if p.is_empty() {
                        String::new()
                    } else {
                        format!("{p}/")
                    }
                });
                format!(
                    "COPY --chown={}:{} {OWNERS}/{n}/ /{parent}",
                    self.uid, self.gid
                )
            }
            None => format!(
                "COPY --chown={}:{} {ROOTFS}/{shown} /{shown}",
                self.uid, self.gid
            ),
        }
    }
}

/// `owners/<n>/<name>/`: each owned directory's tree, its files hard links to `rootfs/`'s.
fn lay_out_owned_trees(cx: &Context, chowns: &[Chown]) -> Result<(), BuildError> {
    let root = cx.dir.join(ROOTFS);
    for c in chowns {
        let Some(n) = c.tree else { continue };
        let Some(name) = c.path.file_name() else {
            continue;
        };
        let dest = cx.dir.join(OWNERS).join(n.to_string()).join(name);
        link_tree(&root.join(&c.path), &dest).map_err(cx.io(OWNERS))?;
    }
    Ok(())
}

fn link_tree(src: &Path, dest: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::symlink_metadata(src)?;
    if meta.is_dir() {
        std::fs::create_dir_all(dest)?;
        for e in std::fs::read_dir(src)? {
            let e = e?;
            link_tree(&e.path(), &dest.join(e.file_name()))?;
        }
        std::fs::set_permissions(dest, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    } else if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(src)?, dest)?;
    } else {
        std::fs::hard_link(src, dest)?;
    }
    Ok(())
}

/// What gives back the owners COPY drops: in path order, one wherever an entry's owner
/// differs from what those before it gave (a directory's gives its whole tree), so a tree
/// owned by one user is one line.
pub(crate) fn chown_lines(owners: &Owners) -> Vec<Chown> {
    let mut given: Vec<(PathBuf, (u32, u32))> = Vec::new();
    let mut lines = Vec::new();
    for (path, &(uid, gid, is_dir)) in owners {
        let effective = given
            .iter()
            .rev()
            .find(|(p, _)| path.starts_with(p) && p != path)
            .map_or((0, 0), |(_, o)| *o);
        if (uid, gid) == effective {
            continue;
        }
        let trees = lines.iter().filter(|c: &&Chown| c.tree.is_some()).count();
        lines.push(Chown {
            path: path.clone(),
            uid,
            gid,
            tree: is_dir.then_some(trees + 1),
        });
        if is_dir {
            given.push((path.clone(), (uid, gid)));
        }
    }
    lines
}

fn exact(
    app: &AppPlan,
    chowns: &[Chown],
    special: &SpecialModes,
    owners: &Owners,
) -> Result<String, String> {
    let mut out = format!(
        "# The lifted {name}, rebuilt from the files beside this file ({ROOTFS}/ holds exactly\n\
         # the image's layer). Nothing is pulled:\n\
         #   podman build -t {image} .\n\
         FROM scratch\n\
         # Every file of the image, with the modes the source host gave them.\n\
         COPY {ROOTFS}/ /\n",
        name = app.name,
        image = app.image.name,
    );
    if !chowns.is_empty() {
        out.push_str(&format!(
            "# COPY makes every file root's: the owners the source host had ({OWNERS}/<n>/ holds a\n\
             # directory under its own name, so that COPY gives the directory itself its owner).\n"
        ));
        for c in chowns {
            out.push_str(&c.line());
            out.push('\n');
        }
    }
    if !special.is_empty() {
        out.push_str(
            "# Set-user-ID, set-group-ID and sticky bits, which some builders' COPY drops.\n",
        );
        for (path, mode) in special {
            let (uid, gid, _) = owners.get(path).copied().unwrap_or((0, 0, false));
            let shown = path.to_string_lossy();
            out.push_str(&format!(
                "COPY --chown={uid}:{gid} --chmod={mode:04o} {ROOTFS}/{shown} /{shown}\n"
            ));
        }
    }
    out.push_str(&config_lines(app)?);
    Ok(out)
}

/// The image's run-time configuration, each line with where it comes from.
pub(crate) fn config_lines(app: &AppPlan) -> Result<String, String> {
    let img = &app.image;
    let json = |v: &[String]| serde_json::to_string(v).map_err(|e| e.to_string());
    let mut out = String::new();
    if !img.env.is_empty() {
        out.push_str(
            "# The environment the process had on the source (host noise and secrets left out;\n\
             # see env_dropped in plan.yaml).\n",
        );
        for kv in &img.env {
            out.push_str(&format!("ENV {}\n", env_line(kv)?));
        }
    }
    if !img.ports.is_empty() {
        out.push_str(&format!(
            "# The ports it listened on ({}).\n",
            if img.listen.is_empty() {
                "as the plan lists them".to_string()
            } else {
                img.listen.join(", ")
            }
        ));
        for p in &img.ports {
            out.push_str(&format!("EXPOSE {p}\n"));
        }
    }
    for v in app.volumes.iter().filter(|v| v.kind == VolumeKind::Volume) {
        out.push_str(&format!(
            "# State: {}; run.sh mounts volumes/ here.\nVOLUME {}\n",
            v.why,
            json(std::slice::from_ref(&v.path))?
        ));
    }
    out.push_str(&format!(
        "# Where the process ran.\nWORKDIR {}\n# The user it ran as on the source ({}).\nUSER {}:{}\n",
        img.workdir, img.user, img.uid, img.gid
    ));
    if let Some(s) = &img.stop_signal {
        out.push_str(&format!(
            "# The signal that stops it cleanly, as its service manager sent it.\nSTOPSIGNAL {s}\n"
        ));
    }
    let under = if img.supervisor {
        ", under liftkit's supervisor (PID 1)"
    } else {
        ""
    };
    out.push_str(&format!(
        "# Its command, in the foreground as the analyzer {} runs it{under}.\nENTRYPOINT {}\n",
        app.analyzer,
        json(&img.launch())?
    ));
    if !img.cmd.is_empty() {
        out.push_str(&format!("CMD {}\n", json(&img.cmd)?));
    }
    Ok(out)
}

fn env_line(kv: &str) -> Result<String, String> {
    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
    let quoted = serde_json::to_string(v).map_err(|e| e.to_string())?;
    Ok(format!("{k}={quoted}"))
}

/// The path as a Dockerfile names it under `rootfs/`.
pub(crate) fn rootfs_path(path: &Path) -> String {
    format!(
        "{ROOTFS}/{}",
        path.to_string_lossy().trim_start_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_come_back_in_as_few_lines_as_the_tree_allows() {
        let owners: Owners = [
            ("etc", (0, 0, true)),
            ("etc/passwd", (0, 0, false)),
            ("var/lib/nginx", (33, 33, true)),
            ("var/lib/nginx/body", (33, 33, true)),
            ("var/lib/nginx/root-file", (0, 0, false)),
            ("srv/x", (5, 6, false)),
        ]
        .into_iter()
        .map(|(p, o)| (PathBuf::from(p), o))
        .collect();
        let lines: Vec<String> = chown_lines(&owners).iter().map(Chown::line).collect();
        assert_eq!(
            lines,
            [
                "COPY --chown=5:6 rootfs/srv/x /srv/x",
                "COPY --chown=33:33 owners/1/ /var/lib/",
                "COPY --chown=0:0 rootfs/var/lib/nginx/root-file /var/lib/nginx/root-file",
            ]
        );
    }
}
