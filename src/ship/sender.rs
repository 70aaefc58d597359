//! The sender thread: sends sealed batches in order, each until the central acknowledges it,
//! then saves the positions it reached. Nothing is sent ahead of an unacknowledged batch,
//! which is what lets the central know a resent event by its stream's position.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::client::{Central, Sent};
use super::state::StateDir;
use super::{Item, Sealed, Shared, ShipSettings};
use crate::error::Chain;
use crate::index::checkpoint::{Checkpoints, FileCheckpoint};

pub(super) struct Sender {
    pub central: Central,
    pub state: StateDir,
    pub edge: Arc<str>,
    pub shared: Arc<Shared>,
    pub settings: ShipSettings,
    /// What the state file holds.
    pub saved: Checkpoints,
}

/// Why a batch was not acknowledged.
enum Unsent {
    /// The central will not take it: the edge stops.
    Fatal(String),
    /// The edge is shutting down: what is unsent is read again at the next start.
    Stopping,
}

impl Sender {
    pub fn run(self, batches: Receiver<Sealed>) {
        if let Sent::Fatal(why) = self.central.probe() {
            self.fail(why);
            return;
        }
        let mut backoff = Backoff::new(self.settings);
        let mut saved = self.saved.clone();
        for sealed in batches {
            if let Err(why) = self.announce(&mut saved, &sealed.begun) {
                return self.fail(why);
            }
            match self.deliver(&sealed.body, &sealed.items, &mut backoff) {
                Ok(()) => {}
                Err(Unsent::Fatal(why)) => return self.fail(why),
                Err(Unsent::Stopping) => {
                    tracing::warn!(
                        "stopping with batches unsent: they are read again at the next start"
                    );
                    return;
                }
            }
            if let Err(why) = self.save(&sealed.checkpoints) {
                return self.fail(why);
            }
            saved = sealed.checkpoints;
            let mut acked = self.shared.acked.lock().expect("acked lock");
            for (key, cp) in &saved.files {
                acked.insert(key.clone(), cp.offset);
            }
            acked.retain(|key, _| saved.files.contains_key(key));
        }
    }

    /// Saves the files started since the last batch, at the positions where their reading
    /// started, before any of their events is sent: after a crash they are the same streams
    /// again, whose events the central recognises.
    fn announce(
        &self,
        saved: &mut Checkpoints,
        begun: &[(String, FileCheckpoint)],
    ) -> Result<(), String> {
        let mut new = false;
        for (key, cp) in begun {
            if saved.files.get(key).is_none_or(|s| s.stream != cp.stream) {
                saved.files.insert(key.clone(), cp.clone());
                new = true;
            }
        }
        if new { self.save(saved) } else { Ok(()) }
    }

    fn save(&self, checkpoints: &Checkpoints) -> Result<(), String> {
        self.state
            .save(&self.edge, self.central.url(), checkpoints)
            .map_err(|err| format!("saving the state: {}", Chain(&err)))
    }

    fn fail(&self, why: String) {
        tracing::error!(central = self.central.url(), "{why}");
        *self.shared.fatal.lock().expect("fatal lock") = Some(why);
    }

    /// Sends `items` until each is acknowledged (or refused for good), retrying what the
    /// central could not take now.
    fn deliver(&self, batch: &[u8], items: &[Item], backoff: &mut Backoff) -> Result<(), Unsent> {
        let counts = &self.shared.counts;
        let mut pending: Vec<&Item> = items.iter().collect();
        while !pending.is_empty() {
            let body = if pending.len() == items.len() {
                std::borrow::Cow::Borrowed(batch)
            } else {
                let mut body = Vec::with_capacity(batch.len());
                for item in &pending {
                    body.extend_from_slice(&batch[item.lines.clone()]);
                }
                std::borrow::Cow::Owned(body)
            };
            let (why, after) = match self.central.bulk(&body) {
                Sent::Fatal(why) => return Err(Unsent::Fatal(why)),
                Sent::Retry { why, after } => (why, after),
                Sent::Items(statuses) if statuses.len() != pending.len() => (
                    format!(
                        "the central answered {} items for {} sent",
                        statuses.len(),
                        pending.len()
                    ),
                    None,
                ),
                Sent::Items(statuses) => {
                    let retry = self.sort(&pending, &statuses);
                    counts.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                    if retry.is_empty() {
                        counts.batches.fetch_add(1, Ordering::Relaxed);
                        self.connected(backoff);
                        return Ok(());
                    }
                    pending = retry;
                    (
                        format!("the central could not take {} items now", pending.len()),
                        None,
                    )
                }
            };
            self.shared.connected.store(false, Ordering::Relaxed);
            counts.retries.fetch_add(1, Ordering::Relaxed);
            let wait = backoff.next(after);
            if backoff.failures == 1 || backoff.failures.is_multiple_of(10) {
                tracing::warn!(
                    central = self.central.url(),
                    failures = backoff.failures,
                    retry_in_ms = wait.as_millis() as u64,
                    "cannot ship: {why}"
                );
            }
            self.sleep(wait)?;
        }
        Ok(())
    }

    /// Counts what the central answered for each item; returns the items to send again.
    fn sort<'a>(&self, pending: &[&'a Item], statuses: &[u16]) -> Vec<&'a Item> {
        let counts = &self.shared.counts;
        let mut retry = Vec::new();
        for (item, &status) in pending.iter().zip(statuses) {
            match status {
                200..=299 => {
                    counts.events.fetch_add(1, Ordering::Relaxed);
                }
                409 => {
                    counts.events.fetch_add(1, Ordering::Relaxed);
                    counts.duplicates.fetch_add(1, Ordering::Relaxed);
                }
                429 | 500..=599 => retry.push(*item),
                _ => {
                    counts.rejected.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(
                        id = item.id,
                        status,
                        "the central refused an event for good: it is not shipped"
                    );
                }
            }
        }
        retry
    }

    fn connected(&self, backoff: &mut Backoff) {
        if backoff.failures > 0 {
            tracing::info!(
                central = self.central.url(),
                failures = backoff.failures,
                "shipping again"
            );
        }
        backoff.failures = 0;
        self.shared.connected.store(true, Ordering::Relaxed);
    }

    /// Waits `wait`, or less when the edge is stopping and its grace runs out first.
    fn sleep(&self, wait: Duration) -> Result<(), Unsent> {
        let until = Instant::now() + wait;
        loop {
            let now = Instant::now();
            let stopping = *self.shared.stopping.lock().expect("stop lock");
            if stopping.is_some_and(|deadline| now >= deadline) {
                return Err(Unsent::Stopping);
            }
            if now >= until {
                return Ok(());
            }
            std::thread::sleep((until - now).min(Duration::from_millis(50)));
        }
    }
}

/// Exponential back-off with jitter: each wait is between half and all of
/// `first × 2^failures`, capped at `max`, and never shorter than the central asked for.
struct Backoff {
    first: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    fn new(settings: ShipSettings) -> Backoff {
        Backoff {
            first: settings.retry_first,
            max: settings.retry_max,
            failures: 0,
        }
    }

    fn next(&mut self, asked: Option<Duration>) -> Duration {
        let ceiling = self
            .first
            .saturating_mul(1 << self.failures.min(20))
            .min(self.max);
        self.failures += 1;
        let jittered = ceiling.mul_f64(0.5 + fastrand::f64() / 2.0);
        jittered.max(asked.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_with_jitter_up_to_its_cap_and_honours_retry_after() {
        let mut backoff = Backoff::new(ShipSettings {
            retry_first: Duration::from_millis(100),
            retry_max: Duration::from_secs(1),
            ..ShipSettings::default()
        });
        let waits: Vec<Duration> = (0..8).map(|_| backoff.next(None)).collect();
        for (n, wait) in waits.iter().enumerate() {
            let ceiling = Duration::from_millis(100 << n).min(Duration::from_secs(1));
            assert!(*wait <= ceiling && *wait >= ceiling / 2, "{n}: {wait:?}");
        }
        assert_eq!(
            backoff.next(Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
    }
}
