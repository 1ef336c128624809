//! Tomcat: what `server.xml` and `catalina.properties` say, which no line-oriented rule reads —
//! the connectors and their key files, each Host's `appBase` (the web applications), Contexts
//! with a `docBase` elsewhere, and the class loaders' jars — plus the JVM it runs on.

use crate::analyze::draft::Draft;
use crate::analyze::glob;
use crate::analyze::hooks::jvm::{self, JavaCommand};
use crate::analyze::hooks::HookContext;
use crate::findings::Finding;
use crate::host::{normalize, Host};
use crate::plan::Role;
use std::collections::BTreeMap;
use std::path::Path;

/// Attributes of a Connector (or its SSLHostConfig/Certificate) that name a key or trust store.
const KEY_FILE_ATTRIBUTES: &[&str] = &[
    "keystoreFile",
    "truststoreFile",
    "certificateFile",
    "certificateKeyFile",
    "certificateChainFile",
    "certificateKeystoreFile",
    "certificateRevocationListFile",
    "caCertificateFile",
    "SSLCertificateFile",
    "SSLCertificateKeyFile",
    "SSLCACertificateFile",
];

/// Where Tomcat is and how it was started, from its command line and environment.
struct Catalina {
    home: String,
    base: String,
    /// `-D` properties, which `${name}` in Tomcat's files refers to.
    properties: BTreeMap<String, String>,
}

impl Catalina {
    fn from(cx: &HookContext, cmd: &JavaCommand) -> Option<Catalina> {
        let p = cx.process;
        let home = cmd
            .property("catalina.home")
            .or_else(|| p.env("CATALINA_HOME"))?
            .to_string();
        let base = cmd
            .property("catalina.base")
            .or_else(|| p.env("CATALINA_BASE"))
            .unwrap_or(&home)
            .to_string();
        let mut properties: BTreeMap<String, String> = cmd.properties.iter().cloned().collect();
        properties.insert("catalina.home".into(), home.clone());
        properties.insert("catalina.base".into(), base.clone());
        Some(Catalina {
            home,
            base,
            properties,
        })
    }

    /// Tomcat replaces `${name}` in its configuration with system properties.
    fn expand(&self, value: &str) -> String {
        let mut out = value.to_string();
        for (k, v) in &self.properties {
            out = out.replace(&format!("${{{k}}}"), v);
        }
        out
    }

    /// A path from Tomcat's configuration: relative ones are taken against `catalina.base`.
    fn path(&self, value: &str) -> String {
        let value = self.expand(value);
        normalize(&Path::new(&self.base).join(value))
            .to_string_lossy()
            .into_owned()
    }
}

pub fn hook(cx: &HookContext, d: &mut Draft) {
    let host = cx.inputs.host;
    let p = cx.process;
    let cmd = JavaCommand::parse(&p.cmdline);
    let cwd = p.cwd.clone().unwrap_or_else(|| "/".to_string());
    jvm::add_runtime(cx.inputs, p, d);
    jvm::add_classpath(host, &cmd.classpath, &cwd, "the JVM's -classpath", true, d);
    let Some(cat) = Catalina::from(cx, &cmd) else {
        d.findings.push(Finding::error(
            format!("pid {}", p.pid),
            "neither -Dcatalina.home nor CATALINA_HOME: Tomcat's files cannot be found",
        ));
        return;
    };
    d.vars
        .set("catalina_base", vec![cat.base.clone()], "hook tomcat");
    d.vars
        .set("catalina_home", vec![cat.home.clone()], "hook tomcat");
    add_loaders(host, &cat, d);
    add_juli_dirs(host, &cat, d);
    let server_xml = format!("{}/conf/server.xml", cat.base);
    match host.read_to_string(Path::new(&server_xml)) {
        Ok(text) => read_server_xml(cx, &cat, &server_xml, &text, d),
        Err(e) => d.findings.push(Finding::error(
            &server_xml,
            format!("cannot read Tomcat's server.xml: {e}"),
        )),
    }
}

/// `common.loader`, `server.loader` and `shared.loader` of `catalina.properties`: the jars Tomcat
/// itself loads (Debian's `lib/*.jar` are links into /usr/share/java).
fn add_loaders(host: &dyn Host, cat: &Catalina, d: &mut Draft) {
    let file = format!("{}/conf/catalina.properties", cat.base);
    let Ok(text) = host.read_to_string(Path::new(&file)) else {
        return;
    };
    let props = properties(&text);
    for key in ["common.loader", "server.loader", "shared.loader"] {
        let Some(value) = props.get(key) else {
            continue;
        };
        let entries: Vec<String> = value
            .split(',')
            .map(|e| e.trim().trim_matches('"'))
            .filter(|e| !e.is_empty())
            .map(|e| cat.expand(e))
            .collect();
        jvm::add_classpath(
            host,
            &entries,
            &cat.base,
            &format!("{file}: {key}"),
            false,
            d,
        );
    }
}

/// The directories JULI's file handlers write their logs to (`*.directory` in
/// `conf/logging.properties`; `logs/` is the analyzer's tmpfs already).
fn add_juli_dirs(host: &dyn Host, cat: &Catalina, d: &mut Draft) {
    let file = format!("{}/conf/logging.properties", cat.base);
    let Ok(text) = host.read_to_string(Path::new(&file)) else {
        return;
    };
    for (key, value) in properties(&text) {
        if key.ends_with(".directory") && !value.is_empty() {
            scratch(
                d,
                cat.path(&value),
                format!("{file}: {key}, log files written at run time"),
            );
        }
    }
}

/// A directory Tomcat writes and need not keep: a tmpfs, like `work/`, `temp/` and `logs/`.
fn scratch(d: &mut Draft, path: String, why: String) {
    d.add_volume(crate::plan::Volume {
        path,
        kind: crate::plan::VolumeKind::Tmpfs,
        populate: false,
        populate_with: None,
        live_writes: None,
        scratch: false,
        why,
    });
}

/// Java `.properties`: `key=value` or `key: value`, `#`/`!` comments, `\` continues a line.
fn properties(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut logical = String::new();
    for line in text.lines() {
        let line = line.trim_start();
        if logical.is_empty() && (line.starts_with('#') || line.starts_with('!')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => logical.push_str(part),
            None => {
                logical.push_str(line);
                if let Some((k, v)) = logical.split_once(['=', ':']) {
                    out.insert(k.trim().to_string(), v.trim().to_string());
                }
                logical.clear();
            }
        }
    }
    out
}

fn read_server_xml(cx: &HookContext, cat: &Catalina, file: &str, text: &str, d: &mut Draft) {
    let doc = match roxmltree::Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            d.findings.push(Finding::error(
                file,
                format!("not well-formed XML ({e}): connectors and web applications unknown"),
            ));
            return;
        }
    };
    let root = doc.root_element();
    if let Some(port) = root.attribute("port").filter(|p| *p != "-1") {
        d.findings.push(Finding::info(
            file,
            format!("shutdown port {port} (loopback): kept; the container is stopped by SIGTERM"),
        ));
    }
    for conn in root.descendants().filter(|n| n.has_tag_name("Connector")) {
        check_connector(cx, cat, file, conn, d);
    }
    for res in root.descendants().filter(|n| n.has_tag_name("Resource")) {
        if let Some(path) = res.attribute("pathname") {
            add_existing(
                cx.inputs.host,
                &cat.path(path),
                Role::Config,
                "server.xml Resource pathname",
                d,
            );
        }
    }
    for h in root.descendants().filter(|n| n.has_tag_name("Host")) {
        let name = h.attribute("name").unwrap_or("localhost");
        let engine = h
            .ancestors()
            .find(|n| n.has_tag_name("Engine"))
            .and_then(|e| e.attribute("name"))
            .unwrap_or("Catalina");
        let app_base = cat.path(h.attribute("appBase").unwrap_or("webapps"));
        written_dirs(cat, file, name, h, d);
        add_tree(
            cx.inputs.host,
            &app_base,
            &format!("web applications of Host {name} (appBase)"),
            d,
        );
        let contexts: Vec<(String, String)> = h
            .children()
            .filter(|c| c.has_tag_name("Context"))
            .filter_map(|c| {
                Some((
                    c.attribute("docBase")?.to_string(),
                    "server.xml".to_string(),
                ))
            })
            .chain(context_files(cx.inputs.host, cat, engine, name))
            .collect();
        for (doc_base, from) in contexts {
            let dir = normalize(&Path::new(&app_base).join(cat.expand(&doc_base)));
            add_tree(
                cx.inputs.host,
                &dir.to_string_lossy(),
                &format!("web application docBase ({from})"),
                d,
            );
        }
    }
}

/// What a Host writes: its work directories (`workDir` of the Host and its Contexts) and the
/// access logs its valves keep (`directory`, default `logs`).
fn written_dirs(cat: &Catalina, file: &str, name: &str, h: roxmltree::Node, d: &mut Draft) {
    for node in h.descendants() {
        if let Some(dir) = node.attribute("workDir") {
            let what = node.tag_name().name();
            scratch(
                d,
                cat.path(dir),
                format!("{file}: workDir of {what} in Host {name} (compiled JSPs, sessions)"),
            );
        }
        let class = node.attribute("className").unwrap_or_default();
        if node.has_tag_name("Valve") && class.ends_with("AccessLogValve") {
            let dir = node.attribute("directory").unwrap_or("logs");
            scratch(
                d,
                cat.path(dir),
                format!("{file}: access logs of Host {name} ({class})"),
            );
        }
    }
}

/// A connector's address and port, checked against what the process listens on, and the key
/// files it names.
fn check_connector(
    cx: &HookContext,
    cat: &Catalina,
    file: &str,
    conn: roxmltree::Node,
    d: &mut Draft,
) {
    let protocol = conn.attribute("protocol").unwrap_or("HTTP/1.1");
    let port = cat.expand(conn.attribute("port").unwrap_or("8080"));
    let address = conn.attribute("address").unwrap_or("all addresses");
    let listening = port.parse::<u16>().is_ok_and(|port| {
        cx.inputs
            .snapshot
            .sockets_of(&[cx.process.pid])
            .any(|s| s.port == port)
    });
    let what = format!("Connector {protocol} on {address} port {port}");
    d.findings.push(if listening {
        Finding::info(file, format!("{what}: listening"))
    } else {
        Finding::warning(file, format!("{what}: configured but not listening"))
    });
    for node in conn.descendants() {
        for attr in node.attributes() {
            if KEY_FILE_ATTRIBUTES.contains(&attr.name()) {
                let path = cat.path(attr.value());
                add_existing(
                    cx.inputs.host,
                    &path,
                    Role::Config,
                    &format!("{what}: {}", attr.name()),
                    d,
                );
            }
        }
    }
}

/// `conf/<Engine>/<Host>/*.xml`: context descriptors, which may place an application outside
/// the appBase.
fn context_files(
    host: &dyn Host,
    cat: &Catalina,
    engine: &str,
    name: &str,
) -> Vec<(String, String)> {
    let dir = format!("{}/conf/{engine}/{name}", cat.base);
    glob::expand(host, &format!("{dir}/*.xml"))
        .into_iter()
        .filter_map(|f| {
            let text = host.read_to_string(&f).ok()?;
            let doc = roxmltree::Document::parse(&text).ok()?;
            let base = doc.root_element().attribute("docBase")?.to_string();
            Some((base, f.to_string_lossy().into_owned()))
        })
        .collect()
}

fn add_tree(host: &dyn Host, dir: &str, why: &str, d: &mut Draft) {
    for f in glob::expand(host, dir) {
        d.files
            .add(&f.to_string_lossy(), Role::Code, why.to_string());
    }
}

fn add_existing(host: &dyn Host, path: &str, role: Role, why: &str, d: &mut Draft) {
    if host.exists(Path::new(path)) {
        d.files.add(path, role, why.to_string());
    } else {
        d.findings.push(Finding::warning(
            path,
            format!("{why}: not found on the host"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalina_properties_continue_lines_and_skip_comments() {
        let p = properties(
            "# c\ncommon.loader=\"${catalina.base}/lib\",\\\n  \"${catalina.home}/lib/*.jar\"\nserver.loader=\n",
        );
        assert_eq!(
            p["common.loader"],
            "\"${catalina.base}/lib\",\"${catalina.home}/lib/*.jar\""
        );
        assert_eq!(p["server.loader"], "");
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn configuration_paths_expand_properties_and_are_relative_to_the_base() {
        let cat = Catalina {
            home: "/h".into(),
            base: "/b".into(),
            properties: BTreeMap::from([
                ("catalina.base".to_string(), "/b".to_string()),
                ("catalina.home".to_string(), "/h".to_string()),
            ]),
        };
        assert_eq!(cat.path("webapps"), "/b/webapps");
        assert_eq!(cat.path("${catalina.home}/apps"), "/h/apps");
        assert_eq!(cat.path("/srv/apps"), "/srv/apps");
    }
}
