"""`bridge revert`: undo a run or a billing period in the destinations, previewed, then carried out exactly once.

    bridge revert --period 2026-03                     # preview, ask, revert
    bridge revert --run <run id> --yes                 # without the question
    bridge revert --release --period 2026-03           # let the next run post reverted documents again

The work is ledger.revert; cli.py only wires the command.
"""

from __future__ import annotations

import argparse
import sys

from bridge_assets.runtime.settings import BridgeSettings


def cmd_revert(args: argparse.Namespace, quickbooks_sandbox) -> int:
    """Preview the revert of a run or a period in the destinations, ask, then carry out exactly that preview.
    With --release, let the next run post reverted documents again instead. `quickbooks_sandbox` (from cli.py)
    starts the sandbox QuickBooks company when no real one is configured."""
    from bridge_assets.destinations.base import DestinationError
    from bridge_assets.ledger.revert import RevertError

    settings = BridgeSettings.from_env()
    try:
        with quickbooks_sandbox(settings):
            return _revert(args, BridgeSettings.from_env())
    except (RevertError, DestinationError) as problem:
        print(f"Nothing was changed: {problem}", file=sys.stderr)
        return 2


def _revert(args: argparse.Namespace, settings: BridgeSettings) -> int:
    import uuid

    from bridge_assets.ledger import revert
    from bridge_assets.destinations.registry import KNOWN, opened
    from bridge_assets.runtime.storage import Database

    names = [args.destination] if args.destination else list(settings.destinations)
    unknown = [n for n in names if n not in KNOWN]
    if unknown:
        raise revert.RevertError(f"there is no destination {unknown[0]!r}; use one of: {', '.join(KNOWN)}")
    db = Database(settings.database_path)
    run_id = f"revert-{uuid.uuid4().hex[:8]}"
    if args.release:
        with db.transaction() as con:
            for name in names:
                released = revert.release(con, name, run_id, reverted_run=args.run, period=args.period,
                                          source=args.source, docs=args.doc or ())
                print(f"{name}: {len(released)} reverted document(s) released; the next run posts them again")
        return 0
    if args.doc:
        raise revert.RevertError("--doc names documents to release; use it with --release")
    with db.transaction() as con:
        plans = [revert.preview_revert(con, name, run_id=args.run, period=args.period, source=args.source)
                 for name in names]
        unsettled = {name: revert.unsettled(con, name) for name in names}
    for plan in plans:
        _print_plan(plan)
        if unsettled[plan.destination]:
            print(f"  first: {unsettled[plan.destination]} document(s) an interrupted revert left unfinished are "
                  f"settled (looked up, and undone only if they are not yet)")
    steps = sum(len(plan.steps) for plan in plans)
    if not steps and not any(unsettled.values()):
        by_hand = sum(1 for plan in plans for left in plan.left_out if left.by_hand)
        print("\nNothing to revert: nothing was changed."
              + (f" {by_hand} document(s) are left to you, listed above (an earlier revert found the destination "
                 f"cannot undo them; the bridge does not try again)." if by_hand else ""))
        return 0
    if steps and not args.yes:
        where = ", ".join(plan.destination for plan in plans if plan.steps)
        try:
            answer = input(f"\nType yes to revert these {steps} document(s) in {where}: ")
        except EOFError:
            answer = ""
        if answer.strip().lower() != "yes":
            print("Not confirmed: nothing was changed. (The preview is kept; --yes skips this question.)")
            return 1
    failed = 0
    for plan in plans:
        if not plan.steps and not unsettled[plan.destination]:
            continue
        with opened(plan.destination, settings) as destination:
            report = revert.execute_revert(db, destination, plan.plan_id, run_id, progress=print)
        outcomes = ", ".join(f"{n} {word}" for word, n in sorted(report.outcomes.items()))
        settled = ", ".join(f"{n} {word}" for word, n in sorted(report.settled.items()))
        if settled:
            settled = f"{sum(report.settled.values())} settled (left by an interrupted revert): {settled}"
        print(f"\n{plan.destination}: {'; '.join(p for p in (settled, outcomes) if p) or 'nothing to do'}")
        for number, code, message in report.failures[:10]:
            print(f"  {number} {code}: {message}")
        if len(report.failures) > 10:
            print(f"  ... and {len(report.failures) - 10} more (every one, with what to do: table revert_steps, "
                  f"plan {plan.plan_id})")
        for number, why in report.skipped[:20]:
            print(f"  {number} left alone: {why}")
        for number, what in report.by_hand[:20]:
            print(f"  {number} to do by hand (recorded once; not tried again): {what}")
        for path in report.files:
            print(f"  wrote {path}")
        failed += len(report.failures)
    print(f"\nRevert run id {run_id}. Reverted documents are not posted again by a normal run unless they change in the "
          f"source or are released (bridge revert --release ...).")
    return 1 if failed else 0


def _print_plan(plan, show: int = 15) -> None:
    print(f"\nRevert {plan.scope} (plan {plan.plan_id}):")
    if not plan.steps:
        print("  nothing to revert")
    for action, doc_type, n, total in plan.totals():
        print(f"  {action:<8} {doc_type:<12} {n:>6} document(s)  total {total:>14,.2f}")
    for step in plan.steps[:show]:
        total = "" if step.total is None else f"{step.total:,.2f}"
        print(f"  {step.order:>4}. {step.action:<8} {step.doc_type:<12} {step.doc_number:<12} "
              f"{(step.customer or '')[:24]:<24} {total:>12}  {step.reason}")
    if len(plan.steps) > show:
        print(f"        ... and {len(plan.steps) - show} more")
    by_hand = [left for left in plan.left_out if left.by_hand]
    for left in by_hand[:20]:
        print(f"  {left.doc_number} {left.reason}")
    if len(by_hand) > 20:
        print(f"  ... and {len(by_hand) - 20} more left to do by hand (table revert_left_out, plan {plan.plan_id})")
    others = [left for left in plan.left_out if not left.by_hand]
    if others:
        reasons: dict[str, int] = {}
        for left in others:
            reasons[left.reason] = reasons.get(left.reason, 0) + 1
        print(f"  left alone: {len(others)} document(s)")
        for reason, n in sorted(reasons.items(), key=lambda r: -r[1])[:5]:
            print(f"    {n:>6} {reason}")


def add_revert_command(sub, quickbooks_sandbox) -> None:
    revert = sub.add_parser("revert", help="undo a run or a billing period in the destinations (previews, then asks)")
    scope = revert.add_mutually_exclusive_group()
    scope.add_argument("--run", help="the run id to revert (from the Dagster UI or the run's output)")
    scope.add_argument("--period", help="a billing period YYYY-MM: every document of it the bridge posted")
    revert.add_argument("--source", help="only this source's documents (sedona, servicetrade)")
    revert.add_argument("--destination", help="one destination (qbo, staging_csv, qbd_iif); default: all configured")
    revert.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    revert.add_argument("--release", action="store_true",
                        help="let the next run post reverted documents again (by --run, --period or --doc)")
    revert.add_argument("--doc", action="append", help="with --release: a document (doc_key or number); repeatable")
    revert.set_defaults(func=lambda args: cmd_revert(args, quickbooks_sandbox))
