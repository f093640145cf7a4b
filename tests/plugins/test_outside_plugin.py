"""The example plugin packages, installed with pip, driven through the real CLI.

Each package in ``plugins/`` is installed with ``pip install --no-deps --target SITE`` (opsflow
itself is already installed) and ``opsflow`` runs in a subprocess with ``PYTHONPATH=SITE``,
so the plugins are found the way an outside author's are: through their entry points.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from http_servers import QuietHTTPServer

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("opsflow-customer-value", "opsflow-sms-gateway")
API_KEY = "sk-outside-5f8a1c"
T0 = "2026-03-02T09:00:00+00:00"
SIX_HOURS_LATER = "2026-03-02T15:00:00+00:00"

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example packages installed with pip into a folder of their own."""
    target = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    command += ["--disable-pip-version-check", "--target", str(target)]
    if importlib.util.find_spec("hatchling") is not None:  # no download of the build backend
        command.append("--no-build-isolation")
    command += [str(REPO / "plugins" / name) for name in PACKAGES]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return target


# -- a fake SMS gateway -----------------------------------------------------------------


@dataclass
class Gateway:
    """An HTTP server on 127.0.0.1 recording requests; answers ``failures`` first, then 200."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    fake = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            fake.requests.append({"headers": dict(self.headers.items()), "body": body})
            status = fake.failures.pop(0) if fake.failures else 200
            answer = json.dumps({"id": f"msg-{len(fake.requests)}"}).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            return

    server = QuietHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1/messages"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# -- a project using both plugins ---------------------------------------------------------

WORKFLOW = """\
workflow: account_review
version: 1
title: 客户价值复盘 Account review
roles: [analyst, director]
fields:
  title: {type: string, required: true}
  last_quarter: {type: number}
  this_quarter: {type: number}
states:
  open: {initial: true}
  growing: {}
  flat: {}
  closed: {final: true}
transitions:
  - event: review
    from: open
    to: growing
    roles: [analyst]
    when: "pct_change(last_quarter, this_quarter) >= 10"
    do: [{notify: {channel: oncall_sms, to: director, message: "{{ title }} is growing"}}]
  - event: review
    from: open
    to: flat
    roles: [analyst]
    when: "not (pct_change(last_quarter, this_quarter) >= 10)"
  - {event: close, from: [growing, flat], to: closed, roles: [analyst]}
metrics:
  clv_2025:
    calculator: clv
    params: {source: orders, start: "2025-01-01", end: "2025-12-31", lifespan: 3,
             gross_margin: 0.4}
  payback:
    calculator: cac_payback
    params: {marketing_spend: 30000, new_customers: 100, monthly_revenue: 25}
"""

ORDERS = """\
customer_id,amount,date
c1,120.00,2025-01-05
c1,80.00,2025-03-17
c2,200.50,2025-02-01
c2,99.99,2025-09-12
c3,45.25,2025-06-30
c4,300.00,2025-12-31
c1,60.00,2026-01-02
"""


def write_config(project: Path, gateway: Gateway, plugins: str = "") -> None:
    (project / "opsflow.yaml").write_text(
        "database: sqlite:///opsflow.db\n"
        "workflows: workflows/\n"
        "team: {ann: [analyst], dora: [director]}\n"
        "channels:\n"
        f"  oncall_sms: {{notifier: sms, url: '{gateway.url}', api_key: '${{SMS_API_KEY}}',\n"
        "               sender: OPS, recipients: {director: '+8613900000000'}}\n"
        "sources:\n"
        "  orders: {path: data/orders.csv}\n" + plugins,
        encoding="utf-8",
    )


@pytest.fixture
def project(tmp_path: Path, gateway: Gateway) -> Path:
    root = tmp_path / "project"
    (root / "workflows").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "workflows" / "account_review.yaml").write_text(WORKFLOW, encoding="utf-8")
    (root / "data" / "orders.csv").write_text(ORDERS, encoding="utf-8")
    write_config(root, gateway)
    return root


@pytest.fixture
def run(site: Path, project: Path) -> Run:
    """``run(*args, env=..., cwd=...)``: the real ``opsflow`` in a subprocess, as ann."""

    def run_opsflow(
        *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("OPSFLOW_")}
        full_env.update(
            PYTHONPATH=str(site), SMS_API_KEY=API_KEY, OPSFLOW_ACTOR="ann", OPSFLOW_NOW=T0
        )
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "opsflow", *args],
            cwd=cwd or project,
            env=full_env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=120,
            check=False,
        )

    return run_opsflow


def plugin_names(run: Run, **kwargs: Any) -> dict[str, dict[str, Any]]:
    done = run("plugins", "--json", **kwargs)
    assert done.returncode == 0, done.stderr
    return {p["name"]: p for p in json.loads(done.stdout)}


def start(run: Run, last: int, this: int) -> str:
    done = run(
        "start", "account_review", "--set", "title=春季复盘", "--set", f"last_quarter={last}",
        "--set", f"this_quarter={this}", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["id"])


# -- the scenarios ------------------------------------------------------------------------


def test_opsflow_plugins_lists_the_installed_packages(run: Run) -> None:
    plugins = plugin_names(run)
    value, sms = plugins["customer_value"], plugins["sms_gateway"]
    assert (value["kind"], value["version"]) == ("installed", "0.1.0")
    assert value["calculators"] == ["clv", "cac_payback"]
    assert value["functions"] == ["pct_change"]
    assert value["hooks"] == ["register_calculators", "register_functions"]
    assert (sms["kind"], sms["version"], sms["notifiers"]) == ("installed", "0.1.0", ["sms"])
    assert sms["commands"] == ["sms-test"]
    assert sms["hooks"] == ["before_transition", "register_commands", "register_notifiers"]
    assert not [p for p in plugins.values() if "error" in p]


def test_compute_runs_the_plugin_calculators(run: Run) -> None:
    case = start(run, 100, 115)
    done = run("compute", case, "--json")
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)["metrics"]
    assert metrics["clv_2025"] == pytest.approx(845.74 / 4 * 3 * 0.4)  # 4 customers, 1 year
    assert metrics["payback"] == 12.0
    history = json.loads(run("history", case, "--json").stdout)
    assert [e["kind"] for e in history].count("metric") == 2


def test_the_function_decides_and_the_notifier_retries_once(run: Run, gateway: Gateway) -> None:
    flat = run("fire", start(run, 100, 105), "review")
    assert (flat.returncode, flat.stdout) == (0, "flat\n"), flat.stderr
    growing = run("fire", start(run, 100, 115), "review")
    assert (growing.returncode, growing.stdout) == (0, "growing\n"), growing.stderr

    gateway.failures.append(503)
    first = run("worker", "--once", "--json")
    assert first.returncode == 0, first.stderr
    assert (json.loads(first.stdout)["retried"], json.loads(first.stdout)["delivered"]) == (1, 0)
    [row] = json.loads(run("outbox", "--json").stdout)
    assert (row["status"], row["attempts"], row["channel"]) == ("pending", 1, "oncall_sms")
    assert "HTTP 503" in row["last_error"]
    assert API_KEY not in first.stdout + first.stderr + json.dumps(row)

    second = run("worker", "--once", "--json", env={"OPSFLOW_NOW": SIX_HOURS_LATER})
    assert json.loads(second.stdout)["delivered"] == 1, second.stderr
    [row] = json.loads(run("outbox", "--json").stdout)
    assert (row["status"], row["attempts"], row["last_error"]) == ("delivered", 2, None)
    assert len(gateway.requests) == 2
    assert {r["headers"]["Idempotency-Key"] for r in gateway.requests} == {row["dedupe_key"]}
    assert gateway.requests[-1]["headers"]["Authorization"] == f"Bearer {API_KEY}"
    assert gateway.requests[-1]["body"]["to"] == "+8613900000000"
    assert gateway.requests[-1]["body"]["text"] == "春季复盘 is growing"


def test_the_guard_refuses_an_event_and_the_refusal_is_audited(run: Run, project: Path) -> None:
    case = start(run, 100, 115)
    (project / "CHANGE_FREEZE").write_text("# quarter close\nreview\n", encoding="utf-8")
    refused = run("fire", case, "review")
    assert refused.returncode == 4, refused.stderr
    assert "change freeze" in refused.stderr
    assert "quarter close" in refused.stderr
    history = json.loads(run("history", case, "--json").stdout)
    assert [e["kind"] for e in history] == ["start", "denied"]
    assert history[-1]["event"] == "review"
    (project / "CHANGE_FREEZE").unlink()
    assert run("fire", case, "review").stdout == "growing\n"


def test_the_plugin_command_runs(run: Run, gateway: Gateway, project: Path) -> None:
    done = run("sms-test", "director", "--message", "drill")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "sent to director through channel oncall_sms (gateway id msg-1)\n"
    assert gateway.requests[0]["body"]["to"] == "+8613900000000"
    # global options reach plugin commands: --config from another directory
    elsewhere = run(
        "--config", str(project / "opsflow.yaml"), "sms-test", "+8613800000000",
        cwd=project.parent,
    )  # fmt: skip
    assert elsewhere.returncode == 0, elsewhere.stderr
    gateway.failures.append(500)
    failed = run("sms-test", "director")
    assert failed.returncode == 1
    assert "answered HTTP 500" in failed.stderr
    assert API_KEY not in failed.stderr


def test_the_autoload_switch_hides_the_packages(run: Run) -> None:
    env = {"OPSFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"}
    plugins = plugin_names(run, env=env)
    assert "customer_value" not in plugins
    assert "sms_gateway" not in plugins
    missing = run("sms-test", "director", env=env)
    assert missing.returncode == 2
    assert "No such command 'sms-test'" in missing.stderr


@pytest.mark.parametrize(
    ("allow", "shown"),
    [
        ("[opsflow-customer-value]", {"customer_value"}),
        ("[sms_gateway]", {"sms_gateway"}),
        ("[customer_value, opsflow_sms_gateway]", {"customer_value", "sms_gateway"}),
        ("[]", set()),
    ],
)
def test_the_allow_list_chooses_the_packages(
    run: Run, project: Path, gateway: Gateway, allow: str, shown: set[str]
) -> None:
    write_config(project, gateway, f"plugins: {{allow: {allow}}}\n")
    plugins = plugin_names(run)
    assert {"customer_value", "sms_gateway"} & set(plugins) == shown


@pytest.mark.parametrize("package", PACKAGES)
def test_the_package_tests_pass(site: Path, package: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSFLOW_")}
    env["PYTHONPATH"] = str(site)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "opsflow.testing"],
        cwd=REPO / "plugins" / package,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout
    assert "skipped" not in done.stdout  # the entry-point test ran against the installed package
