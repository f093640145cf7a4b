"""``opsflow demo``: a fresh project and one real content_approval case from draft to published."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from opsflow.cli import output as out
from opsflow.errors import OpsflowError

if TYPE_CHECKING:
    from opsflow.facade import Engine
    from opsflow.scenarios import SimulatedClock

MARKER = ".opsflow-demo"
WORKFLOW = "content_approval"
SERVED_AT = "http://127.0.0.1:8080"  # where `opsflow serve` listens by default


def prepare(directory: Path) -> None:
    """Wipe a previous demo in ``directory`` and copy a fresh project template there."""
    from opsflow.cli.admin import copy_templates

    if directory.exists():
        if (directory / MARKER).exists():
            shutil.rmtree(directory)
        elif directory.is_file() or any(directory.iterdir()):
            raise OpsflowError(
                f"{directory} exists and is not an opsflow demo folder; choose another --dir"
            )
    directory.mkdir(parents=True, exist_ok=True)
    copy_templates(directory, force=True)
    (directory / MARKER).write_text("made by `opsflow demo`; removed by the next run\n")


def _person(team: dict[str, list[str]], role: str, avoid: str | None = None) -> str:
    for name, roles in team.items():
        if role in roles and name != avoid:
            return name
    return next((n for n, r in team.items() if role in r), role)


class Demo:
    """Drives one case through the real workflow, printing each step like a session."""

    def __init__(self, engine: Engine, clock: SimulatedClock) -> None:
        self.engine = engine
        self.clock = clock
        self.case_id = ""

    def say(self, text: str) -> None:
        click.echo()
        click.secho(text, bold=out.is_terminal())

    def command(self, actor: str | None, args: str) -> None:
        who = f"--as {actor} " if actor else ""
        line = f"  $ opsflow {who}{args}"
        click.secho(line, fg="cyan" if out.is_terminal() else None)

    def answer(self, text: str, ok: bool = True) -> None:
        colour = ("green" if ok else "red") if out.is_terminal() else None
        click.secho(f"    {text}", fg=colour)

    def fire(self, actor: str, event: str, comment: str | None = None) -> bool:
        from opsflow.cli.cases import describe_fire

        extra = f" --comment '{comment}'" if comment else ""
        self.command(actor, f"fire {self.case_id[:8]} {event}{extra}")
        try:
            result = self.engine.fire(self.case_id, event, actor=actor, comment=comment)
        except OpsflowError as exc:
            self.answer(f"error ({exc.code}): {exc.message}", ok=False)
            for reason in exc.reasons:
                self.answer(f"  - {reason}", ok=False)
            return False
        for line in describe_fire(result):
            self.answer(f"-> {line}")
        return True

    def worker(self) -> None:
        from opsflow.cli.admin import summarize

        self.command(None, "worker --once")
        self.answer(summarize(self.engine.run_due()))

    def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        self.answer(f"(time passes: it is now {out.moment(self.clock())})")

    def state(self) -> str:
        return self.engine.status(self.case_id).state


def run_story(engine: Engine, clock: SimulatedClock, team: dict[str, list[str]]) -> Demo:
    """The demo's story, step by step, on ``engine``."""
    demo = Demo(engine, clock)
    author = _person(team, "author")
    editor = _person(team, "editor", avoid=author)
    if "editor" not in team.get(author, []):
        # so that the refusal shown is four-eyes (not_by: [submit]), not a missing role
        engine.settings.team = {**team, author: [*team.get(author, []), "editor"]}
        demo.answer(f"(for this demo {author} also holds the editor role)")
    brand = _person(team, "brand")
    publisher = _person(team, "publisher")
    fields = engine.workflow_spec(WORKFLOW).fields
    publish_at = clock() + timedelta(days=2)
    wanted: dict[str, Any] = {
        "title": "春季新品发布 Spring launch",
        "kind": "article",
        "publish_at": publish_at.isoformat(),
        "impressions": 12000,
        "interactions": 840,
    }
    data = {k: v for k, v in wanted.items() if k in fields}

    demo.say(f"1. {author} (author) starts a case of {WORKFLOW}")
    title = data.get("title", "")
    demo.command(author, f"start {WORKFLOW} --set title='{title}' --set kind=article")
    case = engine.start(WORKFLOW, data=data, actor=author)
    demo.case_id = case.id
    demo.answer(f"case {case.id} in state {case.state}")

    demo.say(f"2. {author} submits it for editorial review")
    demo.fire(author, "submit")

    demo.say(f"3. Four eyes: {author} may edit, but not approve what {author} submitted")
    demo.fire(author, "approve")

    demo.say(f"4. {editor} (editor) approves; the brand team is notified")
    demo.fire(editor, "approve", comment="Reads well")
    demo.worker()

    demo.say(f"5. {brand} (brand) approves; no claims, so it is scheduled for publication")
    demo.fire(brand, "approve")

    demo.say("6. Two days later the worker fires the publication timer")
    demo.advance(publish_at - clock() + timedelta(minutes=1))
    demo.worker()
    if demo.state() == "scheduled":  # the timer could not publish: the publisher does it
        demo.fire(publisher, "publish")
    demo.answer(f"state: {demo.state()}")
    return demo


@click.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("opsflow-demo"),
    show_default=True,
    help="Where to create the demo project (a previous demo there is replaced).",
)
def demo(directory: Path) -> None:
    """Create a demo project and take one case from draft to published.

    Uses the real content_approval workflow, several people of the template team,
    a refused four-eyes attempt, the worker firing a timer and notifications
    delivered to the console and to notifications.jsonl. Runs in a few seconds.
    Ends with how to open the web board: a demo user and a new random password
    (the project, its database and so the password are made anew on every run).

    Examples:

    \b
      opsflow demo
      opsflow demo --dir /tmp/opsflow-demo
      cd opsflow-demo && opsflow cases && opsflow history <CASE>
    """
    from opsflow.cli.context import app
    from opsflow.clock import system_now
    from opsflow.config import load_settings
    from opsflow.facade import Engine
    from opsflow.scenarios import SimulatedClock

    prepare(directory)
    out.success(f"created a demo project in {directory}")
    db_url = f"sqlite:///{(directory / 'opsflow.db').resolve()}"
    settings = load_settings(
        db=db_url,
        workflows=str(directory / "workflows"),
        config=str(directory / "opsflow.yaml"),
    )
    app().adopt(settings)  # times shown on the demo project's clocks (its timezone:)
    clock = SimulatedClock(system_now().replace(second=0, microsecond=0))
    engine = Engine(settings=settings, clock=clock)
    try:
        story = run_story(engine, clock, dict(settings.team))
        _finish(engine, story.case_id, directory, _person(settings.team, "publisher"))
    finally:
        closer: Callable[[], None] | None = getattr(engine, "close", None)
        if callable(closer):
            closer()


def _finish(engine: Engine, case_id: str, directory: Path, viewer: str) -> None:
    from opsflow.cli.cases import HISTORY_HEADERS, history_rows, print_case

    out.heading("The case now (opsflow status)")
    print_case(engine.status(case_id, actor=viewer), engine.settings.server.locale)
    out.heading("Its history (opsflow history)")
    out.table(HISTORY_HEADERS, history_rows(engine.history(case_id)))
    _checked, problems = engine.audit_verify()
    out.heading("opsflow audit verify")
    if problems:
        out.print_error(f"the history of {len(problems)} case(s) is broken")
        raise click.exceptions.Exit(1)
    out.success("ok: every history chain is intact")
    out.echo(
        f"\nExplore it:  cd {directory} && opsflow cases && opsflow history {case_id[:8]}"
        "\n             opsflow graph content_approval --case " + case_id[:8]
    )
    show_service(engine, case_id, directory, viewer)


def show_service(engine: Engine, case_id: str, directory: Path, viewer: str) -> None:
    """Make a token, ask the real HTTP API for the case once, and say how to serve it."""
    from opsflow.cli import demo_service

    out.heading("The HTTP API (opsflow serve)")
    if not demo_service.available():
        out.echo("Install the service to try it:  pip install 'opsflow[server]'")
        return
    token = demo_service.demo_token(engine, viewer)
    url = f"/v1/cases/{case_id}"
    out.echo(f"A read-only token for {viewer} (opsflow token create --for {viewer} --read-only):")
    out.echo(f"  TOKEN={token}")
    out.echo("One call, answered just now by the service on a local port:")
    out.echo(f'  $ curl -H "Authorization: Bearer $TOKEN" {SERVED_AT}{url}')
    try:
        status, answer = demo_service.ask_once(engine, url, token)
    except OSError as exc:  # no local port, a firewall: the demo itself is done
        out.echo(f"    (could not start the service here: {exc})")
    else:
        out.echo(f"    HTTP {status}: {answer}")
    show_board(engine, directory, _person(engine.settings.team, "author"))


def show_board(engine: Engine, directory: Path, person: str) -> None:
    """Give ``person`` a new random password and say how to open the board with it."""
    from opsflow.cli import demo_service

    password = demo_service.demo_password(engine, person)
    waiting = leave_work(engine, person)
    out.heading("The web board (opsflow serve)")
    out.echo(
        f"Waiting there: {len(waiting)} more cases, "
        f"{sum(state == 'draft' for state in waiting.values())} of them drafts for {person} to "
        "submit"
    )
    out.echo(f"Serve it:     cd {directory} && opsflow serve")
    out.echo(f"Then open:    {SERVED_AT}/")
    out.echo(f"Log in as:    {person}")
    out.echo(f"Password:     {password}")
    out.echo(
        f"              (new for this demo; change it: opsflow user {person} --password)"
        f"\nAPI docs:     {SERVED_AT}/v1/docs"
    )


# Cases the demo leaves on the board, so that its user finds work there: (title, submitted)
WAITING = (
    ("官网首页改版 Home page refresh", False),
    ("小红书种草笔记 Xiaohongshu seeding note", False),
    ("618 大促主推文案 Summer sale hero copy", True),
)


def leave_work(engine: Engine, author: str) -> dict[str, str]:
    """Start :data:`WAITING`'s cases as ``author`` at the real time (the story's clock ran
    two days ahead): drafts to submit, and one awaiting editorial review. Their states."""
    from opsflow.clock import system_now
    from opsflow.facade import Engine as RealTime

    fields = engine.workflow_spec(WORKFLOW).fields
    now = RealTime(settings=engine.settings, clock=system_now)
    states: dict[str, str] = {}
    try:
        for title, submitted in WAITING:
            publish_at = system_now() + timedelta(days=7)
            wanted = {"title": title, "kind": "article", "publish_at": publish_at.isoformat()}
            data = {k: v for k, v in wanted.items() if k in fields}
            case = now.start(WORKFLOW, data=data, actor=author)
            if submitted:
                case = now.fire(case.id, "submit", actor=author).case
            states[case.id] = case.state
    finally:
        now.close()
    return states


COMMANDS = [demo]
