//! HTTP Basic authentication against an htpasswd-style file of bcrypt or argon2 hashes.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use argon2::password_hash::PasswordVerifier;
use argon2::password_hash::phc::PasswordHash;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// How many verified credentials are remembered, so that a client's every request does not
/// pay a deliberately slow hash (bcrypt cost 10 is about 50 ms). Bounded so a flood of
/// distinct credentials cannot grow memory.
const VERIFIED_CACHE: usize = 1024;

/// bcrypt cost of the hash checked for unknown users: that of `htpasswd -B -C 10`, so an
/// unknown user takes about as long to refuse as a known one with a wrong password.
const DUMMY_COST: u32 = 10;

/// The users and their password hashes.
pub struct Users {
    hashes: HashMap<String, String>,
    verified: Mutex<HashSet<[u8; 32]>>,
    /// Checked for unknown users, so that an unknown user costs as much as a wrong password.
    dummy: String,
}

impl Users {
    /// Reads `user:hash` lines; blank lines and `#` comments are skipped. Hashes are bcrypt
    /// (`$2a$`, `$2b$`, `$2y$`) or argon2 (`$argon2id$`...).
    pub fn load(path: &Path) -> Result<Users> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut hashes = HashMap::new();
        let mut lines = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad =
                |why: &str| Error::Config(format!("{}: line {}: {why}", path.display(), i + 1));
            let (user, hash) = line
                .split_once(':')
                .ok_or_else(|| bad("expected user:hash"))?;
            if user.is_empty() {
                return Err(bad("empty user name"));
            }
            if let Some(problem) = hash_problem(hash) {
                return Err(bad(&problem));
            }
            if let Some(first) = lines.insert(user.to_owned(), i + 1) {
                return Err(bad(&format!("user {user:?} is on line {first} already")));
            }
            hashes.insert(user.to_owned(), hash.to_owned());
        }
        if hashes.is_empty() {
            return Err(Error::Config(format!("{}: no users", path.display())));
        }
        let dummy = bcrypt::hash("no such user", DUMMY_COST)
            .map_err(|e| Error::PasswordHash(format!("bcrypt: {e}")))?;
        Ok(Users {
            hashes,
            verified: Mutex::new(HashSet::new()),
            dummy,
        })
    }

    /// Whether an `Authorization` header value holds valid Basic (or `ApiKey`) credentials. Slow on the
    /// first sight of a credential: call it off the async runtime.
    pub fn check(&self, authorization: &str) -> bool {
        let key: [u8; 32] = Sha256::digest(authorization.as_bytes()).into();
        if self.verified.lock().expect("not poisoned").contains(&key) {
            return true;
        }
        let Some((user, password)) = decode_basic(authorization) else {
            return false;
        };
        let ok = match self.hashes.get(&user) {
            Some(hash) => verify(&password, hash),
            None => {
                let _ = bcrypt::verify(&password, &self.dummy);
                false
            }
        };
        if ok {
            let mut verified = self.verified.lock().expect("not poisoned");
            if verified.len() >= VERIFIED_CACHE {
                verified.clear();
            }
            verified.insert(key);
        }
        ok
    }
}

/// Most a login may cost, checked when the file is read: bcrypt cost 14 takes about a second;
/// argon2 with more memory, passes or lanes than these would let a few logins exhaust the
/// server (the defaults of `stackfold passwd` are 19 MiB, 2 passes, 1 lane).
const MAX_BCRYPT_COST: u32 = 14;
const MAX_ARGON2_KIB: u32 = 256 * 1024;
const MAX_ARGON2_PASSES: u32 = 10;
const MAX_ARGON2_LANES: u32 = 8;

/// What is wrong with a password hash of a users file, if anything: a hash that no password
/// can match (cut short), or one that makes every login hang.
fn hash_problem(hash: &str) -> Option<String> {
    if hash.starts_with("$2") {
        let parts = match hash.parse::<bcrypt::HashParts>() {
            Ok(parts) => parts,
            Err(e) => return Some(format!("not a whole bcrypt hash: {e}")),
        };
        let cost = parts.get_cost();
        return (cost > MAX_BCRYPT_COST)
            .then(|| format!("bcrypt cost {cost}: at most {MAX_BCRYPT_COST}"));
    }
    if hash.starts_with("$argon2") {
        let params = PasswordHash::new(hash)
            .map_err(|e| e.to_string())
            .and_then(|parsed| argon2::Params::try_from(&parsed).map_err(|e| e.to_string()));
        let params = match params {
            Ok(params) => params,
            Err(e) => return Some(format!("not a whole argon2 hash: {e}")),
        };
        let too_much = params.m_cost() > MAX_ARGON2_KIB
            || params.t_cost() > MAX_ARGON2_PASSES
            || params.p_cost() > MAX_ARGON2_LANES;
        return too_much.then(|| {
            format!(
                "argon2 costs m={} t={} p={}: at most m={MAX_ARGON2_KIB} t={MAX_ARGON2_PASSES} p={MAX_ARGON2_LANES}",
                params.m_cost(),
                params.t_cost(),
                params.p_cost()
            )
        });
    }
    Some("the hash must be bcrypt ($2y$...) or argon2 ($argon2id$...)".into())
}

/// `Basic base64(user:password)`, or Elasticsearch's `ApiKey base64(user:password)` as
/// shippers send it for the ingest users; the scheme in any case (RFC 7235).
fn decode_basic(authorization: &str) -> Option<(String, String)> {
    let (scheme, encoded) = authorization.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") && !scheme.eq_ignore_ascii_case("apikey") {
        return None;
    }
    let encoded = encoded.trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn verify(password: &str, hash: &str) -> bool {
    if hash.starts_with("$2") {
        return bcrypt::verify(password, hash).unwrap_or(false);
    }
    PasswordHash::new(hash)
        .map(|parsed| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// An htpasswd line for `user` with an argon2id hash of `password`.
pub fn htpasswd_line(user: &str, password: &str) -> Result<String> {
    use argon2::password_hash::PasswordHasher;
    let hash = argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| Error::PasswordHash(format!("argon2: {e}")))?;
    Ok(format!("{user}:{hash}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    }

    #[test]
    fn bcrypt_and_argon2_users() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        let bcrypt_hash = bcrypt::hash("s3cret", 4).unwrap();
        let argon_line = htpasswd_line("bob", "hunter2").unwrap();
        std::fs::write(&path, format!("# ops\nalice:{bcrypt_hash}\n{argon_line}\n")).unwrap();
        let users = Users::load(&path).unwrap();
        assert!(users.check(&basic("alice", "s3cret")));
        assert!(users.check(&basic("alice", "s3cret")), "cached");
        assert!(users.check(&basic("bob", "hunter2")));
        assert!(!users.check(&basic("alice", "wrong")));
        assert!(!users.check(&basic("mallory", "s3cret")));
        assert!(!users.check("Bearer abc"));
        assert!(!users.check("Basic !!!"));
    }

    #[test]
    fn bad_files_are_errors_with_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        std::fs::write(&path, "alice:plaintext\n").unwrap();
        let err = Users::load(&path).err().unwrap().to_string();
        assert!(err.contains("line 1"), "{err}");
    }

    /// Hardening finding 11: files that loaded but could never work, or made every login
    /// hang, are refused with their line; the scheme is case-insensitive.
    #[test]
    fn hashes_that_cannot_work_or_would_hang_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        let good = bcrypt::hash("s3cret", 4).unwrap();
        let argon = htpasswd_line("bob", "x").unwrap();
        let argon_hash = argon.split_once(':').unwrap().1;
        let heavy = argon_hash.replace("t=2", "t=4000000000");
        let bcrypt31 = good.replacen("$04$", "$31$", 1);
        for (text, why) in [
            (
                format!("alice:{}\n", &good[..40]),
                "line 1: not a whole bcrypt hash",
            ),
            (
                format!("alice:{good}\nalice:{good}\n"),
                "line 2: user \"alice\" is on line 1",
            ),
            (format!(":{good}\n"), "line 1: empty user name"),
            (format!("alice:{bcrypt31}\n"), "line 1: bcrypt cost 31"),
            (format!("# a\nbob:{heavy}\n"), "line 2: argon2 costs"),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = Users::load(&path).err().unwrap().to_string();
            assert!(err.contains(why), "{err}");
        }
        std::fs::write(&path, format!("alice:{good}\n")).unwrap();
        let users = Users::load(&path).unwrap();
        let encoded = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
        assert!(users.check(&format!("basic {encoded}")));
        assert!(users.check(&format!("BASIC {encoded}")));
    }
}
