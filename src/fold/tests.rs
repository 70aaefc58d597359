//! Fold rules on real lines (each from a file under `shared/reallogs`, named beside it),
//! driven line by line through the parse stage's header parser.

use std::sync::Arc;

use jiff::tz::TimeZone;

use super::*;
use crate::event::{Event, FileInfo, Language, Level};
use crate::parse::HeaderParser;

fn file() -> Arc<FileInfo> {
    Arc::new(FileInfo {
        path: "test.log".into(),
        meta: Default::default(),
        date_ts: None,
    })
}

/// Parses, folds and analyses `text` as one file.
pub(crate) fn fold_with(text: &str, settings: FoldSettings) -> (Vec<Event>, FoldCounters) {
    let mut parser = HeaderParser::new(TimeZone::UTC, 2020, None);
    let mut folder = Folder::new(settings, file());
    let analyzer = Analyzer::default();
    let mut events = Vec::new();
    let mut offset = 0;
    for (i, raw) in text.split('\n').enumerate() {
        let header = parser.parse(raw);
        let line = Line {
            number: i as u64 + 1,
            offset,
            end: offset + raw.len() as u64 + 1,
            raw,
            pieces: 1,
            header,
        };
        offset += raw.len() as u64 + 1;
        events.extend(folder.push(line));
    }
    events.extend(folder.finish());
    for e in &mut events {
        analyzer.analyse(e);
    }
    (events, *folder.counters())
}

fn fold(text: &str) -> Vec<Event> {
    fold_with(text, FoldSettings::default()).0
}

#[track_caller]
fn shape(text: &str, expected_lines: &[u32]) -> Vec<Event> {
    let events = fold(text);
    let got: Vec<u32> = events.iter().map(|e| e.lines).collect();
    assert_eq!(got, expected_lines, "event sizes for:\n{text}");
    let joined: Vec<&str> = events.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(joined.join("\n"), text, "folding must lose no line");
    events
}

fn chain_types(e: &Event) -> Vec<&str> {
    e.exception
        .as_ref()
        .expect("an exception")
        .chain
        .iter()
        .map(|c| c.ty.as_str())
        .collect()
}

// elastic-beats/elasticsearch-2.0-multiline-log.log
const ES_MULTILINE: &str = "[2015-12-06 01:44:53,256][INFO ][cluster.metadata         ] [Zach] [filebeat-2015.12.06] update_mapping [process]
[2015-12-06 01:44:53,269][DEBUG][action.admin.indices.mapping.put] [Zach] failed to put mappings on indices [[filebeat-2015.12.06]], type [process]
MergeMappingException[Merge failed with failures {[mapper [proc.mem.rss_p] of different type, current_type [long], merged_type [double]]}]
\tat org.elasticsearch.cluster.metadata.MetaDataMappingService$2.execute(MetaDataMappingService.java:388)
\tat org.elasticsearch.cluster.service.InternalClusterService$UpdateTask.run(InternalClusterService.java:388)
\tat java.lang.Thread.run(Thread.java:745)
[2015-12-06 01:44:53,274][INFO ][cluster.metadata         ] [Zach] next";

#[test]
fn java_trace_under_a_header_folds_into_it() {
    let events = shape(ES_MULTILINE, &[1, 5, 1]);
    let e = &events[1];
    assert_eq!(e.level, Some(Level::Debug));
    assert_eq!(
        e.logger.as_deref(),
        Some("action.admin.indices.mapping.put")
    );
    let exc = e.exception.as_ref().unwrap();
    assert_eq!(exc.language, Language::Java);
    assert_eq!(exc.root_type, "MergeMappingException");
    assert_eq!(exc.chain[0].frames.len(), 3);
    assert_eq!(exc.chain[0].frames[0].function, "execute");
    assert_eq!(exc.chain[0].frames[0].line, Some(388));
    assert!(!exc.chain[0].frames[2].in_app, "java.lang is a framework");
}

// spring-boot/spring.log (frames cut down, lines otherwise verbatim)
const SPRING: &str = "2025-02-15 23:44:35,760 [WARN] org.springframework.boot.web.servlet.context.AnnotationConfigServletWebServerApplicationContext {restartedMain} Exception encountered during context initialization - cancelling refresh attempt: org.springframework.beans.factory.BeanCreationException: Error creating bean with name 'entityManagerFactory'
2025-02-15 23:44:35,798 [ERROR] org.springframework.boot.SpringApplication {restartedMain} Application run failed
org.springframework.beans.factory.BeanCreationException: Error creating bean with name 'entityManagerFactory' defined in class path resource [org/springframework/boot/autoconfigure/orm/jpa/HibernateJpaConfiguration.class]: Collection 'com.project.event_management_system.model.Organizer.complaintsAgainst' is 'mappedBy' a property named 'organizer' which does not exist in the target entity 'com.project.event_management_system.model.Complaint'
\tat org.springframework.beans.factory.support.AbstractAutowireCapableBeanFactory.initializeBean(AbstractAutowireCapableBeanFactory.java:1812)
\tat org.springframework.boot.SpringApplication.run(SpringApplication.java:1350)
\tat com.project.event_management_system.EventManagementSystemApplication.main(EventManagementSystemApplication.java:10)
\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)
\tat org.springframework.boot.devtools.restart.RestartLauncher.run(RestartLauncher.java:50)
Caused by: org.hibernate.AnnotationException: Collection 'com.project.event_management_system.model.Organizer.complaintsAgainst' is 'mappedBy' a property named 'organizer' which does not exist in the target entity 'com.project.event_management_system.model.Complaint'
\tat org.hibernate.boot.model.internal.CollectionBinder.handleGenericCollectionProperty(CollectionBinder.java:1581)
\tat org.springframework.beans.factory.support.AbstractAutowireCapableBeanFactory.initializeBean(AbstractAutowireCapableBeanFactory.java:1808)
\t... 18 common frames omitted
2025-02-15 23:51:05,231 [INFO] com.project.event_management_system.EventManagementSystemApplication {restartedMain} Starting";

#[test]
fn caused_by_chain_and_common_frames_omitted() {
    let events = shape(SPRING, &[1, 11, 1]);
    let e = &events[1];
    assert_eq!(e.thread.as_deref(), Some("restartedMain"));
    assert_eq!(
        chain_types(e),
        [
            "org.springframework.beans.factory.BeanCreationException",
            "org.hibernate.AnnotationException"
        ]
    );
    let exc = e.exception.as_ref().unwrap();
    assert_eq!(exc.root_type, "org.hibernate.AnnotationException");
    let top = exc.top_in_app_frame().unwrap();
    assert_eq!(
        top.module,
        "com.project.event_management_system.EventManagementSystemApplication"
    );
    assert!(
        exc.explain
            .contains(&"outer:org.springframework.beans.factory.BeanCreationException".to_string())
    );
    assert!(
        exc.explain
            .contains(&"type:org.hibernate.AnnotationException".to_string())
    );
    assert!(exc.template.contains("'mappedBy'"), "{}", exc.template);
    assert!(
        events[0].exception.is_none(),
        "a message naming an exception is no trace"
    );
}

#[test]
fn suppressed_exceptions_stay_out_of_the_chain() {
    // The layout Throwable.printStackTrace writes for suppressed exceptions.
    let text = "2024-03-01 10:00:00,123 ERROR [main] com.acme.Files - close failed
java.io.IOException: write failed
\tat com.acme.Files.write(Files.java:42)
\tat com.acme.Main.main(Main.java:7)
\tSuppressed: java.io.IOException: close failed
\t\tat com.acme.Files.close(Files.java:60)
\t\t... 1 more
\tCaused by: java.net.SocketException: reset
\t\t... 2 more
Caused by: java.nio.channels.ClosedChannelException
\tat sun.nio.ch.FileChannelImpl.ensureOpen(FileChannelImpl.java:150)
\t... 2 more";
    let events = shape(text, &[12]);
    assert_eq!(
        chain_types(&events[0]),
        [
            "java.io.IOException",
            "java.nio.channels.ClosedChannelException"
        ]
    );
    let outer = &events[0].exception.as_ref().unwrap().chain[0];
    assert_eq!(
        outer.frames.len(),
        2,
        "suppressed frames are not the outer exception's"
    );
}

#[test]
fn logback_jar_suffixes_and_generated_frames() {
    // Layout of logback's %ex with packaging data (real frames from elastic-beats/activemq.log
    // and the JDK's reflection accessors).
    let text = "2019-11-27 15:09:35,041 | ERROR | Failed to start Apache ActiveMQ | org.apache.activemq.broker.BrokerService | main
java.lang.IllegalStateException: boom
\tat com.acme.Broker$$EnhancerBySpringCGLIB$$5f3b2a.start(<generated>) ~[app.jar:1.0]
\tat jdk.internal.reflect.GeneratedMethodAccessor45.invoke(Unknown Source) ~[na:na]
\tat org.apache.activemq.broker.BrokerService.start(BrokerService.java:607) [activemq-broker-5.15.9.jar:5.15.9]
\tat java.lang.Thread.run(Native Method)";
    let events = shape(text, &[6]);
    let e = &events[0];
    assert_eq!(
        e.logger.as_deref(),
        Some("org.apache.activemq.broker.BrokerService")
    );
    assert_eq!(e.thread.as_deref(), Some("main"));
    let exc = e.exception.as_ref().unwrap();
    let frames = &exc.chain[0].frames;
    assert_eq!(frames.len(), 4);
    assert_eq!(frames[0].file.as_deref(), Some("<generated>"));
    assert_eq!(frames[3].file, None);
    assert!(
        exc.explain
            .contains(&"frame:com.acme.Broker<auto>.start".to_string()),
        "{:?}",
        exc.explain
    );
}

// kafka-2.8.0-logs/state-change.log.2021-04-26-20 style: a bare exception line after the header
const KAFKA: &str = "[2021-04-27 10:31:36,209] ERROR [Controller id=0 epoch=3] Controller 0 epoch 3 failed to change state for partition erstesTopic-0 from OfflinePartition to OnlinePartition (state.change.logger)
kafka.common.StateChangeFailedException: Failed to elect leader for partition erstesTopic-0 under strategy OfflinePartitionLeaderElectionStrategy(false)
\tat kafka.controller.ZkPartitionStateMachine.$anonfun$doElectLeaderForPartitions$7(PartitionStateMachine.scala:424)
\tat scala.collection.immutable.List.foreach(List.scala:333)
\tat kafka.controller.ZkPartitionStateMachine.doElectLeaderForPartitions(PartitionStateMachine.scala:421)";

#[test]
fn bare_exception_line_after_a_header() {
    let events = shape(KAFKA, &[5]);
    let e = &events[0];
    assert_eq!(e.logger.as_deref(), Some("state.change.logger"));
    assert_eq!(
        e.exception.as_ref().unwrap().root_type,
        "kafka.common.StateChangeFailedException"
    );
    assert_eq!(
        e.exception.as_ref().unwrap().template,
        "Failed to elect leader for partition erstesTopic-<num> under strategy OfflinePartitionLeaderElectionStrategy(false)"
    );
}

#[test]
fn uncaught_java_exception_starts_its_own_event() {
    // otroslogviewer/stacktrace2.txt begins with a log4j warning line, then a bare trace.
    let text = "2019-01-01 10:00:00,000 INFO [main] com.acme.App - starting
Exception in thread \"main\" java.lang.NullPointerException: name
\tat com.acme.App.main(App.java:12)";
    let events = shape(text, &[1, 2]);
    assert_eq!(events[1].format, "none");
    assert_eq!(
        events[1].ts, events[0].ts,
        "takes the timestamp of the event before it"
    );
    assert_eq!(
        events[1].exception.as_ref().unwrap().root_type,
        "java.lang.NullPointerException"
    );
}

// django/django_debug.log (source paths shortened)
const DJANGO: &str = "(0.000) SELECT \"auth_user\".\"id\" FROM \"auth_user\" WHERE \"auth_user\".\"id\" = 1 LIMIT 21; args=(1,); alias=default
Exception while resolving variable 'name' in template 'unknown'.
Traceback (most recent call last):
  File \"/home/roman/.venv/lib/python3.10/site-packages/django/urls/resolvers.py\", line 702, in resolve
    raise Resolver404({\"tried\": tried, \"path\": new_path})
django.urls.exceptions.Resolver404: {'tried': [], 'path': 'favicon.ico'}

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File \"/home/roman/.venv/lib/python3.10/site-packages/django/template/base.py\", line 880, in _resolve_lookup
    current = current[bit]
TypeError: 'URLResolver' object is not subscriptable
(0.001) SELECT 1";

#[test]
fn python_chained_tracebacks_without_headers() {
    let events = shape(DJANGO, &[1, 12, 1]);
    let e = &events[1];
    assert_eq!(
        chain_types(e),
        ["TypeError", "django.urls.exceptions.Resolver404"]
    );
    let exc = e.exception.as_ref().unwrap();
    assert_eq!(exc.language, Language::Python);
    assert_eq!(exc.root_type, "django.urls.exceptions.Resolver404");
    let frame = &exc.chain[1].frames[0];
    assert_eq!(frame.module, "django.urls.resolvers");
    assert_eq!(frame.function, "resolve");
    assert!(!frame.in_app);
}

// openstack-os-log-merger/nova-conductor.log (frames cut down)
const OPENSTACK: &str = "2015-10-20 09:10:57.153 28139 ERROR oslo.messaging._drivers.impl_rabbit [-] Failed to consume message from queue: (0, 0): (320) CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'
2015-10-20 09:10:57.153 28139 TRACE oslo.messaging._drivers.impl_rabbit Traceback (most recent call last):
2015-10-20 09:10:57.153 28139 TRACE oslo.messaging._drivers.impl_rabbit   File \"/usr/lib/python2.7/site-packages/oslo/messaging/_drivers/impl_rabbit.py\", line 674, in ensure
2015-10-20 09:10:57.153 28139 TRACE oslo.messaging._drivers.impl_rabbit     return method()
2015-10-20 09:10:57.153 28139 TRACE oslo.messaging._drivers.impl_rabbit   File \"/usr/lib/python2.7/site-packages/amqp/connection.py\", line 529, in _close
2015-10-20 09:10:57.153 28139 TRACE oslo.messaging._drivers.impl_rabbit     (class_id, method_id), ConnectionError)
2015-10-20 09:10:57.153 28139 TRACE oslo.messaging._drivers.impl_rabbit ConnectionForced: (0, 0): (320) CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'
2015-10-20 09:10:57.153 28139 TRACE oslo.messaging._drivers.impl_rabbit 
2015-10-20 09:10:57.163 28139 INFO oslo.messaging._drivers.impl_rabbit [-] Delaying reconnect for 1.0 seconds...";

#[test]
fn trace_lines_under_a_full_header_fold_into_one_event() {
    let (events, counters) = fold_with(OPENSTACK, FoldSettings::default());
    assert_eq!(events.iter().map(|e| e.lines).collect::<Vec<_>>(), [8, 1]);
    assert_eq!(counters.prefixed_continuations, 7);
    let e = &events[0];
    assert_eq!(e.level, Some(Level::Error));
    let exc = e.exception.as_ref().unwrap();
    assert_eq!(exc.root_type, "ConnectionForced");
    assert_eq!(exc.chain[0].frames.len(), 2);
    assert_eq!(exc.chain[0].frames[0].module, "amqp.connection");
}

// android-logcat/logcat.txt
const LOGCAT: &str = "09-26 18:18:30.823  2817  2835 E AndroidRuntime: Error reporting WTF
09-26 18:18:30.823  2817  2835 E AndroidRuntime: java.lang.NullPointerException: Attempt to invoke interface method 'boolean android.app.IActivityManager.handleApplicationWtf(android.os.IBinder, java.lang.String, boolean, android.app.ApplicationErrorReport$ParcelableCrashInfo)' on a null object reference
09-26 18:18:30.823  2817  2835 E AndroidRuntime: \tat com.android.internal.os.RuntimeInit.wtf(RuntimeInit.java:334)
09-26 18:18:30.823  2817  2835 E AndroidRuntime: \tat android.util.Log$1.onTerribleFailure(Log.java:110)
09-26 18:18:30.824  2817  2835 W KernelWakelockReader: neither /proc/wakelocks nor /d/wakeup_sources exists";

#[test]
fn logcat_traces_fold_by_pid_tid_and_tag() {
    let events = shape(LOGCAT, &[4, 1]);
    let exc = events[0].exception.as_ref().unwrap();
    assert_eq!(exc.root_type, "java.lang.NullPointerException");
    assert_eq!(exc.chain[0].frames.len(), 2);
}

#[test]
fn exception_class_without_a_throwable_suffix() {
    // android-logcat/logcat.txt (message shortened)
    let text = "09-26 18:17:27.143  4022  4022 E ActivityThread: android.app.ServiceConnectionLeaked: Service com.android.email.service.EmailBroadcastProcessorService has leaked ServiceConnection
09-26 18:17:27.143  4022  4022 E ActivityThread: \tat android.app.LoadedApk$ServiceDispatcher.<init>(LoadedApk.java:1532)
09-26 18:17:27.143  4022  4022 E ActivityThread: \tat android.app.LoadedApk.getServiceDispatcher(LoadedApk.java:1424)";
    let events = shape(text, &[3]);
    let exc = events[0].exception.as_ref().unwrap();
    assert_eq!(exc.root_type, "android.app.ServiceConnectionLeaked");
    assert_eq!(exc.chain[0].frames[0].function, "<init>");
}

// syncthing/panic.log (goroutines cut down)
const GO_PANIC: &str = "09:12:41 INFO: syncthing v1.1.3+39-g62a6d619e-dirty \"Erbium Earthworm\" (go1.12.1 darwin-amd64) jb@kvar.kastelo.net 2019-05-08 15:38:08 UTC
Panic at 2019-05-16T09:12:45+02:00
panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x457922a]

goroutine 171 [running]:
github.com/syncthing/syncthing/lib/connections.(*service).setConnectionStatus(0xc0001a80e0, 0xc001b01020, 0x1a, 0x4b2b0a0, 0xc000021270)
\t/Users/jb/dev/github.com/syncthing/syncthing/lib/connections/service.go:689 +0x3a
created by github.com/syncthing/syncthing/lib/connections.(*service).dialParallel
\t/Users/jb/dev/github.com/syncthing/syncthing/lib/connections/service.go:836 +0x446

goroutine 1 [chan receive]:
main.main()
\t/Users/jb/dev/github.com/syncthing/syncthing/cmd/syncthing/main.go:430 +0x406";

#[test]
fn go_panic_starts_an_event_and_keeps_its_goroutines() {
    let events = shape(GO_PANIC, &[2, 12]);
    let e = &events[1];
    assert_eq!(e.format, "none");
    let exc = e.exception.as_ref().unwrap();
    assert_eq!(exc.language, Language::Go);
    assert_eq!(exc.root_type, "runtime error");
    assert_eq!(
        exc.chain[0].message,
        "invalid memory address or nil pointer dereference"
    );
    let frames = &exc.chain[0].frames;
    assert_eq!(frames.len(), 1, "only the panicking goroutine");
    assert_eq!(
        frames[0].module,
        "github.com/syncthing/syncthing/lib/connections"
    );
    assert_eq!(frames[0].function, "(*service).setConnectionStatus");
    assert_eq!(frames[0].line, Some(689));
    assert!(frames[0].in_app);
}

#[test]
fn go_recovered_panic() {
    // golang-go/test2json-panic.test
    let text = "--- FAIL: TestPanic (0.00s)
panic: oops [recovered]
\tpanic: oops

goroutine 7 [running]:
testing.tRunner.func1(0xc000092100)
\t/go/src/testing/testing.go:874 +0x3a3
panic(0x1110ea0, 0x116aea0)
\t/go/src/runtime/panic.go:679 +0x1b2
command-line-arguments.TestPanic(0xc000092100)
\t/Users/rsc/go/src/cmd/internal/test2json/testdata/panic_test.go:9 +0x39";
    let events = shape(text, &[1, 10]);
    let exc = events[1].exception.as_ref().unwrap();
    assert_eq!(
        (exc.root_type.as_str(), exc.chain[0].message.as_str()),
        ("panic", "oops")
    );
    let in_app: Vec<&str> = exc.chain[0]
        .frames
        .iter()
        .filter(|f| f.in_app)
        .map(|f| f.function.as_str())
        .collect();
    assert_eq!(in_app, ["TestPanic"]);
}

#[test]
fn java_util_logging_takes_level_from_its_second_line() {
    // tomcat-liferay/catalina.out
    let text = "Jan 12, 2012 3:53:59 PM org.apache.catalina.core.AprLifecycleListener init
INFO: Loaded APR based Apache Tomcat Native library 1.1.19.
Jan 12, 2012 3:54:00 PM org.apache.coyote.AbstractProtocol init
SEVERE: Failed to initialize end point associated with ProtocolHandler [\"http-bio-8080\"]
java.net.BindException: Address already in use <null>:8080
\tat org.apache.tomcat.util.net.JIoEndpoint.bind(JIoEndpoint.java:393)";
    let events = shape(text, &[2, 4]);
    assert_eq!(events[0].level, Some(Level::Info));
    assert_eq!(
        events[0].message,
        "Loaded APR based Apache Tomcat Native library 1.1.19."
    );
    assert_eq!(events[1].level, Some(Level::Fatal));
    assert_eq!(events[1].ts.unwrap().to_string(), "2012-01-12T15:54:00Z");
    assert_eq!(
        events[1].exception.as_ref().unwrap().root_type,
        "java.net.BindException"
    );
}

#[test]
fn traces_escaped_on_one_line() {
    let rsyslog = "<11>Mar  1 10:00:00 web-1 billing[42]: ERROR charge failed#012java.lang.IllegalStateException: boom#012#011at com.acme.billing.OrderService.charge(OrderService.java:42)#012#011at java.lang.Thread.run(Thread.java:829)";
    let json_escaped = "2024-03-01 10:00:00,000 ERROR [main] com.acme.billing.OrderService - charge failed\\njava.lang.IllegalStateException: boom\\n\\tat com.acme.billing.OrderService.charge(OrderService.java:42)\\n\\tat java.lang.Thread.run(Thread.java:829)";
    let a = fold(rsyslog);
    let b = fold(json_escaped);
    let (a, b) = (
        a[0].exception.as_ref().unwrap(),
        b[0].exception.as_ref().unwrap(),
    );
    assert_eq!(a.root_type, "java.lang.IllegalStateException");
    assert_eq!(a.chain[0].frames.len(), 2);
    assert_eq!(a.fingerprint, b.fingerprint);
}

#[test]
fn json_lines_with_stack_trace_field() {
    let text = r#"{"@timestamp":"2024-03-01T10:00:00.123Z","message":"charge failed","logger_name":"com.acme.billing.OrderService","thread_name":"http-nio-8080-exec-1","level":"ERROR","stack_trace":"java.lang.IllegalStateException: boom\n\tat com.acme.billing.OrderService.charge(OrderService.java:42)\n\tat java.lang.Thread.run(Thread.java:829)\n"}"#;
    let events = shape(text, &[1]);
    let e = &events[0];
    assert_eq!(e.format, "json");
    assert_eq!(e.message, "charge failed");
    assert_eq!(
        e.exception.as_ref().unwrap().chain[0].frames[0].module,
        "com.acme.billing.OrderService"
    );
}

#[test]
fn info_and_warn_events_carry_traces_too() {
    let text =
        "2018-03-05 19:50:16,001 INFO org.apache.hadoop.ipc.Client: Retrying connect to server
java.net.ConnectException: Connection refused
\tat sun.nio.ch.SocketChannelImpl.checkConnect(Native Method)";
    let events = shape(text, &[3]);
    assert_eq!(events[0].level, Some(Level::Info));
    assert!(events[0].exception.is_some());
}

#[test]
fn unknown_lines_are_kept_and_counted() {
    let text = "* daemon not running. starting it now on port 5037 *
* daemon started successfully *
--------- beginning of system
09-26 18:18:27.847  2519  2519 I vold    : Vold 3.0 (the awakening) firing up";
    let (events, counters) = fold_with(text, FoldSettings::default());
    assert_eq!(
        events.iter().map(|e| e.lines).collect::<Vec<_>>(),
        [1, 1, 1, 1]
    );
    assert_eq!(counters.headerless_events, 3);
    assert_eq!(counters.lines, 4);
}

#[test]
fn caps_cut_events_and_keep_every_line() {
    let mut text = String::from(
        "2024-03-01 10:00:00,000 ERROR [main] com.acme.App - failed\njava.lang.IllegalStateException: boom",
    );
    for i in 0..10 {
        text.push_str(&format!("\n\tat com.acme.App.f{i}(App.java:{i})"));
    }
    let settings = FoldSettings {
        max_event_lines: 5,
        max_event_bytes: 1 << 20,
    };
    let (events, counters) = fold_with(&text, settings);
    assert_eq!(
        events.iter().map(|e| e.lines).collect::<Vec<_>>(),
        [5, 5, 2]
    );
    assert!(events[0].truncated && events[1].truncated && !events[2].truncated);
    assert!(events[1].continued && events[2].continued);
    assert_eq!(
        events[1].level,
        Some(Level::Error),
        "a continuation keeps its event's header"
    );
    assert_eq!(counters.truncated_events, 2);
    let joined: Vec<&str> = events.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(joined.join("\n"), text);
    let settings = FoldSettings {
        max_event_lines: 1000,
        max_event_bytes: 100,
    };
    let (events, _) = fold_with(&text, settings);
    assert!(events.iter().all(|e| e.text.len() <= 100));
    assert!(events[0].truncated);
}

#[test]
fn last_event_comes_out_at_end_of_input() {
    let mut folder = Folder::new(FoldSettings::default(), file());
    let mut parser = HeaderParser::new(TimeZone::UTC, 2020, None);
    let raw = "2024-03-01 10:00:00,000 ERROR [main] com.acme.App - failed";
    let line = Line {
        number: 1,
        offset: 0,
        end: raw.len() as u64 + 1,
        raw,
        pieces: 1,
        header: parser.parse(raw),
    };
    assert!(folder.push(line).is_none());
    let last = folder.finish().expect("flushed at the end");
    assert_eq!(last.message, "failed");
    assert!(folder.finish().is_none());
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Real lines of every kind: headers of several layouts, trace lines, blanks, junk.
    const VOCABULARY: &[&str] = &[
        "[2015-12-06 01:44:53,269][DEBUG][action.admin.indices.mapping.put] [Zach] failed",
        "2015-10-20 09:10:57.153 28139 TRACE oslo.messaging._drivers.impl_rabbit Traceback (most recent call last):",
        "2015-10-20 09:10:57.153 28139 TRACE oslo.messaging._drivers.impl_rabbit   File \"/usr/lib/x.py\", line 674, in ensure",
        "2018-03-05 19:50:11,731 INFO org.apache.hadoop.hdfs.server.datanode.DataNode: STARTUP_MSG: ",
        "09-26 18:18:30.823  2817  2835 E AndroidRuntime: \tat android.util.Log.wtf(Log.java:304)",
        "java.lang.IllegalStateException: boom",
        "\tat com.acme.App.main(App.java:12)",
        "Caused by: java.io.IOException: x",
        "\t... 12 more",
        "Traceback (most recent call last):",
        "  File \"/usr/lib/python3/x.py\", line 3, in f",
        "    return f()",
        "ValueError: bad",
        "panic: oops",
        "goroutine 1 [running]:",
        "main.main()",
        "\t/go/src/main.go:12 +0x1d",
        "Exception in thread \"main\" java.lang.Error",
        "",
        "   ",
        "* daemon started successfully *",
        "{\"level\":\"error\",\"message\":\"x\",\"stack_trace\":\"java.lang.Error\\n\\tat a.B.c(B.java:1)\"}",
    ];

    proptest! {
        #[test]
        fn folding_loses_no_line(picks in prop::collection::vec(0..VOCABULARY.len(), 1..60), cap in 2u32..20) {
            let text: Vec<&str> = picks.iter().map(|&i| VOCABULARY[i]).collect();
            let text = text.join("\n");
            let settings = FoldSettings { max_event_lines: cap, max_event_bytes: 1 << 20 };
            let (events, counters) = fold_with(&text, settings);
            let joined: Vec<&str> = events.iter().map(|e| e.text.as_str()).collect();
            prop_assert_eq!(joined.join("\n"), text);
            prop_assert_eq!(counters.events as usize, events.len());
            prop_assert_eq!(events.iter().map(|e| u64::from(e.lines)).sum::<u64>(), counters.lines);
            prop_assert!(events.iter().all(|e| e.lines <= cap));
            let mut next_line = 1;
            let mut next_offset = 0;
            for e in &events {
                prop_assert_eq!(e.line, next_line);
                prop_assert_eq!(e.offset, next_offset);
                next_line += u64::from(e.lines);
                next_offset = e.end_offset;
            }
        }
    }
}

/// The NDJSON record reads back into the same record, exception and all, with the contract's
/// fields in the contract's order: what the index's read side relies on.
#[test]
fn an_event_record_reads_back_as_written() {
    let text = "2024-03-01 10:00:00,123 ERROR [main] c.a.Billing - charge failed\n\
                java.lang.IllegalStateException: boom\n\
                \tat com.acme.billing.Billing.charge(Billing.java:42)\n\
                \tat java.base/java.lang.Thread.run(Thread.java:833)";
    let (events, _) = fold_with(text, FoldSettings::default());
    let event = &events[0];
    assert!(event.exception.is_some());
    let json = serde_json::to_string(event).unwrap();
    let record: crate::event::EventRecord<'static> = serde_json::from_str(&json).unwrap();
    assert_eq!(record, event.record());
    let keys: Vec<String> =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&json)
            .unwrap()
            .keys()
            .cloned()
            .collect();
    assert!(json.starts_with(r#"{"ts":"2024-03-01T10:00:00.123Z","level":"ERROR","#));
    assert_eq!(keys.len(), 13, "{keys:?}");
}

// Issue 14, class 1: exceptions logged without frames (the JVM's preallocated errors).
const FRAMELESS: &str = "2024-03-01 10:00:00,123 ERROR [pool-1-thread-3] c.a.b.ReportJob - report 17 failed
java.lang.OutOfMemoryError: Java heap space
2024-03-01 10:00:05,001 ERROR [pool-1-thread-4] c.a.b.ReportJob - report 23 failed
java.lang.OutOfMemoryError: Java heap space
2024-03-01 10:00:06,000 ERROR [main] c.a.b.Main - java.lang.OutOfMemoryError: GC overhead limit exceeded
2024-03-01 10:00:09,000 INFO [worker-2] c.a.b.Audit - java.lang.IllegalStateException: only a word in an INFO line";

#[test]
fn exceptions_without_frames_are_exceptions() {
    let events = shape(FRAMELESS, &[2, 2, 1, 1]);
    let first = events[0].exception.as_ref().expect("a frameless exception");
    assert_eq!(first.root_type, "java.lang.OutOfMemoryError");
    assert_eq!(first.template, "Java heap space");
    assert!(first.chain[0].frames.is_empty());
    let second = events[1].exception.as_ref().unwrap();
    assert_eq!(first.fingerprint, second.fingerprint);
    let own_message = events[2]
        .exception
        .as_ref()
        .expect("the message is the exception");
    assert_eq!(own_message.root_type, "java.lang.OutOfMemoryError");
    assert_ne!(own_message.fingerprint, first.fingerprint);
    assert!(
        events[3].exception.is_none(),
        "an INFO line naming an exception is not one"
    );

    let json = r#"{"@timestamp":"2024-03-01T10:00:00.123Z","message":"charge failed","logger_name":"c.a.b.OrderService","level":"ERROR","stack_trace":"com.acme.billing.CardDeclinedException: card 4111 declined\n"}"#;
    let events = shape(json, &[1]);
    let e = events[0]
        .exception
        .as_ref()
        .expect("a stack_trace of one line");
    assert_eq!(e.root_type, "com.acme.billing.CardDeclinedException");
    assert_eq!(e.template, "card <num> declined");
}

// Issue 14, class 4: prose between the exception class and its colon (WildFly's MSC).
const WILDFLY: &str = "2019-06-03 10:00:00,100 ERROR [org.jboss.msc.service.fail] (MSC service thread 1-2) MSC000001: Failed to start service jboss.undertow.listener.default: org.jboss.msc.service.StartException in service jboss.undertow.listener.default: Address already in use /127.0.0.1:8080
\tat org.wildfly.extension.undertow.ListenerService.start(ListenerService.java:209)
\tat org.jboss.msc.service.ServiceControllerImpl$StartTask.startService(ServiceControllerImpl.java:2032)
Caused by: java.net.BindException: Address already in use
\tat sun.nio.ch.Net.bind0(Native Method)
\tat org.wildfly.extension.undertow.HttpListenerService.startListening(HttpListenerService.java:152)
\t... 2 more";

#[test]
fn the_type_is_the_class_before_any_prose() {
    let events = shape(WILDFLY, &[7]);
    let e = events[0].exception.as_ref().unwrap();
    assert_eq!(
        chain_types(&events[0]),
        [
            "org.jboss.msc.service.StartException",
            "java.net.BindException"
        ]
    );
    assert_eq!(
        e.chain[0].message,
        "in service jboss.undertow.listener.default: Address already in use /127.0.0.1:8080"
    );
    let other = WILDFLY
        .replace("listener.default", "listener.https")
        .replace("8080", "8443");
    let other = shape(&other, &[7]);
    assert_eq!(
        other[0].exception.as_ref().unwrap().fingerprint,
        e.fingerprint,
        "another listener, same problem"
    );
}

// Issue 14, class 5: trace words quoted in a failure description, no frame anywhere.
const QUOTED_CAUSE: &str = r#"2019-06-03 10:00:01,000 ERROR [org.jboss.as.controller.management-operation] (Controller Boot Thread) WFLYCTL0013: Operation ("add") failed - address: ([("subsystem" => "undertow")]) - failure description: {
    "WFLYCTL0080: Failed services" => {"jboss.undertow.listener.default" => "Address already in use /127.0.0.1:8080
    Caused by: java.net.BindException: Address already in use"}
}"#;

#[test]
fn a_cause_quoted_without_frames_is_not_an_exception() {
    let events = shape(QUOTED_CAUSE, &[4]);
    assert!(events[0].exception.is_none(), "{:?}", events[0].exception);
}

// Issue 14, class 2: headers that are only a level (uvicorn, gunicorn, logging.basicConfig).
const UVICORN: &str = r#"INFO:     Started server process [41]
INFO:     Application startup complete.
INFO:     127.0.0.1:51234 - "GET /divide HTTP/1.1" 500 Internal Server Error
ERROR:    Exception in ASGI application
Traceback (most recent call last):
  File "/usr/local/lib/python3.11/site-packages/uvicorn/protocols/http/httptools_impl.py", line 426, in run_asgi
    result = await app(  # type: ignore[func-returns-value]
  File "/app/main.py", line 12, in divide
    return 1 / 0
ZeroDivisionError: division by zero
INFO:     127.0.0.1:51235 - "GET /items/7 HTTP/1.1" 500 Internal Server Error
ERROR:    Exception in ASGI application
Traceback (most recent call last):
  File "/app/main.py", line 20, in item
    return ITEMS[item_id]
KeyError: 7
WARNING:root:retrying in 5 s
ERROR:django.request:Internal Server Error: /api/orders
Traceback (most recent call last):
  File "/app/orders/views.py", line 40, in create
    order = Order.objects.get(pk=pk)
orders.models.Order.DoesNotExist: Order matching query does not exist."#;

#[test]
fn level_only_headers_start_events() {
    let events = shape(UVICORN, &[1, 1, 1, 7, 1, 5, 1, 5]);
    assert_eq!(events[0].format, "level");
    assert_eq!(events[0].level, Some(Level::Info));
    assert_eq!(events[0].message, "Started server process [41]");
    assert_eq!(events[3].level, Some(Level::Error));
    assert_eq!(events[3].message, "Exception in ASGI application");
    assert_eq!(
        events[3].exception.as_ref().unwrap().root_type,
        "ZeroDivisionError"
    );
    assert_eq!(events[5].exception.as_ref().unwrap().root_type, "KeyError");
    assert_eq!(events[6].logger.as_deref(), Some("root"));
    assert_eq!(events[6].level, Some(Level::Warn));
    assert_eq!(events[7].logger.as_deref(), Some("django.request"));
    assert_eq!(events[7].message, "Internal Server Error: /api/orders");
    assert_eq!(
        events[7].exception.as_ref().unwrap().root_type,
        "orders.models.Order.DoesNotExist"
    );
}

// Issue 14, class 3: Go panics written through a logger, every line prefixed. Layouts as in
// Packer's crash logs (hashicorp/packer issues 897, 1008): Go's `log` with the plugin's path,
// and go-hclog's `[INFO] packer: `.
const PACKER_PLUGIN: &str = "2014/02/19 19:19:30 /home/u/packer-builder-openstack: 2014/02/19 19:19:30 Waiting for server to become ready...
2014/02/19 19:19:30 /home/u/packer-builder-openstack: panic: runtime error: invalid memory address or nil pointer dereference
2014/02/19 19:19:30 /home/u/packer-builder-openstack: [signal 0xb code=0x1 addr=0x20 pc=0x4a1f2c]
2014/02/19 19:19:30 /home/u/packer-builder-openstack: 
2014/02/19 19:19:30 /home/u/packer-builder-openstack: goroutine 7 [running]:
2014/02/19 19:19:30 /home/u/packer-builder-openstack: runtime.panic(0x6a81e0, 0xc210306180)
2014/02/19 19:19:30 /home/u/packer-builder-openstack:    /Users/mitchellh/go/src/pkg/runtime/panic.c:266 +0xb6
2014/02/19 19:19:30 /home/u/packer-builder-openstack: github.com/mitchellh/packer/builder/openstack.(*StepRunSourceServer).Run(0xc2100c0e40, 0xc21006b8a0, 0x0)
2014/02/19 19:19:30 /home/u/packer-builder-openstack:    /Users/mitchellh/code/go/src/github.com/mitchellh/packer/builder/openstack/step_run_source_server.go:45 +0x3a4
2014/02/19 19:19:30 /home/u/packer-builder-openstack: created by github.com/mitchellh/packer/packer/rpc.NewMuxConn
2014/02/19 19:19:30 /home/u/packer-builder-openstack:    /Users/mitchellh/code/go/src/github.com/mitchellh/packer/packer/rpc/muxconn.go:72 +0xf4
2014/02/19 19:19:30 /home/u/packer-builder-openstack: 
2014/02/19 19:19:30 /home/u/packer-builder-openstack: goroutine 1 [semacquire]:
2014/02/19 19:19:30 /home/u/packer-builder-openstack: sync.runtime_Syncsemacquire(0xc210070280)
2014/02/19 19:19:30 /home/u/packer-builder-openstack:    /Users/mitchellh/go/src/pkg/runtime/sema.goc:257 +0xca
2014/02/19 19:19:31 ui: Build finished";

const HCLOG: &str = "2019/05/01 10:00:00 [INFO] (telemetry) Starting provisioner shell
2019/05/01 10:00:00 [INFO] packer: panic: runtime error: index out of range
2019/05/01 10:00:00 [INFO] packer: 
2019/05/01 10:00:00 [INFO] packer: goroutine 90 [running]:
2019/05/01 10:00:00 [INFO] packer: github.com/hashicorp/packer/provisioner/shell.(*Provisioner).Provision(0xc0003a2000, 0x5a0b8e0, 0xc000088a80)
2019/05/01 10:00:00 [INFO] packer: \t/Users/x/go/src/github.com/hashicorp/packer/provisioner/shell/provisioner.go:249 +0x1b6d
2019/05/01 10:00:00 [INFO] packer: github.com/hashicorp/packer/packer.(*ProvisionHook).Run(0xc0002ee3c0, 0x5a0b8e0)
2019/05/01 10:00:00 [INFO] packer: \t/Users/x/go/src/github.com/hashicorp/packer/packer/provisioner.go:94 +0x2b5
2019/05/01 10:00:01 [INFO] (telemetry) ending shell";

#[test]
fn panics_with_a_logger_prefix_on_every_line_are_one_event() {
    let events = shape(PACKER_PLUGIN, &[1, 14, 1]);
    let panic = events[1].exception.as_ref().expect("the panic");
    assert_eq!(panic.language, Language::Go);
    assert_eq!(panic.root_type, "runtime error");
    let frames: Vec<String> = panic.chain[0]
        .frames
        .iter()
        .map(|f| format!("{}.{}", f.module, f.function))
        .collect();
    assert_eq!(
        frames,
        [
            "runtime.panic",
            "github.com/mitchellh/packer/builder/openstack.(*StepRunSourceServer).Run"
        ]
    );
    assert_eq!(events[2].message, "ui: Build finished");

    let events = shape(HCLOG, &[1, 7, 1]);
    let panic = events[1].exception.as_ref().expect("the panic");
    assert_eq!(panic.chain[0].frames.len(), 2);
    assert!(panic.chain[0].frames.iter().all(|f| f.in_app));
}

// Issue 14, class 7: a Python 3.11 exception group, as `logging.exception` writes it.
const EXCEPTION_GROUP: &str = "2024-03-01 10:00:00,123 ERROR [asyncio] app.main - sync failed
  + Exception Group Traceback (most recent call last):
  |   File \"/srv/app/main.py\", line 30, in run
  |     async with asyncio.TaskGroup() as tg:
  |   File \"/usr/lib/python3.11/asyncio/taskgroups.py\", line 145, in __aexit__
  |     raise me from None
  | ExceptionGroup: unhandled errors in a TaskGroup (2 sub-exceptions)
  +-+---------------- 1 ----------------
    | Traceback (most recent call last):
    |   File \"/srv/app/main.py\", line 12, in fetch
    |     raise ValueError(f\"bad page {page}\")
    | ValueError: bad page 7
    +---------------- 2 ----------------
    | Traceback (most recent call last):
    |   File \"/srv/app/store.py\", line 8, in save
    |     return rows[key]
    | KeyError: 'order-17'
    +------------------------------------
2024-03-01 10:00:01,000 INFO [asyncio] app.main - next";

#[test]
fn python_exception_groups_are_one_event_with_the_group_as_root() {
    let events = shape(EXCEPTION_GROUP, &[18, 1]);
    let x = events[0].exception.as_ref().expect("the group");
    assert_eq!(x.language, Language::Python);
    assert_eq!(x.root_type, "ExceptionGroup");
    assert_eq!(
        chain_types(&events[0]),
        ["KeyError", "ValueError", "ExceptionGroup"]
    );
    let group = x.chain.last().unwrap();
    assert_eq!(group.frames[1].function, "run");
    assert!(group.frames[1].in_app && !group.frames[0].in_app);
    assert_eq!(x.chain[1].frames[0].function, "fetch");
    // Uncaught, written without a header, it is one event too.
    let bare: String = EXCEPTION_GROUP
        .lines()
        .skip(1)
        .take(17)
        .collect::<Vec<_>>()
        .join("\n");
    let events = shape(&bare, &[17]);
    assert_eq!(
        events[0].exception.as_ref().unwrap().root_type,
        "ExceptionGroup"
    );
}

// Kubernetes: what containerd and CRI-O write under /var/log/pods, each line behind the
// runtime's time, stream and `F` (the layout of the CRI log format; the content lines are
// those of the tests above).
const CRI: &str = "2024-03-01T10:00:00.123456789Z stdout F 2024-03-01 10:00:00,123 INFO  [main] com.acme.App - started
2024-03-01T10:00:01.000000001Z stderr F 2024-03-01 10:00:01,000 ERROR [http-1] com.acme.Orders - failed
2024-03-01T10:00:01.000000002Z stderr F java.lang.IllegalStateException: boom
2024-03-01T10:00:01.000000003Z stderr F \tat com.acme.Orders.place(Orders.java:42)
2024-03-01T10:00:01.000000004Z stderr F \tat com.acme.Api.handle(Api.java:7)
2024-03-01T10:00:03.000000001Z stderr F Traceback (most recent call last):
2024-03-01T10:00:03.000000002Z stderr F   File \"/app/main.py\", line 10, in <module>
2024-03-01T10:00:03.000000003Z stderr F     main()
2024-03-01T10:00:03.000000004Z stderr F   File \"/app/main.py\", line 7, in main
2024-03-01T10:00:03.000000005Z stderr F     raise ValueError(\"bad input\")
2024-03-01T10:00:03.000000006Z stderr F ValueError: bad input
2024-03-01T10:00:04.000000000Z stdout F {\"level\":\"warn\",\"msg\":\"slow\",\"logger\":\"db\"}
2024-03-01T10:00:05.000000000Z stdout F plain output";

#[test]
fn a_container_runtimes_lines_fold_as_what_the_container_wrote() {
    let events = shape(CRI, &[1, 4, 6, 1, 1]);
    assert_eq!(events[0].level, Some(Level::Info));
    assert_eq!(events[0].logger.as_deref(), Some("com.acme.App"));
    assert_eq!(events[0].message, "started");
    // The runtime's time, to the nanosecond.
    assert_eq!(
        events[0].ts.unwrap().to_string(),
        "2024-03-01T10:00:00.123456789Z"
    );
    assert_eq!(events[1].level, Some(Level::Error));
    assert_eq!(chain_types(&events[1]), ["java.lang.IllegalStateException"]);
    assert_eq!(
        events[1].exception.as_ref().unwrap().chain[0].frames.len(),
        2
    );
    assert_eq!(chain_types(&events[2]), ["ValueError"]);
    let python = &events[2].exception.as_ref().unwrap().chain[0];
    assert_eq!(python.message, "bad input");
    assert_eq!(python.frames.len(), 2);
    assert_eq!(events[3].format, "json");
    assert_eq!(events[3].logger.as_deref(), Some("db"));
    assert_eq!(events[4].format, "cri");
    assert_eq!(events[4].message, "plain output");
}

// Docker's json-file logging driver (/var/lib/docker/containers/*/*-json.log): one JSON object
// per line the container wrote.
const DOCKER: &str = r#"{"log":"2024-03-01 10:00:01,000 ERROR [http-1] com.acme.Orders - failed\n","stream":"stderr","time":"2024-03-01T10:00:01.000000001Z"}
{"log":"java.lang.IllegalStateException: boom\n","stream":"stderr","time":"2024-03-01T10:00:01.000000002Z"}
{"log":"\tat com.acme.Orders.place(Orders.java:42)\n","stream":"stderr","time":"2024-03-01T10:00:01.000000003Z"}
{"log":"\tat com.acme.Api.handle(Api.java:7)\n","stream":"stderr","time":"2024-03-01T10:00:01.000000004Z"}
{"log":"{\"level\":\"warn\",\"msg\":\"slow\"}\n","stream":"stdout","time":"2024-03-01T10:00:02Z"}
{"log":"plain output\r\n","stream":"stdout","time":"2024-03-01T10:00:03Z"}"#;

#[test]
fn dockers_json_file_lines_fold_as_what_the_container_wrote() {
    let events = shape(DOCKER, &[4, 1, 1]);
    assert_eq!(events[0].level, Some(Level::Error));
    assert_eq!(events[0].message, "failed");
    assert_eq!(
        events[0].ts.unwrap().to_string(),
        "2024-03-01T10:00:01.000000001Z"
    );
    assert_eq!(chain_types(&events[0]), ["java.lang.IllegalStateException"]);
    assert_eq!(
        events[0].exception.as_ref().unwrap().chain[0].frames.len(),
        2
    );
    assert_eq!(
        (events[1].format, events[1].level),
        ("json", Some(Level::Warn))
    );
    assert_eq!(events[2].format, "docker");
    assert_eq!(events[2].message, "plain output");
}
