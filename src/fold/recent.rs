//! A memo of a pure function of a message, per thread: services log the same line again and
//! again (a debug line per request, the same exception from the same bug), so the answer for
//! a message seen shortly before is looked up instead of computed again.
//!
//! Each message has one slot, picked by its hash, holding the last message that landed there
//! and its answer. The message is compared whole, so the answer is the function's, whatever
//! was seen before; only the time differs. Memory is bounded: [`SLOTS`] slots, messages up to
//! [`MAX_MESSAGE`] bytes (longer ones are computed every time), and a slot's buffers are
//! reused when another message takes it over.

/// How many messages a memo remembers, and the longest it remembers.
pub const SLOTS: usize = 1024;
pub const MAX_MESSAGE: usize = 1024;

/// The last messages seen and the answers for them.
pub struct Recent<V> {
    slots: Vec<(String, Option<V>)>,
}

impl<V: Clone> Recent<V> {
    pub const fn new() -> Self {
        Recent { slots: Vec::new() }
    }

    /// `compute(message)`, remembered.
    pub fn get(&mut self, message: &str, compute: impl FnOnce(&str) -> V) -> V {
        if message.len() > MAX_MESSAGE {
            return compute(message);
        }
        if self.slots.is_empty() {
            self.slots.resize_with(SLOTS, || (String::new(), None));
        }
        let slot = xxhash_rust::xxh3::xxh3_64(message.as_bytes()) as usize % SLOTS;
        let (seen, answer) = &mut self.slots[slot];
        if let Some(answer) = answer.as_ref().filter(|_| seen == message) {
            return answer.clone();
        }
        let fresh = compute(message);
        seen.clear();
        seen.push_str(message);
        match answer {
            Some(old) => old.clone_from(&fresh),
            None => *answer = Some(fresh.clone()),
        }
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_the_functions_whatever_shares_its_slot() {
        let f = |m: &str| format!("{}:{}", m.len(), m.to_uppercase());
        let mut recent = Recent::new();
        // More distinct messages than slots, so slots are shared and taken over; each asked
        // for twice, far apart and back to back; an empty message and one too long to keep.
        let messages: Vec<String> = (0..3 * SLOTS)
            .map(|i| format!("message {} of {}", i % (2 * SLOTS), i % 3))
            .chain([String::new(), "ab ".repeat(MAX_MESSAGE)])
            .collect();
        for message in messages
            .iter()
            .chain(&messages)
            .chain(messages.iter().rev())
        {
            assert_eq!(recent.get(message, f), f(message), "{message:?}");
            assert_eq!(recent.get(message, f), f(message), "{message:?}");
        }
    }
}
