//! Ruby: the script, `$LOAD_PATH` as the process had it (`-I`, `RUBYLIB`, `$LOAD_PATH <<` in
//! the code, then the directories compiled into ruby), the static closure of `require` and
//! `require_relative`, and gems: a `require` that resolves into a gem takes the gem whole with
//! its specification. RubyGems itself, loaded before the first line, is taken whole.

use super::{compiled_dirs, dir_of, is_dir, is_file, option_values, quoted, Launch};
use super::{read_source, search_path, take_tree, Queue};
use crate::analyze::rules::absolutize;
use crate::analyze::sources::{AppFacts, Found};
use crate::analyze::Inputs;
use crate::plan::{Confidence, Role};
use crate::snapshot::Process;
use std::collections::BTreeSet;
use std::path::Path;

const WITH_VALUE: &[&str] = &["-I", "-r", "-C", "-E", "-x"];
const INLINE: &[&str] = &["-e"];
/// What `ruby` loads before the program (unless `--disable-gems`).
const STARTUP: &[&str] = &["rubygems", "did_you_mean", "error_highlight"];

struct Closure<'a> {
    inp: &'a Inputs<'a>,
    app: &'a AppFacts<'a>,
    at: Launch,
    load_path: Vec<String>,
    gem_dirs: Vec<String>,
    gems: BTreeSet<String>,
    files: Queue,
    found: Found,
}

pub fn closure(inp: &Inputs, app: &AppFacts, p: &Process) -> Found {
    let args = p.cmdline.get(1..).unwrap_or_default();
    let at = Launch::of(args, p, WITH_VALUE, INLINE);
    let mut load_path = at.includes.clone();
    load_path.extend(search_path(p.env("RUBYLIB")));
    let compiled = compiled_dirs(inp, p, "ruby");
    load_path.extend(
        compiled
            .iter()
            .filter(|d| !d.contains("/include/"))
            .cloned(),
    );
    let script = at.script.clone();
    let mut c = Closure {
        inp,
        app,
        at,
        gem_dirs: gem_dirs(inp, p, &compiled),
        load_path,
        gems: BTreeSet::new(),
        files: Queue::new(),
        found: Found::default(),
    };
    if !args
        .iter()
        .any(|a| a == "--disable-gems" || a == "--disable=gems")
    {
        c.rubygems();
        for lib in STARTUP {
            c.require(lib, "loaded by ruby at start-up");
        }
    }
    for lib in option_values(args, "-r", None) {
        c.require(&lib, "loaded by -r");
    }
    if let Some(script) = &script {
        if is_file(inp, script) {
            c.found.script(script, "ruby", p.pid);
            c.files.push(script);
        }
    }
    while let Some(file) = c.files.pop() {
        c.read(&file);
    }
    c.found
}

/// Where gems live for this ruby: `GEM_HOME`, `GEM_PATH`, and the distribution's places for the
/// version the library directory names (`/usr/lib/ruby/3.1.0` → `3.1.0`).
fn gem_dirs(inp: &Inputs, p: &Process, compiled: &[String]) -> Vec<String> {
    let mut out: Vec<String> = search_path(p.env("GEM_HOME"));
    out.extend(search_path(p.env("GEM_PATH")));
    let versions: BTreeSet<&str> = compiled
        .iter()
        .filter_map(|d| d.rsplit('/').next())
        .filter(|v| v.chars().next().is_some_and(|c| c.is_ascii_digit()) && v.contains('.'))
        .collect();
    for v in versions {
        for d in [
            format!("/var/lib/gems/{v}"),
            format!("/usr/lib/ruby/gems/{v}"),
            format!("/usr/local/lib/ruby/gems/{v}"),
            "/usr/share/rubygems-integration/all".to_string(),
            format!("/usr/share/rubygems-integration/{v}"),
        ] {
            if is_dir(inp, &d) && !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

/// `require 'x'`, `require_relative 'x'`, `load 'x.rb'`, and `$LOAD_PATH` additions.
#[derive(Debug, PartialEq, Eq)]
pub enum Load {
    Require(String),
    Relative(String),
    File(String),
    AddPath(String),
}

pub fn loads(line: &str) -> Vec<Load> {
    let t = line.trim_start();
    if t.starts_with('#') {
        return Vec::new();
    }
    let first = quoted(t).first().map(|q| q.to_string());
    let mut out = Vec::new();
    let Some(q) = first else { return out };
    if t.starts_with("require_relative") {
        out.push(Load::Relative(q));
    } else if t.starts_with("require ") || t.starts_with("require(") {
        out.push(Load::Require(q));
    } else if t.starts_with("load ") {
        out.push(Load::File(q));
    } else if t.starts_with("$LOAD_PATH") || t.starts_with("$:") {
        let relative_to_file = t.contains("__dir__") || t.contains("__FILE__");
        out.push(if relative_to_file {
            Load::Relative(q)
        } else {
            Load::AddPath(q)
        });
        // The relative form here names a directory, told apart by the caller.
    }
    out
}

impl Closure<'_> {
    fn read(&mut self, file: &str) {
        let Some(text) = read_source(self.inp, file) else {
            return;
        };
        let dir = dir_of(file);
        let why = format!("required by {file}");
        for line in text.lines() {
            if line.starts_with("__END__") {
                break;
            }
            let is_path =
                line.trim_start().starts_with("$LOAD_PATH") || line.trim_start().starts_with("$:");
            for load in loads(line) {
                match load {
                    Load::Relative(r) if is_path => self.add_load_path(absolutize(&r, &dir)),
                    Load::AddPath(r) => self.add_load_path(absolutize(&r, &self.at.cwd.clone())),
                    Load::Relative(r) => {
                        let target = absolutize(&r, &dir);
                        let f = [format!("{target}.rb"), target.clone()]
                            .into_iter()
                            .find(|f| is_file(self.inp, f));
                        if let Some(f) = f {
                            self.take(&f, &why);
                        }
                    }
                    Load::Require(r) => self.require(&r, &why),
                    Load::File(r) => {
                        let f = absolutize(&r, &self.at.cwd);
                        if is_file(self.inp, &f) {
                            self.take(&f, &why);
                        }
                    }
                }
            }
        }
        self.at
            .own_literals(self.inp, self.app, file, &text, &mut self.found);
    }

    fn add_load_path(&mut self, dir: String) {
        if is_dir(self.inp, &dir) && !self.load_path.contains(&dir) {
            self.load_path.insert(0, dir);
        }
    }

    fn take(&mut self, file: &str, why: &str) {
        self.found
            .file(file, Role::Code, why.to_string(), Confidence::Declared);
        if file.ends_with(".rb") {
            self.files.push(file);
        }
        self.gem_of(file, why);
    }

    fn require(&mut self, name: &str, why: &str) {
        if name.contains('#') {
            return;
        }
        let names: Vec<String> = if name.ends_with(".rb") || name.ends_with(".so") {
            vec![name.to_string()]
        } else {
            vec![format!("{name}.rb"), format!("{name}.so")]
        };
        if name.starts_with('/') {
            if let Some(f) = names.iter().find(|f| is_file(self.inp, f)) {
                self.take(&f.clone(), why);
            }
            return;
        }
        let in_path = self
            .load_path
            .iter()
            .flat_map(|d| names.iter().map(move |n| format!("{d}/{n}")))
            .find(|f| is_file(self.inp, f));
        if let Some(f) = in_path {
            self.take(&f, why);
            return;
        }
        // A gem's `lib/`: what RubyGems adds to the load path when the gem is activated.
        for gems in self.gem_dirs.clone() {
            let Ok(entries) = self.inp.host.read_dir(Path::new(&format!("{gems}/gems"))) else {
                continue;
            };
            for e in entries.iter().rev() {
                let lib = format!("{gems}/gems/{}/lib", e.to_string_lossy());
                if let Some(f) = names
                    .iter()
                    .map(|n| format!("{lib}/{n}"))
                    .find(|f| is_file(self.inp, f))
                {
                    self.take(&f, why);
                    return;
                }
            }
        }
    }

    /// A file inside `…/gems/<name>-<version>/`: the gem whole, with its specification.
    fn gem_of(&mut self, file: &str, why: &str) {
        for gems in self.gem_dirs.clone() {
            let Some(rest) = file.strip_prefix(&format!("{gems}/gems/")) else {
                continue;
            };
            let Some(gem) = rest.split('/').next() else {
                continue;
            };
            let dir = format!("{gems}/gems/{gem}");
            if !self.gems.insert(dir.clone()) {
                return;
            }
            let why = format!("gem {gem}, {why}");
            take_tree(
                self.inp,
                &dir,
                Role::Code,
                &why,
                Confidence::Declared,
                &mut self.found,
            );
            let spec = format!("{gems}/specifications/{gem}.gemspec");
            if is_file(self.inp, &spec) {
                self.found.file(spec, Role::Code, why, Confidence::Declared);
            }
        }
    }

    /// RubyGems loads its parts and every gem specification by computed names: taken whole.
    fn rubygems(&mut self) {
        let Some(lib) = self
            .load_path
            .iter()
            .find(|d| is_file(self.inp, &format!("{d}/rubygems.rb")))
            .cloned()
        else {
            return;
        };
        let why = "RubyGems, loaded by ruby at start-up";
        self.found.file(
            format!("{lib}/rubygems.rb"),
            Role::Code,
            why,
            Confidence::Declared,
        );
        take_tree(
            self.inp,
            &format!("{lib}/rubygems"),
            Role::Code,
            why,
            Confidence::Declared,
            &mut self.found,
        );
        for gems in self.gem_dirs.clone() {
            let specs = format!("{gems}/specifications");
            if is_dir(self.inp, &specs) {
                take_tree(
                    self.inp,
                    &specs,
                    Role::Code,
                    "gem specifications RubyGems reads at start-up",
                    Confidence::Declared,
                    &mut self.found,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::{find, has, process, Fixture};
    use super::*;

    #[test]
    fn what_a_line_loads() {
        assert_eq!(loads("require 'socket'"), [Load::Require("socket".into())]);
        assert_eq!(
            loads("require_relative \"lib/x\""),
            [Load::Relative("lib/x".into())]
        );
        assert_eq!(
            loads("$LOAD_PATH.unshift File.expand_path('lib', __dir__)"),
            [Load::Relative("lib".into())]
        );
        assert_eq!(loads("$: << 'vendor'"), [Load::AddPath("vendor".into())]);
        assert!(loads("# require 'x'").is_empty());
    }

    #[test]
    fn a_ruby_app_with_relative_requires_and_a_gem() {
        let fx = Fixture::new();
        fx.write(
            "/srv/rapp/app.rb",
            "$LOAD_PATH.unshift File.expand_path('lib', __dir__)\nrequire 'socket'\n\
             require 'greeter'\nrequire_relative 'config/settings'\nrequire 'tinygem'\n",
        )
        .write("/srv/rapp/lib/greeter.rb", "require 'json'\n")
        .write("/srv/rapp/config/settings.rb", "X = 1\n")
        .write("/usr/lib/ruby/3.1.0/socket.rb", "require 'socket.so'\n")
        .write("/usr/lib/ruby/3.1.0/json.rb", "")
        .write("/usr/lib/ruby/3.1.0/rubygems.rb", "")
        .write("/usr/lib/ruby/3.1.0/rubygems/version.rb", "")
        .write("/usr/lib/x86_64-linux-gnu/ruby/3.1.0/socket.so", "\x7fELF")
        .write("/var/lib/gems/3.1.0/gems/tinygem-1.0/lib/tinygem.rb", "")
        .write("/var/lib/gems/3.1.0/gems/tinygem-1.0/README", "")
        .write("/var/lib/gems/3.1.0/specifications/tinygem-1.0.gemspec", "")
        .write(
            "/usr/bin/ruby3.1",
            b"\x7fELF\0/usr/lib/ruby/3.1.0\0/usr/lib/x86_64-linux-gnu/ruby/3.1.0\0".as_slice(),
        );
        let p = process("/usr/bin/ruby3.1", &["ruby", "app.rb"], "/srv/rapp");
        let found = fx.run(super::super::closure, p, &[]);
        assert!(find(&found, "/srv/rapp/app.rb")
            .why
            .contains("the script ruby runs"));
        for f in [
            "/srv/rapp/lib/greeter.rb",
            "/srv/rapp/config/settings.rb",
            "/usr/lib/ruby/3.1.0/json.rb",
            "/usr/lib/x86_64-linux-gnu/ruby/3.1.0/socket.so",
            "/usr/lib/ruby/3.1.0/rubygems/version.rb",
            "/var/lib/gems/3.1.0/gems/tinygem-1.0/README",
            "/var/lib/gems/3.1.0/specifications/tinygem-1.0.gemspec",
        ] {
            assert!(has(&found, f), "{f}: {:#?}", found.evidence);
        }
    }
}
