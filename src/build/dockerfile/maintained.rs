//! `Dockerfile.maintained`: the app on Debian's own packages, the way a team keeps patching it.
//! `FROM debian:<release>-slim`, the packages the image's files come from at the versions the
//! source ran, then only the files no package gives: files no package owns (content, vendor
//! trees, liftkit's generated passwd), and packaged files that differ from what the package
//! installed (changed conffiles), found by dpkg's own checksums.

use super::{rootfs_path, Owners, SpecialModes, ROOTFS};
use crate::analyze::checksums::Checksums;
use crate::build::Context;
use crate::host::Host;
use crate::plan::Role;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `special`: the set-user-ID, set-group-ID and sticky files of the layer, whose bits a
/// builder's COPY may drop (a package's own files get theirs from the package).
pub fn dockerfile(cx: &Context, owners: &Owners, special: &SpecialModes) -> Result<String, String> {
    let app = cx.app;
    let release = release(&cx.plan.source);
    let packages = crate::build::sbom::packages_in_image(app, cx.opts.include_secrets);
    let sums = Checksums::load(cx.host, &packages.iter().map(|p| p.name.as_str()).collect());
    let (copies, kept) = files_to_copy(cx, &sums);
    let mut out =
        format!(
        "# The lifted {name} on Debian's own packages: the path to keep patching it. The files\n\
         # come from {ROOTFS}/ (the exact image's layer), only where no package gives them.\n\
         #   podman build -f Dockerfile.maintained -t {image}-maintained .\n\
         # Versions no longer in the archive are on snapshot.debian.org.\n\
         FROM debian:{release}-slim\n",
        name = app.name,
        image = app.image.name.rsplit_once(':').map_or(app.image.name.as_str(), |(r, _)| r),
    );
    if !packages.is_empty() {
        out.push_str(
            "# The packages the image's files come from, at the versions the source host ran;\n\
             # --build-arg VERSIONS=latest takes the release's current ones (its security fixes).\n\
             ARG VERSIONS=exact\n\
             RUN set -- \\\n",
        );
        for p in &packages {
            out.push_str(&format!("      {}={} \\\n", p.name, p.version));
        }
        out.push_str(
            " && if [ \"$VERSIONS\" = latest ]; then set -- $(printf '%s\\n' \"$@\" | cut -d= -f1); fi \\\n\
             \x20&& apt-get update \\\n\
             \x20&& apt-get install -y --no-install-recommends \"$@\" \\\n\
             \x20&& rm -rf /var/lib/apt/lists/*\n",
        );
    }
    // Links are made, not copied: a builder's COPY follows a link named as its source.
    let rootfs = cx.dir.join(ROOTFS);
    let (links, copies): (Vec<_>, Vec<_>) = copies.into_iter().partition(|(path, _)| {
        std::fs::symlink_metadata(rootfs.join(path.trim_start_matches('/')))
            .is_ok_and(|m| m.file_type().is_symlink())
    });
    if !copies.is_empty() {
        out.push_str(&format!(
            "# What no package gives: files no package owns, and packaged files changed since\n\
             # installed ({kept} packaged files are as their package has them and are not copied).\n"
        ));
        for (path, why) in &copies {
            let rel = PathBuf::from(path.trim_start_matches('/'));
            let owner = owners.get(&rel).map(|(u, g, _)| (*u, *g)).unwrap_or((0, 0));
            let chown = if owner == (0, 0) {
                String::new()
            } else {
                format!("--chown={}:{} ", owner.0, owner.1)
            };
            let chmod = special
                .get(&rel)
                .map(|mode| format!("--chmod={mode:04o} "))
                .unwrap_or_default();
            out.push_str(&format!("# {why}\n"));
            out.push_str(&format!(
                "COPY {chown}{chmod}{} {path}\n",
                rootfs_path(Path::new(path))
            ));
        }
    }
    // A set-user-ID file inside a copied tree: its bits again, as the exact Dockerfile does.
    for (rel, mode) in special {
        let path = format!("/{}", rel.to_string_lossy());
        let in_tree = copies
            .iter()
            .any(|(c, _)| c.ends_with('/') && path.starts_with(c.as_str()));
        if in_tree {
            let (uid, gid, _) = owners.get(rel).copied().unwrap_or((0, 0, false));
            out.push_str(&format!(
                "COPY --chown={uid}:{gid} --chmod={mode:04o} {} {path}\n",
                rootfs_path(rel)
            ));
        }
    }
    let mut setup = Vec::new();
    for (path, _) in &links {
        if let Ok(target) = std::fs::read_link(rootfs.join(path.trim_start_matches('/'))) {
            setup.push(format!(
                "ln -sfn {} {}",
                sh_quote(&target.to_string_lossy()),
                sh_quote(path)
            ));
        }
    }
    for l in &app.links {
        setup.push(format!(
            "ln -sfn {} {}",
            sh_quote(&l.target),
            sh_quote(&l.path)
        ));
    }
    for d in app
        .dirs
        .iter()
        .map(|d| &d.path)
        .chain(app.volumes.iter().map(|v| &v.path))
    {
        let owner = owners
            .get(&PathBuf::from(d.trim_start_matches('/')))
            .map(|(u, g, _)| (*u, *g))
            .unwrap_or((0, 0));
        setup.push(format!("mkdir -p {}", sh_quote(d)));
        if owner != (0, 0) {
            setup.push(format!("chown {}:{} {}", owner.0, owner.1, sh_quote(d)));
        }
    }
    if !setup.is_empty() {
        out.push_str(
            "# Links no package makes, directories the app needs, and the links liftkit added\n\
             # (logs to the engine).\nRUN ",
        );
        out.push_str(&setup.join(" \\\n && "));
        out.push('\n');
    }
    out.push_str(&super::config_lines(app)?);
    Ok(out)
}

/// `bookworm` from the source's os-release version (Debian's numbering), else `stable`.
fn release(source: &crate::plan::Source) -> &'static str {
    match source.os_version_id.as_str() {
        "10" => "buster",
        "11" => "bullseye",
        "12" => "bookworm",
        "13" => "trixie",
        _ => "stable",
    }
}

/// The files to copy over the packages, with why, in path order, and how many packaged files
/// were left to their packages. Whole directories where nothing under them is packaged.
fn files_to_copy(cx: &Context, sums: &Checksums) -> (Vec<(String, String)>, usize) {
    let app = cx.app;
    let mut copy: BTreeMap<String, String> = BTreeMap::new();
    let mut packaged: BTreeSet<String> = BTreeSet::new();
    let mut kept = 0;
    for f in &app.files {
        if f.role == Role::Secret && !cx.opts.include_secrets {
            continue;
        }
        let Some(pkg) = &f.package else {
            copy.insert(f.path.clone(), "owned by no package".to_string());
            continue;
        };
        packaged.insert(f.path.clone());
        match sums.changed(cx.host, &f.path) {
            Some(false) => kept += 1,
            Some(true) => {
                copy.insert(
                    f.path.clone(),
                    format!("of {pkg}, changed since installed (its checksum differs from dpkg's)"),
                );
            }
            None if is_dir(cx.host, &f.path) => kept += 1,
            None => {
                copy.insert(
                    f.path.clone(),
                    format!("of {pkg}, no checksum recorded: copied as the source has it"),
                );
            }
        }
    }
    for g in &app.generated {
        copy.insert(g.path.clone(), format!("written by liftkit: {}", g.why));
    }
    if app.image.supervisor {
        copy.insert(
            crate::plan::SUPERVISOR.to_string(),
            "liftkit's supervisor, PID 1 of the container (the ENTRYPOINT starts the app under it)"
                .to_string(),
        );
    }
    (group(copy, &packaged), kept)
}

fn is_dir(host: &dyn Host, path: &str) -> bool {
    host.lstat(Path::new(path)).is_ok_and(|m| m.is_dir())
}

/// Files of one unpackaged directory tree become one COPY of the tree: a content or vendor tree
/// is one line, not thousands.
fn group(copy: BTreeMap<String, String>, packaged: &BTreeSet<String>) -> Vec<(String, String)> {
    let mut dirs: BTreeMap<String, usize> = BTreeMap::new();
    for (path, why) in &copy {
        if why == "owned by no package" {
            if let Some(parent) = Path::new(path).parent() {
                *dirs
                    .entry(parent.to_string_lossy().into_owned())
                    .or_default() += 1;
            }
        }
    }
    let whole: BTreeSet<String> = dirs
        .into_iter()
        .filter(|(d, n)| {
            *n > 1
                && d != "/"
                && !packaged.iter().any(|p| p.starts_with(&format!("{d}/")))
                && d.matches('/').count() >= 2
        })
        .map(|(d, _)| d)
        .collect();
    let mut out = Vec::new();
    let mut done: BTreeSet<String> = BTreeSet::new();
    for (path, why) in copy {
        let parent = Path::new(&path)
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if why == "owned by no package" && whole.contains(&parent) {
            if done.insert(parent.clone()) {
                out.push((format!("{parent}/"), "a tree no package owns".to_string()));
            }
            continue;
        }
        out.push((path, why));
    }
    out
}

fn sh_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
