"""What every emulator shares, so that an emulator is its platform's rules and wire format only.

    serving.py    an app on loopback, on a given or free port: in a thread (tests) or as its own
                  process (`python -m`), with a clean stop; the admin client's HTTP side
    emulator.py   `EmulatorKind`: one emulator described once -> its run / spawn / `python -m` main
    cli.py        the command line every emulator takes (--host --port --state --settings-json)
    state.py      `SqliteState`: the SQLite file that survives a restart, transactions, the journal
    admin.py      `AdminPanel`: the `/_emulator/...` routes every emulator has, mounted the same way
    faults.py     latency, injected 5xx/429 with the platform's own body and headers, a response
                  dropped after the write committed, tokens expiring on the Nth request
    limits.py     rate limits as data: per minute, per day, concurrent
    oauth.py      an OAuth 2.0 provider: authorization code, client credentials, password, refresh
                  with rotation and a grace window, revoke, bearer checks; lifetimes and error
                  bodies configured per platform
    money.py      half-up cents, the sandbox's own

Nothing here imports the product (`bridge_assets` outside `sandbox/`), nor any one emulator.
"""
