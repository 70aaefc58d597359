//! HTTP Basic authentication against an htpasswd-style file of bcrypt or argon2 hashes.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};

use argon2::password_hash::PasswordVerifier;
use argon2::password_hash::phc::PasswordHash;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// How many verified credentials are remembered, so that a client's every request does not
/// pay a deliberately slow hash (bcrypt cost 10 is about 50 ms). Bounded so a flood of
/// distinct credentials cannot grow memory.
const VERIFIED_CACHE: usize = 1024;

/// Hashes computed at once, whatever the number of clients: each argon2 check takes its
/// memory cost (19 MiB for `stackfold passwd`'s), so unbounded checks of wrong passwords ran
/// a server into gigabytes; the others wait their turn.
const HASHING_AT_ONCE: usize = 2;

/// How much longer than the slowest hash of the file a refusal takes, so that measuring
/// cannot tell an unknown user, or a cheaper hash, from the slowest.
const REFUSAL_MARGIN: f64 = 1.2;

/// The users and their password hashes.
pub struct Users {
    hashes: HashMap<String, String>,
    verified: Mutex<HashSet<[u8; 32]>>,
    /// Permits to hash: [`HASHING_AT_ONCE`] tokens.
    permits: (Sender<()>, Receiver<()>),
    hashing: AtomicUsize,
    peak_hashing: AtomicUsize,
    /// Every refusal takes at least this long: the slowest hash of the file, with a margin.
    refusal: Duration,
}

/// What a check of credentials found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Granted,
    /// Refused; the answer must not go before `not_before`, so that every refusal takes as
    /// long, whoever it is for and whatever the user's hash.
    Refused {
        not_before: Instant,
    },
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
        let (tx, rx) = bounded(HASHING_AT_ONCE);
        for _ in 0..HASHING_AT_ONCE {
            tx.send(()).expect("room for every permit");
        }
        let refusal = slowest_refusal(hashes.values()).mul_f64(REFUSAL_MARGIN);
        Ok(Users {
            hashes,
            verified: Mutex::new(HashSet::new()),
            permits: (tx, rx),
            hashing: AtomicUsize::new(0),
            peak_hashing: AtomicUsize::new(0),
            refusal,
        })
    }

    /// Whether an `Authorization` header value holds valid Basic (or `ApiKey`) credentials.
    /// Slow on the first sight of a credential: call it off the async runtime.
    pub fn check(&self, authorization: &str) -> bool {
        self.verdict(authorization) == Verdict::Granted
    }

    /// How long every refusal takes at least.
    pub fn refusal_time(&self) -> Duration {
        self.refusal
    }

    /// The most hashes that were computed at once.
    pub fn peak_hashing(&self) -> usize {
        self.peak_hashing.load(Ordering::Relaxed)
    }

    /// Checks an `Authorization` header value. An unknown user is refused without hashing,
    /// but no sooner than a wrong password of the slowest user: the caller waits until
    /// `not_before` (without holding a thread) before answering.
    pub fn verdict(&self, authorization: &str) -> Verdict {
        let started = Instant::now();
        let refused = Verdict::Refused {
            not_before: started + self.refusal,
        };
        let key: [u8; 32] = Sha256::digest(authorization.as_bytes()).into();
        if self.verified.lock().expect("not poisoned").contains(&key) {
            return Verdict::Granted;
        }
        let Some((user, password)) = decode_basic(authorization) else {
            return refused;
        };
        let Some(hash) = self.hashes.get(&user) else {
            return refused;
        };
        if !self.verify_bounded(&password, hash) {
            return refused;
        }
        {
            let mut verified = self.verified.lock().expect("not poisoned");
            if verified.len() >= VERIFIED_CACHE {
                verified.clear();
            }
            verified.insert(key);
        }
        Verdict::Granted
    }

    /// [`verify`], at most [`HASHING_AT_ONCE`] at a time.
    fn verify_bounded(&self, password: &str, hash: &str) -> bool {
        let permits = &self.permits;
        permits
            .1
            .recv()
            .expect("the permits live as long as the users");
        let now = self.hashing.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_hashing.fetch_max(now, Ordering::SeqCst);
        let ok = verify(password, hash);
        self.hashing.fetch_sub(1, Ordering::SeqCst);
        permits.0.send(()).expect("a permit taken goes back");
        ok
    }
}

/// The longest a wrong password takes to refuse among `hashes` (each kind and cost measured
/// once, when the file is read).
fn slowest_refusal<'a>(hashes: impl Iterator<Item = &'a String>) -> Duration {
    let mut one_per_cost: HashMap<&str, &str> = HashMap::new();
    for hash in hashes {
        one_per_cost.entry(cost_part(hash)).or_insert(hash);
    }
    let mut slowest = Duration::ZERO;
    for hash in one_per_cost.into_values() {
        let started = Instant::now();
        verify("not the password", hash);
        slowest = slowest.max(started.elapsed());
    }
    slowest
}

/// The part of a hash that sets its cost: `$2y$10` or `$argon2id$v=19$m=19456,t=2,p=1`.
fn cost_part(hash: &str) -> &str {
    let fields = if hash.starts_with("$argon2") { 3 } else { 2 };
    match hash.match_indices('$').nth(fields) {
        Some((at, _)) => &hash[..at],
        None => hash,
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
/// The user name of a Basic or `ApiKey` authorization, once it was granted: who a change is
/// recorded as made by.
pub fn user_of(authorization: &str) -> Option<String> {
    decode_basic(authorization).map(|(user, _)| user)
}

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
    fn the_cost_of_a_hash_is_its_kind_and_parameters() {
        assert_eq!(cost_part("$2y$10$abcdefghijklmnopqrstuv"), "$2y$10");
        assert_eq!(
            cost_part("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"),
            "$argon2id$v=19$m=19456,t=2,p=1"
        );
    }

    #[test]
    fn bad_files_are_errors_with_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        std::fs::write(&path, "alice:plaintext\n").unwrap();
        let err = Users::load(&path).err().unwrap().to_string();
        assert!(err.contains("line 1"), "{err}");
    }

    /// Hardening finding 2: wrong passwords of argon2 users from many clients at once ran
    /// the server into gigabytes (19 MiB per check, all at once); checks are now bounded.
    #[test]
    fn hashing_is_bounded_whatever_the_number_of_clients() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        std::fs::write(&path, htpasswd_line("bob", "hunter2").unwrap() + "\n").unwrap();
        let users = std::sync::Arc::new(Users::load(&path).unwrap());
        let clients: Vec<_> = (0..8)
            .map(|i| {
                let users = std::sync::Arc::clone(&users);
                std::thread::spawn(move || users.check(&basic("bob", &format!("guess{i}"))))
            })
            .collect();
        for client in clients {
            assert!(!client.join().unwrap());
        }
        let peak = users.peak_hashing();
        assert!(
            (1..=HASHING_AT_ONCE).contains(&peak),
            "{peak} hashes at once"
        );
    }

    /// Hardening finding 3: an unknown user, a cheap hash and an argon2 hash were refused in
    /// 55, 2 and 17 ms, which told the user names apart. Every refusal now ends no sooner
    /// than the slowest hash of the file takes.
    #[test]
    fn every_refusal_takes_as_long_as_the_slowest_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        let fast = bcrypt::hash("s3cret", 4).unwrap();
        let argon = htpasswd_line("bob", "hunter2").unwrap();
        std::fs::write(&path, format!("alice:{fast}\n{argon}\n")).unwrap();
        let users = Users::load(&path).unwrap();
        let argon_hash = argon.split_once(':').unwrap().1;
        let argon_time = (0..3)
            .map(|_| {
                let started = Instant::now();
                verify("wrong", argon_hash);
                started.elapsed()
            })
            .min()
            .unwrap();
        assert!(
            users.refusal_time() >= argon_time / 2,
            "{:?} covers argon2's {argon_time:?}",
            users.refusal_time()
        );
        for (user, password) in [("mallory", "x"), ("alice", "wrong"), ("bob", "wrong")] {
            let started = Instant::now();
            match users.verdict(&basic(user, password)) {
                Verdict::Refused { not_before } => {
                    assert!(not_before >= started + users.refusal_time(), "{user}")
                }
                Verdict::Granted => panic!("{user} granted"),
            }
        }
        assert_eq!(users.verdict(&basic("alice", "s3cret")), Verdict::Granted);
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
