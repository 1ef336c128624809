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

pub fn write(cx: &Context, _: &mut AppBuild) -> Result<(), BuildError> {
    let owners = unpack_layer(cx)?;
    let text = exact(cx.app, &owners).map_err(cx.encode("Dockerfile"))?;
    cx.write("Dockerfile", &text)?;
    let text = maintained::dockerfile(cx, &owners).map_err(cx.encode("Dockerfile.maintained"))?;
    cx.write("Dockerfile.maintained", &text)
}

/// Owner of each path in the layer (relative, without leading `/`), and whether a directory.
pub(crate) type Owners = BTreeMap<PathBuf, (u32, u32, bool)>;

/// Unpacks the image's one layer into `rootfs/`, keeping owners (when run as root), modes,
/// mtimes and links, and returns who owns what.
fn unpack_layer(cx: &Context) -> Result<Owners, BuildError> {
    let blob = cx
        .image
        .layout_dir
        .join("blobs/sha256")
        .join(cx.image.layer_digest.trim_start_matches("sha256:"));
    let dest = cx.dir.join(ROOTFS);
    let io = cx.io(ROOTFS);
    let run = || -> std::io::Result<Owners> {
        std::fs::create_dir_all(&dest)?;
        let mut owners = Owners::new();
        let gz = flate2::read::GzDecoder::new(std::fs::File::open(&blob)?);
        let mut archive = tar::Archive::new(gz);
        archive.set_preserve_permissions(true);
        archive.set_preserve_mtime(true);
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
            owners.insert(
                PathBuf::from(path.to_string_lossy().trim_end_matches('/')),
                (uid, gid, is_dir),
            );
            entry.unpack_in(&dest)?;
        }
        Ok(owners)
    };
    run().map_err(io)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `COPY --chown` lines that give back the owners COPY drops: in path order, a line wherever
/// an entry's owner differs from what the lines before it gave (a directory's line gives its
/// whole tree), so a tree owned by one user is one line.
pub(crate) fn chown_lines(owners: &Owners) -> Vec<String> {
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
        let shown = path.to_string_lossy();
        let suffix = if is_dir { "/" } else { "" };
        lines.push(format!(
            "COPY --chown={uid}:{gid} {ROOTFS}/{shown}{suffix} /{shown}{suffix}"
        ));
        if is_dir {
            given.push((path.clone(), (uid, gid)));
        }
    }
    lines
}

fn exact(app: &AppPlan, owners: &Owners) -> Result<String, String> {
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
    let chowns = chown_lines(owners);
    if !chowns.is_empty() {
        out.push_str("# COPY makes every file root's: the owners the source host had.\n");
        for l in chowns {
            out.push_str(&l);
            out.push('\n');
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
    out.push_str(&format!(
        "# Its command, in the foreground (as the analyzer {} runs it).\nENTRYPOINT {}\n",
        app.analyzer,
        json(&img.entrypoint)?
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
        assert_eq!(
            chown_lines(&owners),
            [
                "COPY --chown=5:6 rootfs/srv/x /srv/x",
                "COPY --chown=33:33 rootfs/var/lib/nginx/ /var/lib/nginx/",
                "COPY --chown=0:0 rootfs/var/lib/nginx/root-file /var/lib/nginx/root-file",
            ]
        );
    }
}
