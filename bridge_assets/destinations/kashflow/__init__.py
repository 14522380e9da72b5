"""IRIS KashFlow (UK) by its SOAP API (the documented production API; REST v2 is "not ready for public use")."""
