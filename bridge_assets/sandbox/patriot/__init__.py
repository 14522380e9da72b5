"""Patriot Software Accounting has no API to emulate: `importer` stands in for its customer import and for the
person who keys the keying sheet in, refusing what they would refuse (RULES in its docstring)."""
