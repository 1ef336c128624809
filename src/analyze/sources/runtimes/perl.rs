//! Perl: the script, `@INC` as the process had it (`-I`, `PERL5LIB`, `use lib`, then the
//! directories compiled into perl), and the static closure of `use`/`require` through it, with
//! the shared objects of XS modules (`auto/Foo/Bar/Bar.so`).

use super::{compiled_dirs, is_dir, is_file, option_values, quoted, Launch};
use super::{read_source, search_path, Queue};
use crate::analyze::rules::absolutize;
use crate::analyze::sources::{AppFacts, Found};
use crate::analyze::Inputs;
use crate::findings::Finding;
use crate::plan::{Confidence, Role};
use crate::snapshot::Process;

const WITH_VALUE: &[&str] = &["-I", "-M", "-m", "-x", "-C"];
const INLINE: &[&str] = &["-e", "-E"];

struct Closure<'a> {
    inp: &'a Inputs<'a>,
    app: &'a AppFacts<'a>,
    at: Launch,
    inc: Vec<String>,
    files: Queue,
    missing: Vec<String>,
    found: Found,
}

pub fn closure(inp: &Inputs, app: &AppFacts, p: &Process) -> Found {
    let args = p.cmdline.get(1..).unwrap_or_default();
    let at = Launch::of(args, p, WITH_VALUE, INLINE);
    let mut inc = at.includes.clone();
    inc.extend(search_path(p.env("PERL5LIB")));
    inc.extend(search_path(p.env("PERLLIB")));
    inc.extend(compiled_dirs(inp, p, "perl"));
    let script = at.script.clone();
    let mut c = Closure {
        inp,
        app,
        at,
        inc,
        files: Queue::new(),
        missing: Vec::new(),
        found: Found::default(),
    };
    for m in option_values(args, "-M", None)
        .into_iter()
        .chain(option_values(args, "-m", None))
    {
        let name = m
            .split(['=', ' '])
            .next()
            .unwrap_or_default()
            .trim_start_matches('-')
            .to_string();
        c.module(&name, "loaded by -M");
    }
    if let Some(script) = &script {
        if is_file(inp, script) {
            c.found.script(script, "perl", p.pid);
            c.files.push(script);
        }
    }
    while let Some(file) = c.files.pop() {
        c.read(&file);
    }
    if !c.missing.is_empty() {
        c.found.findings.push(Finding::info(
            format!("pid {}", p.pid),
            format!(
                "perl: modules not found in @INC (loaded conditionally, or not at all): {}",
                c.missing.join(", ")
            ),
        ));
    }
    c.found
}

/// `Foo::Bar` → `Foo/Bar.pm`.
fn module_file(name: &str) -> String {
    format!("{}.pm", name.replace("::", "/"))
}

/// What a line loads: modules by name and files by path.
pub fn loads(line: &str) -> (Vec<String>, Vec<String>) {
    let line = line.trim_start();
    let mut modules = Vec::new();
    let mut files = Vec::new();
    for kw in ["use ", "require ", "no "] {
        let Some(rest) = line.strip_prefix(kw) else {
            continue;
        };
        let rest = rest.trim_start();
        let word: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        if word == "parent" || word == "base" {
            modules.push(word.clone());
            let list = rest[word.len()..]
                .replace("qw(", "'")
                .replace("qw/", "'")
                .replace([')', '/'], "'");
            modules.extend(
                quoted(&list)
                    .iter()
                    .flat_map(|q| q.split_whitespace())
                    .filter(|m| *m != "-norequire")
                    .map(str::to_string),
            );
        } else if !word.is_empty() && !word.starts_with(|c: char| c.is_ascii_digit()) {
            modules.push(word);
        } else if let Some(q) = quoted(rest).first() {
            files.push(q.to_string());
        }
    }
    if let Some(rest) = line.strip_prefix("do ") {
        files.extend(quoted(rest).first().map(|q| q.to_string()));
    }
    (modules, files)
}

impl Closure<'_> {
    fn read(&mut self, file: &str) {
        let Some(text) = read_source(self.inp, file) else {
            return;
        };
        let why = format!("used by {file}");
        let mut pod = false;
        for line in text.lines() {
            if line.starts_with("__END__") || line.starts_with("__DATA__") {
                break;
            }
            if line.starts_with('=') {
                pod = !line.starts_with("=cut");
                continue;
            }
            if pod {
                continue;
            }
            if line.trim_start().starts_with("use lib") {
                self.use_lib(line);
            }
            let (modules, files) = loads(line);
            for m in modules {
                self.module(&m, &why);
            }
            for f in files {
                self.require_file(&f, &why);
            }
        }
        self.at
            .own_literals(self.inp, self.app, file, &text, &mut self.found);
    }

    /// `use lib 'lib'`, `use lib "$FindBin::Bin/lib"`, `use lib qw(a b)`: relative to the cwd,
    /// as perl takes them; FindBin's to the script's directory.
    fn use_lib(&mut self, line: &str) {
        let rest = line
            .trim_start()
            .trim_start_matches("use lib")
            .replace("qw(", "'")
            .replace(')', "'");
        let mut dirs: Vec<String> = Vec::new();
        for q in quoted(&rest) {
            for d in q.split_whitespace() {
                let d = d
                    .replace("$FindBin::RealBin", &self.at.script_dir)
                    .replace("$FindBin::Bin", &self.at.script_dir)
                    .replace("$Bin", &self.at.script_dir);
                if !d.contains('$') {
                    dirs.push(absolutize(&d, &self.at.cwd));
                }
            }
        }
        for d in dirs.into_iter().rev() {
            if is_dir(self.inp, &d) && !self.inc.contains(&d) {
                self.inc.insert(0, d);
            }
        }
    }

    fn module(&mut self, name: &str, why: &str) {
        if name.is_empty() || name.contains(['$', '\'']) {
            return;
        }
        let rel = module_file(name);
        match self.find(&rel) {
            Some((dir, file)) => {
                self.found
                    .file(&file, Role::Code, why.to_string(), Confidence::Declared);
                self.files.push(&file);
                self.xs(&dir, name, why);
            }
            None => {
                if !self.missing.contains(&name.to_string()) {
                    self.missing.push(name.to_string());
                }
            }
        }
    }

    fn require_file(&mut self, rel: &str, why: &str) {
        if let Some((head, _)) = rel.split_once('$') {
            self.dynamic(head, why);
            return;
        }
        let file = if rel.starts_with('/') {
            Some(rel.to_string()).filter(|f| is_file(self.inp, f))
        } else {
            self.find(rel)
                .map(|(_, f)| f)
                .or_else(|| Some(absolutize(rel, &self.at.cwd)).filter(|f| is_file(self.inp, f)))
        };
        if let Some(file) = file {
            self.found
                .file(&file, Role::Code, why.to_string(), Confidence::Declared);
            self.files.push(&file);
        }
    }

    /// `require "File/Spec/$module.pm"`: the name is computed, the directory is not; every
    /// module in it is one the program may load (File::Spec picks its platform's).
    fn dynamic(&mut self, head: &str, why: &str) {
        let Some((dir, _)) = head.rsplit_once('/') else {
            return;
        };
        if dir.is_empty() || dir.starts_with('/') {
            return;
        }
        let found: Vec<String> = self
            .inc
            .iter()
            .map(|d| format!("{d}/{dir}"))
            .filter(|d| is_dir(self.inp, d))
            .collect();
        for d in found {
            let Ok(names) = self.inp.host.read_dir(std::path::Path::new(&d)) else {
                continue;
            };
            for n in names
                .iter()
                .map(|n| n.to_string_lossy())
                .filter(|n| n.ends_with(".pm"))
            {
                let f = format!("{d}/{n}");
                if is_file(self.inp, &f) {
                    let why = format!("{why} (a module it names by a computed name under {dir}/)");
                    self.found.file(&f, Role::Code, why, Confidence::Guessed);
                    self.files.push(&f);
                }
            }
        }
    }

    fn find(&self, rel: &str) -> Option<(String, String)> {
        self.inc
            .iter()
            .map(|d| (d.clone(), format!("{d}/{rel}")))
            .find(|(_, f)| is_file(self.inp, f))
    }

    /// An XS module's shared object and autoload files beside it, under `auto/`.
    fn xs(&mut self, dir: &str, name: &str, why: &str) {
        let auto = format!("{dir}/auto/{}", name.replace("::", "/"));
        if !is_dir(self.inp, &auto) {
            return;
        }
        let Ok(entries) = self.inp.host.read_dir(std::path::Path::new(&auto)) else {
            return;
        };
        for e in entries {
            let f = format!("{auto}/{}", e.to_string_lossy());
            if is_file(self.inp, &f) {
                self.found.file(
                    f,
                    Role::Code,
                    format!("{why} (XS part of {name})"),
                    Confidence::Declared,
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
        assert_eq!(loads("use strict;").0, ["strict"]);
        assert_eq!(loads("use IO::Socket::INET;").0, ["IO::Socket::INET"]);
        assert_eq!(
            loads("use parent -norequire, 'A::B';").0,
            ["parent", "A::B"]
        );
        assert_eq!(loads("use base qw(X Y);").0, ["base", "X", "Y"]);
        assert_eq!(loads("require 'conf.pl';").1, ["conf.pl"]);
        assert_eq!(loads("use 5.010;").0, Vec::<String>::new());
    }

    #[test]
    fn a_perl_app_with_use_lib_and_core_modules() {
        let fx = Fixture::new();
        fx.write(
            "/srv/papp/app.pl",
            "#!/usr/bin/perl\nuse strict;\nuse FindBin;\nuse lib \"$FindBin::Bin/lib\";\n\
             use My::Greeter;\nuse POSIX qw(floor);\nuse Spec;\nopen(my $f, '<', 'words.txt');\n\
             __END__\nuse Not::This;\n",
        )
        .write(
            "/srv/papp/lib/My/Greeter.pm",
            "package My::Greeter;\nuse parent 'Exporter';\nrequire 'My/conf.pl';\n1;\n",
        )
        .write("/srv/papp/lib/My/conf.pl", "1;\n")
        .write(
            "/usr/share/perl/5.36/Spec.pm",
            "my $m = 'Unix';\nrequire \"Spec/$m.pm\";\n",
        )
        .write("/usr/share/perl/5.36/Spec/Unix.pm", "1;\n")
        .write("/srv/papp/words.txt", "hello\n")
        .write("/usr/share/perl/5.36/strict.pm", "1;\n")
        .write("/usr/lib/x86_64-linux-gnu/perl/5.36/lib.pm", "1;\n")
        .write("/usr/share/perl/5.36/FindBin.pm", "use Cwd;\n1;\n")
        .write("/usr/share/perl/5.36/parent.pm", "1;\n")
        .write("/usr/share/perl/5.36/Exporter.pm", "1;\n")
        .write("/usr/lib/x86_64-linux-gnu/perl/5.36/Cwd.pm", "1;\n")
        .write("/usr/lib/x86_64-linux-gnu/perl/5.36/POSIX.pm", "1;\n")
        .write(
            "/usr/lib/x86_64-linux-gnu/perl/5.36/auto/POSIX/POSIX.so",
            "\x7fELF",
        )
        .write(
            "/usr/bin/perl",
            b"\x7fELF\0/usr/lib/x86_64-linux-gnu/perl/5.36\0/usr/share/perl/5.36\0".as_slice(),
        );
        let p = process("/usr/bin/perl", &["/usr/bin/perl", "app.pl"], "/srv/papp");
        let found = fx.run(super::super::closure, p, &[]);
        assert!(find(&found, "/srv/papp/app.pl")
            .why
            .contains("the script perl runs"));
        let greeter = find(&found, "/srv/papp/lib/My/Greeter.pm");
        assert!(
            greeter.why.contains("used by /srv/papp/app.pl"),
            "{}",
            greeter.why
        );
        for f in [
            "/srv/papp/lib/My/conf.pl",
            "/usr/share/perl/5.36/strict.pm",
            "/usr/share/perl/5.36/Exporter.pm",
            "/usr/lib/x86_64-linux-gnu/perl/5.36/Cwd.pm",
            "/usr/lib/x86_64-linux-gnu/perl/5.36/auto/POSIX/POSIX.so",
            "/srv/papp/words.txt",
            "/usr/share/perl/5.36/Spec/Unix.pm",
        ] {
            assert!(has(&found, f), "{f}: {:#?}", found.evidence);
        }
        assert!(found.findings.is_empty(), "{:?}", found.findings);
    }
}
