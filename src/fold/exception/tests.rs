//! Same problem, different deploys: copies of a trace that differ only in what changes
//! between deploys share a fingerprint; a different root cause or in-app path does not.

use crate::fold::FoldSettings;
use crate::fold::tests::fold_with;

fn fingerprint(text: &str) -> String {
    let (events, _) = fold_with(text, FoldSettings::default());
    assert_eq!(events.len(), 1, "one event expected:\n{text}");
    let exc = events[0]
        .exception
        .as_ref()
        .unwrap_or_else(|| panic!("no exception in:\n{text}"));
    exc.fingerprint.clone()
}

const JAVA: &str = "2024-03-01 10:00:00,123 ERROR [http-nio-8080-exec-1] c.a.b.OrderController - order 4711 failed for user 42
org.springframework.web.util.NestedServletException: Request processing failed
\tat org.springframework.web.servlet.FrameworkServlet.processRequest(FrameworkServlet.java:1014)
\tat com.acme.billing.OrderController$$EnhancerBySpringCGLIB$$a1b2c3d4.charge(<generated>)
\tat jdk.internal.reflect.GeneratedMethodAccessor123.invoke(Unknown Source)
Caused by: java.lang.IllegalStateException: card 4111 declined after 3 tries
\tat com.acme.billing.PaymentClient.lambda$charge$3(PaymentClient.java:88)
\tat com.acme.billing.PaymentClient$$Lambda$412/0x0000000800c0b448.apply(Unknown Source)
\tat com.acme.billing.PaymentClient.charge(PaymentClient.java:61)
\tat com.acme.billing.OrderService.charge(OrderService.java:42)
\tat com.acme.billing.OrderService.charge(OrderService.java:42)
\tat java.base/java.lang.Thread.run(Thread.java:833)";

fn variant(pairs: &[(&str, &str)]) -> String {
    pairs.iter().fold(JAVA.to_owned(), |text, (from, to)| {
        assert!(text.contains(from), "{from} is in the base trace");
        text.replace(from, to)
    })
}

#[test]
fn java_trace_survives_redeploys() {
    let base = fingerprint(JAVA);
    let same = [
        variant(&[
            ("PaymentClient.java:88", "PaymentClient.java:93"),
            ("OrderService.java:42", "OrderService.java:47"),
        ]),
        variant(&[
            ("lambda$charge$3", "lambda$charge$0"),
            (
                "$$Lambda$412/0x0000000800c0b448",
                "$$Lambda$977/0x00000008012f3a10",
            ),
        ]),
        variant(&[
            (
                "$$EnhancerBySpringCGLIB$$a1b2c3d4",
                "$$EnhancerBySpringCGLIB$$ffee0011",
            ),
            ("GeneratedMethodAccessor123", "GeneratedMethodAccessor7"),
        ]),
        variant(&[("http-nio-8080-exec-1", "http-nio-8080-exec-17")]),
        variant(&[
            (
                "order 4711 failed for user 42",
                "order 12 failed for user 9",
            ),
            (
                "card 4111 declined after 3 tries",
                "card 5500 declined after 1 tries",
            ),
        ]),
        // Recursion depth differs: repeated frames collapse.
        variant(&[(
            "\tat com.acme.billing.OrderService.charge(OrderService.java:42)\n\tat com.acme.billing.OrderService.charge(OrderService.java:42)",
            "\tat com.acme.billing.OrderService.charge(OrderService.java:42)",
        )]),
    ];
    for text in &same {
        assert_eq!(fingerprint(text), base, "same problem:\n{text}");
    }
}

#[test]
fn java_different_problems_differ() {
    let base = fingerprint(JAVA);
    let different = [
        variant(&[(
            "Caused by: java.lang.IllegalStateException",
            "Caused by: java.net.SocketTimeoutException",
        )]),
        variant(&[(
            "com.acme.billing.PaymentClient.charge(",
            "com.acme.billing.RefundClient.charge(",
        )]),
        variant(&[(
            "org.springframework.web.util.NestedServletException",
            "org.springframework.dao.DataAccessException",
        )]),
    ];
    for text in &different {
        assert_ne!(fingerprint(text), base, "different problem:\n{text}");
    }
}

const PYTHON: &str = "2024-03-01 10:00:00,123 - billing.worker - ERROR - job 991 failed
Traceback (most recent call last):
  File \"/srv/billing/releases/20240301/billing/worker.py\", line 42, in run
    self.charge(order)
  File \"/srv/billing/releases/20240301/billing/payments.py\", line 17, in charge
    raise PaymentError(f\"card {card} declined\")
  File \"/usr/lib/python3.11/site-packages/requests/api.py\", line 73, in get
    return request(\"get\", url, params=params, **kwargs)
billing.payments.PaymentError: card 4111 declined";

#[test]
fn python_trace_survives_redeploys() {
    let base = fingerprint(PYTHON);
    let moved = PYTHON
        .replace("releases/20240301", "releases/20240415")
        .replace("line 42", "line 51");
    let message = PYTHON
        .replace("card 4111 declined", "card 5500 declined")
        .replace("job 991", "job 3");
    assert_eq!(fingerprint(&moved), base);
    assert_eq!(fingerprint(&message), base);
    let other_path = PYTHON.replace("in charge", "in refund");
    assert_ne!(fingerprint(&other_path), base);
    let other_type = PYTHON.replace(
        "billing.payments.PaymentError",
        "billing.payments.TimeoutError",
    );
    assert_ne!(fingerprint(&other_type), base);
}

const GO: &str = "panic: runtime error: index out of range [5] with length 3

goroutine 17 [running]:
github.com/acme/billing/payments.(*Client).Charge(0xc000123456, 0x5, 0xc0000a2000)
\t/build/src/github.com/acme/billing/payments/client.go:88 +0x1d5
github.com/acme/billing/api.handle(0xc0001b6000)
\t/build/src/github.com/acme/billing/api/handler.go:42 +0x8f
net/http.HandlerFunc.ServeHTTP(0x12f3a40, 0x1450000, 0xc0001b6000)
\t/usr/local/go/src/net/http/server.go:2109 +0x44
created by net/http.(*Server).Serve in goroutine 1
\t/usr/local/go/src/net/http/server.go:3086 +0x5cb";

#[test]
fn go_trace_survives_redeploys() {
    let base = fingerprint(GO);
    let other_run = GO
        .replace("goroutine 17", "goroutine 4242")
        .replace(
            "0xc000123456, 0x5, 0xc0000a2000",
            "0xc00098aa10, 0x9, 0xc000010000",
        )
        .replace("+0x1d5", "+0x1e1")
        .replace("client.go:88", "client.go:97")
        .replace("[5] with length 3", "[9] with length 2");
    assert_eq!(fingerprint(&other_run), base);
    let other_path = GO.replace("api.handle(", "api.handleRefund(");
    assert_ne!(fingerprint(&other_path), base);
}

#[test]
fn explanation_lists_the_hashed_components() {
    let (events, _) = fold_with(JAVA, FoldSettings::default());
    let exc = events[0].exception.as_ref().unwrap();
    assert_eq!(
        exc.explain,
        [
            "language:java",
            "outer:org.springframework.web.util.NestedServletException",
            "type:java.lang.IllegalStateException",
            "frame:com.acme.billing.PaymentClient.<lambda>",
            "frame:com.acme.billing.PaymentClient<lambda>.apply",
            "frame:com.acme.billing.PaymentClient.charge",
            "frame:com.acme.billing.OrderService.charge",
        ]
    );
    assert_eq!(exc.grouping_version, crate::fold::GROUPING_VERSION);
    assert_eq!(exc.fingerprint.len(), 32);
}

/// Frames are read once per run of frame lines (`exception::runs`): two events whose traces
/// differ only in their messages share their frames, which are those the trace read alone
/// gives; the same lines read under other in-app prefixes give those prefixes' frames.
#[test]
fn frames_are_read_once_per_run_of_frame_lines() {
    use crate::fold::exception::{InApp, extract};
    let chained = format!(
        "{PYTHON}\n\nDuring handling of the above exception, another exception occurred:\n\n{}",
        PYTHON
            .split_once('\n')
            .unwrap()
            .1
            .replace("line 42", "line 43")
    );
    let traces = [
        (
            JAVA.to_owned(),
            [("order 4711", "order 4712"), ("card 4111", "card 5555")],
        ),
        (
            PYTHON.to_owned(),
            [("job 991", "job 992"), ("card 4111", "card 5555")],
        ),
        (
            chained,
            [("job 991", "job 992"), ("card 4111", "card 5555")],
        ),
        (
            GO.to_owned(),
            [("[5] with length 3", "[9] with length 2"), ("", "")],
        ),
    ];
    for (trace, changes) in traces {
        let other = changes
            .iter()
            .fold(trace.clone(), |text, (from, to)| text.replace(from, to));
        assert_ne!(trace, other);
        let (events, _) = fold_with(&format!("{trace}\n{other}"), FoldSettings::default());
        let chains: Vec<_> = events
            .iter()
            .map(|e| &e.exception.as_ref().unwrap().chain)
            .collect();
        assert_eq!(chains.len(), 2, "{trace}");
        let alone = std::thread::spawn(move || fold_with(&trace, FoldSettings::default()).0)
            .join()
            .unwrap();
        let alone = &alone[0].exception.as_ref().unwrap().chain;
        assert_eq!(chains[0].len(), alone.len());
        for ((first, second), alone) in chains[0].iter().zip(chains[1]).zip(alone) {
            assert!(first.frames.is_shared_with(&second.frames));
            assert_eq!(*first.frames, *alone.frames);
            assert!(!alone.frames.is_empty());
        }
    }

    let trace = JAVA.split_once('\n').unwrap().1;
    let in_app_of = |in_app: &InApp| -> Vec<bool> {
        let (_, chain) = extract(trace, in_app, true).unwrap();
        chain[1].frames.iter().map(|f| f.in_app).collect()
    };
    let standard = in_app_of(&InApp::default());
    let only_orders = InApp {
        include: vec!["com.acme.billing.OrderService".to_owned()],
        exclude: Vec::new(),
    };
    assert_eq!(standard, [true, true, true, true, true, false]);
    assert_eq!(
        in_app_of(&only_orders),
        [false, false, false, true, true, false]
    );
    assert_eq!(in_app_of(&InApp::default()), standard);
}
