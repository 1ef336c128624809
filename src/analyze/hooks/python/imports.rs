//! The imports a Python module states, found by a tokenizer-level scan: `import a.b`, `from .x
//! import y`, and `importlib.import_module("…")` / `__import__("…")` with a literal name.
//!
//! Imports inside functions, `try` blocks and `if` branches count too: a lazy import runs when the
//! code path does, and an optional one that the host cannot satisfy simply resolves to nothing.

/// One imported name, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// Leading dots of a relative import (`from ..x import y` → 2); 0 when absolute.
    pub level: usize,
    /// The dotted module name (empty for `from . import x`).
    pub module: String,
    /// For `from m import a, b`: the names, each possibly a submodule of `m`.
    pub names: Vec<String>,
    /// Not a statement at the module's top level: inside a function, `try`, `if` or class, or a
    /// dynamic import. It runs only when that code path does.
    pub conditional: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Str(String),
    Op(char),
    /// End of a logical line.
    Newline,
    /// Opens a logical line: the column its first token starts in.
    Indent(usize),
}

pub fn scan(source: &str) -> Vec<Import> {
    let tokens = tokenize(source);
    let mut found = Vec::new();
    for (conditional, stmt) in statements(&tokens) {
        parse_statement(stmt, conditional, &mut found);
    }
    found.extend(dynamic_imports(&tokens));
    found
}

/// The absolute module a relative import names, from the importing module's package
/// (`pkg.sub` for a module inside `pkg/sub/`). `None` when it climbs above the top level.
pub fn absolute(import: &Import, package: &str) -> Option<String> {
    if import.level == 0 {
        return Some(import.module.clone());
    }
    let mut parts: Vec<&str> = package.split('.').filter(|p| !p.is_empty()).collect();
    for _ in 1..import.level {
        parts.pop()?;
    }
    if parts.is_empty() {
        return None;
    }
    if !import.module.is_empty() {
        parts.push(&import.module);
    }
    Some(parts.join("."))
}

fn tokenize(src: &str) -> Vec<Token> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    let mut line_start = 0;
    let mut at_line_start = true;
    while i < chars.len() {
        let c = chars[i];
        if at_line_start && !c.is_whitespace() && c != '#' && c != '\\' {
            out.push(Token::Indent(i - line_start));
            at_line_start = false;
        }
        match c {
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '\\' if chars.get(i + 1) == Some(&'\n') => i += 2,
            '\n' => {
                if depth == 0 {
                    if out.last().is_some_and(|t| *t != Token::Newline) {
                        out.push(Token::Newline);
                    }
                    at_line_start = true;
                }
                i += 1;
                line_start = i;
            }
            '\'' | '"' => {
                let (s, next) = string_at(&chars, i);
                out.push(Token::Str(s));
                i = next;
            }
            '(' | '[' | '{' => {
                depth += 1;
                out.push(Token::Op(c));
                i += 1;
            }
            ')' | ']' | '}' => {
                depth = depth.saturating_sub(1);
                out.push(Token::Op(c));
                i += 1;
            }
            c if is_name_start(c) => {
                let start = i;
                while i < chars.len() && is_name_char(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                // A string prefix (`r"…"`, `b'…'`, `rb"…"`, `f"…"`) belongs to the string.
                if word.len() <= 2
                    && word.chars().all(|c| "rRbBuUfF".contains(c))
                    && matches!(chars.get(i), Some('\'' | '"'))
                {
                    let (s, next) = string_at(&chars, i);
                    let formatted = word.contains(['f', 'F']);
                    out.push(Token::Str(if formatted { String::new() } else { s }));
                    i = next;
                } else {
                    out.push(Token::Name(word));
                }
            }
            c if c.is_ascii_digit() => {
                while i < chars.len() && (is_name_char(chars[i]) || chars[i] == '.') {
                    i += 1;
                }
                out.push(Token::Op('0'));
            }
            c if c.is_whitespace() => i += 1,
            c => {
                out.push(Token::Op(c));
                i += 1;
            }
        }
    }
    out.push(Token::Newline);
    out
}

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_name_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// The contents of the string literal opening at `i` (a quote), and the index after it.
fn string_at(chars: &[char], i: usize) -> (String, usize) {
    let q = chars[i];
    let triple = chars.get(i + 1) == Some(&q) && chars.get(i + 2) == Some(&q);
    let mut j = if triple { i + 3 } else { i + 1 };
    let start = j;
    while j < chars.len() {
        if chars[j] == '\\' {
            j += 2;
            continue;
        }
        if triple {
            if chars[j] == q && chars.get(j + 1) == Some(&q) && chars.get(j + 2) == Some(&q) {
                let s = chars[start..j].iter().collect();
                return (s, j + 3);
            }
        } else if chars[j] == q || chars[j] == '\n' {
            let s = chars[start..j].iter().collect();
            return (s, j + 1);
        }
        j += 1;
    }
    (
        chars[start.min(chars.len())..].iter().collect(),
        chars.len(),
    )
}

/// Simple statements, each with whether it runs only on some code path: logical lines split at
/// `;` and after a compound statement's header, placed in their blocks by indentation.
fn statements(tokens: &[Token]) -> Vec<(bool, &[Token])> {
    let mut out = Vec::new();
    // (indent of a block's header, whether the block runs only on some path)
    let mut blocks: Vec<(usize, bool)> = Vec::new();
    for line in tokens.split(|t| *t == Token::Newline) {
        let Some((Token::Indent(indent), line)) = line.split_first() else {
            continue;
        };
        while blocks.last().is_some_and(|(i, _)| i >= indent) {
            blocks.pop();
        }
        let mut conditional = blocks.iter().any(|(_, c)| *c);
        let segments = segments(line);
        for (n, seg) in segments.iter().enumerate() {
            match seg.first() {
                Some(Token::Name(k)) if HEADERS.contains(&k.as_str()) => {
                    let runs_sometimes = !ALWAYS_RUN.contains(&k.as_str());
                    if n + 1 == segments.len() {
                        blocks.push((*indent, runs_sometimes));
                    } else {
                        conditional |= runs_sometimes;
                    }
                }
                _ => out.push((conditional, *seg)),
            }
        }
    }
    out
}

/// Keywords that open a block (with a `:` at the end of their header).
const HEADERS: &[&str] = &[
    "if", "elif", "else", "while", "for", "async", "def", "class", "try", "except", "finally",
    "with", "match", "case",
];

/// Blocks whose body runs whenever the code around them does.
const ALWAYS_RUN: &[&str] = &["class", "try", "finally", "with"];

/// A logical line's parts: split at `;` and `:` outside brackets, empty parts dropped.
fn segments(line: &[Token]) -> Vec<&[Token]> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, t) in line.iter().enumerate() {
        match t {
            Token::Op('(' | '[' | '{') => depth += 1,
            Token::Op(')' | ']' | '}') => depth = depth.saturating_sub(1),
            Token::Op(';' | ':') if depth == 0 => {
                out.push(&line[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&line[start..]);
    out.retain(|s| !s.is_empty());
    out
}

fn parse_statement(stmt: &[Token], conditional: bool, found: &mut Vec<Import>) {
    match stmt.first() {
        Some(Token::Name(k)) if k == "import" => {
            for part in split_commas(&stmt[1..]) {
                let (level, module, _) = dotted(part);
                if level == 0 && !module.is_empty() {
                    found.push(Import {
                        level,
                        module,
                        names: Vec::new(),
                        conditional,
                    });
                }
            }
        }
        Some(Token::Name(k)) if k == "from" => {
            let Some(at) = stmt
                .iter()
                .position(|t| matches!(t, Token::Name(n) if n == "import"))
            else {
                return;
            };
            let (level, module, _) = dotted(&stmt[1..at]);
            if level == 0 && module.is_empty() {
                return;
            }
            let names = split_commas(&stmt[at + 1..])
                .into_iter()
                .filter_map(|part| match part.first() {
                    Some(Token::Name(n)) => Some(n.clone()),
                    _ => None,
                })
                .collect();
            found.push(Import {
                level,
                module,
                names,
                conditional,
            });
        }
        _ => {}
    }
}

/// Comma-separated parts, parentheses dropped.
fn split_commas(tokens: &[Token]) -> Vec<&[Token]> {
    let tokens: &[Token] = match (tokens.first(), tokens.last()) {
        (Some(Token::Op('(')), Some(Token::Op(')'))) => &tokens[1..tokens.len() - 1],
        _ => tokens,
    };
    tokens
        .split(|t| *t == Token::Op(','))
        .filter(|p| !p.is_empty())
        .collect()
}

/// `..a.b as c` → (2, "a.b", rest).
fn dotted(tokens: &[Token]) -> (usize, String, &[Token]) {
    let mut level = 0;
    let mut i = 0;
    while let Some(Token::Op('.')) = tokens.get(i) {
        level += 1;
        i += 1;
    }
    let mut parts = Vec::new();
    while let Some(Token::Name(n)) = tokens.get(i) {
        if n == "as" {
            break;
        }
        parts.push(n.as_str());
        i += 1;
        if tokens.get(i) == Some(&Token::Op('.')) {
            i += 1;
        } else {
            break;
        }
    }
    (level, parts.join("."), &tokens[i..])
}

/// `importlib.import_module("a.b")` and `__import__("a")` with a literal, absolute name.
fn dynamic_imports(tokens: &[Token]) -> Vec<Import> {
    tokens
        .iter()
        .filter(|t| !matches!(t, Token::Indent(_)))
        .cloned()
        .collect::<Vec<_>>()
        .windows(3)
        .filter_map(|w| match w {
            [Token::Name(f), Token::Op('('), Token::Str(s)]
                if (f == "import_module" || f == "__import__") && is_module_name(s) =>
            {
                Some(Import {
                    level: 0,
                    module: s.clone(),
                    names: Vec::new(),
                    conditional: true,
                })
            }
            _ => None,
        })
        .collect()
}

fn is_module_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|p| p.chars().next().is_some_and(is_name_start) && p.chars().all(is_name_char))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modules(src: &str) -> Vec<(usize, String, Vec<String>)> {
        scan(src)
            .into_iter()
            .map(|i| (i.level, i.module, i.names))
            .collect()
    }

    #[test]
    fn plain_from_relative_and_parenthesized_imports() {
        let src = "import os, sys as system\nimport a.b.c\nfrom x.y import (p,\n  q as r)\n\
                   from . import sib\nfrom ..up import thing\n";
        assert_eq!(
            modules(src),
            vec![
                (0, "os".into(), vec![]),
                (0, "sys".into(), vec![]),
                (0, "a.b.c".into(), vec![]),
                (0, "x.y".into(), vec!["p".into(), "q".into()]),
                (1, "".into(), vec!["sib".into()]),
                (2, "up".into(), vec!["thing".into()]),
            ]
        );
    }

    #[test]
    fn strings_comments_and_other_uses_of_the_keywords_are_not_imports() {
        let src = "s = 'import fake'\n\"\"\"\nimport doc\n\"\"\"\n# import comment\n\
                   raise E from err\ny = (yield from gen)\nx = f\"{import_}\"\n";
        assert!(modules(src).is_empty(), "{:?}", modules(src));
    }

    #[test]
    fn nested_and_one_line_compound_imports_count() {
        let src = "def f():\n    import json\ntry: import simplejson\nexcept ImportError: pass\n\
                   if x: import a; import b\nmod = importlib.import_module('pkg.mod')\n\
                   __import__(\"gevent\")\nline = 1 + \\\n  2; import c\n";
        let names: Vec<String> = modules(src).into_iter().map(|m| m.1).collect();
        assert_eq!(
            names,
            ["json", "simplejson", "a", "b", "c", "pkg.mod", "gevent"]
        );
    }

    #[test]
    fn imports_off_the_top_level_are_conditional() {
        let src = "import os\ntry:\n    import simplejson as json\nexcept ImportError:\n    \
                   import json\ndef f():\n    import ssl\n\n    # x\n    import zlib\nif X: import nt\n\
                   import a; import b\nclass C:\n    import c\n    def m(self):\n        import d\n\
                   with x:\n    import e\nif TYPE_CHECKING:\n    import t\nelse:\n    import u\nimport z\n";
        let c: Vec<(String, bool)> = scan(src)
            .into_iter()
            .map(|i| (i.module, i.conditional))
            .collect();
        assert_eq!(
            c,
            [
                ("os".into(), false),
                ("simplejson".into(), false),
                ("json".into(), true),
                ("ssl".into(), true),
                ("zlib".into(), true),
                ("nt".into(), true),
                ("a".into(), false),
                ("b".into(), false),
                ("c".into(), false),
                ("d".into(), true),
                ("e".into(), false),
                ("t".into(), true),
                ("u".into(), true),
                ("z".into(), false),
            ]
        );
    }

    #[test]
    fn relative_imports_resolve_against_the_package() {
        let rel = |level, module: &str| Import {
            level,
            module: module.into(),
            names: vec![],
            conditional: false,
        };
        assert_eq!(
            absolute(&rel(1, "x"), "pkg.sub").as_deref(),
            Some("pkg.sub.x")
        );
        assert_eq!(absolute(&rel(2, "x"), "pkg.sub").as_deref(), Some("pkg.x"));
        assert_eq!(absolute(&rel(1, ""), "pkg").as_deref(), Some("pkg"));
        assert_eq!(absolute(&rel(3, "x"), "pkg.sub"), None);
        assert_eq!(absolute(&rel(0, "os"), "pkg").as_deref(), Some("os"));
    }
}
