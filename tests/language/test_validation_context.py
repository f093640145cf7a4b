"""Checks that depend on what the project configures: sources, team, calculators."""

from __future__ import annotations

from opsflow.language.loader import LoadContext, load_workflow_text, team_context
from opsflow.plugins import load_plugins

WORKFLOW = """\
workflow: w
version: 1
roles: [author, editor]
fields:
  title: {type: string}
  owner_email: {type: string}
states:
  draft: {initial: true}
  done: {final: true}
transitions:
  - event: finish
    from: draft
    to: done
    roles: [author]
    do:
      - notify: {channel: chat, to: alice, message: done}
      - notify: {channel: chat, to: "{{ owner_emial }}", message: done}
metrics:
  n: {calculator: count, params: {source: events}}
"""


def _context(**given: object) -> LoadContext:
    plugins = load_plugins(env={"OPSFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"})
    models = tuple((n, c.params_model) for n, c in sorted(plugins.calculators.items()))
    return LoadContext(
        channels=frozenset({"chat"}),
        calculators=frozenset(plugins.calculators),
        params_models=models,
        **given,
    )  # type: ignore[arg-type]


def _messages(ctx: LoadContext) -> list[str]:
    _, diagnostics = load_workflow_text(WORKFLOW, "w.yaml", ctx)
    return [d.format() for d in diagnostics]


def test_without_sources_configured_every_source_is_unknown() -> None:
    assert (
        "w.yaml:19:43: error: metric 'n' (calculator 'count') reads unknown source 'events' "
        "(no sources are configured in opsflow.yaml)" in _messages(_context(sources=frozenset()))
    )


def test_sources_are_not_checked_when_the_caller_does_not_know_them() -> None:
    assert not any("source" in m for m in _messages(_context()))


def test_a_team_member_is_a_recipient_and_roles_without_holders_warn() -> None:
    team = team_context({"alice": ["author"]})
    messages = _messages(_context(sources=frozenset({"events"}), team=team))
    assert messages == [
        "w.yaml:3:17: warning: no one in the team holds role 'editor'; give it to someone in "
        "the team section of opsflow.yaml",
        "w.yaml:17:41: error: to of transition 'finish' reads unknown variable 'owner_emial' "
        "(did you mean 'owner_email'?)",
    ]


def test_without_a_team_a_name_is_not_a_recipient() -> None:
    messages = _messages(_context(sources=frozenset({"events"})))
    assert messages[0].startswith(
        "w.yaml:16:37: error: transition 'finish' notifies 'alice', "
        "which is neither a role, a team member (no team is "
        "configured)"
    )
    assert not any("holds role" in m for m in messages)
