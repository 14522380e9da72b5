"""Wave (waveapps) by its public GraphQL API: invoices created, approved and patched; what Wave's API
cannot do (void, credit notes, payments on invoices) left to a person with the sentence."""
