"""The company registry: the companies one deployment runs (a dealer group, a franchise, an accountant's
clients), each with its own home (DuckDB file, ledger, inbox, archive, token stores), its own settings,
and its credentials from the environment.

The file is BRIDGE_COMPANIES, else `$BRIDGE_HOME/companies.toml` when it exists; without one the bridge
runs one company, as it always has. A company's settings are the same variables the README lists for one
company, written in its table:

    [defaults]                      # shared by every company (optional)
    BRIDGE_TIMEZONE = "America/Chicago"

    [company.acme]
    title = "Acme Alarm & Fire"
    home = "/data/acme"             # optional: default $BRIDGE_HOME/companies/acme
    BRIDGE_DESTINATIONS = "qbo,staging_csv"
    QBO_REALM_ID = "9130350000000001"

Secrets never go in the file: the loader refuses a secret-looking setting there. A company's secret is read
from the environment as `<KEY>__<SETTING>` (ACME__QBO_CLIENT_SECRET); any other setting may be given that way
too and then wins over the file (a deployment's per-company secrets, a sandbox's URLs).

A process serves one company: `enter_company` makes the process environment that company's (its settings
in, every other company's variables and the deployment's path settings out), so everything that reads
settings (runtime/settings.py, each platform's from_env) reads the company's without knowing of companies.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from pathlib import Path
from typing import Mapping, MutableMapping

REGISTRY_VARIABLE = "BRIDGE_COMPANIES"
COMPANY_VARIABLE = "BRIDGE_COMPANY"
TITLE_VARIABLE = "BRIDGE_COMPANY_TITLE"
ENTERED_VARIABLE = "BRIDGE_COMPANY_ENTERED"   # the company a process (and its children) was made by enter_company
DEFAULT_COMPANY = "default"       # the tag value of the one company of a deployment without a registry
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
SETTING_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]*$")
SEPARATOR = "__"

# Where a company keeps its state: never inherited from the deployment, or every company would share it.
PATH_SETTINGS = ("BRIDGE_HOME", "BRIDGE_DATABASE", "BRIDGE_INBOX", "BRIDGE_ARCHIVE", "BRIDGE_QUARANTINE",
                 "BRIDGE_OUTPUT", "BRIDGE_WORK", "BRIDGE_DUPLICATES", "QBO_TOKEN_STORE")
RESERVED = (COMPANY_VARIABLE, REGISTRY_VARIABLE, TITLE_VARIABLE, ENTERED_VARIABLE, "BRIDGE_HOME")


class RegistryError(ValueError):
    """The registry cannot be used as written; the message names the file, the company and the setting."""


class CompanyNotLoaded(RegistryError):
    """One company's code location cannot load (a setting of its own); the others are not affected."""


def is_secret(name: str) -> bool:
    """A setting whose value is a credential (client secrets, passwords, refresh tokens, API keys)."""
    return "SECRET" in name or "PASSWORD" in name or name.endswith(("_TOKEN", "_KEY"))


@dataclasses.dataclass(frozen=True)
class Company:
    key: str
    title: str
    home: Path
    settings: Mapping[str, str]

    @property
    def variable_prefix(self) -> str:
        """How the environment names this company's own variables: ACME__QBO_CLIENT_SECRET."""
        return self.key.upper() + SEPARATOR


@dataclasses.dataclass(frozen=True)
class Registry:
    path: Path
    companies: Mapping[str, Company]

    @property
    def keys(self) -> list[str]:
        return list(self.companies)

    def company(self, key: str) -> Company:
        if key not in self.companies:
            raise RegistryError(f"{self.path}: no company {key!r}; the registry has {', '.join(self.keys)}. "
                                "Add a [company.<key>] table or name one of those.")
        return self.companies[key]

    def environment(self, key: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The whole environment a process serving company `key` runs in (see `enter_company`)."""
        environ = os.environ if environ is None else environ
        company = self.company(key)
        prefixes = tuple(c.variable_prefix for c in self.companies.values())
        result = {name: value for name, value in environ.items()
                  if name not in PATH_SETTINGS and name != COMPANY_VARIABLE and not name.startswith(prefixes)}
        result.update(company.settings)
        result.update({name[len(company.variable_prefix):]: value for name, value in environ.items()
                       if name.startswith(company.variable_prefix) and len(name) > len(company.variable_prefix)})
        result.update({"BRIDGE_HOME": str(company.home), COMPANY_VARIABLE: key, REGISTRY_VARIABLE: str(self.path),
                       TITLE_VARIABLE: company.title})
        return result


def registry_path(environ: Mapping[str, str] | None = None) -> Path | None:
    """The registry file a deployment names (BRIDGE_COMPANIES) or keeps in its home, or None."""
    environ = os.environ if environ is None else environ
    named = environ.get(REGISTRY_VARIABLE, "").strip()
    if named:
        return Path(named).absolute()
    found = Path(environ.get("BRIDGE_HOME", "").strip() or "var").absolute() / "companies.toml"
    return found if found.exists() else None


def load_registry(environ: Mapping[str, str] | None = None) -> Registry | None:
    """The deployment's registry, checked whole; None when the deployment runs one company."""
    path = registry_path(environ)
    if path is None:
        return None
    if not path.exists():
        raise RegistryError(f"{REGISTRY_VARIABLE}={path} does not exist; write the registry there "
                            "(README, \"Many companies\") or unset the variable to run one company")
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as problem:
        raise RegistryError(f"{path} is not valid TOML: {problem}") from None
    return parse_registry(path, table)


def parse_registry(path: Path, table: Mapping) -> Registry:
    unknown = set(table) - {"defaults", "company"}
    if unknown:
        raise RegistryError(f"{path}: unknown table(s) {', '.join(sorted(unknown))}; "
                            "the registry holds [defaults] and [company.<key>] tables only")
    defaults = _settings(path, "[defaults]", dict(table.get("defaults", {})))
    companies = table.get("company", {})
    if not isinstance(companies, Mapping) or not companies:
        raise RegistryError(f"{path}: no [company.<key>] table; name at least one company")
    base = path.parent
    parsed = {key: _company(path, base, key, value, defaults) for key, value in companies.items()}
    _refuse_shared_state(path, parsed)
    return Registry(path, parsed)


def _company(path: Path, base: Path, key: str, value, defaults: Mapping[str, str]) -> Company:
    where = f"[company.{key}]"
    if not KEY_PATTERN.match(key):
        raise RegistryError(f"{path}: {where}: a company key is lower-case letters, digits and _, starting with a "
                            "letter, at most 40 long (it names the company's code location, asset keys and run tag)")
    if not isinstance(value, Mapping):
        raise RegistryError(f"{path}: {where} is not a table")
    entries = dict(value)
    title = str(entries.pop("title", key))
    home = Path(str(entries.pop("home", base / "companies" / key)))
    settings = {**defaults, **_settings(path, where, entries)}
    return Company(key, title, home if home.is_absolute() else (base / home).absolute(), settings)


def _settings(path: Path, where: str, entries: dict) -> dict[str, str]:
    settings = {}
    for name, value in entries.items():
        if not SETTING_PATTERN.match(name):
            raise RegistryError(f"{path}: {where}: {name!r} is not a setting; settings are the upper-case "
                                "variables the README lists (BRIDGE_DESTINATIONS, QBO_REALM_ID, ...), plus title and home")
        if name in RESERVED:
            raise RegistryError(f"{path}: {where}: {name} is set by the registry itself; "
                                + ("use `home = ...` for the company's folder" if name == "BRIDGE_HOME" else "remove it"))
        if is_secret(name):
            raise RegistryError(f"{path}: {where}: {name} is a secret and secrets never go in the registry file; "
                                f"remove it and set it in the environment as <KEY>{SEPARATOR}{name} "
                                f"(e.g. ACME{SEPARATOR}{name})")
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, (str, int, float)):
            raise RegistryError(f"{path}: {where}: {name} must be a string, number or true/false")
        settings[name] = str(value)
    return settings


def _refuse_shared_state(path: Path, companies: Mapping[str, Company]) -> None:
    """Two companies never share a home or a database file: each company's ledger is its own."""
    seen: dict[str, str] = {}
    for company in companies.values():
        places = {str(company.home)}
        if company.settings.get("BRIDGE_DATABASE"):
            places.add(str(Path(company.settings["BRIDGE_DATABASE"]).absolute()))
        for place in places:
            if place in seen:
                raise RegistryError(f"{path}: companies {seen[place]!r} and {company.key!r} would share {place}; "
                                    "each company keeps its own home and DuckDB file: give one of them another `home`")
            seen[place] = company.key


def enter_company(key: str, environ: MutableMapping[str, str] | None = None) -> Company:
    """Make this process's environment company `key`'s, for good (a process serves one company).
    Refuses a second, different company in the same process: settings read at import would be the first's."""
    environ = os.environ if environ is None else environ
    registry = load_registry(environ)
    if registry is None:
        raise RegistryError(f"company {key!r} was asked for, but there is no company registry "
                            f"({REGISTRY_VARIABLE} unset and no companies.toml in BRIDGE_HOME)")
    current = environ.get(ENTERED_VARIABLE, "")
    if current and current != key:
        raise RegistryError(f"this process already serves company {current!r}; one process serves one company "
                            f"(start another for {key!r})")
    wanted = registry.environment(key, environ)
    for name in [name for name in environ if name not in wanted]:
        del environ[name]
    environ.update(wanted)
    environ[ENTERED_VARIABLE] = key
    return registry.company(key)


def company_tag(environ: Mapping[str, str] | None = None) -> str:
    """The value of the run tag `bridge/company` (and the pool's suffix) for this process's company."""
    environ = os.environ if environ is None else environ
    return environ.get(COMPANY_VARIABLE, "").strip() or DEFAULT_COMPANY


def company_label(environ: Mapping[str, str] | None = None) -> str:
    """How a message to a person names this process's company ("Acme Alarm & Fire (acme)"); "" without a registry."""
    environ = os.environ if environ is None else environ
    key = environ.get(COMPANY_VARIABLE, "").strip()
    if not key:
        return ""
    title = environ.get(TITLE_VARIABLE, "").strip()
    return f"{title} ({key})" if title and title != key else key
