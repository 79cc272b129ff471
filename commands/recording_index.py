"""``pbx recording-team`` (who hears whose recordings) and ``pbx recordings search | label |
favourite | share | unshare`` (REC-3): the recording index as each user may see it."""

from __future__ import annotations

import importlib

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller import recording_access as access
from esl_controller.application import Pbx
from esl_controller.audit_refusals import refusals_recorded  # issue 6 item 7

as_option = click.option("--as", "as_ext", required=True, metavar="EXT",
                         help="The user asking: results are what they may hear.")


# -- teams ------------------------------------------------------------------------------------
@click.group("recording-team")
def recording_team() -> None:
    """Recording teams: listeners hear the recordings of the team's contributors."""


@recording_team.command("add")
@click.argument("name")
@enterprise_option
@pass_app
def team_add(app: Pbx, name: str, enterprise: str | None) -> None:
    """Create an empty recording team."""
    team = access.add_team(app, enterprise, name)
    click.echo(f"recording team {team.name} created")


@recording_team.group("member")
def member() -> None:
    """Listeners and contributors of a team."""


@member.command("add")
@click.argument("name")
@click.argument("extension")
@click.option("--listener", "role", flag_value="listener",
              help="Hears every recording of the team's contributors.")
@click.option("--contributor", "role", flag_value="contributor",
              help="Is recorded; hears only their own recordings.")
@click.option("--both", "role", flag_value="both", help="Listener and contributor.")
@enterprise_option
@pass_app
def member_add(app: Pbx, name: str, extension: str, role: str | None,
               enterprise: str | None) -> None:
    """Add a user to a team, or change their role in it."""
    if role is None:
        raise click.UsageError("say --listener, --contributor or --both")
    team, user = access.set_member(app, enterprise, name, extension, role)
    shown = "listener and contributor" if role == "both" else role
    click.echo(f"{user.extension} ({user.name}) is now {shown} in recording team {team.name}")


@member.command("remove")
@click.argument("name")
@click.argument("extension")
@enterprise_option
@pass_app
def member_remove(app: Pbx, name: str, extension: str, enterprise: str | None) -> None:
    """Take a user out of a team."""
    team, user = access.remove_member(app, enterprise, name, extension)
    click.echo(f"{user.extension} ({user.name}) removed from recording team {team.name}")


@recording_team.command("show")
@click.argument("name")
@enterprise_option
@json_option
@pass_app
def team_show(app: Pbx, name: str, enterprise: str | None, as_json: bool) -> None:
    """A team's members and their roles."""
    team = access.team(app, enterprise, name)
    rows = sorted(({"extension": ext, "listener": li, "contributor": co}
                   for ext, li, co in team.members.values()), key=lambda r: str(r["extension"]))
    if as_json:
        emit_json({"team": team.name, "members": rows})
        return
    click.echo(f"recording team {team.name}: {len(rows)} member(s)")
    if rows:
        table([(r["extension"], "yes" if r["listener"] else "no",
                "yes" if r["contributor"] else "no") for r in rows],
              ["extension", "listener", "contributor"])


@recording_team.command("list")
@enterprise_option
@pass_app
def team_list(app: Pbx, enterprise: str | None) -> None:
    """The enterprise's recording teams."""
    found = access.teams(app, enterprise)
    table([(t.name, len(t.listeners), len(t.contributors)) for t in found],
          ["team", "listeners", "contributors"])


# -- the index --------------------------------------------------------------------------------
@click.command("search")
@as_option
@click.option("--user", default=None, metavar="EXT", help="Recordings of this user.")
@click.option("--team", "team_name", default=None, metavar="NAME",
              help="Recordings of this team's contributors.")
@click.option("--number", default=None, metavar="N", help="The other party's number.")
@click.option("--from", "date_from", default=None, metavar="DATE",
              help="From this day (YYYY-MM-DD, or YYYY-MM-DDTHH:MM; enterprise time).")
@click.option("--to", "date_to", default=None, metavar="DATE", help="Up to this day, included.")
@click.option("--min-seconds", type=float, default=None, help="At least this long.")
@click.option("--max-seconds", type=float, default=None, help="At most this long.")
@click.option("--label", default=None, help="Carrying this label (your own labels).")
@click.option("--favourites", is_flag=True, help="Only your favourites.")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@enterprise_option
@json_option
@pass_app
@refusals_recorded("recordings search", numbers=("number",))
def search(app: Pbx, as_ext: str, user: str | None, team_name: str | None,
           number: str | None, date_from: str | None, date_to: str | None,
           min_seconds: float | None, max_seconds: float | None, label: str | None,
           favourites: bool, limit: int, enterprise: str | None, as_json: bool) -> None:
    """Recordings the user may hear, newest first."""
    found = access.search(app, enterprise, as_ext, user=user, team_name=team_name,
                          number=number, date_from=date_from, date_to=date_to,
                          min_seconds=min_seconds, max_seconds=max_seconds, label=label,
                          favourites=favourites, limit=limit)
    if as_json:
        emit_json(found)
        return
    table([(r.recording_id[:8], f"{r.started_at:%Y-%m-%d %H:%M}", r.extension, r.other_party,
            r.direction, f"{r.seconds:.0f}", r.state, ",".join(r.labels),
            "*" if r.favourite else "", r.shares or "") for r in found],
          ["id", "started (utc)", "user", "other party", "direction", "seconds", "state",
           "labels", "fav", "shares"])


@click.command("label")
@click.argument("recording")
@click.argument("label")
@as_option
@click.option("--remove", is_flag=True, help="Take the label off.")
@enterprise_option
@pass_app
def label(app: Pbx, recording: str, label: str, as_ext: str, remove: bool,
          enterprise: str | None) -> None:
    """Put one of your labels on a recording (only you see your labels)."""
    note = access.label(app, enterprise, as_ext, recording, label, remove=remove)
    shown = ", ".join(note.labels) or "none"
    click.echo(f"recording {recording}: your labels: {shown}")


@click.command("favourite")
@click.argument("recording")
@as_option
@click.option("--remove", is_flag=True, help="No longer a favourite.")
@enterprise_option
@pass_app
def favourite(app: Pbx, recording: str, as_ext: str, remove: bool,
              enterprise: str | None) -> None:
    """Mark a recording as one of your favourites."""
    note = access.favourite(app, enterprise, as_ext, recording, remove=remove)
    click.echo(f"recording {recording} {'is' if note.favourite else 'is not'} "
               f"a favourite of {note.extension}")


@click.command("share")
@click.argument("recording")
@as_option
@click.option("--expires", default=access.DEFAULT_EXPIRES, show_default=True,
              help="How long the link works: e.g. 12h, 7d (at most 365d).")
@click.option("--base-url", default=access.base_url_default, show_default=access.DEFAULT_BASE_URL,
              help="The controller's HTTP address as listeners reach it (env PBX_PUBLIC_URL).")
@enterprise_option
@pass_app
@refusals_recorded("recordings share")
def share(app: Pbx, recording: str, as_ext: str, expires: str, base_url: str,
          enterprise: str | None) -> None:
    """Make an expiring playback link (shown once: only its hash is stored)."""
    if not base_url.startswith(("http://", "https://")):
        raise click.UsageError(f"invalid --base-url {base_url!r}: use http(s)://HOST:PORT")
    token, link = access.share(app, enterprise, as_ext, recording, expires)
    click.echo(f"share {str(link.id)[:8]} of recording {str(link.recording_id)[:8]} "
               f"until {link.expires:%Y-%m-%d %H:%M} UTC")
    click.echo(access.link_of(token, base_url))


@click.command("unshare")
@click.argument("share_id", metavar="SHARE")
@as_option
@enterprise_option
@pass_app
@refusals_recorded("recordings unshare")
def unshare(app: Pbx, share_id: str, as_ext: str, enterprise: str | None) -> None:
    """Revoke a share link at once (the sharer or the recording's owner)."""
    link = access.unshare(app, enterprise, as_ext, share_id)
    click.echo(f"share {str(link.id)[:8]} of recording {str(link.recording_id)[:8]} revoked")


INDEX_COMMANDS = [search, label, favourite, share, unshare]


def _recordings_group() -> click.Group:
    """``pbx recordings``: the group of commands/recordings.py (purge, list) when it is
    there, so both modules' verbs live under one noun; else a group of our own."""
    try:
        recordings = getattr(importlib.import_module("commands.recordings"), "recordings", None)
    except ImportError:
        recordings = None
    if isinstance(recordings, click.Group):
        return recordings

    @click.group("recordings")
    def own() -> None:
        """Call recordings: search, labels, favourites and share links."""

    return own


recordings_group = _recordings_group()
for _command in INDEX_COMMANDS:
    recordings_group.add_command(_command)

COMMANDS = [recording_team, recordings_group]
