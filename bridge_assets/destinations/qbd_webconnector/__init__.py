"""QuickBooks Desktop through the QuickBooks Web Connector (qbXML): the destination `qbd_webconnector`
(adapter.py), the SOAP service the Web Connector polls (service.py), the queue between them (queue.py),
the .qwc file (qwc.py) and every setting (config.py)."""
