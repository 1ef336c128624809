//! Tomcat as Debian's tomcat10 starts it: `catalina.sh start` as the tomcat user, an instance of
//! its own (CATALINA_BASE with Debian's conf/ and its own server.xml), the application exploded
//! under webapps/ROOT, a JSP page compiled at run time.

use super::{daemon_command, run, write, Running, Service, TestbedError};
use std::path::Path;
use std::time::{Duration, Instant};

const HOME: &str = "/usr/share/tomcat10";

pub const SERVICE: Service = Service {
    name: "tomcat",
    needs: ("/usr/share/tomcat10/bin/catalina.sh", "tomcat10"),
    covers: "analyzed stack (a JVM started by a script, CATALINA_BASE, a JSP compiled at run time)",
    analyzed: true,
    init_script: false,
    start,
};

fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    let base = dir.join("base");
    for d in ["conf", "webapps", "logs", "temp", "work"] {
        let p = base.join(d);
        std::fs::create_dir_all(&p).map_err(super::io(&p))?;
    }
    let etc = Path::new(HOME).join("etc");
    for e in std::fs::read_dir(&etc).map_err(super::io(&etc))?.flatten() {
        let to = base.join("conf").join(e.file_name());
        std::fs::copy(e.path(), &to).map_err(super::io(&to))?;
    }
    write(
        &base.join("conf/server.xml"),
        &include_str!("../../../samples/tomcat-app/server.xml")
            .replace("@PORT@", &port.to_string()),
    )?;
    write(
        &base.join("webapps/ROOT/index.jsp"),
        include_str!("../../../samples/tomcat-app/ROOT/index.jsp"),
    )?;
    write(
        &base.join("webapps/ROOT/WEB-INF/web.xml"),
        include_str!("../../../samples/tomcat-app/ROOT/WEB-INF/web.xml"),
    )?;
    let chown = std::process::Command::new("chown")
        .args(["-R", "tomcat:tomcat"])
        .arg(&base)
        .status()
        .map_err(super::io(&base))?;
    if !chown.success() {
        return Err(TestbedError::Start {
            service: "tomcat".into(),
            what: format!("chown -R tomcat {}: {chown}", base.display()),
        });
    }
    run(
        "tomcat",
        daemon_command("/usr/sbin/runuser")
            .args(["-u", "tomcat", "--"])
            .arg(Path::new(HOME).join("bin/catalina.sh"))
            .arg("start")
            .env("CATALINA_HOME", HOME)
            .env("CATALINA_BASE", &base)
            .env("CATALINA_PID", base.join("tomcat.pid"))
            .env("JAVA_OPTS", "-Xmx256m -Djava.awt.headless=true")
            .current_dir(&base),
    )?;
    let r = super::started("tomcat", port, probe, &base.join("logs/catalina.out"))?;
    // The connector listens before the application is deployed: wait for the page.
    let deadline = Instant::now() + Duration::from_secs(120);
    while probe(port).map_or(true, |a| !a.starts_with("200 ")) {
        if Instant::now() > deadline {
            return Err(TestbedError::Start {
                service: "tomcat".into(),
                what: "the page was never served".into(),
            });
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok(r)
}

fn probe(port: u16) -> Result<String, String> {
    super::http_get(port, "/")
}
