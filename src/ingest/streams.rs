//! Server-side folding: shipped documents of one stream are folded together, across
//! documents and requests, with exactly the rules `fold` uses, and go into the index through
//! the one sink.
//!
//! One thread owns the sink and every stream's folder. A request's documents are folded in
//! order; the request is answered only after the commit that holds them: each accepted line
//! is then either in an indexed event or among its stream's open lines, which the commit
//! writes into the checkpoints too (see [`StreamCheckpoint`]). After a crash the open lines
//! are folded again from the checkpoints, so an acknowledged line is never lost and never
//! indexed twice. A document whose `_id` is already indexed, or among the open lines, is not
//! taken again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use tantivy::collector::Count;
use tantivy::query::TermQuery;
use tantivy::schema::IndexRecordOption;
use tantivy::{IndexReader, ReloadPolicy, Term};

use super::edge::EdgeEvent;
use super::mapping::Shipped;
use crate::decode::RawLine;
use crate::error::{Chain, Result};
use crate::event::{Event, FileInfo};
use crate::index::checkpoint::{DocFields, PendingLine, StreamCheckpoint};
use crate::index::{EventWriter, Fields, Ingest};
use crate::pipeline::PipelineSettings;
use crate::read::LineFolder;
use crate::tail::{TailCounters, Tailer};

/// Least time between commits made for idle flushes alone (requests waiting for their
/// commit do not wait for this).
const IDLE_COMMIT_EVERY: Duration = Duration::from_millis(1000);
/// How often the positions of edge streams long finished are forgotten.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(3600);

/// One document, and how it was sent.
#[derive(Debug, Clone)]
pub struct Doc {
    /// The shipper's `_id`, if it gave one.
    pub id: Option<String>,
    /// `create` (a known id is a conflict) rather than `index` (a known id is a no-op).
    pub create: bool,
    pub body: Body,
}

/// What a document holds.
#[derive(Debug, Clone)]
pub enum Body {
    /// Lines to fold with the rest of their stream.
    Lines(Box<Shipped>),
    /// An event an edge folded (`ship`): taken as it is, once.
    Event(Box<EdgeEvent>),
}

impl Doc {
    /// A document without `_id` (OTLP records, syslog messages): taken each time it is sent.
    pub fn without_id(shipped: Shipped) -> Doc {
        Doc {
            id: None,
            create: false,
            body: Body::Lines(Box::new(shipped)),
        }
    }
}

/// What became of one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Taken: its lines are in an indexed event or among its stream's open lines.
    Created,
    /// `index` of an id already taken: nothing stored again.
    Noop,
    /// `create` of an id already taken.
    Conflict,
    /// The commit failed: not taken (the shipper should retry).
    Failed,
}

/// A batch of documents and where to send their outcomes, in order, once committed.
pub struct Batch {
    pub docs: Vec<Doc>,
    pub reply: tokio::sync::oneshot::Sender<Vec<Outcome>>,
}

/// How streams are folded and committed.
#[derive(Debug, Clone, Copy)]
pub struct StreamSettings {
    /// A stream quiet this long has its open event closed and indexed.
    pub idle: Duration,
    /// How often the thread wakes up when nothing arrives, for idle flushes.
    pub poll: Duration,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            idle: Duration::from_millis(500),
            poll: Duration::from_millis(100),
        }
    }
}

/// One stream's folder and its open lines.
struct Stream {
    folder: LineFolder,
    /// Offset and number of the next line.
    offset: u64,
    line: u64,
    pending: Vec<PendingLine>,
    last: Instant,
}

/// Where the folding thread's events go: a sink of its own (`serve`), or a tailer's, which
/// then runs on this thread too (`run`: files and shipped logs into one index writer).
pub enum Sink {
    Own(Box<Ingest>),
    Tail(Box<Tailer>),
}

impl Sink {
    /// A sink of its own over `writer`.
    pub fn own(writer: EventWriter) -> Sink {
        Sink::Own(Box::new(Ingest::new(writer)))
    }

    fn ingest(&self) -> &Ingest {
        match self {
            Sink::Own(ingest) => ingest,
            Sink::Tail(tailer) => tailer.sink(),
        }
    }

    fn ingest_mut(&mut self) -> &mut Ingest {
        match self {
            Sink::Own(ingest) => ingest,
            Sink::Tail(tailer) => tailer.sink_mut(),
        }
    }

    /// Commits: through the tailer when there is one, so it refreshes what identifies its
    /// files and tells whoever waits for its commits.
    fn commit(&mut self) -> Result<()> {
        match self {
            Sink::Own(ingest) => ingest.commit().map(|_| ()),
            Sink::Tail(tailer) => tailer.commit(),
        }
    }
}

/// The folding thread's state.
pub struct Streams {
    sink: Sink,
    fields: Fields,
    reader: IndexReader,
    pipeline: Arc<PipelineSettings>,
    settings: StreamSettings,
    streams: HashMap<String, Stream>,
    /// Ids among the open lines and in events added since the last commit.
    recent_ids: HashSet<String>,
    last_commit: Instant,
    /// Where the count of streams with open lines is published at each commit.
    open_count: Option<Arc<std::sync::atomic::AtomicUsize>>,
    /// Streams whose open lines changed since they were last given to the writer.
    touched: HashSet<String>,
    last_housekeeping: Option<Instant>,
}

impl Streams {
    /// The streams of the index `sink` writes, with their open lines folded again from the
    /// last commit's checkpoints.
    pub fn new(
        sink: Sink,
        index: &tantivy::Index,
        fields: Fields,
        pipeline: Arc<PipelineSettings>,
        settings: StreamSettings,
    ) -> Result<Self> {
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let saved: Vec<(String, StreamCheckpoint)> = sink
            .ingest()
            .writer()
            .checkpoints()
            .streams
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut streams = Streams {
            sink,
            fields,
            reader,
            pipeline,
            settings,
            streams: HashMap::new(),
            recent_ids: HashSet::new(),
            last_commit: Instant::now(),
            open_count: None,
            touched: HashSet::new(),
            last_housekeeping: None,
        };
        for (key, saved) in saved {
            streams.restore(&key, saved)?;
        }
        Ok(streams)
    }

    /// Publishes, at each commit, how many streams have open lines into `count`.
    pub fn counting_open(mut self, count: Arc<std::sync::atomic::AtomicUsize>) -> Self {
        self.open_count = Some(count);
        self
    }

    /// Runs until `batches` is closed (and with a tailer, until `stop` is set), then
    /// commits; returns what the tailer did, if there is one.
    pub fn run(
        mut self,
        batches: Receiver<Batch>,
        stop: &AtomicBool,
    ) -> Result<Option<TailCounters>> {
        let mut waiting: Vec<(Batch, Vec<Outcome>)> = Vec::new();
        // A tailer with more to read (a backfill) does not wait for requests between rounds.
        let mut tail_busy = false;
        loop {
            let wait = if tail_busy {
                Duration::ZERO
            } else {
                self.settings.poll
            };
            match batches.recv_timeout(wait) {
                Ok(mut batch) => {
                    let docs = std::mem::take(&mut batch.docs);
                    let outcomes = self.take(docs)?;
                    waiting.push((batch, outcomes));
                    // Group commit: whatever else is queued joins this commit.
                    if !batches.is_empty() {
                        continue;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if stop.load(Ordering::Relaxed) {
                break;
            }
            tail_busy = self.step_tailer(Instant::now())?;
            self.flush_idle(Instant::now())?;
            self.housekeeping(Instant::now());
            let idle_due = self.sink.ingest().writer().is_dirty()
                && self.last_commit.elapsed() >= IDLE_COMMIT_EVERY;
            if !waiting.is_empty() || idle_due {
                self.commit_and_answer(&mut waiting);
            }
        }
        self.commit_and_answer(&mut waiting);
        Ok(match &self.sink {
            Sink::Own(_) => None,
            Sink::Tail(tailer) => Some(tailer.counters()),
        })
    }

    /// Hourly: forgets the positions of edge streams that have not moved for a week.
    fn housekeeping(&mut self, now: Instant) {
        if self
            .last_housekeeping
            .is_some_and(|t| now - t < HOUSEKEEPING_EVERY)
        {
            return;
        }
        self.last_housekeeping = Some(now);
        let writer = self.sink.ingest_mut().writer_mut();
        let forgotten =
            writer.forget_streams(super::edge::EDGE_PREFIX, super::edge::FORGET_AFTER_SECS);
        if forgotten > 0 {
            tracing::info!(
                forgotten,
                "forgot the positions of edge streams finished a week ago"
            );
        }
    }

    /// One round of the tailer, if there is one: it reads, scans and commits as `tail` does,
    /// with the streams' open lines up to date in whatever it commits. Returns whether it
    /// read anything (then another round follows at once).
    fn step_tailer(&mut self, now: Instant) -> Result<bool> {
        if matches!(self.sink, Sink::Own(_)) {
            return Ok(false);
        }
        self.give_pending();
        match &mut self.sink {
            Sink::Tail(tailer) => tailer.step(now),
            Sink::Own(_) => Ok(false),
        }
    }

    /// Gives the writer the open lines of the streams that changed, so that any commit
    /// holds them with the events they are not part of.
    fn give_pending(&mut self) {
        for key in self.touched.drain() {
            if let Some(stream) = self.streams.get(&key) {
                self.sink
                    .ingest_mut()
                    .writer_mut()
                    .set_pending(&key, stream.pending.clone());
            }
        }
    }

    fn commit_and_answer(&mut self, waiting: &mut Vec<(Batch, Vec<Outcome>)>) {
        let committed = self.commit();
        if let Err(err) = &committed {
            tracing::error!("committing shipped documents: {}", Chain(err));
        }
        for (batch, mut outcomes) in waiting.drain(..) {
            if committed.is_err() {
                outcomes.fill(Outcome::Failed);
            }
            let _ = batch.reply.send(outcomes);
        }
    }

    /// Folds `docs` in order; returns what became of each.
    pub fn take(&mut self, docs: Vec<Doc>) -> Result<Vec<Outcome>> {
        let mut outcomes = Vec::with_capacity(docs.len());
        let now = Instant::now();
        for doc in docs {
            let shipped = match doc.body {
                Body::Lines(shipped) => *shipped,
                Body::Event(edge) => {
                    outcomes.push(self.take_edge(*edge, doc.id, doc.create)?);
                    continue;
                }
            };
            if let Some(id) = &doc.id
                && self.known(id)?
            {
                outcomes.push(if doc.create {
                    Outcome::Conflict
                } else {
                    Outcome::Noop
                });
                continue;
            }
            if let Some(id) = &doc.id {
                self.recent_ids.insert(id.clone());
            }
            self.push(doc.id, shipped, now)?;
            outcomes.push(Outcome::Created);
        }
        Ok(outcomes)
    }

    /// Stores an edge's event unless its stream was stored up to its end already.
    fn take_edge(&mut self, edge: EdgeEvent, id: Option<String>, create: bool) -> Result<Outcome> {
        let writer = self.sink.ingest_mut().writer_mut();
        let stored = writer.checkpoints().streams.get(&edge.key);
        if stored.is_some_and(|s| edge.event.end_offset <= s.offset) {
            return Ok(if create {
                Outcome::Conflict
            } else {
                Outcome::Noop
            });
        }
        let path = Some(edge.event.source.path.to_string_lossy().into_owned());
        writer.describe_stream(&edge.key, path, edge.event.source.meta.clone());
        let ids: Vec<String> = id.into_iter().collect();
        writer.add_shipped(&edge.key, edge.event, &ids)?;
        Ok(Outcome::Created)
    }

    /// Whether a document with `id` was taken already.
    fn known(&self, id: &str) -> Result<bool> {
        if self.recent_ids.contains(id) {
            return Ok(true);
        }
        let term = Term::from_field_text(self.fields.doc_id, id);
        let query = TermQuery::new(term, IndexRecordOption::Basic);
        Ok(self.reader.searcher().search(&query, &Count)? > 0)
    }

    fn push(&mut self, id: Option<String>, shipped: Shipped, now: Instant) -> Result<()> {
        let key = stream_key(&shipped.stream);
        if !self.streams.contains_key(&key) {
            let (offset, line) = self.sink.ingest_mut().writer_mut().describe_stream(
                &key,
                shipped.path.clone(),
                shipped.meta.clone(),
            );
            let stream = self.open(&shipped, offset, line);
            self.streams.insert(key.clone(), stream);
        }
        let fields = DocFields {
            ts: shipped.ts,
            level: shipped.level,
            logger: shipped.logger.clone(),
            thread: shipped.thread.clone(),
            whole: shipped.whole,
            fields: shipped.fields.clone(),
        };
        let stream = self.streams.get_mut(&key).expect("opened above");
        stream.last = now;
        let mut events = Vec::new();
        if fields.whole {
            while let Some(event) = stream.folder.finish() {
                events.push(event);
            }
        }
        for (i, text) in shipped.text.split('\n').enumerate() {
            let line = PendingLine {
                offset: stream.offset,
                text: text.to_owned(),
                id: if i == 0 { id.clone() } else { None },
                doc: (i == 0).then(|| fields.clone()),
            };
            events.extend(stream.feed(line));
        }
        self.add_events(&key, events)
    }

    /// Closes the open event of every stream quiet for the idle time.
    fn flush_idle(&mut self, now: Instant) -> Result<()> {
        let idle = self.settings.idle;
        let mut closed = Vec::new();
        for (key, stream) in &mut self.streams {
            if now.saturating_duration_since(stream.last) >= idle && stream.folder.has_open_event()
            {
                while let Some(event) = stream.folder.finish() {
                    closed.push((key.clone(), event));
                }
            }
        }
        for (key, event) in closed {
            self.add_events(&key, vec![event])?;
        }
        Ok(())
    }

    /// Adds the events a stream closed, each with the ids and fields of its documents.
    fn add_events(&mut self, key: &str, events: Vec<Event>) -> Result<()> {
        self.touched.insert(key.to_owned());
        for mut event in events {
            let stream = self.streams.get_mut(key).expect("a stream's events");
            let ended = stream
                .pending
                .iter()
                .take_while(|l| l.offset < event.end_offset)
                .count();
            let lines: Vec<PendingLine> = stream.pending.drain(..ended).collect();
            let ids: Vec<String> = lines.iter().filter_map(|l| l.id.clone()).collect();
            if let Some(fields) = lines.first().and_then(|l| l.doc.as_ref()) {
                fill_from_doc(&mut event, fields);
            }
            self.pipeline.analyzer.analyse(&mut event);
            self.sink
                .ingest_mut()
                .writer_mut()
                .add_shipped(key, event, &ids)?;
        }
        Ok(())
    }

    /// Commits the events added and every stream's open lines.
    pub fn commit(&mut self) -> Result<()> {
        self.give_pending();
        self.sink.commit()?;
        self.reader.reload()?;
        self.recent_ids = self
            .streams
            .values()
            .flat_map(|s| s.pending.iter().filter_map(|l| l.id.clone()))
            .collect();
        self.last_commit = Instant::now();
        if let Some(count) = &self.open_count {
            let open = self
                .streams
                .values()
                .filter(|s| !s.pending.is_empty())
                .count();
            count.store(open, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }

    /// A stream's folder at `offset`, line `line`, with the file-name metadata of the
    /// shipped path and the document's own for what the name does not give.
    fn open(&self, shipped: &Shipped, offset: u64, line: u64) -> Stream {
        let path = shipped
            .path
            .clone()
            .unwrap_or_else(|| shipped.stream.clone());
        let mut info = self.pipeline.file_info(std::path::Path::new(&path));
        let doc = &shipped.meta;
        let meta = &mut info.meta;
        for (field, from_doc) in [
            (&mut meta.app, &doc.app),
            (&mut meta.env, &doc.env),
            (&mut meta.tag, &doc.tag),
            (&mut meta.host, &doc.host),
        ] {
            if field.is_none() {
                field.clone_from(from_doc);
            }
        }
        let info: Arc<FileInfo> = Arc::new(info);
        Stream {
            folder: self.pipeline.line_folder(&info),
            offset,
            line,
            pending: Vec::new(),
            last: Instant::now(),
        }
    }

    /// Folds a saved stream's open lines again, so it goes on where the last commit left it.
    fn restore(&mut self, key: &str, saved: StreamCheckpoint) -> Result<()> {
        if saved.pending.is_empty() {
            return Ok(());
        }
        let shipped = Shipped {
            stream: key.strip_prefix(STREAM_PREFIX).unwrap_or(key).to_owned(),
            path: saved.path.clone(),
            meta: saved.meta.clone(),
            ..Shipped::default()
        };
        let mut stream = self.open(&shipped, saved.offset, saved.line);
        let mut events = Vec::new();
        for line in saved.pending {
            if let Some(id) = &line.id {
                self.recent_ids.insert(id.clone());
            }
            events.extend(stream.feed(line));
        }
        self.streams.insert(key.to_owned(), stream);
        // The open lines were one open event when saved, so this is none (unless the caps
        // changed since).
        self.add_events(key, events)
    }

    /// Whether anything is waiting for a commit.
    pub fn is_dirty(&self) -> bool {
        self.sink.ingest().writer().is_dirty()
    }
}

impl Stream {
    /// Feeds one line; returns the event it closed, if any.
    fn feed(&mut self, line: PendingLine) -> Option<Event> {
        let len = line.text.len() as u64;
        self.line += 1;
        let raw = RawLine {
            offset: self.offset,
            end: self.offset + len + 1,
            number: self.line,
            bytes: line.text.as_bytes(),
        };
        let event = self.folder.push(raw);
        self.offset += len + 1;
        self.pending.push(line);
        event
    }
}

/// Stream keys live among the checkpoints' keys with this prefix, apart from file paths.
const STREAM_PREFIX: &str = "stream:";

fn stream_key(stream: &str) -> String {
    format!("{STREAM_PREFIX}{stream}")
}

/// Fills what an event's own header did not say from its first document.
fn fill_from_doc(event: &mut Event, doc: &DocFields) {
    if event.format == "none" {
        event.ts = doc.ts.or(event.ts);
    }
    if event.level.is_none() {
        event.level = doc.level;
    }
    if event.logger.is_none() {
        event.logger.clone_from(&doc.logger);
    }
    if event.thread.is_none() {
        event.thread.clone_from(&doc.thread);
    }
    if event.fields.is_empty() {
        event.fields.clone_from(&doc.fields);
    }
}
