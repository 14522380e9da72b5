"""SedonaOffice export files: intake, the parser and the mapping into canonical rows."""
