"""QuickBooks Desktop emulator: a company file answering qbXML and a Web Connector polling the bridge
(server.py: admin panel; rules.py: the rules enforced, in one table)."""
