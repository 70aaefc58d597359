//! Files from paths, directories (recursive) and globs.

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::error::Error;

/// The files found, and the arguments that could not be read.
#[derive(Debug, Default)]
pub struct Discovered {
    pub files: Vec<PathBuf>,
    pub errors: Vec<Error>,
}

/// Expands command-line inputs into files. Directories are walked recursively, skipping
/// hidden entries (`.git`, editor swap files); globs use `*`, `?`, `[...]` and `**`.
///
/// A link to a file found in a directory is read as the file it names, as a link given on
/// the command line is: Kubernetes' `/var/log/containers` holds nothing but such links.
/// Links to directories are not walked (no loops, no tree reached twice), and a link whose
/// file is gone (a deleted pod's) is passed over. Readers take a file by its canonical path,
/// so a file reached both by a link and by its own path is read once.
pub fn discover(inputs: &[String]) -> Discovered {
    let mut found = Discovered::default();
    for input in inputs {
        let path = Path::new(input);
        if input == "-" || path.is_file() {
            found.files.push(path.to_path_buf());
        } else if path.is_dir() {
            walk(path, &mut found);
        } else if path.exists() {
            found.files.push(path.to_path_buf()); // a FIFO or device: read it as a stream
        } else if let Err(source) = std::fs::metadata(path)
            && source.kind() != std::io::ErrorKind::NotFound
            && !is_glob(input)
        {
            // A link loop, a directory without permission: say so, not "no such file".
            found.errors.push(Error::Io {
                path: path.to_path_buf(),
                source,
            });
        } else if !is_glob(input) || expand_glob(input, &mut found) == 0 {
            found.errors.push(Error::NotFound(input.clone()));
        }
    }
    found
}

fn walk(dir: &Path, found: &mut Discovered) {
    let entries = WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in entries {
        match entry {
            Ok(e) if e.file_type().is_file() => found.files.push(e.into_path()),
            Ok(e) if e.path_is_symlink() && e.path().is_file() => found.files.push(e.into_path()),
            Ok(_) => {}
            Err(err) => {
                let path = err.path().unwrap_or(dir).to_path_buf();
                found.errors.push(Error::Io {
                    path,
                    source: err.into(),
                });
            }
        }
    }
}

fn is_glob(input: &str) -> bool {
    input.contains(['*', '?', '['])
}

/// Adds the files `pattern` matches (walking matched directories); returns how many paths
/// matched.
fn expand_glob(pattern: &str, found: &mut Discovered) -> usize {
    let paths = match glob::glob(pattern) {
        Ok(paths) => paths,
        Err(source) => {
            found.errors.push(Error::Glob {
                pattern: pattern.to_owned(),
                source,
            });
            return usize::MAX;
        }
    };
    let mut count = 0;
    let mut matched: Vec<PathBuf> = Vec::new();
    for entry in paths {
        count += 1;
        match entry {
            Ok(p) if p.is_file() => matched.push(p),
            Ok(p) if p.is_dir() => walk(&p, found),
            Ok(_) => {}
            Err(err) => {
                let path = err.path().to_path_buf();
                found.errors.push(Error::Io {
                    path,
                    source: err.into(),
                });
            }
        }
    }
    matched.sort();
    found.files.extend(matched);
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_globs_and_missing_paths() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        for name in ["a/b/2.log", "a/1.log", "a/x.txt", ".git/HEAD"] {
            std::fs::write(root.join(name), "x\n").unwrap();
        }
        let inputs = vec![
            root.join("a").display().to_string(),
            root.join("a/*.log").display().to_string(),
            root.join("nope.log").display().to_string(),
        ];
        let found = discover(&inputs);
        let rel: Vec<String> = found
            .files
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect();
        assert_eq!(rel, ["a/1.log", "a/b/2.log", "a/x.txt", "a/1.log"]);
        assert_eq!(found.errors.len(), 1);
        assert!(found.errors[0].to_string().contains("nope.log"));
    }

    /// Kubernetes' `/var/log/containers`: links to the files under `/var/log/pods`.
    #[test]
    fn a_directory_of_links_gives_the_files_they_name() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("pods/web/app")).unwrap();
        std::fs::create_dir_all(root.join("containers")).unwrap();
        std::fs::write(root.join("pods/web/app/0.log"), "x\n").unwrap();
        symlink(
            root.join("pods/web/app/0.log"),
            root.join("containers/web_app.log"),
        )
        .unwrap();
        // A deleted pod's link, and a link to a directory: neither is a file to read.
        symlink(
            root.join("pods/gone/0.log"),
            root.join("containers/gone.log"),
        )
        .unwrap();
        symlink(root.join("pods"), root.join("containers/pods")).unwrap();
        let found = discover(&[root.join("containers").display().to_string()]);
        assert_eq!(found.files, [root.join("containers/web_app.log")]);
        assert!(found.errors.is_empty(), "{:?}", found.errors);
    }
}
