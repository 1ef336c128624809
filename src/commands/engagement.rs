//! `liftkit engagement`: a fixed-scope engagement in a workspace directory, step by step (see
//! `liftkit::engagement`). Each subcommand parses its arguments, calls the library and prints.

use super::common;
use anyhow::{bail, Result};
use clap::Subcommand;
use liftkit::engagement::{
    self, handover, run as erun, scope::Scope, sow, status, InitOptions, Source, Timesheet,
    Workspace,
};
use liftkit::pipeline::Session;
use liftkit::verify::{accept, Engine};
use liftkit::wizard::Asker;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(after_help = "A workspace, step by step:\n  \
liftkit engagement init work/ --snapshots snapshots/ --days 5 --customer ACME\n  \
liftkit engagement scope work/ --app web01/nginx --app db01/redis\n  \
$EDITOR work/scope.yaml && liftkit engagement sow work/     # acceptance tests by hand\n  \
liftkit engagement run work/                                  # resumable\n  \
liftkit engagement status work/\n  \
liftkit engagement log work/ --app web01/nginx --days 0.5\n  \
liftkit engagement handover work/")]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a workspace: the snapshots (a directory of them, or this host now) and the fleet's
    /// fit and effort over them.
    Init(InitArgs),
    /// Choose the applications in scope (at a terminal, with --app, or --from a scope file);
    /// writes scope.yaml, each app's plan and the statement of work.
    Scope(ScopeArgs),
    /// Write the statement of work again from the workspace (after editing scope.yaml).
    Sow(SowArgs),
    /// Lift, trial and accept every application in scope; an interrupted run continues where it
    /// stopped, and an app whose plan did not change is not redone.
    Run(RunArgs),
    /// Where the engagement stands: app, host, fit, lifted, verified, open findings, effort.
    Status(StatusArgs),
    /// Book effort spent, against an application or the engagement as a whole.
    Log(LogArgs),
    /// Make the handover pack (handover/): images, run forms, reports, evidence, a summary and
    /// SHA256SUMS.
    Handover(DirArgs),
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The workspace directory to make (absent or empty).
    pub dir: PathBuf,
    /// A directory of snapshots (`liftkit collect` on each server); without it, this host is
    /// collected now.
    #[arg(long, value_name = "SNAPDIR")]
    pub snapshots: Option<PathBuf>,
    /// With this host collected now: also bundle the files its applications need.
    #[arg(long, conflicts_with = "snapshots")]
    pub bundle: bool,
    /// The engagement's name [default: the directory's name].
    #[arg(long)]
    pub name: Option<String>,
    /// The customer, as the statement of work names them.
    #[arg(long, default_value = "")]
    pub customer: String,
    /// Working days the engagement has.
    #[arg(long, default_value_t = 5)]
    pub days: u32,
    /// Directory of extra analyzers (*.toml) that add to or replace the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub analyzers: Option<PathBuf>,
    #[command(flatten)]
    pub priority: super::priority::PriorityArgs,
}

#[derive(Debug, clap::Args)]
pub struct ScopeArgs {
    /// The workspace.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// An application in scope, as HOST/APP (or APP where one host runs it); repeat for several.
    #[arg(long = "app", value_name = "NAME")]
    pub apps: Vec<String>,
    /// Take the scope from a scope file (another workspace's, or written by hand).
    #[arg(long, value_name = "FILE", conflicts_with = "apps")]
    pub from: Option<PathBuf>,
    /// Do not print sow.pdf (it needs Chromium).
    #[arg(long)]
    pub no_pdf: bool,
    /// Directory of extra analyzers (*.toml) that add to or replace the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub analyzers: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct SowArgs {
    /// The workspace.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Do not print sow.pdf (it needs Chromium).
    #[arg(long)]
    pub no_pdf: bool,
    /// Directory of extra analyzers (*.toml) that add to or replace the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub analyzers: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "The engine is $ENGINE (default podman) with $ENGINE_RUN_FLAGS, as for verify.\n\
Exit codes: 0 every app in scope lifted and accepted, 1 some not, 2 error."
)]
pub struct RunArgs {
    /// The workspace.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Run the acceptance tests again, even of apps whose plan and tests did not change.
    #[arg(long)]
    pub retest: bool,
    /// Seconds a lifted app may take to listen in its acceptance run.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Skip the trial run: the built image is not started before its acceptance tests, nothing
    /// it misses is added.
    #[arg(long)]
    pub no_trial: bool,
    #[command(flatten)]
    pub trial: super::trial_args::TrialArgs,
    /// Print what each app's steps did as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Directory of extra analyzers (*.toml) that add to or replace the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub analyzers: Option<PathBuf>,
    #[command(flatten)]
    pub priority: super::priority::PriorityArgs,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The workspace.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Print the status as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct LogArgs {
    /// The workspace.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Days spent (0.25 is two hours).
    #[arg(long)]
    pub days: f64,
    /// The application worked on, as HOST/APP or APP; without it, the engagement as a whole.
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// What the time went on.
    #[arg(long, default_value = "")]
    pub note: String,
}

#[derive(Debug, clap::Args)]
pub struct DirArgs {
    /// The workspace.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

/// Test hook: `run` kills itself (SIGKILL, no clean-up) after this many apps were done in the
/// run, as an interrupted run would stop; the next run must take up from there.
const KILL_AFTER: &str = "LIFTKIT_ENGAGEMENT_KILL_AFTER";

pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Command::Init(a) => init(a),
        Command::Scope(a) => scope(a),
        Command::Sow(a) => sow_again(a),
        Command::Run(a) => run_all(a),
        Command::Status(a) => show_status(a),
        Command::Log(a) => log(a),
        Command::Handover(a) => hand_over(a),
    }
}

fn init(args: InitArgs) -> Result<ExitCode> {
    args.priority.apply();
    let analyzers = common::analyzers(args.analyzers.as_deref())?;
    let bars = common::Bars::default();
    let session = Session::new(&analyzers, &bars);
    let source = match &args.snapshots {
        Some(dir) if !dir.is_dir() => bail!("--snapshots {}: not a directory", dir.display()),
        Some(dir) => Source::Snapshots(dir.clone()),
        None => Source::Live {
            bundle: args.bundle,
        },
    };
    let opts = InitOptions {
        name: args.name.clone(),
        customer: args.customer.clone(),
        days: args.days,
    };
    let ws = Workspace::init(&args.dir, &source, &opts, &session)?;
    let fleet = ws.fleet()?;
    let s = &fleet.summary;
    eprintln!(
        "{}: {} hosts, {} applications ({} good, {} partial, {} poor), estimated {} days → {}/fleet/fleet.html",
        ws.meta.name,
        s.hosts,
        s.apps,
        s.good,
        s.partial,
        s.poor,
        s.effort_days,
        args.dir.display()
    );
    for u in &fleet.unreadable {
        eprintln!("warning: {}: unreadable: {}", u.file, u.reason);
    }
    eprintln!(
        "next: liftkit engagement scope {} --app HOST/APP (or at a terminal, without --app)",
        args.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn scope(args: ScopeArgs) -> Result<ExitCode> {
    let ws = Workspace::open(&args.dir)?;
    let fleet = ws.fleet()?;
    let previous = if ws.scope_file().is_file() {
        Some(Scope::load(&ws.scope_file())?)
    } else {
        None
    };
    let (chosen, warnings) = if let Some(file) = &args.from {
        Scope::replay(&fleet, &Scope::load(file)?, file)?
    } else if !args.apps.is_empty() {
        Scope::choose(&fleet, &args.apps, previous.as_ref())?
    } else if super::wizard::at_terminal() {
        let names = ask_scope(&fleet, previous.as_ref())?;
        Scope::choose(&fleet, &names, previous.as_ref())?
    } else {
        bail!(
            "choose the applications with --app HOST/APP or --from FILE (or run at a terminal); \
             the fleet: {}/fleet/fleet.html",
            args.dir.display()
        );
    };
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    write_sow(&ws, chosen, args.analyzers.as_deref(), !args.no_pdf)
}

/// The interactive choice: the scope question asked at the terminal as the wizard asks.
fn ask_scope(fleet: &liftkit::fleet::FleetReport, previous: Option<&Scope>) -> Result<Vec<String>> {
    let colours = super::wizard_term::decide_colours();
    let mut term = super::wizard_term::Terminal::new(colours, liftkit::wizard::Answers::default());
    let q = Scope::question(fleet, previous);
    let answer = term.ask(&q)?;
    Ok(answer.as_many().to_vec())
}

fn sow_again(args: SowArgs) -> Result<ExitCode> {
    let ws = Workspace::open(&args.dir)?;
    let scope = ws.scope()?;
    write_sow(&ws, scope, args.analyzers.as_deref(), !args.no_pdf)
}

/// Settles the scope (plans, the analyzer's tests), saves it and writes the statement of work.
fn write_sow(
    ws: &Workspace,
    scope: Scope,
    analyzers: Option<&Path>,
    pdf: bool,
) -> Result<ExitCode> {
    let analyzers = common::analyzers(analyzers)?;
    let bars = common::Bars::default();
    let session = Session::new(&analyzers, &bars);
    let fleet = ws.fleet()?;
    let scope = engagement::plans::settle(ws, &session, &fleet, scope)?;
    scope.save(&ws.scope_file())?;
    let doc = sow::build(ws, &fleet, &scope)?;
    // A negative SOURCE_DATE_EPOCH names no date a PDF can carry: undated, as without one.
    let date = common::source_date_epoch()?.and_then(|d| u64::try_from(d).ok());
    let written = sow::write(ws, &doc, pdf, date)?;
    eprintln!(
        "{} in scope, {} out; {} acceptance tests; effort {} of {} days → {}",
        doc.scope.len(),
        doc.out_of_scope.len(),
        doc.tests_total,
        doc.effort.total,
        doc.effort.days,
        written.html.display()
    );
    if !doc.effort.fits {
        eprintln!(
            "warning: the estimate exceeds the engagement's {} days by {}",
            doc.effort.days, doc.effort.over_by
        );
    }
    for a in doc.scope.iter().filter(|a| a.tests.is_empty()) {
        eprintln!("warning: {}: no acceptance test agreed", a.id);
    }
    match written.pdf {
        Ok(p) => eprintln!("printed {}", p.display()),
        Err(why) if pdf => eprintln!("note: sow.pdf not printed: {why}"),
        Err(_) => {}
    }
    Ok(ExitCode::SUCCESS)
}

fn run_all(args: RunArgs) -> Result<ExitCode> {
    args.priority.apply();
    let ws = Workspace::open(&args.dir)?;
    let analyzers = common::analyzers(args.analyzers.as_deref())?;
    let bars = common::Bars::default();
    let session = Session::new(&analyzers, &bars);
    let opts = erun::RunOptions {
        // Secrets are never baked in an engagement: the statement of work says so.
        build: liftkit::pipeline::BuildRequest {
            include_secrets: false,
            source_date_epoch: common::source_date_epoch()?,
            seccomp: false,
        },
        trial: (!args.no_trial).then(|| args.trial.options()),
        accept: accept::Options {
            engine: Engine::from_env(),
            timeout: Duration::from_secs(args.timeout),
        },
        retest: args.retest,
    };
    let kill_after: Option<usize> = std::env::var(KILL_AFTER).ok().and_then(|v| v.parse().ok());
    let mut count = 0;
    let runs = erun::run(&ws, &session, &opts, &mut |r| {
        if !args.json {
            println!("{}", r.id);
            println!("  lift:   {}", r.lift);
            println!("  trial:  {}", r.trial);
            println!("  accept: {}", r.accept);
        }
        count += 1;
        if kill_after == Some(count) {
            // SAFETY: raise has no preconditions; SIGKILL ends the process here.
            unsafe { libc::raise(libc::SIGKILL) };
        }
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
    }
    let ok = runs.iter().filter(|r| r.ok()).count();
    eprintln!(
        "{ok} of {} applications in scope lifted and accepted; `liftkit engagement status {}`",
        runs.len(),
        args.dir.display()
    );
    Ok(if ok == runs.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn show_status(args: StatusArgs) -> Result<ExitCode> {
    let ws = Workspace::open(&args.dir)?;
    let s = status::status(&ws)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        print!("{}", status::table(&s));
    }
    Ok(ExitCode::SUCCESS)
}

fn log(args: LogArgs) -> Result<ExitCode> {
    let ws = Workspace::open(&args.dir)?;
    let scope = ws.scope()?;
    let mut sheet = Timesheet::load(&ws.timesheet_file())?;
    sheet.book(&scope, args.app.as_deref(), args.days, &args.note)?;
    sheet.save(&ws.timesheet_file())?;
    let booked = sheet
        .entries
        .last()
        .map(|b| b.app.clone())
        .unwrap_or_default();
    eprintln!(
        "booked {} days against {}; {} days in all",
        args.days,
        if booked.is_empty() {
            "the engagement"
        } else {
            &booked
        },
        sheet.total()
    );
    Ok(ExitCode::SUCCESS)
}

fn hand_over(args: DirArgs) -> Result<ExitCode> {
    let ws = Workspace::open(&args.dir)?;
    let h = handover::write(&ws)?;
    let c = &h.summary.counts;
    eprintln!(
        "{} files → {}/ ({} of {} apps lifted, {} accepted); check with `sha256sum -c {}`",
        h.files,
        h.dir.display(),
        c.lifted,
        c.in_scope,
        c.accepted,
        handover::SUMS
    );
    for r in &h.summary.remains {
        eprintln!("remains: {r}");
    }
    Ok(ExitCode::SUCCESS)
}
