//! What must not be baked into an image silently: private keys, password databases, credentials
//! files, and passwords or tokens in configuration and in the environment.
//!
//! Detection only names the kind of secret and where it is; values never leave this module.

use crate::host::Host;
use regex::Regex;
use std::path::Path;
use std::sync::LazyLock;

/// Files larger than this are data, not configuration: not scanned for secrets.
const MAX_SCAN_BYTES: u64 = 1 << 20;
/// Shannon entropy (bits per character) above which a long value looks generated, not chosen.
const HIGH_ENTROPY: f64 = 4.0;
const MIN_TOKEN_LEN: usize = 20;

/// Files that are secret by what they are, whatever their content.
const SECRET_NAMES: &[(&str, &str)] = &[
    ("/etc/shadow", "password hashes (shadow)"),
    ("/etc/shadow-", "password hashes (shadow)"),
    ("/etc/gshadow", "group password hashes (gshadow)"),
    ("/etc/gshadow-", "group password hashes (gshadow)"),
];
const SECRET_FILE_NAMES: &[(&str, &str)] = &[
    (".pgpass", "PostgreSQL password file"),
    (".netrc", "login credentials (netrc)"),
    (".git-credentials", "git credentials"),
    (".boto", "cloud credentials (boto)"),
    (".s3cfg", "cloud credentials (s3cmd)"),
    ("credentials.db", "cloud credentials (gcloud)"),
    (
        "application_default_credentials.json",
        "cloud credentials (gcloud)",
    ),
    ("accessTokens.json", "cloud credentials (azure)"),
];
const SECRET_PATH_PARTS: &[(&str, &str)] = &[
    ("/.aws/credentials", "cloud credentials (aws)"),
    ("/.aws/config", "cloud credentials (aws)"),
    ("/.docker/config.json", "registry credentials (docker)"),
    ("/.azure/", "cloud credentials (azure)"),
    ("/.config/gcloud/", "cloud credentials (gcloud)"),
];

static PRIVATE_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"-----BEGIN (?:RSA |EC |DSA |ENCRYPTED |OPENSSH )?PRIVATE KEY-----").expect("valid")
});
static HTPASSWD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^[^:\s#]+:(?:\$(?:apr1|2[aby]|1|5|6|y)\$|\{SHA\})\S+$").expect("valid")
});
/// `key = value`, `key: value` or `key value`, where the key names a credential.
static SECRET_ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?im)^\s*(?:export\s+)?["']?([a-z0-9_.-]*(?:passwd|password|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|requirepass|masterauth|auth[_-]?token|client[_-]?secret)[a-z0-9_.-]*)["']?\s*(?:[=:]\s*|\s+)([^\s=:][^\r\n]*)$"#,
    )
    .expect("valid")
});
static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^\s*(?:export\s+)?([A-Za-z0-9_.-]+)\s*[=:]\s*["']?([A-Za-z0-9+/=_\-.]{20,})["']?\s*;?\s*$"#)
        .expect("valid")
});
static AWS_KEY_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b").expect("valid"));

/// A secret found: what kind, and where in the file (never the value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub kind: String,
    pub detail: String,
}

/// Well-known files whose `passwd:`/`password` lines name mechanisms, not credentials.
const NOT_SECRET: &[&str] = &[
    "/etc/nsswitch.conf",
    "/etc/login.defs",
    "/etc/pam.d/",
    "/etc/security/",
];

/// Checks a file by its name, then by its content when it is small text.
pub fn scan_file(host: &dyn Host, path: &str) -> Option<Hit> {
    if let Some(hit) = by_name(path) {
        return Some(hit);
    }
    if NOT_SECRET
        .iter()
        .any(|p| path == *p || (p.ends_with('/') && path.starts_with(p)))
    {
        return None;
    }
    let meta = host.stat(Path::new(path)).ok()?;
    if !meta.is_file() || meta.len() > MAX_SCAN_BYTES {
        return None;
    }
    let bytes = host.read_limited(Path::new(path), MAX_SCAN_BYTES).ok()?;
    if bytes.starts_with(b"\x7fELF") || bytes.contains(&0) {
        return None;
    }
    scan_text(&String::from_utf8_lossy(&bytes))
}

/// The hits whose file is not byte for byte what its package installed: a pristine packaged
/// file is the distribution's, the same on every host (`/etc/services` names `kpasswd`), and
/// holds nothing of this host's. Files no package owns, or dpkg has no checksum for, stay.
pub fn not_pristine<T>(
    host: &dyn Host,
    hits: Vec<(String, T)>,
    owner: impl Fn(&str) -> Option<String>,
) -> Vec<(String, T)> {
    if hits.is_empty() {
        return hits;
    }
    let owners: std::collections::BTreeSet<String> =
        hits.iter().filter_map(|(p, _)| owner(p)).collect();
    if owners.is_empty() {
        return hits;
    }
    let sums =
        super::checksums::Checksums::load(host, &owners.iter().map(String::as_str).collect());
    hits.into_iter()
        .filter(|(p, _)| sums.changed(host, p) != Some(false))
        .collect()
}

/// [`scan_file`] for one path, unless the file is as its package installed it (see
/// [`not_pristine`]).
pub fn scan_unless_pristine(host: &dyn Host, path: &str, owner: Option<String>) -> Option<Hit> {
    let hit = scan_file(host, path)?;
    let mut kept = not_pristine(host, vec![(path.to_string(), hit)], |_| owner.clone());
    kept.pop().map(|(_, hit)| hit)
}

fn by_name(path: &str) -> Option<Hit> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let kind = SECRET_NAMES
        .iter()
        .find(|(p, _)| *p == path)
        .or_else(|| SECRET_FILE_NAMES.iter().find(|(n, _)| *n == name))
        .or_else(|| {
            SECRET_PATH_PARTS
                .iter()
                .find(|(part, _)| path.contains(part))
        })
        .map(|(_, kind)| *kind)?;
    Some(Hit {
        kind: kind.to_string(),
        detail: "the whole file".to_string(),
    })
}

pub fn scan_text(text: &str) -> Option<Hit> {
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    if let Some(m) = PRIVATE_KEY.find(text) {
        return Some(Hit {
            kind: "private key".to_string(),
            detail: format!("line {}: PEM/OpenSSH private key block", line_of(m.start())),
        });
    }
    if let Some(m) = HTPASSWD.find(text) {
        return Some(Hit {
            kind: "password hashes (htpasswd)".to_string(),
            detail: format!("line {}", line_of(m.start())),
        });
    }
    for c in SECRET_ASSIGNMENT.captures_iter(text) {
        let (key, value) = (&c[1], c[2].trim());
        // A value with spaces is prose (openssl.cnf's `challengePassword = A challenge
        // password` is a prompt), not a credential.
        let prose = value.split_whitespace().count() > 1 && !value.starts_with(['"', '\'']);
        if prose || is_reference(value) || is_comment_line(text, c.get(0).map_or(0, |m| m.start()))
        {
            continue;
        }
        return Some(Hit {
            kind: "password or token in configuration".to_string(),
            detail: format!(
                "line {}: {key} {}",
                line_of(c.get(1).map_or(0, |m| m.start())),
                redact(value)
            ),
        });
    }
    if let Some(m) = AWS_KEY_ID.find(text) {
        return Some(Hit {
            kind: "cloud access key".to_string(),
            detail: format!("line {}: {}", line_of(m.start()), redact(m.as_str())),
        });
    }
    for c in ASSIGNMENT.captures_iter(text) {
        let value = &c[2];
        if !value.contains('/') && looks_generated(value) {
            return Some(Hit {
                kind: "high-entropy token in configuration".to_string(),
                detail: format!(
                    "line {}: {} {}",
                    line_of(c.get(1).map_or(0, |m| m.start())),
                    &c[1],
                    redact(value)
                ),
            });
        }
    }
    None
}

/// Whether an environment variable holds a credential: by its name, or by a value that looks
/// generated rather than chosen.
pub fn scan_env(key: &str, value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    let upper = key.to_ascii_uppercase();
    const HINTS: &[&str] = &[
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "CREDENTIAL",
        "ACCESS_KEY",
    ];
    if HINTS.iter().any(|h| upper.contains(h)) {
        return Some(format!(
            "environment variable named like a credential ({key})"
        ));
    }
    if AWS_KEY_ID.is_match(value) || (!value.contains('/') && looks_generated(value)) {
        return Some(format!(
            "environment variable with a generated-looking value ({key})"
        ));
    }
    None
}

/// Paths, variables and placeholders name where a secret is, not the secret.
fn is_reference(value: &str) -> bool {
    let v = value.trim_matches(|c| c == '"' || c == '\'' || c == ';');
    v.is_empty()
        || v.starts_with('/')
        || v.starts_with('$')
        || v.starts_with("%(")
        || v.starts_with("{{")
        || v.starts_with("file:")
        || v.starts_with("env:")
        || v.chars().all(|c| c.is_ascii_digit())
        || matches!(
            v.to_ascii_lowercase().as_str(),
            "none" | "null" | "no" | "off" | "false" | "true" | "yes" | "on"
        )
}

fn is_comment_line(text: &str, offset: usize) -> bool {
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].trim_start();
    line.starts_with('#') || line.starts_with(';') || line.starts_with("//")
}

fn looks_generated(value: &str) -> bool {
    value.len() >= MIN_TOKEN_LEN
        && value.chars().any(|c| c.is_ascii_digit())
        && value.chars().any(|c| c.is_ascii_alphabetic())
        && entropy(value) >= HIGH_ENTROPY
}

fn entropy(s: &str) -> f64 {
    let mut counts = [0usize; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Keeps just enough to recognize a value: its first two characters and its length.
pub fn redact(value: &str) -> String {
    let head: String = value.chars().take(2).collect();
    format!("{head}…({} chars)", value.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_kind_and_redacts() {
        let key = "junk\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n";
        assert_eq!(scan_text(key).unwrap().kind, "private key");
        assert!(scan_text("-----BEGIN RSA PRIVATE KEY-----").is_some());
        let redis = "port 6379\nrequirepass s3cr3t-Pa55\n";
        let hit = scan_text(redis).unwrap();
        assert!(hit.detail.starts_with("line 2: requirepass s3…"), "{hit:?}");
        assert!(!hit.detail.contains("s3cr3t"), "value redacted: {hit:?}");
        assert!(
            scan_text("[client]\npassword = hunter2\n").is_some(),
            ".my.cnf style"
        );
        assert!(
            scan_text("alice:$apr1$abc$0123456789abcdefghij\n").is_some(),
            "htpasswd"
        );
        assert!(scan_text("aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n").is_some());
        assert!(
            scan_text("session = 9f8e7d6c5b4a39281706f5e4d3c2b1a0ZZ\n").is_some(),
            "high entropy"
        );
        assert_eq!(
            by_name("/home/app/.pgpass").unwrap().kind,
            "PostgreSQL password file"
        );
        assert!(by_name("/root/.aws/credentials").is_some());
        assert!(by_name("/etc/shadow").is_some());
    }

    #[test]
    fn ordinary_configuration_is_not_a_secret() {
        for text in [
            "# requirepass foobared\nport 6379\n",
            "ssl_certificate_key /etc/ssl/private/site.key;\nauth_basic \"Restricted\";\n",
            "private_key = $dir/private/cakey.pem\n",
            "types { text/html html htm shtml; }\n",
            "password = \n",
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            "root /var/www/html;\nindex index.html index.htm index.nginx-debian.html;\n",
            "plugin = /opt/vendor2024/plugins/libgreet2.so\n",
            "challengePassword\t\t= A challenge password\nchallengePassword_min = 4\n",
        ] {
            assert_eq!(scan_text(text), None, "{text}");
        }
        assert_eq!(
            scan_env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"),
            None
        );
        assert_eq!(scan_env("LANG", "C.UTF-8"), None);
        assert!(scan_env("DB_PASSWORD", "x").is_some());
        assert!(scan_env("SESSION", "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg").is_some());
    }

    #[test]
    fn a_file_as_its_package_installed_it_is_not_a_secret() {
        use md5::{Digest as _, Md5};
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::create_dir_all(r.join("var/lib/dpkg/info")).unwrap();
        let services = "kpasswd\t\t464/tcp\n";
        std::fs::write(r.join("etc/services"), services).unwrap();
        std::fs::write(r.join("etc/app.conf"), "kpasswd 464/tcp\n").unwrap();
        let sum = hex::encode(Md5::digest(services.as_bytes()));
        std::fs::write(
            r.join("var/lib/dpkg/status"),
            format!(
                "Package: netbase\nStatus: install ok installed\nConffiles:\n /etc/services {sum}\n \
                 /etc/app.conf 00000000000000000000000000000000\n"
            ),
        )
        .unwrap();
        let host = crate::host::at(r);
        let hits: Vec<(String, Hit)> = ["/etc/services", "/etc/app.conf", "/etc/other"]
            .iter()
            .map(|p| (p.to_string(), scan_text("kpasswd 464/tcp\n").unwrap()))
            .collect();
        let owner = |p: &str| (p != "/etc/other").then(|| "netbase".to_string());
        let kept: Vec<String> = not_pristine(&host, hits, owner)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        // Changed since installed, and owned by no package: still secrets.
        assert_eq!(kept, ["/etc/app.conf", "/etc/other"]);
    }
}
