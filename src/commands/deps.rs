//! `liftkit deps FILE…`: what glibc's ld.so would load for each file, as a tree for people or
//! JSON for programs.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use liftkit::elf::{Extra, LoaderEnv, Resolution, ResolveOptions, Resolver};
use liftkit::host::Host;
use rayon::prelude::*;
use serde::Serialize;

/// Show the shared libraries ld.so would load for each FILE, without running anything.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// ELF files to resolve (absolute paths inside the root).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print JSON (one object per file) instead of a tree.
    #[arg(long)]
    pub json: bool,
    /// Directory standing in for `/` (a mounted disk or a collected bundle); default: this host.
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// x86-64 level (1-4) of the CPU the image will run on, choosing glibc-hwcaps variants;
    /// default: this host's CPU.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=4))]
    pub cpu_level: Option<u8>,
    /// LD_LIBRARY_PATH of the target process.
    #[arg(long, value_name = "PATHS")]
    pub ld_library_path: Option<String>,
    /// LD_PRELOAD of the target process.
    #[arg(long, value_name = "LIBS")]
    pub ld_preload: Option<String>,
    /// Also list files libc would dlopen (NSS modules, libgcc_s, gconv), inferred from imports.
    #[arg(long)]
    pub dlopen: bool,
}

#[derive(Serialize)]
struct Report {
    #[serde(flatten)]
    resolution: Resolution,
    #[serde(skip_serializing_if = "Option::is_none")]
    dlopen: Option<Vec<Extra>>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let host: Box<dyn Host> = match &args.root {
        Some(r) => Box::new(liftkit::host::at(r)),
        None => Box::new(liftkit::host::live()),
    };
    let resolver = Resolver::new(
        &*host,
        ResolveOptions {
            cpu_level: args.cpu_level,
        },
    );
    let env = LoaderEnv {
        ld_library_path: args.ld_library_path.clone(),
        ld_preload: args.ld_preload.clone(),
    };
    let reports: Vec<Report> = args
        .files
        .par_iter()
        .map(|f| Report {
            resolution: resolver.resolve(f, &env),
            dlopen: args.dlopen.then(|| resolver.dlopen_evidence(f)),
        })
        .collect();
    for w in resolver.warnings() {
        eprintln!("warning: {w}");
    }
    let unreadable = reports
        .iter()
        .filter(|r| r.resolution.interpreter.is_none() && r.resolution.libraries.is_empty())
        .filter(|r| {
            r.resolution
                .warnings
                .iter()
                .any(|w| w.ends_with("not found") || w.contains("invalid ELF header"))
        })
        .count();
    let mut text = Vec::new();
    if args.json {
        serde_json::to_writer_pretty(&mut text, &reports)?;
        writeln!(text)?;
    } else {
        for r in &reports {
            print_tree(&mut text, r, resolver.cpu_level())?;
        }
    }
    // A closed pipe (`| head`) is the reader's choice, not a failure.
    match std::io::stdout().lock().write_all(&text) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
        _ => {}
    }
    Ok(if unreadable > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_tree(out: &mut impl Write, r: &Report, level: u8) -> Result<()> {
    let res = &r.resolution;
    writeln!(out, "{}", res.file.display())?;
    if let Some(i) = &res.interpreter {
        writeln!(out, "  interpreter: {}", i.display())?;
    }
    if !res.hwcaps_used.is_empty() {
        writeln!(
            out,
            "  glibc-hwcaps variants taken for x86-64 level {level}: {}",
            res.hwcaps_used.join(", ")
        )?;
    }
    let mut tree = Tree::default();
    for (i, l) in res.libraries.iter().enumerate() {
        tree.children
            .entry(l.needed_by.as_path())
            .or_default()
            .push(i);
    }
    for m in &res.missing {
        tree.missing
            .entry(m.needed_by.as_path())
            .or_default()
            .push(&m.name);
    }
    tree.print(out, res, &res.file, 1)?;
    for e in r.dlopen.iter().flatten() {
        writeln!(out, "  dlopen: {} ({})", e.path.display(), e.reason)?;
    }
    for w in &res.warnings {
        writeln!(out, "  warning: {w}")?;
    }
    Ok(())
}

/// Libraries by the object that first needed them: the first loader is the tree parent, as each
/// object is loaded once.
#[derive(Default)]
struct Tree<'a> {
    children: HashMap<&'a Path, Vec<usize>>,
    missing: HashMap<&'a Path, Vec<&'a str>>,
}

impl Tree<'_> {
    fn print(
        &self,
        out: &mut impl Write,
        res: &Resolution,
        node: &Path,
        depth: usize,
    ) -> Result<()> {
        let indent = "  ".repeat(depth);
        for name in self.missing.get(node).into_iter().flatten() {
            writeln!(out, "{indent}{name} => not found")?;
        }
        for &i in self.children.get(node).into_iter().flatten() {
            let l = &res.libraries[i];
            let via = serde_json::to_value(l.via)?;
            writeln!(
                out,
                "{indent}{} => {} [{}]",
                l.name,
                l.path.display(),
                via.as_str().unwrap_or("")
            )?;
            // The main file can reappear as a library path only through a cycle; stop there.
            if l.path != res.file && depth < 64 {
                self.print(out, res, &l.path, depth + 1)?;
            }
        }
        Ok(())
    }
}
