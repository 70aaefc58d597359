//! The command line: subcommands and flags (clap derive). Help text only; `app` acts on it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Find, fold and group the exceptions in your services' logs.
#[derive(Debug, Parser)]
#[command(name = "stackfold", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fold log files into events and print them as NDJSON (one JSON object per line), or
    /// print the exception groups with --groups.
    Fold(FoldArgs),
    /// Fold log files and list the patterns of their events without a trace (the message
    /// with its variable parts as placeholders) with exact counts, most frequent first.
    Patterns(PatternsArgs),
    /// Fold log files and add their events to the index under --data; files already indexed
    /// are skipped, files that grew are read on from where the last run stopped.
    Index(IndexArgs),
    /// Follow files, directories and globs into the index under --data as they are written:
    /// new files, appended lines, rotation (rename, copytruncate, compression), deletion.
    /// Files already there are indexed first. Read positions are committed with the events,
    /// so a restart, even after a kill, goes on exactly where the last commit stopped.
    Tail(TailArgs),
    /// Tail and serve in one process, configured by one TOML file (inputs, pattern, in-app
    /// prefixes, commit interval, listen address, auth, TLS, retention); with a `[ship]`
    /// section instead of `[index]`, ship as `stackfold ship` does.
    Run(RunArgs),
    /// Follow files as `tail` does, fold them here and ship their events to a central
    /// stackfold (or Elasticsearch, OpenSearch) through `_bulk`, exactly once: a file's
    /// position moves on only when the central acknowledged its events, and is saved in
    /// --state. While the central is down the files are the spool.
    Ship(ShipArgs),
    /// Search the indexed events, newest first.
    Search(SearchArgs),
    /// List the exception groups with exact counts, most frequent first.
    Exceptions(ExceptionsArgs),
    /// Show one exception group in full: trace, explanation, histogram, breakdowns, samples.
    Show(ShowArgs),
    /// Mark an exception group (or a pattern) resolved: it leaves the default list until it
    /// happens again (in a later release, with --in-release).
    Resolve(ResolveArgs),
    /// Mark an exception group (or a pattern) ignored, for good or --until-count N more events
    /// or --until a time.
    Ignore(IgnoreArgs),
    /// Mark an exception group (or a pattern) unresolved again.
    Reopen(TriageArgs),
    /// Delete indexed events older than a given age.
    Prune(PruneArgs),
    /// Recompute the exception and fingerprint of every indexed event from its stored text
    /// with this build's grouping and the config's rules, without reading the files again;
    /// events whose group changed are rewritten in one commit.
    Regroup(RegroupArgs),
    /// Verify the index under --data: every file's checksum and the checkpoints; exits 1
    /// naming each damaged file.
    Check(CheckArgs),
    /// Serve the HTTP API and the web UI over the index under --data.
    Serve(ServeArgs),
    /// Index the bundled sample logs into a temporary directory, serve them, and follow them
    /// (lines appended to the printed logs directory show up live).
    Demo(DemoArgs),
    /// Print an htpasswd line (argon2id) for --basic-auth-file; reads the password from stdin.
    Passwd(PasswdArgs),
}

/// How the server listens and who may use it.
#[derive(Debug, Args, Clone)]
pub struct ServerArgs {
    /// Address to listen on; loopback unless you mean otherwise.
    #[arg(long, default_value = "127.0.0.1:7280", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// htpasswd-style file (user:hash, bcrypt or argon2): every route but /healthz then needs
    /// HTTP Basic credentials.
    #[arg(long, value_name = "FILE")]
    pub basic_auth_file: Option<PathBuf>,
    /// htpasswd-style file of the users who may send logs (`POST /_bulk`), as HTTP Basic or
    /// Elasticsearch `ApiKey` (base64 of user:password). With any users file, readers cannot
    /// send and shippers cannot read.
    #[arg(long, value_name = "FILE")]
    pub ingest_auth_file: Option<PathBuf>,
    /// PEM certificate chain for HTTPS (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS (with --tls-cert).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve the UI from this directory instead of the copy built in (for UI development).
    #[arg(long, value_name = "DIR")]
    pub web_dir: Option<PathBuf>,
    /// Most connections open at once; one more is closed unanswered.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub max_connections: usize,
    /// Close a connection with no byte read or written for this long; a request's head must
    /// also arrive within it (at most 10 s).
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub idle_timeout_secs: u64,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Take syslog (RFC 5424 and 3164; octet-counted or newline-framed on TCP) on
    /// `tcp://ADDR:PORT` or `udp://ADDR:PORT`; repeat for several.
    #[arg(long, value_name = "URL")]
    pub syslog_listen: Vec<String>,
    /// How shipped logs are read and folded (`POST /_bulk`, OTLP, syslog).
    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct PasswdArgs {
    /// The user name.
    #[arg(value_name = "USER")]
    pub user: String,
}

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// The data directory; the index lives in DATA/index.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Files, directories (read recursively) and globs; `-` reads standard input.
    #[arg(value_name = "PATHS", required = true)]
    pub paths: Vec<String>,
    /// Memory for tantivy's indexing buffers, in MiB, shared by its threads.
    #[arg(long, default_value_t = 128, value_name = "MIB")]
    pub heap_mb: usize,
    /// Commit (making events searchable and progress durable) after this many MiB of log.
    #[arg(long, default_value_t = 1024, value_name = "MIB")]
    pub commit_mb: u64,
    /// Print the closing summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

#[derive(Debug, Args)]
pub struct TailArgs {
    /// The data directory; the index lives in DATA/index.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Files, directories (followed recursively, new files included) and globs.
    #[arg(value_name = "PATHS", required = true)]
    pub paths: Vec<String>,
    /// Memory for tantivy's indexing buffers, in MiB, shared by its threads.
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    pub heap_mb: usize,
    #[command(flatten)]
    pub tail: TailOptions,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

/// How often the tailer looks, flushes and commits (the config file's `[tail]` section).
#[derive(Debug, Args, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TailOptions {
    /// Check open files for new lines every MS milliseconds [default: 200].
    #[arg(long, value_name = "MS")]
    pub poll_ms: Option<u64>,
    /// Close the last event of a file quiet for MS milliseconds, rather than wait for its
    /// next line (a trace written in pieces further apart than this is cut) [default: 500].
    #[arg(long, value_name = "MS")]
    pub idle_ms: Option<u64>,
    /// Commit (events become searchable, positions durable) at least every MS milliseconds
    /// [default: 1000].
    #[arg(long, value_name = "MS")]
    pub commit_interval_ms: Option<u64>,
    /// ... and whenever N events wait [default: 100000].
    #[arg(long, value_name = "N")]
    pub commit_events: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ShipArgs {
    /// Files, directories (followed recursively, new files included) and globs.
    #[arg(value_name = "PATHS", required = true)]
    pub paths: Vec<String>,
    #[command(flatten)]
    pub ship: ShipOptions,
    #[command(flatten)]
    pub tail: TailOptions,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

/// Where and how an edge ships (the config file's `[ship]` section).
#[derive(Debug, Args, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipOptions {
    /// The central: a stackfold server (`http://central:7280`), or Elasticsearch or
    /// OpenSearch, with an index path if wanted (`https://es:9200/stackfold`). Batches go to
    /// URL/_bulk.
    #[arg(long, value_name = "URL", required = true)]
    pub to: Option<String>,
    /// Where the acknowledged positions are saved [default: $STATE_DIRECTORY, else
    /// $XDG_STATE_HOME/stackfold/ship, else ~/.local/state/stackfold/ship].
    #[arg(long, value_name = "DIR")]
    pub state: Option<std::path::PathBuf>,
    /// This edge's name, in every event's id and as the host of events whose file name
    /// gives none [default: the machine's hostname].
    #[arg(long, value_name = "NAME")]
    pub host_name: Option<String>,
    /// Trust the certificate authority in FILE (PEM) for an https:// central, instead of
    /// the bundled public ones.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<std::path::PathBuf>,
    /// Basic auth user; the password comes from --password-file or $STACKFOLD_PASSWORD.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<std::path::PathBuf>,
    /// An Elasticsearch API key (base64 of id:key) to send as `Authorization: ApiKey`;
    /// or $STACKFOLD_API_KEY.
    #[arg(long, value_name = "FILE")]
    pub api_key_file: Option<std::path::PathBuf>,
    /// Serve GET /metrics (Prometheus) and GET /lag (JSON) on this address.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Most events in one batch [default: 50000].
    #[arg(long, value_name = "N")]
    pub batch_events: Option<u64>,
    /// Most log bytes in one batch, in MiB [default: 8]. A batch also goes after
    /// --commit-interval-ms.
    #[arg(long, value_name = "MIB")]
    pub batch_mb: Option<u64>,
    /// Longest wait between two tries while the central is down or busy, in milliseconds
    /// [default: 30000]; the first wait is 250 ms, doubling.
    #[arg(long, value_name = "MS")]
    pub retry_max_ms: Option<u64>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The config file (TOML); see the README for every key.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

/// Filters shared by the query commands.
#[derive(Debug, Args, Default, Clone)]
pub struct FilterArgs {
    /// Start of the time range: RFC 3339, YYYY-MM-DD, or relative (-1h, -7d).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub from: Option<String>,
    /// End of the time range (exclusive), same forms.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub to: Option<String>,
    /// Only this app (repeat for several).
    #[arg(long, value_name = "APP")]
    pub app: Vec<String>,
    /// Only this env code (repeat for several).
    #[arg(long, value_name = "ENV")]
    pub env: Vec<String>,
    /// Only this host (repeat for several).
    #[arg(long, value_name = "HOST")]
    pub host: Vec<String>,
    /// Only this image tag (repeat for several).
    #[arg(long, value_name = "TAG")]
    pub tag: Vec<String>,
    /// Only this level (repeat for several; case-insensitive).
    #[arg(long, value_name = "LEVEL")]
    pub level: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// The query, in tantivy's query language: words, "phrases", field:value, AND/OR/NOT,
    /// ranges, wildcards. Words match camelCase and dotted parts: NullPointer finds
    /// java.lang.NullPointerException. `*` matches everything.
    #[arg(value_name = "QUERY")]
    pub query: String,
    #[command(flatten)]
    pub filters: FilterArgs,
    /// How many events at most; 0 for every match (as --all).
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub limit: usize,
    /// Print every match, streamed page by page in constant memory.
    #[arg(long)]
    pub all: bool,
    /// Print NDJSON events (the fold format plus `id`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExceptionsArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Only groups of events matching this query.
    #[arg(long, short, value_name = "QUERY", default_value = "")]
    pub query: String,
    #[command(flatten)]
    pub filters: FilterArgs,
    /// How many groups at most; 0 (or none) for every group.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Every group (the default without --limit).
    #[arg(long)]
    pub all: bool,
    /// Print a JSON array.
    #[arg(long)]
    pub json: bool,
    /// Only groups of this triage status: unresolved (what needs work), resolved, ignored
    /// or all.
    #[arg(long, default_value = "unresolved", value_name = "STATUS")]
    pub status: String,
}

/// `resolve`, `ignore` and `reopen`: which group, in which data directory.
#[derive(Debug, Args)]
pub struct TriageArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// The group's fingerprint (32 hex digits, as `exceptions` lists them), or a pattern's id
    /// (16 hex digits, as `patterns` lists them).
    #[arg(value_name = "FINGERPRINT")]
    pub fingerprint: String,
    /// Who makes the change, as the history records it [default: $USER].
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    #[command(flatten)]
    pub group: TriageArgs,
    /// Resolved in this release (image tag): only events of a later release reopen it.
    #[arg(long, value_name = "TAG")]
    pub in_release: Option<String>,
}

#[derive(Debug, Args)]
pub struct IgnoreArgs {
    #[command(flatten)]
    pub group: TriageArgs,
    /// Ignored until this many more events came in.
    #[arg(long, value_name = "N")]
    pub until_count: Option<u64>,
    /// Ignored until this time (RFC 3339, or relative: 7d, 12h).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// The group's fingerprint (32 hex digits, as `exceptions` lists them), or a pattern's id
    /// (16 hex digits, as `patterns` lists them).
    #[arg(value_name = "FINGERPRINT")]
    pub fingerprint: String,
    #[command(flatten)]
    pub filters: FilterArgs,
    /// How many recent events to show.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub samples: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Also print the bytes each field takes, by part (postings, positions, term dictionary,
    /// column, norms), and the stored events': where the disk goes.
    #[arg(long)]
    pub space: bool,
}

#[derive(Debug, Args)]
pub struct RegroupArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Only report what would change.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Delete events older than this: 30d, 12h, 2w.
    #[arg(long, value_name = "AGE")]
    pub older_than: String,
}

/// Flags shared by every command that reads logs.
#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// The config file (TOML): file-name pattern, time zone, caps, in-app prefixes.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Time zone of timestamps written without an offset (IANA name), overriding the config.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Worker threads; 0 means one per core.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
}

#[derive(Debug, Args)]
pub struct PatternsArgs {
    /// Files, directories (read recursively) and globs; `-` reads standard input.
    #[arg(
        value_name = "PATHS",
        required_unless_present = "data",
        conflicts_with = "data"
    )]
    pub paths: Vec<String>,
    /// List the patterns of the events indexed under DIR instead of reading files.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Print the patterns as a JSON array.
    #[arg(long)]
    pub json: bool,
    /// Only events at this level or a more severe one (ERROR also counts FATAL).
    #[arg(long, value_name = "LEVEL")]
    pub level: Option<String>,
    /// With --data: only patterns of this triage status: unresolved (what needs work, the
    /// default), resolved, ignored or all.
    #[arg(
        long,
        default_value = "unresolved",
        value_name = "STATUS",
        requires = "data"
    )]
    pub status: String,
    /// With --data: only patterns of events matching this query.
    #[arg(
        long,
        short,
        value_name = "QUERY",
        default_value = "",
        requires = "data"
    )]
    pub query: String,
    /// With --data: start of the time range: RFC 3339, YYYY-MM-DD, or relative (-1h, -7d).
    #[arg(
        long,
        value_name = "TIME",
        allow_hyphen_values = true,
        requires = "data"
    )]
    pub from: Option<String>,
    /// With --data: end of the time range (exclusive), same forms.
    #[arg(
        long,
        value_name = "TIME",
        allow_hyphen_values = true,
        requires = "data"
    )]
    pub to: Option<String>,
    /// With --data: only this app (repeat for several).
    #[arg(long, value_name = "APP", requires = "data")]
    pub app: Vec<String>,
    /// With --data: only this env code (repeat for several).
    #[arg(long, value_name = "ENV", requires = "data")]
    pub env: Vec<String>,
    /// With --data: only this host (repeat for several).
    #[arg(long, value_name = "HOST", requires = "data")]
    pub host: Vec<String>,
    /// With --data: only this image tag (repeat for several).
    #[arg(long, value_name = "TAG", requires = "data")]
    pub tag: Vec<String>,
    /// With --data: how many patterns at most (every pattern without it, or with 0).
    #[arg(long, value_name = "N", requires = "data")]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

#[derive(Debug, Args)]
pub struct FoldArgs {
    /// Files, directories (read recursively) and globs; `-` reads standard input. Plain,
    /// gzip and zstd are recognised by their content.
    #[arg(value_name = "PATHS", required = true)]
    pub paths: Vec<String>,
    /// Print the exception groups (count, root type, top in-app frame, first and last seen)
    /// instead of the events.
    #[arg(long)]
    pub groups: bool,
    /// With --groups: print the groups as a JSON array.
    #[arg(long, requires = "groups")]
    pub json: bool,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
}
