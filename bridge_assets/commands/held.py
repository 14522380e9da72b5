"""`bridge held`: documents held for a person because a posted number now carries another customer or period.

    bridge held list                                   # what waits, with both versions named
    bridge held release sedona:invoice:101349          # apply the new version (the next run of its period)
    bridge held reject 101349 --destination qbo        # keep what the books hold; this version is refused

The work is number_reuse.decide; deciding the same thing again changes nothing.
"""

from __future__ import annotations

import argparse
import sys
import uuid

from bridge_assets.runtime.settings import BridgeSettings


def cmd_held(args: argparse.Namespace) -> int:
    from bridge_assets.ledger import number_reuse
    from bridge_assets.runtime.storage import Database

    settings = BridgeSettings.from_env()
    db = Database(settings.database_path)
    if args.action == "list":
        with db.transaction() as con:
            rows = number_reuse.held(con, args.destination)
        if not rows:
            print("No document is held for a person.")
        for destination, doc_key, period, _, reason in rows:
            print(f"{period}  {destination:<12} {doc_key}\n    {reason}")
        return 0
    if not args.document:
        print(f"Nothing was changed: name the document to {args.action} (its doc_key or number; see `bridge held list`)",
              file=sys.stderr)
        return 2
    run_id = f"held-{uuid.uuid4().hex[:8]}"
    try:
        with db.transaction() as con:
            decided = number_reuse.decide(con, args.document, args.action, run_id, destination=args.destination)
    except number_reuse.DecisionError as problem:
        print(f"Nothing was changed: {problem}", file=sys.stderr)
        return 2
    for item in decided:
        print(f"{item.destination}: {item.doc_key} ({item.period}) {item.what}")
    return 0


def add_held_command(sub) -> None:
    held = sub.add_parser("held", help="documents held for a person (a posted number reused for another customer "
                                       "or period): list, release or reject")
    held.add_argument("action", choices=("list", "release", "reject"),
                      help="list: what waits; release: apply the new version; reject: keep the posted one")
    held.add_argument("document", nargs="?", help="the document's doc_key (sedona:invoice:101349) or number")
    held.add_argument("--destination", help="one destination (qbo, staging_csv, qbd_iif); default: every one holding it")
    held.set_defaults(func=cmd_held)
