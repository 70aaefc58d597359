"""E-mail notifications (issue 15) through a real SMTP server, aiosmtpd, on 127.0.0.1: a new
problem written to a followed log arrives as one message, its Message-ID the notification's
id; once over plain SMTP to a local relay, once over STARTTLS with a private CA."""
import datetime
import ssl
import subprocess
import time

from aiosmtpd.controller import Controller

from conftest import BINARY, free_port, wait_until


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def trace(exception_type):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S,000")
    return (f"{now} ERROR [main] com.acme.Billing - charge failed\n"
            f"{exception_type}: card declined\n"
            "\tat com.acme.Billing.charge(Billing.java:42)\n")


def private_ca(tmp_path):
    """A CA and a certificate it signed for 127.0.0.1 (openssl comes from tests/setup)."""
    def run(*args):
        subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=stackfold test CA")
    run("req", *ec, "-keyout", "relay.key", "-out", "relay.csr", "-subj", "/CN=127.0.0.1")
    (tmp_path / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "relay.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "relay.pem", "-days", "2", "-extfile", "san.ext")
    return tmp_path / "ca.pem", tmp_path / "relay.pem", tmp_path / "relay.key"


def follow_and_mail(tmp_path, smtp_section, controller_kwargs):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **controller_kwargs)
    controller.start()
    logs = tmp_path / "logs"
    logs.mkdir()
    today = datetime.date.today().strftime("%Y%m%d")
    live = logs / f"app_billing_pro_1.4.3_web01_{today}.log"
    live.write_text("2020-01-01 00:00:00,000 INFO  [main] com.acme.App - started\n")
    config = tmp_path / "stackfold.toml"
    config.write_text(
        "[server]\npublic_url = \"https://stackfold.example.com\"\n\n"
        f"[smtp]\nhost = \"127.0.0.1\"\nport = {port}\n"
        "from = \"stackfold <alerts@example.com>\"\n" + smtp_section +
        "\n[[alerts]]\nname = \"new in production\"\nwhen = \"new\"\nenv = [\"pro\"]\n"
        "email = [\"ops@example.com\", \"dev@example.com\"]\n")
    data = tmp_path / "data"
    tail = subprocess.Popen(
        [str(BINARY), "tail", "--data", str(data), str(logs), "--config", str(config),
         "--commit-interval-ms", "200", "--poll-ms", "100", "--idle-ms", "200"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: (data / "index" / "meta.json").exists(), "the index")
        time.sleep(1.5)
        with live.open("a") as f:
            f.write(trace("java.util.ConcurrentModificationException"))
        wait_until(lambda: inbox.messages, "an e-mail", seconds=15)
        time.sleep(1)
        assert len(inbox.messages) == 1
        message = inbox.messages[0]
        assert sorted(message.rcpt_tos) == ["dev@example.com", "ops@example.com"]
        text = message.content.decode()
        assert "Subject: [stackfold] New problem: java.util.ConcurrentModificationException" in text
        assert "https://stackfold.example.com/#/group/" in text
        message_id = next(line for line in text.splitlines()
                          if line.lower().startswith("message-id:"))
        assert message_id.split("<", 1)[1].split("@", 1)[0].isalnum()
        return inbox
    finally:
        tail.kill()
        tail.wait()
        controller.stop()


def test_a_new_problem_is_mailed_once_through_a_local_relay(tmp_path):
    follow_and_mail(tmp_path, "starttls = false\n", {})


def test_a_new_problem_is_mailed_once_over_starttls(tmp_path):
    ca, cert, key = private_ca(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = follow_and_mail(tmp_path, f"starttls = true\nca = \"{ca}\"\n",
                            {"tls_context": context, "require_starttls": True})
    assert inbox.messages
