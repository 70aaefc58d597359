//! Traces of the runtimes beyond the JVM, Python and Go (issue 14, class 6), each in the
//! layout its runtime prints (synthetic text copying real layouts): folded into one event,
//! read into the same exception model, fingerprinted by the same rules.

use super::FoldSettings;
use super::tests::fold_with;
use crate::event::{Event, Language};

#[track_caller]
fn one_trace(text: &str, lines: u32) -> Event {
    let (events, _) = fold_with(text, FoldSettings::default());
    let joined: Vec<&str> = events.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(joined.join("\n"), text, "folding must lose no line");
    let trace = events
        .iter()
        .find(|e| e.exception.is_some())
        .unwrap_or_else(|| panic!("no exception in {events:#?}"));
    assert_eq!(trace.lines, lines, "{}", trace.text);
    trace.clone()
}

fn frames(e: &Event, exception: usize) -> Vec<(String, bool)> {
    e.exception.as_ref().unwrap().chain[exception]
        .frames
        .iter()
        .map(|f| (format!("{}.{}", f.module, f.function), f.in_app))
        .collect()
}

fn types(e: &Event) -> Vec<&str> {
    let chain = &e.exception.as_ref().unwrap().chain;
    chain.iter().map(|x| x.ty.as_str()).collect()
}

fn fingerprint(e: &Event) -> &str {
    &e.exception.as_ref().unwrap().fingerprint
}

const NODE: &str = "2024-03-01T10:00:00.123Z ERROR [api] request failed
TypeError: Cannot read properties of undefined (reading 'id')
    at getUser (/srv/app/releases/42/src/users.js:17:23)
    at async Router.handle (/srv/app/releases/42/node_modules/express/lib/router/index.js:284:7)
    at async /srv/app/releases/42/src/server.js:40:5
    at process.processTicksAndRejections (node:internal/process/task_queues:95:5) {
  code: 'ERR_USER',
  [cause]: Error: connect ECONNREFUSED 10.0.0.3:5432
      at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)
      at connect (/srv/app/releases/42/src/db.js:8:11)
}
2024-03-01T10:00:01.000Z INFO [api] next";

#[test]
fn node() {
    let e = one_trace(NODE, 11);
    let x = e.exception.as_ref().unwrap();
    assert_eq!(x.language, Language::Javascript);
    assert_eq!(types(&e), ["TypeError", "Error"]);
    assert_eq!(x.template, "connect ECONNREFUSED <ip>");
    assert_eq!(
        frames(&e, 0),
        [
            ("src/users.getUser".to_owned(), true),
            ("express/lib/router/index.Router.handle".to_owned(), false),
            ("src/server.<anonymous>".to_owned(), true),
            (
                "process/task_queues.process.processTicksAndRejections".to_owned(),
                false
            ),
        ]
    );
    assert_eq!(
        frames(&e, 1),
        [
            ("net.TCPConnectWrap.afterConnect".to_owned(), false),
            ("src/db.connect".to_owned(), true),
        ]
    );
    let redeployed = one_trace(&NODE.replace("releases/42", "releases/43"), 11);
    assert_eq!(fingerprint(&redeployed), fingerprint(&e));
}

const DOTNET: &str = "2024-03-01 10:00:00.123 ERROR [12] Acme.Orders.OrderController - charge failed
System.InvalidOperationException: Payment failed for order 4711 ---> System.Net.Http.HttpRequestException: Connection refused (payments:443)
 ---> System.Net.Sockets.SocketException (111): Connection refused
   at System.Net.Sockets.Socket.AwaitableSocketAsyncEventArgs.ThrowException(SocketError error, CancellationToken cancellationToken)
   at System.Net.Http.HttpConnectionPool.ConnectToTcpHostAsync(String host, Int32 port, HttpRequestMessage initialRequest, Boolean async, CancellationToken cancellationToken)
   --- End of inner exception stack trace ---
   at System.Net.Http.HttpConnectionPool.ConnectToTcpHostAsync(String host, Int32 port, HttpRequestMessage initialRequest, Boolean async, CancellationToken cancellationToken)
   at Acme.Payments.PaymentClient.ChargeAsync(Int32 orderId, Decimal amount) in /src/Acme.Payments/PaymentClient.cs:line 57
--- End of stack trace from previous location ---
   at Acme.Orders.OrderService.<ChargeAsync>d__5.MoveNext() in /src/Acme.Orders/OrderService.cs:line 31
   --- End of inner exception stack trace ---
   at Acme.Orders.OrderService.Charge(Int32 orderId) in /src/Acme.Orders/OrderService.cs:line 40
   at Acme.Orders.OrderController.Post(OrderRequest request) in /src/Acme.Orders/OrderController.cs:line 22
2024-03-01 10:00:01.000 INFO [12] Acme.Orders.OrderController - next";

#[test]
fn dotnet() {
    let e = one_trace(DOTNET, 13);
    let x = e.exception.as_ref().unwrap();
    assert_eq!(x.language, Language::Dotnet);
    assert_eq!(
        types(&e),
        [
            "System.InvalidOperationException",
            "System.Net.Http.HttpRequestException",
            "System.Net.Sockets.SocketException"
        ]
    );
    assert_eq!(frames(&e, 2).len(), 2);
    assert!(frames(&e, 2).iter().all(|(_, in_app)| !in_app));
    assert_eq!(
        frames(&e, 1),
        [
            (
                "System.Net.Http.HttpConnectionPool.ConnectToTcpHostAsync".to_owned(),
                false
            ),
            ("Acme.Payments.PaymentClient.ChargeAsync".to_owned(), true),
            ("Acme.Orders.OrderService.ChargeAsync".to_owned(), true),
        ]
    );
    assert_eq!(
        frames(&e, 0)[1],
        ("Acme.Orders.OrderController.Post".to_owned(), true)
    );
    let rebuilt = one_trace(
        &DOTNET
            .replace("d__5", "d__7")
            .replace("line 57", "line 60")
            .replace("4711", "4712"),
        13,
    );
    assert_eq!(fingerprint(&rebuilt), fingerprint(&e));
}

const RUBY: &str = "2024-03-01 10:00:00,123 ERROR [puma-7] OrdersController - request failed
NoMethodError (undefined method `total' for nil):

app/models/order.rb:42:in `charge'
app/controllers/orders_controller.rb:12:in `block in show'
/usr/local/bundle/gems/actionpack-7.1.3/lib/action_controller/metal/basic_implicit_render.rb:6:in `send_action'
2024-03-01 10:00:01,000 INFO [puma-7] OrdersController - next";

const RUBY_UNCAUGHT: &str = "2024-03-01 10:00:00,123 INFO [main] Worker - starting
/srv/app/releases/7/lib/worker.rb:12:in 'Worker#perform': undefined method 'total' for nil (NoMethodError)
\tfrom /srv/app/releases/7/lib/worker.rb:30:in 'block in run'
\tfrom /usr/lib/ruby/3.3.0/set.rb:511:in 'Set#each'";

#[test]
fn ruby() {
    let e = one_trace(RUBY, 6);
    assert_eq!(e.exception.as_ref().unwrap().language, Language::Ruby);
    assert_eq!(types(&e), ["NoMethodError"]);
    assert_eq!(
        e.exception.as_ref().unwrap().chain[0].message,
        "undefined method `total' for nil"
    );
    assert_eq!(
        frames(&e, 0),
        [
            ("models/order.charge".to_owned(), true),
            ("controllers/orders_controller.show".to_owned(), true),
            (
                "actionpack-7.1.3/lib/action_controller/metal/basic_implicit_render.send_action"
                    .to_owned(),
                false
            ),
        ]
    );
    let (events, _) = fold_with(RUBY_UNCAUGHT, FoldSettings::default());
    assert_eq!(
        events.len(),
        2,
        "the uncaught exception starts its own event"
    );
    let e = one_trace(RUBY_UNCAUGHT, 3);
    assert_eq!(types(&e), ["NoMethodError"]);
    assert_eq!(
        e.exception.as_ref().unwrap().chain[0].message,
        "undefined method 'total' for nil"
    );
    assert_eq!(frames(&e, 0).len(), 3);
    assert!(!frames(&e, 0)[2].1, "the standard library is not in-app");
}

const PHP: &str = "2024-03-01 10:00:00,123 ERROR [fpm] php - PHP Fatal error:  Uncaught App\\Exceptions\\PaymentException: card 4111 declined in /var/www/app/src/Payments/Client.php:57
Stack trace:
#0 /var/www/app/src/Orders/OrderService.php(31): App\\Payments\\Client->charge(4711, 99.5)
#1 /var/www/app/vendor/laravel/framework/src/Illuminate/Pipeline/Pipeline.php(128): App\\Orders\\OrderService->handle(Object(Illuminate\\Http\\Request))
#2 {main}
  thrown in /var/www/app/src/Payments/Client.php on line 57";

const LARAVEL: &str = "[2024-03-01 10:00:00] production.ERROR: card 4111 declined {\"userId\":7,\"exception\":\"[object] (App\\\\Exceptions\\\\PaymentException(code: 0): card 4111 declined at /var/www/app/src/Payments/Client.php:57)
[stacktrace]
#0 /var/www/app/src/Orders/OrderService.php(31): App\\\\Payments\\\\Client->charge(4711, 99.5)
#1 {main}
\"} ";

#[test]
fn php() {
    let e = one_trace(PHP, 6);
    let x = e.exception.as_ref().unwrap();
    assert_eq!(x.language, Language::Php);
    assert_eq!(types(&e), ["App\\Exceptions\\PaymentException"]);
    assert_eq!(x.template, "card <num> declined");
    assert_eq!(
        frames(&e, 0),
        [
            ("App\\Payments\\Client.charge".to_owned(), true),
            ("App\\Orders\\OrderService.handle".to_owned(), false),
        ]
    );
    let e = one_trace(LARAVEL, 5);
    assert_eq!(types(&e), ["App\\Exceptions\\PaymentException"]);
    assert_eq!(
        frames(&e, 0),
        [("App\\Payments\\Client.charge".to_owned(), true)]
    );
}

const RUST: &str = "2024-03-01T10:00:00.123Z  INFO shop: serving on 0.0.0.0:8080
thread 'main' panicked at src/orders.rs:42:9:
called `Option::unwrap()` on a `None` value
stack backtrace:
   0: rust_begin_unwind
             at /rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/std/src/panicking.rs:597:5
   1: core::panicking::panic_fmt
             at /rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/core/src/panicking.rs:72:14
   2: core::option::Option<T>::unwrap
             at /rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/core/src/option.rs:935:21
   3: shop::orders::charge::h1a2b3c4d5e6f7a8b
             at ./src/orders.rs:42:9
   4: tokio::runtime::task::harness::poll_future
             at /home/ci/.cargo/registry/src/index.crates.io-6f17d22bba15001f/tokio-1.35.1/src/runtime/task/harness.rs:473:19
   5: shop::main
             at ./src/main.rs:7:5
note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.";

#[test]
fn rust() {
    let e = one_trace(RUST, 16);
    let x = e.exception.as_ref().unwrap();
    assert_eq!(x.language, Language::Rust);
    assert_eq!(types(&e), ["panic"]);
    assert_eq!(
        x.chain[0].message,
        "called `Option::unwrap()` on a `None` value"
    );
    let in_app: Vec<String> = frames(&e, 0)
        .into_iter()
        .filter(|(_, in_app)| *in_app)
        .map(|(f, _)| f)
        .collect();
    assert_eq!(in_app, ["shop::orders.charge", "shop.main"]);
    let old = "thread 'main' panicked at 'index out of bounds: the len is 3 but the index is 7', src/main.rs:4:5
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace";
    let e = one_trace(old, 2);
    assert_eq!(
        e.exception.as_ref().unwrap().template,
        "index out of bounds: the len is <num> but the index is <num>"
    );
}

// Layouts seen in other tools' test data (GoogleCloudPlatform/fluent-plugin-detect-exceptions):
// Mono's .NET frames, PHP 5's exception line, Rails' gem frames, two-space Node frames.
const MONO: &str = "2024-03-01 10:00:00,000 ERROR [7] Acme.Worker - lookup failed
System.Collections.Generic.KeyNotFoundException: The given key 'eu-7' was not present in the dictionary.
  at System.Collections.Generic.Dictionary`2[System.String,System.Int32].get_Item (System.String key) [0x00000] in <filename unknown>:0
  at Acme.Regions.Lookup.Find (System.String code) [0x00007] in /src/Acme/Regions/Lookup.cs:21
  at Acme.Worker.Run () [0x00013] in /src/Acme/Worker.cs:40";

const PHP5: &str = "2024-03-01 10:00:00,000 ERROR [fpm] php - PHP Fatal error:  Uncaught exception 'RuntimeException' with message 'queue 7 is full' in /srv/www/lib/Queue.php:31
Stack trace:
#0 /srv/www/lib/Jobs.php(12): Queue->push(Array)
#1 {main}
  thrown in /srv/www/lib/Queue.php on line 31";

const RAILS_GEMS: &str = "2024-03-01 10:00:00,000 FATAL [puma-3] Rails - request failed
ActionController::RoutingError (No route matches [GET] \"/settings\"):

actionpack (7.1.3) lib/action_dispatch/middleware/debug_exceptions.rb:29:in `call'
app/middleware/tenant.rb:12:in `call'
railties (7.1.3) lib/rails/rack/logger.rb:37:in `call_app'";

const NODE_TWO_SPACES: &str = "2024-03-01T10:00:00.000Z ERROR [web] unhandled
ReferenceError: cart is not defined
  at checkout (/srv/app/routes/cart.js:52:3)
  at Layer.handle [as handle_request] (/srv/app/node_modules/express/lib/router/layer.js:95:5)";

#[test]
fn layouts_from_other_tools_test_data() {
    let e = one_trace(MONO, 5);
    assert_eq!(e.exception.as_ref().unwrap().language, Language::Dotnet);
    assert_eq!(
        types(&e),
        ["System.Collections.Generic.KeyNotFoundException"]
    );
    assert_eq!(
        frames(&e, 0),
        [
            (
                "System.Collections.Generic.Dictionary`2.get_Item".to_owned(),
                false
            ),
            ("Acme.Regions.Lookup.Find".to_owned(), true),
            ("Acme.Worker.Run".to_owned(), true),
        ]
    );
    assert_eq!(
        e.exception.as_ref().unwrap().chain[0].frames[1].line,
        Some(21)
    );

    let e = one_trace(PHP5, 5);
    assert_eq!(types(&e), ["RuntimeException"]);
    assert_eq!(
        e.exception.as_ref().unwrap().template,
        "queue <num> is full"
    );

    let e = one_trace(RAILS_GEMS, 6);
    assert_eq!(types(&e), ["ActionController::RoutingError"]);
    assert_eq!(
        frames(&e, 0),
        [
            (
                "actionpack/middleware/debug_exceptions.call".to_owned(),
                false
            ),
            ("middleware/tenant.call".to_owned(), true),
            ("railties/rack/logger.call_app".to_owned(), false),
        ]
    );

    let e = one_trace(NODE_TWO_SPACES, 4);
    assert_eq!(types(&e), ["ReferenceError"]);
    assert_eq!(frames(&e, 0)[0], ("routes/cart.checkout".to_owned(), true));
}

// Rails' development log puts a line of white space between the exception and its frames.
const RAILS_SPACED: &str = " ActionController::RoutingError (No route matches [GET] \"/settings\"):
  
  actionpack (5.1.4) lib/action_dispatch/middleware/debug_exceptions.rb:63:in `call'
  app/middleware/tenant.rb:12:in `call'";

// Go's net/http recovers a handler's panic and logs it, with the goroutine's stack.
const GO_HTTP_PANIC: &str = "2019/01/15 07:48:05 http: panic serving [::1]:54143: test panic
goroutine 24 [running]:
net/http.(*conn).serve.func1(0xc00007eaa0)
\t/usr/local/go/src/net/http/server.go:1746 +0xd0
panic(0x12472a0, 0x12ece10)
\t/usr/local/go/src/runtime/panic.go:513 +0x1b9
main.doPanic(0x12f0ea0, 0xc00010e1c0, 0xc000104400)
\t/Users/dev/src/httppanic.go:8 +0x39
created by net/http.(*Server).Serve
\t/usr/local/go/src/net/http/server.go:2851 +0x2f5
2019/01/15 07:48:06 serving again";

#[test]
fn rails_spaced_backtraces_and_net_http_panics() {
    let e = one_trace(RAILS_SPACED, 4);
    assert_eq!(types(&e), ["ActionController::RoutingError"]);
    assert_eq!(
        e.exception.as_ref().unwrap().chain[0].message,
        "No route matches [GET] \"/settings\""
    );
    assert_eq!(frames(&e, 0).len(), 2);
    assert_eq!(
        frames(&e, 0)[1],
        ("middleware/tenant.call".to_owned(), true)
    );

    let e = one_trace(GO_HTTP_PANIC, 10);
    assert_eq!(e.exception.as_ref().unwrap().language, Language::Go);
    assert_eq!(types(&e), ["panic"]);
    assert_eq!(e.exception.as_ref().unwrap().chain[0].message, "test panic");
    assert_eq!(
        frames(&e, 0),
        [
            ("net/http.(*conn).serve.func1".to_owned(), false),
            ("main.doPanic".to_owned(), true),
        ]
    );
}

// Crash reports written to stderr as the process dies, after the app's own log lines.
const NODE_CRASH: &str = "2024-03-01T10:00:00.000Z INFO [web] listening on 8080
/srv/app/server.js:12
    throw new Error('config missing: DB_URL');
    ^

Error: config missing: DB_URL
    at Object.<anonymous> (/srv/app/server.js:12:11)
    at Module._compile (node:internal/modules/cjs/loader:1256:14)

Node.js v20.11.0
2024-03-01T10:00:05.000Z INFO [web] listening on 8080";

const NODE_REJECTION: &str = "node:internal/process/promises:288
            triggerUncaughtException(err, true /* fromPromise */);
            ^

[UnhandledPromiseRejection: This error originated either by throwing inside of an async function without a catch block, or by rejecting a promise which was not handled with .catch(). The promise rejected with the reason \"timeout\".] {
  code: 'ERR_UNHANDLED_REJECTION'
}

Node.js v20.11.0";

const PHP_CLI_FATAL: &str = "2024-03-01 10:00:00,000 INFO [cron] jobs - run 17 starts
PHP Fatal error:  Uncaught RuntimeException: lock held by run 16 in /srv/jobs/Lock.php:20
Stack trace:
#0 /srv/jobs/run.php(8): Lock->take()
#1 {main}
  thrown in /srv/jobs/Lock.php on line 20";

const DOTNET_UNHANDLED: &str = "info: Acme.Worker[0]
Unhandled exception. System.InvalidOperationException: Queue 'orders' is not configured.
   at Acme.Worker.Start(String queue) in /src/Acme/Worker.cs:line 18
   at Acme.Program.Main(String[] args) in /src/Acme/Program.cs:line 9";

#[test]
fn crash_reports_start_their_own_event() {
    let (events, _) = fold_with(NODE_CRASH, FoldSettings::default());
    let lines: Vec<u32> = events.iter().map(|e| e.lines).collect();
    assert_eq!(lines, [1, 9, 1], "the crash report is one event of its own");
    let e = &events[1];
    assert_eq!(types(e), ["Error"]);
    assert_eq!(
        e.exception.as_ref().unwrap().template,
        "config missing: DB_URL"
    );
    assert_eq!(
        frames(e, 0)[0],
        ("app/server.Object.<anonymous>".to_owned(), true)
    );

    let e = one_trace(NODE_REJECTION, 9);
    assert_eq!(types(&e), ["UnhandledPromiseRejection"]);
    assert!(
        e.exception.as_ref().unwrap().chain[0]
            .message
            .ends_with("reason \"timeout\".")
    );

    let (events, _) = fold_with(PHP_CLI_FATAL, FoldSettings::default());
    assert_eq!(events.len(), 2, "the fatal error starts its own event");
    let e = one_trace(PHP_CLI_FATAL, 5);
    assert_eq!(types(&e), ["RuntimeException"]);
    assert_eq!(frames(&e, 0), [("Lock.take".to_owned(), true)]);

    let e = one_trace(DOTNET_UNHANDLED, 3);
    assert_eq!(types(&e), ["System.InvalidOperationException"]);
    assert_eq!(frames(&e, 0)[0], ("Acme.Worker.Start".to_owned(), true));
}
