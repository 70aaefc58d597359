//! The data flow in README.md's Layout section and the code's imports cannot drift apart:
//! every module of `src/` is on a floor there, and a module only uses modules on its own
//! floor or below it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Module name → floor, from the `floor  modules` table in README.md.
fn floors() -> BTreeMap<String, usize> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut lines = readme
        .lines()
        .skip_while(|l| !l.starts_with("floor  modules"));
    assert!(
        lines.next().is_some(),
        "README.md has no `floor  modules` table"
    );
    let mut floors = BTreeMap::new();
    for line in lines.take_while(|l| !l.starts_with("```")) {
        let mut words = line.split_whitespace();
        let floor: usize = words.next().unwrap().parse().unwrap();
        for module in words.take_while(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '_')) {
            floors.insert(module.to_owned(), floor);
        }
    }
    floors
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The top-level module a file of `src/` belongs to, or `None` for the crate root and the
/// binaries.
fn module_of(path: &Path) -> Option<String> {
    let relative = path.strip_prefix(root().join("src")).unwrap();
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main" | "bin")).then(|| name.to_owned())
}

/// The top-level modules `text` names as `crate::module`, outside comments and tests (test
/// modules: `#[cfg(test)]` onwards, and files named `tests.rs` or `*_tests.rs`).
fn uses(text: &str) -> Vec<String> {
    let mut used = Vec::new();
    for line in text
        .lines()
        .take_while(|l| !l.trim_start().starts_with("#[cfg(test)]"))
    {
        let code = line.split("//").next().unwrap();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() {
                used.push(name);
            }
        }
    }
    used
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && !path
                .file_stem()
                .is_some_and(|n| n.to_string_lossy().ends_with("tests"))
        {
            out.push(path);
        }
    }
}

#[test]
fn modules_only_use_modules_on_their_floor_or_below() {
    let floors = floors();
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let Some(module) = module_of(file) else {
            continue;
        };
        let Some(&floor) = floors.get(&module) else {
            wrong.push(format!(
                "{module} ({}) is on no floor of README.md",
                file.display()
            ));
            continue;
        };
        for used in uses(&std::fs::read_to_string(file).unwrap()) {
            match floors.get(&used) {
                Some(&other) if other <= floor => {}
                Some(&other) => wrong.push(format!(
                    "{} (floor {floor}) uses {used} (floor {other})",
                    file.display()
                )),
                None => wrong.push(format!(
                    "{used}, used by {}, is on no floor",
                    file.display()
                )),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn an_import_from_a_higher_floor_is_found() {
    let floors = floors();
    assert!(floors["fold"] < floors["index"]);
    assert_eq!(
        uses("use crate::index::Ingest;\n// crate::serve\n"),
        ["index"]
    );
    assert!(uses("#[cfg(test)]\nmod tests { use crate::serve; }").is_empty());
}
