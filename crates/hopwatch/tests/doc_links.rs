//! Every relative link a user can follow resolves inside the repository.
//!
//! A user has the repository and nothing else: a link in a Markdown file, a
//! `docs/….md` named in a source comment, an example or `--help`, must name a file
//! that is here. Checked: Markdown links `[text](path)` in every `.md` file (relative
//! to that file), and every `docs/NAME.md` mentioned in `.rs`, `.toml`, `.md` and
//! `.service` files and in the `--help` of every subcommand (relative to the
//! repository's root). Links to other sites (`http:`, `https:`, `mailto:`) and
//! anchors within a page are not followed.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Every file under `dir` with one of `exts`, skipping build output and VCS data.
fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(name.as_str(), "target" | ".git" | "corpus" | "artifacts") {
                files(&path, exts, out);
            }
        } else if exts.iter().any(|e| name.ends_with(e)) {
            out.push(path);
        }
    }
}

/// The targets of `[text](target)` links in Markdown text.
fn markdown_links(text: &str) -> Vec<String> {
    let mut links = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(end) = rest.find(')') {
            links.push(rest[..end].trim().to_string());
            rest = &rest[end..];
        }
    }
    links
}

/// Every `docs/NAME.md` (or `docs/DIR/NAME.md`) named in the text.
fn docs_mentions(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = text[from..].find("docs/") {
        let start = from + i;
        from = start + 5;
        // `docs.rs/…` and `foo_docs/` are other things; only a path that starts here.
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
            continue;
        }
        let tail: String = text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "/._-".contains(*c))
            .collect();
        let tail = tail.trim_end_matches('.');
        if tail.ends_with(".md") {
            found.push(tail.to_string());
        }
    }
    found
}

fn is_external(link: &str) -> bool {
    link.starts_with("http://")
        || link.starts_with("https://")
        || link.starts_with("mailto:")
        || link.starts_with('#')
}

#[test]
fn every_markdown_link_resolves() {
    let root = root();
    let mut md = Vec::new();
    files(&root, &[".md"], &mut md);
    assert!(!md.is_empty(), "no Markdown file found under {root:?}");
    let mut broken = Vec::new();
    for file in &md {
        let text = std::fs::read_to_string(file).unwrap();
        for link in markdown_links(&text) {
            if is_external(&link) || link.is_empty() {
                continue;
            }
            let path = link.split('#').next().unwrap_or("");
            let target = file.parent().unwrap().join(path);
            if !target.exists() {
                broken.push(format!("{}: ({link})", file.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links to nothing:\n{}",
        broken.join("\n")
    );
}

#[test]
fn every_docs_file_named_in_sources_and_examples_exists() {
    let root = root();
    let mut all = Vec::new();
    files(&root, &[".rs", ".toml", ".md", ".service", ".sh"], &mut all);
    let mut broken = Vec::new();
    for file in &all {
        // This file names bad paths on purpose, in its tests of the scanner.
        if file.ends_with("tests/doc_links.rs") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        if text.contains("shared/docs") || text.contains("../shared") {
            broken.push(format!(
                "{}: names ../shared, which users do not have",
                file.display()
            ));
        }
        for doc in docs_mentions(&text) {
            if !root.join(&doc).exists() {
                broken.push(format!("{}: {doc}", file.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "files named that are not in the repository:\n{}",
        broken.join("\n")
    );
}

#[test]
fn every_docs_file_named_in_help_exists() {
    let bin = env!("CARGO_BIN_EXE_hopwatch");
    let top = Command::new(bin).arg("--help").output().unwrap();
    let top = String::from_utf8_lossy(&top.stdout).into_owned();
    // Subcommands are the indented first words of the "Commands:" section.
    let subcommands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|s| s != "help")
        .collect();
    assert!(
        subcommands.len() >= 5,
        "found too few subcommands in --help: {subcommands:?}"
    );
    let mut texts = vec![("hopwatch --help".to_string(), top.clone())];
    for sub in &subcommands {
        let out = Command::new(bin).args([sub, "--help"]).output().unwrap();
        texts.push((
            format!("hopwatch {sub} --help"),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ));
    }
    let root = root();
    let mut broken = Vec::new();
    for (what, text) in &texts {
        if text.contains("shared/") {
            broken.push(format!("{what}: names shared/, which users do not have"));
        }
        for doc in docs_mentions(text) {
            if !root.join(&doc).exists() {
                broken.push(format!("{what}: {doc}"));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "--help names missing files:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_scanners_find_what_they_should() {
    assert_eq!(
        markdown_links("see [a](docs/a.md) and [b](https://x) and [c](#top)"),
        ["docs/a.md", "https://x", "#top"]
    );
    assert_eq!(
        docs_mentions("see `docs/lab-topology.md`. and docs.rs/foo, my_docs/x.md, docs/b.md."),
        ["docs/lab-topology.md", "docs/b.md"]
    );
}
