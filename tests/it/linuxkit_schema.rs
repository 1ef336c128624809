//! The linuxkit.yml schema against LinuxKit's own files: every shipped example, test case and
//! package config parses (the schema is not stricter than LinuxKit), and the file LinuxKit's test
//! suite marks invalid is rejected (it is not looser).

use liftkit::build::linuxkit::schema;
use std::path::{Path, PathBuf};

fn examples_root() -> PathBuf {
    let root = std::env::var("LIFTKIT_LINUXKIT_EXAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/linuxkit-examples")
        });
    assert!(
        root.is_dir(),
        "{} holds LinuxKit's examples",
        root.display()
    );
    root
}

fn yml_files(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect()
}

#[test]
fn every_linuxkit_example_parses_and_the_invalid_one_does_not() {
    let root = examples_root();
    let mut files = yml_files(&root.join("examples"));
    files.extend(yml_files(&root.join("test")));
    files.push(root.join("linuxkit.yml"));
    files.push(root.join("linuxkit-template.yml"));
    assert!(files.len() > 100, "the corpus is there: {}", files.len());
    let mut failures = Vec::new();
    let mut rejected = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let result = schema::parse(&text);
        if f.ends_with("091_validate_linuxkit_yaml/linuxkit.yml") {
            let err = result.expect_err("the intentionally invalid file is rejected");
            assert!(err.to_string().contains("unknownField"), "{err}");
            rejected += 1;
        } else if f.ends_with("examples/static-ip.yml") {
            // A `#` at column 0 inside a block scalar: go-yaml (LinuxKit) reads it as a comment,
            // libyaml and its ports reject the YAML itself, before any schema applies.
            let syntax = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text);
            assert!(
                syntax.is_err() && result.is_err(),
                "static-ip.yml: a YAML-level difference only"
            );
        } else if let Err(e) = result {
            failures.push(format!("{}: {e}", f.display()));
        }
    }
    assert_eq!(rejected, 1);
    assert!(
        failures.is_empty(),
        "examples rejected:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_package_config_parses_as_a_service_entry() {
    let mut count = 0;
    for f in yml_files(&examples_root().join("pkg")) {
        let doc: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        if let Some(config) = doc.get("config") {
            schema::parse_image_config(config).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            count += 1;
        }
    }
    assert!(count >= 20, "package configs checked: {count}");
}

#[test]
fn unknown_keys_and_wrong_types_are_rejected() {
    for bad in [
        "kernel:\n  image: k\n  cmdlin: x\n",
        "services:\n  - name: a\n    image: b\n    capability: [CAP_CHOWN]\n",
        "services:\n  - name: a\n    image: b\n    readonly: maybe\n",
        "services:\n  - image: b\n",
        "files:\n  - path: a\n    content: x\n",
    ] {
        assert!(schema::parse(bad).is_err(), "accepted: {bad}");
    }
}
