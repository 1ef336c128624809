//! The wizard driven through a real terminal (tmux), answering as a person would, against a real
//! nginx; its answers replayed without a terminal; bad answers and Ctrl-C.

use crate::common;

use common::*;
use liftkit::wizard::{Answer, Answers};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn start_nginx(dir: &Path, port: u16) -> Daemon {
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(
        www.join("index.html"),
        format!("<h1>wizard on {port}</h1>\n"),
    )
    .unwrap();
    // Two workers: the app is grouped from a master and its children.
    start_nginx_with(dir, port, 2, "")
}

/// A terminal of its own: a tmux server on a private socket running a plain bash.
struct Tmux {
    socket: String,
}

static SESSIONS: AtomicUsize = AtomicUsize::new(0);

impl Tmux {
    fn start() -> Tmux {
        let socket = format!(
            "liftkit-wizard-{}-{}",
            std::process::id(),
            SESSIONS.fetch_add(1, Ordering::SeqCst)
        );
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "200",
                "-y",
                "50",
            ])
            .args(["-s", "w", "bash --norc --noprofile"])
            .env("ENGINE", ENGINE)
            .env("ENGINE_RUN_FLAGS", ENGINE_RUN_FLAGS)
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR")
            .status()
            .expect("tmux (see .ci/setup)");
        assert!(status.success(), "tmux new-session failed");
        Tmux { socket }
    }

    fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    fn keys(&self, keys: &[&str]) {
        run_ok(self.tmux().args(["send-keys", "-t", "w"]).args(keys));
        std::thread::sleep(Duration::from_millis(150));
    }

    /// Types text literally, then Enter: as a person would, in two steps.
    fn type_line(&self, text: &str) {
        run_ok(self.tmux().args(["send-keys", "-t", "w", "-l", text]));
        std::thread::sleep(Duration::from_millis(150));
        self.keys(&["Enter"]);
    }

    fn run(&self, command: &str) {
        self.type_line(&format!("{command}; echo WIZARD-EXIT=$?"));
    }

    /// The visible screen, wrapped lines joined.
    fn screen(&self) -> String {
        let out = run_ok(self.tmux().args(["capture-pane", "-p", "-J", "-t", "w"]));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The whole scrollback.
    fn history(&self) -> String {
        let out = run_ok(
            self.tmux()
                .args(["capture-pane", "-p", "-J", "-S", "-5000", "-t", "w"]),
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls `probe` every 100 ms until it gives a value; past `timeout`, fails with `waiting`
    /// and the screen.
    fn until<T>(
        &self,
        timeout: Duration,
        waiting: &str,
        mut probe: impl FnMut() -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = probe() {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "waited {timeout:?} for {waiting}; screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_for(&self, what: &str, timeout: Duration) -> String {
        self.until(timeout, &format!("{what:?}"), || {
            Some(self.history()).filter(|h| h.contains(what))
        })
    }

    /// Waits until the question being asked (a line starting with `?` near the bottom) contains
    /// `what`; returns the screen.
    fn wait_prompt(&self, what: &str, timeout: Duration) -> String {
        let s = self.until(timeout, &format!("the question {what:?}"), || {
            Some(self.screen()).filter(|s| asking(s, what))
        });
        std::thread::sleep(Duration::from_millis(150));
        s
    }

    /// How many questions containing `what` have been answered (`✔` lines).
    fn answered(&self, what: &str) -> usize {
        self.history()
            .lines()
            .filter(|l| l.trim_start().starts_with('✔') && l.contains(what))
            .count()
    }

    /// Sends `keys` at the question `what` and waits until it is answered.
    fn answer(&self, what: &str, keys: &[&str]) {
        self.wait_prompt(what, Duration::from_secs(60));
        let before = self.answered(what);
        self.keys(keys);
        self.until(
            Duration::from_secs(20),
            &format!("{what:?} answered by {keys:?}"),
            || (self.answered(what) > before).then_some(()),
        );
    }

    /// Answers the secrets question with its default (no) if this host's files look like
    /// secrets (asked only then), and waits for the output directory question.
    fn secrets_if_asked(&self) {
        let secrets = self.until(
            Duration::from_secs(60),
            "the secrets or the output question",
            || {
                let s = self.screen();
                if asking(&s, "output directory") {
                    Some(false)
                } else {
                    asking(&s, "look like secrets").then_some(true)
                }
            },
        );
        if secrets {
            self.answer("look like secrets", &["Enter"]);
            self.secrets_if_asked();
        }
    }

    fn exit_code(&self, timeout: Duration) -> i32 {
        self.until(timeout, "the wizard to end", || {
            self.history()
                .lines()
                .filter_map(|l| l.trim().strip_prefix("WIZARD-EXIT="))
                .find_map(|c| c.parse().ok())
        })
    }

    fn cursor_visible(&self) -> bool {
        let out = run_ok(
            self.tmux()
                .args(["display-message", "-p", "-t", "w", "#{cursor_flag}"]),
        );
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").output();
    }
}

/// Picks the app listening on `port` in the applications list (arrow keys, space, Enter);
/// returns its name as listed.
fn choose_app(t: &Tmux, port: u16) -> String {
    let screen = t.wait_prompt("applications to lift", Duration::from_secs(120));
    let items: Vec<&str> = screen
        .lines()
        .skip_while(|l| !l.contains("applications to lift"))
        .skip(1)
        .filter(|l| l.contains(" listens "))
        .collect();
    let at = items
        .iter()
        .position(|l| l.contains(&format!("127.0.0.1:{port}/tcp")))
        .unwrap_or_else(|| panic!("nginx on {port} is listed:\n{screen}"));
    let name = items[at].split_whitespace().nth(1).unwrap().to_string();
    for _ in 0..at {
        t.keys(&["Down"]);
    }
    t.keys(&["Space"]);
    t.answer("applications to lift", &["Enter"]);
    name
}

fn manifest_digest(app_dir: &Path) -> String {
    let build: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app_dir.join("build.json")).unwrap())
            .unwrap();
    build["manifest_digest"].as_str().unwrap().to_string()
}

fn liftkit_cmd() -> String {
    env!("CARGO_BIN_EXE_liftkit").to_string()
}

/// Entries a finished or interrupted run must never leave: staging dirs and temporaries.
fn dot_entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the question being asked (a line starting with `?` among the last 14 written)
/// contains `what`.
fn asking(screen: &str, what: &str) -> bool {
    screen
        .lines()
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(14)
        .any(|l| l.trim_start().starts_with('?') && l.contains(what))
}

#[test]
fn wizard_at_a_terminal_builds_an_image_that_runs_and_its_answers_replay() {
    let dir = public_tempdir();
    let port = free_port();
    let nginx = start_nginx(dir.path(), port);
    let original = http_get(port, "/");
    let original_missing = http_get(port, "/no-such-page");
    let out = dir.path().join("out");

    let t = Tmux::start();
    t.run(&format!("{} wizard -o {}", liftkit_cmd(), out.display()));
    let name = choose_app(&t, port);

    // Review: expand the code files, then accept.
    t.answer(&format!("{name}: review"), &["Down", "Enter"]);
    t.wait_for(&format!("code files of {name}:"), Duration::from_secs(10));
    let shown = t.history();
    assert!(
        shown.contains("/usr/sbin/nginx [nginx]"),
        "the expanded list names nginx and its package:\n{shown}"
    );
    t.answer(&format!("{name}: review"), &["Enter"]);

    // A wrong port is refused with the reason and asked again; Enter then keeps the default.
    t.wait_prompt(&format!("{name}: ports"), Duration::from_secs(10));
    t.type_line("abc");
    t.wait_for("\"abc\" is not a port", Duration::from_secs(10));
    t.answer(&format!("{name}: ports"), &["Enter"]);
    t.answer(&format!("{name}: run as user"), &["Enter"]);
    t.answer(&format!("{name}: entrypoint"), &["Enter"]);
    // Logs kept as files (the second choice), so verify proves the image runs that way on its
    // read-only root.
    t.answer(&format!("{name}: logs"), &["Down", "Enter"]);
    t.secrets_if_asked();
    t.answer("output directory", &["Enter"]);
    t.answer("now?", &["Enter"]);

    // Verify in the wizard: the image runs in its own network namespace beside the original.
    t.answer(&format!("{name}: verify now"), &["y"]);
    assert_eq!(
        t.exit_code(Duration::from_secs(180)),
        0,
        "wizard exit code; screen:\n{}",
        t.history()
    );
    let h = t.history();
    assert!(
        h.contains(&format!("{name}: verified: listening after")),
        "verify passed:\n{h}"
    );
    assert!(t.cursor_visible(), "cursor shown again after the wizard");

    // The answers file names every question answered.
    let answers = Answers::load(&out.join("answers.yaml")).unwrap();
    assert_eq!(
        answers.get("apps.select"),
        Some(&Answer::Many(vec![name.clone()]))
    );
    assert_eq!(
        answers.get(&format!("app.{name}.ports")),
        Some(&Answer::Text(format!("{port}/tcp")))
    );
    assert_eq!(
        answers.get(&format!("app.{name}.logs")),
        Some(&Answer::Text("files".to_string()))
    );
    assert_eq!(answers.get("build.confirm"), Some(&Answer::Bool(true)));
    assert_eq!(
        answers.get(&format!("app.{name}.verify")),
        Some(&Answer::Bool(true))
    );
    assert!(
        answers.get(&format!("app.{name}.review")).is_none(),
        "navigation is not saved"
    );
    let app_dir = out.join(&name);
    assert!(app_dir.join("image.tar").exists());
    let plan = liftkit::plan::load(&out.join("plan.yaml")).unwrap();
    let logs_volume = plan.apps[0]
        .volumes
        .iter()
        .find(|v| v.why.contains("--logs files"));
    assert!(
        liftkit::plan::logs::engine_logs(&plan.apps[0]).is_empty() && logs_volume.is_some(),
        "the logs are files in a volume: {:#?}",
        plan.apps[0].volumes
    );
    assert!(
        dot_entries(&out).is_empty(),
        "no staging or temporary files: {:?}",
        dot_entries(&out)
    );

    // Replayed without a terminal, the answers build the very same image.
    let out2 = dir.path().join("out2");
    let replay = run_ok(
        liftkit()
            .args(["lift", "--answers"])
            .arg(out.join("answers.yaml"))
            .arg("-o")
            .arg(&out2)
            .env("ENGINE", ENGINE)
            .env("ENGINE_RUN_FLAGS", ENGINE_RUN_FLAGS)
            .stdin(Stdio::null()),
    );
    let replay_err = String::from_utf8_lossy(&replay.stderr);
    assert!(
        replay_err.contains("verified:"),
        "the replay verifies as answered:\n{replay_err}"
    );
    assert!(
        !replay_err.contains("not used"),
        "every answer used:\n{replay_err}"
    );
    assert_eq!(
        manifest_digest(&out2.join(&name)),
        manifest_digest(&app_dir)
    );

    // The wizard's image answers like the original.
    let build: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app_dir.join("build.json")).unwrap())
            .unwrap();
    let container = format!("liftkit-test-wizard-{port}");
    let _cleanup = Cleanup {
        container: container.clone(),
        image: build["image"].as_str().unwrap().to_string(),
    };
    nginx.stop();
    assert!(wait_for_port_closed(port, Duration::from_secs(10)));
    start_lifted_answering(&app_dir, &container, port);
    assert_eq!(http_get(port, "/"), original);
    assert_eq!(http_get(port, "/no-such-page").0, original_missing.0);
}

#[test]
fn invalid_answers_are_asked_again_and_ctrl_c_at_a_prompt_writes_nothing() {
    let dir = public_tempdir();
    let port = free_port();
    let _nginx = start_nginx(dir.path(), port);
    let out = dir.path().join("out");
    let t = Tmux::start();
    t.run(&format!("{} wizard -o {}", liftkit_cmd(), out.display()));

    // Nothing chosen: asked again.
    t.wait_prompt("applications to lift", Duration::from_secs(120));
    t.keys(&["Enter"]);
    t.wait_for("choose at least 1", Duration::from_secs(10));
    let name = choose_app(&t, port);
    t.answer(&format!("{name}: review"), &["Enter"]);

    let refused: [(&str, &[(&str, &str)]); 3] = [
        (
            "ports",
            &[
                ("abc", "\"abc\" is not a port"),
                ("99999", "\"99999\" is not a port"),
                ("80/sctp", "the protocol is tcp or udp"),
            ],
        ),
        (
            "run as user",
            &[(
                "no-such-user",
                "no user \"no-such-user\" on the source host",
            )],
        ),
        (
            "entrypoint",
            &[
                ("nginx -g x", "give the program's absolute path"),
                ("/usr/bin/no-such-program", "is not in the image"),
            ],
        ),
    ];
    for (question, tries) in refused {
        let q = format!("{name}: {question}");
        for (typed, reason) in tries {
            t.wait_prompt(&q, Duration::from_secs(10));
            t.type_line(typed);
            t.wait_for(reason, Duration::from_secs(10));
        }
        t.answer(&q, &["Enter"]);
    }
    t.answer(&format!("{name}: logs"), &["Enter"]);
    t.secrets_if_asked();
    t.wait_prompt("output directory", Duration::from_secs(10));
    t.type_line("/no/such/parent/out");
    t.wait_for(
        "the parent directory /no/such/parent does not exist",
        Duration::from_secs(10),
    );
    t.wait_prompt("output directory", Duration::from_secs(10));

    // Ctrl-C at the prompt: exit 130, nothing written, the terminal usable again.
    t.keys(&["C-c"]);
    assert_eq!(t.exit_code(Duration::from_secs(20)), 130);
    assert!(
        !out.exists(),
        "no output directory after an interrupted wizard"
    );
    assert!(t.cursor_visible(), "cursor shown again after Ctrl-C");
    t.type_line(
        "stty -a | tr ' ' '\\n' | grep -xE -- '-?(icanon|echo)' | tr '\\n' ' '; echo STTY-DONE",
    );
    let h = t.wait_for("STTY-DONE\n", Duration::from_secs(10));
    let stty = h
        .lines()
        .rev()
        .find(|l| l.contains("icanon") && !l.contains("grep"))
        .unwrap_or("");
    assert!(
        stty.contains("icanon") && !stty.contains("-icanon") && !stty.contains("-echo"),
        "terminal back in cooked mode with echo: {stty:?}"
    );
}

#[test]
fn ctrl_c_during_the_build_leaves_only_whole_files() {
    let dir = public_tempdir();
    let port = free_port();
    let _nginx = start_nginx(dir.path(), port);
    let out = dir.path().join("out");
    let t = Tmux::start();
    t.run(&format!("{} wizard -o {}", liftkit_cmd(), out.display()));
    let name = choose_app(&t, port);
    for q in ["review", "ports", "run as user", "entrypoint", "logs"] {
        t.answer(&format!("{name}: {q}"), &["Enter"]);
    }
    t.secrets_if_asked();
    t.answer("output directory", &["Enter"]);
    t.answer("now?", &["Enter"]);
    t.wait_for(&format!("building {name}"), Duration::from_secs(60));
    t.keys(&["C-c"]);
    assert_eq!(
        t.exit_code(Duration::from_secs(30)),
        130,
        "screen:\n{}",
        t.history()
    );
    assert!(t.cursor_visible());
    assert!(
        dot_entries(&out).is_empty(),
        "staging and temporaries removed: {:?}",
        dot_entries(&out)
    );
    assert!(
        !out.join(&name).exists(),
        "no app directory from an interrupted build"
    );
    // What was written before the build is whole.
    liftkit::plan::load(&out.join("plan.yaml")).expect("plan.yaml whole");
    let answers = Answers::load(&out.join("answers.yaml")).expect("answers.yaml whole");
    assert_eq!(answers.get("build.confirm"), Some(&Answer::Bool(true)));
}

#[test]
fn answers_that_do_not_fit_the_host_name_the_question_and_malformed_ones_the_line() {
    let dir = public_tempdir();
    let port = free_port();
    let _nginx = start_nginx(dir.path(), port);
    let out = dir.path().join("out");
    let replay = |file: &Path| {
        liftkit()
            .args(["lift", "--answers"])
            .arg(file)
            .arg("-o")
            .arg(&out)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };

    let absent = dir.path().join("absent.yaml");
    std::fs::write(
        &absent,
        "schema: 1\nanswers:\n  apps.select: [no-such-app]\n",
    )
    .unwrap();
    let err = fails(&replay(&absent));
    assert!(
        err.contains("absent.yaml: apps.select: \"no-such-app\""),
        "{err}"
    );
    assert!(
        err.contains(&format!("nginx-{port}")) || err.contains("nginx"),
        "lists what is here: {err}"
    );

    let bad_port = dir.path().join("bad-port.yaml");
    std::fs::write(
        &bad_port,
        format!(
            "schema: 1\nanswers:\n  apps.select: [nginx-{port}]\n  app.nginx-{port}.ports: abc\n"
        ),
    )
    .unwrap();
    let err = fails(&replay(&bad_port));
    assert!(
        err.contains(&format!("app.nginx-{port}.ports: \"abc\" is not a port")),
        "{err}"
    );

    let malformed = dir.path().join("malformed.yaml");
    std::fs::write(
        &malformed,
        "schema: 1\nanswers:\n  apps.select: [nginx\n  build.confirm: true\n",
    )
    .unwrap();
    let err = fails(&replay(&malformed));
    assert!(err.contains("malformed.yaml:"), "{err}");
    let loc: Vec<&str> = err.split(':').skip(3).take(2).collect();
    assert!(
        loc.iter().all(|n| n.trim().parse::<usize>().is_ok()),
        "file:line:column: {err}"
    );

    let no_answers = dir.path().join("empty.yaml");
    std::fs::write(&no_answers, "schema: 1\n").unwrap();
    let err = fails(&replay(&no_answers));
    assert!(err.contains("empty.yaml: apps.select: no answer"), "{err}");
    assert!(!out.exists(), "nothing written by a failed replay");
}

/// Going back (Esc in a choice, `<` in a text answer) asks the previous question again with its
/// answer offered; a non-empty output directory is not offered as the default; with an engine
/// at hand, verifying is the default.
#[test]
fn the_wizard_goes_back_offers_a_free_output_and_verifies_by_default() {
    let dir = public_tempdir();
    let port = free_port();
    let _nginx = start_nginx(dir.path(), port);
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("earlier-run.txt"), "kept").unwrap();

    let t = Tmux::start();
    t.run(&format!("{} wizard -o {}", liftkit_cmd(), out.display()));
    t.wait_for("Esc goes back", Duration::from_secs(60));
    let name = choose_app(&t, port);

    // Esc at the review goes back to the choice of applications, with the app still chosen.
    t.wait_prompt(&format!("{name}: review"), Duration::from_secs(60));
    let chosen_before = t.answered("applications to lift");
    t.keys(&["Escape"]);
    t.wait_prompt("applications to lift", Duration::from_secs(20));
    t.answer("applications to lift", &["Enter"]);
    assert_eq!(
        t.answered("applications to lift"),
        chosen_before + 1,
        "asked again and answered"
    );
    t.answer(&format!("{name}: review"), &["Enter"]);

    // `<` at the user goes back to the ports, whose new answer is kept.
    t.answer(&format!("{name}: ports"), &["Enter"]);
    t.wait_prompt(&format!("{name}: run as user"), Duration::from_secs(10));
    t.type_line("<");
    t.wait_prompt(&format!("{name}: ports"), Duration::from_secs(10));
    t.keys(&["C-u"]);
    t.type_line(&format!("{port}/tcp, 9/udp"));
    t.answer(&format!("{name}: run as user"), &["Enter"]);
    t.answer(&format!("{name}: entrypoint"), &["Enter"]);
    t.answer(&format!("{name}: logs"), &["Enter"]);
    t.secrets_if_asked();

    let screen = t.wait_prompt("output directory", Duration::from_secs(10));
    let offered = format!("{}-2", out.display());
    assert!(
        screen.contains(&offered),
        "the non-empty {} is not offered; {offered} is:\n{screen}",
        out.display()
    );
    t.answer("output directory", &["Enter"]);
    t.answer("now?", &["Enter"]);
    let screen = t.wait_prompt(&format!("{name}: verify now"), Duration::from_secs(180));
    let prompt = screen
        .lines()
        .rev()
        .find(|l| l.contains("verify now"))
        .unwrap();
    assert!(
        prompt.trim_end().ends_with("› yes"),
        "yes by default: {prompt}"
    );
    t.answer(&format!("{name}: verify now"), &["Enter"]);
    assert_eq!(t.exit_code(Duration::from_secs(180)), 0, "{}", t.history());
    assert!(t.history().contains(&format!("{name}: verified:")));

    assert_eq!(
        std::fs::read_to_string(out.join("earlier-run.txt")).unwrap(),
        "kept"
    );
    let answers = Answers::load(&std::path::Path::new(&offered).join("answers.yaml")).unwrap();
    assert_eq!(
        answers.get(&format!("app.{name}.ports")),
        Some(&Answer::Text(format!("{port}/tcp, 9/udp"))),
        "the answer given after going back is the one kept"
    );
    assert_eq!(
        answers.get(&format!("app.{name}.verify")),
        Some(&Answer::Bool(true))
    );
}
