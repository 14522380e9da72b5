"""Patriot Software Accounting: no public API and no invoice import (../shared/design/platforms/patriot.md).

The bridge writes what Patriot does import, its customer file (at most 200 customers per file), and a keying
sheet per period and run listing each invoice, credit and payment once, for a person to key in.
"""
