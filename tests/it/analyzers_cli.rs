//! Analyzers are data: listed, shown, checked with errors naming file, line and key, and extended
//! from a directory without touching Rust.

use crate::common;

use common::*;

#[test]
fn analyzers_are_listed_shown_and_checked() {
    let list = run_ok(liftkit().args(["analyzers", "list"]));
    let list = String::from_utf8_lossy(&list.stdout);
    for id in ["nginx", "redis", "generic"] {
        assert!(
            list.lines().any(|l| l.starts_with(id)),
            "{id} listed:\n{list}"
        );
    }
    let show = run_ok(liftkit().args(["analyzers", "show", "nginx"]));
    let show = String::from_utf8_lossy(&show.stdout);
    assert!(
        show.contains("id = \"nginx\"") && show.contains("daemon off;"),
        "{show}"
    );

    let missing = liftkit()
        .args(["analyzers", "show", "nope"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no analyzer \"nope\""));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "schema = 1\nid = \"x\"\n[detect]\nexe = [\"**/x\"]\nexes = []\n",
    )
    .unwrap();
    let out = liftkit()
        .args(["analyzers", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:5:1") && err.contains("unknown field `exes`"),
        "{err}"
    );

    for shipped in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/analyzers")).unwrap() {
        let path = shipped.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            run_ok(liftkit().args(["analyzers", "check"]).arg(&path));
        }
    }
}

#[test]
fn an_analyzer_directory_adds_knowledge_without_code() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("memcached.toml"),
        "schema = 1\nid = \"memcached\"\ndescription = \"memcached cache\"\n[detect]\nexe = [\"**/memcached\"]\n\
         [runtime]\nprobes = [{ tcp = true }]\n",
    )
    .unwrap();
    let list = run_ok(
        liftkit()
            .args(["analyzers", "list", "--analyzers"])
            .arg(dir.path()),
    );
    assert!(String::from_utf8_lossy(&list.stdout).contains("memcached cache"));
}

/// Hooks, syntaxes and populate strategies come from one registry: a name it does not know is
/// an error at its file and line when the analyzer loads, not a rule that never runs.
#[test]
fn unknown_registry_names_are_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let head = "schema = 1\nid = \"x\"\n[detect]\nexe = [\"**/x\"]\n";
    let cases = [
        (
            "hook.toml",
            "schema = 1\nid = \"x\"\nhook = \"nope\"\n[detect]\n".to_string(),
            "3:8",
            "hook: unknown hook \"nope\" (known: vendor-tree, apache, postgresql, python, tomcat)",
        ),
        (
            "syntax.toml",
            format!("{head}[config]\nentry = \"/etc/x.conf\"\nsyntax = \"yaml\"\n"),
            "7:10",
            "config.syntax: unknown config syntax \"yaml\" (known: nginx, redis, apache, keyvalue, postgresql)",
        ),
        (
            "strategy.toml",
            format!("{head}[runtime]\nvolumes = [\"/var/lib/x\"]\npopulate = {{ \"/var/lib/x\" = \"rsync\" }}\n"),
            "7:29",
            "runtime.populate: unknown populate strategy \"rsync\" (known: pg_basebackup, image)",
        ),
        (
            "not_a_volume.toml",
            format!("{head}[runtime]\nvolumes = [\"/var/lib/x\"]\npopulate = {{ \"/srv/x\" = \"pg_basebackup\" }}\n"),
            "7:25",
            "runtime.populate: \"/srv/x\" is not one of runtime.volumes",
        ),
    ];
    for (name, text, at, message) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = liftkit()
            .args(["analyzers", "check"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            err.trim_end(),
            format!("liftkit: error: {}:{at}: {message}", path.display()),
            "{name}"
        );
        // The same check runs when a directory of analyzers is loaded for a lift.
        let extra = tempfile::tempdir().unwrap();
        std::fs::copy(&path, extra.path().join(name)).unwrap();
        let out = liftkit()
            .args(["analyzers", "list", "--analyzers"])
            .arg(extra.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(message),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
