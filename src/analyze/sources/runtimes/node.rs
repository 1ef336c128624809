//! Node.js: the script (relative to the working directory), the static closure of its relative
//! `require`/`import`s, and every package it reaches from `node_modules` (or `NODE_PATH`, or the
//! global module directories) taken whole with its `package.json`, its dependencies after it.

use super::{dir_of, is_dir, is_file, literal_files, option_values, read_source, script_arg};
use super::{take_tree, Queue};
use crate::analyze::sources::{AppFacts, Found};
use crate::analyze::Inputs;
use crate::findings::Finding;
use crate::plan::{Confidence, Role};
use crate::snapshot::Process;
use std::collections::BTreeSet;

/// Options of `node` that take a value.
const WITH_VALUE: &[&str] = &[
    "-r",
    "--require",
    "--import",
    "--loader",
    "--experimental-loader",
    "-C",
    "--conditions",
    "--env-file",
];
const INLINE: &[&str] = &["-e", "--eval", "-p", "--print"];
/// Where node and Debian put globally installed modules.
const GLOBAL: &[&str] = &[
    "/usr/lib/node_modules",
    "/usr/local/lib/node_modules",
    "/usr/share/nodejs",
    "/usr/lib/nodejs",
];
/// Extensions node tries, in its order.
const EXTENSIONS: &[&str] = &["", ".js", ".json", ".node", ".mjs", ".cjs"];

struct Closure<'a> {
    inp: &'a Inputs<'a>,
    app: &'a AppFacts<'a>,
    cwd: String,
    node_path: Vec<String>,
    files: Queue,
    packages: BTreeSet<String>,
    found: Found,
}

pub fn closure(inp: &Inputs, app: &AppFacts, p: &Process) -> Found {
    let args = p.cmdline.get(1..).unwrap_or_default();
    let cwd = p.cwd.clone().unwrap_or_else(|| "/".to_string());
    let mut c = Closure {
        inp,
        app,
        cwd: cwd.clone(),
        node_path: super::search_path(p.env("NODE_PATH")),
        files: Queue::new(),
        packages: BTreeSet::new(),
        found: Found::default(),
    };
    for module in option_values(args, "-r", Some("--require")) {
        c.spec(&module, &cwd, "preloaded by -r");
    }
    match script_arg(args, WITH_VALUE, INLINE) {
        Some(script) => match c.resolve_file(&crate::analyze::rules::absolutize(script, &cwd)) {
            Some(file) => {
                c.found.script(&file, "node", p.pid);
                c.files.push(&file);
            }
            None => c.found.findings.push(Finding::warning(
                format!("pid {}", p.pid),
                format!("node: the script {script} was not found from {cwd}"),
            )),
        },
        None => return c.found,
    }
    while let Some(file) = c.files.pop() {
        c.read(&file);
    }
    if c.files.full() {
        c.found.findings.push(Finding::warning(
            format!("pid {}", p.pid),
            "node: more modules than liftkit follows; the rest were not looked at",
        ));
    }
    c.found
}

/// The specifiers a module loads: `require('x')`, `import … from 'x'`, `import 'x'`,
/// `import('x')`, `export … from 'x'`.
pub fn specifiers(text: &str) -> Vec<String> {
    let re = regex::Regex::new(
        r#"(?:\brequire\s*\(\s*|\bimport\s*\(\s*|\bfrom\s+|\bimport\s+)['"]([^'"\n]+)['"]"#,
    )
    .expect("valid regex");
    re.captures_iter(text).map(|c| c[1].to_string()).collect()
}

fn is_builtin(spec: &str) -> bool {
    const BUILTIN: &[&str] = &[
        "assert",
        "async_hooks",
        "buffer",
        "child_process",
        "cluster",
        "console",
        "constants",
        "crypto",
        "dgram",
        "diagnostics_channel",
        "dns",
        "domain",
        "events",
        "fs",
        "http",
        "http2",
        "https",
        "inspector",
        "module",
        "net",
        "os",
        "path",
        "perf_hooks",
        "process",
        "punycode",
        "querystring",
        "readline",
        "repl",
        "stream",
        "string_decoder",
        "sys",
        "timers",
        "tls",
        "trace_events",
        "tty",
        "url",
        "util",
        "v8",
        "vm",
        "wasi",
        "worker_threads",
        "zlib",
    ];
    let base = spec.split('/').next().unwrap_or(spec);
    spec.starts_with("node:") || BUILTIN.contains(&base)
}

/// `@scope/name/sub` → `@scope/name`; `name/sub` → `name`.
fn package_name(spec: &str) -> String {
    let mut parts = spec.split('/');
    match (parts.next(), parts.next()) {
        (Some(scope), Some(name)) if scope.starts_with('@') => format!("{scope}/{name}"),
        (Some(name), _) => name.to_string(),
        _ => spec.to_string(),
    }
}

impl Closure<'_> {
    fn read(&mut self, file: &str) {
        let Some(text) = read_source(self.inp, file) else {
            return;
        };
        let dir = dir_of(file);
        let why = format!("required by {file}");
        for spec in specifiers(&text) {
            self.spec(&spec, &dir, &why);
        }
        if !file.contains("/node_modules/") {
            let bases = vec![dir.clone(), self.cwd.clone()];
            literal_files(self.inp, self.app, file, &text, &bases, &mut self.found);
        }
    }

    fn spec(&mut self, spec: &str, from_dir: &str, why: &str) {
        if is_builtin(spec) {
            return;
        }
        if spec.starts_with("./")
            || spec.starts_with("../")
            || spec.starts_with('/')
            || spec == "."
            || spec == ".."
        {
            let target = crate::analyze::rules::absolutize(spec, from_dir);
            if let Some(file) = self.resolve_file(&target) {
                let role = if file.ends_with(".json") {
                    Role::Config
                } else {
                    Role::Code
                };
                self.found
                    .file(&file, role, why.to_string(), Confidence::Declared);
                if is_code(&file) {
                    self.files.push(&file);
                }
            }
            return;
        }
        self.package(&package_name(spec), from_dir, why);
    }

    /// `x`, `x.js`, …, `x/package.json`'s main, `x/index.js`.
    fn resolve_file(&self, target: &str) -> Option<String> {
        for ext in EXTENSIONS {
            let f = format!("{target}{ext}");
            if is_file(self.inp, &f) {
                return Some(f);
            }
        }
        if !is_dir(self.inp, target) {
            return None;
        }
        let main = read_source(self.inp, &format!("{target}/package.json"))
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["main"].as_str().map(str::to_string));
        if let Some(main) = main {
            let m = crate::analyze::rules::absolutize(&main, target);
            if let Some(f) = EXTENSIONS
                .iter()
                .map(|e| format!("{m}{e}"))
                .find(|f| is_file(self.inp, f))
            {
                return Some(f);
            }
        }
        ["index.js", "index.json", "index.node"]
            .iter()
            .map(|i| format!("{target}/{i}"))
            .find(|f| is_file(self.inp, f))
    }

    /// Node's lookup: `node_modules` in the requiring file's directory and every parent, then
    /// `NODE_PATH`, then the global directories. The package is taken whole; its own
    /// dependencies are looked up from it.
    fn package(&mut self, name: &str, from_dir: &str, why: &str) {
        let mut dirs: Vec<String> = Vec::new();
        let mut d = std::path::PathBuf::from(from_dir);
        loop {
            if d.file_name().is_some_and(|n| n != "node_modules") {
                dirs.push(d.join("node_modules").to_string_lossy().into_owned());
            }
            if !d.pop() {
                break;
            }
        }
        dirs.extend(self.node_path.iter().cloned());
        dirs.extend(GLOBAL.iter().map(|g| g.to_string()));
        let Some(pkg_dir) = dirs
            .iter()
            .map(|d| format!("{d}/{name}"))
            .find(|p| is_dir(self.inp, p))
        else {
            return;
        };
        if !self.packages.insert(pkg_dir.clone()) {
            return;
        }
        let why = format!("package {name}, {why}");
        take_tree(
            self.inp,
            &pkg_dir,
            Role::Code,
            &why,
            Confidence::Declared,
            &mut self.found,
        );
        let manifest = read_source(self.inp, &format!("{pkg_dir}/package.json"))
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
        let Some(manifest) = manifest else { return };
        for key in ["dependencies", "optionalDependencies", "peerDependencies"] {
            if let Some(deps) = manifest[key].as_object() {
                for dep in deps.keys() {
                    self.package(dep, &pkg_dir, &format!("dependency of {pkg_dir}"));
                }
            }
        }
    }
}

fn is_code(file: &str) -> bool {
    [".js", ".mjs", ".cjs"].iter().any(|e| file.ends_with(e))
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::{find, has, process, Fixture};
    use super::*;

    #[test]
    fn a_node_app_from_its_directory() {
        let fx = Fixture::new();
        fx.write(
            "/srv/app/server.js",
            "const http = require('node:http');\nconst fs = require('fs');\n\
             const greet = require('./lib/greet');\nconst express = require(\"tiny-web\");\n\
             const cfg = JSON.parse(fs.readFileSync('config.json'));\n\
             const pub = path.join(__dirname, 'public');\n",
        )
        .write(
            "/srv/app/lib/greet.js",
            "import { x } from '../util/x.mjs';\nmodule.exports = 1;\n",
        )
        .write("/srv/app/util/x.mjs", "export const x = 1;\n")
        .write("/srv/app/config.json", "{\"port\": 1}\n")
        .write("/srv/app/public/index.html", "hi\n")
        .write("/srv/app/unused.js", "")
        .write(
            "/srv/app/node_modules/tiny-web/package.json",
            "{\"main\": \"lib/main.js\", \"dependencies\": {\"@sc/dep\": \"1\"}}",
        )
        .write(
            "/srv/app/node_modules/tiny-web/lib/main.js",
            "require('./other')\n",
        )
        .write("/srv/app/node_modules/tiny-web/README.md", "")
        .write("/srv/app/node_modules/@sc/dep/package.json", "{}")
        .write("/srv/app/node_modules/@sc/dep/index.js", "")
        .write("/srv/app/node_modules/unused/index.js", "");
        let p = process("/usr/bin/node", &["node", "server.js"], "/srv/app");
        let found = fx.run(super::super::closure, p, &[]);
        assert!(find(&found, "/srv/app/server.js")
            .why
            .contains("the script node runs"));
        assert!(find(&found, "/srv/app/lib/greet.js")
            .why
            .contains("required by /srv/app/server.js"));
        assert!(
            has(&found, "/srv/app/util/x.mjs"),
            "import from a required module"
        );
        assert_eq!(find(&found, "/srv/app/config.json").role, Role::Config);
        assert!(
            has(&found, "/srv/app/public/index.html"),
            "a directory joined to __dirname"
        );
        assert!(
            has(&found, "/srv/app/node_modules/tiny-web/README.md"),
            "packages whole"
        );
        assert!(
            has(&found, "/srv/app/node_modules/@sc/dep/package.json"),
            "and their dependencies"
        );
        assert!(!has(&found, "/srv/app/unused.js"));
        assert!(!has(&found, "/srv/app/node_modules/unused/index.js"));
    }
}
