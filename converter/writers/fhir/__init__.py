"""HL7 FHIR output: :mod:`.r5` and :mod:`.r4b` build one Bundle per trial from the model, sharing
everything both versions write alike through :mod:`.common`. Coded eligibility characteristics
come from :mod:`converter.writers.fhir.eligibility` (R5) and :mod:`converter.writers.fhir.eligibility_r4b`."""
