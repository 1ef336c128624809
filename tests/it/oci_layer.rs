//! The writer's output read back with the `tar` crate: determinism, kept metadata, layout
//! structure, and hostile or changing input.

use crate::oci_common;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use flate2::read::GzDecoder;
use liftkit::build::oci::{
    verify_layout, write_image, Entry, EntryKind, OciError, Source, Written,
};
use oci_common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tar::EntryType;

#[derive(Debug, Clone)]
struct Member {
    kind: EntryType,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    link: Option<String>,
    data: Vec<u8>,
}

/// The members of a tar stream in archive order, long names resolved.
fn members(reader: impl Read) -> Vec<(String, Member)> {
    let mut archive = tar::Archive::new(reader);
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
        let link = entry
            .link_name_bytes()
            .map(|l| String::from_utf8(l.into_owned()).unwrap());
        let header = entry.header().clone();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        let member = Member {
            kind: header.entry_type(),
            mode: header.mode().unwrap(),
            uid: header.uid().unwrap(),
            gid: header.gid().unwrap(),
            mtime: header.mtime().unwrap(),
            link,
            data,
        };
        out.push((name, member));
    }
    out
}

fn blob(written: &Written, digest: &str) -> PathBuf {
    written
        .layout_dir
        .join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}

fn layer_members(written: &Written) -> Vec<(String, Member)> {
    members(GzDecoder::new(
        File::open(blob(written, &written.layer_digest)).unwrap(),
    ))
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

fn build(entries: Vec<Entry>, out: &Path) -> Written {
    write_image(
        entries,
        &sample_config("localhost/liftkit/sample:1.0"),
        &liftkit::host::live(),
        out,
    )
    .unwrap()
}

#[test]
fn same_input_gives_identical_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = build(sample_entries(), a.path());
    let second = build(sample_entries(), b.path());
    assert_eq!(
        fs::read(&first.image_tar).unwrap(),
        fs::read(&second.image_tar).unwrap()
    );
    for field in [
        (&first.manifest_digest, &second.manifest_digest),
        (&first.config_digest, &second.config_digest),
        (&first.layer_digest, &second.layer_digest),
        (&first.diff_id, &second.diff_id),
    ] {
        assert_eq!(field.0, field.1);
    }
    // Entry order in the input does not matter either.
    let mut reversed = sample_entries();
    reversed.reverse();
    let third = build(reversed, b.path());
    assert_eq!(first.manifest_digest, third.manifest_digest);
    assert!(first.warnings.is_empty(), "{:?}", first.warnings);
}

#[test]
fn rebuilding_replaces_the_image_and_leaves_no_staging() {
    let out = tempfile::tempdir().unwrap();
    build(sample_entries(), out.path());
    let mut fewer = sample_entries();
    fewer.retain(|e| e.path != Path::new("/etc/motd"));
    let written = build(fewer, out.path());
    let names: Vec<_> = fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, ["image.tar", "oci"]);
    // Only the new image's blobs remain.
    assert_eq!(
        fs::read_dir(written.layout_dir.join("blobs/sha256"))
            .unwrap()
            .count(),
        3
    );
    assert!(!layer_members(&written).iter().any(|(n, _)| n == "etc/motd"));
    verify_layout(&written.layout_dir).unwrap();
}

#[test]
fn layer_keeps_modes_owners_and_links() {
    let out = tempfile::tempdir().unwrap();
    let written = build(sample_entries(), out.path());
    let list = layer_members(&written);
    let by_name: BTreeMap<_, _> = list.iter().cloned().collect();
    let get = |name: &str| {
        by_name
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing: {list:?}"))
    };

    let data = get("var/lib/data/");
    assert_eq!(
        (data.kind, data.mode, data.uid, data.gid),
        (EntryType::Directory, 0o700, 999, 999)
    );
    let secret = get("var/lib/data/secret");
    assert_eq!(
        (secret.mode, secret.uid, secret.data.as_slice()),
        (0o600, 999, &b"s3cret\n"[..])
    );
    assert_eq!(get("usr/bin/setuid-tool").mode, 0o4755);
    assert_eq!(get("tmp/").mode, 0o1777);
    let link = get("usr/bin/tool-link");
    assert_eq!(link.kind, EntryType::Link);
    assert_eq!(link.link.as_deref(), Some("usr/bin/setuid-tool"));
    let sh = get("bin/sh");
    assert_eq!(
        (sh.kind, sh.link.as_deref()),
        (EntryType::Symlink, Some("busybox"))
    );
    assert_eq!(get("bin/busybox").data, fs::read(BUSYBOX).unwrap());

    // Names and link targets past 100 bytes survive whole.
    let long = long_file();
    assert!(long.len() > 100);
    assert_eq!(get(&long[1..]).data, b"long\n");
    assert_eq!(get("etc/long-link").link.as_deref(), Some(long.as_str()));

    // Parents nobody listed are root-owned 0755 directories.
    for implied in ["usr/", "usr/bin/", "var/", "opt/", "etc/"] {
        let dir = get(implied);
        assert_eq!(
            (dir.kind, dir.mode, dir.uid, dir.gid),
            (EntryType::Directory, 0o755, 0, 0)
        );
    }

    // Relative names, parents first, one fixed mtime.
    let names: Vec<&String> = list.iter().map(|(n, _)| n).collect();
    for (i, name) in names.iter().enumerate() {
        assert!(
            !name.starts_with('/') && !name.split('/').any(|c| c == ".."),
            "{name}"
        );
        let parent = Path::new(name.as_str()).parent().unwrap();
        if parent != Path::new("") {
            let parent = format!("{}/", parent.display());
            assert!(names[..i].contains(&&parent), "{name} before its parent");
        }
    }
    assert!(list.iter().all(|(_, m)| m.mtime == CREATED as u64));
}

#[test]
fn digests_and_documents_are_consistent() {
    let out = tempfile::tempdir().unwrap();
    let written = build(sample_entries(), out.path());
    let verified = verify_layout(&written.layout_dir).unwrap();
    assert_eq!(verified.len(), 1);
    assert_eq!(
        verified[0].name.as_deref(),
        Some("localhost/liftkit/sample:1.0")
    );
    assert_eq!(verified[0].manifest_digest, written.manifest_digest);

    let layer = fs::read(blob(&written, &written.layer_digest)).unwrap();
    assert_eq!(layer.len() as u64, written.layer_size);
    let mut tar = Vec::new();
    GzDecoder::new(&layer[..]).read_to_end(&mut tar).unwrap();
    assert_eq!(tar.len() as u64, written.uncompressed_size);
    assert_eq!(
        written.diff_id,
        format!("sha256:{}", hex::encode(Sha256::digest(&tar)))
    );
    // gzip header: no mtime (bytes 4..8), no file name flag.
    assert_eq!(&layer[3..8], &[0, 0, 0, 0, 0]);

    let config = json(&blob(&written, &written.config_digest));
    assert_eq!(config["architecture"], liftkit::build::oci::host_arch());
    assert_eq!(config["os"], "linux");
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    assert_eq!(config["rootfs"]["diff_ids"][0], written.diff_id.as_str());
    assert_eq!(config["config"]["Entrypoint"][0], BUSYBOX);
    assert_eq!(config["config"]["StopSignal"], "SIGQUIT");
    assert!(config["config"]["ExposedPorts"]["53/udp"].is_object());
    assert!(config["config"]["Volumes"]["/var/lib/data"].is_object());
    assert_eq!(config["config"]["Labels"]["io.liftkit.app"], "test");
    assert_eq!(config["history"][0]["created_by"], "liftkit build (test)");

    let index = json(&written.layout_dir.join("index.json"));
    let entry = &index["manifests"][0];
    assert_eq!(entry["digest"], written.manifest_digest.as_str());
    assert_eq!(
        entry["annotations"]["io.containerd.image.name"],
        "localhost/liftkit/sample:1.0"
    );
    assert_eq!(
        entry["annotations"]["org.opencontainers.image.ref.name"],
        "1.0"
    );
    assert_eq!(entry["annotations"]["io.liftkit.plan"], "test");
    let manifest = json(&blob(&written, &written.manifest_digest));
    assert_eq!(manifest["annotations"]["io.liftkit.plan"], "test");
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert_eq!(
        json(&written.layout_dir.join("oci-layout")),
        serde_json::json!({"imageLayoutVersion": "1.0.0"})
    );
}

#[test]
fn archive_holds_the_layout_and_dockers_files() {
    let out = tempfile::tempdir().unwrap();
    let written = build(sample_entries(), out.path());
    let list = members(File::open(&written.image_tar).unwrap());
    let by_name: BTreeMap<_, _> = list.iter().cloned().collect();
    let hex = |d: &str| d.strip_prefix("sha256:").unwrap().to_string();
    for name in [
        "oci-layout",
        "index.json",
        "manifest.json",
        "repositories",
        "blobs/",
        "blobs/sha256/",
    ] {
        assert!(by_name.contains_key(name), "{name} missing");
    }
    for digest in [
        &written.layer_digest,
        &written.config_digest,
        &written.manifest_digest,
    ] {
        let name = format!("blobs/sha256/{}", hex(digest));
        assert_eq!(
            by_name[&name].data,
            fs::read(blob(&written, digest)).unwrap()
        );
    }
    assert_eq!(
        by_name["index.json"].data,
        fs::read(written.layout_dir.join("index.json")).unwrap()
    );
    let docker: Value = serde_json::from_slice(&by_name["manifest.json"].data).unwrap();
    assert_eq!(
        docker,
        serde_json::json!([{
            "Config": format!("blobs/sha256/{}", hex(&written.config_digest)),
            "RepoTags": ["localhost/liftkit/sample:1.0"],
            "Layers": [format!("blobs/sha256/{}", hex(&written.layer_digest))],
        }])
    );
    let repositories: Value = serde_json::from_slice(&by_name["repositories"].data).unwrap();
    assert_eq!(
        repositories,
        serde_json::json!({"localhost/liftkit/sample": {"1.0": hex(&written.layer_digest)}})
    );
    assert!(list
        .iter()
        .all(|(_, m)| m.uid == 0 && m.mtime == CREATED as u64));
}

#[test]
fn hostile_paths_are_refused_and_nothing_is_written() {
    let out = tempfile::tempdir().unwrap();
    let cases = [
        entry("etc/passwd", bytes("x"), 0o644, 0, 0),
        entry("/etc/../../host-secret", bytes("x"), 0o644, 0, 0),
        entry("/../etc/passwd", bytes("x"), 0o644, 0, 0),
        entry(
            "/x",
            EntryKind::Hardlink("/../../etc/shadow".into()),
            0o644,
            0,
            0,
        ),
        entry("/x", EntryKind::Hardlink("relative".into()), 0o644, 0, 0),
    ];
    for bad in cases {
        let mut entries = sample_entries();
        entries.push(bad.clone());
        let err = write_image(
            entries,
            &sample_config("localhost/x:1"),
            &liftkit::host::live(),
            out.path(),
        )
        .unwrap_err();
        assert!(
            matches!(err, OciError::InvalidPath { .. }),
            "{bad:?}: {err}"
        );
    }
    let dangling = entry("/x", EntryKind::Hardlink("/not/there".into()), 0o644, 0, 0);
    let err = write_image(
        vec![dangling],
        &sample_config("localhost/x:1"),
        &liftkit::host::live(),
        out.path(),
    )
    .unwrap_err();
    assert!(matches!(err, OciError::InvalidHardlink { .. }), "{err}");
    let err = write_image(
        sample_entries(),
        &sample_config("Bad Name"),
        &liftkit::host::live(),
        out.path(),
    )
    .unwrap_err();
    assert!(matches!(err, OciError::InvalidName { .. }), "{err}");
    assert_eq!(
        fs::read_dir(out.path()).unwrap().count(),
        0,
        "something was written"
    );
}

#[test]
fn vanished_files_are_left_out_with_a_warning() {
    let out = tempfile::tempdir().unwrap();
    let gone = out.path().join("never-existed");
    let entries = vec![
        entry("/data/a", EntryKind::File(Source::Host(gone)), 0o644, 0, 0),
        entry(
            "/data/b",
            EntryKind::Hardlink("/data/a".into()),
            0o644,
            0,
            0,
        ),
        entry("/data/c", bytes("kept"), 0o644, 0, 0),
    ];
    let written = build(entries, &out.path().join("img"));
    assert_eq!(written.warnings.len(), 2, "{:?}", written.warnings);
    let names: Vec<String> = layer_members(&written)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["data/", "data/c"]);
}

/// procfs files report size 0 and then yield data; sysfs files report 4096 and yield less.
/// Both are what a live host serves, and both must give a valid archive and a warning.
#[test]
fn files_that_change_size_while_read_keep_the_archive_valid() {
    let out = tempfile::tempdir().unwrap();
    let shrinks = Path::new("/sys/kernel/uevent_seqnum");
    let mut entries = vec![entry(
        "/proc-status",
        EntryKind::File(Source::Host("/proc/self/status".into())),
        0o644,
        0,
        0,
    )];
    let sysfs = shrinks.metadata().is_ok_and(|m| m.len() == 4096);
    if sysfs {
        entries.push(entry(
            "/seqnum",
            EntryKind::File(Source::Host(shrinks.into())),
            0o644,
            0,
            0,
        ));
    } else {
        eprintln!(
            "SKIPPED (shrink half): {} is not a 4096-byte sysfs file here",
            shrinks.display()
        );
    }
    entries.push(entry("/after", bytes("still here"), 0o644, 0, 0));
    let written = build(entries, out.path());
    let list: BTreeMap<_, _> = layer_members(&written).into_iter().collect();
    assert!(
        list["proc-status"].data.is_empty(),
        "grew: cut to the 0 bytes seen at open"
    );
    assert!(
        written.warnings.iter().any(|w| w.contains("grew")),
        "{:?}",
        written.warnings
    );
    if sysfs {
        let seqnum = &list["seqnum"].data;
        assert_eq!(seqnum.len(), 4096);
        assert!(
            seqnum.iter().rev().take(4000).all(|b| *b == 0),
            "padded with zeros"
        );
        assert!(
            written.warnings.iter().any(|w| w.contains("shrank")),
            "{:?}",
            written.warnings
        );
    }
    assert_eq!(list["after"].data, b"still here");
    verify_layout(&written.layout_dir).unwrap();
}

/// A file rewritten with random sizes while images are built from it: whatever is caught, the
/// layer must stay a valid tar whose digests match.
#[test]
fn a_file_rewritten_during_the_build_never_corrupts_the_layer() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.log");
    fs::write(&live, vec![b'x'; 1 << 20]).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (live, stop) = (live.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut size = 1usize;
            while !stop.load(Ordering::Relaxed) {
                size = (size * 7919 + 13) % (3 << 20);
                let mut f = File::create(&live).unwrap();
                f.write_all(&vec![b'y'; size]).unwrap();
            }
        })
    };
    for round in 0..8 {
        let out = dir.path().join(format!("img{round}"));
        let entries = vec![
            entry(
                "/var/log/live.log",
                EntryKind::File(Source::Host(live.clone())),
                0o640,
                0,
                4,
            ),
            entry("/var/log/after", bytes("after"), 0o644, 0, 0),
        ];
        let written = build(entries, &out);
        verify_layout(&written.layout_dir).unwrap();
        let list: BTreeMap<_, _> = layer_members(&written).into_iter().collect();
        assert_eq!(list["var/log/after"].data, b"after");
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
}
