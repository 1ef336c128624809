//! `data-image/` (`image.tar` and the `oci/` layout): the lifted volume data as an OCI image, for Kubernetes to fill each
//! PersistentVolumeClaim from. It holds `volumes/<name>/` under `/data/<name>/` (owners and
//! modes kept) and liftkit-init, whose `populate` command the pod's init container runs: the
//! data gets into the cluster the way images do (a registry), with nothing else to install.

use super::super::{oci, AppBuild, BuildError, Context};
use crate::plan::{volume_name, AppPlan, VolumeKind};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub const DIR: &str = "data-image";
pub const FILE: &str = "data-image/image.tar";
/// The copier's path in the data image.
pub const POPULATE: &str = "/liftkit/populate";
/// Where the data image keeps volume `<name>`.
pub const DATA_DIR: &str = "/data";

/// The volumes the data image carries: populated ones.
pub fn volumes(app: &AppPlan) -> Vec<&crate::plan::Volume> {
    app.volumes
        .iter()
        .filter(|v| v.kind == VolumeKind::Volume && v.populate)
        .collect()
}

/// The data image's name: the app's repository with `-data`, the same tag.
pub fn name(app: &AppPlan) -> String {
    let full = &app.image.name;
    let last_slash = full.rfind('/').map_or(0, |i| i + 1);
    match full[last_slash..].rfind(':') {
        Some(i) => format!(
            "{}-data{}",
            &full[..last_slash + i],
            &full[last_slash + i..]
        ),
        None => format!("{full}-data"),
    }
}

pub fn write(cx: &Context, record: &mut AppBuild) -> Result<(), BuildError> {
    let vols = volumes(cx.app);
    if vols.is_empty() {
        return Ok(());
    }
    let local = crate::host::at(cx.dir);
    let mut entries = vec![oci::Entry {
        path: PathBuf::from(POPULATE),
        kind: oci::EntryKind::File(oci::Source::Bytes(crate::hostimage::init::BINARY.to_vec())),
        mode: 0o755,
        uid: 0,
        gid: 0,
    }];
    for v in vols {
        let name = volume_name(&v.path);
        let top = Path::new("/volumes").join(&name);
        let into = Path::new(DATA_DIR).join(&name);
        entries.extend(tree(&local, &top, &into));
    }
    let config = oci::ImageConfig {
        name: name(cx.app),
        entrypoint: vec![POPULATE.to_string(), "populate".to_string()],
        user: "0:0".to_string(),
        working_dir: "/".to_string(),
        created: record.created,
        history: format!(
            "liftkit {} packed the volume data of {}",
            env!("CARGO_PKG_VERSION"),
            cx.app.name
        ),
        ..Default::default()
    };
    let err = |e: oci::OciError| BuildError::Image {
        app: cx.app.name.clone(),
        message: format!("data image: {e}"),
    };
    oci::write_image(entries, &config, &local, &cx.dir.join(DIR)).map_err(err)?;
    Ok(())
}

/// Every entry under `top` of the output directory, placed under `into`, as it was copied
/// (owners and modes of the source host).
fn tree(local: &dyn crate::host::Host, top: &Path, into: &Path) -> Vec<oci::Entry> {
    let mut out = Vec::new();
    local.walk(
        top,
        usize::MAX,
        &mut |w| {
            let Ok(meta) = local.lstat(&w.path) else {
                return true;
            };
            let rel = w.path.strip_prefix(top).unwrap_or(Path::new(""));
            let kind = if w.file_type.is_dir() {
                oci::EntryKind::Dir
            } else if w.file_type.is_symlink() {
                match local.read_link(&w.path) {
                    Ok(t) => oci::EntryKind::Symlink(t),
                    Err(_) => return true,
                }
            } else if w.file_type.is_file() {
                oci::EntryKind::File(oci::Source::Host(w.path.clone()))
            } else {
                return true;
            };
            out.push(oci::Entry {
                path: into.join(rel),
                kind,
                mode: meta.mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
            });
            true
        },
        &mut |_, _| {},
    );
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_data_image_is_named_after_the_app_image() {
        let mut app: crate::plan::AppPlan = serde_yaml_ng::from_str(
            "name: redis\nanalyzer: redis\nfit: good\nprocesses: []\nfiles: []\nimage:\n  \
             name: localhost/liftkit/redis:7.0.15\n  entrypoint: [x]\n  user: redis\n  uid: 1\n  \
             gid: 1\n  workdir: /\n",
        )
        .unwrap();
        assert_eq!(super::name(&app), "localhost/liftkit/redis-data:7.0.15");
        app.image.name = "registry:5000/redis".into();
        assert_eq!(super::name(&app), "registry:5000/redis-data");
    }
}
