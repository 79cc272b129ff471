"""``pbx queue`` and ``pbx agent``: call-center queues and their agents (CC-1 to CC-4)."""

from __future__ import annotations

from typing import Any

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller.application import Pbx
from esl_controller.call_centers import CallCenters
from esl_controller.domain.call_centers import (
    AGENT_STATES,
    ANNOUNCE,
    DEFAULT_BOUNCE_AFTER,
    DEFAULT_MAX_NO_ANSWERS,
    DEFAULT_WRAP_UP,
    POLICIES,
    STRANDED,
    TIERS,
)
from esl_controller.domain.numbers import national_format
from projections.call_centers_fold import QueueView


def _shown(destination: str | None) -> str:
    if destination is None:
        return "busy"
    return national_format(destination) if destination.startswith("+") else destination


def _as_dict(queue: QueueView) -> dict[str, Any]:
    return {
        "name": queue.name, "extension": queue.extension, "numbers": list(queue.numbers),
        "tier": queue.tier, "policy": queue.policy, "agents": list(queue.agents),
        "max_wait": queue.max_wait, "overflow": queue.overflow or "busy",
        "comfort_every": queue.comfort_every, "bounce_after": queue.bounce_after,
        "max_no_answers": queue.max_no_answers, "stranded": queue.stranded,
        "auto_answer": queue.auto_answer, "wrap_up": queue.wrap_up,
        "welcome": queue.welcome, "welcome_mandatory": queue.welcome_mandatory,
        "music": queue.music, "priority_numbers": list(queue.priority_numbers),
        "supervisors": list(queue.supervisors),  # CC-5
        "announce": queue.announce, "overflow_greeting": queue.overflow_greeting,  # CC-2
        "id": str(queue.id),
    }


@click.group("queue")
def queue() -> None:
    """Call-center queues: callers wait with music until an agent is free (policies regular,
    circular, uniform, simultaneous, weighted; higher priority first). Agents sign in with
    *50 and out with *51 + the queue's extension."""


@queue.command("add")
@click.argument("name")
@enterprise_option
@click.option("--extension", required=True, help="The queue's extension (the user plan).")
@click.option("--number", "numbers_", multiple=True, metavar="NUMBER",
              help="A public number of the queue (repeatable).")
@click.option("--tier", type=click.Choice([str(t) for t in TIERS]), required=True,
              help="The most callers waiting at once; more overflow.")
@click.option("--policy", required=True, metavar="|".join(POLICIES),
              help="Which free agent gets the next call.")
@click.option("--max-wait", type=int, metavar="S", help="Overflow after S seconds waiting.")
@click.option("--overflow", metavar="DEST",
              help="Where overflowing calls go: busy (default), EXT, vm:EXT or a number.")
@click.option("--comfort-every", type=int, metavar="S",
              help="A comfort message every S seconds of waiting.")
@click.option("--comfort", metavar="MEDIA", help="The comfort message (file or stream).")
@click.option("--welcome", metavar="MEDIA", help="The welcome greeting (file or stream).")
@click.option("--welcome-mandatory", is_flag=True,
              help="Every caller hears the whole greeting, even with an agent free.")
@click.option("--music", metavar="MEDIA", help="Music while waiting (default: hold music).")
@click.option("--bounce-after", type=int, default=DEFAULT_BOUNCE_AFTER, show_default=True,
              metavar="S", help="Seconds an agent rings before the call returns to the queue.")
@click.option("--max-no-answers", type=int, default=DEFAULT_MAX_NO_ANSWERS, show_default=True,
              metavar="N", help="Offers in a row an agent lets ring out before unavailable.")
@click.option("--wrap-up", type=int, default=DEFAULT_WRAP_UP, show_default=True, metavar="S",
              help="Seconds of wrap-up for an agent after a queue call.")
@click.option("--stranded", type=click.Choice(STRANDED), default="overflow",
              show_default=True, help="No agent signed in: overflow at once, or wait.")
@click.option("--auto-answer", is_flag=True, help="Agents' phones answer queue calls.")
@click.option("--priority-number", "priority_numbers", multiple=True, metavar="NUMBER",
              help="Callers from this number go before the others (repeatable).")
@click.option("--announce", type=click.Choice(ANNOUNCE), default="none", show_default=True,
              help="Tell waiting callers their position and / or estimated wait, on entry "
                   "and with each comfort message.")
@click.option("--overflow-greeting", metavar="MEDIA",
              help="Played to a caller before the overflow (file or stream).")
@json_option
@pass_app
def add(app: Pbx, name: str, enterprise: str | None, extension: str,
        numbers_: tuple[str, ...], tier: str, policy: str, max_wait: int | None,
        overflow: str | None, comfort_every: int | None, comfort: str | None,
        welcome: str | None, welcome_mandatory: bool, music: str | None, bounce_after: int,
        max_no_answers: int, wrap_up: int, stranded: str, auto_answer: bool,
        priority_numbers: tuple[str, ...], announce: str, overflow_greeting: str | None,
        as_json: bool) -> None:
    """Add a queue."""
    view = CallCenters(app).add(
        enterprise, name, extension, int(tier), policy, numbers_, max_wait=max_wait,
        overflow=overflow, comfort_every=comfort_every, bounce_after=bounce_after,
        auto_answer=auto_answer, welcome=welcome, welcome_mandatory=welcome_mandatory,
        comfort=comfort, music=music, stranded=stranded, wrap_up=wrap_up,
        max_no_answers=max_no_answers, priority_numbers=priority_numbers,
        announce=announce, overflow_greeting=overflow_greeting)
    if as_json:
        emit_json(_as_dict(view))
        return
    numbers = "".join(f", number {national_format(n)}" for n in view.numbers)
    wait = f", overflow after {view.max_wait} s" if view.max_wait else ", overflow when full"
    click.echo(f"queue {view.name} added: extension {view.extension}{numbers}, tier "
               f"{view.tier}, {view.policy}{wait} to {_shown(view.overflow)}")


def _cleared(value: str | None) -> str | None | bool:
    """A media or destination option of ``queue set``: ``none`` clears it."""
    if value is None:
        return False  # not given
    return None if value.strip().lower() == "none" else value


@queue.command("set")
@click.argument("name")
@enterprise_option
@click.option("--tier", type=click.Choice([str(t) for t in TIERS]))
@click.option("--policy", metavar="|".join(POLICIES))
@click.option("--max-wait", type=int, metavar="S", help="Overflow after S seconds (0: never).")
@click.option("--overflow", metavar="DEST", help="busy, EXT, vm:EXT or a number (none: busy).")
@click.option("--comfort-every", type=int, metavar="S", help="Comfort message interval (0: off).")
@click.option("--comfort", metavar="MEDIA", help="The comfort message (none: remove).")
@click.option("--welcome", metavar="MEDIA", help="The welcome greeting (none: remove).")
@click.option("--welcome-mandatory/--welcome-optional", default=None)
@click.option("--music", metavar="MEDIA", help="Music while waiting (none: hold music).")
@click.option("--bounce-after", type=int, metavar="S")
@click.option("--max-no-answers", type=int, metavar="N")
@click.option("--wrap-up", type=int, metavar="S")
@click.option("--stranded", type=click.Choice(STRANDED))
@click.option("--auto-answer/--no-auto-answer", default=None)
@click.option("--priority-number", "priority_numbers", multiple=True, metavar="NUMBER",
              help="Replaces the priority numbers (repeatable; 'none' for none).")
@click.option("--announce", type=click.Choice(ANNOUNCE))
@click.option("--overflow-greeting", metavar="MEDIA", help="(none: remove).")
@pass_app
def set_(app: Pbx, name: str, enterprise: str | None, **options: Any) -> None:
    """Change a queue's settings in place (only those given); waiting callers stay."""
    changes: dict[str, Any] = {}
    for key in ("tier", "policy", "bounce_after", "max_no_answers", "wrap_up", "stranded",
                "announce", "welcome_mandatory", "auto_answer"):
        if options[key] is not None:
            changes[key] = int(options[key]) if key == "tier" else options[key]
    for key in ("max_wait", "comfort_every"):
        if options[key] is not None:
            changes[key] = options[key] or None  # 0: off
    for key in ("overflow", "comfort", "welcome", "music", "overflow_greeting"):
        value = _cleared(options[key])
        if value is not False:
            changes[key] = value
    if options["priority_numbers"]:
        given = [n for n in options["priority_numbers"] if n.strip().lower() != "none"]
        changes["priority_numbers"] = given
    view = CallCenters(app).set(enterprise, name, changes)
    wait = f"overflow after {view.max_wait} s" if view.max_wait else "overflow when full"
    click.echo(f"queue {view.name} changed ({', '.join(k.replace('_', '-') for k in changes)}"
               f"): tier {view.tier}, {view.policy}, {wait} to {_shown(view.overflow)}, "
               f"announce {view.announce}")


@queue.group("agent")
def agent_group() -> None:
    """A queue's agents."""


@agent_group.command("add")
@click.argument("name")
@click.argument("extension")
@enterprise_option
@pass_app
def agent_add(app: Pbx, name: str, extension: str, enterprise: str | None) -> None:
    """Make a user an agent of the queue (signed in to it)."""
    view = CallCenters(app).add_agent(enterprise, name, extension)
    click.echo(f"{extension.strip()} is an agent of queue {view.name}, signed in: agents "
               f"{', '.join(view.agents)}")


@agent_group.command("remove")
@click.argument("name")
@click.argument("extension")
@enterprise_option
@pass_app
def agent_remove(app: Pbx, name: str, extension: str, enterprise: str | None) -> None:
    """Remove an agent from the queue."""
    view = CallCenters(app).remove_agent(enterprise, name, extension)
    click.echo(f"{extension.strip()} removed from queue {view.name}: agents "
               f"{', '.join(view.agents) or '-'}")


@queue.command("show")
@click.argument("name")
@enterprise_option
@json_option
@pass_app
def show(app: Pbx, name: str, enterprise: str | None, as_json: bool) -> None:
    """A queue live: its settings, the callers waiting, its agents' states, its figures."""
    from projections import blf as blf_projection

    centers = CallCenters(app)
    view = centers.queue(enterprise, name)
    lines = blf_projection.read_line_states(app, view.enterprise_id)
    live = centers.live(view, lambda _ent, ext: lines.get(ext) == "busy")
    if as_json:
        emit_json({**_as_dict(view), **live})
        return
    numbers = ", ".join(national_format(n) for n in view.numbers) or "-"
    click.echo(f"queue {view.name}: extension {view.extension}, numbers {numbers}, tier "
               f"{view.tier}, policy {view.policy}")
    wait = f"after {view.max_wait} s" if view.max_wait else "never by time"
    click.echo(f"overflow {wait} or when full to {_shown(view.overflow)}; stranded: "
               f"{view.stranded}; agents ring {view.bounce_after} s; wrap-up {view.wrap_up} s")
    if view.announce != "none" or view.overflow_greeting:  # announcements (CC-2)
        click.echo(f"announce: {view.announce}; overflow greeting: "
                   f"{view.overflow_greeting or '-'}")
    if view.supervisors:  # supervisor functions (CC-5)
        click.echo(f"supervisors: {', '.join(view.supervisors)}")
    waiting = live["waiting"]
    click.echo(f"waiting: {len(waiting)}")
    if waiting:
        table([(i, w["caller"], f"{w['waited']} s", w["priority"] or "-",
                f"talking {w['talking']}" if w.get("talking")  # CC-5: answered, on the call
                else ",".join(w["offered_to"]) or "-", w["call"], w.get("node") or "-")
               for i, w in enumerate(waiting, 1)],
              ["pos", "caller", "waited", "priority", "ringing", "call", "node"])
    table([(a["extension"], a["name"] or "-", a["state"]) for a in live["agents"]],
          ["agent", "name", "state"])
    f = live.get("figures")
    if f:
        average = f"{f['average_wait']} s" if f["average_wait"] is not None else "-"
        click.echo(f"calls: {f['entered']} entered, {f['answered']} answered, "
                   f"{f['abandoned']} abandoned, {f['overflowed']} overflowed, "
                   f"{f['bounced']} bounced"
                   + (f", {f['taken']} taken by a receptionist" if f.get("taken") else "")
                   + f"; average wait {average}")


@queue.command("list")
@enterprise_option
@json_option
@pass_app
def list_(app: Pbx, enterprise: str | None, as_json: bool) -> None:
    """The enterprise's queues."""
    directory = app.directory()
    rows = [(_as_dict(q), len(directory.waiting_in(q.id)))
            for q in CallCenters(app).queues(enterprise)]
    if as_json:
        emit_json([{**r, "waiting": n} for r, n in rows])
        return
    table([(r["name"], r["extension"],
            ", ".join(national_format(n) for n in r["numbers"]) or "-", r["tier"],
            r["policy"], ", ".join(r["agents"]) or "-", n) for r, n in rows],
          ["name", "ext", "numbers", "tier", "policy", "agents", "waiting"])


@queue.command("move")
@click.argument("call_id")
@click.argument("queue_name", metavar="QUEUE")
@enterprise_option
@pass_app
def move(app: Pbx, call_id: str, queue_name: str, enterprise: str | None) -> None:
    """Move a waiting call (its id: pbx queue show --json) to another queue."""
    view = CallCenters(app).move(enterprise, call_id, queue_name)
    click.echo(f"call {call_id.strip()} moved to queue {view.name}")


@queue.command("remove")
@click.argument("name")
@enterprise_option
@pass_app
def remove(app: Pbx, name: str, enterprise: str | None) -> None:
    """Remove a queue."""
    view = CallCenters(app).remove(enterprise, name)
    click.echo(f"queue {view.name} removed")


@click.group("agent")
def agent() -> None:
    """Call-center agents: availability and signing in / out of queues."""


@agent.command("set")
@click.argument("extension")
@click.argument("state", type=click.Choice(AGENT_STATES))
@enterprise_option
@click.option("--reason", metavar="TEXT", help="Why the agent is unavailable.")
@click.option("--seconds", type=int, metavar="S",
              help="How long the wrap-up lasts (default: the queue's wrap-up).")
@pass_app
def agent_set(app: Pbx, extension: str, state: str, enterprise: str | None,
              reason: str | None, seconds: int | None) -> None:
    """Set an agent available, unavailable (with a reason) or in wrap-up."""
    CallCenters(app).set_state(enterprise, extension, state, reason, seconds)
    more = f" ({reason.strip()})" if reason else ""
    more += f" for {seconds} s" if seconds is not None else ""
    click.echo(f"agent {extension.strip()} is {state}{more}")


@agent.command("sign-in")
@click.argument("extension")
@click.argument("queue_name", metavar="QUEUE")
@enterprise_option
@pass_app
def agent_sign_in(app: Pbx, extension: str, queue_name: str, enterprise: str | None) -> None:
    """Sign an agent in to a queue (also *50 + the queue's extension)."""
    view = CallCenters(app).sign(enterprise, extension, queue_name, out=False)
    click.echo(f"agent {extension.strip()} signed in to queue {view.name}")


@agent.command("sign-out")
@click.argument("extension")
@click.argument("queue_name", metavar="QUEUE")
@enterprise_option
@pass_app
def agent_sign_out(app: Pbx, extension: str, queue_name: str, enterprise: str | None) -> None:
    """Sign an agent out of a queue (also *51 + the queue's extension)."""
    view = CallCenters(app).sign(enterprise, extension, queue_name, out=True)
    click.echo(f"agent {extension.strip()} signed out of queue {view.name}")


COMMANDS = [queue, agent]
