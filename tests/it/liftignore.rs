//! Excludes written once: a `.liftignore` beside the plan (gitignore syntax) and `--exclude`,
//! honoured by analyze for files and content and by build for volume data, every excluded path
//! listed in the plan with its pattern and line. On copies of the nginx and redis fixtures with
//! logs, a cache and a log to keep added.

use crate::common::*;
use std::path::Path;

fn fixture_copy(name: &str, into: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name);
    run_ok(
        std::process::Command::new("cp")
            .arg("-a")
            .arg(&src)
            .arg(into),
    );
}

const IGNORE: &str = "# never take logs, nor caches\n*.log\ncache/\n!keep.log\n";

#[test]
fn liftignore_leaves_out_files_content_and_volume_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fixture_copy("nginx", &d.join("nginx"));
    fixture_copy("redis", &d.join("redis"));
    let static_dir = d.join("nginx/root/srv/static");
    std::fs::write(static_dir.join("app.log"), "old log\n").unwrap();
    std::fs::write(static_dir.join("keep.log"), "kept on purpose\n").unwrap();
    std::fs::create_dir_all(static_dir.join("cache/deep")).unwrap();
    std::fs::write(static_dir.join("cache/deep/page.html"), "cached\n").unwrap();
    let data = d.join("redis/root/var/lib/redis");
    std::fs::write(data.join("debug.log"), "noise\n").unwrap();
    std::fs::write(data.join("keep.log"), "kept\n").unwrap();
    std::fs::create_dir_all(data.join("cache")).unwrap();
    std::fs::write(data.join("cache/blob"), "cached\n").unwrap();

    // nginx: the ignore file beside the plan.
    let plan_dir = d.join("nginx-plan");
    std::fs::create_dir_all(&plan_dir).unwrap();
    std::fs::write(plan_dir.join(".liftignore"), IGNORE).unwrap();
    run_ok(
        liftkit()
            .arg("analyze")
            .arg(d.join("nginx/snapshot.json"))
            .arg("--root")
            .arg(d.join("nginx/root"))
            .arg("-o")
            .arg(plan_dir.join("plan.yaml")),
    );
    let plan = liftkit::plan::load(&plan_dir.join("plan.yaml")).unwrap();
    let rules: Vec<(&str, &str)> = plan
        .exclude
        .iter()
        .map(|r| (r.pattern.as_str(), r.from.as_str()))
        .collect();
    assert_eq!(
        rules,
        [
            ("*.log", ".liftignore:2"),
            ("cache/", ".liftignore:3"),
            ("!keep.log", ".liftignore:4")
        ]
    );
    let app = &plan.apps[0];
    let has = |p: &str| app.files.iter().any(|f| f.path == p);
    assert!(has("/srv/static/site.css"), "other content stays");
    assert!(
        has("/srv/static/keep.log"),
        "the negation takes keep.log back"
    );
    assert!(!has("/srv/static/app.log") && !has("/srv/static/cache/deep/page.html"));
    let excluded = |p: &str| {
        app.excluded
            .iter()
            .find(|e| e.path == p)
            .map(|e| (e.pattern.as_str(), e.from.as_str()))
    };
    assert_eq!(
        excluded("/srv/static/app.log"),
        Some(("*.log", ".liftignore:2"))
    );
    assert_eq!(
        excluded("/srv/static/cache/deep/page.html"),
        Some(("cache/", ".liftignore:3"))
    );
    assert_eq!(excluded("/srv/static/keep.log"), None);

    // redis: the same rules given on the command line, applied to the volume's data at build.
    let plan_file = d.join("redis-plan.yaml");
    let mut analyze = liftkit();
    analyze
        .arg("analyze")
        .arg(d.join("redis/snapshot.json"))
        .arg("--root")
        .arg(d.join("redis/root"))
        .arg("-o")
        .arg(&plan_file);
    for p in ["*.log", "cache/", "!keep.log"] {
        analyze.arg(format!("--exclude={p}"));
    }
    run_ok(&mut analyze);
    let plan = liftkit::plan::load(&plan_file).unwrap();
    assert!(plan.exclude.iter().all(|r| r.from == "--exclude"));
    let app = &plan.apps[0];
    let data_path = "/var/lib/redis";
    let listed: Vec<(&str, &str)> = app
        .excluded
        .iter()
        .map(|e| (e.path.as_str(), e.pattern.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            ("/var/lib/redis/cache", "cache/"),
            ("/var/lib/redis/debug.log", "*.log")
        ],
        "the volume's excluded data, a directory standing for what it holds"
    );
    assert!(app
        .excluded
        .iter()
        .all(|e| e.what == format!("volume data of {data_path}")));
    let out = d.join("out");
    run_ok(liftkit().arg("build").arg(&plan_file).arg("-o").arg(&out));
    let volume = app_dir(&out)
        .join("volumes")
        .join(liftkit::plan::volume_name(data_path));
    assert!(
        volume.join("dump.rdb").exists(),
        "the data itself is copied"
    );
    assert!(
        volume.join("keep.log").exists(),
        "the negation holds in the volume too"
    );
    assert!(!volume.join("debug.log").exists() && !volume.join("cache").exists());
}
